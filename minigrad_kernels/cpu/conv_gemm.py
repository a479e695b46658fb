"""Convolution as im2col + GEMM, tiled so that every thread runs its own GEMMs on its own columns.

The GEMM's long dimension is the flattened (image, output position) index q in [0, N * L). Each tile of
q gets its columns built into a per-thread buffer small enough to stay in cache, then one BLAS call per
group (BLAS itself runs on one thread: see backends/cpu.py). So both cores work in every phase, the
column matrix of the whole batch never exists, and a small image batches several images per GEMM.
Geometry arguments are (depth, height, width) triples; 2-d inputs are passed as (N, C, 1, H, W).
Weights are (G, C_out / G, C_in / G * K) and gradients (N, C_out, L), with K = kd * kh * kw. Inner
loops index with unsigned ints, so that Numba emits no negative-index wraparound and LLVM vectorizes them
(measured 2-4x faster).
"""
import numpy as np
from numba import prange, uint64

from minigrad_kernels._jit import cpu_kernel


@cpu_kernel(parallel=False)
def _row_runs(q0, q1, out_size, runs):
    """Splits [q0, q1) into runs along output rows: runs[r] = (n, z, y, first column, length); returns
    the count. Computed once per tile, so the column loops below do no integer division."""
    od, oh, ow = out_size
    plane, volume = oh * ow, od * oh * ow
    q, count = q0, 0
    while q < q1:
        n, pos = q // volume, q % volume
        xo = pos % ow
        run = min(ow - xo, q1 - q)
        runs[count, 0], runs[count, 1], runs[count, 2] = n, pos // plane, (pos % plane) // ow
        runs[count, 3], runs[count, 4] = xo, run
        count += 1
        q += run
    return count


@cpu_kernel(parallel=False)
def _columns(x, runs, count, kernel, stride, padding, dilation, out_size, cols):
    """cols[c * K + k, j]: the input that tap k of channel c sees at the tile's j-th output position."""
    channels, depth, height, width = x.shape[1], x.shape[2], x.shape[3], x.shape[4]
    kd, kh, kw = kernel
    sd, sh, sw = stride
    pd, ph, pw = padding
    dd, dh, dw = dilation
    ow = out_size[2]
    for c in range(channels):
        for a in range(kd):
            for b in range(kh):
                for e in range(kw):
                    row = cols[((c * kd + a) * kh + b) * kw + e]
                    # output columns [lo, hi) read inside the image: xo * sw + shift in [0, width)
                    shift = e * dw - pw
                    lo = min(max(0, (-shift + sw - 1) // sw), ow)
                    hi = max(min(ow, (width - 1 - shift) // sw + 1), lo)
                    j = 0
                    for r in range(count):
                        n, z, y, xo, run = runs[r, 0], runs[r, 1], runs[r, 2], runs[r, 3], runs[r, 4]
                        iz, iy = z * sd - pd + a * dd, y * sh - ph + b * dh
                        end = j + run
                        if iz < 0 or iz >= depth or iy < 0 or iy >= height:
                            first = last = xo + run
                        else:
                            first, last = max(xo, lo), min(xo + run, hi)
                            last = max(first, last)
                        # zeros, then the input row's [first, last) read with stride sw, then zeros
                        for i in range(uint64(j), uint64(j + first - xo)):
                            row[i] = 0.0
                        if last > first:
                            src = x[n, c, iz, iy]
                            dst, start = uint64(j + first - xo), uint64(first * sw + shift)
                            for i in range(uint64(last - first)):
                                row[dst + i] = src[start + i * uint64(sw)]
                        for i in range(uint64(j + last - xo), uint64(end)):
                            row[i] = 0.0
                        j = end


@cpu_kernel(parallel=False)
def _add_columns(cols, runs, count, kernel, stride, padding, dilation, out_size, x):
    """_columns' adjoint: x[n, c, ...] += every column entry that was read from it."""
    channels, depth, height, width = x.shape[1], x.shape[2], x.shape[3], x.shape[4]
    kd, kh, kw = kernel
    sd, sh, sw = stride
    pd, ph, pw = padding
    dd, dh, dw = dilation
    ow = out_size[2]
    for c in range(channels):
        for a in range(kd):
            for b in range(kh):
                for e in range(kw):
                    row = cols[((c * kd + a) * kh + b) * kw + e]
                    shift = e * dw - pw
                    lo = min(max(0, (-shift + sw - 1) // sw), ow)
                    hi = max(min(ow, (width - 1 - shift) // sw + 1), lo)
                    j = 0
                    for r in range(count):
                        n, z, y, xo, run = runs[r, 0], runs[r, 1], runs[r, 2], runs[r, 3], runs[r, 4]
                        iz, iy = z * sd - pd + a * dd, y * sh - ph + b * dh
                        first, last = max(xo, lo), min(xo + run, hi)
                        if 0 <= iz < depth and 0 <= iy < height and last > first:
                            dst = x[n, c, iz, iy]
                            src, start = uint64(j + first - xo), uint64(first * sw + shift)
                            for i in range(uint64(last - first)):
                                dst[start + i * uint64(sw)] += row[src + i]
                        j += run


@cpu_kernel(parallel=False)
def _scatter_tile(prod, q0, q1, volume, first, out):
    """out[n, first + o, pos] = prod[o, q - q0] for q = n * volume + pos in [q0, q1)."""
    q = q0
    while q < q1:
        n, pos = q // volume, q % volume
        run = min(volume - pos, q1 - q)
        for o in range(prod.shape[0]):
            out[n, first + o, pos:pos + run] = prod[o, q - q0:q - q0 + run]
        q += run


@cpu_kernel(parallel=False)
def _gather_tile(grad, q0, q1, volume, first, dst):
    """dst[o, q - q0] = grad[n, first + o, pos]: _scatter_tile's inverse."""
    q = q0
    while q < q1:
        n, pos = q // volume, q % volume
        run = min(volume - pos, q1 - q)
        for o in range(dst.shape[0]):
            dst[o, q - q0:q - q0 + run] = grad[n, first + o, pos:pos + run]
        q += run


@cpu_kernel
def conv_forward(x, w, kernel, stride, padding, dilation, out_size, tile, threads, out):
    """out (N, C_out, L) = the cross-correlation of x with w, one tile of output positions at a time."""
    groups, per_group, taps = w.shape
    volume = out_size[0] * out_size[1] * out_size[2]
    total = x.shape[0] * volume
    n_tiles = (total + tile - 1) // tile
    for t in prange(threads):
        col_space = np.empty(groups * taps * tile, dtype=x.dtype)
        prod_space = np.empty(per_group * tile, dtype=x.dtype)
        runs = np.empty((tile + 1, 5), dtype=np.int64)
        for i in range(t, n_tiles, threads):
            q0, q1 = i * tile, min(i * tile + tile, total)
            cols = col_space[:groups * taps * (q1 - q0)].reshape((groups, taps, q1 - q0))
            prod = prod_space[:per_group * (q1 - q0)].reshape((per_group, q1 - q0))
            count = _row_runs(q0, q1, out_size, runs)
            _columns(x, runs, count, kernel, stride, padding, dilation, out_size,
                     cols.reshape((groups * taps, q1 - q0)))
            for g in range(groups):
                np.dot(w[g], cols[g], prod)
                _scatter_tile(prod, q0, q1, volume, g * per_group, out)


@cpu_kernel
def conv_weight(x, grad, groups, kernel, stride, padding, dilation, out_size, tile, threads):
    """The gradient in w, (G, C_out / G, C_in / G * K): per thread, the sum over its tiles of the
    gradient's tile times the tile's columns transposed; then the threads' partial sums added."""
    per_group = grad.shape[1] // groups
    taps = x.shape[1] // groups * kernel[0] * kernel[1] * kernel[2]
    volume = out_size[0] * out_size[1] * out_size[2]
    total = x.shape[0] * volume
    n_tiles = (total + tile - 1) // tile
    partial = np.zeros((threads, groups, per_group, taps), dtype=x.dtype)
    for t in prange(threads):
        col_space = np.empty(groups * taps * tile, dtype=x.dtype)
        grad_space = np.empty(per_group * tile, dtype=x.dtype)
        runs = np.empty((tile + 1, 5), dtype=np.int64)
        for i in range(t, n_tiles, threads):
            q0, q1 = i * tile, min(i * tile + tile, total)
            cols = col_space[:groups * taps * (q1 - q0)].reshape((groups, taps, q1 - q0))
            tile_grad = grad_space[:per_group * (q1 - q0)].reshape((per_group, q1 - q0))
            count = _row_runs(q0, q1, out_size, runs)
            _columns(x, runs, count, kernel, stride, padding, dilation, out_size,
                     cols.reshape((groups * taps, q1 - q0)))
            for g in range(groups):
                _gather_tile(grad, q0, q1, volume, g * per_group, tile_grad)
                partial[t, g] += np.dot(tile_grad, cols[g].T)
    return partial.sum(axis=0)


@cpu_kernel
def conv_input(grad, w, kernel, stride, padding, dilation, out_size, images, threads, grad_x):
    """grad_x (N, C_in, D, H, W), zeroed, += the adjoint of conv_forward in x: per block of whole images
    (so that no two threads add into one image), w transposed times the gradient, then col2im."""
    groups, per_group, taps = w.shape
    volume = out_size[0] * out_size[1] * out_size[2]
    n_batch = grad.shape[0]
    n_blocks = (n_batch + images - 1) // images
    for t in prange(threads):
        col_space = np.empty(groups * taps * images * volume, dtype=grad.dtype)
        grad_space = np.empty(per_group * images * volume, dtype=grad.dtype)
        runs = np.empty((images * volume + 1, 5), dtype=np.int64)
        for i in range(t, n_blocks, threads):
            q0, q1 = i * images * volume, min(i * images + images, n_batch) * volume
            cols = col_space[:groups * taps * (q1 - q0)].reshape((groups, taps, q1 - q0))
            tile_grad = grad_space[:per_group * (q1 - q0)].reshape((per_group, q1 - q0))
            for g in range(groups):
                _gather_tile(grad, q0, q1, volume, g * per_group, tile_grad)
                np.dot(w[g].T, tile_grad, cols[g])
            count = _row_runs(q0, q1, out_size, runs)
            _add_columns(cols.reshape((groups * taps, q1 - q0)), runs, count, kernel, stride, padding, dilation,
                         out_size, grad_x)
