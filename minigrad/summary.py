"""summary(model, input_size): layers, output shapes, parameter counts and receptive fields."""
import collections
import sys

from minigrad.autograd.grad_mode import no_grad
from minigrad.creation import zeros
from minigrad.nn.layers import _ConvNd
from minigrad.nn.module import Module
from minigrad.nn.normalization import BatchNorm2d
from minigrad.nn.pooling import AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from minigrad.receptive_field import trace

LayerRow = collections.namedtuple("LayerRow", "name output_shape num_params trainable_params")


class ModelStatistics(str):
    """What summary() returns: the table, as a string whose repr is the table itself (so a REPL shows it
    once, as torchinfo's ModelStatistics does), with the counts as attributes."""

    def __new__(cls, text, layers, input_size, batch_dim_included, total_params, trainable_params):
        self = super().__new__(cls, text)
        self.layers, self.input_size, self.batch_dim_included = layers, input_size, batch_dim_included
        self.total_params, self.trainable_params = total_params, trainable_params
        self.non_trainable_params = total_params - trainable_params
        return self

    def __repr__(self):
        return str(self)


class _FirstLayer(Exception):
    def __init__(self, module):
        super().__init__()
        self.module = module


def _spatial_dims(module):
    """How many spatial dims a layer that takes (N, C, *spatial) or (C, *spatial) has, else None."""
    if isinstance(module, _ConvNd):
        return module._nd
    if isinstance(module, (MaxPool1d, AvgPool1d)) and not isinstance(module, AvgPool2d):
        return 1
    if isinstance(module, (MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm2d)):
        return 2
    return None


def _first_layer(model, leaves, input_size, options):
    """The first leaf module the forward pass calls (found by stopping it there), or None."""
    def stop(module, _):
        raise _FirstLayer(module)

    handles = [leaf.register_forward_pre_hook(stop) for leaf in leaves]
    try:
        model(zeros(1, *input_size, **options))
    except _FirstLayer as found:
        return found.module
    except Exception:  # noqa: BLE001  (the forward fails before any layer: the caller's pass will say why)
        return None
    finally:
        for handle in handles:
            handle.remove()
    return None


def _fmt(values):
    values = tuple(round(v, 2) if isinstance(v, float) else v for v in values)
    return str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))


def summary(model, input_size, dtype=None, file=None, verbose=None):
    """A table with one row per layer: type, output shape, parameter count, and the receptive field as
    the pytorch-receptive-field tool reports it (map size, start, jump, receptive field, per spatial
    dim), computed by minigrad.receptive_field's code ('-' where a layer has no spatial map or that code
    cannot analyse it). Returns it as a ModelStatistics (a str whose repr is the table; .total_params,
    .trainable_params). verbose=1 also prints it to `file`, 0 does not; by default it prints except
    at an interactive prompt, where the returned value shows it (torchinfo's rule).

    input_size may include the batch dim (torchinfo's convention) or not (a batch of 1 is added). It
    is taken as including it only when unambiguous: the first layer the forward pass calls is a
    convolution, pooling or BatchNorm2d layer with N spatial dims and input_size has N + 2 dims. In
    every other case (a Linear first layer, say) it excludes the batch dim. The table's first line
    says which was taken."""
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected an nn.Module, got {type(model).__name__}")
    input_size = tuple(input_size)
    options = {} if dtype is None else {"dtype": dtype}
    leaves = [module for module in model.modules() if not any(True for _ in module.children())]
    was_training = model.training
    try:
        model.eval()
        with no_grad():
            dims = _spatial_dims(_first_layer(model, leaves, input_size, options))
        batch_included = dims is not None and len(input_size) == dims + 2
        full_size = input_size if batch_included else (1, *input_size)
        x = zeros(*full_size, **options)
        layers = trace(model, x.requires_grad_() if x.dtype.is_floating_point else x)
    finally:
        model.train(was_training)

    header = f"{'Layer (type)':>20}  {'Output Shape':>20}  {'Param #':>10}  {'map size':>9}  {'start':>9}  " \
             f"{'jump':>6}  {'receptive_field':>15}"
    taken = "includes the batch dim (torchinfo's convention)" if batch_included else \
        "excludes the batch dim; a batch of 1 is added"
    lines = [f"input_size {input_size} {taken}", "-" * len(header), header, "=" * len(header)]
    rows = []
    for layer in layers:
        field = layer.field
        spatial = f"{'-':>9}  {'-':>9}  {'-':>6}  {'-':>15}" if field is None else \
            f"{_fmt(layer.output_shape[2:]):>9}  {_fmt(field.start):>9}  {_fmt(field.jump):>6}  {_fmt(field.size):>15}"
        if layer.key == "0":
            lines.append(f"{'input':>20}  {str(list(full_size)):>20}  {'':>10}  {spatial if field else ''}".rstrip())
        elif layer.module is not None:
            params = sum(p.numel() for p in layer.module.parameters(recurse=False))
            trainable = sum(p.numel() for p in layer.module.parameters(recurse=False) if p.requires_grad)
            name = f"{type(layer.module).__name__}-{len(rows) + 1}"
            rows.append(LayerRow(name, layer.output_shape, params, trainable))
            lines.append(f"{name:>20}  {str(layer.output_shape):>20}  {params:>10,}  {spatial}")
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    lines += ["=" * len(header), f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", "-" * len(header)]
    stats = ModelStatistics("\n".join(lines), rows, full_size, batch_included, total, trainable)
    if verbose is None:
        verbose = 0 if getattr(sys, "ps1", None) else 1
    if verbose:
        print(stats, file=file)
    return stats
