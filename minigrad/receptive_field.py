"""receptive_field(model, input_size) and receptive_field_for_unit(): the pytorch-receptive-field tool's table
and dict, as the course uses them, computed by book-keeping the inverse image of each convolution and pool.

How the structure is found: every leaf module gets forward hooks, and a module's input is followed back on the
tape to the outputs of the leaf modules (or the model's input) it came from. Between leaf modules only
elementwise ops (add, mul, activations, ...) and channel concatenation may stand; when several layers feed one
input (a residual add, a concatenation), its field is the union of theirs. Anything else between the layers
(reshapes, slicing, reductions, functional pooling), a layer that mixes positions otherwise (transposed or
non-zero-padded convolutions, adaptive pooling, LayerNorm, GroupNorm, InstanceNorm, Linear on a map), or
branches with different jumps, cannot be analysed: receptive_field raises ValueError naming the layer, and
summary shows '-'. BatchNorm counts as pointwise (its running statistics, in eval mode, where the model runs).

`start` is computed with the dilation ((k - 1) * d / 2 - p) * jump, where the tool omits the dilation; the unit
region is the bounding box of the exact inverse image (the tool's centre +- field / 2, clipped to the image, overstates it where a
window reaches past the last unit of a map, or a dilated window straddles the border).
"""
import collections
import numbers

from minigrad.autograd.grad_mode import enable_grad
from minigrad.creation import zeros
from minigrad.nn.activation import GELU, LeakyReLU, ReLU, Sigmoid, Tanh, _InPlaceActivation
from minigrad.nn.layers import Dropout, Identity, _ConvNd
from minigrad.nn.module import Module
from minigrad.nn.normalization import _BatchNorm, _InstanceNorm
from minigrad.nn.pooling import AvgPool1d, _MaxPoolNd
from minigrad.ops.elementwise import Add, Cast, Clamp, Div, ElementwiseBinary, Mul, Neg, PowScalar, Sub, Unary, Where
from minigrad.ops.shape import Cat, Clone

# per spatial dim: the centre of unit 0's field (pixel i spans [i, i + 1)), the input pixels between neighbouring
# units, and the field's size
Field = collections.namedtuple("Field", "start jump size")
Window = collections.namedtuple("Window", "kernel_size stride padding dilation")
# one row of the table: a leaf module's call (module None: the model's output, when tape ops follow the last
# layer); `inputs` are the keys of the layers feeding it; `field` is None when `reason` says why
Layer = collections.namedtuple("Layer", "key module input_shape output_shape inputs window field reason")

NO_MAP = "its output has no spatial map"
_POINTWISE = (_BatchNorm, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, _InPlaceActivation, Dropout, Identity)
_TAPE_POINTWISE = (Unary, ElementwiseBinary, Add, Sub, Mul, Div, Neg, PowScalar, Clamp, Where, Cast, Clone, Cat)


def _tuple(value, nd):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * nd


def _window(module, nd):
    """The sliding window of a convolution or pool as per-dim tuples, None for a pointwise layer; raises
    _CannotAnalyse for any other layer."""
    if isinstance(module, _ConvNd):
        if module.transposed:
            raise _CannotAnalyse("a transposed convolution is not analysed")
        if module.padding_mode != "zeros":
            raise _CannotAnalyse(f"padding_mode={module.padding_mode!r} fills the padding with pixels of the map")
        if module.padding == "same":  # PyTorch puts the odd pixel of the total on the right
            padding = tuple(d * (k - 1) // 2 for k, d in zip(module.kernel_size, module.dilation))
        else:
            padding = (0,) * nd if module.padding == "valid" else module.padding
        return Window(module.kernel_size, module.stride, padding, module.dilation)
    if isinstance(module, _MaxPoolNd):
        return Window(*(_tuple(v, nd) for v in (module.kernel_size, module.stride, module.padding, module.dilation)))
    if isinstance(module, AvgPool1d):
        return Window(*(_tuple(v, nd) for v in (module.kernel_size, module.stride, module.padding, 1)))
    if isinstance(module, _POINTWISE) and not isinstance(module, _InstanceNorm):
        return None
    raise _CannotAnalyse(f"{type(module).__name__} is none of the layers it analyses (convolutions, max and "
                         "average pooling, pointwise layers)")


class _CannotAnalyse(Exception):
    pass


def _through(field, window):
    """The field after a window: the tool's arithmetic, with the dilation in the start."""
    if window is None:
        return field
    start, jump, size = [], [], []
    for s, j, r, k, st, p, d in zip(*field, *window):
        start.append(s + ((k - 1) * d / 2 - p) * j)
        size.append(r + (k - 1) * d * j)
        jump.append(j * st)
    return Field(tuple(start), tuple(jump), tuple(size))


def _union(fields, keys):
    """The field of a sum or concatenation of maps: the union of theirs (their jumps must agree)."""
    if len({f.jump for f in fields}) > 1:
        raise _CannotAnalyse(f"the layers feeding it ({', '.join(keys)}) have different jumps "
                             f"({', '.join(str(f.jump) for f in fields)})")
    low = [min(f.start[i] - f.size[i] / 2 for f in fields) for i in range(len(fields[0].jump))]
    high = [max(f.start[i] + f.size[i] / 2 for f in fields) for i in range(len(fields[0].jump))]
    return Field(tuple((lo + hi) / 2 for lo, hi in zip(low, high)), fields[0].jump,
                 tuple(int(hi - lo) for lo, hi in zip(low, high)))


def _sources(node, producers, memo):
    """Keys of the layers whose outputs reach `node` through pointwise tape ops; raises _CannotAnalyse when
    another op stands between them. Nodes that no layer reaches (parameters, constants) give nothing."""
    if node in producers:
        return {producers[node]}
    if node not in memo:
        found = set()
        for edge in node.next_functions:
            if edge is not None:
                found |= _sources(edge[0], producers, memo)
        function = getattr(node.fn, "_function", None)
        if found and not (isinstance(function, type) and issubclass(function, _TAPE_POINTWISE)):
            raise _CannotAnalyse(f"the op {node.name()} stands between it and layer {min(found, key=int)}")
        memo[node] = found
    return memo[node]


def trace(model, x):
    """Run `model` on `x` (N, C, *spatial) with grad mode on and return the input's Layer (key "0"), one Layer
    per leaf-module call in the order the calls finish, and one for the model's output when tape ops follow
    the last layer. `x` must require grad, as the walks follow its tape; otherwise no layer has a field."""
    nd = x.ndim - 2
    layers = [Layer("0", None, None, list(x.shape), [], None, Field((0.5,) * nd, (1,) * nd, (1,) * nd), None)
              if nd >= 1 else Layer("0", None, None, list(x.shape), [], None, None, NO_MAP)]
    producers, pending = {x._grad_edge()[0]: "0"}, {}

    def feed(tensor):
        """(keys of the layers feeding `tensor`, the union of their fields)."""
        if not tensor.requires_grad:
            raise _CannotAnalyse("its input does not come from the model's input")
        inputs = sorted(_sources(tensor._grad_edge()[0], producers, {}), key=int)
        if not inputs:
            raise _CannotAnalyse("its input does not come from the model's input")
        for key in inputs:
            layer = layers[int(key)]
            if layer.field is None:
                raise _CannotAnalyse(f"layer {key} feeding it has no receptive field")
            if layer.output_shape[2:] != list(tensor.shape[2:]):
                raise _CannotAnalyse(f"layer {key} feeding it has map size {layer.output_shape[2:]}, not "
                                     f"{list(tensor.shape[2:])}")
        return inputs, _union([layers[int(key)].field for key in inputs], inputs)

    def before(module, args):
        # the walk happens at the call: later in-place layers rewire the nodes of the tensors they change
        try:
            if not args or not hasattr(args[0], "shape"):
                raise _CannotAnalyse("its first argument is not a tensor")
            pending[module] = (list(args[0].shape), *feed(args[0]), None)
        except _CannotAnalyse as why:
            pending[module] = (list(getattr(args[0], "shape", [])) if args else None, [], None, str(why))

    def after(module, args, output):
        input_shape, inputs, field, reason = pending.pop(module)
        out = output[0] if isinstance(output, tuple) else output
        key, output_shape = str(len(layers)), list(getattr(out, "shape", []))
        window = None
        if len(output_shape) != nd + 2:
            inputs, field, reason = [], None, NO_MAP
        elif reason is None:
            try:
                window = _window(module, nd)
                field = _through(field, window)
            except _CannotAnalyse as why:
                inputs, field, reason = [], None, str(why)
        layers.append(Layer(key, module, input_shape, output_shape, inputs, window, field, reason))
        if getattr(out, "grad_fn", None) is not None:
            producers[out.grad_fn] = key

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_pre_hook(before) for m in leaves] + [m.register_forward_hook(after) for m in leaves]
    try:
        with enable_grad():
            output = model(x)
    finally:
        for handle in handles:
            handle.remove()
    output = output[0] if isinstance(output, tuple) else output
    if getattr(output, "grad_fn", None) is not None and output.grad_fn not in producers and output.ndim == nd + 2:
        key, shape = str(len(layers)), list(output.shape)
        try:
            inputs, field = feed(output)
            layers.append(Layer(key, None, shape, shape, inputs, None, field, None))
        except _CannotAnalyse as why:
            layers.append(Layer(key, None, shape, shape, [], None, None, str(why)))
    return layers


def _value(values, kind):
    """A per-dim tuple as the tool's dict holds it: one float when every dim agrees, else a tuple."""
    values = tuple(kind(v) for v in values)
    return values[0] if len(set(values)) == 1 else values


def receptive_field(model, input_size, batch_size=-1, device="cpu"):
    """Print the pytorch-receptive-field tool's table (layer, map size, start, jump, receptive_field) and
    return its dict: "0" for the input, then "1", "2", ... for each leaf-module call in the order the calls
    finish, each with "j" (jump), "r" (receptive field), "start" (centre of the first unit's field; pixel i
    spans [i, i + 1)), "input_shape" and "output_shape" (batch dim set to `batch_size`), and "input_size".
    "0" has "conv_stage" True, as the tool's. A value is a float when every spatial dim agrees, else a tuple
    per dim. Each entry also has "type" (the layer's class), "inputs" (the keys of the layers feeding it: two
    or more for a residual add or a concatenation, whose field is the union of theirs) and "window" (kernel,
    stride, padding and dilation per dim, None for a pointwise layer), which receptive_field_for_unit follows.
    A layer with no spatial map (Flatten, Linear after it) has None values and '-' in the table.

    input_size is (C, *spatial), without the batch dim, as the tool's. The model runs once, in eval mode, on
    zeros that require grad, of its parameters' dtype (its mode is restored). Raises ValueError naming the layer when a layer with a map
    cannot be analysed (see the module docstring for what can)."""
    if not isinstance(model, Module):
        raise TypeError(f"receptive_field: model: expected an nn.Module, got {type(model).__name__}")
    if (not isinstance(input_size, (tuple, list)) or len(input_size) < 2
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in input_size)):
        raise ValueError(f"receptive_field: input_size: expected (channels, *spatial size) as positive ints, "
                         f"e.g. (3, 256, 256), got {input_size!r}")
    if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool):
        raise TypeError(f"receptive_field: batch_size: expected an int, got {batch_size!r}")
    if not isinstance(device, str) or device.lower() not in ("cpu", "cuda"):
        raise ValueError(f"receptive_field: device: expected 'cpu' or 'cuda', got {device!r}")
    dtype = next((p.dtype for p in model.parameters() if p.dtype.is_floating_point), None)
    x = zeros(1, *input_size, dtype=dtype, device=device.lower()).requires_grad_()
    was_training = model.training
    try:
        model.eval()
        layers = trace(model, x)
    finally:
        model.train(was_training)
    result = collections.OrderedDict()
    for layer in layers:
        if layer.field is None and layer.reason != NO_MAP:
            name = "the model's output" if layer.module is None else type(layer.module).__name__
            raise ValueError(f"receptive_field: cannot analyse layer {layer.key} ({name}): {layer.reason}")
        entry = result[layer.key] = collections.OrderedDict()
        field = layer.field
        entry["j"] = None if field is None else _value(field.jump, float)
        entry["r"] = None if field is None else _value(field.size, float)
        entry["start"] = None if field is None else _value(field.start, float)
        if layer.key == "0":
            entry["conv_stage"] = True
        else:
            entry["input_shape"] = [batch_size, *layer.input_shape[1:]]
        entry["output_shape"] = [batch_size, *layer.output_shape[1:]]
        entry["type"] = "input" if layer.key == "0" else "output" if layer.module is None \
            else type(layer.module).__name__
        entry["inputs"] = list(layer.inputs)
        entry["window"] = None if layer.window is None else {name: tuple(v) for name, v in layer.window._asdict().items()}
    rule = "-" * 78
    print(rule)
    print("{:>20}  {:>10} {:>10} {:>10} {:>15}".format("Layer (type)", "map size", "start", "jump", "receptive_field"))
    print("=" * 78)
    for key, entry in result.items():
        values = ("-",) * 4 if entry["j"] is None else (
            str(entry["output_shape"][2:]), str(entry["start"]), str(entry["j"]), str(entry["r"]))
        print("{:7} {:12}  {:>10} {:>10} {:>10} {:>15}".format("", key, *values))
    print("=" * 78)
    result["input_size"] = tuple(input_size)
    return result


def _products(entry, products, limits):
    """Each product of per-dim position sets at a layer's output, mapped to its input (one whose set is
    empty in some dim sees only padding and is dropped), without duplicates or sets inside another."""
    window = entry["window"]
    if window is not None:
        mapped = []
        for sets in products:
            new = tuple(frozenset(x * s - p + t * d for x in positions for t in range(k)
                                  if 0 <= x * s - p + t * d < n)
                        for positions, k, s, p, d, n in zip(sets, window["kernel_size"], window["stride"],
                                                            window["padding"], window["dilation"], limits))
            if all(new):
                mapped.append(new)
        products = mapped
    unique = list(dict.fromkeys(products))
    return [a for a in unique if not any(b != a and all(x <= y for x, y in zip(a, b)) for b in unique)]


def receptive_field_for_unit(receptive_field_dict, layer, unit_position):
    """The input region [(start, end), ...] (one pair per spatial dim, H then W; pixel i spans [i, i + 1)) that
    the unit at `unit_position` of `layer` (a key of receptive_field's dict) sees: the bounding box of the
    exact inverse image of that unit, back through every window and branch, so it is clipped to the image.
    Printed as the tool prints it, and returned. Where a field has holes (a dilated kernel, a stride larger
    than the kernel) the box includes them; a unit that sees only padding gives (0, 0) in every dim."""
    if not isinstance(receptive_field_dict, dict) or "input_size" not in receptive_field_dict:
        raise TypeError("receptive_field_for_unit: receptive_field_dict: expected the dict receptive_field "
                        f"returns, got {type(receptive_field_dict).__name__}")
    key = str(layer)
    layers = [k for k in receptive_field_dict if k != "input_size"]
    if key not in layers:
        raise KeyError(f"receptive_field_for_unit: layer: expected one of {layers}, got {layer!r}")
    entry = receptive_field_dict[key]
    if entry["j"] is None:
        raise ValueError(f"receptive_field_for_unit: layer {key} ({entry['type']}) has no spatial map")
    size = entry["output_shape"][2:]
    if (not isinstance(unit_position, (tuple, list)) or len(unit_position) != len(size)
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in unit_position)):
        raise ValueError(f"receptive_field_for_unit: unit_position: expected {len(size)} ints, one per spatial "
                         f"dim, got {unit_position!r}")
    if any(not 0 <= u < n for u, n in zip(unit_position, size)):
        raise ValueError(f"receptive_field_for_unit: unit_position {tuple(unit_position)} is outside the "
                         f"feature map of layer {key}, of size {size}")
    pending = {key: [tuple(frozenset([u]) for u in unit_position)]}
    for current in reversed(layers[1:int(key) + 1]):
        products = pending.pop(current, [])
        current_entry = receptive_field_dict[current]
        if products:
            products = _products(current_entry, products, current_entry["input_shape"][2:])
            for source in current_entry["inputs"]:
                pending.setdefault(source, []).extend(products)
    seen = pending.get("0", [])
    limits = tuple(receptive_field_dict["input_size"])[-len(size):]
    if seen:
        low = [min(min(sets[i]) for sets in seen) for i in range(len(size))]
        high = [max(max(sets[i]) for sets in seen) + 1 for i in range(len(size))]
        # the types the tool returns: an int where the bound is the image's edge
        region = [(max(0, float(lo)), min(n, float(hi))) for lo, hi, n in zip(low, high, limits)]
    else:
        region = [(0, 0)] * len(size)
    print(f"Receptive field size for layer {key}, unit_position {tuple(unit_position)},  is \n {region}")
    return region
