"""The CPU backend: numpy where numpy is already compiled C, Numba kernels where they beat it.

Numba's thread pool does the parallel work. BLAS (numpy's, and SciPy's, which Numba's np.dot calls) is
limited to MINIGRAD_BLAS_THREADS threads (default 1) when this module is imported: OpenBLAS's spinning
threads otherwise fight Numba's for the cores, and a LeNet training step measured 121 ms with two BLAS
threads against 54 ms with one.

glibc's malloc is told (once, at import) to keep freed memory up to 256 MB instead of handing it back to
the system, and to serve blocks up to 32 MB from its heaps (MINIGRAD_MALLOC_TUNING=0 leaves it alone).
Its defaults map each large buffer fresh and trim the heap after frees, so every step paid page faults
again for its activations and the kernels' per-thread tiles, and two threads faulted on one lock: a
LeNet training step at batch 256 on two threads ran at 8,100-8,800 images/s with the defaults and
14,900-15,900 with these settings, in the same process order.
"""
import ctypes
import functools
import importlib
import math
import os

import numpy as np
from numba import get_num_threads, set_num_threads
from threadpoolctl import threadpool_limits

from minigrad.backends.geometry import ConvGeometry
from minigrad.backends.interface import ViewError
from minigrad.backends.shared import SharedBackend
from minigrad_kernels.cpu import arithmetic
from minigrad_kernels.cpu import batch_conv
from minigrad_kernels.cpu import channels as channels_kernels
from minigrad_kernels.cpu import conv_gemm
from minigrad_kernels.cpu import direct_conv
from minigrad_kernels.cpu import elementwise as elementwise_kernels
from minigrad_kernels.cpu import im2col as im2col_kernels
from minigrad_kernels.cpu import lane_weight
from minigrad_kernels.cpu import linalg as linalg_kernels
from minigrad_kernels.cpu import optim as optim_kernels
from minigrad_kernels.cpu import pad as pad_kernels
from minigrad_kernels.cpu import pool as pool_kernels
from minigrad_kernels.cpu import reduce as reduce_kernels
from minigrad_kernels.cpu import winograd
from minigrad_kernels.cpu.register_tile import lanes

# Numba's np.dot (in the GEMM kernels) calls SciPy's BLAS: load it first so that the limit covers it too.
importlib.import_module("scipy.linalg.cython_blas")
threadpool_limits(limits=int(os.environ.get("MINIGRAD_BLAS_THREADS", "1")), user_api="blas")


def _tune_malloc():
    """glibc's mallopt: M_TRIM_THRESHOLD (-1) to 256 MB, M_MMAP_THRESHOLD (-3) to 32 MB, its largest
    value. No-op where the C library has no mallopt (macOS) or ignores it (musl)."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(-1, 256 << 20)
        mallopt(-3, 32 << 20)


if os.environ.get("MINIGRAD_MALLOC_TUNING", "1") != "0":
    _tune_malloc()


def _unary(ufunc, quiet=False):
    """numpy's ufunc as the interface's f(x); quiet ones, like PyTorch, give inf/nan without a warning."""
    if quiet:
        def method(x):
            with np.errstate(all="ignore"):
                return ufunc(x)
    else:
        def method(x):
            return ufunc(x)
    method.__name__ = ufunc.__name__
    return staticmethod(method)


def _binary(ufunc, quiet=False):
    """numpy's ufunc as the interface's f(a, b)."""
    if quiet:
        def method(a, b):
            with np.errstate(all="ignore"):
                return ufunc(a, b)
    else:
        def method(a, b):
            return ufunc(a, b)
    method.__name__ = ufunc.__name__
    return staticmethod(method)


def _arithmetic(ufunc, op):
    """numpy's ufunc (quiet) as the interface's f(a, b); large float operands of one shape, or one large
    (N, C, ...) operand and a per-channel (1, C, 1, ...) one, go through arithmetic's parallel kernels."""
    def method(a, b):
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype \
                and a.dtype in (np.float32, np.float64):  # Numba's CPU target has no float16
            if a.shape == b.shape and a.size >= PARALLEL_ARITHMETIC and a.flags.c_contiguous \
                    and b.flags.c_contiguous:
                return arithmetic.same_shape(op, a.reshape(-1), b.reshape(-1)).reshape(a.shape)
            big, small = (a, b) if a.size >= b.size else (b, a)
            if big.size >= PARALLEL_ARITHMETIC and _per_channel(big, small):
                out = arithmetic.per_channel(op, big.reshape(big.shape[0], big.shape[1], -1),
                                             np.ascontiguousarray(small).reshape(-1), small is a)
                return out.reshape(big.shape)
        with np.errstate(all="ignore"):
            return ufunc(a, b)
    method.__name__ = ufunc.__name__
    return staticmethod(method)


PARALLEL_ARITHMETIC = 1 << 16  # elements from which +, -, * run in parallel (numpy's run on one thread)
# multiply-adds from which a 2-d product runs as one BLAS call per thread on its block of rows: LeNet's
# (256, 400) @ (400, 120) on two threads 0.26 -> 0.14 ms, (64, 120) @ (120, 84) 0.019 -> 0.013 ms
PARALLEL_MATMUL = 1 << 18


def _per_channel(big, small):
    """big is C-contiguous (N, C, ...) and small is (1, C, 1, ...): one value per channel."""
    return (big.ndim >= 3 and small.ndim == big.ndim and small.shape[1] == big.shape[1] == small.size
            and small.shape[0] == 1 and big.flags.c_contiguous)


class CPUBackend(SharedBackend):
    """minigrad.backends.interface.Backend on numpy arrays."""

    name = "cpu"

    # creation and conversion
    @staticmethod
    def asarray(value, dtype=None):
        return np.asarray(value, dtype=dtype)

    @staticmethod
    def zeros(shape, dtype=None):
        return np.zeros(shape, dtype=dtype)

    @staticmethod
    def full(shape, fill_value, dtype=None):
        return np.full(shape, fill_value, dtype=dtype)

    @staticmethod
    def empty(shape, np_dtype):
        return np.empty(shape, np_dtype)

    @staticmethod
    def copy(x, order="K"):
        return np.array(x, order=order)

    @staticmethod
    def contiguous(x):
        return np.ascontiguousarray(x)

    @staticmethod
    def shares_memory(a, b):
        return np.may_share_memory(a, b)

    @staticmethod
    def astype(x, np_dtype):
        with np.errstate(invalid="ignore", over="ignore"):  # nan/inf to an integer, 1e5 to float16: quiet, as PyTorch
            return x.astype(np_dtype, copy=False)

    @staticmethod
    def to_numpy(x):
        return x

    @staticmethod
    def from_numpy(x):
        return x

    @staticmethod
    def is_contiguous(x):
        return x.flags.c_contiguous

    @staticmethod
    def assign(dst, src):
        """dst[...] = src in place."""
        dst[...] = src

    # elementwise
    add = _arithmetic(np.add, arithmetic.ADD)

    @staticmethod
    def add_into(x, y):
        """x += y in place (gradient accumulation)."""
        with np.errstate(all="ignore"):
            np.add(x, y, out=x)
    subtract = _arithmetic(np.subtract, arithmetic.SUBTRACT)
    multiply = _arithmetic(np.multiply, arithmetic.MULTIPLY)
    divide = _binary(np.divide, quiet=True)
    floor_divide = _binary(np.floor_divide, quiet=True)
    remainder = _binary(np.remainder, quiet=True)
    power = _binary(np.power, quiet=True)
    negative = _unary(np.negative)
    log = _unary(np.log, quiet=True)
    sqrt = _unary(np.sqrt, quiet=True)
    sin = _unary(np.sin, quiet=True)
    cos = _unary(np.cos, quiet=True)
    tanh = _unary(np.tanh)
    abs = _unary(np.abs)  # noqa: A003 (the interface's name for numpy's abs)
    sign = _unary(np.sign)
    floor = _unary(np.floor)
    maximum = _binary(np.maximum)
    minimum = _binary(np.minimum)
    equal = _binary(np.equal)
    not_equal = _binary(np.not_equal)
    less = _binary(np.less)
    less_equal = _binary(np.less_equal)
    greater = _binary(np.greater)
    greater_equal = _binary(np.greater_equal)
    logical_not = _unary(np.logical_not)
    bitwise_and = _binary(np.bitwise_and)
    bitwise_or = _binary(np.bitwise_or)
    bitwise_xor = _binary(np.bitwise_xor)
    invert = _unary(np.invert)
    isnan = _unary(np.isnan)
    isinf = _unary(np.isinf)

    @staticmethod
    def clip(x, low, high):
        return np.clip(x, low, high)

    @staticmethod
    def where(condition, a, b):
        return np.where(condition, a, b)

    @staticmethod
    def sigmoid(x):
        """float32: one parallel pass with a vectorized exp (minigrad_kernels/cpu/elementwise.py); float64:
        numpy's exp between two parallel passes."""
        return _run(elementwise_kernels.sigmoid, x.size, x)

    @staticmethod
    def sigmoid_backward(grad, y):
        """grad * y * (1 - y): one parallel pass instead of numpy's three (measured 5x on 1.2M elements)."""
        if grad.shape != y.shape:
            return grad * y * (1 - y)
        flat = _run(elementwise_kernels.sigmoid_backward, grad.size, np.ascontiguousarray(grad).reshape(-1),
                    np.ascontiguousarray(y).reshape(-1))
        return flat.reshape(grad.shape)

    @staticmethod
    def relu_backward(grad, y):
        """One parallel pass (numpy needs a comparison, a cast and a product) when the shapes match."""
        if grad.shape != y.shape or grad.dtype != y.dtype:
            return np.where(y <= 0, np.zeros((), dtype=np.result_type(grad, y)), grad)
        flat = _run(elementwise_kernels.relu_backward, grad.size, np.ascontiguousarray(grad).reshape(-1),
                    np.ascontiguousarray(y).reshape(-1))
        return flat.reshape(grad.shape)

    @staticmethod
    def erf(x):
        return _run(elementwise_kernels.erf, x.size, np.ascontiguousarray(x).reshape(-1)).reshape(x.shape)

    @staticmethod
    def exp(x):
        """Large float32 arrays through elementwise's parallel exp (within 2 ulp, as numpy's within 1: an
        element's exp may differ in its last bit with the array's size); small ones through numpy's (as fast
        on one thread, and a LeNet step's log-softmax then compiles no kernel)."""
        if x.size < SERIAL_WORK:
            with np.errstate(all="ignore"):
                return np.exp(x)
        return elementwise_kernels.exp(x)

    @staticmethod
    def relu(x):
        """Large arrays through elementwise's one-pass parallel relu, small ones through numpy's maximum
        (setting the thread count for a serial kernel costs more than the work there)."""
        if x.size < SERIAL_WORK:
            return np.maximum(x, 0).astype(x.dtype, copy=False)
        return elementwise_kernels.relu(x)

    # reductions
    @staticmethod
    def sum(x, axis=None, keepdims=False, dtype=None):  # noqa: A003
        with np.errstate(over="ignore", invalid="ignore"):  # inf and nan, as the contract says, no warning
            if _channel_reduction(x, axis, dtype):  # over N first: numpy adds whole rows, vectorized
                sums = x.reshape(x.shape[0], -1).sum(0).reshape(x.shape[1], -1).sum(1)
                return sums.reshape((1, -1) + (1,) * (x.ndim - 2)) if keepdims else sums
            return np.sum(x, axis=axis, keepdims=keepdims, dtype=dtype)

    @staticmethod
    def prod(x, axis=None, keepdims=False, dtype=None):
        with np.errstate(over="ignore", invalid="ignore"):
            return np.prod(x, axis=axis, keepdims=keepdims, dtype=dtype)

    @staticmethod
    def all(x, axis=None, keepdims=False):  # noqa: A003
        return np.all(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def any(x, axis=None, keepdims=False):  # noqa: A003
        return np.any(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def amax(x, axis=None, keepdims=False):
        if x.size == 0:  # numpy refuses even when only the kept dims are empty
            return np.empty_like(np.sum(x, axis=axis, keepdims=keepdims))
        return np.amax(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def amin(x, axis=None, keepdims=False):
        if x.size == 0:
            return np.empty_like(np.sum(x, axis=axis, keepdims=keepdims))
        return np.amin(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def argmax(x, axis=None, keepdims=False):
        return np.argmax(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def argmin(x, axis=None, keepdims=False):
        return np.argmin(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def max_with_indices(x, axis, take_max):
        """(values, indices) of the max (or min) along `axis`; the axis is removed.

        numpy's SIMD argmax wins along the last axis; along any other axis the Numba kernel's one
        strided pass is 7-30x faster than numpy's argmax + take_along_axis (benchmarks/reductions.py).
        """
        shape = x.shape
        if shape[axis] == 0:  # as numpy's argmax says it (the kernel below would return garbage)
            raise ValueError("attempt to get argmax of an empty sequence")
        if axis == x.ndim - 1:
            indices = (np.argmax if take_max else np.argmin)(x, axis=axis)
            return np.take_along_axis(x, indices[..., None], axis)[..., 0], indices
        outer = math.prod(shape[:axis])
        inner = math.prod(shape[axis + 1:])
        x3 = np.ascontiguousarray(x).reshape(outer, shape[axis], inner)
        values, indices = _run(reduce_kernels.max_along_middle, x3.size, x3, take_max)
        out_shape = shape[:axis] + shape[axis + 1:]
        return values.reshape(out_shape), indices.reshape(out_shape)

    @staticmethod
    def argsort(x, axis, descending):
        """numpy's stable sort (nan last); descending is a stable sort of the reversed array, reversed."""
        if not descending:
            return np.argsort(x, axis, kind="stable").astype(np.int64, copy=False)
        order = np.flip(np.argsort(np.flip(x, axis), axis, kind="stable"), axis)
        return (x.shape[axis] - 1 - order).astype(np.int64, copy=False)

    # shapes and indexing
    @staticmethod
    def reshape(x, shape):
        return np.reshape(x, shape)

    @staticmethod
    def transpose(x, axes=None):
        return np.transpose(x, axes)

    @staticmethod
    def broadcast_to(x, shape):
        return np.broadcast_to(x, shape)

    @staticmethod
    def concatenate(pieces, axis=0):
        return np.concatenate(pieces, axis=axis)

    @staticmethod
    def take_along_axis(x, indices, axis):
        """Large gathers along the last axis in parallel; small ones (a loss's targets) in numpy, which is as
        fast there and leaves the kernel uncompiled in a process that never needs it."""
        if axis == x.ndim - 1 and x.ndim >= 2 and x.shape[:-1] == indices.shape[:-1] and x.size \
                and indices.size >= SERIAL_WORK:
            rows = pool_kernels.gather_rows(np.ascontiguousarray(x).reshape(-1, x.shape[-1]),
                                            np.ascontiguousarray(indices).reshape(-1, indices.shape[-1]))
            return rows.reshape(indices.shape)
        return np.take_along_axis(x, indices, axis)

    @staticmethod
    def view(x, shape):
        """Reshape without copying, or raise ViewError if the strides do not allow it."""
        out = x.view()
        try:
            out.shape = shape
        except AttributeError as error:  # numpy's word for strides that don't allow it
            raise ViewError(str(error)) from None
        return out

    @staticmethod
    def getitem(x, key):
        return x[key]

    @staticmethod
    def index_put(x, key, values):
        """A copy of x with x[key] = values."""
        out = x.copy()
        out[key] = values
        return out

    @staticmethod
    def index_add(shape, key, values, np_dtype):
        """zeros(shape) with `values` added at `key`; repeated indices add up."""
        out = np.zeros(shape, dtype=np_dtype)
        if any(isinstance(k, np.ndarray) for k in key):
            np.add.at(out, key, values)
        else:  # basic indexing never repeats an element
            out[key] = values
        return out

    @staticmethod
    def scatter_add_along_axis(shape, indices, values, axis):
        """zeros(shape) with values added at `indices` along `axis` (take_along_axis's adjoint); large ones
        along the last axis in parallel, small ones in numpy (as take_along_axis)."""
        if axis == len(shape) - 1 and len(shape) >= 2 and tuple(shape[:-1]) == indices.shape[:-1] \
                and values.size >= SERIAL_WORK:
            rows = pool_kernels.scatter_add_rows(np.ascontiguousarray(values).reshape(-1, values.shape[-1]),
                                                 np.ascontiguousarray(indices).reshape(-1, indices.shape[-1]),
                                                 shape[-1])
            return rows.reshape(shape)
        out = np.zeros(shape, dtype=values.dtype)
        if indices.shape[axis] == 1:  # one index per slice: nothing repeats
            np.put_along_axis(out, indices, values, axis)
            return out
        grid = list(np.ix_(*[np.arange(n) for n in indices.shape]))
        grid[axis] = indices
        np.add.at(out, tuple(grid), values)
        return out

    # linear algebra
    @staticmethod
    def matmul(a, b):
        if (a.ndim == 2 == b.ndim and a.dtype == b.dtype and a.dtype in (np.float32, np.float64)
                and a.shape[0] * a.shape[1] * b.shape[1] >= PARALLEL_MATMUL):
            threads = get_num_threads()
            if 1 < threads and 2 * threads <= a.shape[0]:
                out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
                contiguous = b.flags.c_contiguous or b.flags.f_contiguous
                linalg_kernels.matmul_rows(np.ascontiguousarray(a), b if contiguous else np.ascontiguousarray(b),
                                           out, threads)
                return out
        return np.matmul(a, b)

    # convolution: 5-d arrays (N, C, D, H, W); tiled im2col + GEMM, or the direct kernel (one input channel)
    @staticmethod
    def im2col(x, g, cols):
        im2col_kernels.im2col(np.ascontiguousarray(x), g.kernel, g.stride, g.padding, g.dilation, g.out_size, cols)

    @staticmethod
    def col2im(cols, g, channels):
        x = np.zeros((cols.shape[0], channels, *g.in_size), dtype=cols.dtype)
        im2col_kernels.col2im(cols, g.kernel, g.stride, g.padding, g.dilation, g.out_size, x)
        return x

    def conv(self, x, w, g, bias=None, activation=None, windows=None):
        """The batch-minor kernel takes the activation (sigmoid in float32 only) and 2x2 stride-2 windows
        that cover the map into its pass; otherwise they follow the convolution (_epilogue)."""
        live = _batch_minor(g, x, w.shape[0])
        divisor = 0.0 if windows is None else _pool_epilogue(g, windows)
        if live and divisor is not None and not (activation == "sigmoid" and x.dtype != np.float32):
            return _batch_minor_forward(x, _take_taps(w, *live), live[1], bias, activation, divisor)
        return self._epilogue(self._conv(x, w, g, bias, live), g, activation, windows)

    def _conv(self, x, w, g, bias, live):
        n_batch, c_out = x.shape[0], w.shape[0]
        if live:
            return _batch_minor_forward(x, _take_taps(w, *live), live[1], bias)
        if _direct(g, x.shape[1], c_out):
            grid = _grid(g)
            out = np.empty((n_batch, c_out) + tuple(g.out_size), dtype=x.dtype)
            bias = np.empty(0, dtype=x.dtype) if bias is None else _operand(bias)  # one compiled signature
            direct_conv.conv_grid(_to_grid(x, g, grid), _taps(w), _offsets(g, grid), _span(g, grid), bias, grid, out)
            return out
        taps, g = _live_taps(g)
        w = _take_taps(w, taps, g)
        if _winograd(g, x.shape[1], c_out):
            out = np.empty((n_batch, c_out) + tuple(g.out_size), dtype=x.dtype)
            winograd.conv3x3(_planes(x), winograd.weight_transform(w[:, :, 0]), g.padding[1:],
                             _winograd_block(x.shape[1], c_out), get_num_threads(), _planes(out))
            if bias is not None:
                out += bias.reshape(1, c_out, 1, 1, 1)
            return out
        out = np.empty((n_batch, c_out, math.prod(g.out_size)), dtype=x.dtype)
        taps = x.shape[1] // g.groups * math.prod(g.kernel)
        budget = (1 << 18) * max(1, c_out // g.groups // 16)  # wider GEMMs (more rows) take longer tiles
        tiling = _shallow_tiling(g, n_batch, taps, x.itemsize, budget, 4) or _tiling(g, n_batch, _tile(taps))
        bias = np.empty(0, dtype=x.dtype) if bias is None else _operand(bias)  # one compiled signature
        conv_gemm.conv_forward(_operand(x), _grouped(w, g.groups), bias, *_geometry(g), *tiling, get_num_threads(),
                               out)
        return out.reshape((n_batch, c_out) + tuple(g.out_size))

    def conv_transpose(self, y, w, g):
        n_batch, c_in = y.shape[0], w.shape[1] * g.groups
        live = _batch_minor(g, y, c_in, transposed=True)
        if live:
            return _batch_minor_input(y, _take_taps(w, *live), live[1])
        if _direct(g, c_in, w.shape[0]):
            grid = _grid(g)
            grad = np.zeros((n_batch, c_in, math.prod(grid)), dtype=y.dtype)
            direct_conv.conv_grid_transpose(_onto_grid(y, grid), _taps(w), _offsets(g, grid), _span(g, grid), grad)
            return _from_grid(grad, g.in_size, grid, g.padding)
        taps, g = _live_taps(g)
        w = _take_taps(w, taps, g)
        grad = np.empty((n_batch, c_in) + tuple(g.in_size), dtype=y.dtype)
        if _winograd(g, c_in, w.shape[0]):  # stride 1: a convolution of y with w turned and transposed
            turned = w[:, :, 0, ::-1, ::-1].transpose(1, 0, 2, 3)
            winograd.conv3x3(_planes(y), winograd.weight_transform(turned), tuple(2 - p for p in g.padding[1:]),
                             _winograd_block(c_in, w.shape[0]), get_num_threads(), _planes(grad))
            return grad
        taps = c_in // g.groups * math.prod(g.kernel)
        images, _ = _shallow_tiling(g, n_batch, taps, y.itemsize, 1 << 18, 4) or _tiling(g, n_batch, _tile(taps))
        conv_gemm.conv_input(_flat(y), _grouped(w, g.groups), *_geometry(g), images, get_num_threads(), grad)
        return grad

    @staticmethod
    def conv_weight(x, y, g):
        c_out, c_in = y.shape[1], x.shape[1]
        shape = (c_out, c_in // g.groups) + tuple(g.kernel)
        live_taps, live_g = _live_taps(g)
        if live_taps is None and _lane_weight(g, x.shape[0]):
            dw = np.empty(shape, dtype=x.dtype)
            lane_weight.conv_weight(_planes(x), _planes(y), g.stride[1:], g.padding[1:], get_num_threads(), _planes(dw))
            return dw
        if _winograd(live_g, c_in, c_out):
            dw = winograd.conv3x3_weight(_planes(x), _planes(y), live_g.padding[1:],
                                         _winograd_block(c_in, c_out), get_num_threads())
        else:
            taps = c_in // g.groups * math.prod(live_g.kernel)
            n_batch, volume = x.shape[0], math.prod(g.out_size)
            tiling = (_shallow_tiling(live_g, n_batch, taps, x.itemsize, 1 << 20, 1)
                      or _tiling(live_g, n_batch, _weight_tile(taps, n_batch * volume)))
            dw = conv_gemm.conv_weight(_operand(x), _flat(y), g.groups, *_geometry(live_g), *tiling,
                                       get_num_threads())
        if live_taps is None:
            return dw.reshape(shape)
        full = np.zeros(shape, dtype=x.dtype)  # the dead taps' gradient is zero
        full.reshape(c_out, shape[1], -1)[:, :, live_taps] = dw.reshape(c_out, shape[1], len(live_taps))
        return full

    # per channel: (N, C, ...) as (N, C, L), one kernel pass each
    @staticmethod
    def channel_sums(x, y):
        x, y = _by_channel(x), _by_channel(y)
        return _run(channels_kernels.channel_sums, 2 * x.size, x, y)

    @staticmethod
    def channel_affine(x, scale, shift, y=None, y_scale=None):
        out = np.empty(x.shape, dtype=x.dtype)
        flat, empty = _by_channel(x), np.empty((0, 0, 0), dtype=x.dtype)

        def coefficients(values):
            return np.ascontiguousarray(values, dtype=x.dtype)
        _run(channels_kernels.channel_affine, 2 * flat.size, flat, coefficients(scale), coefficients(shift),
             empty if y is None else _by_channel(y), coefficients(scale if y is None else y_scale), _by_channel(out))
        return out

    # pooling: 4-d arrays (N, C, H, W)
    @staticmethod
    def max_pool(x, kernel, stride, padding, dilation, out_size):
        x = np.ascontiguousarray(x)
        if tuple(padding) == (0, 0) and tuple(dilation) == (1, 1) and _pool_2x2(x.shape, kernel, stride, out_size):
            return _run(pool_kernels.max_pool_2x2, x.size, x, out_size)
        return _run(pool_kernels.max_pool, x.size, x, kernel, stride, padding, dilation, out_size)

    @staticmethod
    def window_max_indices(x, windows):
        return _run(pool_kernels.window_max_indices, x.size, np.ascontiguousarray(x), *windows[:4])

    @staticmethod
    def window_mean(x, windows):
        strided = _strided_windows(windows)
        if strided and _pool_2x2(x.shape, *strided[:2], windows[4].shape):
            return _run(pool_kernels.mean_pool_2x2, x.size, np.ascontiguousarray(x), windows[4].shape, strided[2])
        if strided:
            return _run(pool_kernels.strided_window_mean, x.size, np.ascontiguousarray(x), *strided[:2],
                        windows[4].shape, strided[2])
        return _run(pool_kernels.window_mean, x.size, np.ascontiguousarray(x), *windows)

    @staticmethod
    def window_mean_adjoint(grad, windows, height, width):
        strided = _strided_windows(windows)
        if strided and _pool_2x2((height, width), *strided[:2], grad.shape[2:]):
            return _run(pool_kernels.mean_pool_2x2_adjoint, grad.shape[0] * grad.shape[1] * height * width,
                        np.ascontiguousarray(grad), strided[2], height, width)
        if strided:
            return _run(pool_kernels.strided_window_mean_adjoint, grad.shape[0] * grad.shape[1] * height * width,
                        np.ascontiguousarray(grad), *strided, height, width)
        return _run(pool_kernels.window_mean_adjoint, grad.shape[0] * grad.shape[1] * height * width,
                    np.ascontiguousarray(grad), *windows, height, width)

    # padding: (P, D, H, W) planes and one index map per padded axis
    @staticmethod
    def pad_gather(x, maps, value):
        return _run(pad_kernels.pad_gather, x.shape[0] * math.prod(len(m) for m in maps), np.ascontiguousarray(x),
                    *maps, value)

    @staticmethod
    def pad_scatter_add(grad, maps, in_size):
        return _run(pad_kernels.pad_scatter_add, grad.size, np.ascontiguousarray(grad), *maps, *in_size)

    # optimizer steps (SharedBackend.sgd_update and adam_update cast the scalars): one pass per parameter
    @staticmethod
    def _sgd_pass(param, grad, buffer, *scalars):
        _run(optim_kernels.sgd, param.size, param.reshape(-1), grad.reshape(-1), buffer.reshape(-1), *scalars)

    @staticmethod
    def _adam_pass(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *scalars):
        _run(optim_kernels.adam, param.size, param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1),
             exp_avg_sq.reshape(-1), max_exp_avg_sq.reshape(-1), *scalars)


SERIAL_WORK = 1 << 14  # elements under which a kernel runs on the calling thread alone


def _run(kernel, work, *args):
    """kernel(*args), on the calling thread alone when `work` (the elements it touches) is under
    SERIAL_WORK: waking Numba's pool costs microseconds on a quiet machine, and on an oversubscribed one a
    scheduler time slice (a (64, 10) gather: 4 us serial, 8 ms parallel with the cores busy, measured)."""
    if work >= SERIAL_WORK:
        return kernel(*args)
    threads = get_num_threads()
    set_num_threads(1)
    try:
        return kernel(*args)
    finally:
        set_num_threads(threads)


def _channel_reduction(x, axis, dtype):
    """Whether a sum is over every axis but the channels (convolution bias gradients; BatchNorm has kernels
    of its own, channel_sums) of a C-contiguous float array (N, C, ...), which numpy reduces strided when
    asked for the axes at once: one thread, (64, 256, 2, 2) 0.263 -> 0.014 ms, (64, 64, 8, 8) 0.115 ->
    0.028 ms summed over N first."""
    return (dtype is None and x.ndim >= 3 and x.size and x.dtype.kind == "f"
            and axis == (0,) + tuple(range(2, x.ndim)) and x.flags.c_contiguous)


def _by_channel(x):
    """x (N, C, ...) as a C-contiguous (N, C, L)."""
    return np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], math.prod(x.shape[2:]))


def _pool_2x2(shape, kernel, stride, out_size):
    """Whether pooling windows are 2x2 at stride 2 and all inside a map of `shape` (..., H, W), for the
    kernels that vectorize over long runs (measured on two threads for LeNet's (256, 6, 28, 28): max
    pooling 2.3 -> 0.29 ms, average pooling 0.40 -> 0.18 ms, its adjoint 0.87 -> 0.22 ms)."""
    height, width = shape[-2:]
    return (tuple(kernel) == (2, 2) == tuple(stride) and 2 * out_size[0] <= height and 2 * out_size[1] <= width
            and height * width < 1 << 31)


def _pool_epilogue(g, windows):
    """The divisor when windows are 2x2 at stride 2 and tile g's 2-d output exactly (batch_conv.conv's
    pooling epilogue), else None."""
    strided = _strided_windows(windows)
    depth, height, width = g.out_size
    if (strided is None or strided[:2] != ((2, 2), (2, 2)) or depth != 1 or height % 2 or width % 2
            or windows[0].size != height // 2 or windows[2].size != width // 2):
        return None
    return float(strided[2])


_STRIDED = {}  # id(windows) -> (windows, _strided_windows(windows)): nn.functional reuses its window tuples


def _strided_windows(windows):
    """(kernel, stride, divisor) when average pooling's windows are one size at a fixed stride with one
    divisor (no clipped or padded windows), for the kernels that vectorize over output columns (measured
    on one thread for LeNet's 2x2 pooling of (256, 6, 28, 28): 1.65 -> 0.81 ms forward); else None.
    Remembered per windows tuple (the checks cost about 30 us a call)."""
    known = _STRIDED.get(id(windows))
    if known is not None and known[0] is windows:
        return known[1]
    if len(_STRIDED) >= 256:
        _STRIDED.clear()
    result = _STRIDED[id(windows)] = windows, _windows_stride(windows)
    return result[1]


def _windows_stride(windows):
    h_start, h_end, w_start, w_end, divisor = windows
    sizes, strides = [], []
    for start, end in ((h_start, h_end), (w_start, w_end)):
        step = int(start[1] - start[0]) if len(start) > 1 else 1
        if len(start) == 0 or start[0] != 0 or not (np.all(end - start == end[0]) and
                                                    np.all(np.diff(start) == step)):
            return None
        sizes.append(int(end[0]))
        strides.append(step)
    if divisor.size == 0 or divisor.min() != divisor.max():
        return None
    return tuple(sizes), tuple(strides), divisor.flat[0]


# --- the tiled im2col + GEMM convolution, see minigrad_kernels/cpu/conv_gemm.py --------------------

def _geometry(g):
    return g.kernel, g.stride, g.padding, g.dilation, g.out_size


def _live_taps(g):
    """(the live taps' flat positions in the kernel, their geometry): the taps that read the input at some
    output position, as the smaller kernel they form (with the padding shifted), so no GEMM multiplies
    columns of padding (on a 1x1 map, 8 of a 3x3 kernel's 9 taps read only padding). (None, g) when all
    taps are live. Remembered per geometry (its Python loops took 13 us a call)."""
    taps, live = _live_taps_of(g.kernel, g.stride, g.padding, g.dilation, g.groups, g.in_size, g.out_size)
    return taps, (g if live is None else live)


@functools.lru_cache(maxsize=1024)
def _live_taps_of(*fields):
    g = ConvGeometry(*fields)
    first, last = [], []
    for k, s, p, d, size, out in zip(g.kernel, g.stride, g.padding, g.dilation, g.in_size, g.out_size):
        live = []
        for a in range(k):
            o = max(0, -((a * d - p) // s))  # the first output that reads at or right of the input's start
            if o < out and o * s - p + a * d < size:
                live.append(a)
        whole = not live or live != list(range(live[0], live[-1] + 1))
        first.append(0 if whole else live[0])
        last.append(k if whole else live[-1] + 1)
    if all(a == 0 and b == k for a, b, k in zip(first, last, g.kernel)):
        return None, None
    kernel = tuple(b - a for a, b in zip(first, last))
    padding = tuple(p - a * d for p, a, d in zip(g.padding, first, g.dilation))
    taps = np.arange(math.prod(g.kernel)).reshape(g.kernel)[tuple(slice(a, b) for a, b in zip(first, last))]
    taps = taps.reshape(-1)
    taps.flags.writeable = False
    return taps, ConvGeometry(kernel, g.stride, padding, g.dilation, g.groups, g.in_size, g.out_size)


def _take_taps(w, taps, g):
    """w (C_out, C_in / G, *kernel) with only the taps at flat kernel positions `taps` (all when None), for
    the geometry g they form, C-contiguous. One tap: a strided copy; more: np.take along the flattened
    kernel, where copying the strided slice took 3x longer (one thread, ResNet-18's (512, 256, 3, 3)
    weight at 2x2: 1.34 -> 0.40 ms; for one tap np.take took 3x longer than the copy)."""
    if taps is None:
        return w
    flat = w.reshape(w.shape[0], w.shape[1], -1)
    live = np.ascontiguousarray(flat[:, :, taps[0]]) if len(taps) == 1 else np.take(flat, taps, axis=2)
    return live.reshape(w.shape[:2] + tuple(g.kernel))


def _grouped(w, groups):
    """(G, C_out / G, C_in / G * K): the weight as one GEMM operand per group."""
    return _operand(w).reshape(groups, w.shape[0] // groups, math.prod(w.shape[1:]))


def _operand(a):
    """a, C-contiguous and writeable: conv_gemm's column builder serves im2col and its adjoint, so Numba
    would not type it for a read-only array (a broadcast gradient, a read-only numpy buffer)."""
    return np.require(a, requirements=("C", "W"))


def _flat(y):
    """(N, C, L): an output-shaped gradient with its positions flattened."""
    return _operand(y).reshape(y.shape[0], y.shape[1], math.prod(y.shape[2:]))


def _tile(taps):
    """Output positions per GEMM tile: columns of about 512 KB, which stay in cache, and at least 64."""
    return min(max(64, (1 << 17) // taps), 4096)


def _weight_tile(taps, positions):
    """For the weight gradient the tile is the GEMM's inner dimension, and each tile adds a product of
    the weight's size into its thread's sum: so tiles of at least 1024 positions (up to one per thread),
    with columns of at most 16 MB in float32."""
    return max(1, min(max(_tile(taps), min(1024, (1 << 22) // taps)), -(-positions // get_num_threads())))


RUN = 64  # floats a block of images copies at a time at least (their output rows side by side), in _tiling


def _tiling(g, n_batch, tile):
    """(images, chunk) for conv_gemm: for short output rows (under 16), blocks of whole images that fit
    in twice a tile (and leave each thread at least one), else chunks of one image's positions. A
    block's columns are built faster (runs nb times longer: for 3x3 64->64 on 8x8 maps, 2.2 ms with
    blocks of 3 images, 1.0 ms with blocks of 8). At least one block per thread, not four: two threads,
    ResNet-18's layers at batch 64, forward + backward 57 -> 51-54 ms (256->256 at 2x2: blocks of 32
    images, 1.7 ms forward, against 2.3 with 8). Blocks of a power of two images ran 5-15% faster than
    their neighbours (two threads, 64->64 at 8x8, batch 64: 8 images 2.0 ms forward, 7 images 2.2). Blocks
    copy runs of at least RUN floats (an output row per image) even where the tile is smaller: DenseNet's
    224->32 3x3 layer at 8x8 (2016 taps: a tile of 65 positions) took 6.1 ms forward in blocks of 2
    images, 4.7 in blocks of 8 (two threads, batch 64), its 480->32 at 4x4 3.6 with 4, 2.8 with 16."""
    volume = math.prod(g.out_size)
    if volume > tile or g.out_size[2] >= 16:
        return 1, min(tile, volume)
    most = max(1, n_batch // get_num_threads())
    fit = max(2 * tile // volume, -(-RUN // g.out_size[2]))
    images = 1 << round(math.log2(max(1, min(fit, most))))  # the nearest power of two
    return (images if images <= most else images // 2), volume


def _shallow_tiling(g, n_batch, taps, itemsize, budget, tiles_per_thread):
    """(images, chunk) for layers with under 256 taps (LeNet's): blocks of a power of two whole images
    whose columns fit in `budget` bytes (the callers: 256 KB per 16 output channels for the forward
    pass, 256 KB for the input gradient, 1 MB for the weight gradient), leaving each thread
    tiles_per_thread blocks; None for other layers, or when one image's columns overflow the budget.
    Measured on LeNet's second layer (6->16, 5x5 on 14x14, batch 256, one thread, process time): blocks
    of 2/4/8/16 images took 3.9/2.5/3.4/3.3 ms forward, 4.0/2.5/2.7/2.7 input gradient, 5.3/3.9/3.5/3.4
    weight gradient; its first layer's weight gradient, one image per tile (the rule for wide rows)
    3.9 ms, 4 images 2.4, 10 or more 4.9 (on two threads 8 images were best, 1.1 ms against 1.7 with 4)."""
    volume = math.prod(g.out_size)
    fit = min(budget // (taps * volume * itemsize), n_batch // (tiles_per_thread * get_num_threads()))
    if taps >= 256 or fit < 1:
        return None
    return 1 << (fit.bit_length() - 1), volume


# --- 3x3 stride-1 convolutions by Winograd's F(2x2, 3x3), see minigrad_kernels/cpu/winograd.py ----

def _winograd(g, c_in, c_out):
    """Winograd for 2-d 3x3 stride-1 convolutions without groups or dilation, with at least 16 channels
    on each side (the 16 GEMMs' inner dimensions) and outputs at least 12 wide and high. Measured on one
    thread (process time, best of 9), forward + both gradients against im2col + GEMM: 64->64 at 56x56,
    batch 8, 49.7 ms against 89.7 (PyTorch 68.8); at 16x16, batch 32, 19.9 against 34.7; at 12x12,
    batch 64, 26.6 against 30.9; at 8x8 and 4x4 a draw, at 2x2 (one tile an image) 1.4x slower."""
    return (g.kernel == (1, 3, 3) and g.stride == (1, 1, 1) and g.dilation == (1, 1, 1) and g.groups == 1
            and g.in_size[0] == 1 and min(c_in, c_out) >= 16 and min(g.out_size[1:]) >= 12)


def _lane_weight(g, n_batch):
    """Whether lane_weight's kernel takes the weight gradient: 2-d 5x5 kernels without dilation or groups,
    at least an image a thread. Measured on two threads against tiled im2col + GEMM (float32, medians):
    LeNet's 6->16 layer at 14x14, batch 256, 1.32 -> 0.62 ms (2.1x; batch 4 to 64 1.9-2.1x, and in
    float64), 16->32 at 28x28 padded, batch 64, 1.55x, 96->256 at 26x26 1.18x; its 1->6 layer (half
    vectors) 0.90 -> 0.87 ms at batch 256, 0.22 -> 0.24 at 64, which keeps LeNet off im2col's kernel
    (12 s to compile on a cold cache); one image of 32->64 at 64x64 (one thread idle) 0.69x."""
    return (g.kernel[1:] == (lane_weight.SIDE,) * 2 and g.in_size[0] == g.kernel[0] == 1 and g.groups == 1
            and g.dilation == (1, 1, 1) and n_batch >= get_num_threads())


def _winograd_block(c_in, c_out):
    """Tiles per block: the block's transformed input and products, 16 * C * block floats each, of
    about 512 KB in float32."""
    return min(256, max(32, 8192 // max(c_in, c_out)))


def _planes(a):
    """(N, C, 1, H, W) as the (N, C, H, W) that winograd's kernels take, C-contiguous and writeable."""
    return _operand(a).reshape(a.shape[0], a.shape[1], a.shape[-2], a.shape[-1])


# --- direct convolution with the batch as the vector dimension, see minigrad_kernels/cpu/batch_conv.py -

def _batch_minor(g, a, channels, transposed=False):
    """_live_taps(g) when the batch-minor direct kernel takes the convolution of a (N, C, ...) into
    `channels` (transposed: its gradient in x at stride 1, a the output gradient), else None: no groups,
    at least 16 images, more than one live tap, more than one output position, not a Winograd layer, at most
    2 MB of input per block of images (the tile's vectors). Measured on two threads against the GEMM path,
    with the blocks' padded grids: 1.2-2 MB ran 1.3-1.8x faster (VGG-11's 512 channels at 4x4, AlexNet's
    256 at 7x7), 4 MB 0.73-0.93x (5x5 64->64 at 28x28); one output position (ResNet-18's 256->512 3x3
    stride 2 at 2x2) 0.77x."""
    out_size = g.in_size if transposed else g.out_size
    if g.groups != 1 or a.shape[0] < 16 or math.prod(out_size) == 1 or transposed and g.stride != (1, 1, 1):
        return None
    taps, live = _live_taps(g)
    c_in, c_out = (channels, a.shape[1]) if transposed else (a.shape[1], channels)
    block_bytes = a[0].size * lanes(a.itemsize) * _register_tile(channels, a)[1] * a.itemsize
    if math.prod(live.kernel) == 1 or _winograd(live, c_in, c_out) or block_bytes > 2 << 20:
        return None
    return taps, live


_ACTIVATIONS = {None: 0, "relu": batch_conv.RELU, "sigmoid": batch_conv.SIGMOID}


def _register_tile(channels, a):
    """batch_conv.tile's (rows, vectors) for a convolution of a (N, ...) into `channels`."""
    return batch_conv.tile(channels, a.shape[0], lanes(a.itemsize))


def _batch_minor_conv(x, g, w, w_step, w_stride, turned, channels, bias=None, activation=None, divisor=0.0):
    """(N, channels, *g.out_size): x (N, C, ...) made batch-minor (C, ..., Np), convolved by batch_conv.conv
    with each output position's live taps: weight w[o * w_stride + c * w_step + k] for tap k of input
    channel c (K - 1 - k when turned), plus bias; then the activation ("relu", "sigmoid" or None) and, with
    a divisor, 2x2 stride-2 window means (out (N, channels, 1, Ho / 2, Wo / 2))."""
    n_batch, c_in = x.shape[:2]
    rows, vectors = _register_tile(channels, x)
    block = lanes(x.itemsize) * vectors
    n_pad = -(-n_batch // block) * block
    xt = _aligned_empty((c_in,) + tuple(g.in_size) + (n_pad,), x.dtype)
    batch_conv.to_batch_minor(np.ascontiguousarray(x), xt)
    depth, height, width = g.out_size
    out_size = (depth, height // 2, width // 2) if divisor else (depth, height, width)
    out = _aligned_empty((n_batch, channels) + out_size, x.dtype)
    shift = np.zeros(-(-channels // rows) * rows, dtype=x.dtype)  # a whole tile of rows
    if bias is not None:
        shift[:channels] = bias
    x_offsets, w_offsets, starts = _position_taps(g.kernel, g.stride, g.padding, g.dilation, g.in_size, g.out_size,
                                                  n_pad, turned)
    batch_conv.conv(xt, x_offsets, w.reshape(-1), w_offsets, starts, w_step, w_stride, shift,  # one signature
                    np.array(g.stride, dtype=np.int64), np.array(g.padding, dtype=np.int64),
                    _ACTIVATIONS[activation], float(divisor), out)
    return out


@functools.lru_cache(maxsize=256)
def _position_taps(kernel, stride, padding, dilation, in_size, out_size, n_pad, turned):
    """(x_offsets, w_offsets, starts) for batch_conv.conv: output position p's taps are entries
    [starts[p], starts[p + 1]), only those that read inside the input (x_offsets in one channel of the
    batch-minor input (D, H, W, Np), w_offsets the tap's index in the kernel, reversed when turned). On
    ResNet-18's 2x2 maps a 3x3 kernel reads the padding with 5 of its 9 taps. Remembered per geometry."""
    inside = []  # per axis: (outputs, taps) whether the tap reads inside the input
    for k, s, p, d, n, o in zip(kernel, stride, padding, dilation, in_size, out_size):
        read = np.arange(o)[:, None] * s + np.arange(k)[None, :] * d - p
        inside.append((read >= 0) & (read < n))
    live = (inside[0][:, None, None, :, None, None] & inside[1][None, :, None, None, :, None]
            & inside[2][None, None, :, None, None, :]).reshape(math.prod(out_size), math.prod(kernel))
    _, taps = np.nonzero(live)
    a, b, e = np.unravel_index(taps, kernel)
    x_offsets = (((a * dilation[0]) * in_size[1] + b * dilation[1]) * in_size[2] + e * dilation[2]) * n_pad
    w_offsets = math.prod(kernel) - 1 - taps if turned else taps
    starts = np.concatenate([[0], np.cumsum(live.sum(axis=1))])
    arrays = tuple(np.ascontiguousarray(v, dtype=np.int64) for v in (x_offsets, w_offsets, starts))
    for v in arrays:
        v.flags.writeable = False
    return arrays


def _aligned_empty(shape, dtype, alignment=64):
    """np.empty(shape, dtype) starting on an `alignment`-byte boundary (numpy's start 16 bytes past one, so that
    every 64-byte vector load straddles two cache lines)."""
    dtype = np.dtype(dtype)
    raw = np.empty(math.prod(shape) * dtype.itemsize + alignment, dtype=np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start:start + math.prod(shape) * dtype.itemsize].view(dtype).reshape(shape)


def _padded(a, axis, multiple):
    """a C-contiguous, with zeros appended along `axis` up to a multiple of `multiple`."""
    if a.shape[axis] % multiple == 0:
        return _operand(a)
    shape = list(a.shape)
    shape[axis] = -(-shape[axis] // multiple) * multiple
    out = np.zeros(shape, dtype=a.dtype)
    out[(slice(None),) * axis + (slice(0, a.shape[axis]),)] = a
    return out


def _batch_minor_forward(x, w, g, bias, activation=None, divisor=0.0):
    c_out, c_in, taps = w.shape[0], w.shape[1], math.prod(g.kernel)
    weights = _padded(w.reshape(c_out, c_in * taps), 0, _register_tile(c_out, x)[0])
    return _batch_minor_conv(x, g, weights, taps, c_in * taps, False, c_out, bias, activation, divisor)


def _batch_minor_input(y, w, g):
    """The gradient in x at stride 1: the convolution of y, padded by d * (k - 1) - p, with w turned (taps
    reversed, in and out swapped), which the weight offsets address in w (O, C_pad, K) itself."""
    c_out, c_in, taps = w.shape[0], w.shape[1], math.prod(g.kernel)
    weights = _padded(w.reshape(c_out, c_in, taps), 1, _register_tile(c_in, y)[0])
    padding = tuple(d * (k - 1) - p for d, k, p in zip(g.dilation, g.kernel, g.padding))
    turned = ConvGeometry(g.kernel, (1, 1, 1), padding, g.dilation, 1, g.out_size, g.in_size)
    return _batch_minor_conv(y, turned, weights, weights.shape[1] * taps, taps, True, c_in)


# --- the direct (stride-1) convolution's padded grid, see minigrad_kernels/cpu/direct_conv.py -------

def _direct(g, c_in, c_out):
    """The direct kernel for stride 1 and one input channel per group (depthwise layers, and LeNet's first
    layer under 16 images, where the batch-minor kernel does not take it); tiled im2col + GEMM otherwise.
    Measured on one thread (process time, median of 11): for
    LeNet's 1->6 layer, direct 2.6 ms forward against 3.7 ms; for its 6->16 layer, 7.8 against 7.1."""
    return g.stride == (1, 1, 1) and c_in // g.groups == 1 and c_out // g.groups <= 16


def _grid(g):
    """(Dp, Hp, Wp): the padded input that a stride-1 convolution reads exactly."""
    return tuple(o + d * (k - 1) for o, d, k in zip(g.out_size, g.dilation, g.kernel))


def _span(g, grid):
    (od, oh, ow), (_, hp, wp) = g.out_size, grid
    return ((od - 1) * hp + (oh - 1)) * wp + ow


def _offsets(g, grid):
    return direct_conv.grid_offsets(grid, g.kernel, g.dilation)


def _taps(w):
    return np.ascontiguousarray(w).reshape(w.shape[0], w.shape[1], math.prod(w.shape[2:]))


def _overlap(size, grid, before):
    """Slices of the input and of the grid that hold the same elements along each axis."""
    lengths = [min(n, m - b) for n, m, b in zip(size, grid, before)]
    return (tuple(slice(0, n) for n in lengths), tuple(slice(b, b + n) for b, n in zip(before, lengths)))


def _to_grid(x, g, grid):
    """x (N, C, *in) placed on the padded grid, flattened to (N, C, S)."""
    if grid == tuple(x.shape[2:]) and g.padding == (0, 0, 0):
        return np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], math.prod(grid))
    out = np.zeros(x.shape[:2] + grid, dtype=x.dtype)
    inside, on_grid = _overlap(x.shape[2:], grid, g.padding)
    out[(Ellipsis,) + on_grid] = x[(Ellipsis,) + inside]
    return out.reshape(x.shape[0], x.shape[1], math.prod(grid))


def _onto_grid(y, grid):
    """y (N, C, *out) at the top-left of each grid row, zero elsewhere, flattened to (N, C, S)."""
    out = np.zeros(y.shape[:2] + grid, dtype=y.dtype)
    out[(Ellipsis,) + tuple(slice(0, n) for n in y.shape[2:])] = y
    return out.reshape(y.shape[0], y.shape[1], math.prod(grid))


def _from_grid(flat, size, grid, before):
    """The (N, C, *size) block of a flattened grid that starts at `before`."""
    volume = flat.reshape(flat.shape[:2] + grid)
    if before == (0, 0, 0) and all(n <= m for n, m in zip(size, grid)):
        out = np.empty(flat.shape[:2] + tuple(size), dtype=flat.dtype)
        _run(direct_conv.crop, out.size, volume, out)  # a kernel: numpy's strided copy took 1.6 ms of a LeNet step
        return out
    out = np.zeros(flat.shape[:2] + tuple(size), dtype=flat.dtype)
    inside, on_grid = _overlap(size, grid, before)
    out[(Ellipsis,) + inside] = volume[(Ellipsis,) + on_grid]
    return out


CPU_BACKEND = CPUBackend()
