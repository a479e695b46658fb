"""torch.autograd.functional: jacobian, hessian, vjp, jvp, hvp and vhp of a function of tensors.

Inputs and outputs are a Tensor or a tuple of Tensors, and results follow that shape (a tuple where
the input was one). `create_graph=True` keeps results differentiable; `strict=True` raises where an
output does not depend on an input (PyTorch gives zeros otherwise). jvp and hvp use forward mode
(hvp forward over reverse) rather than PyTorch's double-backward trick; `vectorize=True` computes a
Jacobian with one vmapped sweep instead of one per row. This module sits above minigrad.func (vmap).
"""
from minigrad.autograd.engine import grad as _grad
from minigrad.autograd.forward_ad import jvp as _forward_jvp
from minigrad.autograd.grad_mode import enable_grad, is_grad_enabled, set_grad_enabled
from minigrad.func import _basis, _move_last, _split_rows, vmap
from minigrad.tensor import Tensor
from minigrad.toplevel import stack

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(value, argument, function):
    """(whether value was a tuple, value as a tuple of Tensors)."""
    is_tuple = isinstance(value, tuple)
    values = value if is_tuple else (value,)
    for i, v in enumerate(values):
        if not isinstance(v, Tensor):
            where = f"the value at index {i} has type {type(v)}" if is_tuple else \
                f"the given {argument} has type {type(v)}"
            raise TypeError(f"The {argument} given to {function} must be either a Tensor or a tuple of Tensors "
                            f"but {where}.")
    return is_tuple, values


def _tuple_postprocess(result, unpack):
    """Undo _as_tuple: unpack is one flag, or (outputs flag, inputs flag) for a tuple of tuples."""
    if isinstance(unpack, tuple):
        if not unpack[1]:
            result = tuple(r[0] for r in result)
        if not unpack[0]:
            result = result[0]
    elif not unpack:
        result = result[0]
    return result


def _grad_preprocess(inputs, create_graph, need_graph):
    """Inputs cut from any outer graph (unless create_graph keeps it), requiring grad if need_graph."""
    result = []
    for x in inputs:
        if create_graph and x.requires_grad:
            result.append(x.view_as(x))  # an alias whose gradient flows on to x
        else:
            result.append(x.detach().requires_grad_(need_graph))
    return tuple(result)


def _grad_postprocess(tensors, create_graph):
    if isinstance(tensors[0], Tensor):
        return tensors if create_graph else tuple(t.detach() for t in tensors)
    return tuple(_grad_postprocess(t, create_graph) for t in tensors)


def _validate_v(v, other, is_other_tuple):
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (el_v, el_other) in enumerate(zip(v, other)):
        if el_v.shape != el_other.shape:
            prefix = f"Entry {i} in " if is_other_tuple else ""
            raise RuntimeError(f"{prefix}v has invalid size: should be {el_other.shape} but got {el_v.shape}.")


_NOT_REQUIRING_GRAD = {
    "hessian": "The hessian of the user-provided function with respect to input {i} is independent of the input. "
               "This is not allowed in strict mode. You should ensure that your function is thrice differentiable "
               "and that the hessian depends on the inputs.",
    "jacobian": "While computing the hessian, found that the jacobian of the user-provided function with respect to "
                "input {i} is independent of the input. This is not allowed in strict mode. You should ensure that "
                "your function is twice differentiable and that the jacobian depends on the inputs (this would be "
                "violated by a linear function for example).",
    "outputs": "Output {i} of the user-provided function does not require gradients. The outputs must be computed "
               "in a differentiable manner from the input when running in strict mode.",
}


def _check_requires_grad(tensors, kind, strict):
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None:
            raise RuntimeError(f"The output of the user-provided function is independent of input {i}. This is not "
                               "allowed in strict mode.")
        if not t.requires_grad:
            raise RuntimeError(_NOT_REQUIRING_GRAD[kind].format(i=i))


def _autograd_grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """engine.grad over the outputs that require grad; None for every input when none does."""
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else grad_outputs
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return _grad(tuple(o for o, _ in pairs), inputs, tuple(g for _, g in pairs), retain_graph=retain_graph,
                 create_graph=create_graph, allow_unused=True)


def _fill_in_zeros(grads, refs, strict, create_graph, independent):
    """None gradients as zeros (or, with strict, the error `independent` names for input i)."""
    result = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(independent.format(i=i))
            g = refs[i].new_zeros(refs[i].shape)
        elif strict and create_graph and not g.requires_grad:
            raise RuntimeError(f"The jacobian of the user-provided function is independent of input {i}. This is "
                               "not allowed in strict mode when create_graph=True.")
        result.append(g)
    return tuple(result)


_BACK = "The output of the user-provided function is independent of input {i}. This is not allowed in strict mode."
_DOUBLE_BACK = "The jacobian of the user-provided function is independent of input {i}. This is not allowed in " \
               "strict mode."


def _v_or_single(v, reference, is_reference_tuple, create_graph, function, what):
    """v as a tuple matching `reference`; None only where reference is one single-element tensor (`what`
    says which, for the error)."""
    if v is not None:
        _, v = _as_tuple(v, "v", function)
        v = _grad_preprocess(v, create_graph, need_graph=False)
        _validate_v(v, reference, is_reference_tuple)
        return v
    if len(reference) != 1 or reference[0].numel() != 1:
        raise RuntimeError(f"The vector v can only be None if the {what} a single Tensor with a single element.")
    return None


def _recorded(func, inputs, create_graph, strict, function):
    """(is_inputs_tuple, inputs, is_outputs_tuple, outputs): func run, with a graph, on inputs made leaves
    (under enable_grad)."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", function)
    inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
    is_outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", function)
    _check_requires_grad(outputs, "outputs", strict)
    return is_inputs_tuple, inputs, is_outputs_tuple, outputs


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product of func at inputs."""
    with enable_grad():
        is_inputs_tuple, inputs, is_outputs_tuple, outputs = _recorded(func, inputs, create_graph, strict, "vjp")
        v = _v_or_single(v, outputs, is_outputs_tuple, create_graph, "vjp",
                         "user-provided function returns")
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _autograd_grad(outputs, inputs, v, create_graph)
        result = _fill_in_zeros(grads, inputs, strict, create_graph, _BACK)
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _tuple_postprocess(_grad_postprocess(result, create_graph), is_inputs_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product of func at inputs, by forward mode."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        v = _v_or_single(v, inputs, is_inputs_tuple, create_graph, "jvp",
                         "input to the user-provided function is")
        if v is None:
            v = (inputs[0].new_ones(inputs[0].shape),)
        checked = []

        def outputs_checked(*args):
            output = func(*args)
            checked.append(_as_tuple(output, "outputs of the user-provided function", "jvp"))
            _check_requires_grad(checked[0][1], "outputs", strict)
            return checked[0][1]
        outputs, tangents = _forward_jvp(outputs_checked, inputs, v)
    is_outputs_tuple = checked[0][0]
    return (_tuple_postprocess(_grad_postprocess(outputs, create_graph), is_outputs_tuple),
            _tuple_postprocess(_grad_postprocess(tangents, create_graph), is_outputs_tuple))


def _jacobian_forward(func, inputs, strict, vectorize):
    if strict:
        raise RuntimeError('torch.autograd.functional.jacobian: `strict=True` and `strategy="forward-mode"` are '
                           'not supported together (yet). Please either set `strict=False` or '
                           '`strategy="reverse-mode"`.')
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    if not vectorize:
        raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse Hessian is only "
                                  "implemented for `vectorize=True`.")
    inputs = tuple(x.detach() for x in inputs)
    structure = []

    def push(*tangents):
        outputs, out_tangents = _forward_jvp(func, inputs, tangents)
        structure.append(_as_tuple(outputs, "outputs of the user-provided function", "jacobian"))
        return _as_tuple(out_tangents, "outputs of the user-provided function", "jacobian")[1]

    tangents = vmap(push)(*_basis(inputs))
    is_outputs_tuple, outputs = structure[0]
    result = tuple(tuple(_move_last(block, x.ndim) for block, x in zip(_split_rows(t, inputs), inputs))
                   for t in tangents)
    return _tuple_postprocess(result, (is_outputs_tuple, is_inputs_tuple))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of func at inputs: for each output (and each input, where either is a tuple) a tensor of
    shape output.shape + input.shape. strategy "forward-mode" (with vectorize=True) pushes one tangent per
    input element, "reverse-mode" pulls back one cotangent per output element; vectorize=True does all of
    them in one vmapped pass."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your function '
                         'has more outputs than inputs, "forward-mode" tends to be more performant. Otherwise, '
                         'prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError('torch.autograd.functional.jacobian: `create_graph=True` and '
                                      '`strategy="forward-mode"` are not supported together (yet). Please either '
                                      'set `create_graph=False` or `strategy="reverse-mode"`.')
        return _jacobian_forward(func, inputs, strict, vectorize)
    with enable_grad():
        is_inputs_tuple, inputs, is_outputs_tuple, outputs = _recorded(func, inputs, create_graph, strict,
                                                                       "jacobian")
        if vectorize:
            if strict:
                raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are "
                                   "not supported together. Please either set `strict=False` or `vectorize=False`.")

            def pull_back(*cotangents):
                grads = _autograd_grad(outputs, inputs, cotangents, create_graph, retain_graph=True)
                return _fill_in_zeros(grads, inputs, False, create_graph, _BACK)
            grads = vmap(pull_back)(*_basis(outputs))  # grads[j]: (all output elements, *inputs[j].shape)
            by_input = [_split_rows(g, outputs) for g in grads]
            result = tuple(tuple(blocks[i] for blocks in by_input) for i in range(len(outputs)))
        else:
            result = tuple(_jacobian_rows(i, out, inputs, create_graph, strict) for i, out in enumerate(outputs))
    return _tuple_postprocess(_grad_postprocess(result, create_graph), (is_outputs_tuple, is_inputs_tuple))


def _jacobian_rows(i, out, inputs, create_graph, strict):
    """d outputs[i] / d inputs, one reverse sweep per element of the output."""
    rows = [[] for _ in inputs]
    flat = out.reshape(-1)
    for j in range(out.numel()):
        grads = _autograd_grad((flat[j],), inputs, retain_graph=True, create_graph=create_graph)
        for k, (g, x) in enumerate(zip(grads, inputs)):
            if g is None:
                if strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is independent of input {k}. "
                                       "This is not allowed in strict mode.")
                g = x.new_zeros(x.shape)
            elif strict and create_graph and not g.requires_grad:
                raise RuntimeError(f"The jacobian of the user-provided function is independent of input {i}. This "
                                   "is not allowed in strict mode when create_graph=True.")
            rows[k].append(g)
    return tuple((stack(r) if r else x.new_zeros((0,) + tuple(x.shape))).reshape(tuple(out.shape) + tuple(x.shape))
                 for r, x in zip(rows, inputs))


def _single_output(output, strict, function):
    is_tuple, outputs = _as_tuple(output, "outputs of the user-provided function", function)
    _check_requires_grad(outputs, "outputs", strict)
    if is_tuple:
        raise RuntimeError(f"The function given to {function} should return a single Tensor")
    if output.numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {function} should contain a single "
                           "element")
    return output


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar function at inputs: the jacobian of its gradient (for tuple inputs, a tuple of
    tuples, H[i][j] of shape inputs[i].shape + inputs[j].shape)."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def scalar(*args):
        return _single_output(func(*args), strict, "hessian").reshape(())

    def gradient(*args):
        if outer_jacobian_strategy == "forward-mode":
            args = tuple(a.requires_grad_(True) for a in args)
        jac = jacobian(scalar, args, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac

    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                      strategy=outer_jacobian_strategy)
    return _tuple_postprocess(result, (is_inputs_tuple, is_inputs_tuple))


def _hessian_inputs(func, inputs, v, create_graph, strict, function):
    """(inputs tuple, outputs, jacobian with its graph, v) for vhp and hvp."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", function)
    inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
    v = _v_or_single(v, inputs, is_inputs_tuple, create_graph, function, "input to the user-provided function is")
    output = _single_output(func(*inputs), strict, function)
    jac = _autograd_grad((output,), inputs, create_graph=True)
    _check_requires_grad(jac, "jacobian", strict)
    return is_inputs_tuple, inputs, output, jac, v


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H): the vector-Hessian product of a scalar function, by double backward."""
    with enable_grad():
        is_inputs_tuple, inputs, output, jac, v = _hessian_inputs(func, inputs, v, create_graph, strict, "vhp")
    with set_grad_enabled(create_graph or is_grad_enabled()):
        grads = _autograd_grad(jac, inputs, v, create_graph)
        result = _fill_in_zeros(grads, inputs, strict, create_graph, _DOUBLE_BACK)
    return (_grad_postprocess((output,), create_graph)[0],
            _tuple_postprocess(_grad_postprocess(result, create_graph), is_inputs_tuple))


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v): the Hessian-vector product of a scalar function, forward over reverse (the JVP
    of its gradient)."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hvp")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        v = _v_or_single(v, inputs, is_inputs_tuple, create_graph, "hvp", "input to the user-provided function is")
        if v is None:
            v = (inputs[0].new_ones(inputs[0].shape),)
        outputs = []

        def gradient(*args):
            output = _single_output(func(*args), strict, "hvp")
            outputs.append(output)
            jac = _autograd_grad((output,), args, create_graph=True)
            _check_requires_grad(jac, "jacobian", strict)
            return _fill_in_zeros(jac, args, strict, create_graph, _DOUBLE_BACK)
        _, result = _forward_jvp(gradient, inputs, v)
    return (_grad_postprocess((outputs[0],), create_graph)[0],
            _tuple_postprocess(_grad_postprocess(result, create_graph), is_inputs_tuple))
