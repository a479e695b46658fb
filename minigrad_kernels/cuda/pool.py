"""Pooling and padding on (N, C, H, W) or (P, D, H, W) arrays, one thread per output element.
Arg-max indices are flat positions h * W + w in the input plane, as PyTorch returns them. The
adjoints that scatter (window mean, padding) add with atomics, since windows may overlap."""
import math

from numba import cuda

from minigrad_kernels.cuda.arrays import THREADS, blocks_for


@cuda.jit(device=True)
def _unravel4(i, shape):
    """The 4-d index of the i-th element (C order) of an array of `shape`."""
    return (i // (shape[3] * shape[2] * shape[1]), (i // (shape[3] * shape[2])) % shape[1],
            (i // shape[3]) % shape[2], i % shape[3])


@cuda.jit(device=True)
def _beats(v, best, have_best):
    return not have_best or (best == best and (v > best or v != v))


@cuda.jit(cache=True)
def _max_pool(x, kernel, stride, padding, dilation, values, indices):
    height, width = x.shape[2], x.shape[3]
    for i in range(cuda.grid(1), indices.size, cuda.gridsize(1)):
        n, c, y, xo = _unravel4(i, indices.shape)
        best_index = -1
        best = x[n, c, 0, 0]
        for a in range(kernel[0]):
            iy = y * stride[0] - padding[0] + a * dilation[0]
            if iy < 0 or iy >= height:
                continue
            for b in range(kernel[1]):
                ix = xo * stride[1] - padding[1] + b * dilation[1]
                if 0 <= ix < width and _beats(x[n, c, iy, ix], best, best_index >= 0):
                    best, best_index = x[n, c, iy, ix], iy * width + ix
        values[n, c, y, xo] = best if best_index >= 0 else -math.inf
        indices[n, c, y, xo] = best_index


def max_pool(x, kernel, stride, padding, dilation, values, indices):
    """Each window's max and arg-max into values and indices (N, C, oh, ow); the first maximum wins ties,
    padding never (a window wholly in it: -inf and -1)."""
    if indices.size:
        _max_pool[blocks_for(indices.size), THREADS](x, kernel, stride, padding, dilation, values, indices)


@cuda.jit(cache=True)
def _window_max_indices(x, h_start, h_end, w_start, w_end, indices):
    width = x.shape[3]
    for i in range(cuda.grid(1), indices.size, cuda.gridsize(1)):
        n, c, y, xo = _unravel4(i, indices.shape)
        best_index = -1
        best = x[n, c, h_start[y], w_start[xo]]
        for iy in range(h_start[y], h_end[y]):
            for ix in range(w_start[xo], w_end[xo]):
                if _beats(x[n, c, iy, ix], best, best_index >= 0):
                    best, best_index = x[n, c, iy, ix], iy * width + ix
        indices[n, c, y, xo] = best_index


def window_max_indices(x, h_start, h_end, w_start, w_end, indices):
    """Arg-max over windows [h_start[i], h_end[i]) x [w_start[j], w_end[j]) (all non-empty)."""
    if indices.size:
        _window_max_indices[blocks_for(indices.size), THREADS](x, h_start, h_end, w_start, w_end, indices)


@cuda.jit(cache=True)
def _window_mean(x, h_start, h_end, w_start, w_end, divisor, out, zero):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        n, c, y, xo = _unravel4(i, out.shape)
        total = zero
        for iy in range(h_start[y], h_end[y]):
            for ix in range(w_start[xo], w_end[xo]):
                total += x[n, c, iy, ix]
        out[n, c, y, xo] = total / divisor[y, xo]


def window_mean(x, h_start, h_end, w_start, w_end, divisor, out):
    if out.size:
        _window_mean[blocks_for(out.size), THREADS](x, h_start, h_end, w_start, w_end, divisor, out,
                                                    out.dtype.type(0))


@cuda.jit(cache=True)
def _window_mean_adjoint(grad, h_start, h_end, w_start, w_end, divisor, out):
    for i in range(cuda.grid(1), grad.size, cuda.gridsize(1)):
        n, c, y, xo = _unravel4(i, grad.shape)
        share = grad[n, c, y, xo] / divisor[y, xo]
        for iy in range(h_start[y], h_end[y]):
            for ix in range(w_start[xo], w_end[xo]):
                cuda.atomic.add(out, (n, c, iy, ix), share)


def window_mean_adjoint(grad, h_start, h_end, w_start, w_end, divisor, out):
    """Adds grad[i, j] / divisor[i, j] over each window of `out`, which must start zeroed."""
    if grad.size:
        _window_mean_adjoint[blocks_for(grad.size), THREADS](grad, h_start, h_end, w_start, w_end, divisor, out)


@cuda.jit(cache=True)
def _pad_gather(x, map_d, map_h, map_w, value, out):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        p, q, j, k = _unravel4(i, out.shape)
        if map_d[q] < 0 or map_h[j] < 0 or map_w[k] < 0:
            out[p, q, j, k] = value
        else:
            out[p, q, j, k] = x[p, map_d[q], map_h[j], map_w[k]]


def pad_gather(x, map_d, map_h, map_w, value, out):
    """out[p, i, j, k] = x[p, map_d[i], map_h[j], map_w[k]], or value where a map entry is -1."""
    if out.size:
        _pad_gather[blocks_for(out.size), THREADS](x, map_d, map_h, map_w, value, out)


@cuda.jit(cache=True)
def _pad_scatter_add(grad, map_d, map_h, map_w, out):
    for i in range(cuda.grid(1), grad.size, cuda.gridsize(1)):
        p, q, j, k = _unravel4(i, grad.shape)
        if map_d[q] >= 0 and map_h[j] >= 0 and map_w[k] >= 0:
            cuda.atomic.add(out, (p, map_d[q], map_h[j], map_w[k]), grad[p, q, j, k])


def pad_scatter_add(grad, map_d, map_h, map_w, out):
    """The adjoint of pad_gather (value 0), added into `out`, which must start zeroed."""
    if grad.size:
        _pad_scatter_add[blocks_for(grad.size), THREADS](grad, map_d, map_h, map_w, out)
