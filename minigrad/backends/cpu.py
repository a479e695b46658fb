"""The CPU backend: numpy where numpy is already compiled C, Numba kernels where they beat it."""
import numpy as np

from minigrad_kernels.cpu import reduce as reduce_kernels


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
    empty = staticmethod(np.empty)
    zeros = staticmethod(np.zeros)
    ones = staticmethod(np.ones)
    full = staticmethod(np.full)
    arange = staticmethod(np.arange)
    linspace = staticmethod(np.linspace)
    eye = staticmethod(np.eye)
    copy = staticmethod(np.array)
    shares_memory = staticmethod(np.may_share_memory)
    ascontiguousarray = staticmethod(np.ascontiguousarray)

    @staticmethod
    def astype(x, np_dtype):
        return x.astype(np_dtype, copy=False)

    @staticmethod
    def to_numpy(x):
        return x

    @staticmethod
    def from_numpy(x):
        return x

    # elementwise
    add = staticmethod(np.add)
    subtract = staticmethod(np.subtract)
    multiply = staticmethod(np.multiply)
    divide = staticmethod(_quiet(np.divide))
    floor_divide = staticmethod(_quiet(np.floor_divide))
    remainder = staticmethod(_quiet(np.remainder))
    power = staticmethod(_quiet(np.power))
    negative = staticmethod(np.negative)
    exp = staticmethod(_quiet(np.exp))
    log = staticmethod(_quiet(np.log))
    sqrt = staticmethod(_quiet(np.sqrt))
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
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
        # 1 / (1 + exp(-x)) overflows for large -x; this form never does.
        half = x.dtype.type(0.5)
        return half + half * np.tanh(half * x)

    @staticmethod
    def relu(x):
        return np.maximum(x, 0).astype(x.dtype, copy=False)

    # reductions
    sum = staticmethod(np.sum)
    prod = staticmethod(np.prod)
    all = staticmethod(np.all)
    any = staticmethod(np.any)
    amax = staticmethod(np.amax)
    amin = staticmethod(np.amin)
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
    take_along_axis = staticmethod(np.take_along_axis)

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


CPU_BACKEND = CPUBackend()
