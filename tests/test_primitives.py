"""Every primitive, in float64: VJP and JVP against central differences, the adjoint identity,
non-contiguous layouts and broadcasting drawn by hypothesis, and PyTorch as an oracle when installed.

Each case is (strategy of input arrays, function). The function uses only Tensor methods and
operators that minigrad and PyTorch share, so the same case runs on both.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad
from minigrad.ops.elementwise import ReluBackward, SigmoidBackward
from minigrad.ops.normalization import Normalize
from checks import LAYOUTS, broadcastable_pair, check_rules, leaf, shapes

seeds = st.integers(0, 2 ** 32 - 1)


def _rng(seed):
    return np.random.default_rng(seed)


@st.composite
def unary(draw, low=-2.0, high=2.0, avoid=(), min_dims=0, min_side=1):
    """One array with values in [low, high], at least 0.1 away from the points in `avoid`."""
    shape = draw(shapes(min_dims, 3, min_side))
    values = _rng(draw(seeds)).uniform(low, high, shape)
    for point in avoid:
        away = np.where(values >= point, point + 0.1, point - 0.1)
        values = np.where(np.abs(values - point) < 0.1, away, values)
    return [values], draw(st.sampled_from(LAYOUTS))


@st.composite
def binary(draw, low=-2.0, high=2.0, positive_second=False, separated=False):
    shape_a, shape_b = draw(broadcastable_pair())
    rng = _rng(draw(seeds))
    a = rng.uniform(low, high, shape_a)
    b = rng.uniform(0.5, 2.0, shape_b) if positive_second else rng.uniform(low, high, shape_b)
    if separated:  # keep a and b apart, so max/min have no kink near the sample
        b = b + np.where(np.broadcast_to(a, np.broadcast_shapes(shape_a, shape_b)).mean() > 0, -3, 3)
    return [a, b], draw(st.sampled_from(LAYOUTS))


@st.composite
def distinct(draw, min_dims=1):
    """Values that differ pairwise by at least 0.1, so max/min and sorting are smooth."""
    shape = draw(shapes(min_dims, 3))
    rng = _rng(draw(seeds))
    n = int(np.prod(shape))
    values = (rng.permutation(n) * 0.25 + rng.uniform(-0.05, 0.05, n)).reshape(shape)
    return [values], draw(st.sampled_from(LAYOUTS))


@st.composite
def with_dims(draw, base):
    """An input from `base` plus a random subset of its dims and a keepdim flag."""
    (arrays, layout) = draw(base)
    ndim = arrays[0].ndim
    dims = draw(st.lists(st.integers(-ndim, ndim - 1), unique_by=lambda d: d % ndim, max_size=ndim)) if ndim else []
    return arrays, layout, tuple(dims), draw(st.booleans())


@st.composite
def one_dim(draw, base):
    arrays, layout = draw(base)
    ndim = arrays[0].ndim
    return arrays, layout, draw(st.integers(-ndim, ndim - 1)), draw(st.booleans())


@st.composite
def matmul_pair(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    batch_a, batch_b = draw(broadcastable_pair(max_dims=2))
    shape_a = draw(st.sampled_from([(k,), batch_a + (n, k)]))
    shape_b = draw(st.sampled_from([(k,), batch_b + (k, m)]))
    rng = _rng(draw(seeds))
    return [rng.standard_normal(shape_a), rng.standard_normal(shape_b)], draw(st.sampled_from(LAYOUTS))


@st.composite
def linear_operands(draw):
    """nn.Linear's operands: x (N, in), w (out, in) and, half the time, b (out,)."""
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    rng = _rng(draw(seeds))
    arrays = [rng.standard_normal((n, k)), rng.standard_normal((m, k))]
    return arrays + ([rng.standard_normal(m)] if draw(st.booleans()) else []), draw(st.sampled_from(LAYOUTS))


@st.composite
def channel_operands(draw):
    """Batch normalization's x (N, C, ...) with at least 2 values per channel, and w and b (C,)."""
    n, channels = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    rest = draw(shapes(0, 2, 1, 3).filter(lambda r: n * int(np.prod(r)) >= 2))
    rng = _rng(draw(seeds))
    return ([rng.standard_normal((n, channels) + rest), rng.standard_normal(channels), rng.standard_normal(channels)],
            draw(st.sampled_from(LAYOUTS)))


@st.composite
def separated_matrices(draw):
    """A batch of m x n matrices whose singular values are at least 0.5 apart (and from 0), so that the
    SVD's rules (which divide by s_j^2 - s_i^2) are smooth there."""
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = draw(st.sampled_from([(), (2,)]))
    rng = _rng(draw(seeds))
    k = min(m, n)
    values = rng.permutation(np.arange(1, k + 1) * 0.75 + 0.25)
    u = np.linalg.qr(rng.standard_normal(batch + (m, k)))[0]
    v = np.linalg.qr(rng.standard_normal(batch + (n, k)))[0]
    return [(u * values) @ np.swapaxes(v, -1, -2)], draw(st.sampled_from(LAYOUTS))


def _svd_invariants(a):
    """U, S and Vh through functions that do not depend on the singular vectors' signs: U (S^2 + S) Vh,
    U U^T and V V^T, and S."""
    m = _module(a)
    u, s, vh = m.linalg.svd(a, full_matrices=False)
    return m.cat([((u * (s ** 2 + s).unsqueeze(-2)) @ vh).reshape(-1), (u @ u.mT).reshape(-1),
                  (vh.mT @ vh).reshape(-1), s.reshape(-1)])


@st.composite
def index_case(draw, unique=False):
    """An input and an index key; with unique=True no element is indexed twice (for __setitem__,
    where repeated indices make the result depend on write order, in PyTorch too)."""
    shape = draw(shapes(1, 3, 1, 5))
    rng = _rng(draw(seeds))
    kind = draw(st.sampled_from(["basic", "integer", "mask", "mixed"]))
    if kind == "basic":
        key = tuple(slice(draw(st.integers(0, n - 1)), None, draw(st.integers(1, 2))) for n in shape)
        key = key[:draw(st.integers(1, len(shape)))] + ((None,) if draw(st.booleans()) else ())
    elif kind == "integer":  # repeated indices must add up in the VJP
        key = (_positions(rng, shape[0], draw(st.integers(1, 6)), unique),)
    elif kind == "mask":
        key = (rng.random(shape) > 0.5,)
    else:
        key = (Ellipsis, _positions(rng, shape[-1], 3, unique)) if len(shape) > 1 else (0,)
    return [rng.standard_normal(shape)], draw(st.sampled_from(LAYOUTS)), key


def _positions(rng, n, count, unique):
    if unique:
        chosen = rng.choice(n, size=min(count, n), replace=False)
        return np.where(rng.random(chosen.shape) < 0.5, chosen - n, chosen)
    return rng.integers(-n, n, size=count)


def _tensor_key(key, module):
    return tuple(module.tensor(k) if isinstance(k, np.ndarray) else k for k in key)


def _setitem(x, value, key):
    out = x.clone()
    out[key] = value
    return out


# name -> (strategy, function of tensors (and drawn extras), number of drawn extras)
CASES = {
    "add": (binary(), lambda a, b: a + b),
    "sub": (binary(), lambda a, b: a - b),
    "mul": (binary(), lambda a, b: a * b),
    "div": (binary(positive_second=True), lambda a, b: a / b),
    "pow": (binary(low=0.5, high=2.0), lambda a, b: a ** b),
    "remainder": (binary(low=0.1, high=0.9, positive_second=True), lambda a, b: (a + 2 * b) % b),
    "maximum": (binary(separated=True), lambda a, b: a.maximum(b)),
    "minimum": (binary(separated=True), lambda a, b: a.minimum(b)),
    "where": (binary(), lambda a, b: _where(a, b)),
    "neg": (unary(), lambda x: -x),
    "exp": (unary(), lambda x: x.exp()),
    "log": (unary(0.2, 3.0), lambda x: x.log()),
    "sqrt": (unary(0.2, 3.0), lambda x: x.sqrt()),
    "sin": (unary(), lambda x: x.sin()),
    "cos": (unary(), lambda x: x.cos()),
    "tanh": (unary(), lambda x: x.tanh()),
    "erf": (unary(), lambda x: x.erf()),
    "sigmoid": (unary(-6, 6), lambda x: x.sigmoid()),
    "sigmoid_grad": (binary(low=0.05, high=0.95), lambda g, y: _sigmoid_backward(g, y)),
    "relu": (unary(avoid=[0.0]), lambda x: x.relu()),
    "relu_grad": (binary(), lambda g, y: _relu_backward(g, y)),
    "abs": (unary(avoid=[0.0]), lambda x: x.abs()),
    "sign_floor": (unary(avoid=[-2, -1, 0, 1, 2]), lambda x: x.sign() + x.floor()),
    "clamp": (unary(avoid=[-0.5, 1.0]), lambda x: x.clamp(-0.5, 1.0)),
    "clamp_min": (unary(avoid=[0.3]), lambda x: x.clamp(min=0.3)),
    "pow_scalar": (unary(0.2, 2.0), lambda x: x ** 3 + x ** 0.5 - x ** -1.5 + x ** 0),
    "rpow": (unary(), lambda x: 2.0 ** x),
    "rsub_rdiv": (unary(0.5, 2.0), lambda x: (1 - x) + 2 / x),
    "sum": (with_dims(unary()), lambda x, dims, keep: x.sum(dims or None, keepdim=keep)),
    "mean": (with_dims(unary()), lambda x, dims, keep: x.mean(dims or None, keepdim=keep)),
    "var": (with_dims(unary(min_dims=1, min_side=2)), lambda x, dims, keep: x.var(dims or None, keepdim=keep)),
    "std": (with_dims(unary(0.5, 2, min_dims=1, min_side=2)), lambda x, dims, keep: x.std(dims or None, keepdim=keep)),
    "prod": (one_dim(unary(0.5, 1.5, min_dims=1)), lambda x, dim, keep: x.prod(dim, keepdim=keep)),
    "prod_all": (unary(0.5, 1.5), lambda x: x.prod()),
    "max_all": (distinct(), lambda x: x.max()),
    "amin": (with_dims(distinct()), lambda x, dims, keep: x.amin(dims, keepdim=keep)),
    "max_dim": (one_dim(distinct()), lambda x, dim, keep: x.max(dim, keepdim=keep)[0]),
    "min_dim": (one_dim(distinct()), lambda x, dim, keep: x.min(dim, keepdim=keep).values),
    "logsumexp": (one_dim(unary(min_dims=1)), lambda x, dim, keep: x.logsumexp(dim, keepdim=keep)),
    "softmax": (one_dim(unary(min_dims=1)), lambda x, dim, _: x.softmax(dim)),
    "log_softmax": (one_dim(unary(min_dims=1)), lambda x, dim, _: x.log_softmax(dim)),
    "reshape": (unary(), lambda x: x.reshape(-1)),
    "view_flatten": (unary(), lambda x: x.contiguous().view(-1, 1).flatten()),
    "permute": (unary(min_dims=1), lambda x: x.permute(*reversed(range(x.ndim)))),
    "transpose": (unary(min_dims=2), lambda x: x.transpose(0, -1)),
    "unsqueeze_squeeze": (unary(), lambda x: x.unsqueeze(0).unsqueeze(-1).squeeze(0) * 2),
    "expand": (unary(), lambda x: x.unsqueeze(0).expand(3, *x.shape)),
    "index": (index_case(), None),
    "setitem": (index_case(unique=True), None),
    "cat": (binary(), lambda a, b: _cat(a, b)),
    "stack_split": (unary(min_dims=1), lambda x: _stack_split(x)),
    "matmul": (matmul_pair(), lambda a, b: a @ b),
    "linear": (linear_operands(), lambda x, w, *b: _module(x).nn.functional.linear(x, w, *b)),
    "svd": (separated_matrices(), _svd_invariants),
    "batch_norm": (channel_operands(), lambda x, w, b: _module(x).nn.functional.batch_norm(x, None, None, w, b, True)),
    "batch_norm_statistics": (channel_operands(), lambda x, w, b: _normalize_with_statistics(x, w, b)),
    "clone": (unary(), lambda x: x.clone() * 1.5),
}


def _module(t):
    return minigrad if isinstance(t, minigrad.Tensor) else __import__("torch")


def _sigmoid_backward(g, y):
    """The fused primitive behind sigmoid's VJP; against PyTorch, its formula."""
    if isinstance(g, minigrad.Tensor):
        return SigmoidBackward.apply(g, y)
    return g * y * (1 - y)


def _relu_backward(g, y):
    """The fused primitive behind relu's VJP; against PyTorch, its formula."""
    if isinstance(g, minigrad.Tensor):
        return ReluBackward.apply(g, y)
    return g * (y > 0) + 0 * y  # equal away from y = nan; y's gradient is zero, not None


def _normalize_with_statistics(x, w, b):
    """Normalize's three outputs, each with a gradient of its own; against PyTorch, their formulas."""
    dims, shape = (0,) + tuple(range(2, x.ndim)), w.shape + (1,) * (x.ndim - 2)
    if isinstance(x, minigrad.Tensor):
        out, mean, var = Normalize.apply(x, 1e-5)
    else:
        mean, var = x.mean(dims), x.var(dims, correction=0)
        out = (x - mean.reshape(shape)) / (var.reshape(shape) + 1e-5).sqrt()
    return _module(x).cat([(out * out).reshape(-1), mean * w, var * b])


def _where(a, b):
    m = _module(a)
    return m.where(a > b.mean(), a * 2, b)


def _cat(a, b):
    m = _module(a)
    return m.cat([a.reshape(-1), b.reshape(-1), (a * b).reshape(-1)], 0)


def _stack_split(x):
    m = _module(x)
    pieces = x.split(2, dim=0) + x.chunk(2, dim=-1)
    return m.stack([p.sum() * (i + 1) for i, p in enumerate(pieces)])


def _draw_case(name, drawn):
    """(function of the tensors, input arrays, layout) for a case."""
    strategy, fn = CASES[name]
    if name in ("index", "setitem"):
        (x,), layout, key = drawn
        if name == "index":
            return (lambda t: t[_tensor_key(key, _module(t))] * 1.0), [x], layout
        value_shape = minigrad.from_numpy(x)[_tensor_key(key, minigrad)].shape
        value = np.random.default_rng(1).standard_normal(value_shape[-1:] if value_shape else ())
        return (lambda t, v: _setitem(t, v, _tensor_key(key, _module(t)))), [x, value], layout
    arrays, layout, *extras = drawn
    return (lambda *ts: fn(*ts, *extras)), arrays, layout


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_vjp_jvp_and_adjoint(name, data):
    fn, arrays, layout = _draw_case(name, data.draw(CASES[name][0]))
    check_rules(fn, [leaf(a, layout) for a in arrays])


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_matches_pytorch(name, data):
    torch = pytest.importorskip("torch")
    fn, arrays, layout = _draw_case(name, data.draw(CASES[name][0]))
    ours = [leaf(a, layout) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, expected = fn(*ours), fn(*theirs)
    assert tuple(out.shape) == tuple(expected.shape)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    weights = np.random.default_rng(0).standard_normal(tuple(out.shape))
    (out * minigrad.from_numpy(weights)).sum().backward()
    (expected * torch.from_numpy(weights)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make", [
    lambda: minigrad.tensor([1, 2, 3]),
    lambda: minigrad.tensor([True, False]),
])
def test_integer_and_bool_tensors_cannot_require_grad(make):
    with pytest.raises(RuntimeError, match="floating point"):
        make().requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        minigrad.tensor([1, 2], requires_grad=True)


def test_prod_gradient_with_zeros():
    # One zero: its gradient is the product of the others; two zeros: every gradient is zero.
    x = leaf([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0]])
    x.prod(1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 6, 0], [0, 0, 0]])
    check_rules(lambda t: t.prod(1), [leaf([[2.0, 0.0, 3.0], [1.5, 0.5, 2.0]])])


def test_max_ties_go_to_first_index_and_amax_ties_share():
    x = leaf([[1.0, 3.0, 3.0]])
    x.max(1).values.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 1, 0]])
    y = leaf([1.0, 3.0, 3.0])
    y.max().backward()
    np.testing.assert_allclose(y.grad.numpy(), [0, 0.5, 0.5])


def test_cast_carries_gradients_back_to_the_source_dtype():
    x = leaf(np.linspace(-1, 1, 6).reshape(2, 3))
    y = x.float()
    assert y.dtype is minigrad.float32
    (y * y).sum().backward()
    assert x.grad.dtype is minigrad.float64
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy(), rtol=1e-6)
    assert minigrad.autograd.gradcheck(lambda t: t.float() * 3, [x], eps=1e-3, atol=1e-2)
