"""The CUDA backend: minigrad.backends.interface on numba device arrays, run by numba.cuda kernels.

Views (transpose, broadcast, basic indexing, reshape where strides allow) are strided device
arrays, as numpy's are; every kernel reads any strides, so nothing is copied to make a view.
Indices that ops compute on the host (padding maps, pooling windows, advanced-indexing positions)
are small and cross to the device with the op. Tensor data crosses only in from_numpy/to_numpy, and
when an advanced index is a device tensor (its positions are worked out on the host).
"""
import collections
import functools

import numpy as np

from minigrad.backends.cpu import CPUBackend
from minigrad.backends.interface import ViewError
from minigrad.backends.shared import SharedBackend
from minigrad_kernels.cuda import arrays
from minigrad_kernels.cuda import conv as conv_kernels
from minigrad_kernels.cuda import elementwise as ek
from minigrad_kernels.cuda import index as index_kernels
from minigrad_kernels.cuda import matmul as matmul_kernels
from minigrad_kernels.cuda import optim as optim_kernels
from minigrad_kernels.cuda import pool as pool_kernels
from minigrad_kernels.cuda import reduce as rk
from minigrad_kernels.cuda import sort as sort_kernels


def _is_array(x):
    return hasattr(x, "__cuda_array_interface__") or hasattr(x, "_ary")


@functools.lru_cache(maxsize=None)
def _result_dtype(ufunc, *dtypes):
    """numpy's output dtype of ufunc for these operand dtypes (NEP 50 rules)."""
    return ufunc(*(np.empty(0, d) for d in dtypes)).dtype


class _HostCopies:
    """Device copies of small host index arrays (pad maps, pooling windows), reused by content."""

    def __init__(self, capacity=256):
        self._cache = collections.OrderedDict()
        self._capacity = capacity

    def __call__(self, host):
        host = np.asarray(host, order="C")
        key = (host.dtype.str, host.shape, host.tobytes())
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = arrays.to_device(host)
            if len(self._cache) > self._capacity:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return found


_host_copy = _HostCopies()


def _scalar(value, dtype):
    return _host_copy(np.asarray(value, dtype=dtype))


def _operands(values):
    """Device arrays for the operands (scalars become cached 0-d arrays of the dtype numpy's promotion
    gives them next to the array operands), and their dtypes, to decide the result's dtype with."""
    arrays_in = [v for v in values if _is_array(v)]
    weak = np.result_type(*(a.dtype for a in arrays_in)) if arrays_in else None
    out, dtypes = [], []
    for v in values:
        if _is_array(v):
            out.append(v)
            dtypes.append(v.dtype)
        else:
            dtype = np.asarray(v).dtype if weak is None else np.result_type(weak, v)
            out.append(_scalar(v, dtype))
            dtypes.append(dtype)
    return out, dtypes


_FLOAT16 = np.dtype(np.float16)


def _elementwise(device_fn, ufunc, *values, dtype=None):
    operands, dtypes = _operands(values)
    shape = np.broadcast_shapes(*(tuple(a.shape) for a in operands))
    out_dtype = _result_dtype(ufunc, *dtypes) if dtype is None else np.dtype(dtype)
    kernel = (ek.unary, ek.binary, ek.ternary)[len(operands) - 1](device_fn)
    if _FLOAT16 in dtypes:  # numba.cuda's float16 lacks most math functions: compute in float32, as PyTorch
        operands = [CUDABackend.astype(a, np.float32) if a.dtype == _FLOAT16 else a for a in operands]
        out = ek.launch(kernel, shape, np.float32 if out_dtype == _FLOAT16 else out_dtype, *operands)
        return CUDABackend.astype(out, out_dtype)
    return ek.launch(kernel, shape, out_dtype, *operands)


def _unary(device_fn, ufunc):
    return staticmethod(lambda x: _elementwise(device_fn, ufunc, x))


def _binary(device_fn, ufunc):
    return staticmethod(lambda a, b: _elementwise(device_fn, ufunc, a, b))


def _layout(x):
    """A host numpy array with x's shape and strides that owns no data: numpy computes the layout of
    views and reshapes on it, and as_strided applies them to the device array."""
    return np.lib.stride_tricks.as_strided(np.zeros(1, x.dtype), tuple(x.shape), tuple(x.strides))


def _view_like(x, layout_view, layout):
    offset = layout_view.__array_interface__["data"][0] - layout.__array_interface__["data"][0]
    return arrays.as_strided(x, layout_view.shape, layout_view.strides, offset)


def _to_host(x):
    """A new numpy array with x's values (x may be any strided view)."""
    return arrays.to_host(x if arrays.is_c_contiguous(x) else ek.contiguous(x))


def _is_advanced(key):
    """Does the key index with arrays (or bools, which numpy treats as 0-d masks)?"""
    return any(_is_array(k) or isinstance(k, (np.ndarray, bool, np.bool_)) for k in key)


def _basic_view(x, key):
    """x[key] for a key of ints, slices, None and Ellipsis: a view of x's storage."""
    layout = _layout(x)
    if not any(k is Ellipsis for k in key):
        key = key + (Ellipsis,)  # so that numpy returns a 0-d view, not a scalar, for all-int keys
    return _view_like(x, layout[key], layout)


def _fitted(values, ndim):
    """values without the leading size-1 dims that assignment ignores (x[0] = ones(1, 3))."""
    shape = tuple(values.shape)
    while len(shape) > ndim and shape[0] == 1:
        shape = shape[1:]
    return values if len(shape) == values.ndim else \
        arrays.as_strided(values, shape, tuple(values.strides)[values.ndim - len(shape):])


def _positions(shape, key):
    """Flat C-order positions of shape[key] (device index arrays are copied to the host)."""
    host_key = tuple(_to_host(k) if _is_array(k) else k for k in key)
    size = int(np.prod(shape, dtype=np.int64))
    return np.arange(size, dtype=np.int64).reshape(shape)[host_key]


def _fold_identity(op, dtype):
    dtype = np.dtype(dtype)
    if op in (ek.add, rk.logical_or):
        return dtype.type(0)
    if op in (ek.multiply, rk.logical_and):
        return dtype.type(1)
    high = op is ek.minimum
    if dtype.kind == "f":
        return dtype.type(np.inf if high else -np.inf)
    if dtype.kind == "b":
        return dtype.type(high)
    info = np.iinfo(dtype)
    return dtype.type(info.max if high else info.min)


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(sorted(int(a) % ndim for a in axes)) if ndim else ()


def _reduced_last(x, axes):
    """x permuted so the reduced axes come last, as an 8-d view; the kept shape; the reduced count."""
    kept = [d for d in range(x.ndim) if d not in axes]
    order = kept + list(axes)
    view = arrays.as_strided(x, [x.shape[d] for d in order], [x.strides[d] for d in order])
    return arrays.rank8(view), tuple(x.shape[d] for d in kept), int(np.prod([x.shape[d] for d in axes],
                                                                            dtype=np.int64))


def _out_shape(shape, axes, kept_shape, keepdims):
    return tuple(1 if d in axes else n for d, n in enumerate(shape)) if keepdims else kept_shape


def _reduce(x, axis, keepdims, op, out_dtype):
    axes = _axes(axis, x.ndim)
    view, kept_shape, n_reduced = _reduced_last(x, axes)
    out = arrays.empty((int(np.prod(kept_shape, dtype=np.int64)),), out_dtype)
    rk.reduce_into(op, out, view, n_reduced, _fold_identity(op, out_dtype))
    return CUDABackend.reshape(out, _out_shape(x.shape, axes, kept_shape, keepdims))


def _arg_reduce(x, axis, keepdims, take_max):
    axes = _axes(axis, x.ndim)
    view, kept_shape, n_reduced = _reduced_last(x, axes)
    if n_reduced == 0:
        raise ValueError("attempt to get argmax of an empty sequence")
    count = int(np.prod(kept_shape, dtype=np.int64))
    values, indices = arrays.empty((count,), x.dtype), arrays.empty((count,), np.int64)
    rk.arg_reduce_into(values, indices, view, n_reduced, take_max)
    shape = _out_shape(x.shape, axes, kept_shape, keepdims)
    return CUDABackend.reshape(values, shape), CUDABackend.reshape(indices, shape)


def _sum_dtype(x, dtype):
    if dtype is not None:
        return np.dtype(dtype)
    return {"b": np.dtype(np.int64), "i": np.dtype(np.int64), "u": np.dtype(np.uint64)}.get(x.dtype.kind, x.dtype)


def _batch3(x, batch, rows, cols):
    """x broadcast to batch + (rows, cols), as a 3-d view (B, rows, cols) when its strides allow,
    else as a C-contiguous copy."""
    full = batch + (rows, cols)
    view = arrays.as_strided(x, full, arrays.broadcast_strides(x, full))
    if len(batch) == 1:
        return view
    if not batch:
        return arrays.as_strided(view, (1, rows, cols), (0,) + tuple(view.strides))
    count = int(np.prod(batch, dtype=np.int64))
    return CUDABackend.reshape(view, (count, rows, cols))


class CUDABackend(SharedBackend):
    """minigrad.backends.interface.Backend on numba device arrays, with numpy's semantics."""

    name = "cuda"

    # creation and conversion
    @staticmethod
    def asarray(value, dtype=None):
        if _is_array(value):
            return value if dtype is None else CUDABackend.astype(value, np.dtype(dtype))
        return arrays.to_device(np.asarray(value, dtype=dtype))

    @staticmethod
    def full(shape, fill_value, dtype=None):
        dtype = np.asarray(fill_value).dtype if dtype is None else np.dtype(dtype)
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        out = arrays.empty(shape, dtype)
        ek.assign(out, _scalar(fill_value, dtype))
        return out

    @staticmethod
    def zeros(shape, dtype=None):
        return CUDABackend.full(shape, 0, np.float64 if dtype is None else dtype)

    @staticmethod
    def empty(shape, np_dtype):
        return arrays.empty(shape, np_dtype)

    @staticmethod
    def copy(x, order="K"):
        """A C-contiguous copy whatever the order."""
        return ek.contiguous(x)

    @staticmethod
    def contiguous(x):
        return x if arrays.is_c_contiguous(x) else ek.contiguous(x)

    shares_memory = staticmethod(arrays.shares_memory)
    to_numpy = staticmethod(_to_host)

    @staticmethod
    def from_numpy(x):
        return arrays.to_device(x)

    @staticmethod
    def is_contiguous(x):
        return arrays.is_c_contiguous(x)

    @staticmethod
    def assign(dst, src):
        """dst[...] = src in place; like numpy, refuses a broadcast (stride-0) destination."""
        if any(s == 0 and n > 1 for n, s in zip(dst.shape, dst.strides)):
            raise ValueError("assignment destination is read-only")
        ek.assign(dst, _fitted(src, dst.ndim))

    @staticmethod
    def astype(x, np_dtype):
        return x if x.dtype == np.dtype(np_dtype) else ek.contiguous(x, np.dtype(np_dtype))

    # elementwise
    add = _binary(ek.add, np.add)
    subtract = _binary(ek.subtract, np.subtract)
    multiply = _binary(ek.multiply, np.multiply)
    divide = _binary(ek.divide, np.divide)
    floor_divide = _binary(ek.floor_divide, np.floor_divide)
    remainder = _binary(ek.remainder, np.remainder)
    power = _binary(ek.power, np.power)
    maximum = _binary(ek.maximum, np.maximum)
    minimum = _binary(ek.minimum, np.minimum)
    equal = _binary(ek.equal, np.equal)
    not_equal = _binary(ek.not_equal, np.not_equal)
    less = _binary(ek.less, np.less)
    less_equal = _binary(ek.less_equal, np.less_equal)
    greater = _binary(ek.greater, np.greater)
    greater_equal = _binary(ek.greater_equal, np.greater_equal)
    bitwise_and = _binary(ek.bitwise_and, np.bitwise_and)
    bitwise_or = _binary(ek.bitwise_or, np.bitwise_or)
    bitwise_xor = _binary(ek.bitwise_xor, np.bitwise_xor)
    negative = _unary(ek.negative, np.negative)
    exp = _unary(ek.exp, np.exp)
    log = _unary(ek.log, np.log)
    sqrt = _unary(ek.sqrt, np.sqrt)
    sin = _unary(ek.sin, np.sin)
    cos = _unary(ek.cos, np.cos)
    tanh = _unary(ek.tanh, np.tanh)
    abs = _unary(ek.absolute, np.abs)  # noqa: A003 (the backend interface's name for numpy's abs)
    sign = _unary(ek.sign, np.sign)
    floor = _unary(ek.floor, np.floor)
    isnan = _unary(ek.isnan, np.isnan)
    isinf = _unary(ek.isinf, np.isinf)
    logical_not = _unary(ek.logical_not, np.logical_not)

    @staticmethod
    def invert(x):
        # numba follows Python, where ~True is -2 (which would store as True): bools need logical not
        return _elementwise(ek.logical_not if x.dtype == np.bool_ else ek.invert, np.invert, x)
    sigmoid = _unary(ek.sigmoid, np.exp)
    erf = _unary(ek.erf, np.exp)
    relu = _unary(ek.relu, np.positive)

    @staticmethod
    def sigmoid_backward(grad, y):
        return _elementwise(ek.sigmoid_backward, np.multiply, grad, y)

    @staticmethod
    def relu_backward(grad, y):
        return _elementwise(ek.relu_backward, np.multiply, grad, y)

    @staticmethod
    def add_into(x, y):
        """x += y in place (gradient accumulation)."""
        ek.assign(x, CUDABackend.add(x, y))

    @staticmethod
    def clip(x, low, high):
        if low is not None:
            x = CUDABackend.maximum(x, low)
        if high is not None:
            x = CUDABackend.minimum(x, high)
        return x

    @staticmethod
    def where(condition, a, b):
        operands, dtypes = _operands((a, b))
        return _elementwise(ek.select, None, condition, *operands, dtype=_result_dtype(np.add, *dtypes))

    # reductions
    @staticmethod
    def sum(x, axis=None, keepdims=False, dtype=None):  # noqa: A003
        return _reduce(x, axis, keepdims, ek.add, _sum_dtype(x, dtype))

    @staticmethod
    def prod(x, axis=None, keepdims=False, dtype=None):
        return _reduce(x, axis, keepdims, ek.multiply, _sum_dtype(x, dtype))

    @staticmethod
    def all(x, axis=None, keepdims=False):  # noqa: A003
        return _reduce(x, axis, keepdims, rk.logical_and, np.bool_)

    @staticmethod
    def any(x, axis=None, keepdims=False):  # noqa: A003
        return _reduce(x, axis, keepdims, rk.logical_or, np.bool_)

    @staticmethod
    def amax(x, axis=None, keepdims=False):
        return _reduce(x, axis, keepdims, ek.maximum, x.dtype)

    @staticmethod
    def amin(x, axis=None, keepdims=False):
        return _reduce(x, axis, keepdims, ek.minimum, x.dtype)

    @staticmethod
    def argmax(x, axis=None, keepdims=False):
        return _arg_reduce(x, axis, keepdims, True)[1]

    @staticmethod
    def argmin(x, axis=None, keepdims=False):
        return _arg_reduce(x, axis, keepdims, False)[1]

    @staticmethod
    def max_with_indices(x, axis, take_max):
        return _arg_reduce(x, axis, False, take_max)

    @staticmethod
    def argsort(x, axis, descending):
        """Each row along axis sorted by one block in shared memory (minigrad_kernels/cuda/sort.py); rows
        longer than its MAX_ROW make a round trip to the host."""
        axis %= x.ndim
        n = x.shape[axis]
        if n > sort_kernels.MAX_ROW:
            return CUDABackend.from_numpy(CPUBackend.argsort(_to_host(x), axis, descending))
        last = [d for d in range(x.ndim) if d != axis] + [axis]
        moved = CUDABackend.transpose(x, last)
        key = np.dtype(np.float32) if x.dtype == np.float16 else x.dtype if x.dtype.kind == "f" else np.dtype(np.int64)
        moved = CUDABackend.astype(moved, key)  # kernels for float32, float64 and int64 keys
        out = arrays.empty((int(np.prod(moved.shape[:-1], dtype=np.int64)), n), np.int64)
        sort_kernels.argsort_rows(out, arrays.rank8(moved), descending)
        back = list(range(x.ndim - 1))
        back.insert(axis, x.ndim - 1)
        return ek.contiguous(CUDABackend.transpose(CUDABackend.reshape(out, moved.shape), back))

    # shapes and indexing
    @staticmethod
    def reshape(x, shape):
        """A view when the strides allow one (as numpy decides), else a reshaped contiguous copy."""
        try:
            return CUDABackend.view(x, shape)
        except ValueError:
            return CUDABackend.view(ek.contiguous(x), shape)

    @staticmethod
    def view(x, shape):
        """Reshape without copying, or raise ViewError if the strides do not allow it."""
        layout = _layout(x)
        reshaped = layout.view()
        try:
            reshaped.shape = shape
        except AttributeError as error:  # numpy's word for strides that don't allow it
            raise ViewError(str(error)) from None
        return _view_like(x, reshaped, layout)

    @staticmethod
    def transpose(x, axes=None):
        layout = _layout(x)
        return _view_like(x, layout.transpose(axes), layout)

    @staticmethod
    def broadcast_to(x, shape):
        shape = tuple(shape)
        return arrays.as_strided(x, shape, arrays.broadcast_strides(x, shape))

    @staticmethod
    def concatenate(pieces, axis=0):
        pieces = list(pieces)
        axis = axis % pieces[0].ndim
        dtype = np.result_type(*(p.dtype for p in pieces))
        shape = list(pieces[0].shape)
        shape[axis] = sum(p.shape[axis] for p in pieces)
        out = arrays.empty(shape, dtype)
        start = 0
        for piece in pieces:
            ek.assign(arrays.as_strided(out, piece.shape, out.strides, start * out.strides[axis]), piece)
            start += piece.shape[axis]
        return out

    @staticmethod
    def getitem(x, key):
        if not _is_advanced(key):
            return _basic_view(x, key)
        positions = _positions(x.shape, key)
        out = arrays.empty(positions.shape, x.dtype)
        index_kernels.gather(arrays.flat(out), arrays.rank8(x), arrays.to_device(positions.reshape(-1)))
        return out

    @staticmethod
    def index_put(x, key, values):
        """A copy of x with x[key] = values (with repeated indices, which write wins is undefined)."""
        out = ek.contiguous(x)
        values = _operands((values,))[0][0]
        if not _is_advanced(key):
            target = _basic_view(out, key)
            ek.assign(target, _fitted(values, target.ndim))
            return out
        positions = _positions(x.shape, key)
        index_kernels.scatter(arrays.flat(out), arrays.to_device(positions.reshape(-1)),
                              arrays.rank8(_fitted(values, positions.ndim), positions.shape), False)
        return out

    @staticmethod
    def index_add(shape, key, values, np_dtype):
        """zeros(shape) with `values` added at `key`; repeated indices add up."""
        out = CUDABackend.zeros(shape, np_dtype)
        if not _is_advanced(key):  # basic indexing never repeats an element
            ek.assign(_basic_view(out, key), values)
            return out
        positions = _positions(shape, key)
        index_kernels.scatter(arrays.flat(out), arrays.to_device(positions.reshape(-1)),
                              arrays.rank8(values, positions.shape), True)
        return out

    @staticmethod
    def take_along_axis(x, indices, axis):
        axis %= x.ndim
        shape = list(np.broadcast_shapes(x.shape[:axis] + (1,) + x.shape[axis + 1:],
                                         indices.shape[:axis] + (1,) + indices.shape[axis + 1:]))
        x_shape, index_shape = list(shape), list(shape)
        x_shape[axis], index_shape[axis] = x.shape[axis], indices.shape[axis]
        out = arrays.empty(index_shape, x.dtype)
        lead = arrays.RANK - x.ndim
        index_kernels.take_along(arrays.flat(out), arrays.rank8(x, x_shape),
                                 arrays.rank8(indices, index_shape), axis + lead)
        return out

    @staticmethod
    def scatter_add_along_axis(shape, indices, values, axis):
        """zeros(shape) with values added at `indices` along `axis` (take_along_axis's adjoint)."""
        axis %= len(shape)
        out = CUDABackend.zeros(shape, values.dtype)
        lead = arrays.RANK - len(shape)
        index_kernels.scatter_add_along(arrays.rank8(out), arrays.rank8(indices),
                                        arrays.rank8(values, indices.shape), axis + lead)
        return out

    # linear algebra
    @staticmethod
    def matmul(a, b):
        a_shape, b_shape = tuple(a.shape), tuple(b.shape)
        batch = tuple(np.broadcast_shapes(a_shape[:-2], b_shape[:-2]))
        (m, k), n = a_shape[-2:], b_shape[-1]
        out = matmul_kernels.batched_matmul(_batch3(a, batch, m, k), _batch3(b, batch, k, n))
        return CUDABackend.reshape(out, batch + (m, n))

    # convolution: 5-d arrays (N, C, D, H, W); im2col + GEMM in SharedBackend
    @staticmethod
    def im2col(x, g, cols):
        conv_kernels.im2col(x, g.kernel, g.stride, g.padding, g.dilation, g.out_size, cols)

    @staticmethod
    def col2im(cols, g, channels):
        x = arrays.empty((cols.shape[0], channels) + tuple(g.in_size), cols.dtype)
        conv_kernels.col2im(cols, g.kernel, g.stride, g.padding, g.dilation, g.out_size, x)
        return x

    # pooling: 4-d arrays (N, C, H, W)
    @staticmethod
    def max_pool(x, kernel, stride, padding, dilation, out_size):
        values = arrays.empty(tuple(x.shape[:2]) + tuple(out_size), x.dtype)
        indices = arrays.empty(tuple(x.shape[:2]) + tuple(out_size), np.int64)
        pool_kernels.max_pool(x, kernel, stride, padding, dilation, values, indices)
        return values, indices

    @staticmethod
    def window_max_indices(x, windows):
        h_start, h_end, w_start, w_end = (_host_copy(w.astype(np.int64)) for w in windows[:4])
        indices = arrays.empty(tuple(x.shape[:2]) + (h_start.shape[0], w_start.shape[0]), np.int64)
        pool_kernels.window_max_indices(x, h_start, h_end, w_start, w_end, indices)
        return indices

    @staticmethod
    def window_mean(x, windows):
        h_start, h_end, w_start, w_end, divisor = (_host_copy(w) for w in windows)
        out = arrays.empty(tuple(x.shape[:2]) + (h_start.shape[0], w_start.shape[0]), x.dtype)
        pool_kernels.window_mean(x, h_start, h_end, w_start, w_end, divisor, out)
        return out

    @staticmethod
    def window_mean_adjoint(grad, windows, height, width):
        out = CUDABackend.zeros(tuple(grad.shape[:2]) + (height, width), grad.dtype)
        pool_kernels.window_mean_adjoint(grad, *(_host_copy(w) for w in windows), out)
        return out

    # padding: (P, D, H, W) planes and one index map per padded axis
    @staticmethod
    def pad_gather(x, maps, value):
        out = arrays.empty((x.shape[0],) + tuple(len(m) for m in maps), x.dtype)
        pool_kernels.pad_gather(x, *(_host_copy(m) for m in maps), value, out)
        return out

    @staticmethod
    def pad_scatter_add(grad, maps, in_size):
        out = CUDABackend.zeros((grad.shape[0],) + tuple(in_size), grad.dtype)
        pool_kernels.pad_scatter_add(grad, *(_host_copy(m) for m in maps), out)
        return out

    # optimizer steps (SharedBackend.sgd_update and adam_update cast the scalars): one kernel per parameter
    @staticmethod
    def _sgd_pass(param, grad, buffer, *scalars):
        optim_kernels.sgd(arrays.flat(param), arrays.flat(grad), arrays.flat(buffer), *scalars)

    @staticmethod
    def _adam_pass(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *scalars):
        optim_kernels.adam(arrays.flat(param), arrays.flat(grad), arrays.flat(exp_avg), arrays.flat(exp_avg_sq),
                           arrays.flat(max_exp_avg_sq), *scalars)


CUDA_BACKEND = CUDABackend()
