"""gradcheck / gradgradcheck: compare VJP and JVP rules with central differences, in float64."""
import warnings

import numpy as np

from minigrad.autograd.engine import grad
from minigrad.autograd.forward_ad import jvp
from minigrad.autograd.grad_mode import enable_grad, no_grad
from minigrad.autograd.variable import TensorBase


class GradcheckError(RuntimeError):
    """Raised by gradcheck when an analytical derivative disagrees with the numerical one."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    out = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in out if isinstance(o, TensorBase) and o.dtype.is_floating_point]


def _numerical_jacobians(fn, inputs, diff_indices, eps):
    """J[o][i] with shape (outputs[o].numel(), inputs[i].numel()), by central differences."""
    with no_grad():
        sizes = [o.numel() for o in _outputs(fn, inputs)]
        jacobians = [[np.zeros((n, inputs[i].numel())) for i in diff_indices] for n in sizes]
        for col, i in enumerate(diff_indices):
            data = inputs[i]._data
            for k, index in enumerate(np.ndindex(data.shape)):
                original = data[index]
                data[index] = original + eps
                plus = [o.detach().numpy().ravel().astype(np.float64) for o in _outputs(fn, inputs)]
                data[index] = original - eps
                minus = [o.detach().numpy().ravel().astype(np.float64) for o in _outputs(fn, inputs)]
                data[index] = original
                for row, (p, m) in enumerate(zip(plus, minus)):
                    jacobians[row][col][:, k] = (p - m) / (2 * eps)
    return jacobians


def _vjp_jacobians(fn, inputs, diff_indices):
    outputs = _outputs(fn, inputs)
    diff_inputs = [inputs[i] for i in diff_indices]
    jacobians = [[np.zeros((o.numel(), inputs[i].numel())) for i in diff_indices] for o in outputs]
    for row, out in enumerate(outputs):
        if not out.requires_grad:
            continue
        for j in range(out.numel()):
            seed = np.zeros(out.numel())
            seed[j] = 1
            seed_tensor = out._wrap(seed.reshape(out.shape).astype(out.dtype.numpy))
            grads = grad((out,), diff_inputs, (seed_tensor,), retain_graph=True, allow_unused=True)
            for col, g in enumerate(grads):
                if g is not None:
                    jacobians[row][col][j, :] = g.detach().numpy().ravel()
    return jacobians


def _jvp_jacobians(fn, inputs, diff_indices):
    diff_inputs = [inputs[i] for i in diff_indices]

    def of_diff_inputs(*values):
        args = list(inputs)
        for i, v in zip(diff_indices, values):
            args[i] = v
        return tuple(_outputs(fn, args))

    sizes = [o.numel() for o in _outputs(fn, inputs)]
    jacobians = [[np.zeros((n, inputs[i].numel())) for i in diff_indices] for n in sizes]
    for col, x in enumerate(diff_inputs):
        for k in range(x.numel()):
            tangents = [t.detach()._zeros_like() for t in diff_inputs]
            tangents[col]._data.reshape(-1)[k] = 1
            with no_grad():
                _, out_tangents = jvp(of_diff_inputs, tuple(diff_inputs), tuple(tangents))
            for row, t in enumerate(out_tangents):
                jacobians[row][col][:, k] = t.detach().numpy().ravel()
    return jacobians


def _compare(kind, analytical, numerical, diff_indices, atol, rtol):
    for row, (a_row, n_row) in enumerate(zip(analytical, numerical)):
        for col, (a, n) in enumerate(zip(a_row, n_row)):
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                worst = np.max(np.abs(a - n))
                raise GradcheckError(
                    f"Jacobian mismatch for output {row} with respect to input {diff_indices[col]} "
                    f"({kind}): largest difference {worst:.3g}\nnumerical:\n{n}\nanalytical:\n{a}")


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              check_backward_ad=True, check_forward_ad=True):
    """Check the VJP (and JVP) of `fn` at `inputs` against central differences.

    The inputs that require grad are perturbed; use float64 for meaningful results.
    Returns True, or raises GradcheckError (or returns False with raise_exception=False).
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff_indices = [i for i, x in enumerate(inputs) if isinstance(x, TensorBase) and x.requires_grad]
    if not diff_indices:
        raise ValueError("gradcheck: expected at least one input tensor to require gradient, got none")
    for i in diff_indices:
        if inputs[i].dtype.name != "float64":
            warnings.warn(f"gradcheck: input {i} is {inputs[i].dtype}, not float64; the check may fail "
                          "for lack of precision", stacklevel=2)
    numerical = _numerical_jacobians(fn, inputs, diff_indices, eps)
    try:
        with enable_grad():  # gradcheck may be called inside no_grad
            return _check(fn, inputs, diff_indices, numerical, atol, rtol, check_backward_ad, check_forward_ad)
    except GradcheckError:
        if raise_exception:
            raise
        return False


def _check(fn, inputs, diff_indices, numerical, atol, rtol, check_backward_ad, check_forward_ad):
    if check_backward_ad:
        _compare("VJP, reverse mode", _vjp_jacobians(fn, inputs, diff_indices), numerical, diff_indices, atol, rtol)
    if check_forward_ad:
        _compare("JVP, forward mode", _jvp_jacobians(fn, inputs, diff_indices), numerical, diff_indices, atol, rtol)
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
                  check_forward_ad=True, seed=0):
    """gradcheck applied to the first derivative: checks the derivatives of the VJP itself."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff_indices = [i for i, x in enumerate(inputs) if isinstance(x, TensorBase) and x.requires_grad]
    outputs = _outputs(fn, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = tuple(o._wrap(rng.standard_normal(o.shape).astype(o.dtype.numpy)).requires_grad_()
                             for o in outputs)
    grad_outputs = tuple(grad_outputs)
    n = len(inputs)

    def first_derivative(*args):
        with enable_grad():  # gradcheck evaluates under no_grad; the VJP needs its graph
            outs = _outputs(fn, args[:n])
            grads = grad(outs, [args[i] for i in diff_indices], args[n:], create_graph=True, allow_unused=True)
        return tuple(g if g is not None else args[i]._zeros_like() for g, i in zip(grads, diff_indices))

    return gradcheck(first_derivative, inputs + grad_outputs, eps, atol, rtol, raise_exception,
                     check_forward_ad=check_forward_ad)
