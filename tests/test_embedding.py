"""F.embedding and nn.Embedding's options (issue 14): max_norm/norm_type (torch.embedding_renorm_: the rows
looked up are rescaled in place, without a gradient, before the lookup), scale_grad_by_freq (each row's
gradient divided by its index's count in the batch) and padding_idx, against PyTorch on hypothesis-drawn
indices (duplicates, the padding row, empty batches): output, weight after the renorm and gradients."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad
from minigrad import nn
from minigrad.nn import functional as F

NORM_TYPES = [2.0, 1.0, 3.0, 0.5, math.inf]


def _torch():
    return pytest.importorskip("torch")


@st.composite
def embedding_case(draw):
    """Weights (some rows' norms above max_norm, some below), indices with duplicates and options."""
    rows, dim = draw(st.integers(1, 7)), draw(st.integers(1, 5))
    index_shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))
    size = int(np.prod(index_shape))
    index = np.array(draw(st.lists(st.integers(0, rows - 1), min_size=size, max_size=size)),
                     dtype=np.int64).reshape(index_shape)
    padding_idx = draw(st.one_of(st.none(), st.integers(-rows, rows - 1)))
    if padding_idx is not None and size and draw(st.booleans()):
        index.flat[draw(st.integers(0, size - 1))] = padding_idx % rows  # the padding row is looked up
    seed = draw(st.integers(0, 2 ** 16))
    weight = np.random.default_rng(seed).standard_normal((rows, dim)) * draw(st.sampled_from([0.3, 1.0, 3.0]))
    return {"weight": weight, "index": index, "padding_idx": padding_idx, "seed": seed,
            "max_norm": draw(st.one_of(st.none(), st.floats(0.05, 4.0))),
            "norm_type": draw(st.sampled_from(NORM_TYPES)), "scale_grad_by_freq": draw(st.booleans())}


def _run_both(t, case, dtype):
    """(minigrad, torch) pairs: (output, weight after the call, weight's gradient) for a drawn case."""
    options = {k: case[k] for k in ("padding_idx", "max_norm", "norm_type", "scale_grad_by_freq")}
    ours = minigrad.tensor(case["weight"], dtype=getattr(minigrad, dtype), requires_grad=True)
    theirs = t.tensor(case["weight"], dtype=getattr(t, dtype), requires_grad=True)
    out = F.embedding(minigrad.tensor(case["index"]), ours, **options)
    ref = t.nn.functional.embedding(t.tensor(case["index"]), theirs, **options)
    g = np.random.default_rng(case["seed"] + 1).standard_normal(tuple(ref.shape))
    out.backward(minigrad.tensor(g, dtype=ours.dtype))
    ref.backward(t.tensor(g, dtype=theirs.dtype))
    grad_ours = ours.grad.numpy() if ours.grad is not None else np.zeros(case["weight"].shape)
    grad_theirs = theirs.grad.numpy() if theirs.grad is not None else np.zeros(case["weight"].shape)
    return [(out.detach().numpy(), ref.detach().numpy()), (ours.detach().numpy(), theirs.detach().numpy()),
            (grad_ours, grad_theirs)]


@pytest.mark.parametrize("dtype, rtol, atol", [("float64", 1e-12, 1e-14), ("float32", 2e-6, 1e-7)])
@given(case=embedding_case())
def test_embedding_options_match_pytorch(case, dtype, rtol, atol):
    t = _torch()
    for what, (ours, theirs) in zip(("output", "weight after renorm", "weight gradient"), _run_both(t, case, dtype)):
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)


def test_renorm_rows_and_scale():
    """Only rows looked up and above max_norm change, to max_norm / (norm + 1e-7) times themselves; rows
    on or under it and rows not looked up keep their exact values."""
    weight = np.array([[3.0, 4.0], [0.6, 0.8], [6.0, 8.0], [0.3, 0.4]])
    w = minigrad.tensor(weight)
    out = F.embedding(minigrad.tensor([0, 1, 0, 3]), w, max_norm=1.0)
    expected = weight.copy()
    expected[0] *= 1.0 / (5.0 + 1e-7)
    np.testing.assert_array_equal(w.numpy(), expected)  # row 2 (norm 10) was not looked up: unchanged
    np.testing.assert_array_equal(out.numpy(), expected[[0, 1, 0, 3]])
    np.testing.assert_allclose(np.linalg.norm(out.numpy(), axis=1), [1, 1, 1, 0.5], rtol=1e-6)


def test_renorm_is_not_recorded_and_moves_the_version():
    """The renorm writes no gradient and no tangent (as PyTorch); a weight saved earlier in the graph then
    fails backward, as PyTorch documents (clone the weight first)."""
    t = _torch()
    weight = np.random.default_rng(0).standard_normal((5, 3)) * 3
    index = np.array([0, 2, 2, 4])
    tangent = np.random.default_rng(1).standard_normal((5, 3))
    _, ours = minigrad.func.jvp(lambda w: F.embedding(minigrad.tensor(index), w, max_norm=1.0),
                                (minigrad.tensor(weight),), (minigrad.tensor(tangent),))
    _, theirs = t.func.jvp(lambda w: t.nn.functional.embedding(t.tensor(index), w, max_norm=1.0),
                           (t.tensor(weight),), (t.tensor(tangent),))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(ours.numpy(), tangent[index])
    w = minigrad.tensor(weight, requires_grad=True)
    loss = (w ** 2).sum() + F.embedding(minigrad.tensor(index), w, max_norm=1.0).sum()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    w = minigrad.tensor(weight, requires_grad=True)
    loss = (w.clone() ** 2).sum() + F.embedding(minigrad.tensor(index), w, max_norm=1.0).sum()
    loss.backward()  # PyTorch's documented workaround


def test_scale_grad_by_freq_gradient():
    """Row i's gradient is the sum of its positions' gradients over its count; padding_idx gets none."""
    w = minigrad.zeros(4, 2, requires_grad=True)
    index = minigrad.tensor([[1, 1, 1], [2, 0, 0]])
    F.embedding(index, w, padding_idx=0, scale_grad_by_freq=True).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[0, 0], [1, 1], [1, 1], [0, 0]])
    w.grad = None
    F.embedding(index, w, scale_grad_by_freq=True).backward(minigrad.tensor([[[1.0, 2]] * 3, [[4, 4], [2, 1], [0, 3]]]))
    np.testing.assert_array_equal(w.grad.numpy(), [[1, 2], [1, 2], [4, 4], [0, 0]])


def test_scale_grad_by_freq_user_hook_sees_unscaled_gradient():
    seen = []
    w = minigrad.ones(3, 2, requires_grad=True)
    out = F.embedding(minigrad.tensor([1, 1]), w, scale_grad_by_freq=True)
    out.register_hook(lambda g: seen.append(g.numpy().copy()))
    out.sum().backward()
    np.testing.assert_array_equal(seen[0], np.ones((2, 2)))
    np.testing.assert_array_equal(w.grad.numpy(), [[0, 0], [1, 1], [0, 0]])


def test_scale_grad_by_freq_double_backward():
    """The scaled gradient is built from Tensor ops, so it is differentiable (create_graph), and its derivative
    is that of the scaled sum. PyTorch's own double backward (embedding_dense_double_backward) leaves the
    1/count out, so the second order is compared with the scaled sum written out in PyTorch."""
    t = _torch()
    weight = np.random.default_rng(0).standard_normal((4, 3))
    index = np.array([0, 2, 2, 3, 2])
    ours = minigrad.tensor(weight, requires_grad=True)
    theirs = t.tensor(weight, requires_grad=True)
    (g_ours,) = minigrad.autograd.grad((F.embedding(minigrad.tensor(index), ours, scale_grad_by_freq=True) ** 3).sum(),
                                       ours, create_graph=True)
    (g_ours ** 2).sum().backward()
    first = t.tensor(weight, requires_grad=True)
    (g_first,) = t.autograd.grad((t.nn.functional.embedding(t.tensor(index), first, scale_grad_by_freq=True) ** 3)
                                 .sum(), first)
    counts = t.bincount(t.tensor(index), minlength=4).to(t.float64)
    g_theirs = t.zeros(4, 3, dtype=t.float64).index_add(0, t.tensor(index), 3 * theirs[index] ** 2
                                                         / counts[index].unsqueeze(1))
    (g_theirs ** 2).sum().backward()
    np.testing.assert_allclose(g_ours.detach().numpy(), g_first.numpy(), rtol=1e-12)
    np.testing.assert_allclose(g_ours.detach().numpy(), g_theirs.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


def test_scale_grad_by_freq_under_jacrev():
    """The scaling is Tensor ops, so jacrev (vmap over the cotangents) runs through it, to second order."""
    t = _torch()
    index = np.array([0, 2, 2, 3, 2])
    weight = np.random.default_rng(0).standard_normal((4, 2))

    def ours(w):
        return (F.embedding(minigrad.tensor(index), w, padding_idx=3, scale_grad_by_freq=True) ** 3).sum()

    def theirs(w):
        return (t.nn.functional.embedding(t.tensor(index), w, padding_idx=3, scale_grad_by_freq=True) ** 3).sum()

    jac = minigrad.func
    np.testing.assert_allclose(jac.jacrev(jac.jacrev(ours))(minigrad.tensor(weight)).numpy(),
                               t.func.jacrev(t.func.jacrev(theirs))(t.tensor(weight)).numpy(), rtol=1e-12)


def test_embedding_module_training_matches_pytorch():
    """nn.Embedding with max_norm, scale_grad_by_freq and padding_idx, three SGD steps from the same weights."""
    t = _torch()
    ours = nn.Embedding(6, 3, padding_idx=1, max_norm=1.5, norm_type=1.0, scale_grad_by_freq=True, dtype=minigrad.float64)
    theirs = t.nn.Embedding(6, 3, padding_idx=1, max_norm=1.5, norm_type=1.0, scale_grad_by_freq=True,
                            dtype=t.float64)
    with t.no_grad():
        theirs.weight.copy_(t.tensor(ours.weight.detach().numpy() * 3))
    with minigrad.no_grad():
        ours.weight.copy_(minigrad.tensor(theirs.weight.detach().numpy()))
    opt_ours = minigrad.optim.SGD(ours.parameters(), lr=0.5)
    opt_theirs = t.optim.SGD(theirs.parameters(), lr=0.5)
    rng = np.random.default_rng(2)
    for _ in range(3):
        index = rng.integers(0, 6, (4, 3))
        for layer, opt, lib in ((ours, opt_ours, minigrad), (theirs, opt_theirs, t)):
            opt.zero_grad()
            (layer(lib.tensor(index)) ** 2).sum().backward()
            opt.step()
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(), rtol=1e-12)
    assert repr(ours) == repr(theirs).replace("torch", "minigrad")


def test_max_norm_without_grad_and_empty_input():
    w = minigrad.tensor([[3.0, 4.0], [0.0, 2.0]])
    with minigrad.no_grad():
        F.embedding(minigrad.tensor([1]), w, max_norm=1.0)
    np.testing.assert_allclose(w.numpy(), [[3, 4], [0, 2 / (2 + 1e-7)]], rtol=1e-7)
    out = F.embedding(minigrad.zeros(0, 3, dtype=minigrad.int64), w, max_norm=0.1, scale_grad_by_freq=True)
    assert tuple(out.shape) == (0, 3, 2)
    np.testing.assert_allclose(w.numpy()[0], [3, 4])


def test_sparse_is_refused_with_a_clear_message():
    match = r"sparse=True is not supported: minigrad has no sparse tensors.*use sparse=False"
    with pytest.raises(NotImplementedError, match=match):
        F.embedding(minigrad.tensor([0]), minigrad.ones(2, 2), sparse=True)
    with pytest.raises(NotImplementedError, match="Embedding: " + match):
        nn.Embedding(4, 2, sparse=True)
    with pytest.raises(NotImplementedError, match=match):
        nn.Embedding.from_pretrained(minigrad.ones(2, 2), sparse=True)
