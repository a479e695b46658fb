"""torch.nn.functional's convolution, pooling, unfold/fold and padding, with PyTorch's signatures.

This layer checks every argument and computes every size, so the kernels below it never see a
shape that could make them read or write out of bounds.
"""
import functools
import math
import numbers

import numpy as np

from minigrad.arguments import type_name
from minigrad.autograd.grad_mode import no_grad
from minigrad.backends.geometry import ConvGeometry
from minigrad.creation import arange, as_tensor
from minigrad.ops import conv as conv_ops
from minigrad.ops import linalg as linalg_ops
from minigrad.ops import normalization as normalization_ops
from minigrad.ops import pool as pool_ops
from minigrad.ops.reduction import Gather
from minigrad.random import generator_or_default
from minigrad.tensor import Tensor, where

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "unfold", "fold",
           "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d",
           "adaptive_max_pool2d", "pad", "linear", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax",
           "log_softmax", "dropout", "batch_norm", "layer_norm", "cross_entropy", "nll_loss", "mse_loss",
           "l1_loss", "binary_cross_entropy_with_logits", "silu", "mish", "hardswish", "softplus", "one_hot",
           "embedding", "group_norm", "instance_norm", "interpolate"]


# --- argument checks ---------------------------------------------------------------------------

def ntuple(value, n, name, minimum):
    """`value` as a tuple of n ints >= minimum; an int is repeated. Errors name the argument."""
    # the common cases first, without numbers.Integral's slow ABC check
    if type(value) is int and value >= minimum:
        return (value,) * n
    if type(value) is tuple and len(value) == n and all(type(v) is int and v >= minimum for v in value):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (int(value),) * n
    elif isinstance(value, (tuple, list)) and len(value) == 1 and n > 1:
        value = (int(value[0]),) * n
    if (not isinstance(value, (tuple, list)) or len(value) != n
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)):
        raise TypeError(f"{name}: expected an int or a tuple of {n} ints, got {value!r}")
    value = tuple(int(v) for v in value)
    if any(v < minimum for v in value):
        what = {0: "negative", 1: "non-positive"}[minimum]
        raise RuntimeError(f"{name}: {what} {name} is not supported, got {value}")
    return value


def _padded3(values, fill):
    """A 1- or 2-d geometry tuple as (depth, height, width)."""
    return (fill,) * (3 - len(values)) + tuple(values)


def tensor_argument(value, name, argument="input", position=None):
    """`value`, if it is a Tensor; else PyTorch's TypeError naming the function and the argument.
    Every layer reaches one of the functions here, so this is the layers' check too."""
    if not isinstance(value, Tensor):
        position = 1 if position is None and argument == "input" else position
        where = "" if position is None else f" (position {position})"
        raise TypeError(f"{name}(): argument '{argument}'{where} must be Tensor, not {type_name(value)}")
    return value


def _floating(value, name, argument="input"):
    if not value.dtype.is_floating_point:
        raise RuntimeError(f"{name}(): expected a floating point {argument}, got {argument} of dtype {value.dtype}")
    return value


def _same_dtype_as_input(input, values, name):  # noqa: A002
    """Parameters must have the input's dtype (PyTorch's 'mixed dtype' error); None is skipped."""
    for argument, value in values:
        if value is None:
            continue
        tensor_argument(value, name, argument)
        if value.dtype is not input.dtype:
            raise RuntimeError(f"{name}(): expected {argument} to have the dtype of input ({input.dtype}), got "
                               f"{value.dtype}; convert one of them (e.g. the module with .to({input.dtype}) or "
                               f"the input with .to({value.dtype}))")


def _float_input(input, name, ranks):  # noqa: A002 (PyTorch's argument name)
    tensor_argument(input, name)
    _floating(input, name)
    if input.ndim not in ranks:
        raise RuntimeError(f"{name}(): Expected {ranks[0]}D (unbatched) or {ranks[1]}D (batched) input, "
                           f"but got input of size: {list(input.shape)}")
    return input.unsqueeze(0) if input.ndim == ranks[0] else input


def _same_dtype(input, other, name, what):  # noqa: A002
    tensor_argument(other, name, what)
    if other.dtype is not input.dtype or other.device != input.device:
        raise RuntimeError(f"{name}(): expected input and {what} to have the same dtype and device, got input "
                           f"{input.dtype} on {input.device} and {what} {other.dtype} on {other.device}")


def _sliding_size(size, kernel, stride, pad_total, dilation):
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def _checked_bias(channels, input, bias, name):  # noqa: A002
    if bias is not None:
        _same_dtype(input, bias, name, "bias")
        if bias.shape != (channels,):
            raise RuntimeError(f"{name}(): expected bias of shape [{channels}], got {list(bias.shape)}")
    return bias


def _add_bias(out, input, bias, name, nd):  # noqa: A002
    if _checked_bias(out.shape[1], input, bias, name) is None:
        return out
    return out + bias.reshape(1, -1, *(1,) * nd)


# --- convolution ------------------------------------------------------------------------------------

def _conv_operands(input, weight, groups, nd, name, weight_layout):  # noqa: A002
    """The batched input, after the checks that convolutions and transposed convolutions share."""
    x = _float_input(input, name, (nd + 1, nd + 2))
    _same_dtype(x, weight, name, "weight")
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{name}(): expected a {nd + 2}-D weight ({weight_layout}, *kernel_size), got a "
                           f"{weight.ndim}-D weight of size {list(weight.shape)}")
    if not isinstance(groups, numbers.Integral) or groups <= 0:
        raise RuntimeError(f"{name}(): non-positive groups is not supported, got groups={groups!r}")
    if weight.shape[0] == 0:
        raise RuntimeError(f"{name}(): Given groups={groups}, expected weight to be at least 1 at dimension 0, "
                           f"but got weight of size {list(weight.shape)} instead")
    if 0 in weight.shape[2:] or 0 in x.shape[2:]:
        raise RuntimeError(f"{name}(): expected non-empty spatial sizes, got input of size {list(x.shape)} and "
                           f"weight of size {list(weight.shape)}")
    return x


def _conv(input, weight, bias, stride, padding, dilation, groups, nd, name, activation=None,  # noqa: A002
          avg_pool=None):
    """The convolution; with activation ("relu" or "sigmoid"), that of its output, and then with avg_pool
    (avg_pool2d's arguments after the input), the average pooling of that: one op (nn.Sequential's)."""
    x = _conv_operands(input, weight, groups, nd, name, "out_channels, in_channels/groups")
    n_batch, channels, *in_size = x.shape
    c_out, c_group, *kernel = weight.shape
    if channels != c_group * groups:
        raise RuntimeError(f"{name}(): Given groups={groups}, weight of size {list(weight.shape)}, expected "
                           f"input{list(x.shape)} to have {c_group * groups} channels, but got {channels} "
                           "channels instead")
    if c_out % groups:
        raise RuntimeError(f"{name}(): Given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of size {list(weight.shape)} instead")
    stride = ntuple(stride, nd, "stride", 1)
    dilation = ntuple(dilation, nd, "dilation", 1)
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{name}(): Invalid padding string '{padding}', should be one of ['valid', 'same']")
        if padding == "same" and any(s != 1 for s in stride):
            raise RuntimeError(f"{name}(): padding='same' is not supported for strided convolutions")
        totals = [d * (k - 1) if padding == "same" else 0 for k, d in zip(kernel, dilation)]
        before = tuple(t // 2 for t in totals)  # PyTorch puts the odd pixel after
    else:
        before = ntuple(padding, nd, "padding", 0)
        totals = [2 * p for p in before]
    out_size = tuple(_sliding_size(i, k, s, t, d) for i, k, s, t, d in zip(in_size, kernel, stride, totals, dilation))
    if any(o < 1 for o in out_size):
        padded = tuple(i + t for i, t in zip(in_size, totals))
        effective = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        raise RuntimeError(f"{name}(): Calculated padded input size per channel: {padded}. Kernel size: "
                           f"{effective}. Kernel size can't be greater than actual input size")
    if c_group == 0:
        # no input channels: every output is an empty sum, 0 (+ bias); the sums of the empty operands
        # (0 too) keep them in the graph, so their gradients are empty tensors, as in PyTorch
        out = x.new_zeros((n_batch, c_out, *out_size)) + (x.sum() + weight.sum())
        out = _add_bias(out, x, bias, name, nd)
        return out if input.ndim == nd + 2 else out.squeeze(0)
    geometry = ConvGeometry(_padded3(kernel, 1), _padded3(stride, 1), _padded3(before, 0),
                            _padded3(dilation, 1), groups, _padded3(in_size, 1), _padded3(out_size, 1))
    bias = _checked_bias(c_out, x, bias, name)
    if activation is None:
        out = conv_ops.Conv.apply(x, weight, geometry, *(() if bias is None else (bias,)))
    elif avg_pool is None:
        out = conv_ops.ConvActivation.apply(x, weight, geometry, bias, activation)
    else:
        windows, _ = _avg_pool_plan((n_batch, c_out) + tuple(out_size), *avg_pool, nd, "avg_pool2d", x.dtype.numpy)
        out = conv_ops.ConvActivationPool.apply(x, weight, geometry, bias, activation, windows)
    return out if input.ndim == nd + 2 else out.squeeze(0)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """1-d cross-correlation of (N, C, L) with weight (C_out, C/groups, k)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """2-d cross-correlation of (N, C, H, W) with weight (C_out, C/groups, kH, kW)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """3-d cross-correlation of (N, C, D, H, W) with weight (C_out, C/groups, kD, kH, kW)."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


def _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, nd, name):  # noqa: A002
    y = _conv_operands(input, weight, groups, nd, name, "in_channels, out_channels/groups")
    n_batch, channels, *in_size = y.shape
    c_in, c_group, *kernel = weight.shape
    if channels != c_in or c_in % groups:
        raise RuntimeError(f"{name}(): Given transposed=1, weight of size {list(weight.shape)}, expected "
                           f"input{list(y.shape)} to have {c_in} channels (divisible by groups={groups}), "
                           f"but got {channels} channels instead")
    stride = ntuple(stride, nd, "stride", 1)
    dilation = ntuple(dilation, nd, "dilation", 1)
    padding = ntuple(padding, nd, "padding", 0)
    output_padding = ntuple(output_padding, nd, "output_padding", 0)
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise RuntimeError(f"{name}(): output padding must be smaller than either stride or dilation, "
                               f"got output_padding={output_padding}, stride={stride}, dilation={dilation}")
    out_size = tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1
                     for i, k, s, p, d, op in zip(in_size, kernel, stride, padding, dilation, output_padding))
    if any(o < 1 for o in out_size):
        raise RuntimeError(f"{name}(): the output size {out_size} is too small (input {tuple(in_size)}, "
                           f"kernel {tuple(kernel)}, stride {stride}, padding {padding}, dilation {dilation})")
    geometry = ConvGeometry(_padded3(kernel, 1), _padded3(stride, 1), _padded3(padding, 0),
                            _padded3(dilation, 1), groups, _padded3(out_size, 1), _padded3(in_size, 1))
    out = _add_bias(conv_ops.ConvTranspose.apply(y, weight, geometry), y, bias, name, nd)
    return out if input.ndim == nd + 2 else out.squeeze(0)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,  # noqa: A002
                     dilation=1):
    """The transposed 1-d convolution (the gradient of conv1d with respect to its input)."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
                           "conv_transpose1d")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,  # noqa: A002
                     dilation=1):
    """The transposed 2-d convolution (the gradient of conv2d with respect to its input)."""
    return _conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                           "conv_transpose2d")


# --- unfold / fold ----------------------------------------------------------------------------------

def _block_geometry(in_size, kernel_size, dilation, padding, stride, name):
    kernel = ntuple(kernel_size, 2, "kernel_size", 1)
    dilation = ntuple(dilation, 2, "dilation", 1)
    padding = ntuple(padding, 2, "padding", 0)
    stride = ntuple(stride, 2, "stride", 1)
    blocks = tuple(_sliding_size(i, k, s, 2 * p, d) for i, k, s, p, d in zip(in_size, kernel, stride, padding, dilation))
    if any(b < 1 for b in blocks):
        raise RuntimeError(f"{name}(): the padded input {tuple(i + 2 * p for i, p in zip(in_size, padding))} is "
                           f"smaller than the dilated kernel {tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))}")
    return ConvGeometry((1,) + kernel, (1,) + stride, (0,) + padding, (1,) + dilation, 1,
                        (1,) + tuple(in_size), (1,) + blocks)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):  # noqa: A002
    """Sliding blocks of (N, C, H, W) as columns (N, C * kH * kW, L): im2col."""
    x = _float_input(input, "unfold", (3, 4))
    geometry = _block_geometry(x.shape[2:], kernel_size, dilation, padding, stride, "unfold")
    out = conv_ops.Unfold.apply(x.unsqueeze(2), geometry)
    return out if input.ndim == 4 else out.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):  # noqa: A002
    """Sum columns (N, C * kH * kW, L) back into (N, C, *output_size): col2im, unfold's adjoint."""
    cols = _float_input(input, "fold", (2, 3))
    output_size = ntuple(output_size, 2, "output_size", 1)
    geometry = _block_geometry(output_size, kernel_size, dilation, padding, stride, "fold")
    k = math.prod(geometry.kernel)
    n_blocks = math.prod(geometry.out_size)
    if cols.shape[1] % k or cols.shape[2] != n_blocks:
        raise RuntimeError(f"fold(): expected input of shape (N, C * {k}, {n_blocks}) for output_size="
                           f"{output_size}, kernel_size={geometry.kernel[1:]}, dilation={geometry.dilation[1:]}, "
                           f"padding={geometry.padding[1:]}, stride={geometry.stride[1:]}, "
                           f"but got input of size {list(cols.shape)}")
    out = conv_ops.Fold.apply(cols, cols.shape[1] // k, geometry).squeeze(2)
    return out if input.ndim == 3 else out.squeeze(0)


# --- pooling -----------------------------------------------------------------------------------------

def _pool_out(size, kernel, stride, padding, dilation, ceil_mode):
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:  # the last window must start inside
        out -= 1
    return out


def _pool_geometry(shape, kernel_size, stride, padding, dilation, ceil_mode, nd, name):
    kernel = ntuple(kernel_size, nd, "kernel_size", 1)
    stride = kernel if stride is None or stride == [] or stride == () else ntuple(stride, nd, "stride", 1)
    padding = ntuple(padding, nd, "padding", 0)
    dilation = ntuple(dilation, nd, "dilation", 1)
    for k, p in zip(kernel, padding):
        if 2 * p > k:
            raise RuntimeError(f"{name}(): pad should be smaller than or equal to half of kernel size, "
                               f"but got pad={p}, kernel_size={k}")
    in_size = tuple(shape[2:])
    if 0 in in_size or shape[1] == 0:
        raise RuntimeError(f"{name}(): Expected 2D or 3D (batch mode) tensors with non-zero channel and spatial "
                           f"sizes, but got input of size {list(shape[1:])} after the batch dim")
    out = tuple(_pool_out(i, k, s, p, d, ceil_mode) for i, k, s, p, d in zip(in_size, kernel, stride, padding, dilation))
    if any(o < 1 for o in out):
        raise RuntimeError(f"{name}(): Given input size {tuple(shape[1:])}, the calculated output size "
                           f"{(shape[1],) + out} is too small")
    return kernel, stride, padding, dilation, out


def _as_planes(x, nd):
    """(N, C, L) as (N, C, 1, L); (N, C, H, W) as is."""
    return x.unsqueeze(2) if nd == 1 else x


def _gather_planes(x4, indices, out_shape):
    """Values of x4 (N, C, H, W) at flat plane positions `indices` (N, C, ...): the differentiable path."""
    n_batch, channels, height, width = x4.shape
    flat_indices = indices.reshape(n_batch, channels, math.prod(indices.shape[2:]))
    return Gather.apply(x4.reshape(n_batch, channels, height * width), flat_indices, 2).reshape(out_shape)


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, nd, name):  # noqa: A002
    x = _float_input(input, name, (nd + 1, nd + 2))
    kernel, stride, padding, dilation, out = _pool_geometry(x.shape, kernel_size, stride, padding, dilation,
                                                            ceil_mode, nd, name)
    values, indices = pool_ops.MaxPool.apply(_as_planes(x, nd), _padded3(kernel, 1)[1:], _padded3(stride, 1)[1:],
                                             _padded3(padding, 0)[1:], _padded3(dilation, 1)[1:],
                                             _padded3(out, 1)[1:])
    out_shape = tuple(x.shape[:2]) + out
    values, indices = values.reshape(out_shape), indices.reshape(out_shape)
    if input.ndim == nd + 1:
        values, indices = values.squeeze(0), indices.squeeze(0)
    return (values, indices) if return_indices else values


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1, "max_pool1d")


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    """Max over each window; the gradient goes to the first arg-max, as in PyTorch."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2, "max_pool2d")


def _ranges(starts, ends):
    return np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)


def _avg_windows(size, kernel, stride, padding, out):
    """Per-output [start, end) clipped to the input, and the window length counting padding."""
    starts = np.arange(out) * stride - padding
    ends = np.minimum(starts + kernel, size + padding)
    with_pad = ends - starts
    return np.maximum(starts, 0), np.minimum(ends, size), with_pad


@functools.lru_cache(maxsize=256)
def _avg_pool_windows(sizes, kernel, stride, padding, out, count_include_pad, divisor_override, np_dtype):
    """WindowMean's windows (h_start, h_end, w_start, w_end, divisor); cached (and so never modified), so
    that a layer builds them once and the backend recognises them."""
    (hs, he, h_pad), (ws, we, w_pad) = (_avg_windows(*args) for args in zip(sizes, kernel, stride, padding, out))
    if divisor_override is not None:
        divisor = np.full((len(hs), len(ws)), float(divisor_override))
    elif count_include_pad:
        divisor = np.outer(h_pad, w_pad).astype(np.float64)
    else:
        divisor = np.outer(he - hs, we - ws).astype(np.float64)
    return hs, he, ws, we, divisor.astype(np_dtype)


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, nd,  # noqa: A002
              name):
    x = _float_input(input, name, (nd + 1, nd + 2))
    windows, out = _avg_pool_plan(x.shape, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                  divisor_override, nd, name, x.dtype.numpy)
    result = pool_ops.WindowMean.apply(_as_planes(x, nd), windows).reshape(tuple(x.shape[:2]) + out[-nd:])
    return result if input.ndim == nd + 2 else result.squeeze(0)


def _avg_pool_plan(shape, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, nd,
                   name, np_dtype):
    """(WindowMean's windows, the output size) of average pooling an input of `shape` (N, C, ...)."""
    kernel, stride, padding, _, out = _pool_geometry(shape, kernel_size, stride, padding, 1, ceil_mode, nd, name)
    if divisor_override is not None and (not isinstance(divisor_override, numbers.Integral) or divisor_override <= 0):
        raise RuntimeError(f"{name}(): divisor must be a positive int, got divisor_override={divisor_override!r}")
    sizes = tuple(shape[2:])
    if nd == 1:
        kernel, stride, padding, out, sizes = (1,) + kernel, (1,) + stride, (0,) + padding, (1,) + out, (1,) + sizes
    return _avg_pool_windows(sizes, kernel, stride, padding, out, count_include_pad, divisor_override, np_dtype), out


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):  # noqa: A002
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1, "avg_pool1d")


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,  # noqa: A002
               divisor_override=None):
    """Mean over each window; the gradient spreads 1/Q over the window."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2,
                     "avg_pool2d")


def _adaptive_windows(x, output_size, name):
    if isinstance(output_size, numbers.Integral) or output_size is None:
        output_size = (output_size, output_size)
    if not isinstance(output_size, (tuple, list)) or len(output_size) != 2:
        raise TypeError(f"{name}(): output_size: expected an int or a tuple of 2 ints, got {output_size!r}")
    sizes = x.shape[2:]
    if 0 in sizes:
        raise RuntimeError(f"{name}(): expected an input with non-zero spatial sizes, got {list(x.shape)}")
    out = tuple(i if o is None else o for i, o in zip(sizes, output_size))
    if any(not isinstance(o, numbers.Integral) or o < 1 for o in out):
        raise RuntimeError(f"{name}(): output_size must be positive, got {output_size!r}")
    windows = []
    for size, o in zip(sizes, out):
        index = np.arange(o)
        windows.extend(_ranges(index * size // o, -((-(index + 1) * size) // o)))
    return windows, out


def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    """Average pooling to a fixed output size (output_size=1: global average pooling)."""
    x = _float_input(input, "adaptive_avg_pool2d", (3, 4))
    (hs, he, ws, we), out = _adaptive_windows(x, output_size, "adaptive_avg_pool2d")
    divisor = np.outer(he - hs, we - ws).astype(x.dtype.numpy)
    result = pool_ops.WindowMean.apply(x, (hs, he, ws, we, divisor))
    return result if input.ndim == 4 else result.squeeze(0)


def adaptive_max_pool2d(input, output_size, return_indices=False):  # noqa: A002
    x = _float_input(input, "adaptive_max_pool2d", (3, 4))
    windows, out = _adaptive_windows(x, output_size, "adaptive_max_pool2d")
    indices = pool_ops.WindowMaxIndices.apply(x, windows)
    values = _gather_planes(x, indices, tuple(x.shape[:2]) + out)
    if input.ndim == 3:
        values, indices = values.squeeze(0), indices.squeeze(0)
    return (values, indices) if return_indices else values


# --- padding -------------------------------------------------------------------------------------------

def _pad_map(size, before, after, mode):
    """Source index of each output position along one axis (-1: the constant value)."""
    positions = np.arange(-before, size + after)
    if mode == "constant":
        return np.where((positions >= 0) & (positions < size), positions, -1)
    if mode == "reflect":
        reflected = np.abs(positions)
        return np.where(reflected >= size, 2 * (size - 1) - reflected, reflected)
    if mode == "replicate":
        return np.clip(positions, 0, size - 1)
    low, high = max(-before, 0), size - max(-after, 0)  # circular: crop first, then wrap what is left
    kept = np.arange(-max(before, 0), high - low + max(after, 0))
    return low + kept % (high - low)


def pad(input, pad, mode="constant", value=None):  # noqa: A002
    """Pad the last len(pad) // 2 dims: pad = (left, right, top, bottom, front, back)."""
    tensor_argument(input, "pad")
    if (not isinstance(pad, (tuple, list)) or len(pad) % 2 or len(pad) // 2 > input.ndim
            or not all(isinstance(p, numbers.Integral) for p in pad)):
        raise RuntimeError(f"pad(): Padding length must be divisible by 2 and at most twice the number of "
                           f"dimensions of the input ({input.ndim}), got pad={pad!r}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad(): Unrecognised padding mode {mode!r}; expected one of 'constant', "
                                  "'reflect', 'replicate', 'circular'")
    n_axes = len(pad) // 2
    if n_axes > 3:
        raise NotImplementedError(f"pad(): padding more than the last 3 dims is not supported, got pad={pad!r}")
    if mode != "constant":
        if value not in (None, 0, 0.0):
            raise RuntimeError(f"pad(): Padding mode \"{mode}\" doesn't take in value argument")
        if n_axes > 3 or input.ndim not in (n_axes + 1, n_axes + 2):
            raise NotImplementedError(f"pad(): Padding size {len(pad)} is not supported for {input.ndim}D input "
                                      f"tensor in mode '{mode}': padding size 2, 4 or 6 pads the last 1, 2 or 3 "
                                      "dims of an input with one or two more dims")
    sizes = input.shape[input.ndim - n_axes:]
    amounts = [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(n_axes)][::-1]  # first padded dim first
    maps = []
    for size, (before, after) in zip(sizes, amounts):
        if size + before + after < 0:
            raise RuntimeError(f"pad(): the input size {size} padded by ({before}, {after}) is negative")
        if mode == "reflect" and (before >= size or after >= size):
            raise RuntimeError(f"pad(): Argument #4: Padding size should be less than the corresponding input "
                               f"dimension, but got: padding ({before}, {after}) at dimension of size {size}")
        kept = size - max(-before, 0) - max(-after, 0)  # circular padding wraps what cropping leaves
        if mode == "circular" and (before > kept or after > kept):
            raise RuntimeError(f"pad(): Padding value causes wrapping around more than once: padding "
                               f"({before}, {after}) at dimension of size {size}")
        if mode == "replicate" and size == 0:
            raise RuntimeError("pad(): replicate padding of an empty dimension")
        maps.append(_pad_map(size, before, after, mode))
    while len(maps) < 3:
        maps.insert(0, np.zeros(1, dtype=np.int64))
    lead = tuple(input.shape[:input.ndim - n_axes])
    planes = input.reshape(math.prod(lead), *(1,) * (3 - n_axes), *sizes)
    fill = 0.0 if value is None else float(value)
    out = pool_ops.Pad.apply(planes, tuple(m.astype(np.int64) for m in maps), fill)
    return out.reshape(lead + tuple(len(m) for m in maps[3 - n_axes:]))


# --- interpolation -------------------------------------------------------------------------------------

_INTERPOLATE_RANKS = {"linear": 3, "bilinear": 4}


def _scale_of(scale, in_size, out_size, dtype):
    """PyTorch's compute_scales_value: 1 / scale_factor when one was given, else in/out, in `dtype`."""
    if scale is not None and scale > 0:
        return dtype(1.0 / scale)
    return dtype(in_size) / dtype(out_size)


def _nearest_source(mode, in_size, out_size, scale, nd):
    """Source index of each output position along one axis (PyTorch's nearest_idx, nearest_exact_idx)."""
    index = np.arange(out_size)
    # PyTorch's 2-d nearest kernel (its 1-d and 3-d ones do not) copies when the size is kept, halves when doubled
    if mode == "nearest" and nd == 2 and out_size in (in_size, 2 * in_size):
        return index if out_size == in_size else index >> 1
    ratio = _scale_of(scale, in_size, out_size, np.float32)
    if mode == "nearest":
        position = index.astype(np.float32) * ratio
    else:  # (i + 0.5) * scale in double, then floorf's float
        position = ((index + 0.5) * np.float64(ratio)).astype(np.float32)
    return np.minimum(np.floor(position).astype(np.int64), in_size - 1)


def _linear_source(in_size, out_size, align_corners, scale, dtype):
    """(index0, index1, lambda0, lambda1) along one axis, as PyTorch's compute_source_index_and_lambda."""
    index = np.arange(out_size)
    if out_size == in_size:
        return index, index, np.ones(out_size, dtype), np.zeros(out_size, dtype)
    if align_corners:
        ratio = dtype(in_size - 1) / dtype(out_size - 1) if out_size > 1 else dtype(0)
        real = ratio * index.astype(dtype)
    else:
        ratio = _scale_of(scale, in_size, out_size, dtype)
        real = np.maximum(ratio * (index.astype(dtype) + dtype(0.5)) - dtype(0.5), dtype(0))
    index0 = np.minimum(np.floor(real.astype(np.float32)).astype(np.int64), in_size - 1)  # floorf, as PyTorch
    lambda1 = np.clip(real - index0.astype(dtype), 0, 1).astype(dtype)
    return index0, np.minimum(index0 + 1, in_size - 1), (1 - lambda1).astype(dtype), lambda1


def _interpolate_sizes(input, size, scale_factor, recompute_scale_factor, nd):  # noqa: A002
    """(output sizes, scale factors passed on or None) by PyTorch's rules."""
    spatial = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate(): only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("interpolate(): either size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("interpolate(): recompute_scale_factor is not meaningful with an explicit size")
        sizes = list(size) if isinstance(size, (tuple, list)) else [size] * nd
        if len(sizes) != nd:
            raise ValueError(f"interpolate(): Input and output must have the same number of spatial dimensions, "
                             f"but got input with spatial dimensions of {spatial} and output size of {size!r}")
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in sizes):
            raise TypeError(f"interpolate(): expected size to be an int or a tuple of ints, got {size!r}")
        return [int(s) for s in sizes], None
    scales = list(scale_factor) if isinstance(scale_factor, (tuple, list)) else [scale_factor] * nd
    if len(scales) != nd:
        raise ValueError(f"interpolate(): Input and scale_factor must have the same number of spatial "
                         f"dimensions, but got input with spatial dimensions of {spatial} and scale_factor "
                         f"{scale_factor!r}")
    if not all(isinstance(s, numbers.Real) and not isinstance(s, bool) for s in scales):
        raise TypeError(f"interpolate(): expected scale_factor to be a float or a tuple of floats, "
                        f"got {scale_factor!r}")
    sizes = [math.floor(float(n) * float(s)) for n, s in zip(spatial, scales)]
    return sizes, None if recompute_scale_factor else [float(s) for s in scales]


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,  # noqa: A002
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of an (N, C, ...) input to `size` or by `scale_factor`, as PyTorch does.

    Modes: 'nearest' and 'nearest-exact' (1-, 2- and 3-d), 'linear' (1-d), 'bilinear' (2-d). Each axis in
    turn gathers its source entries (and, for the linear modes, blends the two neighbours with fixed
    weights), so the result is differentiable to any order and batches under vmap."""
    tensor_argument(input, "interpolate")
    nearest = mode in ("nearest", "nearest-exact")
    if nearest or mode == "area":
        if align_corners is not None:
            raise ValueError("interpolate(): align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    nd = input.ndim - 2
    sizes, scales = _interpolate_sizes(input, size, scale_factor, recompute_scale_factor, nd)
    if antialias:
        raise NotImplementedError(f"interpolate(): antialias=True is not supported (mode {mode!r})")
    if not nearest and mode not in _INTERPOLATE_RANKS:
        raise NotImplementedError(f"interpolate(): mode {mode!r} is not supported; expected 'nearest', "
                                  "'nearest-exact', 'linear' or 'bilinear'")
    if (nd not in (1, 2, 3)) if nearest else (input.ndim != _INTERPOLATE_RANKS[mode]):
        ranks = "3D, 4D or 5D" if nearest else f"{_INTERPOLATE_RANKS[mode]}D"
        raise NotImplementedError(f"interpolate(): Got {input.ndim}D input, but {mode} mode needs {ranks} input")
    if not input.dtype.is_floating_point:  # PyTorch's type: its kernels are not built for integers
        raise NotImplementedError(f"interpolate(): mode {mode!r} is not implemented for dtype {input.dtype}")
    spatial = tuple(input.shape[2:])
    if any(n < 1 for n in spatial + tuple(sizes)):
        raise RuntimeError(f"interpolate(): Input and output sizes should be greater than 0, but got input "
                           f"{spatial} and output {tuple(sizes)}")
    out = input
    for axis, (in_size, out_size) in enumerate(zip(spatial, sizes)):
        scale = None if scales is None else scales[axis]
        lead = (slice(None),) * (axis + 2)
        if nearest:
            index = _nearest_source(mode, in_size, out_size, scale, nd)
            out = out[lead + (as_tensor(index, device=input.device),)]
            continue
        dtype = input.dtype.numpy.type
        index0, index1, lambda0, lambda1 = _linear_source(in_size, out_size, bool(align_corners), scale, dtype)
        trailing = (1,) * (nd - 1 - axis)
        weight0, weight1 = (as_tensor(w.reshape((out_size,) + trailing), device=input.device)
                            for w in (lambda0, lambda1))
        out = (out[lead + (as_tensor(index0, device=input.device),)] * weight0
               + out[lead + (as_tensor(index1, device=input.device),)] * weight1)
    return out


# --- layers' functions -------------------------------------------------------------------------------

def linear(input, weight, bias=None):  # noqa: A002
    """input @ weight.T + bias, with weight (out_features, in_features)."""
    tensor_argument(input, "linear")
    tensor_argument(weight, "linear", "weight", 2)
    if bias is not None:
        tensor_argument(bias, "linear", "bias", 3)
    if weight.dtype is not input.dtype or (bias is not None and bias.dtype is not input.dtype):
        raise RuntimeError(f"linear(): mat1 and mat2 must have the same dtype, but got input {input.dtype}, "
                           f"weight {weight.dtype}" + ("" if bias is None else f" and bias {bias.dtype}") +
                           "; convert the input (e.g. input.float()) or the layer (e.g. layer.double())")
    if input.shape[-1:] != weight.shape[-1:]:
        raise RuntimeError(f"linear(): mat1 and mat2 shapes cannot be multiplied "
                           f"({'x'.join(map(str, input.shape))} and {'x'.join(map(str, weight.T.shape))})")
    if input.ndim == 2 and (bias is None or tuple(bias.shape) == tuple(weight.shape[:1])):
        return linalg_ops.Linear.apply(input, weight, *(() if bias is None else (bias,)))
    out = input @ weight.T
    return out if bias is None else out + bias


def relu(input, inplace=False):  # noqa: A002
    tensor_argument(input, "relu")
    return input.relu_() if inplace else input.relu()


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002
    _floating(tensor_argument(input, "leaky_relu"), "leaky_relu")
    return where(input > 0, input, input * negative_slope)


def sigmoid(input):  # noqa: A002
    return tensor_argument(input, "sigmoid").sigmoid()


def tanh(input):  # noqa: A002
    return tensor_argument(input, "tanh").tanh()


def gelu(input, approximate="none"):  # noqa: A002
    """x * Phi(x), exactly (erf) or with PyTorch's tanh approximation."""
    _floating(tensor_argument(input, "gelu"), "gelu")
    if approximate == "none":
        return input * 0.5 * (1 + (input * (0.5 ** 0.5)).erf())
    if approximate == "tanh":
        return 0.5 * input * (1 + ((2 / np.pi) ** 0.5 * (input + 0.044715 * input ** 3)).tanh())
    raise RuntimeError(f"gelu(): approximate argument must be either 'none' or 'tanh', got {approximate!r}")


def _maybe_in_place(input, inplace, function):  # noqa: A002
    """function(input), or (inplace) written into input: computed from a clone, so that the in-place
    write does not change a value the composed ops saved."""
    if not inplace:
        return function(input)
    return input.copy_(function(input.clone()))


def softplus(input, beta=1.0, threshold=20.0):  # noqa: A002
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch's cut-off)."""
    _floating(tensor_argument(input, "softplus"), "softplus")
    scaled = input * beta
    soft = (scaled.clamp(max=threshold).exp() + 1).log()
    # log1p(u) for u = exp(x) < exp(-10) by its series (log(1 + u) would lose u's digits), to double precision
    u = scaled.clamp(max=-10.0).exp()
    tail = u * (1 - u * (0.5 - u * (1 / 3 - u * (0.25 - u * 0.2))))
    soft = where(scaled < -10.0, tail, soft)
    return where(scaled > threshold, input, soft / beta if beta != 1 else soft)


def silu(input, inplace=False):  # noqa: A002
    """x * sigmoid(x)."""
    _floating(tensor_argument(input, "silu"), "silu")
    return _maybe_in_place(input, inplace, lambda x: x * x.sigmoid())


def mish(input, inplace=False):  # noqa: A002
    """x * tanh(softplus(x))."""
    _floating(tensor_argument(input, "mish"), "mish")
    return _maybe_in_place(input, inplace, lambda x: x * softplus(x).tanh())


def hardswish(input, inplace=False):  # noqa: A002
    """x * relu6(x + 3) / 6, with PyTorch's one-sided derivatives at the kinks (0 at -3, 1 at 3)."""
    _floating(tensor_argument(input, "hardswish"), "hardswish")
    return _maybe_in_place(input, inplace,
                           lambda x: where(x <= -3, x * 0, where(x >= 3, x, x * (x + 3) / 6)))


def softmax(input, dim=None, dtype=None):  # noqa: A002
    tensor_argument(input, "softmax")
    return input.softmax(_implicit_dim(input, dim, "softmax"), dtype)


def log_softmax(input, dim=None, dtype=None):  # noqa: A002
    tensor_argument(input, "log_softmax")
    return input.log_softmax(_implicit_dim(input, dim, "log_softmax"), dtype)


def _implicit_dim(input, dim, name):  # noqa: A002
    if dim is not None:
        return dim
    return 0 if input.ndim in (0, 1, 3) else 1  # PyTorch's legacy choice when dim is omitted


def dropout(input, p=0.5, training=True, inplace=False, generator=None):  # noqa: A002
    """Zero each element with probability p and scale the rest by 1 / (1 - p), in training only."""
    tensor_argument(input, "dropout")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout(): dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    _floating(input, "dropout")  # the scaled values would not fit an integer dtype
    if p == 1.0:
        return input * 0.0
    keep = generator_or_default(generator).numpy.random(tuple(input.shape)) >= p
    mask = as_tensor((keep / (1.0 - p)).astype(input.dtype.numpy), device=input.device)
    return input * mask


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,  # noqa: A002
               eps=1e-5):
    """Normalise over every dim but the channel dim 1; in training, update the running statistics."""
    _floating(tensor_argument(input, "batch_norm"), "batch_norm")
    _same_dtype_as_input(input, (("running_mean", running_mean), ("running_var", running_var),
                                 ("weight", weight), ("bias", bias)), "batch_norm")
    if input.ndim < 2:
        raise ValueError(f"batch_norm(): expected at least 2-D input (N, C, ...), got {input.ndim}-D input")
    for argument, value in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                            ("bias", bias)):
        if value is not None and tuple(value.shape) != (input.shape[1],):
            raise RuntimeError(f"batch_norm(): expected {argument} of shape [{input.shape[1]}] (the channels of "
                               f"input {list(input.shape)}), got {list(value.shape)}")
    if not training:  # one per-channel scale and shift, as PyTorch's CPU kernel folds them too
        scale = 1 / (running_var + eps).sqrt() * (1 if weight is None else weight)
        return normalization_ops.ChannelAffine.apply(input, scale, (0 if bias is None else bias) - running_mean * scale)
    count = input.numel() // input.shape[1]
    if count <= 1:
        raise ValueError(f"batch_norm(): Expected more than 1 value per channel when training, "
                         f"got input size {list(input.shape)}")
    out, mean, var = normalization_ops.Normalize.apply(input, eps)
    if running_mean is not None:
        with no_grad():
            running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
            running_var.mul_(1 - momentum).add_(var.detach() * (momentum * count / (count - 1)))
    if weight is None and bias is None:
        return out
    return normalization_ops.ChannelAffine.apply(out, out.new_ones(out.shape[1]) if weight is None else weight,
                                                 out.new_zeros(out.shape[1]) if bias is None else bias)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):  # noqa: A002
    _floating(tensor_argument(input, "layer_norm"), "layer_norm")
    _same_dtype_as_input(input, (("weight", weight), ("bias", bias)), "layer_norm")
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(normalized_shape):]) != normalized_shape:
        raise RuntimeError(f"layer_norm(): Given normalized_shape={list(normalized_shape)}, expected input with "
                           f"shape [*, {', '.join(map(str, normalized_shape))}], but got input of size "
                           f"{list(input.shape)}")
    for argument, value in (("weight", weight), ("bias", bias)):
        if value is not None and tuple(value.shape) != normalized_shape:
            raise RuntimeError(f"layer_norm(): expected {argument} of shape {list(normalized_shape)}, "
                               f"got {list(value.shape)}")
    dims = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    mean = input.mean(dims, keepdim=True)
    out = (input - mean) / (input.var(dims, correction=0, keepdim=True) + eps).sqrt()
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


def _check_norm_parameters(input, values, channels, name):  # noqa: A002
    for argument, value in values:
        if value is not None and tuple(value.shape) != (channels,):
            raise RuntimeError(f"{name}(): expected {argument} of shape [{channels}] (the channels of input "
                               f"{list(input.shape)}), got {list(value.shape)}")


def _channel_affine(out, weight, bias):
    shape = (1, out.shape[1]) + (1,) * (out.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    return out if bias is None else out + bias.reshape(shape)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Normalise each sample over the channels of each of num_groups groups (and all other dims)."""
    _floating(tensor_argument(input, "group_norm"), "group_norm")
    _same_dtype_as_input(input, (("weight", weight), ("bias", bias)), "group_norm")
    if input.ndim < 2:
        raise RuntimeError(f"group_norm(): Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    channels = input.shape[1]
    if not isinstance(num_groups, numbers.Integral) or num_groups <= 0 or channels % num_groups:
        raise RuntimeError(f"group_norm(): Expected number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {list(input.shape)} and num_groups={num_groups}")
    _check_norm_parameters(input, (("weight", weight), ("bias", bias)), channels, "group_norm")
    grouped = input.reshape(input.shape[0], num_groups, -1)
    mean = grouped.mean(-1, keepdim=True)
    out = ((grouped - mean) / (grouped.var(-1, correction=0, keepdim=True) + eps).sqrt()).reshape(input.shape)
    return _channel_affine(out, weight, bias)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,  # noqa: A002
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalise each sample's each channel over its remaining dims; with use_input_stats and running
    statistics given, update them with the batch average of the instances' statistics (as PyTorch)."""
    _floating(tensor_argument(input, "instance_norm"), "instance_norm")
    _same_dtype_as_input(input, (("running_mean", running_mean), ("running_var", running_var),
                                 ("weight", weight), ("bias", bias)), "instance_norm")
    if input.ndim < 3:
        raise ValueError(f"instance_norm(): expected at least 3-D input (N, C, ...), got {input.ndim}-D input")
    channels = input.shape[1]
    _check_norm_parameters(input, (("running_mean", running_mean), ("running_var", running_var),
                                   ("weight", weight), ("bias", bias)), channels, "instance_norm")
    shape = (1, channels) + (1,) * (input.ndim - 2)
    if use_input_stats:
        dims = tuple(range(2, input.ndim))
        mean = input.mean(dims, keepdim=True)
        var = input.var(dims, correction=0, keepdim=True)
        if running_mean is not None or running_var is not None:
            count = input.numel() // (input.shape[0] * channels)
            with no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(mean.detach().reshape(input.shape[:2]).mean(0) * momentum)
                if running_var is not None:
                    unbiased = var.detach().reshape(input.shape[:2]) * (count / max(count - 1, 1))
                    running_var.mul_(1 - momentum).add_(unbiased.mean(0) * momentum)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("instance_norm(): Expected running_mean and running_var to be defined when "
                               "use_input_stats is false")
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
    return _channel_affine((input - mean) / (var + eps).sqrt(), weight, bias)


# --- indices ---------------------------------------------------------------------------------------------

def one_hot(tensor, num_classes=-1):
    """int64 (*) -> int64 (*, num_classes), a 1 at each value's position."""
    tensor_argument(tensor, "one_hot")
    if tensor.dtype.name != "int64":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, bool):
        raise TypeError(f"one_hot(): argument 'num_classes' (position 2) must be int, not {type_name(num_classes)}")
    if tensor.numel() == 0:
        if num_classes == -1:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
    else:
        low, high = int(tensor.min().item()), int(tensor.max().item())
        if low < 0:
            raise RuntimeError("Class values must be non-negative.")
        if num_classes == -1:
            num_classes = high + 1
        elif high >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    if num_classes < 0:
        raise RuntimeError(f"one_hot(): num_classes should be -1 or non-negative, got {num_classes}")
    classes = arange(num_classes, dtype=tensor.dtype, device=tensor.device)
    return (tensor.unsqueeze(-1) == classes).long()


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,  # noqa: A002
              scale_grad_by_freq=False, sparse=False):
    """weight[input]: rows of weight (num_embeddings, embedding_dim) picked by an int64 tensor; the
    padding_idx row's gradient stays zero. With max_norm, the rows looked up whose norm_type-norm exceeds
    max_norm are first rescaled in place (no gradient) to max_norm / (norm + 1e-7) times themselves, as
    torch.embedding_renorm_; with scale_grad_by_freq, each row's gradient is divided by how often its index
    occurs in input."""
    tensor_argument(input, "embedding")
    tensor_argument(weight, "embedding", "weight", 2)
    if input.dtype.name not in ("int64", "int32"):
        raise RuntimeError(f"embedding(): Expected tensor for argument #1 'indices' to have one of the following "
                           f"scalar types: Long, Int; but got {input.dtype} instead (convert with .long())")
    input = input.long()
    if weight.ndim != 2:
        raise RuntimeError(f"embedding(): 'weight' must be 2-D, got shape {list(weight.shape)}")
    _check_dense(sparse, "embedding()")
    rows = weight.shape[0]
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = padding_idx + rows if padding_idx < 0 else padding_idx
    if input.numel() and (int(input.min().item()) < 0 or int(input.max().item()) >= rows):
        raise IndexError("index out of range in self")
    if max_norm is not None and input.numel():
        _embedding_renorm_(weight, input, float(max_norm), norm_type)
    out = weight[input]
    if not out.requires_grad:
        return out
    if scale_grad_by_freq and input.numel():
        _, inverse, counts = input.unique(return_inverse=True, return_counts=True)
        inverse_frequency = (1.0 / counts[inverse].to(weight.dtype)).unsqueeze(-1)
        out.register_hook(lambda grad: _scale_by_frequency(grad, inverse_frequency))
        if padding_idx is None:
            return out.view(out.shape)  # a fresh node: a user's hook on the result sees the unscaled gradient
    if padding_idx is None:
        return out
    keep = (input != padding_idx).unsqueeze(-1)
    return where(keep, out, out.detach())


def _scale_by_frequency(grad, inverse_frequency):
    """grad * inverse_frequency, the gradient that reaches the looked-up rows with scale_grad_by_freq, with
    a derivative of 1 in grad: a second-order gradient then meets the scale once, when it passes the hook
    again, as in PyTorch (whose embedding_dense_double_backward leaves the scale out). Tensor ops only, so
    it runs under vmap (jacrev). Two differences from PyTorch: forward over reverse (jacfwd(jacrev(f)),
    func.hessian) leaves the scale out of the second order, where PyTorch's forward mode scales; and an
    infinite gradient entry becomes nan."""
    frozen = grad.detach()
    return frozen * inverse_frequency + (grad - frozen)


def _check_dense(sparse, name):
    if sparse:
        raise NotImplementedError(f"{name}: sparse=True is not supported: minigrad has no sparse tensors, so "
                                  f"the weight's gradient is always dense (use sparse=False)")


def _embedding_renorm_(weight, indices, max_norm, norm_type):
    """torch.embedding_renorm_: in place and without a gradient, every row of weight that indices look up
    and whose norm_type-norm exceeds max_norm is multiplied by max_norm / (norm + 1e-7). The values
    change, not a forward-mode tangent, and weight's version counter moves (as in PyTorch)."""
    values = weight.detach()  # same storage and version counter, no tangent
    with no_grad():
        looked_up = indices.unique()
        picked = values[looked_up]
        norms = picked.norm(norm_type, dim=1).double()  # the scale in double, as PyTorch computes it
        scale = where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).to(weight.dtype)
        values[looked_up] = picked * scale.unsqueeze(1)


# --- losses --------------------------------------------------------------------------------------------

def _reduce(loss, reduction, name):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{name}(): {reduction!r} is not a valid value for reduction; expected 'mean', 'sum' or 'none'")


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):  # noqa: A002
    """-input[n, target[n]] (log-probabilities in, class indices as targets), weighted and reduced."""
    _floating(tensor_argument(input, "nll_loss"), "nll_loss")
    tensor_argument(target, "nll_loss", "target", 2)
    _same_dtype_as_input(input, (("weight", weight),), "nll_loss")
    if target.dtype.name not in ("int64", "uint8"):  # PyTorch's kernels take Long or Byte targets
        raise RuntimeError(f"nll_loss(): expected target to be an int64 (or uint8) tensor of class indices, got "
                           f"{target.dtype if isinstance(target, Tensor) else type(target).__name__}")
    if input.ndim < 1 or (input.ndim == 1 and target.ndim != 0) or (input.ndim > 1 and (
            target.ndim != input.ndim - 1 or target.shape[0] != input.shape[0] or target.shape[1:] != input.shape[2:])):
        raise ValueError(f"nll_loss(): Expected input batch_size ({input.shape[0] if input.ndim > 1 else 1}) to "
                         f"match target batch_size; got input of size {list(input.shape)} and target of size "
                         f"{list(target.shape)}")
    class_dim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[class_dim]
    if weight is not None and tuple(weight.shape) != (n_classes,):
        raise RuntimeError(f"nll_loss(): expected weight of shape [{n_classes}] (one per class), "
                           f"got {list(weight.shape)}")
    if not target._vmap_level:  # the indices checked on the host (one read, as PyTorch's kernel checks them)
        labels = target.cpu().numpy()
        valid = labels != ignore_index
        bad = valid & ((labels < 0) | (labels >= n_classes))
        if bad.any():
            raise IndexError(f"nll_loss(): Target {labels[bad][0]} is out of bounds for {n_classes} classes")
        if weight is None and valid.all():  # every target counts once: the mean is over all of them
            picked = Gather.apply(input, target.unsqueeze(class_dim), class_dim).squeeze(class_dim)
            return _reduce(-picked, reduction, "nll_loss")
    valid = target != ignore_index
    safe = where(valid, target, target.new_zeros(()))
    if target._vmap_level and bool(((safe < 0) | (safe >= n_classes)).any()):  # else checked above
        raise IndexError(f"nll_loss(): Target {int(safe[(safe < 0) | (safe >= n_classes)][0])} is out of bounds "
                         f"for {n_classes} classes")
    picked = Gather.apply(input, safe.unsqueeze(class_dim), class_dim).squeeze(class_dim)
    weights = valid.to(input.dtype)
    if weight is not None:
        weights = weights * Gather.apply(weight, safe.reshape(-1), 0).reshape(safe.shape)
    loss = -picked * weights
    if reduction == "mean":
        return loss.sum() / weights.sum()
    return _reduce(loss, reduction, "nll_loss")


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):  # noqa: A002
    """Log-softmax then negative log-likelihood (class indices) or cross-entropy (class probabilities)."""
    _floating(tensor_argument(input, "cross_entropy"), "cross_entropy")
    tensor_argument(target, "cross_entropy", "target", 2)
    _same_dtype_as_input(input, (("weight", weight),), "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy(): label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    log_probs = input.log_softmax(class_dim)
    n_classes = input.shape[class_dim]
    if isinstance(target, Tensor) and target.dtype.is_floating_point:  # class probabilities
        if target.shape != input.shape:
            raise RuntimeError(f"cross_entropy(): expected probability targets of shape {list(input.shape)}, "
                               f"got {list(target.shape)}")
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
        per_class = log_probs * target if weight is None else log_probs * target * weight.reshape(
            (-1,) + (1,) * (input.ndim - class_dim - 1))
        return _reduce(-per_class.sum(class_dim), reduction, "cross_entropy")
    loss = nll_loss(log_probs, target, weight, ignore_index, reduction)
    if label_smoothing == 0.0:
        return loss
    valid = (target != ignore_index).to(input.dtype)
    shape = (-1,) + (1,) * (input.ndim - class_dim - 1)
    smooth = -(log_probs if weight is None else log_probs * weight.reshape(shape)).sum(class_dim) * valid
    if reduction == "mean":
        denominator = valid.sum() if weight is None else (
            valid * Gather.apply(weight, where(target != ignore_index, target, target.new_zeros(())).reshape(-1),
                                 0).reshape(target.shape)).sum()
        smooth = smooth.sum() / denominator
    else:
        smooth = _reduce(smooth, reduction, "cross_entropy")
    return (1 - label_smoothing) * loss + label_smoothing / n_classes * smooth


def _check_same_shape(input, target, name):  # noqa: A002
    tensor_argument(input, name)
    tensor_argument(target, name, "target", 2)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{name}(): Using a target size ({list(target.shape)}) that is different to the input "
                         f"size ({list(input.shape)}) is not supported")


def mse_loss(input, target, reduction="mean"):  # noqa: A002
    _check_same_shape(input, target, "mse_loss")
    if not (input.dtype.is_floating_point or target.dtype.is_floating_point):
        _floating(input, "mse_loss")
    diff = input - target
    return _reduce(diff * diff, reduction, "mse_loss")


def l1_loss(input, target, reduction="mean"):  # noqa: A002
    _check_same_shape(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction, "l1_loss")


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):  # noqa: A002
    """Sigmoid + binary cross-entropy in the stable form max(x, 0) - x * y + log(1 + exp(-|x|))."""
    _check_same_shape(input, target, "binary_cross_entropy_with_logits")
    _floating(input, "binary_cross_entropy_with_logits")
    _floating(target, "binary_cross_entropy_with_logits", "target")
    # log(1 - sigmoid(x)) = -max(x, 0) - log(1 + exp(-|x|)); max and |.| take the same branch (x > 0), so
    # the derivative at x = 0 is -sigmoid(0) exactly
    positive = input > 0
    magnitude = where(positive, input, -input)
    log_sigmoid_neg = -where(positive, input, input.new_zeros(())) - (1 + (-magnitude).exp()).log()
    if pos_weight is None:
        loss = -(target * input) - log_sigmoid_neg
    else:
        log_sigmoid = log_sigmoid_neg + input  # log(sigmoid(x))
        loss = -(pos_weight * target * log_sigmoid + (1 - target) * log_sigmoid_neg)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")
