"""Layers with PyTorch's names, signatures, defaults and default initialisation."""
import math

from minigrad import creation
from minigrad.autograd.function import is_recorded
from minigrad.autograd.grad_mode import no_grad
from minigrad.nn import functional as F
from minigrad.nn import init
from minigrad.nn.activation import ReLU, Sigmoid
from minigrad.nn.module import Module
from minigrad.nn.parameter import Parameter
from minigrad.nn.pooling import AvgPool2d
from minigrad.tensor import Tensor


_ACTIVATIONS = {ReLU: "relu", Sigmoid: "sigmoid"}  # the activations a convolution takes into its pass


def _check_rank(layer, input, ranks):  # noqa: A002
    if input.ndim not in ranks:
        raise RuntimeError(f"{layer!r}: expected a {' or '.join(f'{r}-D' for r in ranks)} input, "
                           f"got an input of shape {list(input.shape)}")


class Identity(Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):  # noqa: A002
        return input


class Linear(Module):
    """y = x W^T + b, with W (out_features, in_features) and PyTorch's kaiming-uniform init."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(creation.empty(out_features, in_features, device=device, dtype=dtype))
        self.bias = Parameter(creation.empty(out_features, device=device, dtype=dtype)) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):  # noqa: A002
        if isinstance(input, Tensor) and (input.ndim == 0 or input.shape[-1] != self.in_features):
            raise RuntimeError(f"{self!r}: expected input with last dimension {self.in_features}, "
                               f"got input of shape {list(input.shape)}")
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class _ConvNd(Module):
    _nd = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None, transposed=False, output_padding=0):
        super().__init__()
        nd = self._nd
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{type(self).__name__}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"{type(self).__name__}: padding_mode must be 'zeros', 'reflect', 'replicate' or "
                             f"'circular', got {padding_mode!r}")
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"{type(self).__name__}: Invalid padding string {padding!r}, should be one of "
                             "['valid', 'same']")
        if padding == "same" and F.ntuple(stride, nd, "stride", 1) != (1,) * nd:
            raise ValueError(f"{type(self).__name__}: padding='same' is not supported for strided convolutions "
                             f"(got stride={stride!r})")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = F.ntuple(kernel_size, nd, "kernel_size", 1), F.ntuple(stride, nd, "stride", 1)
        self.padding = padding if isinstance(padding, str) else F.ntuple(padding, nd, "padding", 0)
        self.dilation, self.groups, self.padding_mode = F.ntuple(dilation, nd, "dilation", 1), groups, padding_mode
        self.transposed, self.output_padding = transposed, F.ntuple(output_padding, nd, "output_padding", 0)
        shape = ((in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups))
        self.weight = Parameter(creation.empty(*shape, *self.kernel_size, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, input):  # noqa: A002
        F.tensor_argument(input, f"conv_transpose{self._nd}d" if self.transposed else f"conv{self._nd}d")
        _check_rank(self, input, (self._nd + 1, self._nd + 2))
        channels = input.shape[0 if input.ndim == self._nd + 1 else 1]
        if channels != self.in_channels:
            raise RuntimeError(f"{self!r}: expected input with {self.in_channels} channels, got {channels} "
                               f"channels (input of shape {list(input.shape)})")

    def _explicit_padding(self):
        """(padding for F.pad, padding left for the convolution) under padding_mode."""
        if self.padding_mode == "zeros":
            return None, self.padding
        if self.padding == "same":
            totals = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation)]
            pairs = [(t // 2, t - t // 2) for t in totals]
        elif self.padding == "valid":
            return None, 0
        else:
            pairs = [(p, p) for p in self.padding]
        return tuple(v for pair in reversed(pairs) for v in pair), 0

    def forward(self, input):  # noqa: A002
        self._check_input(input)
        conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[self._nd]
        pads, padding = self._explicit_padding()
        if pads is not None:
            input = F.pad(input, pads, mode=self.padding_mode)
        return conv(input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)

    def _fused_call(self, following, input):  # noqa: A002
        """This convolution and a ReLU or Sigmoid after it as one op (ConvActivation: the activation in the
        convolution's pass), and, for Conv2d when nothing is recorded, an AvgPool2d after that too
        (ConvActivationPool: neither the convolution nor the activation is stored)."""
        activation = _ACTIVATIONS.get(type(following[0])) if following else None
        if (activation is None or type(self).forward is not _ConvNd.forward or self.transposed
                or self.padding_mode != "zeros" or self.in_channels == 0 or self._hooked() or following[0]._hooked()
                or not isinstance(input, Tensor)):
            return None
        self._check_input(input)
        pool = following[1] if len(following) > 1 and type(following[1]) is AvgPool2d else None
        if pool is None or self._nd != 2 or pool._hooked() or is_recorded(input, self.weight, self.bias):
            pool = None
        arguments = None if pool is None else (pool.kernel_size, pool.stride, pool.padding, pool.ceil_mode,
                                               pool.count_include_pad, pool.divisor_override)
        out = F._conv(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups, self._nd,
                      f"conv{self._nd}d", activation, arguments)
        return out, 1 if pool is None else 2

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._nd:
            text += f", padding={self.padding if isinstance(self.padding, tuple) else repr(self.padding)}"
        if self.dilation != (1,) * self._nd:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class Conv1d(_ConvNd):
    _nd = 1


class Conv2d(_ConvNd):
    _nd = 2


class Conv3d(_ConvNd):
    _nd = 3


class ConvTranspose2d(_ConvNd):
    _nd = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, transposed=True, output_padding=output_padding)

    def forward(self, input, output_size=None):  # noqa: A002
        self._check_input(input)
        output_padding = self.output_padding
        if output_size is not None:
            sizes = list(output_size)[-2:]
            minimum = [(i - 1) * s - 2 * p + d * (k - 1) + 1 for i, s, p, d, k in
                       zip(input.shape[-2:], self.stride, self.padding, self.dilation, self.kernel_size)]
            output_padding = tuple(o - m for o, m in zip(sizes, minimum))
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                  self.groups, self.dilation)


class _Lazy:
    """Mixin: the first forward (or a load_state_dict) fixes the input size, gives the weight its shape and
    turns the module into its eager class (LazyLinear becomes Linear), as in PyTorch. The weight is
    materialized in place, the same Parameter object, so an optimizer built before that trains it.
    A lazy class names its size attribute (_input_size_name), reads it from an input (_input_size) and
    from a checkpoint (_before_load), and may override _materialize (LazyBatchNorm1d/2d do)."""
    cls_to_become = None

    def reset_parameters(self):
        """Nothing to initialise until the input size is known."""

    def forward(self, input):  # noqa: A002
        self._become_eager(self._input_size(input))
        self.reset_parameters()
        return self.forward(input)

    def _before_load(self, state_dict, prefix):
        """Take the input size from a checkpoint's weight, so a lazy model loads before its first forward."""
        weight = state_dict.get(prefix + "weight")
        if getattr(weight, "ndim", None) == self.weight.ndim:
            self._become_eager(self._input_size_of_weight(weight.shape))

    def _become_eager(self, input_size):
        setattr(self, self._input_size_name, input_size)
        self._materialize(input_size)
        object.__setattr__(self, "__class__", self.cls_to_become)

    def _materialize(self, input_size):
        """Give the parameters (and buffers) their shapes in place; subclasses with other shapes override it."""
        shape = list(self.weight.shape)
        shape[1] = input_size // getattr(self, "groups", 1)
        self.weight.data = creation.empty(*shape, dtype=self.weight.dtype, device=self.weight.device)


class LazyLinear(_Lazy, Linear):
    cls_to_become = Linear
    _input_size_name = "in_features"

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, out_features, bias, device, dtype)

    def _input_size(self, input):  # noqa: A002
        if input.ndim == 0:
            raise RuntimeError(f"{self!r}: expected an input with at least 1 dimension, got a 0-d tensor")
        return input.shape[-1]

    def _input_size_of_weight(self, shape):
        return shape[1]


class LazyConv2d(_Lazy, Conv2d):
    cls_to_become = Conv2d
    _input_size_name = "in_channels"

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__(groups, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)
        self.in_channels = 0

    def _input_size(self, input):  # noqa: A002
        _check_rank(self, input, (3, 4))
        return input.shape[0 if input.ndim == 3 else 1]

    def _input_size_of_weight(self, shape):
        return shape[1] * self.groups


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):  # noqa: A002
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):  # noqa: A002
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Upsample(Module):
    """F.interpolate as a layer: resize to `size` or by `scale_factor` with `mode`."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size = tuple(size) if isinstance(size, (tuple, list)) else size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(factor) for factor in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):  # noqa: A002
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling with align_corners=True."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class Dropout(Module):
    """Zeroes elements with probability p in training mode; the identity in eval mode."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input):  # noqa: A002
        return F.dropout(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Embedding(Module):
    """A lookup table: weight (num_embeddings, embedding_dim), N(0, 1) initialised; the padding_idx row
    starts at zero and gets no gradient. max_norm, norm_type and scale_grad_by_freq as F.embedding;
    sparse=True raises (minigrad has no sparse tensors)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = padding_idx + num_embeddings if padding_idx < 0 else padding_idx
        F._check_dense(sparse, "Embedding")
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(creation.empty(num_embeddings, embedding_dim, device=device, dtype=dtype),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if list(_weight.shape) != [num_embeddings, embedding_dim]:
                raise AssertionError("Shape of weight does not match num_embeddings and embedding_dim")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0

    def forward(self, input):  # noqa: A002
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        if embeddings.ndim != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, _weight=embeddings,
                   _freeze=freeze)

    def extra_repr(self):
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        text += "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        text += "" if self.max_norm is None else f", max_norm={self.max_norm}"
        text += "" if self.norm_type == 2 else f", norm_type={self.norm_type}"
        return text + (", scale_grad_by_freq=True" if self.scale_grad_by_freq else "")
