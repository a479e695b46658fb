"""Elementwise functions numpy lacks, and fused ones that save passes over memory."""
import math

import numpy as np
from numba import prange

from minigrad_kernels._jit import cpu_kernel


@cpu_kernel
def erf(x):
    """The error function of a contiguous 1-d array."""
    out = np.empty_like(x)
    for i in prange(x.shape[0]):
        out[i] = math.erf(x[i])
    return out


@cpu_kernel
def negative_abs(x):
    """-|x| for a contiguous 1-d array: the argument of sigmoid's exp, which never overflows."""
    out = np.empty_like(x)
    for i in prange(x.shape[0]):
        out[i] = -abs(x[i])
    return out


@cpu_kernel
def sigmoid_from_exp(x, e):
    """sigmoid(x) from e = exp(-|x|), in place in e: 1 / (1 + e) for x >= 0, e / (1 + e) below (no
    overflow, and full relative precision for large negative x)."""
    for i in prange(x.shape[0]):
        e[i] = (1.0 if x[i] >= 0 else e[i]) / (1 + e[i])
    return e


@cpu_kernel
def relu_backward(grad, y):
    """0 where y <= 0, else grad, for contiguous 1-d arrays of one length."""
    out = np.empty_like(grad)
    for i in prange(grad.shape[0]):
        out[i] = 0 if y[i] <= 0 else grad[i]
    return out


@cpu_kernel(fastmath=True)
def sigmoid_backward(grad, y):
    """grad * y * (1 - y) in one pass, for contiguous 1-d arrays of one length."""
    out = np.empty_like(grad)
    for i in prange(grad.shape[0]):
        out[i] = grad[i] * y[i] * (1 - y[i])
    return out
