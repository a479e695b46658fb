"""Pooling kernels on (N, C, H, W) arrays (1-d pooling passes H = 1). Parallel over (n, c) planes,
so a scatter within a plane never races.

Windows are given either by kernel/stride/padding/dilation (max pooling) or by per-output
[start, end) ranges along each axis (average and adaptive pooling, precomputed by the caller).
Indices are flat positions h * W + w in the input plane, as PyTorch returns them; the values are
gathered from them by the caller (which is also the differentiable path).
"""
import numpy as np
from numba import prange, uint64

from minigrad_kernels._jit import cpu_kernel


@cpu_kernel
def max_pool(x, kernel, stride, padding, dilation, out_size):
    """(values, indices) in one pass: each window's max and the flat position h * W + w of its first max
    (a nan wins, the first one); -inf and -1 for a window wholly in the padding."""
    n_batch, channels, height, width = x.shape
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    oh, ow = out_size
    values = np.empty((n_batch, channels, oh, ow), dtype=x.dtype)
    indices = np.empty((n_batch, channels, oh, ow), dtype=np.int64)
    for nc in prange(n_batch * channels):
        n, c = nc // channels, nc % channels
        for y in range(oh):
            for xo in range(ow):
                best_index = -1
                best = -np.inf
                for a in range(kh):
                    iy = y * sh - ph + a * dh
                    if iy < 0 or iy >= height:
                        continue
                    row = x[n, c, iy]
                    for b in range(kw):
                        ix = xo * sw - pw + b * dw
                        if ix < 0 or ix >= width:
                            continue
                        v = row[ix]
                        if best_index < 0 or (best == best and (v > best or v != v)):
                            best = v
                            best_index = iy * width + ix
                values[n, c, y, xo] = best
                indices[n, c, y, xo] = best_index
    return values, indices


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
