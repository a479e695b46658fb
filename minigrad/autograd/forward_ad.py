"""Forward mode: push tangents through a function with every op's JVP rule (no double backward)."""
from minigrad.autograd.grad_mode import STATE
from minigrad.autograd.variable import TensorBase


def _as_tensor_tuple(values, argument):
    values = values if isinstance(values, (tuple, list)) else (values,)
    for i, v in enumerate(values):
        if not isinstance(v, TensorBase):
            raise TypeError(f"{argument}[{i}]: expected a Tensor, got {type(v).__name__}")
    return tuple(values)


def jvp(func, primals, tangents):
    """(func(*primals), J·tangents): the Jacobian-vector product, computed in one forward pass.

    `primals` and `tangents` are tuples (or single tensors) of matching shapes and dtypes.
    The outputs keep their place on the tape, so the result can still be back-propagated.
    """
    primals = _as_tensor_tuple(primals, "primals")
    tangents = _as_tensor_tuple(tangents, "tangents")
    if len(primals) != len(tangents):
        raise RuntimeError(f"jvp: expected as many tangents as primals, got {len(tangents)} tangents "
                           f"for {len(primals)} primals")
    duals = []
    for i, (p, t) in enumerate(zip(primals, tangents)):
        if not p.dtype.is_floating_point:
            raise TypeError(f"primals[{i}]: forward-mode AD needs a floating point tensor, got {p.dtype}")
        if t.shape != p.shape or t.dtype is not p.dtype:
            raise RuntimeError(f"tangents[{i}]: expected shape {list(p.shape)} and dtype {p.dtype} "
                               f"(those of primals[{i}]), got shape {list(t.shape)} and dtype {t.dtype}")
        if p._tangent is not None:
            raise RuntimeError("jvp: nested forward-mode jvp is not supported")
        dual = p._alias_with_graph()
        dual._tangent = t
        duals.append(dual)
    STATE.forward_ad_enabled = True
    try:
        outputs = func(*duals)
    finally:
        STATE.forward_ad_enabled = False
    single = not isinstance(outputs, (tuple, list))
    outputs = _as_tensor_tuple(outputs, "outputs")
    out_tangents = [out._tangent if out._tangent is not None else out._zeros_like() for out in outputs]
    for tensor in outputs + tuple(duals):
        tensor._tangent = None
    if single:
        return outputs[0], out_tangents[0]
    return tuple(outputs), tuple(out_tangents)
