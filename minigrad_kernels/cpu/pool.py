"""Pooling kernels on (N, C, H, W) arrays (1-d pooling passes H = 1). Parallel over (n, c) planes, or
blocks of output rows, each task writing only its own outputs, so a scatter never races.

Windows are given either by kernel/stride/padding/dilation (max pooling; the 2x2 stride-2 kernels take
only the output size) or by per-output [start, end) ranges along each axis (average and adaptive
pooling, precomputed by the caller).
Indices are flat positions h * W + w in the input plane, as PyTorch returns them; the values are
gathered from them by the caller (which is also the differentiable path).
"""
import math

import numpy as np
from numba import prange, uint64

from minigrad_kernels._jit import cpu_kernel


POOL_BLOCK = 4096  # input elements per parallel task of the max and 2x2 kernels


# The max pooling kernels' comparisons, with '&' and '|', not 'and' and 'or': no branches, so the loops
# that call them vectorize (a branch per tap cost ~9 ns an output on random data).

@cpu_kernel(parallel=False)
def _replaces(best, value):
    """Whether a value later in the window replaces the first max so far: larger, or the first nan."""
    return (best == best) & ((value > best) | (value != value))


@cpu_kernel(parallel=False)
def _wins(v0, i0, v1, i1):
    """Whether v1 at flat plane position i1 comes before v0 at i0 as a window's first max: larger, equal
    (two nans count as equal) at an earlier position, or a nan where v0 is not."""
    same = (v1 == v0) | ((v1 != v1) & (v0 != v0))
    return (v1 > v0) | (same & (i1 < i0)) | ((v1 != v1) & (v0 == v0))


@cpu_kernel(parallel=False)
def _row_pair(r, oh, height, width):
    """For output row r of 2x2 pooling (oh to a plane): the flat offset of the upper input row it reads,
    and that row's offset within its plane."""
    plane, y = r // oh, r % oh
    return uint64((plane * height + 2 * y) * width), uint64(2 * y * width)


@cpu_kernel
def max_pool(x, kernel, stride, padding, dilation, out_size):
    """(values, indices) in one pass: each window's max and the flat position h * W + w of its first max in
    row-major window order (a nan wins, the first one); -inf and -1 for a window wholly in the padding.
    Separable: per output row, each input column's max over the window's rows (a loop over the row that
    vectorizes), then each window's max over those columns (ties: the smaller position): 2x faster than a
    branch per tap on random data (ResNet-18's 3x3 stride-2 pooling of (64, 64, 16, 16))."""
    n_batch, channels, height, width = x.shape
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    oh, ow = out_size
    values = np.empty((n_batch, channels, oh, ow), dtype=x.dtype)
    indices = np.empty((n_batch, channels, oh, ow), dtype=np.int64)
    flat_x, flat_values, flat_indices = x.reshape(-1), values.reshape(-1), indices.reshape(-1)
    planes = n_batch * channels
    per_task = max(1, POOL_BLOCK // max(1, height * width))
    for task in prange((planes + per_task - 1) // per_task):
        best = np.empty(width, dtype=x.dtype)
        where = np.empty(width, dtype=np.int64)
        for plane in range(task * per_task, min(planes, (task + 1) * per_task)):
            origin = uint64(plane * height * width)
            for y in range(oh):
                rows = 0  # the window's rows inside the map
                for a in range(kh):
                    iy = y * sh - ph + a * dh
                    if iy < 0 or iy >= height:
                        continue
                    row, start = origin + uint64(iy * width), uint64(iy * width)
                    if rows == 0:
                        for i in range(uint64(width)):
                            best[i] = flat_x[row + i]
                            where[i] = start + i
                    else:
                        for i in range(uint64(width)):
                            s, old = flat_x[row + i], best[i]
                            lower = _replaces(old, s)
                            best[i] = s if lower else old
                            where[i] = start + i if lower else where[i]
                    rows += 1
                out = uint64((plane * oh + y) * ow)
                for xo in range(ow):
                    v0, i0 = -np.inf, -1
                    for b in range(kw):
                        ix = xo * sw - pw + b * dw
                        if rows == 0 or ix < 0 or ix >= width:
                            continue
                        v1, i1 = best[ix], where[ix]
                        if i0 < 0:
                            v0, i0 = v1, i1
                            continue
                        right = _wins(v0, i0, v1, i1)
                        v0 = v1 if right else v0
                        i0 = i1 if right else i0
                    flat_values[out + xo] = v0
                    flat_indices[out + xo] = i0
    return values, indices


@cpu_kernel
def max_pool_2x2(x, out_size):
    """max_pool's values and indices for 2x2 windows at stride 2, all inside x (no padding, dilation 1), in
    two loops that LLVM vectorizes: each column's max over a window's two rows (and where), then the max of
    each pair of those. Ties and nans go to the first in the window's row-major order, as in max_pool.
    The plane must have < 2**31 positions (int32 scratch)."""
    n_batch, channels, height, width = x.shape
    oh, ow = out_size
    used = 2 * ow  # input columns that some window reads
    values = np.empty((n_batch, channels, oh, ow), dtype=x.dtype)
    indices = np.empty((n_batch, channels, oh, ow), dtype=np.int64)
    flat_x, flat_values, flat_indices = x.reshape(-1), values.reshape(-1), indices.reshape(-1)
    rows = n_batch * channels * oh
    per_task = max(1, POOL_BLOCK // used)
    for task in prange((rows + per_task - 1) // per_task):
        first, last = task * per_task, min(rows, (task + 1) * per_task)
        best = np.empty((last - first) * used, dtype=x.dtype)
        where = np.empty((last - first) * used, dtype=np.int32)
        for r in range(first, last):
            top, origin = _row_pair(r, oh, height, width)
            bottom, below, at = top + uint64(width), origin + uint64(width), uint64((r - first) * used)
            for i in range(uint64(used)):
                s0, s1 = flat_x[top + i], flat_x[bottom + i]
                lower = _replaces(s0, s1)
                best[at + i] = s1 if lower else s0
                where[at + i] = below + i if lower else origin + i
        start = uint64(first * ow)
        for j in range(uint64((last - first) * ow)):
            v0, v1 = best[2 * j], best[2 * j + 1]
            i0, i1 = where[2 * j], where[2 * j + 1]
            right = _wins(v0, i0, v1, i1)
            flat_values[start + j] = v1 if right else v0
            flat_indices[start + j] = i1 if right else i0
    return values, indices


@cpu_kernel(parallel=False)
def power_of_two_inverse(divisor):
    """1 / divisor in its type when divisor is a power of two (x * it is x / divisor, exactly, and a
    multiplication is several times cheaper than a division: 2x2 pooling's 4), else 0."""
    zero = divisor - divisor  # in divisor's type
    return (zero + 1) / divisor if divisor > 0 and math.frexp(divisor)[0] == 0.5 else zero


@cpu_kernel
def mean_pool_2x2(x, out_size, divisor):
    """strided_window_mean for 2x2 windows at stride 2, all inside x: the float64 sums of each column's two
    rows, then of each pair of those (a loop over long runs, which vectorizes, where strided_window_mean's
    loops are a map row long), divided by divisor."""
    n_batch, channels, height, width = x.shape
    oh, ow = out_size
    used = 2 * ow
    out = np.empty((n_batch, channels, oh, ow), dtype=x.dtype)
    flat_x, flat_out = x.reshape(-1), out.reshape(-1)
    rows = n_batch * channels * oh
    per_task = max(1, POOL_BLOCK // used)
    inverse = power_of_two_inverse(divisor)
    for task in prange((rows + per_task - 1) // per_task):
        first, last = task * per_task, min(rows, (task + 1) * per_task)
        total = np.empty((last - first) * used)
        for r in range(first, last):
            top, _ = _row_pair(r, oh, height, width)
            bottom, at = top + uint64(width), uint64((r - first) * used)
            for i in range(uint64(used)):
                total[at + i] = np.float64(flat_x[top + i]) + np.float64(flat_x[bottom + i])
        start = uint64(first * ow)
        if inverse:
            for j in range(uint64((last - first) * ow)):
                flat_out[start + j] = (total[2 * j] + total[2 * j + 1]) * inverse
        else:
            for j in range(uint64((last - first) * ow)):
                flat_out[start + j] = (total[2 * j] + total[2 * j + 1]) / divisor
    return out


@cpu_kernel
def mean_pool_2x2_adjoint(grad, divisor, height, width):
    """mean_pool_2x2's adjoint: grad[i, j] / divisor on each of its window's four positions (0 on the rows
    and columns no window reads), one long loop filling a row pair's shares, then two row copies."""
    n_batch, channels, oh, ow = grad.shape
    used = 2 * ow
    if 2 * oh == height and used == width:
        out = np.empty((n_batch, channels, height, width), dtype=grad.dtype)
    else:
        out = np.zeros((n_batch, channels, height, width), dtype=grad.dtype)
    flat_grad, flat_out = grad.reshape(-1), out.reshape(-1)
    rows = n_batch * channels * oh
    per_task = max(1, POOL_BLOCK // used)
    for task in prange((rows + per_task - 1) // per_task):
        first, last = task * per_task, min(rows, (task + 1) * per_task)
        shares = np.empty((last - first) * used, dtype=grad.dtype)
        start = uint64(first * ow)
        for j in range(uint64((last - first) * ow)):
            share = flat_grad[start + j] / divisor
            shares[2 * j] = share
            shares[2 * j + 1] = share
        for r in range(first, last):
            top, _ = _row_pair(r, oh, height, width)
            bottom, at = top + uint64(width), uint64((r - first) * used)
            for i in range(uint64(used)):
                flat_out[top + i] = shares[at + i]
                flat_out[bottom + i] = shares[at + i]
    return out


@cpu_kernel
def window_max_indices(x, h_start, h_end, w_start, w_end):
    """Arg-max over windows [h_start[i], h_end[i]) x [w_start[j], w_end[j])."""
    n_batch, channels, height, width = x.shape
    oh, ow = h_start.shape[0], w_start.shape[0]
    indices = np.empty((n_batch, channels, oh, ow), dtype=np.int64)
    for nc in prange(n_batch * channels):
        n, c = nc // channels, nc % channels
        for y in range(oh):
            for xo in range(ow):
                best_index = h_start[y] * width + w_start[xo]
                best = x[n, c, h_start[y], w_start[xo]]
                for iy in range(h_start[y], h_end[y]):
                    for ix in range(w_start[xo], w_end[xo]):
                        v = x[n, c, iy, ix]
                        if best == best and (v > best or v != v):
                            best = v
                            best_index = iy * width + ix
                indices[n, c, y, xo] = best_index
    return indices


@cpu_kernel
def window_mean(x, h_start, h_end, w_start, w_end, divisor):
    """Sum over each window divided by divisor[i, j]."""
    n_batch, channels = x.shape[0], x.shape[1]
    oh, ow = h_start.shape[0], w_start.shape[0]
    out = np.empty((n_batch, channels, oh, ow), dtype=x.dtype)
    for nc in prange(n_batch * channels):
        n, c = nc // channels, nc % channels
        for y in range(oh):
            for xo in range(ow):
                total = 0.0
                for iy in range(h_start[y], h_end[y]):
                    for ix in range(w_start[xo], w_end[xo]):
                        total += x[n, c, iy, ix]
                out[n, c, y, xo] = total / divisor[y, xo]
    return out


@cpu_kernel
def window_mean_adjoint(grad, h_start, h_end, w_start, w_end, divisor, height, width):
    """The adjoint of window_mean: spreads grad[i, j] / divisor[i, j] over each window."""
    n_batch, channels, oh, ow = grad.shape
    out = np.zeros((n_batch, channels, height, width), dtype=grad.dtype)
    for nc in prange(n_batch * channels):
        n, c = nc // channels, nc % channels
        for y in range(oh):
            for xo in range(ow):
                share = grad[n, c, y, xo] / divisor[y, xo]
                for iy in range(h_start[y], h_end[y]):
                    for ix in range(w_start[xo], w_end[xo]):
                        out[n, c, iy, ix] += share
    return out


@cpu_kernel
def strided_window_mean(x, kernel, stride, out_size, divisor):
    """window_mean for windows of one size at a fixed stride, all inside x, with one divisor (the usual
    pooling): the same sums in the same order, with the output column innermost so that it vectorizes."""
    n_batch, channels = x.shape[0], x.shape[1]
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_size
    out = np.empty((n_batch, channels, oh, ow), dtype=x.dtype)
    for nc in prange(n_batch * channels):
        n, c = nc // channels, nc % channels
        total = np.empty(ow)  # float64 sums, as window_mean's
        for y in range(oh):
            for xo in range(ow):
                total[xo] = 0.0
            for a in range(kh):
                src = x[n, c, y * sh + a]
                for b in range(kw):
                    for xo in range(uint64(ow)):
                        total[xo] += src[xo * uint64(sw) + uint64(b)]
            row = out[n, c, y]
            for xo in range(ow):
                row[xo] = total[xo] / divisor
    return out


@cpu_kernel
def strided_window_mean_adjoint(grad, kernel, stride, divisor, height, width):
    """strided_window_mean's adjoint: spreads grad[i, j] / divisor over each window."""
    n_batch, channels, oh, ow = grad.shape
    (kh, kw), (sh, sw) = kernel, stride
    out = np.zeros((n_batch, channels, height, width), dtype=grad.dtype)
    for nc in prange(n_batch * channels):
        n, c = nc // channels, nc % channels
        for y in range(oh):
            row = grad[n, c, y]
            for a in range(kh):
                dst = out[n, c, y * sh + a]
                for b in range(kw):
                    for xo in range(uint64(ow)):
                        dst[xo * uint64(sw) + uint64(b)] += row[xo] / divisor
    return out


@cpu_kernel
def gather_rows(x, indices):
    """out[r, j] = x[r, indices[r, j]] for 2-d arrays."""
    rows, count = indices.shape
    out = np.empty((rows, count), dtype=x.dtype)
    for r in prange(rows):
        for j in range(count):
            out[r, j] = x[r, indices[r, j]]
    return out


@cpu_kernel
def scatter_add_rows(values, indices, width):
    """out[r, indices[r, j]] += values[r, j], out of shape (rows, width): gather_rows' adjoint."""
    rows, count = indices.shape
    out = np.zeros((rows, width), dtype=values.dtype)
    for r in prange(rows):
        for j in range(count):
            out[r, indices[r, j]] += values[r, j]
    return out
