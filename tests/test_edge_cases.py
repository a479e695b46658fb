"""Edge cases found in review, each pinned against PyTorch's behaviour (or the value it gives)."""
import math

import numpy as np
import pytest

import minigrad
from minigrad import nn
import minigrad.nn.functional as F


def test_set_grad_enabled_as_a_context_manager_restores_the_mode():
    with minigrad.set_grad_enabled(False):
        assert not minigrad.is_grad_enabled()
    assert minigrad.is_grad_enabled()
    with minigrad.no_grad():
        with minigrad.set_grad_enabled(True):
            assert minigrad.is_grad_enabled()
        assert not minigrad.is_grad_enabled()


def test_reductions_over_dim_zero_and_empty_dim_lists():
    x = minigrad.arange(6.0).reshape(2, 3)
    assert x.amax(0).tolist() == [3, 4, 5] and x.amin(0).tolist() == [0, 1, 2]
    assert x.sum([]).item() == 15 and x.mean(()).item() == 2.5  # an empty dim list means every dim


def test_narrow_wraps_negative_starts_and_checks_bounds():
    x = minigrad.arange(5)
    assert x.narrow(0, -2, 2).tolist() == [3, 4]
    with pytest.raises(RuntimeError, match="exceeds dimension size"):
        x.narrow(0, 3, 3)


def test_bce_with_logits_gradient_at_zero_logits():
    x = minigrad.zeros(3, requires_grad=True)
    F.binary_cross_entropy_with_logits(x, minigrad.tensor([0.0, 1.0, 0.5]), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, -0.5, 0.0], atol=1e-7)


def test_using_a_view_after_its_base_changed_in_place_raises():
    x = minigrad.ones(3, requires_grad=True)
    y = x * 1
    v = y[0:2]
    y.mul_(2)
    with pytest.raises(RuntimeError, match="view is used after the tensor it views was modified in place"):
        v.sum()
    y[0:2].sum().backward()  # a view taken afterwards is fine
    assert x.grad.tolist() == [2, 2, 0]


def test_numpy_array_copies_and_asarray_shares():
    t = minigrad.tensor([1.0, 2.0])
    a = np.array(t)
    a[0] = 5
    assert t[0].item() == 1.0
    assert np.shares_memory(np.asarray(t), t.numpy())


def test_sigmoid_keeps_precision_for_large_negative_inputs():
    x = minigrad.tensor([-20.0, -10.0, 0.0, 30.0])
    np.testing.assert_allclose(x.sigmoid().numpy(), 1 / (1 + np.exp(-np.array([-20.0, -10.0, 0.0, 30.0]))),
                               rtol=1e-6)
    assert x[0:1].sigmoid().log().item() == pytest.approx(-20.0, rel=1e-6)


def test_sequential_delete_then_append_keeps_every_module():
    seq = nn.Sequential(nn.Identity(), nn.ReLU(), nn.Tanh())
    del seq[0]
    seq.append(nn.Sigmoid())
    assert [type(m).__name__ for m in seq] == ["ReLU", "Tanh", "Sigmoid"]


def test_zero_grad_without_none_keeps_the_tensor_and_clears_infinities():
    p = nn.Parameter(minigrad.ones(2))
    p.grad = minigrad.tensor([math.inf, 1.0])
    grad = p.grad
    minigrad.optim.SGD([p], lr=0.1).zero_grad(set_to_none=False)
    assert p.grad is grad and p.grad.tolist() == [0.0, 0.0]


def test_pow_gradient_at_zero_to_the_zero():
    a = minigrad.tensor([0.0, 2.0], requires_grad=True)
    b = minigrad.tensor([0.0, 3.0], requires_grad=True)
    (a ** b).sum().backward()
    assert a.grad.tolist() == [0.0, 12.0]


def test_grad_follows_the_leaf_dtype_and_is_writable():
    x = minigrad.ones(3, requires_grad=True)
    (x * 2).backward(minigrad.ones(3, dtype=minigrad.float64))
    assert x.grad.dtype is minigrad.float32
    y = minigrad.ones(3, requires_grad=True)
    y.sum().backward(create_graph=True)
    y.grad.detach().zero_()


def test_retain_grad_twice_does_not_double_the_gradient():
    x = minigrad.ones(2, requires_grad=True)
    y = x * 1
    y.retain_grad()
    y.retain_grad()
    y.sum().backward()
    assert y.grad.tolist() == [1.0, 1.0]


def test_gradients_accumulate_in_place():
    x = minigrad.ones(2, requires_grad=True)
    (x * 2).sum().backward()
    first = x.grad
    (x * 3).sum().backward()
    assert x.grad is first and first.tolist() == [5.0, 5.0]


def test_empty_batches_flow_through_convolution_and_pooling():
    w = minigrad.ones(3, 2, 3, 3)
    assert F.conv2d(minigrad.zeros(0, 2, 5, 5), w).shape == (0, 3, 3, 3)
    assert F.conv2d(minigrad.zeros(0, 2, 5, 5), w, stride=2).shape == (0, 3, 2, 2)
    assert F.max_pool2d(minigrad.zeros(0, 2, 4, 4), 2).shape == (0, 2, 2, 2)
    assert F.adaptive_max_pool2d(minigrad.zeros(0, 2, 4, 4), 2).shape == (0, 2, 2, 2)


@pytest.mark.parametrize("c_in, stride", [(1, 1), (8, 1), (8, 2)])
def test_convolution_gradients_of_an_empty_batch_and_of_read_only_inputs(c_in, stride):
    """The kernels' paths (direct, tiled GEMM, strided) take an empty batch, a read-only input array and
    the read-only broadcast gradient that sum() sends back."""
    w = minigrad.ones(4, c_in, 3, 3, requires_grad=True)
    x = minigrad.zeros(0, c_in, 5, 5, requires_grad=True)
    F.conv2d(x, w, padding=1, stride=stride).sum().backward()
    assert x.grad.shape == (0, c_in, 5, 5) and w.grad.abs().sum().item() == 0
    array = np.ones((2, c_in, 5, 5), dtype=np.float32)
    array.flags.writeable = False
    x = minigrad.from_numpy(array).requires_grad_()
    F.conv2d(x, w, padding=1, stride=stride).sum().backward()
    assert x.grad.shape == (2, c_in, 5, 5) and w.grad[0, 0, 1, 1].item() == 2 * (5 if stride == 1 else 3) ** 2


def test_empty_spatial_inputs_are_rejected_before_any_kernel():
    with pytest.raises(RuntimeError, match="non-zero"):
        F.max_pool2d(minigrad.zeros(1, 1, 0, 2), 2, padding=1)
    with pytest.raises(RuntimeError, match="non-zero"):
        F.adaptive_max_pool2d(minigrad.zeros(1, 1, 0, 4), 2)
    with pytest.raises(RuntimeError, match="non-empty spatial sizes"):
        F.conv1d(minigrad.zeros(1, 1, 4), minigrad.zeros(1, 1, 0))


def test_circular_padding_crops_before_wrapping():
    torch = pytest.importorskip("torch")
    x = np.arange(4.0).reshape(1, 1, 4)
    ours = F.pad(minigrad.tensor(x), (2, -1), mode="circular")
    assert ours.tolist() == torch.nn.functional.pad(torch.tensor(x), (2, -1), mode="circular").tolist()


def test_saving_colliding_keys_raises(tmp_path):
    with pytest.raises(ValueError, match="same key 'a.b'"):
        minigrad.save({"a": {"b": minigrad.ones(1)}, "a.b": minigrad.zeros(1)}, tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="same key '0'"):
        minigrad.save({0: minigrad.ones(1), "0": minigrad.zeros(1), "n": 1}, tmp_path / "y.safetensors")


def test_comparison_with_none_and_inplace_relu():
    t = minigrad.ones(2)
    assert (t == None) is False  # noqa: E711
    x = minigrad.tensor([-1.0, 2.0])
    F.relu(x, inplace=True)
    assert x.tolist() == [0.0, 2.0]
    y = minigrad.tensor([-3.0, 1.0])
    nn.ReLU(inplace=True)(y)
    assert y.tolist() == [0.0, 1.0]


def test_integer_and_bool_arithmetic_errors():
    i = minigrad.tensor([1, 2])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):  # PyTorch's type and words
        i // minigrad.tensor([1, 0])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        i % 0
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        i ** -1
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool tensors"):
        minigrad.tensor([True]) - minigrad.tensor([False])
    assert minigrad.where(minigrad.tensor([True, False]), 1.0, 0.0).tolist() == [1.0, 0.0]


def test_argument_checks_name_the_argument():
    with pytest.raises(RuntimeError, match="expected weight of shape \\[3\\]"):
        F.nll_loss(minigrad.zeros(2, 3), minigrad.tensor([0, 1]), weight=minigrad.ones(2))
    with pytest.raises(ValueError, match="Expected input batch_size"):
        F.nll_loss(minigrad.zeros(2, 3), minigrad.tensor(1))
    with pytest.raises(RuntimeError, match="layer_norm\\(\\): expected weight of shape \\[4\\]"):
        F.layer_norm(minigrad.zeros(2, 4), 4, weight=minigrad.ones(2))
    with pytest.raises(RuntimeError, match="batch_norm\\(\\): expected running_mean of shape \\[3\\]"):
        F.batch_norm(minigrad.zeros(2, 3), minigrad.zeros(2), minigrad.ones(2))
    with pytest.raises(RuntimeError, match="split_with_sizes"):
        minigrad.arange(6).split([3, -1, 4])
    with pytest.raises(RuntimeError, match="may not contain negative sizes"):
        minigrad.zeros(1).expand(-2)


def test_zero_dim_tensor_index_is_a_view():
    x = minigrad.arange(6).reshape(2, 3)
    row = x[minigrad.tensor(1)]
    row[0] = 100
    assert x[1, 0].item() == 100


def test_reassigned_parameter_keeps_its_place():
    lazy = nn.LazyLinear(2)
    lazy(minigrad.ones(1, 3))
    assert list(lazy.state_dict()) == ["weight", "bias"]


def test_default_collate_turns_python_floats_into_float64():
    batch = minigrad.data.default_collate([(1.5, 1), (2.5, 2)])
    assert batch[0].dtype is minigrad.float64 and batch[1].dtype is minigrad.int64


def test_gradcheck_works_inside_no_grad():
    x = minigrad.tensor([0.5, 1.5], dtype=minigrad.float64, requires_grad=True)
    with minigrad.no_grad():
        assert minigrad.autograd.gradcheck(lambda t: t.exp(), [x])


def test_reductions_of_empty_tensors():
    assert minigrad.zeros(2, 0).amax(0).shape == (0,)
    assert minigrad.zeros(0, 3).softmax(0).shape == (0, 3)
    assert minigrad.zeros(2, 0).logsumexp(1).tolist() == [-math.inf, -math.inf]
    with pytest.raises(IndexError, match="Expected reduction dim 0 to have non-zero size"):
        minigrad.zeros(0, 3).amax(0)


def test_cat_promotes_and_rejects_zero_dim_tensors():
    out = minigrad.cat([minigrad.tensor([1, 2]), minigrad.tensor([0.5])])
    assert out.dtype is minigrad.float32 and out.tolist() == [1.0, 2.0, 0.5]
    with pytest.raises(RuntimeError, match="zero-dimensional tensor \\(at position 1\\) cannot be concatenated"):
        minigrad.cat([minigrad.ones(1), minigrad.tensor(1.0)])


def test_circular_padding_may_not_wrap_the_cropped_input_twice():
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        F.pad(minigrad.ones(1, 1, 2), (2, -1), mode="circular")


def test_detach_of_a_tensor_changed_in_place_can_require_grad():
    x = minigrad.ones(3)
    x += 1
    d = x.detach().requires_grad_()
    (d * 2).sum().backward()
    assert d.grad.tolist() == [2.0, 2.0, 2.0]
