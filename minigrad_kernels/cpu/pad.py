"""Padding as an index map: out[..., i, j, k] = x[..., rows_d[i], rows_h[j], rows_w[k]], or `value`
where a map entry is -1. Every mode (constant, reflect, replicate, circular) is just a different map,
computed by the caller; the adjoint adds each output back to the input position it came from."""
import numpy as np
from numba import prange

from minigrad_kernels._jit import cpu_kernel


@cpu_kernel
def pad_gather(x, map_d, map_h, map_w, value):
    """x: (P, D, H, W) planes; returns (P, len(map_d), len(map_h), len(map_w))."""
    planes = x.shape[0]
    od, oh, ow = map_d.shape[0], map_h.shape[0], map_w.shape[0]
    out = np.empty((planes, od, oh, ow), dtype=x.dtype)
    for p in prange(planes):
        for i in range(od):
            for j in range(oh):
                for k in range(ow):
                    if map_d[i] < 0 or map_h[j] < 0 or map_w[k] < 0:
                        out[p, i, j, k] = value
                    else:
                        out[p, i, j, k] = x[p, map_d[i], map_h[j], map_w[k]]
    return out


@cpu_kernel
def pad_scatter_add(grad, map_d, map_h, map_w, depth, height, width):
    """The adjoint of pad_gather (with value 0): (P, depth, height, width)."""
    planes = grad.shape[0]
    od, oh, ow = map_d.shape[0], map_h.shape[0], map_w.shape[0]
    out = np.zeros((planes, depth, height, width), dtype=grad.dtype)
    for p in prange(planes):
        for i in range(od):
            for j in range(oh):
                for k in range(ow):
                    if map_d[i] >= 0 and map_h[j] >= 0 and map_w[k] >= 0:
                        out[p, map_d[i], map_h[j], map_w[k]] += grad[p, i, j, k]
    return out
