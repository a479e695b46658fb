"""The one-pass float32 exp, sigmoid and relu of minigrad_kernels.cpu.elementwise against float64 numpy
(and PyTorch where installed): exp within 2 ulp with exact specials, sigmoid within rtol 3e-7, relu exact.
Sizes straddle the CPU backend's serial/parallel crossover (its _run) and the kernels' block boundaries."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigrad.backends.cpu import CPU_BACKEND, SERIAL_WORK
from minigrad_kernels.cpu import elementwise

BLOCK = elementwise.EXP_BLOCK
SMALL = SERIAL_WORK
DENORMAL_SPACING = 2.0 ** -149
SPECIALS = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 88.72283, 88.72284, -87.33655, -103.97207,
                     -103.973, -104.0, 1e-45, -1e-45, 3e38, -3e38, 20.0, -20.0], dtype=np.float32)
SIZES = [0, 1, 15, 16, 17, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 5, SMALL - 1, SMALL, SMALL + 1,
         SMALL + BLOCK + 3, 5 * SMALL + 1]


def reference_exp(x):
    """exp of x in float64, quietly (inf and 0 without warnings)."""
    with np.errstate(all="ignore"):
        return np.exp(x.astype(np.float64))


def reference_sigmoid(x):
    """float64 sigmoid, stable for either sign."""
    x = x.astype(np.float64)
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def assert_exp_close(actual, x):
    """Within 2 ulp of float64 exp rounded to float32 where that is normal, within 1.5 denormal spacings
    below, and exactly the same inf, 0 and nan."""
    assert actual.dtype == np.float32 and actual.shape == x.shape
    exact64 = reference_exp(x)
    with np.errstate(over="ignore"):
        expected = exact64.astype(np.float32)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(actual), np.isinf(expected))
    np.testing.assert_array_equal(actual == 0, expected == 0)
    normal = np.isfinite(expected) & (expected >= np.finfo(np.float32).tiny)
    ulps = np.abs(actual[normal].view(np.int32).astype(np.int64) - expected[normal].view(np.int32))
    assert ulps.size == 0 or ulps.max() <= 2, f"{ulps.max()} ulp at x = {x[normal][ulps.argmax()]!r}"
    tiny = (expected < np.finfo(np.float32).tiny) & (expected > 0)
    np.testing.assert_array_less(np.abs(actual[tiny] - exact64[tiny]), 1.5 * DENORMAL_SPACING)


def assert_sigmoid_close(actual, x):
    assert actual.dtype == np.float32 and actual.shape == x.shape
    expected = reference_sigmoid(x)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_allclose(actual, expected, rtol=3e-7, atol=2 * DENORMAL_SPACING)


def assert_relu_exact(actual, x):
    expected = np.maximum(x, 0)
    assert actual.dtype == x.dtype and actual.shape == x.shape
    np.testing.assert_array_equal(actual, expected)  # nan where nan
    np.testing.assert_array_equal(np.signbit(actual), np.signbit(expected))  # -0.0 -> 0.0, as numpy


@st.composite
def float32_inputs(draw):
    """A float32 array: a size near a boundary, a shape holding it, random values on a drawn scale with
    drawn values (specials among them) at drawn places, and a layout (C, transposed, or strided)."""
    size = draw(st.sampled_from(SIZES))
    layout = draw(st.sampled_from(["C", "transposed", "strided"]))
    if layout == "strided":
        size = max(size // 2, 1)
    split = draw(st.sampled_from([1, 2, 3, 4, 6]))
    shape = (split, size // split) if size % split == 0 and size else (size,)
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    scale = draw(st.sampled_from([1.0, 10.0, 60.0, 120.0]))
    x = (rng.standard_normal(size) * scale).astype(np.float32)
    if size:
        drawn = draw(st.lists(st.one_of(st.sampled_from(list(SPECIALS)), st.floats(width=32)), max_size=20))
        x[rng.integers(0, size, len(drawn))] = np.array(drawn, dtype=np.float32)
    x = x.reshape(shape)
    if layout == "transposed":
        x = np.ascontiguousarray(x.T).T
    elif layout == "strided":
        x = np.repeat(x, 2, axis=-1)[..., ::2]
    return x


@given(float32_inputs())
def test_exp_float32_within_2_ulp(x):
    assert_exp_close(CPU_BACKEND.exp(x), x)


@given(float32_inputs())
def test_sigmoid_float32_matches_float64(x):
    assert_sigmoid_close(CPU_BACKEND.sigmoid(x), x)


@given(float32_inputs())
def test_relu_float32_exact(x):
    assert_relu_exact(CPU_BACKEND.relu(x), x)


def test_exp_kernel_sweeps_the_whole_range():
    """Every float32 result range, normal and denormal, on a dense grid and around 0."""
    grid = np.linspace(-110.0, 95.0, 1_000_003, dtype=np.float32)
    near_zero = np.geomspace(1e-45, 1e-3, 20_001, dtype=np.float32)
    x = np.concatenate([grid, near_zero, -near_zero, SPECIALS])
    assert_exp_close(elementwise.float32_pass(x, False), x)


def test_exp_specials_exact():
    """inf, -inf, nan, +-0, the overflow boundary, and the last denormal and first zero, as numpy."""
    x = SPECIALS
    with np.errstate(all="ignore"):
        expected = np.exp(x)
    actual = CPU_BACKEND.exp(x)
    special = ~np.isfinite(expected) | (expected == 0) | (expected == 1) | (expected < 1e-44)
    np.testing.assert_array_equal(actual[special], expected[special])
    assert np.isfinite(elementwise.float32_pass(np.float32([88.72283]), False))[0]
    assert np.isinf(elementwise.float32_pass(np.float32([88.72284]), False))[0]


def test_sigmoid_specials():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -100.0, -103.0, -110.0, 100.0, 17.0], np.float32)
    y = CPU_BACKEND.sigmoid(x)
    assert np.isnan(y[0]) and y[1] == 1 and y[2] == 0 and y[3] == 0.5 and y[4] == 0.5
    assert 0 < y[5] < 1e-43 and 0 < y[6] < 1e-44 and y[7] == 0 and y[8] == 1
    assert_sigmoid_close(y, x)


@pytest.mark.parametrize("size", [5, SMALL + 7])
def test_other_dtypes_keep_numpy_results(size):
    """float64 exp is numpy's, float64 sigmoid as accurate as numpy's exp, relu exact for float64, float16
    and int32; shapes and dtypes kept."""
    rng = np.random.default_rng(size)
    x64 = rng.standard_normal((size,)) * 30
    np.testing.assert_array_equal(elementwise.exp(x64), np.exp(x64))
    np.testing.assert_allclose(elementwise.sigmoid(x64), reference_sigmoid(x64), rtol=1e-15, atol=0)
    for x in (x64, x64.astype(np.float16), x64.astype(np.int32), x64[::-2]):
        assert_relu_exact(elementwise.relu(x), x)
    x16 = x64.astype(np.float16)
    for function in (elementwise.exp, elementwise.sigmoid):
        assert function(x16).dtype == np.float16
    assert elementwise.sigmoid(x16.reshape(1, -1)).shape == (1, size)


def test_zero_dim_arrays():
    x = np.array(-2.5, np.float32)
    assert elementwise.exp(x).shape == () and elementwise.sigmoid(x).shape == ()
    assert elementwise.relu(x).shape == () and elementwise.relu(x) == 0


@pytest.mark.torch
@given(float32_inputs())
def test_against_torch(x):
    """PyTorch's vectorized exp and sigmoid may flush denormal results to 0: atol is float32's smallest
    normal."""
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(np.ascontiguousarray(x))
    tiny = np.finfo(np.float32).tiny
    np.testing.assert_allclose(elementwise.exp(x), torch.exp(t).numpy(), rtol=3e-7, atol=tiny)
    np.testing.assert_allclose(elementwise.sigmoid(x), torch.sigmoid(t).numpy(), rtol=3e-7, atol=tiny)
    np.testing.assert_array_equal(elementwise.relu(x), torch.relu(t).numpy())
