"""Shared checks: every primitive's VJP and JVP against central differences, and the adjoint identity."""
import numpy as np
from hypothesis import strategies as st

import minigrad
from minigrad.autograd import gradcheck

LAYOUTS = ("contiguous", "transposed", "strided")


def relayout(array, layout):
    """The same values in another memory layout (a non-contiguous view for the last two)."""
    if layout == "transposed" and array.ndim >= 2:
        return np.ascontiguousarray(array.T).T
    if layout == "strided" and array.ndim >= 1:
        return np.repeat(array, 2, axis=-1)[..., ::2]
    return array


def leaf(array, layout="contiguous", requires_grad=True):
    """A float64 leaf tensor holding `array` in the given layout."""
    t = minigrad.from_numpy(relayout(np.asarray(array, dtype=np.float64), layout))
    return t.requires_grad_(requires_grad)


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


@st.composite
def broadcastable_pair(draw, max_dims=3):
    """Two shapes that broadcast together (dims of size 1 and missing leading dims)."""
    out = draw(shapes(0, max_dims))
    pair = []
    for _ in range(2):
        lead = draw(st.integers(0, len(out)))
        pair.append(tuple(1 if draw(st.booleans()) else n for n in out[lead:]))
    return tuple(pair)


def check_rules(fn, inputs, atol=1e-5, rtol=1e-3, seed=0):
    """VJP and JVP against central differences, then <u, J v> == <J^T u, v>."""
    assert gradcheck(fn, inputs, eps=1e-6, atol=atol, rtol=rtol)
    check_adjoint(fn, inputs, seed)


def check_adjoint(fn, inputs, seed=0):
    rng = np.random.default_rng(seed)
    diff = [x for x in inputs if isinstance(x, minigrad.Tensor) and x.requires_grad]
    tangents = [minigrad.from_numpy(np.asarray(rng.standard_normal(x.shape))) for x in diff]

    def of_diff(*values):
        it = iter(values)
        return fn(*[next(it) if isinstance(x, minigrad.Tensor) and x.requires_grad else x for x in inputs])

    out, j_v = minigrad.func.jvp(of_diff, tuple(diff), tuple(tangents))
    u = minigrad.from_numpy(np.asarray(rng.standard_normal(out.shape)))
    jt_u = minigrad.autograd.grad(out, diff, u, allow_unused=True)
    lhs = float((u * j_v).sum())
    rhs = sum(float((g * v).sum()) for g, v in zip(jt_u, tangents) if g is not None)
    assert np.isclose(lhs, rhs, rtol=1e-9, atol=1e-9), (lhs, rhs)
