"""Tensor factories: tensor, from_numpy, zeros, ones, full, arange, ..., rand, randn, randint, normal,
rand_like, randn_like."""
import numbers

import numpy as np

from minigrad import _dtype as dtypes
from minigrad._device import CPU, placement
from minigrad.arguments import broadcast_shape, check_std, shape_args
from minigrad.backends import backend_for
from minigrad.random import generator_or_default
from minigrad.tensor import Tensor, array_from_data


def _finish(array, device, requires_grad):
    """Wrap a host array as a tensor on `device`."""
    device = CPU if device is None else placement(device)
    t = Tensor._from_array(backend_for(device).from_numpy(array), device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dtype_or(dtype, default):
    return default if dtype is None else dtypes.as_dtype(dtype)


def _default_or(dtype):
    """`dtype`, or the default floating dtype when it is None."""
    return _dtype_or(dtype, dtypes.get_default_dtype())


def _check_size(size):
    for n in size:
        if n < 0:
            raise RuntimeError(f"size: Trying to create tensor with negative dimension {n}: {list(size)}")
    return size


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new tensor holding a copy of `data` (nested lists, scalars, numpy arrays).

    numpy data keeps its dtype; uint16 and uint32 data becomes int64 (every value fits). uint64, complex
    and other dtypes minigrad lacks raise TypeError unless `dtype` is given."""
    array, _ = array_from_data(data, dtype)
    return _finish(np.array(array, copy=True), device, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """`data` as a tensor, sharing memory where it can; numpy dtypes convert as in `tensor()`
    (uint16 and uint32 data becomes int64, in a copy)."""
    if isinstance(data, Tensor) and (dtype is None or dtypes.as_dtype(dtype) is data.dtype):
        return data if device is None else data.to(device)
    array, _ = array_from_data(data, dtype, "as_tensor")
    return _finish(array, device, False)


def from_numpy(array):
    """A tensor sharing memory with a numpy array of one of minigrad's dtypes (float16-float64, uint8,
    int8-int64, bool), of the same dtype.

    Other dtypes (uint16, uint32, uint64, complex, ...) raise TypeError, as sharing memory rules out a
    conversion: convert first (`arr.astype(np.int64)`) or copy with `minigrad.tensor(arr)`."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    if array.dtype not in dtypes.BY_NUMPY:
        raise dtypes.unsupported_numpy_dtype(array.dtype, "array", "from_numpy")
    return Tensor._from_array(array, CPU)


def _size_of(positional, keywords, name):
    """The shape given positionally (zeros(2, 3), zeros((2, 3))) or as size= (zeros(size=(2, 3)))."""
    if set(keywords) - {"size"}:
        raise TypeError(f"{name}() got an unexpected keyword argument '{next(iter(set(keywords) - {'size'}))}'")
    if "size" in keywords:
        if positional:
            raise TypeError(f"{name}(): give the size positionally or as size=, not both")
        return (keywords["size"],)
    return positional


def _filled(size, value, dtype, device, requires_grad):
    size = _check_size(shape_args(size))
    return _finish(np.full(size, value, dtype=dtype.numpy), device, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, **kwargs):
    return _filled(_size_of(size, kwargs, "zeros"), 0, _default_or(dtype), device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, **kwargs):
    return _filled(_size_of(size, kwargs, "ones"), 1, _default_or(dtype), device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, **kwargs):
    return _filled(_size_of(size, kwargs, "empty"), 0, _default_or(dtype), device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if not isinstance(fill_value, (numbers.Number, np.generic)) or isinstance(fill_value, (str, bytes, np.str_)):
        raise TypeError(f"full(): argument 'fill_value' must be a number, not {type(fill_value).__name__}")
    if dtype is None:
        dtype = dtypes.bool_ if isinstance(fill_value, bool) else \
            dtypes.int64 if isinstance(fill_value, numbers.Integral) else dtypes.get_default_dtype()
    return _filled((size,), fill_value, dtypes.as_dtype(dtype), device, requires_grad)


def _like(fn, other, dtype, device, requires_grad, *args):
    if not isinstance(other, Tensor):
        raise TypeError(f"input: expected a Tensor, got {type(other).__name__}")
    return fn(other.shape, *args, dtype=other.dtype if dtype is None else dtype,
              device=other.device if device is None else device, requires_grad=requires_grad)


def zeros_like(input, dtype=None, device=None, requires_grad=False):  # noqa: A002
    return _like(zeros, input, dtype, device, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False):  # noqa: A002
    return _like(ones, input, dtype, device, requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False):  # noqa: A002
    return _like(empty, input, dtype, device, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):  # noqa: A002
    return _like(full, input, dtype, device, requires_grad, fill_value)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values from start (default 0) up to but excluding end, as in PyTorch."""
    if end is None:
        start, end = 0, start
    values = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if values[2] == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (values[1] - values[0]) * values[2] < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign "
                           f"(start={values[0]}, end={values[1]}, step={values[2]})")
    integral = all(isinstance(v, numbers.Integral) for v in values)
    dtype = _dtype_or(dtype, dtypes.int64 if integral else dtypes.get_default_dtype())
    if dtype is dtypes.bool_:
        raise RuntimeError("arange(): dtype: expected a number dtype, got minigrad.bool")
    return _finish(np.arange(*values).astype(dtype.numpy), device, requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    if not isinstance(steps, numbers.Integral) or steps < 0:
        raise RuntimeError(f"linspace: expected steps to be a non-negative int, got {steps!r}")
    array = np.linspace(start, end, steps).astype(_default_or(dtype).numpy)
    return _finish(array, device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    for name, value in (("n", n), ("m", m)):
        if value is not None and (not isinstance(value, numbers.Integral) or value < 0):
            raise RuntimeError(f"eye: expected {name} to be a non-negative int, got {value!r}")
    return _finish(np.eye(n, m, dtype=_default_or(dtype).numpy), device, requires_grad)


def _random_dtype(dtype):
    dtype = _default_or(dtype)
    if not dtype.is_floating_point:
        raise RuntimeError(f"dtype: random floats need a floating dtype, got {dtype}")  # PyTorch's type
    return dtype


def _drawn_dtype(dtype):
    """numpy's generator draws float32 or float64: float16 samples are drawn in float32 and rounded."""
    return np.float32 if dtype is dtypes.float16 else dtype.numpy


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, **kwargs):
    """Uniform samples on [0, 1)."""
    dtype, size = _random_dtype(dtype), _check_size(shape_args(_size_of(size, kwargs, "rand")))
    array = generator_or_default(generator).numpy.random(size, dtype=_drawn_dtype(dtype))
    return _finish(array.astype(dtype.numpy, copy=False), device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, **kwargs):
    """Standard normal samples."""
    dtype, size = _random_dtype(dtype), _check_size(shape_args(_size_of(size, kwargs, "randn")))
    array = generator_or_default(generator).numpy.standard_normal(size, dtype=_drawn_dtype(dtype))
    return _finish(array.astype(dtype.numpy, copy=False), device, requires_grad)


def randint(low=0, high=None, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Integers drawn uniformly from [low, high); randint(high, size) also works, as in PyTorch."""
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    if high is None or size is None:
        raise TypeError("randint: expected randint(low=0, high, size), got no high or no size")
    if high <= low:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    array = generator_or_default(generator).numpy.integers(low, high, size=_check_size(shape_args((size,))))
    return _finish(array.astype(_dtype_or(dtype, dtypes.int64).numpy), device, requires_grad)


def randperm(n, generator=None, dtype=None, device=None):
    array = generator_or_default(generator).numpy.permutation(n)
    return _finish(array.astype(_dtype_or(dtype, dtypes.int64).numpy), device, False)


def rand_like(input, dtype=None, device=None, requires_grad=False):  # noqa: A002
    """rand with input's shape, dtype and device unless given."""
    return _like(rand, input, dtype, device, requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False):  # noqa: A002
    """randn with input's shape, dtype and device unless given."""
    return _like(randn, input, dtype, device, requires_grad)


def normal(mean, std, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Normal samples: normal(mean, std, size) with numbers, or elementwise with tensor mean/std."""
    rng = generator_or_default(generator).numpy
    for name, value in (("mean", mean), ("std", std)):
        if not isinstance(value, (Tensor, numbers.Real)):
            raise TypeError(f"normal(): argument '{name}' must be a number or a Tensor, not {type(value).__name__}")
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        mean_array = mean.detach().cpu().numpy() if isinstance(mean, Tensor) else mean
        std_array = std.detach().cpu().numpy() if isinstance(std, Tensor) else std
        if not np.all(np.asarray(std_array) >= 0):  # also rejects nan
            raise RuntimeError("normal(): std: normal expects all elements of std >= 0.0")
        shape = broadcast_shape(np.shape(mean_array), np.shape(std_array))
        like = mean if isinstance(mean, Tensor) else std
        dtype = like.dtype if dtype is None else dtypes.as_dtype(dtype)
        array = rng.normal(mean_array, std_array, size=shape).astype(dtype.numpy)
        return _finish(array, like.device if device is None else device, requires_grad)
    if size is None:
        raise TypeError("normal: with number mean and std, size is required")
    check_std(std, "normal")
    dtype = _random_dtype(dtype)
    array = rng.normal(mean, std, size=_check_size(shape_args((size,)))).astype(dtype.numpy)
    return _finish(array, device, requires_grad)
