"""Elementwise functions numpy lacks, and fused ones that save passes over memory.

float32 exp, sigmoid and relu run in one parallel pass (the CPU backend sends small arrays to numpy's exp
and maximum, and small sigmoids through the kernel on one thread): relu's loop LLVM vectorizes, exp's and
sigmoid's are written as vector code (vector_math), since this Numba has no SVML.
"""
import math

import numpy as np
from numba import prange

from minigrad_kernels._jit import cpu_kernel
from minigrad_kernels.cpu.vector_math import LANES, exp_vectors, sigmoid_vectors


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


EXP_BLOCK = 2048  # elements per parallel task, a whole number of vectors


@cpu_kernel
def float32_pass(x, sigmoid):
    """exp (within 2 ulp of the exact result), or sigmoid when `sigmoid`, of a contiguous 1-d float32
    array (see vector_math), in one parallel pass over blocks of vectors; the last partial vector through
    a scratch vector."""
    out = np.empty_like(x)
    size = x.shape[0]
    for b in prange(-(-size // EXP_BLOCK)):
        start = b * EXP_BLOCK
        count = min(EXP_BLOCK, size - start) // LANES
        if sigmoid:  # a constant flag each: one intrinsic inlined per branch
            sigmoid_vectors(x, start, 0, 0, out, start, 0, 0, count)
        else:
            exp_vectors(x, start, 0, 0, out, start, 0, 0, count)
    rest = size % LANES
    if rest:
        scratch = np.zeros(LANES, np.float32)
        scratch[:rest] = x[size - rest:]
        if sigmoid:
            sigmoid_vectors(scratch, 0, 0, 0, scratch, 0, 0, 0, 1)
        else:
            exp_vectors(scratch, 0, 0, 0, scratch, 0, 0, 0, 1)
        out[size - rest:] = scratch[:rest]
    return out


@cpu_kernel
def relu_flat(x):
    """max(x, 0) of a contiguous 1-d array as np.maximum(x, 0) gives it: nan stays nan, -0.0 becomes 0."""
    out = np.empty_like(x)
    for i in prange(x.shape[0]):
        v = x[i]
        out[i] = 0 if v <= 0 else v
    return out


# Array-level entry points for the backend: any shape in, a new array of that shape and dtype out.

def _float32_flat(x):
    """x's elements as a C-contiguous 1-d float32 array (copying a non-contiguous x), or None when x is
    not a float32 ndarray."""
    if not isinstance(x, np.ndarray) or x.dtype != np.float32:
        return None
    return np.ascontiguousarray(x).reshape(-1)


def exp(x):
    """np.exp(x), quiet (inf and 0 without warnings, as PyTorch). float32 (copied to C order first if it
    is not): one parallel pass, within 2 ulp; other dtypes: numpy's exp."""
    flat = _float32_flat(x)
    if flat is None:
        with np.errstate(all="ignore"):
            return np.exp(x)
    return float32_pass(flat, False).reshape(x.shape)


def sigmoid(x):
    """1 / (1 + exp(-x)) without overflow: 1 / (1 + e) for x >= 0, e / (1 + e) below, e = exp(-|x|).
    float32 (copied to C order first if it is not): one parallel pass; float64: numpy's exp between two
    parallel passes, as accurate as numpy; other dtypes: numpy."""
    flat = _float32_flat(x)
    if flat is not None:
        return float32_pass(flat, True).reshape(x.shape)
    if isinstance(x, np.ndarray) and x.dtype == np.float64:
        flat = np.ascontiguousarray(x).reshape(-1)
        e = negative_abs(flat)
        np.exp(e, out=e)
        return sigmoid_from_exp(flat, e).reshape(x.shape)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, e) / (1 + e)


def relu(x):
    """np.maximum(x, 0) in x's dtype (nan stays nan, -0.0 becomes 0). C-contiguous float32 and float64:
    one parallel pass; otherwise numpy."""
    if isinstance(x, np.ndarray) and x.dtype in (np.float32, np.float64) and x.flags.c_contiguous:
        return relu_flat(x.reshape(-1)).reshape(x.shape)
    return np.maximum(x, 0).astype(x.dtype, copy=False)
