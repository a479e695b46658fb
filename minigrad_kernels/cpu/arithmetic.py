"""+, -, * on large float arrays in parallel (numpy runs them on one thread), for two operands of one
shape, or an (N, C, L) operand and a per-channel (C,) one: BatchNorm's and the bias's broadcast.

`op` picks the operation (ADD, SUBTRACT, MULTIPLY); its branch sits outside the loops, so each loop is
plain and vectorizes. `swap` computes b - a instead of a - b (a per-channel left operand).
"""
import numpy as np
from numba import prange, uint64

from minigrad_kernels._jit import cpu_kernel

ADD, SUBTRACT, MULTIPLY = 0, 1, 2
_BLOCK = 1 << 14  # elements per parallel chunk


@cpu_kernel
def same_shape(op, a, b):
    """a op b for C-contiguous 1-d arrays of one length and dtype."""
    out = np.empty_like(a)
    n = a.shape[0]
    for chunk in prange((n + _BLOCK - 1) // _BLOCK):
        start, stop = uint64(chunk * _BLOCK), uint64(min(n, (chunk + 1) * _BLOCK))
        if op == ADD:
            for i in range(start, stop):
                out[i] = a[i] + b[i]
        elif op == SUBTRACT:
            for i in range(start, stop):
                out[i] = a[i] - b[i]
        else:
            for i in range(start, stop):
                out[i] = a[i] * b[i]
    return out


@cpu_kernel
def per_channel(op, a, b, swap):
    """a[n, c, :] op b[c] for a C-contiguous (N, C, L) array a and a (C,) array b of a's dtype (b op a
    when swap). Maps of 64 values or more: a task per (n, c) row against b[c]; shorter ones: a task per
    image against b repeated along it (with 2x2 maps a task per row took 7-9x longer)."""
    n_batch, channels, length = a.shape
    if length < 64:
        return _per_image(op, a, b, swap)
    out = np.empty_like(a)
    for row in prange(n_batch * channels):
        n, c = row // channels, row % channels
        src, dst, v = a[n, c], out[n, c], b[c]
        if op == ADD:
            for i in range(uint64(length)):
                dst[i] = src[i] + v
        elif op == MULTIPLY:
            for i in range(uint64(length)):
                dst[i] = src[i] * v
        elif swap:
            for i in range(uint64(length)):
                dst[i] = v - src[i]
        else:
            for i in range(uint64(length)):
                dst[i] = src[i] - v
    return out


@cpu_kernel
def _per_image(op, a, b, swap):
    """per_channel for short maps: one pass per image against b repeated along it."""
    n_batch, channels, length = a.shape
    out = np.empty_like(a)
    size = uint64(channels * length)
    repeated = np.empty(size, dtype=a.dtype)
    for c in range(channels):  # element loops: a slice assignment here would be a parallel region each
        for i in range(length):
            repeated[c * length + i] = b[c]
    for n in prange(n_batch):
        src, dst = a[n].reshape(size), out[n].reshape(size)
        if op == ADD:
            for i in range(size):
                dst[i] = src[i] + repeated[i]
        elif op == MULTIPLY:
            for i in range(size):
                dst[i] = src[i] * repeated[i]
        elif swap:
            for i in range(size):
                dst[i] = repeated[i] - src[i]
        else:
            for i in range(size):
                dst[i] = src[i] - repeated[i]
    return out
