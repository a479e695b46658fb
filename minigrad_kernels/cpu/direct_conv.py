"""Direct stride-1 convolution on a flattened padded grid, for small channel counts.

The input is padded (and flattened) to a grid of S = Dp * Hp * Wp positions. With stride 1, the
output at grid position p is  sum_{c, k} w[o, c, k] * x[c, p + offset[k]],  where offset[k] is the
flat distance of kernel tap k. Computing it for every p in [0, span) (span ends at the last valid
output) makes the innermost loop one long contiguous run that vectorizes; the positions that fall
in the padding columns are computed too and dropped (by conv_grid as it writes its outputs, by
the caller of the VJP). The VJP in x uses the same grid: it scatters w * g back along the same
offsets (convolution with the reflected kernel). (The VJP in w is faster as per-image GEMMs on
unfolded columns; see the CPU backend.) Grid arrays (N, C, S) must be C-contiguous; `g` must be zero
at the dropped positions. Indices are unsigned so that Numba emits no
negative-index wraparound, which would stop LLVM vectorizing the inner loops (measured: 5x slower).
"""
import numpy as np
from numba import prange, uint64

from minigrad_kernels._jit import cpu_kernel


@cpu_kernel(fastmath=True)
def conv_grid(xp, w, offsets, span, bias, grid, out):
    """out (N, C_out, D, H, W) = bias[o] (none when empty) + sum_{c, k} w[o, c, k] * xp[n, g * Cg + c,
    offsets[k] + p] at the grid positions p of the outputs: each (n, o) sums the whole span into a row
    of its own, eight taps a pass over it (one load and store of the row per eight products, not per
    one), then copies out the outputs (writing `out` directly saved a pass filling it with the bias and
    one cropping it: LeNet's first layer 1.07 -> 0.91 ms, two threads). grid = (Dp, Hp, Wp)."""
    n_batch, channels = xp.shape[0], xp.shape[1]
    c_out, c_group, taps = w.shape
    per_group = c_out // (channels // c_group)
    depth, height, width = out.shape[2], out.shape[3], out.shape[4]
    hp, wp = grid[1], grid[2]
    for job in prange(n_batch * c_out):
        n, o = job // c_out, job % c_out
        row = np.empty(span, dtype=out.dtype)
        start = bias[o] if bias.size else 0.0
        for p in range(uint64(span)):
            row[p] = start
        first = (o // per_group) * c_group
        for c in range(c_group):
            src = xp[n, first + c]
            weights = w[o, c]
            for k in range(0, taps - 7, 8):
                w0, w1, w2, w3 = weights[k], weights[k + 1], weights[k + 2], weights[k + 3]
                w4, w5, w6, w7 = weights[k + 4], weights[k + 5], weights[k + 6], weights[k + 7]
                o0, o1 = uint64(offsets[k]), uint64(offsets[k + 1])
                o2, o3 = uint64(offsets[k + 2]), uint64(offsets[k + 3])
                o4, o5 = uint64(offsets[k + 4]), uint64(offsets[k + 5])
                o6, o7 = uint64(offsets[k + 6]), uint64(offsets[k + 7])
                for p in range(uint64(span)):
                    row[p] += (w0 * src[o0 + p] + w1 * src[o1 + p] + w2 * src[o2 + p] + w3 * src[o3 + p] +
                               w4 * src[o4 + p] + w5 * src[o5 + p] + w6 * src[o6 + p] + w7 * src[o7 + p])
            for k in range(taps - taps % 8, taps):
                weight, at = weights[k], uint64(offsets[k])
                for p in range(uint64(span)):
                    row[p] += weight * src[at + p]
        for z in range(depth):
            for y in range(height):
                dst, at = out[n, o, z, y], uint64((z * hp + y) * wp)
                for q in range(uint64(width)):
                    dst[q] = row[at + q]


@cpu_kernel(fastmath=True)
def conv_grid_transpose(g, w, offsets, span, grad_x):
    """grad_x[n, ci, offsets[k] + p] += w[o, c, k] * g[n, o, p]: the adjoint of conv_grid in x."""
    n_batch, channels = grad_x.shape[0], grad_x.shape[1]
    c_out, c_group, taps = w.shape
    per_group = c_out // (channels // c_group)
    for job in prange(n_batch * channels):
        n, ci = job // channels, job % channels
        group, c = ci // c_group, ci % c_group
        dst = grad_x[n, ci]
        for o in range(group * per_group, (group + 1) * per_group):
            src = g[n, o]
            for k in range(taps):
                weight = w[o, c, k]
                start = uint64(offsets[k])
                for p in range(uint64(span)):
                    dst[start + p] += weight * src[p]


@cpu_kernel
def crop(volume, out):
    """out (N, C, D, H, W) = the block of volume (N, C, Dp, Hp, Wp) at its origin: the outputs on the grid."""
    n_batch, channels, depth, height, width = out.shape
    for job in prange(n_batch * channels):
        n, c = job // channels, job % channels
        for z in range(depth):
            for y in range(height):
                src, dst = volume[n, c, z, y], out[n, c, z, y]
                for x in range(uint64(width)):
                    dst[x] = src[x]


def grid_offsets(grid, kernel, dilation):
    """Flat offsets of every kernel tap on a (Dp, Hp, Wp) grid, in weight order."""
    _, hp, wp = grid
    kd, kh, kw = kernel
    dd, dh, dw = dilation
    a, b, e = np.meshgrid(np.arange(kd), np.arange(kh), np.arange(kw), indexing="ij")
    return ((a * dd * hp + b * dh) * wp + e * dw).reshape(-1).astype(np.int64)
