"""Functional autodiff in the shape of torch.func: vjp, grad and jvp."""
from minigrad.autograd.engine import grad as _grad
from minigrad.autograd.forward_ad import jvp
from minigrad.autograd.grad_mode import enable_grad
from minigrad.tensor import Tensor

__all__ = ["vjp", "grad", "jvp"]


def _differentiable_copy(x, index):
    if not isinstance(x, Tensor):
        raise TypeError(f"primals[{index}]: expected a Tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"primals[{index}]: expected a floating point tensor, got {x.dtype}")
    return x._alias_with_graph() if x.requires_grad else x.detach().requires_grad_()


def vjp(func, *primals):
    """(func(*primals), vjp_fn) where vjp_fn(cotangent) returns one gradient per primal."""
    duals = [_differentiable_copy(x, i) for i, x in enumerate(primals)]
    with enable_grad():
        output = func(*duals)
    outputs = output if isinstance(output, tuple) else (output,)

    def vjp_fn(*cotangents):
        if len(cotangents) == 1 and isinstance(cotangents[0], tuple) and isinstance(output, tuple):
            cotangents = cotangents[0]
        grads = _grad(outputs, duals, cotangents, retain_graph=True, allow_unused=True)
        return tuple(d._zeros_like() if g is None else g for g, d in zip(grads, duals))

    return output, vjp_fn


def grad(func, argnums=0):
    """A function that returns d func / d args[argnums] for a scalar-valued `func`."""
    def gradient(*args):
        indices = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        args = list(args)
        for i in indices:
            args[i] = _differentiable_copy(args[i], i)
        with enable_grad():
            out = func(*args)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError(f"grad: expected func to return a scalar Tensor, got "
                               f"{list(out.shape) if isinstance(out, Tensor) else type(out).__name__}")
        grads = _grad((out,), [args[i] for i in indices], allow_unused=True)
        grads = tuple(args[i]._zeros_like() if g is None else g for g, i in zip(grads, indices))
        return grads[0] if isinstance(argnums, int) else grads
    return gradient
