"""Numba kernels against numpy, and the debug switch that compiles them serial and bounds-checked."""
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from minigrad_kernels import _jit
from minigrad_kernels.cpu import conv_gemm, warm_up
from minigrad_kernels.cpu.im2col import im2col
from minigrad_kernels.cpu.reduce import max_along_middle

KERNELS = pathlib.Path(conv_gemm.__file__).parent


@given(st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 5)), st.integers(0, 1000),
       st.booleans(), st.booleans())
def test_max_along_middle_matches_numpy(shape, seed, take_max, with_nan):
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 3, shape).astype(np.float64)  # small integers: many ties
    if with_nan:
        x.flat[rng.integers(0, x.size)] = np.nan
    values, indices = max_along_middle(x, take_max)
    arg = np.argmax(x, axis=1) if take_max else np.argmin(x, axis=1)  # numpy: first extreme, NaN first
    np.testing.assert_array_equal(indices, arg)
    np.testing.assert_array_equal(values, np.take_along_axis(x, arg[:, None, :], 1)[:, 0, :])


@given(st.sampled_from(["add", "subtract", "multiply"]), st.sampled_from([np.float32, np.float64]),
       st.sampled_from(["same", "channel_right", "channel_left", "transposed"]), st.integers(1, 3),
       st.integers(1, 7), st.booleans(), st.integers(0, 1000))
@example("add", np.float32, "channel_right", 2, 1, True, 0)
@example("subtract", np.float32, "channel_left", 2, 1, True, 1)
@example("subtract", np.float64, "channel_right", 3, 1, True, 2)
@example("multiply", np.float32, "channel_right", 1, 1, True, 3)
def test_parallel_arithmetic_matches_numpy(name, dtype, operands, n_batch, channels, short_maps, seed):
    """+, -, * at sizes where the CPU backend runs them in parallel (one shape, or a per-channel operand
    on either side, with long maps or short ones (under 64 values, a pass per image); a transposed operand
    takes numpy's path), bit for bit against numpy, nan and inf too."""
    from minigrad.backends.cpu import CPU_BACKEND, PARALLEL_ARITHMETIC
    rng = np.random.default_rng(seed)
    if short_maps:  # many channels of 1 to 63 values
        length = int(rng.integers(1, 64))
        channels = -(-PARALLEL_ARITHMETIC // (n_batch * length)) + int(rng.integers(0, 40))
        shape = (n_batch, channels, 1, length)
    else:
        shape = (n_batch, channels, 1, -(-PARALLEL_ARITHMETIC // (n_batch * channels)) + int(rng.integers(0, 40)))
    a = rng.standard_normal(shape).astype(dtype)
    a.flat[rng.integers(0, a.size, 3)] = [np.nan, np.inf, -np.inf]
    b = {"same": rng.standard_normal(shape), "transposed": rng.standard_normal(shape[::-1]).T}.get(
        operands, rng.standard_normal((1, channels, 1, 1))).astype(dtype)
    if operands == "channel_left":
        a, b = b, a
    np.testing.assert_array_equal(getattr(CPU_BACKEND, name)(a, b), getattr(np, name)(a, b))


@given(st.sampled_from([np.float32, np.float64]), st.sampled_from(["C", "F", "strided"]), st.booleans(),
       st.integers(4, 300), st.integers(0, 1000))
def test_parallel_matmul_matches_numpy(dtype, b_layout, a_transposed, rows, seed):
    """2-d products past PARALLEL_MATMUL (a block of rows per thread) against numpy's, for any layout of
    either operand (Linear's weight arrives transposed, its weight gradient's left operand too)."""
    from minigrad.backends.cpu import CPU_BACKEND, PARALLEL_MATMUL
    rng = np.random.default_rng(seed)
    inner = int(rng.integers(1, 300))
    columns = -(-PARALLEL_MATMUL // (rows * inner)) + int(rng.integers(0, 5))
    a = rng.standard_normal((inner, rows) if a_transposed else (rows, inner)).astype(dtype)
    a = a.T if a_transposed else a
    b = {"C": rng.standard_normal((inner, columns)), "F": rng.standard_normal((columns, inner)).T,
         "strided": rng.standard_normal((inner, 2 * columns))[:, ::2]}[b_layout].astype(dtype)
    out = CPU_BACKEND.matmul(a, b)
    assert out.dtype == dtype and out.shape == (rows, columns)
    # the rounding bound of a dot product of length n, n * eps * sum |a_i b_i|, per element: a fixed atol
    # failed where a sum of products near 20 cancelled to 0.22 (float32, 239 rows, inner 1-300)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    bound = inner * np.finfo(dtype).eps * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64))
    assert np.all(np.abs(out - exact) <= bound), np.max(np.abs(out - exact) - bound)


def _first_max(x, kernel, stride, padding, dilation, out_size):
    """max_pool's reference, window by window (all planes at once): the first max in row-major window
    order, the first nan if any, -inf and -1 for a window wholly in the padding."""
    values = np.full(x.shape[:2] + out_size, -np.inf, dtype=x.dtype)
    indices = np.full(x.shape[:2] + out_size, -1)
    for y, xo in np.ndindex(out_size):
        for a, b in np.ndindex(kernel):
            iy, ix = y * stride[0] - padding[0] + a * dilation[0], xo * stride[1] - padding[1] + b * dilation[1]
            if 0 <= iy < x.shape[2] and 0 <= ix < x.shape[3]:
                v, best, at = x[:, :, iy, ix], values[:, :, y, xo], indices[:, :, y, xo]
                take = (at < 0) | ((best == best) & ((v > best) | (v != v)))
                values[:, :, y, xo] = np.where(take, v, best)
                indices[:, :, y, xo] = np.where(take, iy * x.shape[3] + ix, at)
    return values, indices


@given(st.tuples(st.integers(1, 3), st.integers(1, 3)), st.tuples(st.integers(1, 3), st.integers(1, 3)),
       st.tuples(st.integers(0, 2), st.integers(0, 2)), st.tuples(st.integers(1, 2), st.integers(1, 2)),
       st.tuples(st.integers(1, 7), st.integers(1, 7)), st.booleans(), st.integers(0, 1000))
@example((3, 3), (2, 2), (1, 1), (1, 1), (7, 6), True, 0)  # ResNet's stem pooling, on an odd map
def test_max_pool_kernel_takes_the_first_maximum(kernel, stride, padding, dilation, size, with_nan, seed):
    """The separable max pooling kernel against a window-by-window reference: ties (small integers) and
    nans, padding (windows wholly inside it too), dilation, any stride."""
    from minigrad_kernels.cpu import pool
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, (2, 3) + size).astype(np.float32)
    if with_nan:
        x[rng.random(x.shape) < 0.15] = np.nan
    out_size = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in zip(size, kernel, stride, padding,
                                                                                     dilation))
    assume(min(out_size) >= 1)
    values, indices = pool.max_pool(x, kernel, stride, padding, dilation, out_size)
    expected_values, expected_indices = _first_max(x, kernel, stride, padding, dilation, out_size)
    np.testing.assert_array_equal(values, expected_values)
    np.testing.assert_array_equal(indices, expected_indices)


@given(st.sampled_from([np.float32, np.float64]), st.integers(1, 2), st.integers(1, 600), st.integers(2, 9),
       st.integers(2, 9), st.booleans(), st.integers(0, 1000))
@example(np.float32, 2, 600, 9, 9, True, 0)  # several parallel tasks, odd sizes (a row and a column unread)
def test_2x2_pooling_kernels_match_their_references(dtype, n_batch, channels, height, width, with_nan, seed):
    """2x2 stride-2 max pooling against the window-by-window reference, average pooling (and its adjoint)
    bit for bit against the general kernels: half-integer values (many ties, exact sums), nans first in
    their window."""
    from minigrad.backends.cpu import _pool_2x2
    from minigrad_kernels.cpu import pool
    rng = np.random.default_rng(seed)
    x = (rng.integers(-3, 4, (n_batch, channels, height, width)) / 2).astype(dtype)
    if with_nan:
        x[rng.random(x.shape) < 0.1] = np.nan
    out_size = (height // 2, width // 2)
    assert _pool_2x2(x.shape, (2, 2), (2, 2), out_size)  # the CPU backend's route to these kernels
    values, indices = pool.max_pool_2x2(x, out_size)
    expected_values, expected_indices = _first_max(x, (2, 2), (2, 2), (0, 0), (1, 1), out_size)
    np.testing.assert_array_equal(values, expected_values)
    np.testing.assert_array_equal(indices, expected_indices)
    divisor = float(rng.integers(1, 5))
    np.testing.assert_array_equal(pool.mean_pool_2x2(x, out_size, divisor),
                                  pool.strided_window_mean(x, (2, 2), (2, 2), out_size, divisor))
    grad = (rng.integers(-3, 4, values.shape) / 2).astype(dtype)
    np.testing.assert_array_equal(pool.mean_pool_2x2_adjoint(grad, divisor, height, width),
                                  pool.strided_window_mean_adjoint(grad, (2, 2), (2, 2), divisor, height, width))


def test_channel_sums_and_large_float16_arithmetic_keep_numpy_results():
    """The CPU backend's own paths for sums over all but the channels (empty batches too) and for large
    +, -, * (float16 stays with numpy: Numba's CPU target has none)."""
    from minigrad.backends.cpu import CPU_BACKEND, PARALLEL_ARITHMETIC
    rng = np.random.default_rng(0)
    for shape in [(0, 3, 2, 2), (2, 3, 0, 2), (4, 3, 5, 7), (2, 3, 1, 4, 4)]:
        x = rng.standard_normal(shape)
        axes = (0,) + tuple(range(2, len(shape)))
        for keepdims in (False, True):
            np.testing.assert_allclose(CPU_BACKEND.sum(x, axes, keepdims), np.sum(x, axes, keepdims=keepdims),
                                       rtol=1e-12, atol=1e-12)
    half = rng.standard_normal(PARALLEL_ARITHMETIC + 3).astype(np.float16)
    for name in ("add", "subtract", "multiply"):
        np.testing.assert_array_equal(getattr(CPU_BACKEND, name)(half, half), getattr(np, name)(half, half))


@given(st.sampled_from([np.float32, np.float64]), st.sampled_from([(0, 3, 2), (2, 3, 0), (3, 2, 5, 7), (2, 5, 1, 1),
                                                                  (64, 9, 3), (2, 0, 4)]),
       st.booleans(), st.booleans(), st.integers(0, 1000))
def test_per_channel_kernels_match_numpy(dtype, shape, transposed, with_y, seed):
    """channel_sums (float64 sums of x and x * y per channel) and channel_affine (x * scale + shift, plus
    y * y_scale) against numpy, on empty shapes, single values per channel and non-contiguous inputs."""
    from minigrad.backends.cpu import CPU_BACKEND
    rng = np.random.default_rng(seed)
    x, y = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    if transposed:  # the same values, strided
        x = np.ascontiguousarray(np.swapaxes(x, 0, -1)).swapaxes(0, -1)
    axes = (0,) + tuple(range(2, len(shape)))
    sums, products = CPU_BACKEND.channel_sums(x, y)
    assert sums.dtype == products.dtype == np.float64
    np.testing.assert_allclose(sums, x.astype(np.float64).sum(axes), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(products, (x.astype(np.float64) * y).sum(axes), rtol=1e-12, atol=1e-12)
    scale, shift, y_scale = (rng.standard_normal(shape[1]) for _ in range(3))
    along = (1, shape[1]) + (1,) * (len(shape) - 2)
    expected = x * scale.astype(dtype).reshape(along) + shift.astype(dtype).reshape(along)
    out = CPU_BACKEND.channel_affine(x, scale, shift, *((y, y_scale) if with_y else ()))
    if with_y:
        expected = expected + y * y_scale.astype(dtype).reshape(along)
    assert out.dtype == dtype and out.shape == x.shape
    np.testing.assert_allclose(out, expected, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=1e-6)


@st.composite
def tiled_convolutions(draw):
    """A 3-d convolution (2-d and 1-d ones are its special cases), and tile sizes that split images."""
    kernel, stride, padding, dilation, in_size, out_size = [], [], [], [], [], []
    for _ in range(3):
        k, s, d = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
        p = draw(st.integers(0, d * (k - 1)))
        size = draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 7))
        kernel.append(k), stride.append(s), padding.append(p), dilation.append(d), in_size.append(size)
        out_size.append((size + 2 * p - d * (k - 1) - 1) // s + 1)
    groups, batch = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    geometry = tuple(map(tuple, (kernel, stride, padding, dilation, out_size)))
    return (batch, c_in, c_out, groups, tuple(in_size), geometry, draw(st.integers(1, 4)),
            draw(st.integers(1, 40)), draw(st.integers(1, 3)), draw(st.integers(0, 1000)))


_STRIDE_2 = ((1, 3, 3), (1, 2, 2), (0, 1, 1), (1, 1, 1), (1, 5, 5))  # on 9x9: odd width, padding
_DILATED = ((1, 3, 3), (1, 2, 2), (0, 2, 1), (1, 2, 2), (1, 4, 3))  # on 8x8


@given(tiled_convolutions())
@example((2, 2, 3, 1, (1, 9, 9), _STRIDE_2, 1, 25, 2, 0))  # one image a tile: strided copies of one float
@example((3, 2, 2, 1, (1, 9, 9), _STRIDE_2, 2, 25, 1, 1))  # blocks of images (and a last block of one)
@example((2, 2, 2, 2, (1, 9, 9), _STRIDE_2, 1, 7, 2, 2))  # chunks: runs that start mid-row
@example((2, 2, 4, 2, (1, 8, 8), _DILATED, 3, 5, 1, 3))
@example((2, 2, 2, 1, (1, 6, 6), ((1, 3, 3), (1, 1, 1), (0, 1, 1), (1, 1, 1), (1, 6, 6)), 2, 36, 1, 4))
@example((3, 2, 260, 2, (1, 3, 3), ((1, 2, 2), (1, 1, 1), (0, 0, 0), (1, 1, 1), (1, 2, 2)), 2, 4, 2, 5))
def test_tiled_gemm_convolution_matches_unfold_and_einsum(case):
    """conv_gemm's three kernels, with any tiling (blocks of images, or chunks of one image's positions)
    and thread count, against one unfold + einsum. The examples: strided and dilated copies, whole
    output rows at a time (blocks, or one image a tile, with padding) or runs (chunks), and over 128
    outputs a group (the weight gradient summed untransposed)."""
    batch, c_in, c_out, groups, in_size, geometry, images, chunk, threads, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, c_in) + in_size)
    w = rng.standard_normal((groups, c_out // groups, c_in // groups * int(np.prod(geometry[0]))))
    grad = rng.standard_normal((batch, c_out, int(np.prod(geometry[-1]))))
    cols = np.empty((batch, w.shape[2] * groups, grad.shape[2]))
    im2col(x, *geometry, cols)
    cols = cols.reshape(batch, groups, w.shape[2], -1)
    out, bias = np.empty_like(grad), rng.standard_normal(c_out)
    conv_gemm.conv_forward(x, w, bias, *geometry, images, chunk, threads, out)
    expected = np.einsum("gok,ngkl->ngol", w, cols).reshape(out.shape)
    np.testing.assert_allclose(out, expected + bias[:, None], atol=1e-12)
    conv_gemm.conv_forward(x, w, bias[:0], *geometry, images, chunk, threads, out)
    np.testing.assert_allclose(out, expected, atol=1e-12)
    np.testing.assert_allclose(conv_gemm.conv_weight(x, grad, groups, *geometry, images, chunk, threads),
                               np.einsum("ngol,ngkl->gok", grad.reshape(batch, groups, -1, grad.shape[2]), cols),
                               atol=1e-12)
    # the adjoint identity <conv(x), grad> == <x, conv_input(grad)> checks conv_input
    grad_x = np.full_like(x, np.nan)  # every entry is written
    conv_gemm.conv_input(grad, w, *geometry, images, threads, grad_x)
    np.testing.assert_allclose(np.vdot(grad_x, x), np.vdot(grad, expected), rtol=1e-10, atol=1e-10)


def test_debug_switch_compiles_bounds_checked_kernels_in_their_own_cache(tmp_path):
    module = tmp_path / "overrun.py"
    module.write_text(textwrap.dedent("""
        from numba import prange
        from minigrad_kernels._jit import cpu_kernel

        @cpu_kernel
        def read_past_end(x):
            total = 0.0
            for i in prange(x.shape[0] + 1):
                total += x[i]
            return total
    """))
    script = ("import sys, numpy, numba; sys.path.insert(0, sys.argv[1]); import overrun; "
              "print(numba.config.CACHE_DIR); overrun.read_past_end(numpy.zeros(4))")
    env = dict(os.environ, MINIGRAD_KERNEL_DEBUG="1", NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "IndexError" in result.stderr and "out of bounds" in result.stderr
    assert result.stdout.strip().endswith("numba-debug-kernels")


def test_editing_a_module_a_kernel_imports_recompiles_the_kernel(tmp_path):
    """Numba's cache checks a kernel's own source file only; a kernel that compiles in a function of
    another module would load stale machine code after that module changed."""
    package = tmp_path / "stalepkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "kernel.py").write_text(textwrap.dedent("""
        from minigrad_kernels._jit import cpu_kernel
        from stalepkg.helper import value

        @cpu_kernel(parallel=False)
        def twice():
            return 2 * value()
    """))
    helper = "from minigrad_kernels._jit import cpu_kernel\n\n@cpu_kernel(parallel=False)\ndef value():\n    return {}\n"
    script = "import sys; sys.path.insert(0, sys.argv[1]); from stalepkg import kernel; print(kernel.twice())"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    for returned in (1, 1, 5):
        (package / "helper.py").write_text(helper.format(returned))
        result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True,
                                text=True)
        assert result.stdout.split() == [str(2 * returned)], result.stderr
    sources = {name: [pathlib.Path(p).name for p in _jit.imported_sources(str(KERNELS / f"{name}.py"),
                                                                          "minigrad_kernels")]
               for name in ("batch_conv", "elementwise", "optim")}
    assert "register_tile.py" in sources["batch_conv"] and "vector_math.py" in sources["elementwise"]
    assert "optim_steps.py" in sources["optim"]


def test_cold_cache_compiles_kernels_in_a_second_process(tmp_path):
    """On a cold cache the first kernel compiled starts the warm-up process, which compiles warm_up._AHEAD's
    kernels and then conv_pass; the first GEMM convolution (the 3x3 layer's weight gradient) asks it for
    conv_pass next and waits, compiling warm_up._WHILE_WAITING's kernels meanwhile, and loads conv_pass from
    the cache instead of compiling it. A training step that calls each of those kernels then compiles none
    of them twice, and a second process compiles nothing (they were cached under the keys its calls look
    up)."""
    script = textwrap.dedent("""
        import minigrad
        from minigrad import nn
        from minigrad_kernels.cpu import conv_gemm, lane_weight, warm_up
        net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5),
                            nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.MaxPool2d(2), nn.Flatten(),
                            nn.Linear(400, 120))
        x, y = minigrad.rand(256, 1, 28, 28), minigrad.randint(0, 120, (256,))
        for optimizer in (minigrad.optim.SGD(net.parameters(), lr=0.1), minigrad.optim.Adam(net.parameters())):
            optimizer.zero_grad()
            nn.functional.cross_entropy(net(x), y).backward()
            optimizer.step()
        for kernel in (conv_gemm.conv_pass, lane_weight.conv_weight):
            print(sum(kernel.stats.cache_hits.values()), sum(kernel.stats.cache_misses.values()))
        for module, kernel, _ in warm_up._WHILE_WAITING:
            kernel = getattr(getattr(__import__("minigrad_kernels.cpu." + module).cpu, module), kernel)
            print(module, kernel.__name__, sum(kernel.stats.cache_misses.values()))
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    env.pop("MINIGRAD_WARM_UP_CHILD", None)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert lines[0].split() == (["1", "0"] if cores > 1 else ["0", "1"])
    assert sum(map(int, lines[1].split())) == 1, lines[1]  # loaded, or compiled here once if needed earlier
    for line in lines[2:]:  # matmul_rows twice: its two signatures, at most one compile each
        module, kernel, misses = line.split()
        assert int(misses) <= (2 if kernel == "matmul_rows" else 1), line
    warm = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert warm.returncode == 0 and "compiling" not in warm.stderr, warm.stderr
    assert all(line.split()[-1] == "0" for line in warm.stdout.splitlines()), warm.stdout


def test_warm_up_compiles_the_signatures_lenet_calls(tmp_path):
    """warm_up's kernels, compiled by their signatures into a cold cache, are the ones classic and modern
    LeNet training steps call: the steps then compile none of them (a signature off by a layout or a type
    would compile a kernel nobody calls, and the step would compile its own)."""
    script = textwrap.dedent("""
        import sys
        import minigrad
        from minigrad import nn
        from minigrad_kernels.cpu import warm_up
        sys.path.insert(0, "examples")
        from train_lenet import build_model
        kernels = set(warm_up._AHEAD + warm_up._WHILE_WAITING)
        if sys.argv[1] == "compile":
            for kernel in kernels:
                warm_up.compile_kernel(*kernel)
        else:
            for model, optimizer in (("classic", minigrad.optim.SGD), ("modern", minigrad.optim.Adam)):
                net = build_model(nn, model)
                x, y = minigrad.rand(256, 1, 28, 28), minigrad.randint(0, 10, (256,))
                nn.functional.cross_entropy(net(x), y).backward()
                optimizer(net.parameters(), lr=0.1).step()
            for module, name, _ in sorted(kernels):
                kernel = getattr(getattr(__import__("minigrad_kernels.cpu." + module).cpu, module), name)
                print(module, name, sum(kernel.stats.cache_misses.values()))
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), MINIGRAD_WARM_UP_CHILD="1")  # no warm-up process
    for stage in ("compile", "step"):
        result = subprocess.run([sys.executable, "-c", script, stage], env=env, capture_output=True, text=True,
                                cwd=KERNELS.parent.parent)
        assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(set(warm_up._AHEAD + warm_up._WHILE_WAITING)), result.stdout
    assert all(line.split()[-1] == "0" for line in result.stdout.splitlines()), result.stdout


def test_batch_minor_conv_checks_its_ranges():
    """batch_conv.conv's register tiles read raw memory, so the kernel checks every task's ranges first: a
    tap offset past the input, before it (a padded tap), a weight offset past w, a short bias, tap ranges
    out of order, or an input without whole blocks of images raise IndexError; in range, it computes the
    convolution, and to_batch_minor lays the input out."""
    from minigrad_kernels.cpu import batch_conv
    rng = np.random.default_rng(0)
    lanes = 64 // 8 * batch_conv.tile(16, 8, 8)[1]  # float64, one vector of images
    x = rng.standard_normal((lanes - 3, 2, 1, 4, 4))
    xt = np.empty((2, 1, 4, 4, lanes))
    batch_conv.to_batch_minor(x, xt)
    np.testing.assert_array_equal(xt[..., :lanes - 3], x.transpose(1, 2, 3, 4, 0))
    np.testing.assert_array_equal(xt[..., lanes - 3:], 0)
    w, bias = rng.standard_normal((16, 2 * 9)), np.zeros(16)
    stride, padding = np.ones(3, dtype=np.int64), np.zeros(3, dtype=np.int64)
    x_offsets = np.tile((np.arange(3)[:, None] * 4 + np.arange(3)).reshape(-1) * lanes, 4)  # 3x3 taps, 4 positions
    w_offsets, starts = np.tile(np.arange(9), 4), np.arange(0, 37, 9)
    out = np.empty((lanes, 16, 1, 2, 2))
    batch_conv.conv(xt, x_offsets, w, w_offsets, starts, 9, 18, bias, stride, padding, 0, 0.0, out)
    windows = np.lib.stride_tricks.sliding_window_view(xt[:, 0], (3, 3), axis=(1, 2))  # (c, y, x, n, a, b)
    expected = np.einsum("ocab,cyxnab->noyx", w.reshape(16, 2, 3, 3), windows)
    np.testing.assert_allclose(out[:, :, 0], expected, atol=1e-12)
    bad = [(x_offsets + lanes, w_offsets, starts, bias, xt, padding),
           (x_offsets, w_offsets, starts, bias, xt, np.array([0, 1, 0])),
           (x_offsets, w_offsets + 1, starts, bias, xt, padding), (x_offsets, w_offsets, starts, bias[:8], xt, padding),
           (x_offsets, w_offsets, starts[::-1].copy(), bias, xt, padding),
           (x_offsets, w_offsets, starts + 1, bias, xt, padding),
           (x_offsets, w_offsets, starts, bias, xt[..., :lanes - 1], padding)]
    for x_off, w_off, start, shift, grid, pad in bad:
        with pytest.raises(IndexError, match="batch_conv.conv"):
            batch_conv.conv(np.ascontiguousarray(grid), x_off, w, w_off, start, 9, 18, shift, stride, pad, 0, 0.0, out)
