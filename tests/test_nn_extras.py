"""nn extras (issue 14, section 3): SiLU, Mish, Hardswish, one_hot, Embedding, GroupNorm and InstanceNorm2d,
against PyTorch (float64 forward and gradients), against central differences (VJP and JVP, torch-free) and
the errors a user meets."""
import numpy as np
import pytest

import minigrad
from minigrad import nn
from minigrad.nn import functional as F
from checks import leaf


def _torch():
    return pytest.importorskip("torch")


def _rng(seed=0):
    return np.random.default_rng(seed)


def _close(ours, theirs, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(np.asarray(ours.detach().numpy()), theirs.detach().numpy(), rtol=rtol, atol=atol)


# --- activations ---------------------------------------------------------------------------------------

ACTIVATIONS = ["silu", "mish", "hardswish"]
MODULES = {"silu": "SiLU", "mish": "Mish", "hardswish": "Hardswish"}


def _activation_input(shape=(3, 7)):
    """Values spread wide (mish's softplus cut-off at 20, its tail below -20), plus hardswish's kinks."""
    x = _rng().standard_normal(shape) * 4
    x.flat[:6] = [-3.0, 3.0, 0.0, 25.0, -40.0, 21.5]
    return x


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("shape", [(3, 7), (2, 3, 4)])
def test_activations_match_pytorch(name, shape):
    t = _torch()
    x = _activation_input(shape)
    ours, theirs = leaf(x), t.tensor(x, requires_grad=True)
    out, ref = getattr(F, name)(ours), getattr(t.nn.functional, name)(theirs)
    _close(out, ref)
    g = _rng(1).standard_normal(shape)
    out.backward(minigrad.tensor(g))
    ref.backward(t.tensor(g))
    _close(ours.grad, theirs.grad)
    module_out = getattr(nn, MODULES[name])()(leaf(x))
    _close(module_out, ref)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_gradcheck(name):
    x = _rng(2).standard_normal((3, 4)) * 3
    x[np.abs(np.abs(x) - 3) < 1e-3] += 0.01  # keep hardswish's kinks out of the finite differences
    assert minigrad.autograd.gradcheck(getattr(F, name), [leaf(x)])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_in_place(name):
    x = _activation_input()
    expected = getattr(F, name)(leaf(x, requires_grad=False)).numpy()
    plain = leaf(x, requires_grad=False)
    out = getattr(nn, MODULES[name])(inplace=True)(plain)
    assert out is plain
    np.testing.assert_array_equal(plain.numpy(), expected)
    # on a non-leaf that requires grad, the gradient is the out-of-place one
    a, b = leaf(x), leaf(x)
    y = a * 1.0
    getattr(F, name)(y, inplace=True).sum().backward()
    getattr(F, name)(b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)
    assert repr(getattr(nn, MODULES[name])(inplace=True)).endswith("(inplace=True)")


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_reject_integers_and_non_tensors(name):
    with pytest.raises(RuntimeError):
        getattr(F, name)(minigrad.tensor([1, 2]))
    with pytest.raises(TypeError):
        getattr(F, name)([1.0, 2.0])


def test_mish_is_accurate_in_the_tails():
    x = np.array([-60.0, -30.0, 30.0, 60.0])
    np.testing.assert_allclose(F.mish(leaf(x, requires_grad=False)).numpy(), x * np.tanh(np.logaddexp(0, x)),
                               atol=1e-20, rtol=1e-12)


@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 20.0), (0.5, 5.0)])
def test_softplus_matches_pytorch(beta, threshold):
    t = _torch()
    x = np.concatenate([_activation_input().ravel(), [-700.0, -12.0, -9.0, 9.9, 10.1]])
    ours, theirs = leaf(x), t.tensor(x, requires_grad=True)
    out = F.softplus(ours, beta, threshold)
    ref = t.nn.functional.softplus(theirs, beta, threshold)
    _close(out, ref, rtol=1e-11, atol=1e-300)  # log(1 + u) keeps ~11 digits just above the series at -10
    out.sum().backward()
    ref.sum().backward()
    _close(ours.grad, theirs.grad, rtol=1e-11, atol=1e-300)


# --- one_hot ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("values, num_classes", [([0, 2, 1], -1), ([[0, 3], [1, 1]], 5), ([], 3), (4, 6)])
def test_one_hot_matches_pytorch(values, num_classes):
    t = _torch()
    ours = F.one_hot(minigrad.tensor(values, dtype=minigrad.int64), num_classes)
    theirs = t.nn.functional.one_hot(t.tensor(values, dtype=t.int64), num_classes)
    assert ours.dtype is minigrad.int64 and tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("values, num_classes, error", [
    ([0, -1], -1, RuntimeError), ([0, 3], 3, RuntimeError), ([], -1, RuntimeError),
])
def test_one_hot_errors(values, num_classes, error):
    with pytest.raises(error):
        F.one_hot(minigrad.tensor(values, dtype=minigrad.int64), num_classes)


def test_one_hot_rejects_non_integer_input():
    with pytest.raises(RuntimeError, match="LongTensor"):
        F.one_hot(minigrad.tensor([0.0, 1.0]))
    with pytest.raises(TypeError):
        F.one_hot([0, 1])


# --- Embedding -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("index_shape", [(5,), (2, 3)])
def test_embedding_matches_pytorch(padding_idx, index_shape):
    t = _torch()
    weight = _rng().standard_normal((6, 4))
    index = _rng(3).integers(0, 6, index_shape)
    index.flat[0] = 5  # the padding row (for -1) appears
    index.flat[-1] = 2
    ours, theirs = leaf(weight), t.tensor(weight, requires_grad=True)
    out = F.embedding(minigrad.tensor(index), ours, padding_idx)
    ref = t.nn.functional.embedding(t.tensor(index), theirs, padding_idx)
    _close(out, ref)
    g = _rng(4).standard_normal(tuple(ref.shape))
    out.backward(minigrad.tensor(g))
    ref.backward(t.tensor(g))
    _close(ours.grad, theirs.grad)


def test_embedding_module_init_and_padding():
    layer = nn.Embedding(50, 40, padding_idx=3)
    weight = layer.weight.detach().numpy()
    np.testing.assert_array_equal(weight[3], 0)
    rest = np.delete(weight, 3, axis=0)
    assert abs(rest.mean()) < 0.1 and abs(rest.std() - 1) < 0.1
    out = layer(minigrad.tensor([[3, 4], [4, 3]]))
    assert tuple(out.shape) == (2, 2, 40)
    out.sum().backward()
    np.testing.assert_array_equal(layer.weight.grad.numpy()[3], 0)
    np.testing.assert_array_equal(layer.weight.grad.numpy()[4], 2)
    assert layer.padding_idx == 3 and nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4
    assert repr(layer) == "Embedding(50, 40, padding_idx=3)"


def test_embedding_from_pretrained():
    weight = minigrad.tensor([[1.0, 2.0], [3.0, 4.0]])
    layer = nn.Embedding.from_pretrained(weight)
    assert not layer.weight.requires_grad
    np.testing.assert_array_equal(layer(minigrad.tensor([1, 0])).numpy(), [[3.0, 4.0], [1.0, 2.0]])
    assert nn.Embedding.from_pretrained(weight, freeze=False).weight.requires_grad


def test_embedding_gradcheck():
    index = minigrad.tensor([[0, 2, 2], [1, 0, 3]])
    assert minigrad.autograd.gradcheck(lambda w: F.embedding(index, w),
                                       [leaf(_rng().standard_normal((4, 3)))])


def test_embedding_errors():
    layer = nn.Embedding(4, 2)
    with pytest.raises(IndexError):
        layer(minigrad.tensor([0, 4]))
    with pytest.raises(IndexError):
        layer(minigrad.tensor([-1]))
    with pytest.raises(RuntimeError):
        layer(minigrad.tensor([0.0, 1.0]))
    with pytest.raises(TypeError):
        layer([0, 1])
    with pytest.raises(AssertionError):
        nn.Embedding(4, 2, padding_idx=4)
    with pytest.raises(NotImplementedError, match="sparse=True"):  # max_norm and the rest: test_embedding.py
        F.embedding(minigrad.tensor([0]), layer.weight, sparse=True)


# --- GroupNorm and InstanceNorm ----------------------------------------------------------------------------

def _check_norm_against_pytorch(t, layer, ref_layer, x, channels, affine):
    """Same affine weights in both, then output and every gradient (input, weight, bias) in float64."""
    layer.double(), ref_layer.double()
    if affine:
        w, b = _rng(5).standard_normal(channels), _rng(6).standard_normal(channels)
        layer.weight.data, layer.bias.data = minigrad.tensor(w), minigrad.tensor(b)
        ref_layer.weight.data, ref_layer.bias.data = t.tensor(w), t.tensor(b)
    ours, theirs = leaf(x), t.tensor(x, requires_grad=True)
    out, ref = layer(ours), ref_layer(theirs)
    assert tuple(out.shape) == x.shape
    _close(out, ref, rtol=1e-9, atol=1e-10)
    g = _rng(7).standard_normal(x.shape)
    out.backward(minigrad.tensor(g))
    ref.backward(t.tensor(g))
    _close(ours.grad, theirs.grad, rtol=1e-8, atol=1e-10)
    if affine:
        _close(layer.weight.grad, ref_layer.weight.grad, rtol=1e-8, atol=1e-10)
        _close(layer.bias.grad, ref_layer.bias.grad, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("groups, shape, affine", [(2, (3, 4, 5), True), (1, (2, 6, 3, 3), True),
                                                   (3, (2, 6, 2, 2), False), (4, (1, 4, 3, 2, 2), True)])
def test_group_norm_matches_pytorch(groups, shape, affine):
    t = _torch()
    layer, ref_layer = nn.GroupNorm(groups, shape[1], affine=affine), t.nn.GroupNorm(groups, shape[1], affine=affine)
    _check_norm_against_pytorch(t, layer, ref_layer, _rng().standard_normal(shape) * 2 + 1, shape[1], affine)


@pytest.mark.parametrize("affine, shape", [(False, (2, 3, 4, 5)), (True, (2, 3, 3, 4)), (True, (3, 4, 4))])
def test_instance_norm_matches_pytorch(affine, shape):
    t = _torch()
    channels = shape[-3]
    layer, ref_layer = nn.InstanceNorm2d(channels, affine=affine), t.nn.InstanceNorm2d(channels, affine=affine)
    _check_norm_against_pytorch(t, layer, ref_layer, _rng().standard_normal(shape) * 3 - 1, channels, affine)


def test_instance_norm_running_stats_match_pytorch():
    t = _torch()
    layer = nn.InstanceNorm2d(3, momentum=0.2, track_running_stats=True).double()
    ref_layer = t.nn.InstanceNorm2d(3, momentum=0.2, track_running_stats=True).double()
    for seed in range(2):
        x = _rng(seed).standard_normal((2, 3, 4, 3)) * (seed + 1)
        layer(leaf(x, requires_grad=False))
        ref_layer(t.tensor(x))
    _close(layer.running_mean, ref_layer.running_mean)
    _close(layer.running_var, ref_layer.running_var)
    assert layer.num_batches_tracked.item() == 2
    layer.eval(), ref_layer.eval()
    x = _rng(9).standard_normal((2, 3, 4, 3))
    _close(layer(leaf(x, requires_grad=False)), ref_layer(t.tensor(x)))


@pytest.mark.parametrize("function", [
    lambda x, w, b: F.group_norm(x, 2, w, b),
    lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
])
def test_norms_gradcheck(function):
    x = leaf(_rng().standard_normal((2, 4, 3)))
    w, b = leaf(_rng(1).standard_normal(4)), leaf(_rng(2).standard_normal(4))
    assert minigrad.autograd.gradcheck(function, [x, w, b])


def test_norm_errors():
    with pytest.raises(ValueError):
        nn.GroupNorm(3, 4)
    with pytest.raises(RuntimeError):
        F.group_norm(minigrad.randn(2, 4, 3), 3)
    with pytest.raises(RuntimeError):
        nn.GroupNorm(2, 4)(minigrad.randn(2, 6, 3))
    with pytest.raises(RuntimeError):
        F.group_norm(minigrad.tensor([[1, 2]]), 1)
    with pytest.raises(ValueError):
        nn.InstanceNorm2d(3)(minigrad.randn(2, 3))
    with pytest.raises(ValueError):
        nn.InstanceNorm2d(3, affine=True)(minigrad.randn(2, 4, 3, 3))
    with pytest.raises(ValueError):
        nn.InstanceNorm2d(3)(minigrad.randn(2, 3, 1, 1))
    with pytest.raises(TypeError):
        F.instance_norm([1.0])
