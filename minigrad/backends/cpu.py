"""The CPU backend: numpy where numpy is already compiled C, Numba kernels where they beat it.

Numba's thread pool does the parallel work. BLAS (numpy's, and SciPy's, which Numba's np.dot calls) is
limited to MINIGRAD_BLAS_THREADS threads (default 1) when this module is imported: OpenBLAS's spinning
threads otherwise fight Numba's for the cores, and a LeNet training step measured 121 ms with two BLAS
threads against 54 ms with one.
"""
import importlib
import os

import numpy as np
from threadpoolctl import threadpool_limits

from minigrad_kernels.cpu import direct_conv
from minigrad_kernels.cpu import elementwise as elementwise_kernels
from minigrad_kernels.cpu import gemm as gemm_kernels
from minigrad_kernels.cpu import im2col as im2col_kernels
from minigrad_kernels.cpu import pad as pad_kernels
from minigrad_kernels.cpu import pool as pool_kernels
from minigrad_kernels.cpu import reduce as reduce_kernels

# Numba's np.dot (in the GEMM kernels) calls SciPy's BLAS: load it first so that the limit covers it too.
importlib.import_module("scipy.linalg.cython_blas")
threadpool_limits(limits=int(os.environ.get("MINIGRAD_BLAS_THREADS", "1")), user_api="blas")


def _quiet(ufunc):
    """A numpy function that, like PyTorch, gives inf/nan without a warning."""
    def call(*args, **kwargs):
        with np.errstate(all="ignore"):
            return ufunc(*args, **kwargs)
    call.__name__ = ufunc.__name__
    return call


class CPUBackend:
    """Array operations on numpy arrays. Every op in minigrad.ops goes through these names."""

    name = "cpu"

    # creation and conversion
    asarray = staticmethod(np.asarray)
    zeros = staticmethod(np.zeros)
    ones = staticmethod(np.ones)
    full = staticmethod(np.full)
    copy = staticmethod(np.array)
    shares_memory = staticmethod(np.may_share_memory)

    @staticmethod
    def astype(x, np_dtype):
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
    add = staticmethod(_quiet(np.add))

    @staticmethod
    def add_into(x, y):
        """x += y in place (gradient accumulation)."""
        with np.errstate(all="ignore"):
            np.add(x, y, out=x)
    subtract = staticmethod(_quiet(np.subtract))
    multiply = staticmethod(_quiet(np.multiply))
    divide = staticmethod(_quiet(np.divide))
    floor_divide = staticmethod(_quiet(np.floor_divide))
    remainder = staticmethod(_quiet(np.remainder))
    power = staticmethod(_quiet(np.power))
    negative = staticmethod(np.negative)
    exp = staticmethod(_quiet(np.exp))
    log = staticmethod(_quiet(np.log))
    sqrt = staticmethod(_quiet(np.sqrt))
    sin = staticmethod(_quiet(np.sin))
    cos = staticmethod(_quiet(np.cos))
    tanh = staticmethod(np.tanh)
    abs = staticmethod(np.abs)
    sign = staticmethod(np.sign)
    floor = staticmethod(np.floor)
    clip = staticmethod(np.clip)
    maximum = staticmethod(np.maximum)
    minimum = staticmethod(np.minimum)
    where = staticmethod(np.where)
    equal = staticmethod(np.equal)
    not_equal = staticmethod(np.not_equal)
    less = staticmethod(np.less)
    less_equal = staticmethod(np.less_equal)
    greater = staticmethod(np.greater)
    greater_equal = staticmethod(np.greater_equal)
    logical_not = staticmethod(np.logical_not)
    bitwise_and = staticmethod(np.bitwise_and)
    bitwise_or = staticmethod(np.bitwise_or)
    bitwise_xor = staticmethod(np.bitwise_xor)
    invert = staticmethod(np.invert)
    isnan = staticmethod(np.isnan)
    isinf = staticmethod(np.isinf)

    @staticmethod
    def sigmoid(x):
        # exp(min(x, 0)) / (1 + exp(-|x|)): 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below, without
        # overflow and with full relative precision for large negative x (0.5 + 0.5 tanh(x / 2) cancels
        # there); no mask, as masked numpy ops measured 5-10x slower than this whole function
        out = np.asarray(np.exp(-np.abs(x)))  # an array even for 0-d input, for the in-place steps
        out += 1
        np.reciprocal(out, out=out)
        tail = np.exp(np.minimum(x, 0))
        out *= tail
        return out

    @staticmethod
    def sigmoid_backward(grad, y):
        """grad * y * (1 - y): one parallel pass instead of numpy's three (measured 5x on 1.2M elements)."""
        if grad.shape != y.shape:
            return grad * y * (1 - y)
        flat = elementwise_kernels.sigmoid_backward(np.ascontiguousarray(grad).reshape(-1),
                                                    np.ascontiguousarray(y).reshape(-1))
        return flat.reshape(grad.shape)

    @staticmethod
    def erf(x):
        return elementwise_kernels.erf(np.ascontiguousarray(x).reshape(-1)).reshape(x.shape)

    @staticmethod
    def relu(x):
        return np.maximum(x, 0).astype(x.dtype, copy=False)

    # reductions
    sum = staticmethod(np.sum)
    prod = staticmethod(np.prod)
    all = staticmethod(np.all)
    any = staticmethod(np.any)
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
    argmax = staticmethod(np.argmax)
    argmin = staticmethod(np.argmin)

    @staticmethod
    def max_with_indices(x, axis, take_max):
        """(values, indices) of the max (or min) along `axis`; the axis is removed.

        numpy's SIMD argmax wins along the last axis; along any other axis the Numba kernel's one
        strided pass is 7-30x faster than numpy's argmax + take_along_axis (benchmarks/reductions.py).
        """
        shape = x.shape
        if axis == x.ndim - 1:
            indices = (np.argmax if take_max else np.argmin)(x, axis=axis)
            return np.take_along_axis(x, indices[..., None], axis)[..., 0], indices
        outer = int(np.prod(shape[:axis], dtype=np.int64))
        inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
        x3 = np.ascontiguousarray(x).reshape(outer, shape[axis], inner)
        values, indices = reduce_kernels.max_along_middle(x3, take_max)
        out_shape = shape[:axis] + shape[axis + 1:]
        return values.reshape(out_shape), indices.reshape(out_shape)

    # shapes and indexing
    reshape = staticmethod(np.reshape)
    transpose = staticmethod(np.transpose)
    broadcast_to = staticmethod(np.broadcast_to)
    concatenate = staticmethod(np.concatenate)

    @staticmethod
    def take_along_axis(x, indices, axis):
        if axis == x.ndim - 1 and x.ndim >= 2 and x.shape[:-1] == indices.shape[:-1] and x.size and indices.size:
            rows = pool_kernels.gather_rows(np.ascontiguousarray(x).reshape(-1, x.shape[-1]),
                                            np.ascontiguousarray(indices).reshape(-1, indices.shape[-1]))
            return rows.reshape(indices.shape)
        return np.take_along_axis(x, indices, axis)

    @staticmethod
    def view(x, shape):
        """Reshape without copying, or raise ValueError if the strides do not allow it."""
        out = x.view()
        out.shape = shape
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
        """zeros(shape) with values added at `indices` along `axis` (take_along_axis's adjoint)."""
        if axis == len(shape) - 1 and len(shape) >= 2 and tuple(shape[:-1]) == indices.shape[:-1] and values.size:
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
    matmul = staticmethod(np.matmul)

    # convolution: 5-d arrays (N, C, D, H, W); `g` is a minigrad.backends.geometry.ConvGeometry
    @staticmethod
    def _columns(x, g):
        """im2col of x as a (groups, C/groups * K, N * L) array, ready for one batched GEMM."""
        n_batch, channels = x.shape[:2]
        k, length = int(np.prod(g.kernel)), int(np.prod(g.out_size))
        buffer = np.empty((channels * k, n_batch, length), dtype=x.dtype)
        im2col_kernels.im2col(np.ascontiguousarray(x), g.kernel, g.stride, g.padding, g.dilation, g.out_size,
                              buffer.transpose(1, 0, 2))
        return buffer.reshape(g.groups, channels // g.groups * k, n_batch * length)

    @staticmethod
    def _grouped_outputs(y, g):
        """(N, C_out, *out) as (groups, C_out/groups, N * L)."""
        n_batch, channels = y.shape[:2]
        length = int(np.prod(g.out_size))
        by_channel = np.ascontiguousarray(y.reshape(n_batch, channels, length).transpose(1, 0, 2))
        return by_channel.reshape(g.groups, channels // g.groups, n_batch * length)

    @staticmethod
    def conv(x, w, g):
        """Cross-correlation of x (N, C, *in) with w (C_out, C/groups, *kernel)."""
        if _direct(g, w.shape[0]):
            grid = _grid(g)
            out = np.zeros((x.shape[0], w.shape[0], int(np.prod(grid))), dtype=x.dtype)
            direct_conv.conv_grid(_to_grid(x, g, grid), _taps(w), _offsets(g, grid), _span(g, grid), out)
            return _from_grid(out, g.out_size, grid)
        n_batch, c_out = x.shape[0], w.shape[0]
        out = np.matmul(w.reshape(g.groups, c_out // g.groups, w[0].size), CPUBackend._columns(x, g))
        return np.ascontiguousarray(out.reshape(c_out, n_batch, *g.out_size).swapaxes(0, 1))

    @staticmethod
    def conv_transpose(y, w, g):
        """The adjoint of conv in x: y (N, C_out, *out) -> (N, C, *in)."""
        n_batch, c_in = y.shape[0], w.shape[1] * g.groups
        if _direct(g, w.shape[0]):
            grid = _grid(g)
            grad = np.zeros((n_batch, c_in, int(np.prod(grid))), dtype=y.dtype)
            direct_conv.conv_grid_transpose(_onto_grid(y, grid), _taps(w), _offsets(g, grid), _span(g, grid), grad)
            return _from_grid(grad, g.in_size, grid, g.padding)
        w_t = w.reshape(g.groups, w.shape[0] // g.groups, w[0].size).transpose(0, 2, 1)
        cols = np.matmul(w_t, CPUBackend._grouped_outputs(y, g))
        cols = cols.reshape(c_in * int(np.prod(g.kernel)), n_batch, int(np.prod(g.out_size))).transpose(1, 0, 2)
        x = np.zeros((n_batch, c_in, *g.in_size), dtype=y.dtype)
        im2col_kernels.col2im(cols, g.kernel, g.stride, g.padding, g.dilation, g.out_size, x)
        return x

    @staticmethod
    def conv_weight(x, y, g):
        """The adjoint of conv in w: correlation of x with y, shaped like the weight."""
        c_out, c_in = y.shape[1], x.shape[1]
        if _direct(g, c_out):
            # one small GEMM per image on batch-major columns, summed: measured 1.4-1.6x faster than a
            # direct weight kernel for LeNet's layers (whose dot products were too short to vectorize well)
            n_batch, groups = x.shape[0], g.groups
            cols = CPUBackend.unfold(x, g).reshape(n_batch, groups, c_in // groups * int(np.prod(g.kernel)),
                                                   int(np.prod(g.out_size)))
            grads = np.ascontiguousarray(y).reshape(n_batch, groups, c_out // groups, int(np.prod(g.out_size)))
            dw = [gemm_kernels.sum_of_products_nt(np.ascontiguousarray(grads[:, i]), np.ascontiguousarray(cols[:, i]))
                  for i in range(groups)]
            return np.stack(dw).reshape(c_out, c_in // groups, *g.kernel)
        dw = np.matmul(CPUBackend._grouped_outputs(y, g), CPUBackend._columns(x, g).transpose(0, 2, 1))
        return dw.reshape(c_out, c_in // g.groups, *g.kernel)

    @staticmethod
    def unfold(x, g):
        """(N, C * K, L) columns of a 5-d input, torch.nn.functional.unfold's layout."""
        cols = np.empty((x.shape[0], x.shape[1] * int(np.prod(g.kernel)), int(np.prod(g.out_size))), x.dtype)
        im2col_kernels.im2col(np.ascontiguousarray(x), g.kernel, g.stride, g.padding, g.dilation, g.out_size,
                              cols)
        return cols

    @staticmethod
    def fold(cols, channels, g):
        x = np.zeros((cols.shape[0], channels, *g.in_size), dtype=cols.dtype)
        im2col_kernels.col2im(np.ascontiguousarray(cols), g.kernel, g.stride, g.padding, g.dilation,
                              g.out_size, x)
        return x

    # pooling: 4-d arrays (N, C, H, W)
    @staticmethod
    def max_pool_indices(x, kernel, stride, padding, dilation, out_size):
        return pool_kernels.max_pool_indices(np.ascontiguousarray(x), kernel, stride, padding, dilation, out_size)

    @staticmethod
    def window_max_indices(x, windows):
        return pool_kernels.window_max_indices(np.ascontiguousarray(x), *windows[:4])

    @staticmethod
    def window_mean(x, windows):
        return pool_kernels.window_mean(np.ascontiguousarray(x), *windows)

    @staticmethod
    def window_mean_adjoint(grad, windows, height, width):
        return pool_kernels.window_mean_adjoint(np.ascontiguousarray(grad), *windows, height, width)

    # padding: (P, D, H, W) planes and one index map per padded axis
    @staticmethod
    def pad_gather(x, maps, value):
        return pad_kernels.pad_gather(np.ascontiguousarray(x), *maps, value)

    @staticmethod
    def pad_scatter_add(grad, maps, in_size):
        return pad_kernels.pad_scatter_add(np.ascontiguousarray(grad), *maps, *in_size)


# --- the direct (stride-1) convolution's padded grid, see minigrad_kernels/cpu/direct_conv.py -------

def _direct(g, c_out):
    """The direct kernel for stride 1 and few output channels per group; im2col + GEMM otherwise.
    Measured (benchmarks/conv.py): direct is 2-3x faster for LeNet's 1->6 and 6->16 layers and 1.5-2x
    slower for 64->64, where the GEMM's reuse of each column pays for building the columns."""
    return g.stride == (1, 1, 1) and c_out // g.groups <= 16


def _grid(g):
    """(Dp, Hp, Wp): the padded input that a stride-1 convolution reads exactly."""
    return tuple(o + d * (k - 1) for o, d, k in zip(g.out_size, g.dilation, g.kernel))


def _span(g, grid):
    (od, oh, ow), (_, hp, wp) = g.out_size, grid
    return ((od - 1) * hp + (oh - 1)) * wp + ow


def _offsets(g, grid):
    return direct_conv.grid_offsets(grid, g.kernel, g.dilation)


def _taps(w):
    return np.ascontiguousarray(w).reshape(w.shape[0], w.shape[1], int(np.prod(w.shape[2:])))


def _overlap(size, grid, before):
    """Slices of the input and of the grid that hold the same elements along each axis."""
    lengths = [min(n, m - b) for n, m, b in zip(size, grid, before)]
    return (tuple(slice(0, n) for n in lengths), tuple(slice(b, b + n) for b, n in zip(before, lengths)))


def _to_grid(x, g, grid):
    """x (N, C, *in) placed on the padded grid, flattened to (N, C, S)."""
    if grid == tuple(x.shape[2:]) and g.padding == (0, 0, 0):
        return np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], int(np.prod(grid)))
    out = np.zeros(x.shape[:2] + grid, dtype=x.dtype)
    inside, on_grid = _overlap(x.shape[2:], grid, g.padding)
    out[(Ellipsis,) + on_grid] = x[(Ellipsis,) + inside]
    return out.reshape(x.shape[0], x.shape[1], int(np.prod(grid)))


def _onto_grid(y, grid):
    """y (N, C, *out) at the top-left of each grid row, zero elsewhere, flattened to (N, C, S)."""
    out = np.zeros(y.shape[:2] + grid, dtype=y.dtype)
    out[(Ellipsis,) + tuple(slice(0, n) for n in y.shape[2:])] = y
    return out.reshape(y.shape[0], y.shape[1], int(np.prod(grid)))


def _from_grid(flat, size, grid, before=(0, 0, 0)):
    """The (N, C, *size) block of a flattened grid that starts at `before`."""
    volume = flat.reshape(flat.shape[:2] + grid)
    if before == (0, 0, 0) and all(n <= m for n, m in zip(size, grid)):
        return np.ascontiguousarray(volume[(Ellipsis,) + tuple(slice(0, n) for n in size)])
    out = np.zeros(flat.shape[:2] + tuple(size), dtype=flat.dtype)
    inside, on_grid = _overlap(size, grid, before)
    out[(Ellipsis,) + inside] = volume[(Ellipsis,) + on_grid]
    return out


CPU_BACKEND = CPUBackend()
