"""The tensor ops of PyTorch that CNN code reaches for (issue 14, section 3): values against PyTorch over
drawn shapes, dims and arguments; gradients against PyTorch and against central differences (with the
adjoint identity) for the differentiable ones, in float64; dtype rules and edge cases; the random ops'
shapes, dtypes, ranges, reproducibility and moments, with fixed seeds."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad
from checks import check_rules, leaf, shapes
from test_primitives import separated_matrices

seeds = st.integers(0, 2 ** 32 - 1)


def _rng(seed):
    return np.random.default_rng(seed)


def _torch():
    return pytest.importorskip("torch")


# --- strategies: (input arrays, keyword extras) ------------------------------------------------------------

@st.composite
def one_array(draw, min_dims=0, max_dims=3, min_side=1, max_side=4, distinct=False):
    shape = draw(shapes(min_dims, max_dims, min_side, max_side))
    rng = _rng(draw(seeds))
    n = math.prod(shape)
    if distinct:  # pairwise at least 0.2 apart: sorting and max/min are smooth there
        return (rng.permutation(n) * 0.25 + rng.uniform(-0.05, 0.05, n)).reshape(shape)
    return rng.uniform(-2, 2, shape)


@st.composite
def with_dim(draw, base):
    x = draw(base)
    return [x], {"dim": draw(st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1))}


@st.composite
def vectors(draw, same_length=True):
    rng = _rng(draw(seeds))
    n = draw(st.integers(1, 5))
    return [rng.standard_normal(n), rng.standard_normal(n if same_length else draw(st.integers(1, 5)))], {}


@st.composite
def addmm_case(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    rng = _rng(draw(seeds))
    shape = draw(st.sampled_from([(n, m), (m,), (1, m), (n, 1), ()]))
    extras = {"beta": draw(st.sampled_from([1, 0, 0.5, -2.0])), "alpha": draw(st.sampled_from([1, 2.0, -0.5]))}
    return [rng.standard_normal(shape), rng.standard_normal((n, k)), rng.standard_normal((k, m))], extras


@st.composite
def index_select_case(draw):
    x = draw(one_array(1))
    dim = draw(st.integers(-x.ndim, x.ndim - 1))
    index = draw(st.lists(st.integers(0, x.shape[dim] - 1), max_size=5))
    return [x], {"dim": dim, "index": index}


@st.composite
def along_index_case(draw, with_src=False):
    """gather's (and scatter_add's) operands: an int64 index of x's rank, no larger than x off dim (and
    a src of the index's shape: PyTorch's backward fails for a larger one)."""
    x = draw(one_array(1))
    dim = draw(st.integers(-x.ndim, x.ndim - 1))
    rng = _rng(draw(seeds))
    shape = tuple(draw(st.integers(0 if d != dim % x.ndim else 1, 4 if d == dim % x.ndim else n))
                  for d, n in enumerate(x.shape))
    index = rng.integers(0, x.shape[dim], shape)
    if not with_src:
        return [x], {"dim": dim, "index": index}
    src = rng.uniform(-2, 2, shape)
    return [x, src], {"dim": dim, "index": index}


@st.composite
def scatter_case(draw, unique=True, value=False):
    """scatter's operands: an index of x's rank, no larger than x off dim, whose lines along dim are
    partial permutations (unique=True: PyTorch leaves which repeated write wins unspecified), and a src
    of the index's shape (or a number)."""
    x = draw(one_array(1))
    dim = draw(st.integers(-x.ndim, x.ndim - 1))
    rng = _rng(draw(seeds))
    size = x.shape[dim]
    shape = tuple(draw(st.integers(0, size if d == dim % x.ndim else n)) for d, n in enumerate(x.shape))
    if unique:
        full = tuple(size if d == dim % x.ndim else n for d, n in enumerate(shape))
        index = np.argsort(rng.random(full), axis=dim)
        index = index[tuple(slice(0, n) for n in shape)]
    else:
        index = rng.integers(0, size, shape)
    if value:
        return [x], {"dim": dim, "index": index, "value": draw(st.sampled_from([-1.5, 0.0, 2.0]))}
    return [x, rng.uniform(-2, 2, shape)], {"dim": dim, "index": index}


@st.composite
def masked_fill_case(draw):
    x = draw(one_array())
    rng = _rng(draw(seeds))
    lead = draw(st.integers(0, x.ndim))  # the mask may have fewer dims, and size-1 dims, or one more dim
    mask_shape = tuple(1 if draw(st.booleans()) else n for n in x.shape[lead:])
    if draw(st.booleans()):
        mask_shape = (2,) + x.shape
    return [x], {"mask": rng.random(mask_shape) > 0.5, "value": draw(st.sampled_from([0.0, -1.5, 3]))}


@st.composite
def repeat_case(draw):
    x = draw(one_array(max_dims=2, max_side=3))
    sizes = draw(st.lists(st.integers(0, 3), min_size=max(x.ndim, 1), max_size=x.ndim + 2))
    return [x], {"sizes": sizes}


@st.composite
def repeat_interleave_case(draw):
    x = draw(one_array(max_side=3))
    dim = draw(st.sampled_from([None] + list(range(-x.ndim, x.ndim))))
    size = x.size if dim is None else x.shape[dim]
    repeats = draw(st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), min_size=size, max_size=size)))
    return [x], {"repeats": repeats, "dim": dim}


@st.composite
def flip_case(draw):
    x = draw(one_array())
    dims = draw(st.lists(st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1), unique_by=lambda d: d % max(x.ndim, 1),
                         max_size=max(x.ndim, 1)))
    return [x], {"dims": dims}


@st.composite
def roll_case(draw):
    x = draw(one_array(1))
    if draw(st.booleans()):
        return [x], {"shifts": draw(st.integers(-7, 7)), "dims": None}
    dims = draw(st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=1, max_size=3))
    return [x], {"shifts": [draw(st.integers(-7, 7)) for _ in dims], "dims": dims}


@st.composite
def triangle_case(draw):
    return [draw(one_array(2, 4))], {"diagonal": draw(st.integers(-4, 4))}


@st.composite
def norm_case(draw):
    x = draw(one_array(1))
    dim = draw(st.sampled_from([None, 0, -1, (0, -1) if x.ndim > 1 else 0]))
    return [x], {"p": draw(st.sampled_from([1, 2, 3, 0.5, math.inf, -math.inf, "fro"])), "dim": dim,
                 "keepdim": draw(st.booleans())}


@st.composite
def linalg_norm_case(draw):
    x = draw(one_array(1))
    kind = draw(st.sampled_from(["flat", "vector", "matrix"] if x.ndim > 1 else ["flat", "vector"]))
    if kind == "flat":
        return [x], {"ord": None, "dim": None, "keepdim": draw(st.booleans())}
    if kind == "vector":
        return [x], {"ord": draw(st.sampled_from([None, 1, 2, 3, math.inf, -math.inf])),
                     "dim": draw(st.integers(-x.ndim, x.ndim - 1)), "keepdim": draw(st.booleans())}
    dims = draw(st.permutations(range(x.ndim)))[:2]
    return [x], {"ord": draw(st.sampled_from(["fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf])), "dim": tuple(dims),
                 "keepdim": draw(st.booleans())}


EQUATIONS = ["ij,jk->ik", "ij,kj", "bij,bjk->bik", "i,i->", "i,j->ij", "ii->i", "ii", "ij->ji", "ij->", "iij->j",
             "...ij,...jk->...ik", "b...,b...->b...", "ij,jk,kl->il", "bhqd,bhkd->bhqk", "i,i,i->i", "ijk,ikl,jl->il",
             "ab,ab->ba", "ik,k->"]


@st.composite
def einsum_case(draw):
    equation = draw(st.sampled_from(EQUATIONS))
    rng = _rng(draw(seeds))
    sizes = {c: draw(st.integers(1, 3)) for c in "abcdhijklq"}
    inputs = equation.split("->")[0].split(",")
    batch = [draw(st.lists(st.integers(1, 2), max_size=2)) for _ in inputs]
    arrays = []
    for term, extra in zip(inputs, batch):
        if "..." in term:  # ellipsis dims broadcast: size 1 or 2, of up to two dims, per operand
            head, tail = term.split("...")
            shape = [sizes[c] for c in head] + extra + [sizes[c] for c in tail]
        else:
            shape = [sizes[c] for c in term]
        arrays.append(rng.standard_normal(shape))
    if "..." in equation:  # ellipsis dims: same length and sizes, or broadcastable with a size of 1
        arrays = _broadcastable_ellipses(arrays, inputs, batch)
    return arrays, {"equation": equation}


def _broadcastable_ellipses(arrays, inputs, batch):
    width = max(len(b) for b in batch)
    common = [2] * width
    out = []
    for array, term, extra in zip(arrays, inputs, batch):
        head = len(term.split("...")[0])
        own = [1 if n == 1 else common[width - len(extra) + i] for i, n in enumerate(extra)]
        shape = list(array.shape[:head]) + own + list(array.shape[head + len(extra):])
        out.append(np.resize(array, shape))
    return out


@st.composite
def nan_to_num_case(draw):
    x = draw(one_array(1))
    rng = _rng(draw(seeds))
    special = rng.choice([np.nan, np.inf, -np.inf, 0.0], size=x.shape, p=[0.2, 0.2, 0.2, 0.4])
    x = np.where(special == 0.0, x, special)
    return [x], {"nan": draw(st.sampled_from([0.0, 1.5])), "posinf": draw(st.sampled_from([None, 9.0])),
                 "neginf": draw(st.sampled_from([None, -9.0]))}


@st.composite
def sort_case(draw, distinct=True):
    x = draw(one_array(distinct=distinct))
    return [x], {"dim": draw(st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1)), "descending": draw(st.booleans())}


@st.composite
def topk_case(draw):
    x = draw(one_array(1, distinct=True))
    dim = draw(st.integers(-x.ndim, x.ndim - 1))
    return [x], {"k": draw(st.integers(0, x.shape[dim])), "dim": dim, "largest": draw(st.booleans())}


def _m(lib, t):
    return minigrad.tensor(t) if lib is minigrad else __import__("torch").tensor(t)


# name -> (strategy, function of (library, *tensors, **extras)), each differentiable in the tensors
DIFFERENTIABLE = {
    "dot": (vectors(), lambda lib, a, b: lib.dot(a, b)),
    "dot_method": (vectors(), lambda lib, a, b: a.dot(b)),
    "outer": (vectors(False), lambda lib, a, b: lib.outer(a, b)),
    "addmm": (addmm_case(), lambda lib, x, m1, m2, beta, alpha: lib.addmm(x, m1, m2, beta=beta, alpha=alpha)),
    "index_select": (index_select_case(),
                     lambda lib, x, dim, index: lib.index_select(x, dim, _m(lib, np.array(index, dtype=np.int64)))),
    "masked_fill": (masked_fill_case(), lambda lib, x, mask, value: x.masked_fill(_m(lib, mask), value)),
    "gather": (along_index_case(), lambda lib, x, dim, index: lib.gather(x, dim, _m(lib, index))),
    "scatter_add": (along_index_case(with_src=True),
                    lambda lib, x, src, dim, index: x.scatter_add(dim, _m(lib, index), src)),
    "scatter": (scatter_case(), lambda lib, x, src, dim, index: lib.scatter(x, dim, _m(lib, index), src)),
    "scatter_value": (scatter_case(value=True),
                      lambda lib, x, dim, index, value: x.scatter(dim, _m(lib, index), value=value)),
    "repeat": (repeat_case(), lambda lib, x, sizes: x.repeat(*sizes)),
    "repeat_interleave": (repeat_interleave_case(), lambda lib, x, repeats, dim: x.repeat_interleave(
        _m(lib, np.array(repeats, dtype=np.int64)) if isinstance(repeats, list) else repeats, dim)),
    "flip": (flip_case(), lambda lib, x, dims: lib.flip(x, dims)),
    "roll": (roll_case(), lambda lib, x, shifts, dims: lib.roll(x, shifts, dims)),
    "tril": (triangle_case(), lambda lib, x, diagonal: lib.tril(x, diagonal)),
    "triu": (triangle_case(), lambda lib, x, diagonal: x.triu(diagonal)),
    "cumsum": (with_dim(one_array()), lambda lib, x, dim: lib.cumsum(x, dim)),
    "cumprod": (with_dim(one_array(max_side=6)), lambda lib, x, dim: x.cumprod(dim)),
    "norm": (norm_case(), lambda lib, x, p, dim, keepdim: x.norm(p, dim, keepdim)),
    "linalg_norm": (linalg_norm_case(), lambda lib, x, ord, dim, keepdim: lib.linalg.norm(x, ord, dim, keepdim)),
    "vector_norm": (norm_case(), lambda lib, x, p, dim, keepdim: lib.linalg.vector_norm(
        x, 2 if p == "fro" else p, dim, keepdim)),
    "einsum": (einsum_case(), lambda lib, *ts, equation: lib.einsum(equation, *ts)),
    "nan_to_num": (nan_to_num_case(), lambda lib, x, nan, posinf, neginf: lib.nan_to_num(x, nan, posinf, neginf)),
    "sort": (sort_case(), lambda lib, x, dim, descending: lib.sort(x, dim, descending)),
    "topk": (topk_case(), lambda lib, x, k, dim, largest: x.topk(k, dim, largest)),
}


def _outputs(out):
    return list(out) if isinstance(out, tuple) else [out]


def _dtype_name(t):
    return str(t.dtype).rsplit(".", 1)[-1]


def _assert_same(out, expected):
    outs, exps = _outputs(out), _outputs(expected)
    assert len(outs) == len(exps)
    for o, e in zip(outs, exps):
        assert tuple(o.shape) == tuple(e.shape)
        assert _dtype_name(o) == _dtype_name(e)
        np.testing.assert_allclose(o.detach().numpy(), e.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
@given(data=st.data())
def test_values_and_gradients_match_pytorch(name, data):
    torch = _torch()
    strategy, fn = DIFFERENTIABLE[name]
    arrays, extras = data.draw(strategy)
    ours = [leaf(a) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, expected = fn(minigrad, *ours, **extras), fn(torch, *theirs, **extras)
    _assert_same(out, expected)
    out, expected = _outputs(out)[0], _outputs(expected)[0]
    weights = np.random.default_rng(0).standard_normal(tuple(out.shape))
    (out * minigrad.from_numpy(weights)).sum().backward()
    (expected * torch.from_numpy(weights)).sum().backward()
    for a, b in zip(ours, theirs):  # no gradient (an input the result does not read) counts as zeros
        np.testing.assert_allclose(np.zeros(a.shape) if a.grad is None else a.grad.numpy(),
                                   np.zeros(a.shape) if b.grad is None else b.grad.numpy(), rtol=1e-9, atol=1e-12)


# central differences need smooth points: no kink of |x| at 0, no tie of max/min, no non-finite input
SMOOTH = sorted(set(DIFFERENTIABLE) - {"nan_to_num", "norm", "vector_norm", "linalg_norm"})


@pytest.mark.parametrize("name", SMOOTH)
@given(data=st.data())
def test_vjp_jvp_against_central_differences_and_the_adjoint_identity(name, data):
    strategy, fn = DIFFERENTIABLE[name]
    arrays, extras = data.draw(strategy)
    check_rules(lambda *ts: _outputs(fn(minigrad, *ts, **extras))[0], [leaf(a) for a in arrays])


@given(x=one_array(1, distinct=True), ord=st.sampled_from([1, 2, 3, math.inf, -math.inf]))
def test_norm_rules_at_smooth_points(x, ord):
    check_rules(lambda t: minigrad.linalg.vector_norm(t, ord, -1), [leaf(x + np.sign(x) * 0.1)])
    if x.ndim > 1:
        check_rules(lambda t: minigrad.linalg.matrix_norm(t, 1 if ord == 2 else ord if ord != 3 else "fro"), [leaf(x)])


@given(case=separated_matrices(), ord=st.sampled_from([2, -2, "nuc"]))
def test_singular_value_norm_rules(case, ord):
    """The matrix norms built on the SVD, at matrices whose singular values are apart (so smooth there)."""
    (a,), layout = case
    check_rules(lambda t: minigrad.linalg.matrix_norm(t, ord), [leaf(a, layout)])


def test_norm_gradient_at_zero_is_zero_as_in_pytorch():
    torch = _torch()
    for p in (2, 3, "fro"):
        x, y = leaf(np.zeros(3)), torch.zeros(3, dtype=torch.float64, requires_grad=True)
        x.norm(p).backward()
        y.norm(p).backward()
        np.testing.assert_array_equal(x.grad.numpy(), y.grad.numpy())


def test_cumprod_gradient_with_zeros_matches_pytorch():
    torch = _torch()
    values = np.array([[2.0, 0.0, 3.0, 0.5], [0.0, 0.0, 1.5, 2.0], [1.0, 2.0, 3.0, 0.0]])
    x, y = leaf(values), torch.tensor(values, requires_grad=True)
    x.cumprod(1).sum().backward()
    y.cumprod(1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy())
    check_rules(lambda t: t.cumprod(1), [leaf(values)])


def test_addmm_with_beta_0_does_not_read_self_yet_gives_it_a_zero_gradient():
    """As PyTorch: nan and inf in self do not reach the result, and self's gradient is zeros, not None."""
    self_ = minigrad.tensor([np.nan, np.inf, 1.0], requires_grad=True)
    mat1 = minigrad.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    mat2 = minigrad.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]])
    out = minigrad.addmm(self_, mat1, mat2, beta=0, alpha=2.0)
    np.testing.assert_array_equal(out.detach().numpy(), 2 * mat1.detach().numpy() @ mat2.numpy())
    out.sum().backward()
    np.testing.assert_array_equal(self_.grad.numpy(), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(mat1.grad.numpy(), np.full((2, 3), 2.0) @ mat2.numpy().T)


@given(st.sampled_from(["trunc", "floor"]), st.sampled_from(["int64", "int32", "float32", "float64"]),
       st.integers(0, 2 ** 32 - 1), st.booleans())
def test_div_with_a_rounding_mode_matches_pytorch(rounding_mode, dtype, seed, scalar):
    """Integer and float quotients of either sign, exact and not, float zero divisors (inf, nan), a scalar
    divisor; dtypes; the in-place form; a zero gradient for floats."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    a = rng.integers(-20, 21, 12).astype(dtype)
    b = rng.integers(-6, 7, 12).astype(dtype)
    if dtype.startswith("int"):
        b[b == 0] = 3
    else:
        a, b = a * 0.75, b * 0.5
    other = (int(b[0]) if dtype.startswith("int") else float(b[0])) if scalar else None
    ours = minigrad.div(minigrad.tensor(a), other if scalar else minigrad.tensor(b), rounding_mode=rounding_mode)
    theirs = torch.div(torch.tensor(a), other if scalar else torch.tensor(b), rounding_mode=rounding_mode)
    assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    in_place = minigrad.tensor(a)
    in_place.div_(other if scalar else minigrad.tensor(b), rounding_mode=rounding_mode)
    np.testing.assert_array_equal(in_place.numpy(), theirs.numpy())
    if not dtype.startswith("int"):
        x, y = minigrad.tensor(a, requires_grad=True), minigrad.tensor(b, requires_grad=True)
        minigrad.div(x, other if scalar else y, rounding_mode=rounding_mode).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros_like(a))
        assert scalar or np.array_equal(y.grad.numpy(), np.zeros_like(b))
    with pytest.raises(RuntimeError, match="rounding_mode to be one of None, 'trunc', or 'floor'"):
        minigrad.div(minigrad.tensor(a), 2, rounding_mode="round")


def test_nan_to_num_gradient_passes_only_where_finite():
    x = leaf([1.0, np.nan, np.inf, -np.inf, -2.0])
    x.nan_to_num().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 0, 0, 0, 1])


def _last_write_wins(x, dim, index, src):
    """scatter by a loop over index in C order: with repeats along dim, the last write wins."""
    out = x.copy()
    for position in np.ndindex(*index.shape):
        target = list(position)
        target[dim] = index[position]
        out[tuple(target)] = src[position]
    return out


@given(case=scatter_case(unique=False))
def test_scatter_with_repeated_indices_is_the_last_write_and_its_rules_hold(case):
    (x, src), extras = case
    dim, index = extras["dim"] % x.ndim, extras["index"]
    out = leaf(x).scatter(dim, minigrad.tensor(index), leaf(src))
    np.testing.assert_array_equal(out.detach().numpy(), _last_write_wins(x, dim, index, src))
    check_rules(lambda a, b: a.scatter(dim, minigrad.tensor(index), b), [leaf(x), leaf(src)])


def _no_warning():
    return warnings.catch_warnings(action="error")


def _warnings_ignored():
    return warnings.catch_warnings(action="ignore")


@pytest.mark.parametrize("reduce", ["add", "multiply"])
@given(case=scatter_case(unique=False), value=st.booleans())
def test_scatter_reduce_matches_pytorch_and_its_rules_hold(reduce, case, value):
    """PyTorch has no derivative for scatter with reduce; minigrad's follows from the composition."""
    torch = _torch()
    (x, src), extras = case
    dim, index = extras["dim"], extras["index"]
    operand = (lambda lib, b: 1.5) if value else (lambda lib, b: b)
    with pytest.warns(UserWarning, match="deprecated") if not value else _no_warning():
        out = minigrad.from_numpy(x).scatter(dim, minigrad.tensor(index), operand(minigrad, minigrad.from_numpy(src)),
                                             reduce=reduce)
    with _warnings_ignored():
        expected = torch.from_numpy(x).scatter(dim, torch.tensor(index), operand(torch, torch.from_numpy(src)),
                                               reduce=reduce)
    _assert_same(out, expected)
    with _warnings_ignored():
        check_rules(lambda a, b: a.scatter(dim, minigrad.tensor(index), operand(minigrad, b), reduce=reduce),
                    [leaf(x), leaf(src)])


def test_scatter_forms_zero_dim_and_in_place_match_pytorch():
    torch = _torch()
    for make in (lambda lib: lib.tensor(5.0).scatter(0, lib.tensor(0), lib.tensor(7.0)),
                 lambda lib: lib.tensor(5.0).scatter(0, lib.tensor([0]), 3.0),
                 lambda lib: lib.zeros(3, dtype=lib.int64).scatter(0, lib.tensor([0]), 2.7),
                 lambda lib: lib.zeros(3, dtype=lib.bool).scatter(0, lib.tensor([2]), True),
                 lambda lib: lib.zeros(2, 3).scatter(1, lib.tensor([[2, 0]]), src=lib.ones(2, 3)),
                 lambda lib: lib.ones(2, 3).scatter(-1, lib.zeros(2, 0, dtype=lib.int64), value=-1.0),
                 lambda lib: lib.ones(2, 3, dtype=lib.int64).scatter(0, lib.tensor([[1, 1, 0]]), 3, reduce="multiply"),
                 lambda lib: lib.zeros(2, 3).scatter_(1, lib.tensor([[2], [0]]), lib.ones(2, 1)),
                 lambda lib: lib.zeros(2, 3).scatter_(1, lib.tensor([[2], [2]]), 4.0, reduce="add")):
        _assert_same(make(minigrad), make(torch))
    base = leaf(np.zeros((2, 3)))
    x = base * 1.0
    src = leaf(np.arange(6.0).reshape(2, 3))
    assert x.scatter_(1, minigrad.tensor([[2, 1], [0, 2]]), src) is x
    (x * minigrad.arange(6.0, dtype=minigrad.float64).reshape(2, 3)).sum().backward()
    np.testing.assert_array_equal(base.grad.numpy(), [[0, 0, 0], [0, 4, 0]])
    np.testing.assert_array_equal(src.grad.numpy(), [[2, 1, 0], [3, 5, 0]])


def test_vmap_of_scatter_and_its_gradients_equal_a_loop():
    """The index is shared by the batch (a batched index is a value vmap can't read); repeats included."""
    rng = np.random.default_rng(3)
    xs, srcs = (minigrad.from_numpy(rng.standard_normal((3, 2, 4))) for _ in range(2))
    index = minigrad.tensor([[1, 0], [0, 0]])

    def fn(x, src):
        return (x.scatter(1, index, src[:, :2]) + x.scatter(0, minigrad.tensor([[1, 0, 1, 0]]), 2.0, reduce="multiply")
                + x.scatter(1, index, -1.5, reduce="add"))
    np.testing.assert_allclose(minigrad.func.vmap(fn)(xs, srcs).numpy(),
                               minigrad.stack([fn(x, s) for x, s in zip(xs, srcs)]).numpy())
    grad = minigrad.func.grad(lambda x, s: fn(x, s).sum(), argnums=(0, 1))
    grads = minigrad.func.vmap(grad)(xs, srcs)
    for i in range(3):
        for batched, single in zip(grads, grad(xs[i], srcs[i])):
            np.testing.assert_allclose(batched[i].numpy(), single.numpy())


# --- dtype rules, integer inputs, in-place variants ------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda lib: lib.tensor([[True, False], [True, True]]).cumsum(0),
    lambda lib: lib.tensor([1, 2, 3]).cumsum(0),
    lambda lib: lib.tensor([1, 2, 3]).cumprod(0),
    lambda lib: lib.tensor([1, 2, 3]).cumsum(0, dtype=lib.float64),
    lambda lib: lib.tensor(2.5).cumsum(0),
    lambda lib: lib.tensor([[1, 2], [3, 4]]).tril(),
    lambda lib: lib.tensor([[True, True], [True, True]]).triu(1),
    lambda lib: lib.tensor([1, 2, 3]).masked_fill(lib.tensor([True, False, True]), 0.7),
    lambda lib: lib.tensor([1, 2, 3]).index_select(0, lib.tensor([2, 0, 2])),
    lambda lib: lib.tensor([3, 1]).repeat(2, 2),
    lambda lib: lib.tensor([[1, 2], [3, 4]]).flip(0).roll(1, 1),
    lambda lib: lib.tensor([1, 2], dtype=lib.int64).dot(lib.tensor([3, 4])),
    lambda lib: lib.outer(lib.tensor([1, 2]), lib.tensor([1.5, 2.0, 3.0], dtype=lib.float64)),
    lambda lib: lib.tensor([1, 2]).nan_to_num(),
    lambda lib: lib.tensor([3, 1, 2, 1]).sort(),
    lambda lib: lib.tensor([True, False, True]).argsort(stable=True),
    lambda lib: lib.tensor([3, 1, 2, 1]).topk(2),
    lambda lib: lib.tensor([[2.0, 1.0], [1.0, 2.0]]).isclose(lib.tensor([[2.0, 1.1], [np.nan, 2.0]])),
    lambda lib: lib.tensor([1, 5]).isclose(lib.tensor([2, 5]), atol=1),
    lambda lib: lib.tensor([np.inf, -np.inf, np.nan]).isclose(lib.tensor([np.inf, np.inf, np.nan]), equal_nan=True),
    lambda lib: lib.tensor([1.0, 2.0]).allclose(lib.tensor([1.0, 2.0 + 1e-9])),
    lambda lib: lib.tensor([1.0, 2.0]).allclose(lib.tensor([1.0, 2.1])),
    lambda lib: lib.tensor(5.0).index_select(0, lib.tensor([0])),
    lambda lib: lib.tensor(5.0).repeat_interleave(3),
    lambda lib: lib.tensor(5.0).sort(),
    lambda lib: lib.tensor(5.0).topk(1),
    lambda lib: lib.tensor(5.0).flip(0),
    lambda lib: lib.ones(0, 3).cumsum(0),
    lambda lib: lib.ones(0).sort(),
    lambda lib: lib.ones(2, 0).norm(),
    lambda lib: lib.ones(3, 2).index_select(1, lib.tensor(1)),
    lambda lib: lib.repeat_interleave(lib.tensor([2, 0, 1])),
    lambda lib: lib.tensor([1.0, 2.0, 3.0]).repeat_interleave(lib.tensor([2])),
    lambda lib: lib.tensor([[1.0, 2.0], [3.0, 4.0]]).masked_fill(lib.tensor(True), lib.tensor(9.0)),
    lambda lib: lib.einsum("i,j", [lib.tensor([1, 2]), lib.tensor([3, 4, 5])]),
    lambda lib: lib.tensor([1.0, -3.0]).norm(0),
    lambda lib: lib.zeros(3).scatter_add(0, lib.zeros(0, dtype=lib.int64), lib.tensor([float("inf")])),
], ids=lambda make: "")
def test_dtype_rules_and_edge_cases_match_pytorch(make):
    torch = _torch()
    out, expected = make(minigrad), make(torch)
    if isinstance(expected, bool):
        assert out is expected
    else:
        _assert_same(out, expected)


@pytest.mark.parametrize("call", [
    lambda x, lib: x.masked_fill_(_m(lib, np.array([True, False, True])), -1.0),
    lambda x, lib: x.tril_(),
    lambda x, lib: x.triu_(-1),
    lambda x, lib: x.nan_to_num_(posinf=1.0),
])
def test_in_place_variants_write_into_self_and_carry_the_gradient(call):
    torch = _torch()
    values = np.array([[1.0, np.inf, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    base, theirs = leaf(values), torch.tensor(values, requires_grad=True)
    x, y = base * 1.0, theirs * 1.0
    assert call(x, minigrad) is x
    call(y, torch)
    np.testing.assert_array_equal(x.detach().numpy(), y.detach().numpy())
    (x * 2).sum().backward()
    (y * 2).sum().backward()
    np.testing.assert_array_equal(base.grad.numpy(), theirs.grad.numpy())


# --- non-differentiable: argsort, sort's indices, unique -----------------------------------------------------

@given(case=sort_case(distinct=False), values=st.integers(1, 4))
def test_argsort_is_stable_with_ties_as_pytorchs_stable_sort(case, values):
    torch = _torch()
    (x,), extras = case
    x = np.asarray(np.floor(x * values) / values)  # few distinct values: many ties
    if x.ndim:
        x[..., :1] = np.nan  # nan sorts as the largest
    ours = minigrad.from_numpy(x).argsort(extras["dim"], extras["descending"], stable=True)
    theirs = torch.from_numpy(x).argsort(dim=extras["dim"], descending=extras["descending"], stable=True)
    _assert_same(ours, theirs)
    assert not ours.requires_grad


@given(x=one_array(), levels=st.integers(1, 5), inverse=st.booleans(), counts=st.booleans())
def test_unique_matches_pytorch(x, levels, inverse, counts):
    torch = _torch()
    x = np.asarray(np.round(x * levels / 2))
    _assert_same(minigrad.unique(minigrad.from_numpy(x), return_inverse=inverse, return_counts=counts),
                 torch.unique(torch.from_numpy(x), return_inverse=inverse, return_counts=counts))
    ints = x.astype(np.int64)
    _assert_same(minigrad.from_numpy(ints).unique(True, inverse, counts), torch.from_numpy(ints).unique(True, inverse,
                                                                                                       counts))


@given(x=one_array(1, 4, max_side=5), levels=st.integers(1, 3), data=st.data())
def test_unique_along_a_dim_matches_pytorch(x, levels, data):
    """Few levels, so that slices repeat; up to 4 dims, so that rows of many columns pair up in rounds."""
    torch = _torch()
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    inverse, counts = data.draw(st.booleans()), data.draw(st.booleans())
    x = np.asarray(np.round(x * levels / 4))
    for values in (x, x.astype(np.int64), x > 0):
        _assert_same(minigrad.from_numpy(values).unique(data.draw(st.booleans()), inverse, counts, dim),
                     torch.unique(torch.from_numpy(values), return_inverse=inverse, return_counts=counts, dim=dim))


@pytest.mark.parametrize("shape, dim", [((0, 3), 0), ((3, 0), 1), ((2, 0, 2), 1), ((5,), 0), ((1, 1, 1), -1)])
def test_unique_along_a_dim_of_empty_and_single_slices_matches_pytorch(shape, dim):
    torch = _torch()
    values = np.arange(math.prod(shape), dtype=np.float64).reshape(shape) % 2
    _assert_same(minigrad.from_numpy(values).unique(dim=dim, return_inverse=True, return_counts=True),
                 torch.from_numpy(values).unique(dim=dim, return_inverse=True, return_counts=True))


def test_unique_of_bool_and_of_a_tensor_that_requires_grad():
    values = leaf([2.0, 1.0, 2.0])
    out = values.unique()
    assert not out.requires_grad and out.tolist() == [1.0, 2.0]
    assert minigrad.tensor([True, False, True]).unique(return_counts=True)[1].tolist() == [1, 2]


def test_sort_indices_and_topk_indices_carry_no_gradient():
    x = leaf([3.0, 1.0, 2.0])
    assert not x.sort().indices.requires_grad and not x.topk(2).indices.requires_grad
    assert x.sort().values.requires_grad


def test_vmap_of_sort_topk_cumsum_and_einsum_equals_a_loop():
    xs = minigrad.from_numpy(np.random.default_rng(4).standard_normal((3, 4, 5)))
    for fn in (lambda x: x.sort(1, descending=True).values, lambda x: x.topk(2, 0).values,
               lambda x: x.argsort(), lambda x: x.cumsum(-1), lambda x: minigrad.einsum("ij,kj->ik", x, x)):
        batched = minigrad.func.vmap(fn)(xs)
        looped = minigrad.stack([fn(x) for x in xs])
        np.testing.assert_allclose(batched.numpy(), looped.numpy())


def test_cumsum_of_a_long_dim_takes_logarithmic_steps():
    x = minigrad.arange(1, 10001).double()
    assert x.cumsum(0)[-1].item() == 10000 * 10001 / 2
    seen = []
    x.requires_grad_()
    out = x.cumsum(0)
    node = out.grad_fn
    while node is not None:
        seen.append(node)
        node = next((n for n, _ in node.next_functions if n is not None and type(n).__name__ != "AccumulateGrad"),
                    None)
    assert len(seen) < 3 * math.ceil(math.log2(10000)) + 3


# --- random ops ----------------------------------------------------------------------------------------------

def test_rand_like_and_randn_like_keep_shape_dtype_and_device():
    x = minigrad.zeros(3, 4, dtype=minigrad.float64)
    for fn in (minigrad.rand_like, minigrad.randn_like):
        out = fn(x)
        assert out.shape == x.shape and out.dtype is minigrad.float64 and out.device == x.device
        assert fn(x, dtype=minigrad.float32).dtype is minigrad.float32
        assert fn(x, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="dtype"):
        minigrad.rand_like(minigrad.zeros(2, dtype=minigrad.int64))


def test_rand_like_and_randn_like_moments_and_seeding():
    x = minigrad.zeros(200, 100)
    minigrad.manual_seed(0)
    u, z = minigrad.rand_like(x), minigrad.randn_like(x)
    assert 0 <= u.min().item() and u.max().item() < 1
    assert abs(u.mean().item() - 0.5) < 0.01 and abs(u.var().item() - 1 / 12) < 0.005
    assert abs(z.mean().item()) < 0.02 and abs(z.std().item() - 1) < 0.02
    minigrad.manual_seed(0)
    assert minigrad.rand_like(x).equal(u) and minigrad.randn_like(x).equal(z)


def test_bernoulli_values_dtype_mean_and_generator():
    minigrad.manual_seed(0)
    p = minigrad.full((100, 100), 0.3, dtype=minigrad.float64)
    draws = minigrad.bernoulli(p, generator=minigrad.Generator().manual_seed(1))
    assert draws.dtype is minigrad.float64 and draws.shape == p.shape
    assert set(np.unique(draws.numpy())) <= {0.0, 1.0} and abs(draws.mean().item() - 0.3) < 0.02
    again = p.bernoulli(generator=minigrad.Generator().manual_seed(1))
    assert again.equal(draws)
    edges = minigrad.tensor([0.0, 1.0]).bernoulli()
    assert edges.tolist() == [0.0, 1.0]
    assert abs(minigrad.zeros(10000).bernoulli(0.8).mean().item() - 0.8) < 0.02
    filled = minigrad.zeros(10000)
    assert filled.bernoulli_(0.25) is filled and abs(filled.mean().item() - 0.25) < 0.02
    row = minigrad.tensor([0.0, 1.0])
    assert minigrad.zeros(3, 2).bernoulli_(row).tolist() == [[0.0, 1.0]] * 3
    assert not leaf([0.5]).bernoulli().requires_grad


def test_multinomial_shapes_frequencies_and_reproducibility():
    minigrad.manual_seed(0)
    weights = minigrad.tensor([1.0, 0.0, 3.0, 6.0])
    draws = minigrad.multinomial(weights, 20000, replacement=True, generator=minigrad.Generator().manual_seed(2))
    assert draws.dtype is minigrad.int64 and draws.shape == (20000,)
    frequencies = np.bincount(draws.numpy(), minlength=4) / 20000
    np.testing.assert_allclose(frequencies, [0.1, 0.0, 0.3, 0.6], atol=0.015)
    assert draws.equal(weights.multinomial(20000, True, generator=minigrad.Generator().manual_seed(2)))
    rows = minigrad.tensor([[1.0, 1.0, 1.0, 1.0, 1.0], [0.0, 5.0, 1.0, 0.0, 2.0]])
    picked = rows.multinomial(3, generator=minigrad.Generator().manual_seed(3))
    assert picked.shape == (2, 3)
    for row in picked.tolist():
        assert len(set(row)) == 3  # without replacement: distinct
    assert set(picked[1].tolist()) == {1, 2, 4}  # the three categories with weight
    firsts = [int(minigrad.tensor([1.0, 9.0]).multinomial(1)) for _ in range(400)]
    assert abs(np.mean(firsts) - 0.9) < 0.05  # without replacement, the first draw is weighted
