"""F.interpolate and nn.Upsample: values and gradients against PyTorch, the VJP and JVP against central
differences and the adjoint identity, vmap against a loop."""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import minigrad
from minigrad import nn
from minigrad.nn import functional as F
from checks import check_rules, leaf

NDIMS = {"nearest": (1, 2, 3), "nearest-exact": (1, 2, 3), "linear": (1,), "bilinear": (2,)}
SCALES = (0.3, 0.5, 0.75, 1.0, 1.3, 1.5, 2.0, 2.5, 3.0, 1 / 3)


@st.composite
def cases(draw):
    """(input shape, keyword arguments of interpolate) with every output size at least 1."""
    mode = draw(st.sampled_from(sorted(NDIMS)))
    nd = draw(st.sampled_from(NDIMS[mode]))
    spatial = tuple(draw(st.lists(st.integers(1, 6 if nd < 3 else 4), min_size=nd, max_size=nd)))
    kwargs = {"mode": mode}
    if not mode.startswith("nearest"):
        kwargs["align_corners"] = draw(st.booleans())
    if draw(st.booleans()):
        sizes = draw(st.lists(st.integers(1, 9 if nd < 3 else 5), min_size=nd, max_size=nd))
        kwargs["size"] = sizes[0] if draw(st.booleans()) else tuple(sizes)
    else:
        scales = [draw(st.sampled_from([s for s in SCALES if int(n * s) >= 1])) for n in spatial]
        kwargs["scale_factor"] = scales[0] if len(set(scales)) == 1 else tuple(scales)
        kwargs["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    batch = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    return batch + spatial, kwargs


@given(cases(), st.sampled_from([np.float32, np.float64]))
def test_values_match_pytorch(case, dtype):
    torch = pytest.importorskip("torch")
    shape, kwargs = case
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    ours = F.interpolate(minigrad.from_numpy(x), **kwargs)
    theirs = torch.nn.functional.interpolate(torch.from_numpy(x), **kwargs)
    assert ours.dtype.numpy == dtype and tuple(ours.shape) == tuple(theirs.shape)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=tol, atol=tol)


def _torch_backward_disagrees(shape, kwargs):
    """PyTorch 2.13's 1-d and 3-d nearest backward treats a kept or doubled size given by scale_factor as
    a copy or a halving, which its forward does not: its gradient is not the adjoint of its forward."""
    out = F.interpolate(minigrad.zeros(shape), **kwargs).shape[2:]
    return (kwargs["mode"] == "nearest" and len(shape) != 4 and "scale_factor" in kwargs
            and not kwargs["recompute_scale_factor"] and any(o in (n, 2 * n) for n, o in zip(shape[2:], out)))


@given(cases())
def test_gradients_match_pytorch(case):
    torch = pytest.importorskip("torch")
    shape, kwargs = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    mx, tx = leaf(x), torch.tensor(x, requires_grad=True)
    assume(not _torch_backward_disagrees(shape, kwargs))
    out, expected = F.interpolate(mx, **kwargs), torch.nn.functional.interpolate(tx, **kwargs)
    weights = rng.standard_normal(tuple(expected.shape))
    (out * minigrad.from_numpy(weights)).sum().backward()
    (expected * torch.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape, kwargs", [
    ((1, 2, 3, 4), dict(scale_factor=1.5, mode="bilinear")),
    ((1, 2, 3, 4), dict(size=(5, 2), mode="bilinear", align_corners=True)),
    ((2, 1, 5), dict(size=3, mode="linear")),
    ((1, 1, 2, 3, 2), dict(scale_factor=(2, 0.7, 1.5), mode="nearest")),
    ((1, 2, 4), dict(size=7, mode="nearest-exact")),
])
def test_rules_against_finite_differences(shape, kwargs):
    x = leaf(np.random.default_rng(2).standard_normal(shape))
    check_rules(lambda t: F.interpolate(t, **kwargs), [x])


def test_second_derivative():
    x = leaf(np.random.default_rng(3).standard_normal((1, 1, 3, 3)))
    assert minigrad.autograd.gradgradcheck(lambda t: F.interpolate(t, size=(4, 5), mode="bilinear") ** 2, [x])


def test_vmap_matches_a_loop():
    x = minigrad.from_numpy(np.random.default_rng(4).standard_normal((3, 2, 2, 4, 5)))

    def f(t):
        return F.interpolate(t, scale_factor=(1.5, 0.6), mode="bilinear", align_corners=False)

    batched = minigrad.func.vmap(f)(x)
    looped = np.stack([f(x[i]).numpy() for i in range(3)])
    np.testing.assert_allclose(batched.numpy(), looped, rtol=1e-12, atol=1e-12)


def test_upsample_layers():
    x = minigrad.arange(6.0).reshape(1, 1, 2, 3)
    np.testing.assert_array_equal(nn.UpsamplingNearest2d(scale_factor=2)(x).numpy(),
                                  np.repeat(np.repeat(x.numpy(), 2, 2), 2, 3))
    corners = nn.UpsamplingBilinear2d(size=(3, 5))(x).numpy()[0, 0]
    np.testing.assert_allclose(corners[[0, 0, -1, -1], [0, -1, 0, -1]], [0.0, 2.0, 3.0, 5.0])
    assert repr(nn.Upsample(scale_factor=2, mode="bilinear")) == "Upsample(scale_factor=2.0, mode='bilinear')"
    assert repr(nn.Upsample(size=(2, 3))) == "Upsample(size=(2, 3), mode='nearest')"
