"""Tensor: an n-d array on a device that records the ops applied to it, with PyTorch's semantics."""
import builtins
import collections
import functools
import math
import numbers
import warnings

import numpy as np

from minigrad import _dtype as dtypes
from minigrad._device import CPU, device as Device, placement
from minigrad._size import Size
from minigrad.arguments import broadcast_shape, check_std, normalize_dim, normalize_dims, shape_args, type_name
from minigrad.autograd import engine
from minigrad.autograd.variable import TensorBase, VersionCounter
from minigrad.backends import backend_for
from minigrad.random import generator_or_default
from minigrad.ops import elementwise as ew
from minigrad.ops import linalg, logic, reduction, shape as shape_ops
from minigrad.promotion import python_scalar_dtype, result_dtype

_new_tensor = object.__new__
ValuesIndices = collections.namedtuple("ValuesIndices", ["values", "indices"])

_DTYPE_OF_NUMPY = dtypes.BY_NUMPY


# --- conversion of user data -----------------------------------------------------------------

def array_from_data(data, dtype=None, function="tensor"):
    """(array, dtype) for nested lists, scalars, numpy arrays or Tensors, with PyTorch's dtype rules:
    Python floats take the default dtype (float32 unless set_default_dtype changed it), ints int64; numpy
    data keeps its dtype, except that uint16 and uint32 become int64 (no value changes) and dtypes minigrad
    lacks (uint64, complex, ...) raise TypeError unless `dtype` asks for a conversion. The array may share
    memory with `data`."""
    from_numpy = isinstance(data, (np.ndarray, np.generic))
    if isinstance(data, Tensor):
        array, from_numpy = data._backend.to_numpy(data._data), True
    elif from_numpy:
        array = np.asarray(data)
    else:
        try:
            array = np.asarray(_unwrap_nested(data))
        except ValueError:  # numpy's words for a ragged list name no argument
            raise ValueError(f"{function}(): data: expected a rectangular nested sequence (every list at one "
                             f"depth of the same length), got a ragged one") from None
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{function}(): data: can't convert numpy dtype {array.dtype} to {dtype}")
    elif from_numpy:
        dtype = dtypes.for_numpy_data(array.dtype, function)
    elif array.dtype.kind == "b":
        dtype = dtypes.bool_
    elif array.dtype.kind in "iu":
        dtype = dtypes.int64
    elif array.dtype.kind == "f":
        dtype = dtypes.get_default_dtype()
    else:
        raise TypeError(f"{function}(): data: can't convert numpy dtype {array.dtype}; expected numbers or booleans")
    return array.astype(dtype.numpy, copy=False), dtype


def _unwrap_nested(data):
    if isinstance(data, Tensor):
        return data.tolist()
    if isinstance(data, (list, tuple)):
        return [_unwrap_nested(item) for item in data]
    if isinstance(data, np.ndarray) or isinstance(data, np.generic):
        return data
    python_scalar_dtype(data)  # raises TypeError for anything that isn't a number
    return data


# --- operands of binary ops (the dtype rules are minigrad/promotion.py's) ----------------------

def _not_an_operand(value):
    hint = "; convert it with minigrad.tensor(...) or minigrad.from_numpy(...)" \
        if isinstance(value, np.ndarray) else ""
    return TypeError(f"other: expected a Tensor or a number, got {type_name(value)}{hint}")


def _as_operand(value, dtype, like):
    if isinstance(value, Tensor):  # a device mismatch raises in the op (Primitive.apply)
        return value if value._dtype is dtype else value.to(dtype)
    if isinstance(value, numbers.Integral) and not dtype.is_floating_point and dtype is not dtypes.bool_:
        info = np.iinfo(dtype.numpy)
        if not info.min <= value <= info.max and -(1 << 63) <= value < (1 << 63):
            value = np.asarray(value, dtype=np.int64).astype(dtype.numpy)  # wraps, as PyTorch (uint8 + 300)
    return like._wrap(like._backend.asarray(value, dtype=dtype.numpy))


def _promote(a, b):
    """Two tensors of a common dtype and device from a tensor and a tensor or Python number;
    shapes that do not broadcast raise here, before any backend sees them."""
    if isinstance(b, Tensor):
        if a._data.shape != b._data.shape:
            broadcast_shape(a._data.shape, b._data.shape)
        if a._dtype is b._dtype and (a._device is b._device or a._device == b._device):
            return a, b
    elif not isinstance(b, (numbers.Number, np.generic)):
        raise _not_an_operand(b)
    dtype = result_dtype(a, b)
    return _as_operand(a, dtype, a), _as_operand(b, dtype, a)


def _fitted_scalar(value, dtype):
    """A Python int written into an integer tensor (x[i] = v, fill_, masked_fill): PyTorch refuses one that
    overflows the dtype, though it lets a negative one wrap into an unsigned dtype (uint8: -255 to 255)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)) and dtype.category == 1:
        info = np.iinfo(dtype.numpy)
        if not (-info.max if info.min == 0 else info.min) <= value <= info.max:
            raise RuntimeError(f"value: {value} cannot be converted to type {dtype.name} without overflow")
    return value


def _in_dtype(result, dtype):
    """A reduction's result in the dtype asked for: integer sums run in int64, and sum(dtype=int32) is
    their wrap into int32, as PyTorch's int32 accumulator gives."""
    return result if dtype is None or result._dtype is dtypes.as_dtype(dtype) else result.to(dtype)


def _no_bool_subtraction(a, b):
    """PyTorch refuses a bool operand (a tensor or Python bool) before promotion: float - True raises."""
    bools = [isinstance(x, (bool, np.bool_)) or isinstance(x, Tensor) and x._dtype is dtypes.bool_ for x in (a, b)]
    if True not in bools:  # the usual case, first (this runs on every `-`)
        return a, b
    if all(bools):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                       "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")


def _nonzero_divisor(b, name="other"):
    if not b._dtype.is_floating_point and bool((b == 0).any()):
        raise RuntimeError(f"ZeroDivisionError: integer division or modulo by zero ({name} is an integer "
                           "tensor that holds a zero)")
    return b


def _to_float(t):
    return t if t._dtype.is_floating_point else t.to(dtypes.get_default_dtype())


def _floats(a, b):
    a, b = _promote(a, b)
    return _to_float(a), _to_float(b)


def _require_float(t, name, hint=""):
    if not t._dtype.is_floating_point:
        raise RuntimeError(f"{name}(): expected a floating point input, got a tensor of dtype {t._dtype}{hint}")
    return t


def _check_vectors(function, **tensors):
    for name, t in tensors.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"{function}(): argument '{name}' must be Tensor, not {type_name(t)}")
        if t.ndim != 1:
            raise RuntimeError(f"{function}: Expected 1-D argument {name}, but got {t.ndim}-D")


def _numpy_names(method):
    """Also accept numpy's axis= and keepdims= for dim= and keepdim=, as PyTorch's reductions do."""
    @functools.wraps(method)
    def reduction_method(self, *args, **kwargs):
        if "axis" in kwargs:
            kwargs["dim"] = kwargs.pop("axis")
        if "keepdims" in kwargs:
            kwargs["keepdim"] = kwargs.pop("keepdims")
        return method(self, *args, **kwargs)
    return reduction_method


def _tensor_from_array(array, device):
    """A new Tensor holding `array` on `device` (every op's output comes here)."""
    t = _new_tensor(Tensor)
    if isinstance(array, np.generic):
        array = np.asarray(array)
    t._dtype = _DTYPE_OF_NUMPY.get(array.dtype) or dtypes.from_numpy_dtype(array.dtype)
    t._init_fields(array, device)
    return t


class Tensor(TensorBase):
    """An n-dimensional array with autograd. Create one with `minigrad.tensor(data)`."""

    __slots__ = ()
    __hash__ = object.__hash__
    # numpy defers to Tensor's reflected operators (ndarray + tensor raises TypeError, as in PyTorch;
    # np.float64(2) * tensor is a Tensor) instead of converting the tensor and dropping it from the graph
    __array_ufunc__ = None

    def __init__(self, data=(), dtype=None):
        array, self._dtype = array_from_data(data, dtypes.get_default_dtype() if dtype is None else dtype)
        self._init_fields(np.array(array), CPU)

    def _init_fields(self, array, device):
        self._data = array
        self._device = device
        self._requires_grad = False
        self._node = None
        self._output_nr = 0
        self._grad = None
        self._version = VersionCounter()
        self._tangent = None
        self._accumulator = None
        self._base = None
        self._view_version = 0
        self._retains_grad = False

    @classmethod
    def _from_array(cls, array, device):
        return _tensor_from_array(array, device)

    def _wrap(self, array):
        return _tensor_from_array(array, self._device)

    def _wrap_on(self, array, device):
        return _tensor_from_array(array, device)

    @classmethod
    def _zeros(cls, shape, dtype, device):
        return Tensor._from_array(backend_for(device).zeros(shape, dtype=dtype.numpy), device)

    def _share_storage_of(self, other):
        """Hold `other`'s storage (Parameter(data) shares data's memory, as in PyTorch)."""
        self._dtype = other._dtype
        self._init_fields(other._data, other._device)

    def _ones_like(self):
        return self._wrap(self._backend.full(self.shape, 1, dtype=self._dtype.numpy))

    @property
    def _backend(self):
        return backend_for(self._device)

    # --- attributes ---------------------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        return self.shape if dim is None else self._data.shape[normalize_dim(dim, self.ndim)]

    @property
    def dtype(self):
        return self._dtype

    @property
    def device(self):
        return self._device

    @property
    def is_cuda(self):
        return self._device.type == "cuda"

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    def numel(self):
        return int(self._data.size)

    nelement = numel

    def is_floating_point(self):
        return self._dtype.is_floating_point

    def is_contiguous(self):
        return bool(self._backend.is_contiguous(self._data))

    def element_size(self):
        return self._dtype.itemsize

    @property
    def data(self):
        """A tensor sharing this one's storage, outside autograd (in-place changes go unnoticed)."""
        return self._wrap(self._data)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}")
        self._data, self._dtype, self._device = value._data, value._dtype, value._device

    # --- conversions ---------------------------------------------------------------------------
    def numpy(self):
        if self._device.type != "cpu":
            raise TypeError(f"can't convert {self._device} device type tensor to numpy. "
                            "Use Tensor.cpu() to copy the tensor to host memory first.")
        if self._requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        if copy:
            return np.array(array, dtype=dtype, copy=True)
        return array if dtype is None else array.astype(dtype, copy=False)

    def item(self):
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to Scalar")
        return self._backend.to_numpy(self._data).reshape(()).item()

    def tolist(self):
        return self._backend.to_numpy(self._data).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __index__(self):
        if self._dtype.is_floating_point or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __format__(self, spec):
        if self.ndim == 0:
            return format(self.item(), spec)
        return format(str(self), spec)

    def __repr__(self):
        array = self._backend.to_numpy(self._data)
        options = dict(separator=", ", prefix="tensor(", threshold=1000, edgeitems=3)
        if self._dtype.is_floating_point:
            finite = array[np.isfinite(array)].astype(np.float64)  # float16 can't hold 1e8
            if not (finite.size and np.all(finite == np.round(finite)) and np.abs(finite).max() < 1e8):
                options.update(precision=4, floatmode="fixed", suppress_small=True)
        body = np.array2string(array, **options)
        extras = []
        if self.ndim and array.size == 0:
            extras.append(f"size={tuple(self.shape)}")
        if self._dtype not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool_):
            extras.append(f"dtype={self._dtype!r}")
        if self._device.type != "cpu":
            extras.append(f"device='{self._device}'")
        if self._node is not None:
            extras.append(f"grad_fn={self._node!r}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # --- dtype and device ---------------------------------------------------------------------
    def to(self, *args, dtype=None, device=None, copy=False):
        """to(dtype), to(device), to(device, dtype), to(other) — as in PyTorch."""
        for arg in args:
            if isinstance(arg, Tensor):
                dtype, device = arg._dtype, arg._device
            elif isinstance(arg, (str, Device)):
                device = arg
            else:
                dtype = arg
        out = self
        if device is not None and Device(device) != self._device:
            out = shape_ops.ToDevice.apply(out, placement(device))
        if dtype is not None:
            dtype = dtypes.as_dtype(dtype)
            if dtype is not out._dtype:
                out = ew.Cast.apply(out, dtype)
        return out.clone() if copy and out is self else out

    def type(self, dtype=None):
        if dtype is None:
            return {"float16": "minigrad.HalfTensor", "float32": "minigrad.FloatTensor",
                    "float64": "minigrad.DoubleTensor", "uint8": "minigrad.ByteTensor", "int8": "minigrad.CharTensor",
                    "int16": "minigrad.ShortTensor", "int32": "minigrad.IntTensor", "int64": "minigrad.LongTensor",
                    "bool": "minigrad.BoolTensor"}[self._dtype.name]
        return self.to(dtype)

    def half(self):
        return self.to(dtypes.float16)

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def byte(self):
        return self.to(dtypes.uint8)

    def char(self):
        return self.to(dtypes.int8)

    def short(self):
        return self.to(dtypes.int16)

    def int(self):
        return self.to(dtypes.int32)

    def long(self):
        return self.to(dtypes.int64)

    def bool(self):
        return self.to(dtypes.bool_)

    def cpu(self):
        return self.to(CPU)

    def cuda(self, device=None):
        return self.to(Device("cuda") if device is None else Device(device) if isinstance(device, str)
                       else Device("cuda", device))

    # --- autograd helpers ---------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor into the .grad of the leaves it depends on."""
        engine.backward((self,), None if gradient is None else (gradient,), retain_graph, create_graph, inputs)

    def detach(self):
        """The same storage and version counter, cut from the graph."""
        return self._alias_without_graph()

    def detach_(self):
        self._node, self._requires_grad = None, False
        return self

    def clone(self):
        return shape_ops.Clone.apply(self)

    def contiguous(self):
        return self if self._backend.is_contiguous(self._data) else shape_ops.Clone.apply(self)

    def new_zeros(self, *size, dtype=None):
        return self.new_full(shape_args(size), 0, dtype=dtype)

    def new_ones(self, *size, dtype=None):
        return self.new_full(shape_args(size), 1, dtype=dtype)

    def new_full(self, size, fill_value, dtype=None):
        dtype = self._dtype if dtype is None else dtypes.as_dtype(dtype)
        return self._wrap(self._backend.full(shape_args((size,)), fill_value, dtype=dtype.numpy))

    def new_tensor(self, data, dtype=None):
        array, _ = array_from_data(data, self._dtype if dtype is None else dtype)
        return self._wrap(self._backend.asarray(array))

    # --- arithmetic -----------------------------------------------------------------------------
    def __add__(self, other):
        return ew.Add.apply(*_promote(self, other))

    def __radd__(self, other):
        a, b = _promote(self, other)
        return ew.Add.apply(b, a)

    def __sub__(self, other):
        return ew.Sub.apply(*_promote(*_no_bool_subtraction(self, other)))

    def __rsub__(self, other):
        a, b = _promote(*_no_bool_subtraction(self, other))
        return ew.Sub.apply(b, a)

    def __mul__(self, other):
        return ew.Mul.apply(*_promote(self, other))

    def __rmul__(self, other):
        a, b = _promote(self, other)
        return ew.Mul.apply(b, a)

    def __truediv__(self, other):
        return ew.Div.apply(*_floats(self, other))

    def __rtruediv__(self, other):
        a, b = _floats(self, other)
        return ew.Div.apply(b, a)

    def __floordiv__(self, other):
        a, b = _promote(self, other)
        return logic.FloorDivide.apply(a, _nonzero_divisor(b))

    def __rfloordiv__(self, other):
        a, b = _promote(self, other)
        return logic.FloorDivide.apply(b, _nonzero_divisor(a, "self"))

    def __mod__(self, other):
        a, b = _promote(self, other)
        return ew.Remainder.apply(a, _nonzero_divisor(b))

    def __rmod__(self, other):
        a, b = _promote(self, other)
        return ew.Remainder.apply(b, _nonzero_divisor(a, "self"))

    def __pow__(self, exponent):
        if isinstance(exponent, numbers.Number) and not isinstance(exponent, bool):
            if not self._dtype.is_floating_point and isinstance(exponent, numbers.Integral) and exponent < 0:
                raise RuntimeError("Integers to negative integer powers are not allowed.")
            base = self if self._dtype.is_floating_point or isinstance(exponent, numbers.Integral) \
                else self.to(dtypes.get_default_dtype())
            return ew.PowScalar.apply(base, exponent)
        base, exponent = _promote(self, exponent)
        if not base._dtype.is_floating_point and bool((exponent < 0).any()):
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        return ew.Pow.apply(base, exponent)

    def __rpow__(self, base):
        a, b = _promote(self, base)
        return ew.Pow.apply(b, a)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def __neg__(self):
        if self._dtype is dtypes.bool_:
            raise TypeError("Negation, the `-` operator, on a bool tensor is not supported. "
                            "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
        return ew.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    pow = __pow__
    add = __add__
    sub = __sub__
    mul = __mul__

    def div(self, other, *, rounding_mode=None):
        """self / other, or its quotient rounded toward zero (rounding_mode="trunc") or down ("floor"), as
        torch.div: trunc(a / b) for floats, and for integers in their dtype. A rounded quotient's gradient
        is zero, as PyTorch's (not None)."""
        if rounding_mode is None:
            return self / other
        if rounding_mode not in ("trunc", "floor"):
            raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                               f"{rounding_mode!r}")
        a, b = _promote(self, other)
        if rounding_mode == "trunc" and a._dtype.is_floating_point:
            exact = a.detach() / b.detach()
            quotient = where(exact < 0, -(-exact).floor(), exact.floor())
        else:
            quotient = logic.FloorDivide.apply(a, _nonzero_divisor(b))
            if rounding_mode == "trunc":  # integers: a floor below zero that is not exact is one too low
                quotient = quotient + ((quotient < 0) & (quotient * b != a)).to(quotient.dtype)
        if a.requires_grad or b.requires_grad:  # in the graph with a zero gradient (where's: no 0 / 0)
            never = quotient.new_zeros(quotient.shape, dtype=dtypes.bool_)
            quotient = where(never, a, where(never, b, quotient))
        return quotient

    matmul = __matmul__
    remainder = __mod__
    floor_divide = __floordiv__

    # --- comparisons and logic (never differentiable) ------------------------------------------
    def _compare(self, other, op):
        if isinstance(other, np.ndarray):
            raise _not_an_operand(other)  # not NotImplemented: Python would then answer == with False
        if not isinstance(other, (Tensor, numbers.Number, np.generic)):
            return NotImplemented  # e.g. t == None is False, as in PyTorch
        return op.apply(*_promote(self, other))

    def __eq__(self, other):
        return self._compare(other, logic.Equal)

    def __ne__(self, other):
        return self._compare(other, logic.NotEqual)

    def __lt__(self, other):
        return self._compare(other, logic.Less)

    def __le__(self, other):
        return self._compare(other, logic.LessEqual)

    def __gt__(self, other):
        return self._compare(other, logic.Greater)

    def __ge__(self, other):
        return self._compare(other, logic.GreaterEqual)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def _logical(self, other, op, name):
        a, b = _promote(self, other)
        if a._dtype.is_floating_point:
            raise TypeError(f"{name}: expected bool or integer tensors, got {a._dtype}")
        return op.apply(a, b)

    def __and__(self, other):
        return self._logical(other, logic.BitwiseAnd, "and")

    def __or__(self, other):
        return self._logical(other, logic.BitwiseOr, "or")

    def __xor__(self, other):
        return self._logical(other, logic.BitwiseXor, "xor")

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self):
        if self._dtype.is_floating_point:
            raise TypeError(f"~: expected a bool or integer tensor, got {self._dtype}")
        return logic.Invert.apply(self)

    def logical_not(self):
        return logic.LogicalNot.apply(self)

    def isnan(self):
        return logic.IsNan.apply(self)

    def isinf(self):
        return logic.IsInf.apply(self)

    def equal(self, other):
        return self.shape == other.shape and builtins.bool((self == other).all())

    @_numpy_names
    def all(self, dim=None, keepdim=False):
        return logic.All.apply(self, normalize_dims(dim, self.ndim), keepdim)

    @_numpy_names
    def any(self, dim=None, keepdim=False):
        return logic.Any.apply(self, normalize_dims(dim, self.ndim), keepdim)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """Whether every element is close (see isclose)."""
        return builtins.bool(self.isclose(other, rtol, atol, equal_nan).all())

    # --- elementwise ----------------------------------------------------------------------------
    def exp(self):
        return ew.Exp.apply(_to_float(self))

    def log(self):
        return ew.Log.apply(_to_float(self))

    def sqrt(self):
        return ew.Sqrt.apply(_to_float(self))

    def sin(self):
        return ew.Sin.apply(_to_float(self))

    def cos(self):
        return ew.Cos.apply(_to_float(self))

    def tanh(self):
        return ew.Tanh.apply(_to_float(self))

    def sigmoid(self):
        return ew.Sigmoid.apply(_to_float(self))

    def relu(self):
        return ew.Relu.apply(self)

    def relu_(self):
        return self._in_place(ew.Relu)

    def erf(self):
        return ew.Erf.apply(_to_float(self))

    def abs(self):
        return ew.Abs.apply(self)

    def sign(self):
        return ew.Sign.apply(self)

    def floor(self):
        return self if not self._dtype.is_floating_point else ew.Floor.apply(self)

    def neg(self):
        return -self

    def square(self):
        return self * self

    def clamp(self, min=None, max=None):  # noqa: A002 (PyTorch's argument names)
        if min is None and max is None:
            raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
        if isinstance(min, Tensor) or isinstance(max, Tensor):
            out = self if min is None else self.maximum(min)
            return out if max is None else out.minimum(max)
        for name, bound in (("min", min), ("max", max)):
            if bound is not None and not isinstance(bound, numbers.Real):
                raise TypeError(f"clamp: expected {name} to be a number or a Tensor, got {type(bound).__name__}")
        if not self._dtype.is_floating_point and any(isinstance(v, float) for v in (min, max)):
            return self.to(dtypes.get_default_dtype()).clamp(min, max)
        return ew.Clamp.apply(self, min, max)

    clip = clamp

    def maximum(self, other):
        a, b = _promote(self, other)
        return ew.Maximum.apply(a, b)

    def minimum(self, other):
        a, b = _promote(self, other)
        return ew.Minimum.apply(a, b)

    def where(self, condition, other):
        """torch.where(condition, self, other)."""
        return where(condition, self, other)

    # --- reductions -----------------------------------------------------------------------------
    @_numpy_names
    def sum(self, dim=None, keepdim=False, dtype=None):
        source = self if dtype is None else self.to(dtype)
        return _in_dtype(reduction.Sum.apply(source, normalize_dims(dim, self.ndim), keepdim), dtype)

    @_numpy_names
    def mean(self, dim=None, keepdim=False, dtype=None):
        source = self if dtype is None else self.to(dtype)
        if not source._dtype.is_floating_point:
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                               f"floating point or complex dtype. Got: {source._dtype}")
        dims = normalize_dims(dim, self.ndim)
        count = math.prod(self._data.shape[d] for d in dims)
        return reduction.Sum.apply(source, dims, keepdim) / count

    @_numpy_names
    def var(self, dim=None, *, correction=1, keepdim=False, unbiased=None):
        if unbiased is not None:
            correction = 1 if unbiased else 0
        _require_float(self, "var")
        dims = normalize_dims(dim, self.ndim)
        count = math.prod(self._data.shape[d] for d in dims)
        centered = self - self.mean(dims, keepdim=True)
        return (centered * centered).sum(dims, keepdim=keepdim) / builtins.max(count - correction, 0)

    @_numpy_names
    def std(self, dim=None, *, correction=1, keepdim=False, unbiased=None):
        return self.var(dim, correction=correction, keepdim=keepdim, unbiased=unbiased).sqrt()

    @_numpy_names
    def prod(self, dim=None, keepdim=False, dtype=None):
        source = self if dtype is None else self.to(dtype)
        return _in_dtype(reduction.Prod.apply(source, normalize_dims(dim, self.ndim), keepdim), dtype)

    def _extreme(self, dim, keepdim, take_max, name):
        if isinstance(dim, Tensor):
            return self.maximum(dim) if take_max else self.minimum(dim)
        if dim is None:
            if self.numel() == 0:
                raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                                   "Specify the reduction dim with the 'dim' argument.")
            return (reduction.Amax if take_max else reduction.Amin).apply(self, tuple(range(self.ndim)), False)
        dim = normalize_dim(dim, self.ndim)
        if self.ndim == 0:
            return ValuesIndices(self, self.new_zeros((), dtype=dtypes.int64))
        if self._data.shape[dim] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
        return ValuesIndices(*reduction.MaxDim.apply(self, dim, keepdim, take_max))

    @_numpy_names
    def max(self, dim=None, keepdim=False):
        return self._extreme(dim, keepdim, True, "max")

    @_numpy_names
    def min(self, dim=None, keepdim=False):
        return self._extreme(dim, keepdim, False, "min")

    def _reduced_dims_not_empty(self, dims, name):
        for d in dims:
            if self._data.shape[d] == 0:
                raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
        return dims

    @_numpy_names
    def amax(self, dim=(), keepdim=False):
        dims = self._reduced_dims_not_empty(normalize_dims(dim, self.ndim), "amax")
        return reduction.Amax.apply(self, dims, keepdim)

    @_numpy_names
    def amin(self, dim=(), keepdim=False):
        dims = self._reduced_dims_not_empty(normalize_dims(dim, self.ndim), "amin")
        return reduction.Amin.apply(self, dims, keepdim)

    def _arg_extreme(self, dim, keepdim, axis, take_max):
        if self._dtype is dtypes.bool_:
            raise RuntimeError(f"{'argmax' if take_max else 'argmin'}(): does not support bool input")
        dim = axis if dim is None else dim
        dim = None if dim is None else normalize_dim(dim, self.ndim)
        return logic.ArgExtreme.apply(self, dim, keepdim, take_max)

    def argmax(self, dim=None, keepdim=False, *, axis=None):
        return self._arg_extreme(dim, keepdim, axis, True)

    def argmin(self, dim=None, keepdim=False, *, axis=None):
        return self._arg_extreme(dim, keepdim, axis, False)

    @_numpy_names
    def logsumexp(self, dim, keepdim=False):
        source = _to_float(self)
        dims = normalize_dims(dim, self.ndim)
        if any(self._data.shape[d] == 0 for d in dims):  # the log of an empty sum
            return source.sum(dims, keepdim=keepdim).log()
        shift = source.detach().amax(dims, keepdim=True)
        shift = where(shift.isinf(), shift.new_zeros(()), shift)
        out = (source - shift).exp().sum(dims, keepdim=True).log() + shift
        return out if keepdim else out.squeeze(dims)

    def _softmax_source(self, dtype, name):
        return _require_float(self if dtype is None else self.to(dtype), name,
                              " (convert it, or pass dtype=minigrad.float32)")

    def softmax(self, dim, dtype=None):
        return reduction.Softmax.apply(self._softmax_source(dtype, "softmax"), normalize_dim(dim, self.ndim))

    def log_softmax(self, dim, dtype=None):
        return reduction.LogSoftmax.apply(self._softmax_source(dtype, "log_softmax"), normalize_dim(dim, self.ndim))

    # --- shapes -----------------------------------------------------------------------------------
    def _target_shape(self, shape):
        if shape == self._data.shape:
            return shape
        known = [n for n in shape if n != -1]
        if shape.count(-1) > 1 or any(n < -1 for n in shape):
            raise RuntimeError(f"shape '{list(shape)}' is invalid: only one dimension can be inferred "
                               "and sizes must be non-negative")
        size, product = self.numel(), math.prod(known)
        if (-1 in shape and (product == 0 or size % product)) or (-1 not in shape and product != size):
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {size}")
        return tuple(size // product if n == -1 else n for n in shape)

    def reshape(self, *shape):
        shape = self._target_shape(shape_args(shape, "shape"))
        return self if shape == self._data.shape else shape_ops.Reshape.apply(self, shape, False)

    def view(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], dtypes.dtype):
            raise TypeError("view(dtype): reinterpreting storage as another dtype is not supported")
        shape = self._target_shape(shape_args(shape, "shape"))
        try:
            return shape_ops.Reshape.apply(self, shape, True)
        except ValueError:  # the backend interface's error for strides that do not allow a view
            raise RuntimeError(f"view size is not compatible with input tensor's size and stride (shape "
                               f"{list(self.shape)} to {list(shape)}): at least one dimension spans across "
                               "two contiguous subspaces. Use .reshape(...) instead.") from None

    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def permute(self, *dims):
        dims = shape_args(dims, "dims")
        if len(dims) != self.ndim:
            raise RuntimeError(f"permute(): number of dimensions in the tensor input does not match the length "
                               f"of the desired ordering of dimensions i.e. input.dim() = {self.ndim} is not "
                               f"equal to len(dims) = {len(dims)}")
        dims = tuple(normalize_dim(d, self.ndim, "dims") for d in dims)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"permute(): duplicate dims are not allowed, got {list(dims)}")
        return shape_ops.Permute.apply(self, dims)

    def transpose(self, dim0, dim1):
        dims = list(range(self.ndim))
        if not dims:
            return self
        dim0, dim1 = normalize_dim(dim0, self.ndim, "dim0"), normalize_dim(dim1, self.ndim, "dim1")
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return shape_ops.Permute.apply(self, tuple(dims))

    swapaxes = transpose

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self.transpose(0, 1) if self.ndim == 2 else self

    @property
    def T(self):
        return shape_ops.Permute.apply(self, tuple(reversed(range(self.ndim))))

    @property
    def mT(self):
        if self.ndim < 2:
            raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. "
                               f"Got {self.ndim}-D tensor.")
        return self.transpose(-2, -1)

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        start = normalize_dim(start_dim, self.ndim, "start_dim")
        end = normalize_dim(end_dim, self.ndim, "end_dim")
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        shape = self._data.shape
        return self.reshape(shape[:start] + (-1 if self.numel() else math.prod(shape[start:end + 1]),)
                            + shape[end + 1:])

    def unflatten(self, dim, sizes):
        dim = normalize_dim(dim, self.ndim)
        shape = self._data.shape
        return self.reshape(shape[:dim] + tuple(sizes) + shape[dim + 1:])

    def unsqueeze(self, dim):
        dim = normalize_dim(dim, self.ndim + 1)
        shape = self._data.shape
        return shape_ops.Reshape.apply(self, shape[:dim] + (1,) + shape[dim:], False)

    def squeeze(self, dim=None):
        dims = normalize_dims(dim, self.ndim)
        shape = tuple(n for i, n in enumerate(self._data.shape) if not (i in dims and n == 1))
        return self if shape == self._data.shape else shape_ops.Reshape.apply(self, shape, False)

    def expand(self, *sizes):
        sizes = shape_args(sizes)
        if len(sizes) < self.ndim:
            raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or "
                               f"equal to the number of dimensions in the tensor ({self.ndim})")
        lead = len(sizes) - self.ndim
        shape = tuple(self._data.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
        if any(n < 0 for n in shape):
            raise RuntimeError(f"expand: the expanded size {list(sizes)} may not contain negative sizes "
                               f"(other than -1 for an existing dimension); tensor sizes {list(self.shape)}")
        for i, n in enumerate(self._data.shape):
            if n != 1 and n != shape[lead + i]:
                raise RuntimeError(f"expand: The expanded size of the tensor ({shape[lead + i]}) must match the "
                                   f"existing size ({n}) at non-singleton dimension {lead + i}. "
                                   f"Target sizes: {list(sizes)}. Tensor sizes: {list(self.shape)}")
        return self if shape == self._data.shape else shape_ops.Expand.apply(self, shape)

    def expand_as(self, other):
        return self.expand(other.shape)

    def narrow(self, dim, start, length):
        dim = normalize_dim(dim, self.ndim)
        size = self._data.shape[dim]
        if not -size <= start <= size:
            raise IndexError(f"narrow(): start ({start}) out of range for dimension {dim} of size {size}")
        start = start + size if start < 0 else start
        if length < 0 or start + length > size:
            raise RuntimeError(f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({size}).")
        return self[(slice(None),) * dim + (slice(start, start + length),)]

    def split(self, split_size_or_sections, dim=0):
        dim = normalize_dim(dim, self.ndim)
        size = self._data.shape[dim]
        if isinstance(split_size_or_sections, int):
            if split_size_or_sections <= 0:
                raise RuntimeError(f"split: split_size must be a positive integer, got {split_size_or_sections}")
            sections = [builtins.min(split_size_or_sections, size - s)
                        for s in range(0, builtins.max(size, 1), split_size_or_sections)]
        else:
            sections = list(split_size_or_sections)
            if any(n < 0 for n in sections) or sum(sections) != size:
                raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                                   f"(input tensor's size at dimension {dim}), but got split_sizes={sections}")
        pieces, start = [], 0
        for length in sections:
            pieces.append(self.narrow(dim, start, length))
            start += length
        return tuple(pieces)

    def chunk(self, chunks, dim=0):
        if not isinstance(chunks, int) or chunks <= 0:
            raise RuntimeError(f"chunk: chunks must be a positive integer, got {chunks!r}")
        size = self._data.shape[normalize_dim(dim, self.ndim)]
        return self.split(builtins.max(-(-size // chunks), 1), dim)

    def unbind(self, dim=0):
        dim = normalize_dim(dim, self.ndim)
        return tuple(self.select(dim, i) for i in range(self._data.shape[dim]))

    def select(self, dim, index):
        return self[(slice(None),) * normalize_dim(dim, self.ndim) + (index,)]

    # --- products, selection, reordering, triangles, scans and norms -------------------------------
    def dot(self, tensor):
        """The inner product of two 1-D tensors of one dtype (no promotion, as in PyTorch)."""
        _check_vectors("dot", input=self, tensor=tensor)
        if self._data.shape != tensor._data.shape:
            raise RuntimeError(f"dot: inconsistent tensor size, expected tensor [{self.numel()}] and src "
                               f"[{tensor.numel()}] to have the same number of elements, but got {self.numel()} "
                               f"and {tensor.numel()} elements respectively")
        if self._dtype is not tensor._dtype:
            raise RuntimeError(f"dot: expected both vectors to have same dtype, but found {self._dtype} and "
                               f"{tensor._dtype}")
        return matmul(self, tensor)

    def outer(self, vec2):
        """self[i] * vec2[j] for 1-D self and vec2 (dtypes promote as for *)."""
        _check_vectors("outer", input=self, vec2=vec2)
        return self.unsqueeze(1) * vec2

    ger = outer

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        """beta * self + alpha * (mat1 @ mat2), self broadcast to the product's shape; with beta=0 self is
        not read (its nan and inf do not propagate)."""
        for name, t in (("mat1", mat1), ("mat2", mat2)):
            if not isinstance(t, Tensor):
                raise TypeError(f"addmm(): argument '{name}' must be Tensor, not {type_name(t)}")
            if t.ndim != 2:
                raise RuntimeError(f"addmm: {name} must be a matrix, got {t.ndim}-D tensor")
        if self._dtype is not mat2._dtype:
            raise RuntimeError(f"addmm: self and mat2 must have the same dtype, but got {self._dtype} and "
                               f"{mat2._dtype}")
        product = matmul(mat1, mat2)
        added = self.expand(product.shape)  # PyTorch's error when self does not broadcast
        product = product if alpha == 1 else product * alpha
        if beta == 0:  # self is not read, but it is in the graph: PyTorch's zero gradient, not None
            return where(product.new_zeros(product.shape, dtype=dtypes.bool_), added, product)
        return product + (added if beta == 1 else added * beta)

    def index_select(self, dim, index):
        """The entries at the positions in `index` (a 1-D or 0-d integer tensor) along dim."""
        dim = normalize_dim(dim, self.ndim)
        if not isinstance(index, Tensor):
            raise TypeError(f"index_select(): argument 'index' must be Tensor, not {type_name(index)}")
        if index._dtype is not dtypes.int64 and index._dtype is not dtypes.int32:
            raise RuntimeError(f"index_select(): index: Expected dtype int32 or int64 for index, got {index._dtype}")
        if index.ndim > 1:
            raise IndexError(f"index_select(): index: Index is supposed to be a vector, got {index.ndim}-D")
        size = self._data.shape[dim] if self.ndim else 1
        if index.numel() and builtins.bool(((index < 0) | (index >= size)).any()):
            raise IndexError(f"index_select(): index out of range in self (dim {dim} has size {size})")
        if not self.ndim:
            if index.numel() != 1:
                raise RuntimeError(f"index_select(): index: Index to scalar can have only 1 value, got "
                                   f"{index.numel()} value(s)")
            return self.clone()
        return self[(slice(None),) * dim + (index.reshape(-1),)]

    def _along_index(self, name, dim, index, src=None):
        """(dim normalized, index as int64), after torch.gather's/scatter_add's checks of an index along
        dim (and of src): int32 and int64 indices, as PyTorch takes."""
        dim = normalize_dim(dim, builtins.max(self.ndim, 1))
        if not isinstance(index, Tensor):
            raise TypeError(f"{name}(): argument 'index' must be Tensor, not {type_name(index)}")
        if index._dtype is not dtypes.int64 and index._dtype is not dtypes.int32:
            raise RuntimeError(f"{name}(): Expected dtype int32 or int64 for index, got {index._dtype}")
        if src is not None and not isinstance(src, Tensor):
            raise TypeError(f"{name}(): argument 'src' must be Tensor, not {type_name(src)}")
        if builtins.max(index.ndim, 1) != builtins.max(self.ndim, 1) or (
                src is not None and builtins.max(src.ndim, 1) != builtins.max(self.ndim, 1)):
            raise RuntimeError(f"{name}(): Index tensor must have the same number of dimensions as "
                               f"{'self and src' if src is not None else 'input'} tensor")
        shape, index_shape = tuple(self.shape) or (1,), tuple(index.shape) or (1,)
        for d, (n, m) in enumerate(zip(index_shape, shape)):
            if (d != dim and n > m) or (src is not None and n > (tuple(src.shape) or (1,))[d]):
                raise RuntimeError(f"{name}(): Size does not match at dimension {d}: expected index "
                                   f"{list(index.shape)} to be no larger than self {list(self.shape)} apart from "
                                   f"dimension {dim}" + (f" and to be no larger than src {list(src.shape)}"
                                                        if src is not None else ""))
        if index.numel() and builtins.bool(((index < 0) | (index >= shape[dim])).any()):
            raise RuntimeError(f"{name}(): index out of bounds for dimension {dim} with size {shape[dim]}")
        return dim, index.long()

    @staticmethod
    def _cut(x, shape):
        """x's leading block of `shape` (index and src may be smaller than self off dim)."""
        if tuple(x.shape) == tuple(shape):
            return x
        return x[tuple(builtins.slice(0, n) for n in shape)]

    def gather(self, dim, index, *, sparse_grad=False):
        """out[i][j] = self[index[i][j]][j] for dim 0 (and so on): the entries at `index` along dim;
        index has self's number of dims and is no larger than self off dim."""
        dim, index = self._along_index("gather", dim, index)
        if not self.ndim:
            return self.reshape(1)._take_along(index.reshape(1), 0).reshape(index.shape)
        cut = list(self.shape)
        for d, n in enumerate(index.shape):
            if d != dim:
                cut[d] = n
        return reduction.Gather.apply(self._cut(self, cut), index, dim)

    def scatter_add(self, dim, index, src):
        """self with src's entries added at `index` along dim (repeated positions add up); only src's
        block of index's shape is used."""
        dim, index = self._along_index("scatter_add", dim, index, src)
        if src._dtype is not self._dtype:
            raise RuntimeError(f"scatter_add(): Expected self.dtype to be equal to src.dtype, got {self._dtype} "
                               f"and {src._dtype}")
        if not self.ndim:
            return self + src.reshape(()) * index.numel()
        if not index.numel():  # nothing added (an empty write: src's gradient is zero, as in PyTorch)
            return shape_ops.IndexPut.apply(self, self._along_key(index, dim), self._cut(src, index.shape))
        # ScatterAlong into self's size along dim and index's elsewhere, then zeros up to self's size
        cut = [n if d == dim else m for d, (n, m) in enumerate(zip(self.shape, index.shape))]
        added = reduction.ScatterAlong.apply(self._cut(src, index.shape), index, dim, tuple(cut))
        for d, (n, m) in enumerate(zip(self.shape, cut)):
            if m < n:
                fill = list(added.shape)
                fill[d] = n - m
                added = shape_ops.Cat.apply(d, added, added.new_zeros(*fill))
        return self + added

    def scatter_add_(self, dim, index, src):
        return self.copy_(self.scatter_add(dim, index, src))

    @staticmethod
    def _along_key(index, dim, select=None):
        """An advanced-indexing key (backend arrays) for index's positions along dim: index at dim, each
        other dim's arange; 1-d, at the flat positions `select` of index, when given."""
        key = []
        for d, n in enumerate(index.shape):
            if d == dim:
                key.append(index)
            else:
                key.append(_as_operand(np.arange(n).reshape([-1 if e == d else 1 for e in range(index.ndim)]),
                                       dtypes.int64, index))
        if select is not None:
            key = [k.expand(index.shape).reshape(-1)[select] for k in key]
        return tuple(k._data for k in key)

    @staticmethod
    def _scatter_writes(index, dim, cut, every):
        """[None] when no two entries of index write one position (of a block of shape cut) along dim;
        else the flat positions of index to write: the last writer of each position (every=False), or
        one round per rank of writers (every=True), each round writing a position at most once."""
        counts = reduction.ScatterAlong.apply(index.new_ones(*index.shape), index, dim, tuple(cut))
        if not builtins.bool((counts > 1).any()):
            return [None]
        strides = np.cumprod((cut[1:] + [1])[::-1])[::-1]
        flat = index * builtins.int(strides[dim])
        for d, n in enumerate(index.shape):
            if d != dim:
                flat = flat + index.new_tensor(np.arange(n) * strides[d]).reshape(
                    [-1 if e == d else 1 for e in range(index.ndim)])
        flat = flat.reshape(-1)
        order = flat.argsort(stable=True)  # by position, writers in index's order
        ordered = flat[order]
        change = ordered[1:] != ordered[:-1]
        if not every:
            return [order[shape_ops.Cat.apply(0, change, change.new_ones(1))]]
        first = shape_ops.Cat.apply(0, change.new_ones(1), change)
        step = index.new_tensor(np.arange(flat.numel()))
        rank = step - step[first][first.cumsum(0) - 1]
        return [order[rank == r] for r in range(builtins.int(rank.max().item()) + 1)]

    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        """self with src's entries (or the number `value`) written at `index` along dim: out[index[i][j]][j]
        = src[i][j] for dim 0; only src's block of index's shape is used. Where index repeats a position,
        the last write along dim wins. reduce="add" or "multiply" combines with self's entry instead."""
        if (src is None) == (value is None):
            raise TypeError("scatter() expects exactly one of 'src' (a Tensor) and 'value' (a number)")
        src = value if src is None else src
        if not isinstance(src, (Tensor, numbers.Number, np.generic)):
            raise TypeError(f"scatter(): argument 'src' must be Tensor or 'value' a number, not {type_name(src)}")
        if reduce is not None and reduce not in ("add", "multiply"):
            raise RuntimeError("reduce argument must be either add or multiply.")
        dim, index = self._along_index("scatter", dim, index, src if isinstance(src, Tensor) else None)
        if index.device != self.device:  # index reaches the backend as a key, not through Primitive.apply
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                               f"{self.device} and {index.device}! (in scatter)")
        if isinstance(src, Tensor):
            if src._dtype is not self._dtype:
                raise RuntimeError(f"scatter(): Expected self.dtype to be equal to src.dtype, got {self._dtype} "
                                   f"and {src._dtype}")
            if reduce is not None:
                warnings.warn("The reduce argument of torch.scatter with Tensor src is deprecated and will be "
                              "removed in a future PyTorch release. Use torch.scatter_reduce instead for more "
                              "reduction options.", UserWarning, stacklevel=2)
            src = self._cut(src, index.shape)
        else:
            src = _as_operand(src, self._dtype, self).expand(index.shape)
        out, index, src = (self, index, src) if self.ndim else (self.reshape(1), index.reshape(1), src.reshape(1))
        if reduce == "add":
            out = out.scatter_add(dim, index, src)
        else:
            cut = [n if d == dim else m for d, (n, m) in enumerate(zip(out.shape, index.shape))]
            writes = self._scatter_writes(index, dim, cut, reduce == "multiply") if index.numel() else [None]
            for select in writes:  # each round writes a position at most once
                key = self._along_key(index, dim, select)
                values = src if select is None else src.reshape(-1)[select]
                if reduce == "multiply":
                    values = shape_ops.Index.apply(out, key) * values
                out = shape_ops.IndexPut.apply(out, key, values)
        return out if self.ndim else out.reshape(())

    def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
        return self.copy_(self.scatter(dim, index, src, value, reduce=reduce))

    def masked_fill(self, mask, value):
        """self with `value` (a number or a 0-d tensor, cast to self's dtype) where the bool `mask` is
        true; self and mask broadcast."""
        if not isinstance(mask, Tensor):
            raise TypeError(f"masked_fill(): argument 'mask' must be Tensor, not {type_name(mask)}")
        if mask._dtype is not dtypes.bool_:
            raise RuntimeError(f"masked_fill: mask: masked_fill_ only supports boolean masks, but got mask with "
                               f"dtype {mask._dtype}")
        if isinstance(value, Tensor):
            if value.ndim:
                raise RuntimeError(f"masked_fill: value: masked_fill_ only supports a 0-dimensional value tensor, "
                                   f"but got tensor with {value.ndim} dimension(s).")
        elif not isinstance(value, (numbers.Number, np.generic)):
            raise TypeError(f"masked_fill(): argument 'value' must be a number or a Tensor, not {type_name(value)}")
        return where(mask, _as_operand(_fitted_scalar(value, self._dtype), self._dtype, self), self)

    def masked_fill_(self, mask, value):
        return self.copy_(self.masked_fill(mask, value))

    def repeat(self, *sizes):
        """self tiled sizes[i] times along each dim (extra leading sizes add dims); always a copy."""
        sizes = shape_args(sizes, "repeats")
        if len(sizes) < self.ndim:
            raise RuntimeError(f"repeat: Number of dimensions of repeat dims ({len(sizes)}) can not be smaller "
                               f"than number of dimensions of tensor ({self.ndim})")
        if any(r < 0 for r in sizes):
            raise RuntimeError(f"repeat: repeats: Trying to create tensor with negative dimension, got {list(sizes)}")
        shape = (1,) * (len(sizes) - self.ndim) + self._data.shape
        tiles = self.reshape([d for n in shape for d in (1, n)]).expand([d for pair in zip(sizes, shape) for d in pair])
        out = tiles.reshape([r * n for r, n in zip(sizes, shape)])  # a copy, unless nothing was repeated
        return out.clone() if all(r == 1 for r in sizes) else out

    def repeat_interleave(self, repeats, dim=None):
        """Each element repeated `repeats` times (an int, or a tensor of counts per element) along dim;
        over the flattened tensor when dim is None."""
        source = self.reshape(-1) if dim is None or not self.ndim else self
        dim = 0 if dim is None else normalize_dim(dim, self.ndim)
        size = source._data.shape[dim]
        if isinstance(repeats, Tensor):
            if repeats.ndim > 1 or repeats._dtype.category != 1:
                raise RuntimeError(f"repeat_interleave: repeats must be 0-dim or 1-dim tensor of integers, got "
                                   f"a {repeats.ndim}-D {repeats._dtype} tensor")
            if repeats.numel() != 1:
                counts = repeats._backend.to_numpy(repeats._data)
                if counts.shape[0] != size:
                    raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along dim, "
                                       f"but got repeats.size(0) = {counts.shape[0]} and input.size({dim}) = {size}")
                if (counts < 0).any():
                    raise RuntimeError("repeat_interleave: repeats can not be negative")
                return source.index_select(dim, _as_operand(np.repeat(np.arange(size), counts), dtypes.int64, source))
            repeats = int(repeats.item())
        if not isinstance(repeats, (int, np.integer)) or isinstance(repeats, bool) or repeats < 0:
            raise RuntimeError(f"repeat_interleave: repeats: Repeats must be non-negative integers, got {repeats!r}")
        moved = source.unsqueeze(dim + 1)
        shape = list(moved.shape)
        shape[dim + 1] = int(repeats)
        return moved.expand(shape).flatten(dim, dim + 1)

    def flip(self, *dims):
        """A copy with the order of the entries reversed along each of dims."""
        dims = [normalize_dim(d, self.ndim, "dims") for d in shape_args(dims, "dims")]
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"flip: dims: dim {dims} appears multiple times in the list of dims")
        return self[tuple(slice(None, None, -1) if d in dims else slice(None) for d in range(self.ndim))].clone()

    def roll(self, shifts, dims=None):
        """Entries shifted cyclically by shifts[i] along dims[i]; over the flattened tensor when dims is None."""
        shifts = shape_args((shifts,), "shifts")
        if dims is None:
            if len(shifts) != 1:
                raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
            return self.flatten().roll(shifts, 0).reshape(self.shape)
        dims = shape_args((dims,), "dims")
        if not shifts:
            raise RuntimeError("roll: `shifts` required")
        if len(shifts) != len(dims):
            raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
        out = self
        for shift, dim in zip(shifts, dims):
            dim = normalize_dim(dim, self.ndim, "dims")
            size = out._data.shape[dim] if out.ndim else 1
            shift = shift % size if size else 0
            if shift:
                out = shape_ops.Cat.apply(dim, out.narrow(dim, size - shift, shift), out.narrow(dim, 0, size - shift))
        return self.clone() if out is self else out

    def _triangle(self, diagonal, lower, name):
        if self.ndim < 2:
            raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions, got {self.ndim}")
        if not isinstance(diagonal, (int, np.integer)) or isinstance(diagonal, bool):
            raise TypeError(f"{name}(): argument 'diagonal' must be int, not {type_name(diagonal)}")
        rows, cols = self._data.shape[-2:]
        keep = np.tri(rows, cols, diagonal, dtype=bool) if lower else ~np.tri(rows, cols, diagonal - 1, dtype=bool)
        return where(_as_operand(keep, dtypes.bool_, self), self, self.new_zeros(()))

    def tril(self, diagonal=0):
        """The lower triangle of the last two dims (on and below diagonal `diagonal`), the rest zero."""
        return self._triangle(diagonal, True, "tril")

    def triu(self, diagonal=0):
        """The upper triangle of the last two dims (on and above diagonal `diagonal`), the rest zero."""
        return self._triangle(diagonal, False, "triu")

    def tril_(self, diagonal=0):
        return self.copy_(self.tril(diagonal))

    def triu_(self, diagonal=0):
        return self.copy_(self.triu(diagonal))

    def _scan(self, dim, dtype, combine, identity):
        """Inclusive scan along dim in log2(n) whole-tensor steps (Hillis-Steele): step k combines each
        entry with the one 2**k before it; bool and integer inputs scan in int64, as in PyTorch."""
        source = self.to(dtype) if dtype is not None else self if self._dtype.is_floating_point else \
            self.to(dtypes.int64)
        dim = normalize_dim(dim, self.ndim)
        out = source if source.ndim else source.reshape(1)
        n, step = out._data.shape[dim], 1
        if n <= 1:
            return source.clone()
        while step < n:
            filler = out.new_full(out._data.shape[:dim] + (step,) + out._data.shape[dim + 1:], identity)
            out = combine(out, shape_ops.Cat.apply(dim, filler, out.narrow(dim, 0, n - step)))
            step *= 2
        return out

    def cumsum(self, dim, *, dtype=None):
        """Running sums along dim."""
        return self._scan(dim, dtype, ew.Add.apply, 0)

    def cumprod(self, dim, *, dtype=None):
        """Running products along dim (the gradient is exact at zeros: no division)."""
        return self._scan(dim, dtype, ew.Mul.apply, 1)

    def _vector_norm(self, ord, dim, keepdim, dtype, name):  # noqa: A002 (PyTorch's argument name)
        """(sum |x|**ord)**(1/ord) over dim (None: every dim); ord inf/-inf is the max/min of |x|, 0 the count
        of non-zeros. Where the norm is 0 its gradient is 0, as in PyTorch."""
        source = self if dtype is None else self.to(dtype)
        if not source._dtype.is_floating_point:
            raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got {source._dtype}")
        if not isinstance(ord, numbers.Real) or isinstance(ord, bool):
            raise RuntimeError(f"{name}: ord: expected a number, got {ord!r}")
        dims = normalize_dims(dim, self.ndim)
        magnitude = source.abs()
        if ord in (np.inf, -np.inf):
            return (magnitude.amax if ord > 0 else magnitude.amin)(dims, keepdim=keepdim)
        if ord == 0:
            return (source != 0).to(source._dtype).sum(dims, keepdim=keepdim)
        if ord == 1:
            return magnitude.sum(dims, keepdim=keepdim)
        total = (magnitude * magnitude if ord == 2 else magnitude ** ord).sum(dims, keepdim=keepdim)
        zero = total == 0
        safe = where(zero, total.new_ones(()), total)  # the root's derivative is infinite at 0
        return where(zero, total.new_zeros(()), safe.sqrt() if ord == 2 else safe ** (1 / ord))

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        """torch.norm: the vector p-norm over dim (every dim when None); 'fro' is the 2-norm over dim."""
        if isinstance(p, str):
            if p != "fro":
                raise NotImplementedError(f"norm: p={p!r} is not supported (only 'fro' and numbers)")
            p = 2
        return self._vector_norm(p, dim, keepdim, dtype, "norm")

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """|self - other| <= atol + rtol * |other| elementwise, as a bool tensor; equal infinities are
        close, and nan is close to nan only with equal_nan."""
        if not isinstance(other, Tensor):
            raise TypeError(f"isclose(): argument 'other' must be Tensor, not {type_name(other)}")
        if self._dtype is not other._dtype:
            raise RuntimeError(f"isclose(): other: {other._dtype} did not match {self._dtype}")
        for name, tolerance in (("rtol", rtol), ("atol", atol)):
            if not tolerance >= 0:
                raise RuntimeError(f"isclose(): {name} must be greater than or equal to zero, but got {tolerance}")
        close = self == other
        if self._dtype is dtypes.bool_:
            return close
        difference = (self - other).abs()
        close = close | ((difference <= atol + rtol * other.abs()) & ~difference.isinf())
        return close | (self.isnan() & other.isnan()) if equal_nan else close

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        """self with nan, inf and -inf replaced; by default with 0 and the dtype's largest and smallest
        finite values. The gradient passes where self is finite."""
        if not self._dtype.is_floating_point:
            return self.clone()
        info = np.finfo(self._dtype.numpy)
        out = where(self.isnan(), nan, self)
        out = where(self == np.inf, info.max.item() if posinf is None else posinf, out)
        return where(self == -np.inf, info.min.item() if neginf is None else neginf, out)

    def nan_to_num_(self, nan=0.0, posinf=None, neginf=None):
        return self.copy_(self.nan_to_num(nan, posinf, neginf))

    # --- sorting -----------------------------------------------------------------------------------
    def argsort(self, dim=-1, descending=False, stable=False):
        """Positions that sort self along dim; the sort is always stable (equal values keep their order)
        and nan sorts as the largest value, as in PyTorch."""
        return logic.Argsort.apply(self, normalize_dim(dim, self.ndim), builtins.bool(descending))

    def _take_along(self, indices, dim):
        if not self.ndim:
            return self.clone()
        return reduction.Gather.apply(self, indices, normalize_dim(dim, self.ndim))

    def sort(self, dim=-1, descending=False, stable=False):
        """(values, indices) of self sorted along dim (stably); the gradient goes back to each value's source."""
        indices = self.argsort(dim, descending, stable)
        return ValuesIndices(self._take_along(indices, dim), indices)

    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002 (PyTorch's argument name)
        """(values, indices) of the k largest (smallest with largest=False) entries along dim, in order."""
        dim = normalize_dim(dim, self.ndim)
        size = self._data.shape[dim] if self.ndim else 1
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
            raise TypeError(f"topk(): argument 'k' must be int, not {type_name(k)}")
        if not 0 <= k <= size:
            raise RuntimeError(f"topk: k: selected index k out of range (k={k}, size {size} along dim {dim})")
        indices = self.argsort(dim, largest)
        indices = indices.narrow(dim, 0, k) if self.ndim else indices
        return ValuesIndices(self._take_along(indices, dim), indices)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
        """The distinct values of self in ascending order (sorted=False gives them sorted too), then
        optionally each entry's position among them (self's shape) and each value's count. With dim: the
        distinct slices along dim in lexicographic order, each slice's position among them, their counts.
        No gradient."""
        if dim is not None:
            return self._unique_dim(dim, return_inverse, return_counts)
        flat = self.detach().reshape(-1)
        order = flat.argsort()
        values = flat[order]
        n = values.numel()
        starts = shape_ops.Cat.apply(0, values.new_ones(builtins.min(n, 1), dtype=dtypes.bool_),
                                     values[1:] != values[:-1])
        outputs = [values[starts]]
        if return_inverse or return_counts:
            group = starts.cumsum(0) - 1
        if return_inverse:
            inverse = group.new_zeros(n)
            inverse[order] = group
            outputs.append(inverse.reshape(self.shape))
        if return_counts:
            outputs.append(reduction.ScatterAlong.apply(group.new_ones(n), group, 0, (outputs[0].numel(),)))
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    @staticmethod
    def _dense_ranks(keys):
        """Each entry's rank among the distinct values of its column of keys (n, k), 0 for the smallest;
        nan is larger than every number and distinct from every nan, as unique's values."""
        order = keys.argsort(0)
        ordered = keys.gather(0, order)
        new = shape_ops.Cat.apply(0, ordered.new_zeros(1, keys.shape[1], dtype=dtypes.bool_),
                                  ordered[1:] != ordered[:-1])
        ranks = new.cumsum(0)
        return ranks.scatter(0, order, ranks)

    def _unique_dim(self, dim, return_inverse, return_counts):
        """unique(dim=...): rows (the slices along dim, flattened) ranked column by column, then pairs of
        rank columns combined into one key and ranked again, until one column ranks whole rows."""
        if not self.ndim:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        dim = normalize_dim(dim, self.ndim)
        n = self.shape[dim]
        if builtins.any(m == 0 for d, m in enumerate(self.shape) if d != dim):
            raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so unique cannot be applied")
        x = self.detach()
        rows = x.permute(dim, *(d for d in range(self.ndim) if d != dim)).reshape(n, -1 if n else 1)
        ranks = self._dense_ranks(rows) if n else rows.new_zeros(0, 1, dtype=dtypes.int64)
        while ranks.shape[1] > 1:
            if ranks.shape[1] % 2:
                ranks = shape_ops.Cat.apply(1, ranks, ranks.new_zeros(n, 1))
            pairs = ranks.reshape(n, -1, 2)
            ranks = self._dense_ranks(pairs[:, :, 0] * (n + 1) + pairs[:, :, 1])
        inverse = ranks.reshape(n)
        count = builtins.int(inverse.max().item()) + 1 if n else 0
        first = inverse.new_zeros(count).scatter(0, inverse, inverse.new_tensor(np.arange(n)))
        outputs = [x.index_select(dim, first)]
        if return_inverse:
            outputs.append(inverse)
        if return_counts:
            outputs.append(reduction.ScatterAlong.apply(inverse.new_ones(n), inverse, 0, (count,)))
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    # --- indexing ----------------------------------------------------------------------------
    def _index_key(self, key):
        key = key if isinstance(key, tuple) else (key,)
        converted = []
        for item in key:
            if isinstance(item, Tensor):
                if item._dtype.is_floating_point:
                    raise IndexError("tensors used as indices must be long, int or bool tensors, "
                                     f"got {item._dtype}")
                item = int(item.item()) if item.ndim == 0 and item._dtype is dtypes.int64 else item._data
            elif isinstance(item, (list, range, np.ndarray)):
                item = np.asarray(item)
                if item.dtype.kind == "f":
                    raise IndexError("tensors used as indices must be long, int or bool tensors")
            elif not (item is None or item is Ellipsis or isinstance(item, (slice, int, np.integer))):
                raise TypeError(f"index: only integers, slices, None, Ellipsis, and integer or boolean "
                                f"tensors are valid indices, got {type(item).__name__}")  # PyTorch's type
            converted.append(item)
        return tuple(converted)

    def __getitem__(self, key):
        return shape_ops.Index.apply(self, self._index_key(key))

    def __setitem__(self, key, value):
        if not isinstance(value, (Tensor, numbers.Number, np.generic, np.ndarray, list, tuple)) \
                or isinstance(value, (str, bytes, np.str_)):
            raise TypeError(f"value: can't assign a {type_name(value)} to a {self.type()}")
        value = _as_operand(_fitted_scalar(value, self._dtype), self._dtype, self)
        key = self._index_key(key)
        try:
            self._in_place(shape_ops.IndexPut, key, value)
        except ValueError:  # the backend's words for values that do not broadcast: say it as PyTorch does
            target = tuple(shape_ops.Index.apply(self.detach(), key).shape)
            shape = tuple(value.shape)
            while len(shape) > len(target) and shape[0] == 1:  # leading 1s are ignored, as in PyTorch
                shape = shape[1:]
            try:
                fits = len(shape) <= len(target) and broadcast_shape(shape, target) == target
            except RuntimeError:
                fits = False
            if fits:
                raise
            raise RuntimeError(f"value: shape mismatch: value tensor of shape {list(value.shape)} cannot be "
                               f"broadcast to indexing result of shape {list(target)}") from None

    # --- in-place ------------------------------------------------------------------------------------
    # the write and its autograd bookkeeping are TensorBase._in_place (minigrad/autograd/variable.py)
    def _in_place_binary(self, function, other):
        if isinstance(other, Tensor) and other._data.shape != self._data.shape:
            broadcast_shape(self._data.shape, other._data.shape)
        elif not isinstance(other, (Tensor, numbers.Number, np.generic)):
            raise _not_an_operand(other)
        dtype = result_dtype(self, other)
        if function is ew.Div and not dtype.is_floating_point:
            dtype = dtypes.get_default_dtype()
        if dtype.category > self._dtype.category:
            raise RuntimeError(f"result type {dtype} can't be cast to the desired output type {self._dtype}")
        return self._in_place(function, _as_operand(other, self._dtype, self))

    def add_(self, other, alpha=1):
        return self._in_place_binary(ew.Add, other if alpha == 1 else other * alpha)

    def sub_(self, other, alpha=1):
        return self._in_place_binary(ew.Sub, other if alpha == 1 else other * alpha)

    def mul_(self, other):
        return self._in_place_binary(ew.Mul, other)

    def div_(self, other, *, rounding_mode=None):
        if rounding_mode is None:
            return self._in_place_binary(ew.Div, other)
        return self.copy_(self.div(other, rounding_mode=rounding_mode))

    __iadd__, __isub__, __imul__ = add_, sub_, mul_

    def __itruediv__(self, other):
        return self.div_(other)

    def copy_(self, source):
        """Copy source's values in, from any device (as PyTorch's copy_)."""
        self[...] = source.to(self._device) if isinstance(source, Tensor) else source
        return self

    def fill_(self, value):
        self[...] = value
        return self

    def zero_(self):
        return self.fill_(0)

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        """Fill with samples of N(mean, std**2) in place (d2l's `weight.data.normal_(0, 0.01)`)."""
        values = generator_or_default(generator).numpy.normal(mean, check_std(std, "normal_"), tuple(self.shape))
        return self.copy_(self._wrap(self._backend.from_numpy(values.astype(self._dtype.numpy))))

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        """Fill with samples of U(a, b) in place."""
        if not a <= b:
            raise RuntimeError(f"uniform_(): expects to return a [from, to) range, but found from={a} > to={b} "
                               "(arguments a and b)")
        values = generator_or_default(generator).numpy.uniform(a, b, tuple(self.shape))
        return self.copy_(self._wrap(self._backend.from_numpy(values.astype(self._dtype.numpy))))

    def _probabilities(self, name):
        if not self._dtype.is_floating_point:
            raise RuntimeError(f"{name}: input: expected floating point probabilities, got {self._dtype}")
        return self._backend.to_numpy(self._data).astype(np.float64)

    def bernoulli(self, p=None, *, generator=None):
        """0/1 samples in self's shape and dtype, each 1 with probability self's entry (or p, a number)."""
        probabilities = self._probabilities("bernoulli") if p is None else p
        if not np.all((probabilities >= 0) & (probabilities <= 1)):  # also refuses nan
            raise RuntimeError("bernoulli: expected probabilities p in [0, 1] (Expected p_in >= 0 && p_in <= 1)")
        draws = generator_or_default(generator).numpy.random(tuple(self.shape)) < probabilities
        return self._wrap(self._backend.from_numpy(draws.astype(self._dtype.numpy)))

    def bernoulli_(self, p=0.5, *, generator=None):
        """Fill with 0/1 samples in place, each 1 with probability p (a number or a tensor broadcasting to self)."""
        if isinstance(p, Tensor):
            p = p._probabilities("bernoulli_")
        return self.copy_(self.bernoulli(p, generator=generator))

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        """int64 category indices drawn with the (unnormalised, non-negative) weights in self's last dim,
        num_samples per row of a 1-D or 2-D self; without replacement each index at most once per row."""
        weights = self._probabilities("multinomial")
        if self.ndim not in (1, 2):
            raise RuntimeError(f"multinomial: input: prob_dist must be 1 or 2 dim, got {self.ndim}-D")
        if not isinstance(num_samples, (int, np.integer)) or num_samples <= 0:
            raise RuntimeError(f"multinomial: num_samples: cannot sample n_sample <= 0 samples, got {num_samples}")
        n = weights.shape[-1]
        if not replacement and num_samples > n:
            raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without "
                               f"replacement (num_samples={num_samples}, {n} categories)")
        weights = weights.reshape(-1, n)
        if not np.all(np.isfinite(weights) & (weights >= 0)):
            raise RuntimeError("multinomial: input: invalid multinomial distribution (probability tensor contains "
                               "either `inf`, `nan` or element < 0)")
        totals = weights.sum(1, keepdims=True)
        if np.any(totals <= 0):
            raise RuntimeError("multinomial: input: invalid multinomial distribution (sum of probabilities <= 0)")
        rng = generator_or_default(generator).numpy
        if replacement:  # inverse CDF; a rounding shortfall of the last sum falls to the last category
            cdf = np.cumsum(weights / totals, axis=1)
            draws = rng.random((len(weights), num_samples))
            samples = np.minimum([np.searchsorted(c, u, side="right") for c, u in zip(cdf, draws)], n - 1)
        else:  # an exponential race: the num_samples smallest Exp(1) / weight win, in order
            with np.errstate(divide="ignore"):
                keys = rng.standard_exponential(weights.shape) / weights
            samples = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
        samples = np.asarray(samples, dtype=np.int64).reshape(tuple(self.shape[:-1]) + (num_samples,))
        return self._wrap(self._backend.from_numpy(samples))

    def clamp_(self, min=None, max=None):  # noqa: A002
        return self.copy_(self.clamp(min, max))


def matmul(a, b):
    """Matrix product with numpy/PyTorch semantics for 1-D operands and broadcast batch dims."""
    for name, t in (("input", a), ("other", b)):
        if not isinstance(t, Tensor):
            raise TypeError(f"matmul(): argument '{name}' must be Tensor, not {type_name(t)}")
        if t.ndim == 0:
            raise RuntimeError(f"matmul: both arguments to matmul need to be at least 1D, but {name} is 0D")
    if a._dtype is not b._dtype:  # PyTorch promotes elementwise ops, never matrix products
        raise RuntimeError(f"matmul(): expected input and other to have the same dtype, but got input "
                           f"{a._dtype} and other {b._dtype}; convert one, e.g. other.to(input.dtype)")
    if a._dtype is dtypes.bool_:
        raise RuntimeError("matmul(): not implemented for bool tensors (input and other); convert them, "
                           "e.g. input.long()")
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(-1) if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise RuntimeError(f"matmul: mat1 and mat2 shapes cannot be multiplied "
                           f"({'x'.join(map(str, a.shape))} and {'x'.join(map(str, b.shape))})")
    try:
        np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise RuntimeError(f"matmul: batch dimensions of {list(a.shape)} and {list(b.shape)} "
                           "cannot be broadcast") from None
    out = linalg.Matmul.apply(a2, b2)
    if a.ndim == 1:
        out = out.squeeze(-2)
    if b.ndim == 1:
        out = out.squeeze(-1)
    return out


def where(condition, input, other):  # noqa: A002 (PyTorch's argument name)
    """Elements of `input` where `condition` is true, else of `other`; broadcasts all three."""
    if not isinstance(condition, Tensor) or condition._dtype is not dtypes.bool_:
        raise TypeError(f"where: expected condition to be a bool Tensor, got "
                        f"{condition.dtype if isinstance(condition, Tensor) else type(condition).__name__}")
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):  # where(mask, 1.0, 0.0)
        dtype = builtins.max(map(python_scalar_dtype, (input, other)), key=lambda d: d.category)
        input = condition._wrap(condition._backend.asarray(input, dtype=dtype.numpy))
    if not isinstance(input, Tensor):
        other, input = _promote(other, input)
    else:
        input, other = _promote(input, other)
    if condition._data.shape != input._data.shape or condition._data.shape != other._data.shape:
        broadcast_shape(condition._data.shape, broadcast_shape(input._data.shape, other._data.shape))
    return ew.Where.apply(condition, input, other)
