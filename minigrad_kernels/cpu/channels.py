"""Per-channel passes over (N, C, L) arrays, C-contiguous: batch normalization's statistics and its affine
maps, one pass each where numpy takes several (and allocates a temporary for each)."""
import numpy as np
from numba import prange, uint64

from minigrad_kernels._jit import cpu_kernel


@cpu_kernel(fastmath=True)
def channel_sums(x, y):
    """(sum of x, sum of x * y) per channel, accumulated in float64 (fastmath: the sums vectorize)."""
    n_batch, channels, length = x.shape
    sums, products = np.zeros(channels), np.zeros(channels)
    for c in prange(channels):
        total, product = 0.0, 0.0
        for n in range(n_batch):
            a, b = x[n, c], y[n, c]
            for i in range(length):
                value = np.float64(a[i])
                total += value
                product += value * b[i]
        sums[c], products[c] = total, product
    return sums, products


@cpu_kernel
def channel_affine(x, scale, shift, y, y_scale, out):
    """out = x * scale + shift (+ y * y_scale when y has x's shape; an empty y adds nothing), per channel;
    the coefficients in x's dtype. Flat unsigned offsets, one image per task: a task per (image, channel)
    row, with its division and views, took 10 ns a row (0.34 ms for (64, 512, 1, 1) on two threads)."""
    n_batch, channels, length = x.shape
    both = y.size > 0
    source, other, target = x.reshape(x.size), y.reshape(y.size), out.reshape(out.size)
    size = uint64(length)
    for n in prange(n_batch):
        for c in range(channels):
            at, s, t = uint64((n * channels + c) * length), scale[c], shift[c]
            if both:
                u = y_scale[c]
                for i in range(size):
                    target[at + i] = source[at + i] * s + t + other[at + i] * u
            else:
                for i in range(size):
                    target[at + i] = source[at + i] * s + t
