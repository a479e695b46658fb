"""Elementwise functions numpy lacks, and fused ones that save passes over memory.

float32 exp, sigmoid and relu run in one parallel pass whose inner loop LLVM vectorizes (the CPU backend
sends small arrays to numpy's exp and maximum, and small sigmoids through the kernel on one thread). This Numba has
no SVML, so math.exp in a loop is a scalar libm call: the float32 exp here is written out instead (range
reduction, a polynomial, and 2**n built from exponent bits), all in float32 arithmetic.
"""
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


# float32 exp. x = n*ln2 + r with n = round(x / ln2), |r| <= ln2/2; exp(x) = 2**n * exp(r). Module-level
# np.float32 constants keep the arithmetic float32 (a Python float literal is float64 in Numba).
_LN2 = math.log(2.0)
# ln2 with its low 12 mantissa bits cleared: n * _LN2_HI is exact for |n| < 2**12
_LN2_HI = (np.array([_LN2], np.float32).view(np.int32) & np.int32(~0xFFF)).view(np.float32)[0]
_LN2_LO = np.float32(_LN2 - float(_LN2_HI))
_LOG2E = np.float32(1.0 / _LN2)
_ROUNDER = np.float32(1.5 * 2.0 ** 23)  # (v + _ROUNDER) - _ROUNDER is v rounded to an integer, |v| < 2**22
# Beyond these, exp's float32 result is inf (above 88.73) or 0 (below -103.98) anyway; clamping keeps n
# in int32 range and both factors of 2**n normal.
_CLAMP_HI = np.float32(90.0)
_CLAMP_LO = np.float32(-110.0)
# Taylor coefficients 1/k! of exp(r), k = 2..7: the truncation error, r**8/8! < 5e-9 relative on |r| <= 0.347,
# is well under float32's half ulp (6e-8)
_C2, _C3, _C4, _C5, _C6, _C7 = (np.float32(1.0 / math.factorial(k)) for k in range(2, 8))
_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)
_EXPONENT_BIAS = np.int32(127)
_MANTISSA_BITS = np.int32(23)
_ONE_BIT = np.int32(1)
EXP_BLOCK = 2048  # elements per parallel task: the block, its output and its scratch (32 KB) stay in L1


@cpu_kernel(parallel=False, fastmath={"contract"})  # a * b + c as one FMA: faster, more accurate
def _exp_block(x, out, first_bits, second_bits, negate_abs):
    """out = exp(x) (exp(-|x|) if negate_abs) for float32 1-d blocks of one length, as numpy's float32 exp:
    inf above 88.72, denormals down to -103.97, 0 below, nan for nan. first_bits and second_bits are int32
    scratch at least as long. Two vectorizable loops: the polynomial and 2**n's exponent bits, then the
    product."""
    for i in range(x.shape[0]):
        v = x[i]
        if negate_abs:
            v = -abs(v)
        clamped = _CLAMP_HI if v > _CLAMP_HI else v
        clamped = _CLAMP_LO if clamped < _CLAMP_LO else clamped
        clamped = clamped if clamped == clamped else _ZERO  # nan: any finite n, the result is set below
        n_float = (clamped * _LOG2E + _ROUNDER) - _ROUNDER
        r = (clamped - n_float * _LN2_HI) - n_float * _LN2_LO
        p = ((((((_C7 * r + _C6) * r + _C5) * r + _C4) * r + _C3) * r + _C2) * r + _ONE) * r + _ONE
        out[i] = p if v == v else v
        # 2**n as 2**half * 2**(n - half): each factor normal, and a denormal result is rounded once
        n = np.int32(n_float)
        half = n >> _ONE_BIT
        first_bits[i] = (half + _EXPONENT_BIAS) << _MANTISSA_BITS
        second_bits[i] = (n - half + _EXPONENT_BIAS) << _MANTISSA_BITS
    first = first_bits.view(np.float32)
    second = second_bits.view(np.float32)
    for i in range(x.shape[0]):
        out[i] = out[i] * first[i] * second[i]


@cpu_kernel(parallel=False)
def _sigmoid_from_exp(x, out, first_bits, second_bits):
    """out = sigmoid(x) for float32 1-d blocks of one length, from out = exp(-|x|) (_exp_block's scratch
    free again): 1 / (1 + e) for x >= 0 and e / (1 + e) below (no overflow, full relative precision for
    large negative x, nan -> nan)."""
    # numerator and denominator in the scratch, then one division into out. np.divide, not '/' in the
    # loop: '/' checks for division by zero, which stops vectorization
    numerator = first_bits[:x.shape[0]].view(np.float32)
    denominator = second_bits[:x.shape[0]].view(np.float32)
    for i in range(x.shape[0]):
        e = out[i]
        numerator[i] = _ONE if x[i] >= _ZERO else e
        denominator[i] = _ONE + e
    np.divide(numerator, denominator, out)


@cpu_kernel
def float32_pass(x, sigmoid):
    """exp (within 2 ulp of the exact result), or sigmoid when `sigmoid` (see _sigmoid_from_exp), of a
    contiguous 1-d float32 array, in one parallel pass over blocks."""
    out = np.empty_like(x)
    n_blocks = (x.shape[0] + EXP_BLOCK - 1) // EXP_BLOCK
    for b in prange(n_blocks):
        start, stop = b * EXP_BLOCK, min((b + 1) * EXP_BLOCK, x.shape[0])
        scratch = np.empty(2 * EXP_BLOCK, np.int32)
        # constant flags: _exp_block compiles twice (0.2 s), and sigmoid runs 7% faster than with the flag
        # passed on as a variable
        if sigmoid:
            _exp_block(x[start:stop], out[start:stop], scratch[:EXP_BLOCK], scratch[EXP_BLOCK:], True)
            _sigmoid_from_exp(x[start:stop], out[start:stop], scratch[:EXP_BLOCK], scratch[EXP_BLOCK:])
        else:
            _exp_block(x[start:stop], out[start:stop], scratch[:EXP_BLOCK], scratch[EXP_BLOCK:], False)
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
