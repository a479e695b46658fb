"""minigrad.nn.utils' gradient clipping against torch.nn.utils: the total norm returned, the gradients after
clipping, and the edge cases (no gradients, a single tensor, a generator, non-finite norms)."""
import math
import warnings

import numpy as np
import pytest

import minigrad
from minigrad import nn


def _torch():
    return pytest.importorskip("torch")


SHAPES = [(4, 3), (3,), (2, 2, 2), ()]


def make_params(torch, scale, dtypes=None, seed=0):
    """The same parameters with the same gradients, in minigrad and in torch (the third has no gradient)."""
    rng = np.random.default_rng(seed)
    dtypes = dtypes or [np.float32] * len(SHAPES)
    ours, theirs = [], []
    for i, (shape, dtype) in enumerate(zip(SHAPES, dtypes)):
        value = rng.standard_normal(shape).astype(dtype)
        grad = (scale * rng.standard_normal(shape)).astype(dtype)
        p, q = nn.Parameter(minigrad.tensor(value)), torch.nn.Parameter(torch.tensor(value))
        if i != 2:
            p.grad, q.grad = minigrad.tensor(grad), torch.tensor(grad)
        ours.append(p)
        theirs.append(q)
    return ours, theirs


def assert_same_grads(ours, theirs, rtol=1e-6):
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
        else:
            assert p.grad.dtype == getattr(minigrad, str(q.grad.dtype).removeprefix("torch."))
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=rtol, atol=1e-7, equal_nan=True)


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, -math.inf, 0.0, "inf"])
@pytest.mark.parametrize("max_norm, scale", [(1.0, 1.0), (100, 1.0), (0.5, 1e-3)])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, scale):
    torch = _torch()
    ours, theirs = make_params(torch, scale)
    grads_before = [p.grad for p in ours]
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, minigrad.Tensor) and total.shape == () and total.dtype == minigrad.float32
    assert not total.requires_grad
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    assert_same_grads(ours, theirs)
    assert all(p.grad is g for p, g in zip(ours, grads_before))  # scaled in place


def test_clip_grad_norm_clips_to_max_norm():
    rng = np.random.default_rng(1)
    params = [nn.Parameter(minigrad.zeros(5)), nn.Parameter(minigrad.zeros(2, 3))]
    for p in params:
        p.grad = minigrad.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 10)
    before = math.sqrt(sum(float((p.grad.numpy() ** 2).sum()) for p in params))
    total = nn.utils.clip_grad_norm_(params, max_norm=2.0)
    after = math.sqrt(sum(float((p.grad.numpy() ** 2).sum()) for p in params))
    assert total.item() == pytest.approx(before, rel=1e-6)
    assert after == pytest.approx(2.0, rel=1e-5)


def test_clip_grad_norm_mixed_dtypes_match_torch():
    torch = _torch()
    ours, theirs = make_params(torch, 1.0, dtypes=[np.float32, np.float64, np.float32, np.float64])
    total = nn.utils.clip_grad_norm_(ours, 0.5)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 0.5)
    assert total.dtype == minigrad.float64 and expected.dtype == torch.float64
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    assert_same_grads(ours, theirs)


def test_clip_grad_norm_single_tensor_and_generator_match_torch():
    torch = _torch()
    ours, theirs = make_params(torch, 1.0)
    total = nn.utils.clip_grad_norm_(ours[0], 0.1)
    expected = torch.nn.utils.clip_grad_norm_(theirs[0], 0.1)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    total = nn.utils.clip_grad_norm_((p for p in ours), 0.2, norm_type=1)
    expected = torch.nn.utils.clip_grad_norm_((q for q in theirs), 0.2, norm_type=1)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    assert_same_grads(ours, theirs)


def test_clip_grad_norm_without_gradients():
    p = nn.Parameter(minigrad.ones(3))
    total = nn.utils.clip_grad_norm_([p], 1.0)
    assert total.item() == 0.0 and total.dtype == minigrad.float32 and p.grad is None
    with pytest.warns(UserWarning, match="empty generator"):
        assert nn.utils.clip_grad_norm_((q for q in []), 1.0).item() == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.utils.clip_grad_norm_([], 1.0)  # an empty list is not a spent generator: no warning


@pytest.mark.parametrize("norm_type", [2.0, 0.0, math.inf, -1.0])
def test_clip_grad_norm_of_an_empty_gradient_matches_torch(norm_type):
    torch = _torch()
    ours, theirs = make_params(torch, 1.0)
    ours.append(nn.Parameter(minigrad.zeros(0)))
    theirs.append(torch.nn.Parameter(torch.zeros(0)))
    ours[-1].grad, theirs[-1].grad = minigrad.zeros(0), torch.zeros(0)
    try:
        expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type=norm_type)
    except RuntimeError:  # no identity for the inf and negative norms
        with pytest.raises(RuntimeError, match="on an empty tensor"):
            nn.utils.clip_grad_norm_(ours, 1.0, norm_type=norm_type)
        return
    total = nn.utils.clip_grad_norm_(ours, 1.0, norm_type=norm_type)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    assert_same_grads(ours, theirs)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_clip_grad_norm_non_finite_matches_torch(bad):
    torch = _torch()
    ours, theirs = make_params(torch, 1.0)
    ours[0].grad[1, 1] = bad
    theirs[0].grad[1, 1] = bad
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    assert_same_grads(ours, theirs)  # nothing scaled before the error
    total = nn.utils.clip_grad_norm_(ours, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    np.testing.assert_equal(total.item(), expected.item())
    assert_same_grads(ours, theirs)


def test_get_total_norm_and_clip_grads_with_norm_match_torch():
    torch = _torch()
    ours, theirs = make_params(torch, 1.0)
    total = nn.utils.get_total_norm([p.grad for p in ours if p.grad is not None], norm_type=3.0)
    expected = torch.nn.utils.get_total_norm([q.grad for q in theirs if q.grad is not None], norm_type=3.0)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    nn.utils.clip_grads_with_norm_(ours, 0.25, total)
    torch.nn.utils.clip_grads_with_norm_(theirs, 0.25, expected)
    assert_same_grads(ours, theirs)


@pytest.mark.parametrize("clip_value", [0.5, 2, 1e-3])
def test_clip_grad_value_matches_torch(clip_value):
    torch = _torch()
    ours, theirs = make_params(torch, 1.0, dtypes=[np.float32, np.float64, np.float32, np.float32])
    grads_before = [p.grad for p in ours]
    assert nn.utils.clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    assert_same_grads(ours, theirs)
    assert all(p.grad is g for p, g in zip(ours, grads_before))
    nn.utils.clip_grad_value_(ours[0], clip_value / 4)
    torch.nn.utils.clip_grad_value_(theirs[0], clip_value / 4)
    assert_same_grads(ours, theirs)


def test_clipping_inside_a_training_step_records_nothing():
    net = nn.Linear(3, 2)
    loss = (net(minigrad.randn(4, 3)) ** 2).sum()
    (grad,) = minigrad.autograd.grad(loss, [net.weight], create_graph=True)
    net.weight.grad = grad
    total = nn.utils.clip_grad_norm_(net.parameters(), 1e-3)
    assert not total.requires_grad and total.grad_fn is None
    nn.utils.clip_grad_value_(net.parameters(), 1e-4)
    assert float(net.weight.grad.abs().amax()) <= 1e-4
