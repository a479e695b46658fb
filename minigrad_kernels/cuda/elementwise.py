"""Elementwise kernels: out (1-d, C-contiguous) from operands given as 8-d views broadcast to the
output's shape, so one kernel serves every shape, stride and broadcast. Each op is a device function;
`unary`, `binary` and `ternary` build (and cache) one grid-stride kernel per op.

The math device functions spell out their edge cases (log of 0 or less, exp overflow, sin of inf):
the simulator runs them as Python's math module, which raises where CUDA returns inf or nan.
"""
import functools
import math

from numba import cuda

from minigrad_kernels.cuda.arrays import THREADS, blocks_for, empty, flat, rank8


@cuda.jit(device=True)
def position(a, i):
    """The 8-d index of the i-th element (C order) of the 8-d array a."""
    i7 = i % a.shape[7]
    i //= a.shape[7]
    i6 = i % a.shape[6]
    i //= a.shape[6]
    i5 = i % a.shape[5]
    i //= a.shape[5]
    i4 = i % a.shape[4]
    i //= a.shape[4]
    i3 = i % a.shape[3]
    i //= a.shape[3]
    i2 = i % a.shape[2]
    i //= a.shape[2]
    i1 = i % a.shape[1]
    i //= a.shape[1]
    return i, i1, i2, i3, i4, i5, i6, i7


@cuda.jit(device=True)
def at(a, i):
    return a[position(a, i)]


@functools.cache
def unary(op):
    @cuda.jit
    def kernel(out, a):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = op(at(a, i))
    return kernel


@functools.cache
def binary(op):
    @cuda.jit
    def kernel(out, a, b):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = op(at(a, i), at(b, i))
    return kernel


@functools.cache
def ternary(op):
    @cuda.jit
    def kernel(out, a, b, c):
        for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            out[i] = op(at(a, i), at(b, i), at(c, i))
    return kernel


def launch(kernel, shape, dtype, *operands):
    """Run an elementwise kernel: a new C-contiguous array of `shape` from operands broadcast to it."""
    out = empty(shape, dtype)
    if out.size:
        kernel[blocks_for(out.size), THREADS](flat(out), *(rank8(x, shape) for x in operands))
    return out


@cuda.jit(cache=True)
def _assign(dst, src):
    """dst[...] = src for two 8-d views of one shape (dst may be strided)."""
    n = 1
    for d in range(8):
        n *= dst.shape[d]
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        index = position(dst, i)
        dst[index] = src[index]


def assign(dst, src):
    """dst[...] = src, src broadcast to dst's shape, in place (dst may be any strided view)."""
    if dst.size:
        _assign[blocks_for(dst.size), THREADS](rank8(dst), rank8(src, dst.shape))


def contiguous(x, dtype=None):
    """A C-contiguous copy of x (cast to dtype if given)."""
    return launch(unary(identity), x.shape, x.dtype if dtype is None else dtype, x)


# --- device functions -------------------------------------------------------------------------

@cuda.jit(device=True)
def identity(x):
    return x


@cuda.jit(device=True)
def negative(x):
    return -x


@cuda.jit(device=True)
def exp(x):
    if x > 709.782712893384:
        return math.inf
    return math.exp(x)


@cuda.jit(device=True)
def log(x):
    if x > 0:
        return math.log(x)
    if x == 0:
        return -math.inf
    return math.nan


@cuda.jit(device=True)
def sqrt(x):
    if x >= 0:
        return math.sqrt(x)
    return math.nan


@cuda.jit(device=True)
def sin(x):
    if math.isinf(x):
        return math.nan
    return math.sin(x)


@cuda.jit(device=True)
def cos(x):
    if math.isinf(x):
        return math.nan
    return math.cos(x)


@cuda.jit(device=True)
def tanh(x):
    return math.tanh(x)


@cuda.jit(device=True)
def absolute(x):
    return abs(x)


@cuda.jit(device=True)
def sign(x):
    if x > 0:
        return 1
    if x < 0:
        return -1
    return x - x  # 0 for 0 and -0.0, nan for nan


@cuda.jit(device=True)
def floor(x):
    if math.isinf(x) or x != x:
        return x
    return x - x % 1.0  # Python's modulo is never negative for a positive divisor


@cuda.jit(device=True)
def isnan(x):
    return x != x


@cuda.jit(device=True)
def isinf(x):
    return x == math.inf or x == -math.inf


@cuda.jit(device=True)
def logical_not(x):
    return not x


@cuda.jit(device=True)
def invert(x):
    return ~x


@cuda.jit(device=True)
def sigmoid(x):
    """exp(min(x, 0)) / (1 + exp(-|x|)): no overflow, full precision for large negative x."""
    tail = math.exp(-x) if x >= 0 else math.exp(x)
    return (1.0 if x >= 0 else tail) / (1.0 + tail)


@cuda.jit(device=True)
def relu(x):
    if x > 0 or x != x:  # nan stays nan, as in numpy's maximum
        return x
    return 0


@cuda.jit(device=True)
def erf(x):
    return math.erf(x)


@cuda.jit(device=True)
def add(x, y):
    return x + y


@cuda.jit(device=True)
def subtract(x, y):
    return x - y


@cuda.jit(device=True)
def multiply(x, y):
    return x * y


@cuda.jit(device=True)
def divide(x, y):
    if y == 0:  # IEEE: the simulator's Python division would raise
        if x == 0 or x != x:
            return math.nan
        return math.inf if (x > 0) == (math.copysign(1.0, y) > 0) else -math.inf
    return x / y


@cuda.jit(device=True)
def floor_divide(x, y):
    return x // y


@cuda.jit(device=True)
def remainder(x, y):
    return x % y


@cuda.jit(device=True)
def power(x, y):
    return x ** y


@cuda.jit(device=True)
def maximum(x, y):
    return x if x > y or x != x else y


@cuda.jit(device=True)
def minimum(x, y):
    return x if x < y or x != x else y


@cuda.jit(device=True)
def equal(x, y):
    return x == y


@cuda.jit(device=True)
def not_equal(x, y):
    return x != y


@cuda.jit(device=True)
def less(x, y):
    return x < y


@cuda.jit(device=True)
def less_equal(x, y):
    return x <= y


@cuda.jit(device=True)
def greater(x, y):
    return x > y


@cuda.jit(device=True)
def greater_equal(x, y):
    return x >= y


@cuda.jit(device=True)
def bitwise_and(x, y):
    return x & y


@cuda.jit(device=True)
def bitwise_or(x, y):
    return x | y


@cuda.jit(device=True)
def bitwise_xor(x, y):
    return x ^ y


@cuda.jit(device=True)
def sigmoid_backward(grad, y):
    return grad * y * (1 - y)


@cuda.jit(device=True)
def relu_backward(grad, y):
    return 0 if y <= 0 else grad


@cuda.jit(device=True)
def select(condition, x, y):
    return x if condition else y
