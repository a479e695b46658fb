"""The backend interface: every array operation an op may ask of a device, declared once.

Arrays are the backend's own (numpy arrays on the CPU, numba device arrays on CUDA); `shape` is a tuple
of ints, `np_dtype` a numpy dtype, `g` a minigrad.backends.geometry.ConvGeometry (convolution arrays are
5-d (N, C, D, H, W); 1-d and 2-d pass size-1 dims). Unless its line says otherwise an entry returns a new
array, modifies none of its inputs, and follows numpy: broadcasting, NEP 50 result dtypes, and inf/nan
(never a warning) for float overflow and invalid values. An entry raises only the errors its line names
(tests/test_backend_interface.py checks them on both backends); what the Tensor layer refuses before it
reaches a backend (mixed devices, bad dims, mismatched shapes) is not part of the contract.

Every method below is abstract. A family (UNARY, BINARY, ...) is one entry: one contract and signature,
many names. minigrad.backends.shared.SharedBackend implements the convolution entries on top of
im2col, col2im, matmul and the layout entries (the CUDA backend's); the CPU backend has its own tiled
ones.
"""
import abc
import inspect


class ViewError(ValueError):
    """view's error: x's strides do not allow the new shape without a copy."""


UNARY = ("negative", "exp", "log", "sqrt", "sin", "cos", "tanh", "abs", "sign", "floor", "sigmoid", "erf",
         "relu", "isnan", "isinf", "logical_not", "invert")
BINARY = ("add", "subtract", "multiply", "divide", "floor_divide", "remainder", "power", "maximum", "minimum",
          "bitwise_and", "bitwise_or", "bitwise_xor")
COMPARISONS = ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")
SUMS = ("sum", "prod")
FOLDS = ("all", "any", "amax", "amin")
ARG_REDUCTIONS = ("argmax", "argmin")
ACTIVATION_GRADIENTS = ("sigmoid_backward", "relu_backward")
FAMILIES = {"UNARY": UNARY, "BINARY": BINARY, "COMPARISONS": COMPARISONS, "SUMS": SUMS, "FOLDS": FOLDS,
            "ARG_REDUCTIONS": ARG_REDUCTIONS, "ACTIVATION_GRADIENTS": ACTIVATION_GRADIENTS}


class _Families:
    """The signature and contract of each family; every name in it is declared with them."""

    def UNARY(self, x):
        """f(x): x's shape and numpy's result dtype (bool for isnan, isinf, logical_not)."""

    def BINARY(self, a, b):
        """f(a, b): the broadcast shape and numpy's result dtype; a or b may be a Python scalar."""

    def COMPARISONS(self, a, b):
        """f(a, b): a bool array of the broadcast shape; a or b may be a Python scalar."""

    def SUMS(self, x, axis=None, keepdims=False, dtype=None):
        """sum/prod over axis (None, an int or a tuple); bool and int inputs give int64 unless dtype."""

    def FOLDS(self, x, axis=None, keepdims=False):
        """all/any (bool), amax/amin (x's dtype; values undefined over an empty axis) over axis."""

    def ACTIVATION_GRADIENTS(self, grad, y):
        """An activation's VJP from its output y, broadcast, in one pass where the device can: sigmoid's
        grad * y * (1 - y); relu's 0 where y <= 0 (even for an inf or nan grad), else grad (PyTorch's)."""

    def ARG_REDUCTIONS(self, x, axis=None, keepdims=False):
        """int64 index of the first extreme along the int axis (None: of x flattened); ValueError if empty."""


def _declare_all_abstract(cls):
    """Declares each family's names with its signature and contract, and makes every entry abstract."""
    for family, names in FAMILIES.items():
        stub = getattr(_Families, family)
        for name in names:
            def entry(*args, **kwargs):
                raise NotImplementedError
            entry.__name__, entry.__qualname__, entry.__doc__ = name, f"Backend.{name}", stub.__doc__
            entry.__signature__ = inspect.signature(stub)
            setattr(cls, name, entry)
    for name, value in list(vars(cls).items()):
        if inspect.isfunction(value) and not name.startswith("_"):
            setattr(cls, name, abc.abstractmethod(value))
    abc.update_abstractmethods(cls)
    return cls


@_declare_all_abstract
class Backend(abc.ABC):
    name = "?"  # the device type the backend runs: "cpu", "cuda"

    # --- arrays: creation, conversion, layout ------------------------------------------------------------
    def asarray(self, value, dtype=None):
        """value (an array, scalar or nested list) as an array; no copy if it is one of dtype."""
    def full(self, shape, fill_value, dtype=None):
        """shape filled with fill_value; dtype defaults to numpy's for the value."""
    def zeros(self, shape, dtype=None):
        """shape of zeros; dtype defaults to float64."""
    def empty(self, shape, np_dtype):
        """A new C-contiguous array whose values are undefined."""
    def copy(self, x, order="K"):
        """A new array with x's values; C-contiguous for order="C" (on CUDA always)."""
    def contiguous(self, x):
        """x itself if C-contiguous, else a C-contiguous copy."""
    def astype(self, x, np_dtype):
        """x cast to np_dtype (numpy's unsafe casting); x itself if it has it already."""
    def to_numpy(self, x):
        """x's values as a host numpy array (a copy on a device, x itself on the CPU)."""
    def from_numpy(self, x):
        """A host numpy array as this backend's array (sharing its memory on the CPU)."""
    def is_contiguous(self, x):
        """bool: is x C-contiguous."""
    def shares_memory(self, a, b):
        """bool: might a and b share storage (False only if they certainly do not)."""
    def assign(self, dst, src):
        """dst[...] = src in place; ValueError if src doesn't broadcast to dst or dst is a broadcast view."""
    def add_into(self, x, y):
        """x += y in place (gradient accumulation); y broadcasts to x."""

    # --- elementwise: the families UNARY, BINARY, COMPARISONS, and -----------------------------------------
    def clip(self, x, low, high):
        """x clamped to [low, high]; either bound may be None."""
    def where(self, condition, a, b):
        """a where condition else b, broadcast; a and b may be Python scalars."""

    # --- reductions: the families SUMS, FOLDS, ARG_REDUCTIONS, and -----------------------------------------
    def max_with_indices(self, x, axis, take_max):
        """(values, int64 indices) of the max (min) along the int axis, which is removed; ValueError if empty."""
    def argsort(self, x, axis, descending):
        """int64 positions that sort x (ndim >= 1) along the int axis, stably (equal values keep their order,
        descending too); nan sorts as the largest value."""

    # --- shapes and indexing -----------------------------------------------------------------------------
    def reshape(self, x, shape):
        """x with shape (-1 allowed): a view when strides allow, else a copy; ValueError if the size differs."""
    def view(self, x, shape):
        """A view of x with shape; ViewError if x's strides don't allow one, ValueError if the size differs."""
    def transpose(self, x, axes=None):
        """A view with the axes permuted (reversed for None)."""
    def broadcast_to(self, x, shape):
        """A read-only view of x broadcast to shape; ValueError if it doesn't broadcast."""
    def concatenate(self, pieces, axis=0):
        """The pieces joined along axis, in numpy's result dtype."""
    def getitem(self, x, key):
        """x[key], key a tuple of ints, slices, None, Ellipsis, bools or index arrays; a view for basic keys;
        IndexError out of bounds."""
    def index_put(self, x, key, values):
        """A copy of x with x[key] = values (which write wins at a repeated index is undefined)."""
    def index_add(self, shape, key, values, np_dtype):
        """zeros(shape) with values added at key; repeated indices add up."""
    def take_along_axis(self, x, indices, axis):
        """numpy's take_along_axis: x's values at int64 indices along axis."""
    def scatter_add_along_axis(self, shape, indices, values, axis):
        """zeros(shape) with values added at indices along axis (take_along_axis's adjoint)."""

    # --- linear algebra and convolution ------------------------------------------------------------------
    def matmul(self, a, b):
        """numpy's matmul for a and b with ndim >= 2, batch dims broadcast."""
    def im2col(self, x, g, cols):
        """Kernel: writes x's (N, C * K, L) columns (unfold's layout) into cols, which may be any strided view."""
    def col2im(self, cols, g, channels):
        """Kernel: im2col's adjoint, a new (N, channels, *g.in_size) array (overlapping columns add up)."""
    def conv(self, x, w, g, bias=None, activation=None, windows=None):
        """Cross-correlation of x (N, C, *in) with w (C_out, C/groups, *kernel): (N, C_out, *out), plus
        bias (C_out,) per output channel when given; then the activation entry ("relu" or "sigmoid") when
        given, and then with windows (window_mean's, for 2-d maps: D = 1) their means, (N, C_out, 1,
        *pooled). In the same pass where the device can, with the values of the entries one after another."""
    def conv_transpose(self, y, w, g):
        """conv's adjoint in x: y (N, C_out, *out) -> (N, C, *in)."""
    def conv_weight(self, x, y, g):
        """conv's adjoint in w: x (N, C, *in) and y (N, C_out, *out) -> w's shape."""

    # --- per channel (dim 1) of (N, C, ...) arrays: batch normalization -----------------------------------
    def channel_sums(self, x, y):
        """(sum of x, sum of x * y) over every dim but 1, two float64 (C,) arrays; y has x's shape."""
    def channel_affine(self, x, scale, shift, y=None, y_scale=None):
        """x * scale + shift (+ y * y_scale), in x's dtype, from (C,) scales and shift of any float dtype."""

    # --- pooling on (N, C, H, W) planes, padding on (P, D, H, W) -----------------------------------------
    def max_pool(self, x, kernel, stride, padding, dilation, out_size):
        """(values, int64 indices), (N, C, *out_size) each: every window's max and the flat H * W position of
        its first max (a nan wins), in one pass; -inf and -1 for a window wholly in the padding."""
    def window_max_indices(self, x, windows):
        """As max_pool's indices for windows (h_start, h_end, w_start, w_end), int64 ranges per output."""
    def window_mean(self, x, windows):
        """Each [start, end) window's sum / its divisor; windows = (h_start, h_end, w_start, w_end, divisor)."""
    def window_mean_adjoint(self, grad, windows, height, width):
        """window_mean's adjoint: (N, C, height, width)."""
    def pad_gather(self, x, maps, value):
        """out[p, i, j, k] = x[p, maps[0][i], maps[1][j], maps[2][k]]; value where a map holds -1."""
    def pad_scatter_add(self, grad, maps, in_size):
        """pad_gather's adjoint: (P, *in_size), positions read more than once adding up."""

    # --- optimizer steps: in place, on C-contiguous arrays of one shape and float dtype; scalars are floats --
    def sgd_update(self, param, grad, buffer, lr, weight_decay, momentum, dampening, nesterov, maximize, first):
        """Kernel: torch.optim.SGD's step in param and buffer (None without momentum; first: buffer = grad)."""
    def adam_update(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
                    decoupled, maximize, step):
        """Kernel: Adam(W) step `step` (a float, counted from 1) in place; max_exp_avg_sq None unless amsgrad."""


ENTRIES = tuple(sorted(Backend.__abstractmethods__))  # every method name a backend implements
