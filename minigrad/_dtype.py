"""dtypes: float16, float32 (the default floating dtype unless set_default_dtype changes it), float64,
uint8, int8, int16, int32, int64 and bool, mapped onto numpy."""
import numpy as np


class dtype:
    """A tensor element type, printed as PyTorch prints it (``minigrad.float32``)."""

    __slots__ = ("name", "numpy", "is_floating_point", "itemsize", "category")

    def __init__(self, name, numpy_dtype, category):
        self.name = name
        self.numpy = np.dtype(numpy_dtype)
        self.is_floating_point = category == 2
        self.itemsize = self.numpy.itemsize
        self.category = category  # 0 bool, 1 integer, 2 floating: for type promotion

    def __repr__(self):
        return "minigrad." + self.name

    def __reduce__(self):
        return (from_numpy_dtype, (self.numpy,))


float16 = dtype("float16", np.float16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
bool_ = dtype("bool", np.bool_, 0)
ALL = (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)
SUPPORTED = ", ".join(d.name for d in ALL[:-1]) + " and " + ALL[-1].name  # for error messages
# PyTorch's aliases (minigrad.float, .double, .half, .long, .int, .short, .bool), served by the
# package's module __getattr__ so that no builtin name is shadowed.
ALIASES = {"float": float32, "double": float64, "half": float16, "long": int64, "int": int32, "short": int16,
           "bool": bool_}

_default_float = float32  # what float data and the factories give when no dtype is named


def get_default_dtype():
    """The default floating dtype: float32 unless set_default_dtype changed it."""
    return _default_float


def set_default_dtype(d):
    """Make `d` (minigrad.float32, float64 or float16) the dtype of Python floats and of the factories'
    floating results when no dtype is named, as torch.set_default_dtype."""
    global _default_float
    if not isinstance(d, dtype):
        raise TypeError(f"set_default_dtype(): argument 'd' must be minigrad.dtype, not {type(d).__name__}")
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype(): only floating-point types (float16, float32, float64) are supported "
                        f"as the default type, got {d}")
    _default_float = d


BY_NUMPY = {d.numpy: d for d in ALL}
_BY_NAME = dict({d.name: d for d in ALL}, **ALIASES)


def _conversion_hint(np_dtype):
    """How to convert numpy data of a dtype minigrad lacks, for error messages."""
    if np_dtype.kind in "iu":
        return "arr.astype(np.int64)"
    if np_dtype.kind == "f":
        return "arr.astype(np.float32)"
    if np_dtype.kind == "c":
        return "arr.real.astype(np.float64) (minigrad has no complex dtype)"
    return "arr.astype(np.float32), if the values are numbers"


def unsupported_numpy_dtype(np_dtype, argument, function):
    """The TypeError for numpy data of a dtype minigrad does not have."""
    np_dtype = np.dtype(np_dtype)
    return TypeError(f"{function}(): {argument}: numpy dtype {np_dtype} is not supported; minigrad's dtypes are "
                     f"{SUPPORTED}. Convert it first, e.g. {_conversion_hint(np_dtype)}")


def from_numpy_dtype(np_dtype):
    """The minigrad dtype of a numpy dtype; other numpy dtypes raise TypeError."""
    found = BY_NUMPY.get(np.dtype(np_dtype))
    if found is None:
        raise TypeError(
            f"dtype: expected one of {SUPPORTED}, got numpy dtype {np.dtype(np_dtype)}")
    return found


def for_numpy_data(np_dtype, function):
    """The dtype that tensor()/as_tensor() give numpy data: its own, or int64 for uint16 and uint32
    (which minigrad lacks; every value fits, so nothing is lost). Others raise TypeError."""
    found = BY_NUMPY.get(np_dtype)
    if found is not None:
        return found
    if np_dtype.kind == "u" and np_dtype.itemsize < 8:
        return int64
    raise unsupported_numpy_dtype(np_dtype, "data", function)


def as_dtype(value, argument="dtype"):
    """Accept a minigrad dtype, a numpy dtype/type, a name, or Python's float/int/bool."""
    if isinstance(value, dtype):
        return value
    if value is bool:
        return bool_
    if value is int:
        return int64
    if value is float:  # Python's float is a double, as in PyTorch (dtype=float gives float64)
        return float64
    if isinstance(value, str) and value in _BY_NAME:
        return _BY_NAME[value]
    try:
        return from_numpy_dtype(value)
    except TypeError:
        raise TypeError(
            f"{argument}: expected a minigrad dtype ({SUPPORTED}), got {value!r}") from None
