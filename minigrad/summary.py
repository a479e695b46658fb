"""summary(model, input_size): layers, output shapes, parameter counts and receptive fields."""
from minigrad.autograd.grad_mode import no_grad
from minigrad.creation import zeros
from minigrad.nn.layers import _ConvNd
from minigrad.nn.module import Module
from minigrad.nn.pooling import AvgPool1d, _MaxPoolNd


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _window(module):
    """(kernel, stride, padding, dilation) pairs of a sliding-window layer, else None."""
    if isinstance(module, _ConvNd) and not module.transposed and module._nd == 2:
        padding = (0, 0) if module.padding == "valid" else tuple(
            d * (k - 1) // 2 for k, d in zip(module.kernel_size, module.dilation)) if module.padding == "same" \
            else module.padding
        return module.kernel_size, module.stride, padding, module.dilation
    if isinstance(module, _MaxPoolNd):
        return _pair(module.kernel_size), _pair(module.stride), _pair(module.padding), _pair(module.dilation)
    if isinstance(module, AvgPool1d):
        return _pair(module.kernel_size), _pair(module.stride), _pair(module.padding), (1, 1)
    return None


def _fmt(values):
    values = tuple(round(v, 2) if isinstance(v, float) else v for v in values)
    return str(values[0]) if values[0] == values[1] else f"{values[0]}x{values[1]}"


def summary(model, input_size, dtype=None, file=None):
    """Print (and return) a table with one row per layer: type, output shape, parameter count, and the
    receptive field as the pytorch-receptive-field tool reports it (map size, start, jump, receptive
    field, per spatial dim). input_size excludes the batch dim; the table uses a batch of 1."""
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected an nn.Module, got {type(model).__name__}")
    rows, handles = [], []

    def record(module, _, output):
        params = sum(p.numel() for p in module.parameters(recurse=False))
        trainable = sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)
        out = output[0] if isinstance(output, tuple) else output
        rows.append((f"{type(module).__name__}-{len(rows) + 1}", module, list(out.shape), params, trainable))

    for module in model.modules():
        if not any(True for _ in module.children()):
            handles.append(module.register_forward_hook(record))
    was_training = model.training
    try:
        model.eval()
        with no_grad():
            model(zeros(1, *input_size, **({} if dtype is None else {"dtype": dtype})))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()

    size = tuple(input_size[-2:]) if len(input_size) >= 3 else None
    jump, field, start = (1, 1), (1, 1), (0.5, 0.5)
    header = f"{'Layer (type)':>20}  {'Output Shape':>20}  {'Param #':>10}  {'map size':>9}  {'start':>9}  " \
             f"{'jump':>6}  {'receptive_field':>15}"
    lines = ["-" * len(header), header, "=" * len(header)]
    lines.append(f"{'input':>20}  {str([1] + list(input_size)):>20}  {'':>10}  "
                 + (f"{_fmt(size):>9}  {_fmt(start):>9}  {_fmt(jump):>6}  {_fmt(field):>15}" if size else ""))
    for name, module, shape, params, _ in rows:
        window = _window(module)
        if size is not None and window is not None:
            kernel, stride, padding, dilation = window
            start = tuple(s + ((k - 1) / 2 * d - p) * j for s, k, d, p, j in zip(start, kernel, dilation, padding, jump))
            field = tuple(r + (k - 1) * d * j for r, k, d, j in zip(field, kernel, dilation, jump))
            jump = tuple(j * s for j, s in zip(jump, stride))
        if size is not None and len(shape) == 4:
            size = tuple(shape[2:])
            spatial = f"{_fmt(size):>9}  {_fmt(start):>9}  {_fmt(jump):>6}  {_fmt(field):>15}"
        else:
            size, spatial = None, f"{'-':>9}  {'-':>9}  {'-':>6}  {'-':>15}"
        lines.append(f"{name:>20}  {str(shape):>20}  {params:>10,}  {spatial}")
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    lines += ["=" * len(header), f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", "-" * len(header)]
    text = "\n".join(lines)
    print(text, file=file)
    return text
