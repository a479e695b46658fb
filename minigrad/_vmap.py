"""vmap: a function mapped over a batch dim, with one batching rule per primitive.

Inside `vmap(f)`, f sees each batched input as a `BatchedTensor`: a Tensor of the per-example (logical)
shape that holds the whole batch (its physical tensor, batch dim in front) and the vmap level it
belongs to. When an op meets one, `Primitive.apply` hands it to `apply_batched`, which peels the
highest level and runs the op's batching rule: the rule calls the same primitive once on the physical
tensors, with its dim and shape arguments moved past the batch dim (or the batch folded into an
existing batch dim), so the op sees one batched array and never a Python loop over the batch.
Nested vmaps nest BatchedTensors, the highest level outermost (functorch's design).

Autograd and forward mode act on the physical tensors: a rule's call is recorded (and pushes
tangents) like any other, so gradients of batched code are batched. The transforms in minigrad.func
move their inputs down to the physical level (`lower`) and their results back up (`lift`).
"""
import numpy as np

from minigrad import random
from minigrad.ops import conv, elementwise as ew, linalg, logic, normalization, pool, reduction, shape as shape_ops
from minigrad.tensor import Tensor
from minigrad.toplevel import cat

__all__ = ["vmap"]

_ACTIVE = []    # (level, batch size, randomness) of each vmap now running, outermost first
_COUNTER = [0]  # the last level handed out


def _refuse_values():
    raise RuntimeError("vmap: a batched tensor's values can't be read inside vmap (item(), bool(), numpy(), "
                       "tolist(), data-dependent control flow, or indexing with a batched index tensor); "
                       "rewrite it with tensor operations (where, gather, ...)")


class _LogicalArray:
    """Stands in for a BatchedTensor's array: it has the per-example shape and dtype, and refuses
    everything that would read values (item(), bool(), numpy(), indexing with it)."""
    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape, self.dtype = tuple(shape), dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def _refuse(self, *_):
        _refuse_values()

    def __getattr__(self, name):
        _refuse_values()

    __array__ = __index__ = __iter__ = __len__ = __float__ = __int__ = __bool__ = _refuse


class BatchedTensor(Tensor):
    """A Tensor batched by the vmap at `_vmap_level`: `_physical` holds the batch, batch dim first."""
    __slots__ = ("_physical", "_vmap_level")

    def __repr__(self):
        return f"BatchedTensor(lvl={self._vmap_level}, bdim=0, value=\n{self._physical!r}\n)"

    def _alias_without_graph(self):
        return _batched(self._physical._alias_without_graph(), self._vmap_level)

    def _alias_with_graph(self):
        return _batched(self._physical._alias_with_graph(), self._vmap_level)

    def __bool__(self):
        """The truth of a one-element batched tensor: allowed when every example agrees (each then takes
        the same branch); otherwise control flow would differ between examples, which vmap can't batch."""
        if self.numel() != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        physical = self._physical
        if physical.all():
            return True
        if not physical.any():
            return False
        _refuse_values()

    def item(self):
        raise RuntimeError("vmap: It looks like you're calling .item() on a Tensor. We don't support vmap over "
                           "calling .item() on a Tensor, please try to rewrite what you're doing with other "
                           "operations.")

    def contiguous(self):
        return self  # layout is the physical tensor's business (the rules reshape, never view)

    def is_contiguous(self):
        return True

    @property
    def _tangent(self):
        """The forward-mode tangent, which lives on the physical tensor."""
        tangent = self._physical._tangent
        return None if tangent is None else lift(tangent, self._vmap_level)

    @_tangent.setter
    def _tangent(self, value):
        physical = self._physical
        if physical is None:  # being built (_batched)
            return
        physical._tangent = None if value is None else lower(value, self._vmap_level, physical.shape[0])

    def _in_place(self, function, *args):
        result = function.apply(self, *args)
        if isinstance(result, BatchedTensor) and result._vmap_level > self._vmap_level:
            raise RuntimeError(f"vmap: {function.__name__} in place is not possible: it would write a value batched "
                               "by an inner vmap into a tensor that is not batched by it; use the out-of-place op")
        self._check_in_place_result(result)
        self._physical.copy_(lower(result, self._vmap_level, self._physical.shape[0]))
        self._version.value += 1
        return self

    @staticmethod
    def _apply_batched(function, args):
        return apply_batched(function, args)


def _batched(physical, level):
    """A BatchedTensor of `physical` (batch dim first) at `level`."""
    t = object.__new__(BatchedTensor)
    t._dtype, t._physical = physical.dtype, None
    t._init_fields(_LogicalArray(physical.shape[1:], physical.dtype.numpy), physical.device)
    t._physical, t._vmap_level = physical, level
    return t


def _level(t):
    return t._vmap_level if isinstance(t, Tensor) else 0


def _move(t, source, destination):
    """t with dim `source` moved to `destination` (a permuted view)."""
    if source == destination:
        return t
    order = [d for d in range(t.ndim) if d != source]
    order.insert(destination, source)
    return t.permute(order)


def _broadcast_in(t, size, position=0):
    """t with a new dim of `size` at `position` (a view, no copy)."""
    t = t.unsqueeze(position)
    shape = list(t.shape)
    shape[position] = size
    return t.expand(shape)


def lower(t, level, size):
    """t in the coordinates of `level`'s physical tensors: the batch of `level` as dim 0 (broadcast there
    when t is not batched at `level`); levels above stay BatchedTensors around it."""
    if _level(t) == level:
        return t._physical
    if _level(t) > level:
        return _batched(_move(lower(t._physical, level, size), 1, 0), t._vmap_level)
    return _broadcast_in(t, size)


def lift(t, level):
    """The inverse of `lower`: dim 0 of t (through any higher levels) becomes the batch of `level`."""
    if _level(t) > level:
        return _batched(lift(_move(t._physical, 0, 1), level), t._vmap_level)
    if _level(t) == level:
        raise RuntimeError("vmap: a tangent batched by the same vmap as its primal's physical tensor "
                           "(perturbation confusion) is not supported")
    return _batched(t, level)


def active_levels():
    """[(level, batch size)] of the vmaps now running, outermost first."""
    return [(level, size) for level, size, _ in _ACTIVE]


def _check_randomness():
    """A random draw inside vmap: with randomness="same" every example shares it (the draw has the
    per-example shape); "error" refuses it, and "different" is not supported."""
    modes = {randomness for _, _, randomness in _ACTIVE}
    if "error" in modes:
        raise RuntimeError("vmap: called random operation while in randomness error mode. Please either use the "
                           "'same' or 'different' randomness flags on vmap or perform the randomness operation "
                           "out of vmap")
    if "different" in modes:
        raise NotImplementedError("vmap: randomness='different' is not supported: minigrad's random functions draw "
                                  "once for all examples; use randomness='same' or draw outside vmap")


random.DRAW_CHECKS.append(_check_randomness)


# --- the batching rules: rule(function, size, args, batched) -> physical output(s), batch dim first ---
# `args` are the op's arguments with each batched tensor replaced by its physical tensor; batched[i]
# says which. Unbatched tensors may still be BatchedTensors of lower levels: the recursive apply peels them.

def _rank(arg, is_batched):
    return arg.ndim - 1 if is_batched else arg.ndim


def _pad(arg, rank):
    """A physical tensor (B, *s) reshaped to (B, 1, ..., 1, *s) of logical rank `rank`."""
    shape = tuple(arg.shape)
    return arg.reshape(shape[:1] + (1,) * (rank + 1 - len(shape)) + shape[1:])


def _ensure_batched(arg, is_batched, size):
    return arg if is_batched else _broadcast_in(arg, size)


def _elementwise(function, size, args, batched):
    """Broadcasting ops (and matmul): batched arguments get 1s after the batch dim up to the highest
    logical rank, so that broadcasting lines up the logical dims and keeps the batch in front."""
    rank = max(_rank(a, b) for a, b in zip(args, batched) if isinstance(a, Tensor))
    return function.apply(*[_pad(a, rank) if b else a for a, b in zip(args, batched)])


def _first_only(function, size, args, batched):
    """Ops whose only tensor is the first argument and that act elementwise on it."""
    return function.apply(*args)


def _with_front_dim(rule):
    """Gives a 0-d input a dim of 1 (so a dim argument has something to name), then drops it again."""
    def run(function, size, args, batched):
        x = args[0]
        if x.ndim > 1:
            return rule(function, size, args, batched)
        out = rule(function, size, (x.reshape(size, 1),) + tuple(args[1:]), batched)
        if isinstance(out, tuple):
            return tuple(o.reshape(size) for o in out)
        return out.reshape(size)
    return run


def _reduce_dims(function, size, args, batched):
    x, dims, *rest = args
    return function.apply(x, tuple(d + 1 for d in dims), *rest)


@_with_front_dim
def _one_dim(function, size, args, batched):
    x, dim, *rest = args
    return function.apply(x, dim + 1, *rest)


def _arg_extreme(function, size, args, batched):
    x, dim, keepdim, take_max = args
    if dim is not None:
        return _one_dim(function, size, args, batched)
    out = function.apply(x.reshape(size, -1), 1, False, take_max)
    return out.reshape((size,) + (1,) * (x.ndim - 1)) if keepdim else out


def _gather(function, size, args, batched):
    x, index, dim = args
    return function.apply(_ensure_batched(x, batched[0], size), _ensure_batched(index, batched[1], size), dim + 1)


def _scatter_along(function, size, args, batched):
    values, index, dim, shape = args
    return function.apply(_ensure_batched(values, batched[0], size), _ensure_batched(index, batched[1], size),
                          dim + 1, (size,) + tuple(shape))


def _permute(function, size, args, batched):
    x, dims = args
    return function.apply(x, (0,) + tuple(d + 1 for d in dims))


def _reshape(function, size, args, batched):
    x, shape, _ = args
    return function.apply(x, (size,) + tuple(shape), False)  # the physical layout may not allow a view


def _expand(function, size, args, batched):
    x, shape = args
    return function.apply(_pad(x, len(shape)), (size,) + tuple(shape))


def _cat(function, size, args, batched):
    dim, *tensors = args
    return function.apply(dim + 1, *[_ensure_batched(t, b, size) for t, b in zip(tensors, batched[1:])])


def _is_array(k):
    return hasattr(k, "shape") and hasattr(k, "dtype")


def _index_batch_position(key):
    """Where the batch dim lands in x[(slice(None),) + key]: 0, unless the key's advanced indices are
    split by a slice, None or Ellipsis (numpy then puts the indexed dims first, before the batch)."""
    if any(isinstance(k, _LogicalArray) for k in key):
        _refuse_values()
    arrays = [k for k in key if _is_array(k)]
    if not arrays:
        return 0
    advanced = [i for i, k in enumerate(key) if _is_array(k) or isinstance(k, (int, np.integer))]
    if advanced[-1] - advanced[0] + 1 == len(advanced):
        return 0
    return len(np.broadcast_shapes(*[(1,) if k.dtype == bool else tuple(k.shape) for k in arrays]))  # a mask: 1 dim


def _index(function, size, args, batched):
    x, key = args
    return _move(function.apply(x, (slice(None),) + tuple(key)), _index_batch_position(key), 0)


def _index_add(function, size, args, batched):
    values, shape, key = args
    values = _move(values, 0, _index_batch_position(key))
    return function.apply(values, (size,) + tuple(shape), (slice(None),) + tuple(key))


def _indexed_rank(shape, key):
    """The number of dims of x[key] for x of `shape`, found on a stand-in numpy array (of no storage) with
    host stand-ins for the key's arrays, so that it works for any backend's arrays."""
    host = tuple(np.zeros(k.shape, k.dtype if k.dtype == bool else np.intp) if _is_array(k) else k for k in key)
    return np.broadcast_to(np.zeros((), bool), shape)[host].ndim


def _index_put(function, size, args, batched):
    x, key, values = args
    x = _ensure_batched(x, batched[0], size)
    if batched[2]:
        values = _move(_pad(values, _indexed_rank(x.shape[1:], key)), 0, _index_batch_position(key))
    return function.apply(x, (slice(None),) + tuple(key), values)


def _fold_into_first(function, size, args, batched):
    """Ops on (N, ...) (pooling, padding, unfold/fold): the batch joins N."""
    x, *rest = args
    out = function.apply(x.reshape((-1,) + tuple(x.shape[2:])), *rest)
    if isinstance(out, tuple):
        return tuple(o.reshape((size, -1) + tuple(o.shape[1:])) for o in out)
    return out.reshape((size, -1) + tuple(out.shape[1:]))


def _grouped(geometry, size):
    return type(geometry)(geometry.kernel, geometry.stride, geometry.padding, geometry.dilation,
                          geometry.groups * size, geometry.in_size, geometry.out_size)


def _into_channels(t, is_batched, size):
    """(B, N, C, ...) physical, or an unbatched (N, C, ...) repeated B times, as (N, B * C, ...)."""
    t = _move(t, 0, 1) if is_batched else _broadcast_in(t, size, 1)
    return t.reshape((t.shape[0], -1) + tuple(t.shape[3:]))


def _conv(function, size, args, batched):
    """Conv and ConvTranspose: with a shared weight the batch joins N; with a batched weight it becomes
    groups (each example its own group of channels, as functorch does). Conv's bias is added after."""
    x, w, geometry, *bias = args
    if bias:  # (N, C_out, ...) when only the bias is batched: broadcasting adds the batch
        out = (_conv(function, size, (x, w, geometry), batched[:3]) if batched[0] or batched[1]
               else function.apply(x, w, geometry))
        return out + bias[0].reshape((size if batched[3] else 1, 1, -1) + (1,) * (x.ndim - 2 - batched[0]))
    if not batched[1]:
        return _fold_into_first(function, size, args, batched)
    out = function.apply(_into_channels(x, batched[0], size), w.reshape((-1,) + tuple(w.shape[2:])),
                         _grouped(geometry, size))
    return _move(out.reshape((out.shape[0], size, -1) + tuple(out.shape[2:])), 1, 0)


def _conv_activation(function, size, args, batched):
    """ConvActivation and ConvActivationPool as the ops they fuse: Conv's rule, the activation, and
    WindowMean's rule (each output has the batch in front)."""
    x, w, geometry, bias, activation, *windows = args
    operands, flags = ((x, w, geometry), batched[:3]) if bias is None else ((x, w, geometry, bias), batched[:4])
    out = _conv(conv.Conv, size, operands, flags)
    out = ew.Relu.apply(out) if activation == "relu" else ew.Sigmoid.apply(out)
    return _fold_into_first(pool.WindowMean, size, (out, windows[0]), (True, False)) if windows else out


def _conv_weight(function, size, args, batched):
    """ConvWeight sums over N, so the batch becomes groups of both its arguments' channels."""
    x, y, geometry = args
    out = function.apply(_into_channels(x, batched[0], size), _into_channels(y, batched[1], size),
                         _grouped(geometry, size))
    return out.reshape((size, -1) + tuple(out.shape[1:]))


def _channelwise(function, size, args, batched):
    """Ops per channel of (N, C, ...) (batch normalization's): the batch joins the channels, and a (C,)
    argument or output becomes (B * C,)."""
    def joined(a, is_batched):
        if not isinstance(a, Tensor):
            return a
        if a.ndim - is_batched == 1:
            return (a if is_batched else _broadcast_in(a, size)).reshape(-1)
        return _into_channels(a, is_batched, size)

    def split(o):
        if o.ndim == 1:
            return o.reshape(size, -1)
        return _move(o.reshape((o.shape[0], size, -1) + tuple(o.shape[2:])), 1, 0)

    out = function.apply(*[joined(a, is_batched) for a, is_batched in zip(args, batched)])
    return tuple(map(split, out)) if isinstance(out, tuple) else split(out)


def _linear(function, size, args, batched):
    """Linear as the product and sum it stands for, on the physical operands (batch in front): x @ w^T,
    plus b with the batch dim ahead of the examples' one."""
    x, w, *bias = args
    out = x @ w.mT
    return out + (bias[0].unsqueeze(-2) if batched[2] else bias[0]) if bias else out


RULES = {}
for _rule, _functions in [
    (_elementwise, (ew.Add, ew.Sub, ew.Mul, ew.Div, ew.Pow, ew.Maximum, ew.Minimum, ew.Remainder,
                    ew.SigmoidBackward, ew.ReluBackward, ew.Where, logic.Equal, logic.NotEqual, logic.Less, logic.LessEqual,
                    logic.Greater, logic.GreaterEqual, logic.BitwiseAnd, logic.BitwiseOr, logic.BitwiseXor,
                    logic.FloorDivide, linalg.Matmul)),
    (_first_only, (ew.Neg, ew.Exp, ew.Log, ew.Sqrt, ew.Sin, ew.Cos, ew.Tanh, ew.Sigmoid, ew.Erf, ew.Abs,
                   ew.Relu, ew.Floor, ew.Sign, ew.PowScalar, ew.Clamp, ew.Cast, shape_ops.Clone, logic.Invert,
                   logic.LogicalNot, logic.IsNan, logic.IsInf, linalg.Svd)),
    (_reduce_dims, (reduction.Sum, reduction.Prod, reduction.Amax, reduction.Amin, logic.All, logic.Any)),
    (_one_dim, (reduction.Softmax, reduction.LogSoftmax, reduction.MaxDim, logic.Argsort)),
    (_arg_extreme, (logic.ArgExtreme,)),
    (_gather, (reduction.Gather,)),
    (_scatter_along, (reduction.ScatterAlong,)),
    (_permute, (shape_ops.Permute,)),
    (_reshape, (shape_ops.Reshape,)),
    (_expand, (shape_ops.Expand,)),
    (_cat, (shape_ops.Cat,)),
    (_index, (shape_ops.Index,)),
    (_index_add, (shape_ops.IndexAdd,)),
    (_index_put, (shape_ops.IndexPut,)),
    (_fold_into_first, (conv.Unfold, conv.Fold, pool.MaxPool, pool.WindowMaxIndices, pool.WindowMean,
                        pool.WindowMeanAdjoint, pool.Pad, pool.PadAdjoint)),
    (_conv, (conv.Conv, conv.ConvTranspose)),
    (_conv_weight, (conv.ConvWeight,)),
    (_conv_activation, (conv.ConvActivation, conv.ConvActivationPool)),
    (_channelwise, (normalization.Normalize, normalization.Project, normalization.ChannelAffine,
                   normalization.ChannelSums)),
    (_linear, (linalg.Linear,)),
]:
    RULES.update(dict.fromkeys(_functions, _rule))


def apply_batched(function, args):
    """Run `function` (a Primitive) on arguments some of which are BatchedTensors, through its rule."""
    level = max(_level(a) for a in args)
    rule = RULES.get(function)
    if rule is None:
        raise RuntimeError(f"vmap: {function.__name__} has no batching rule, so it can't run inside vmap "
                           "(minigrad never falls back to a loop over the batch); add one to RULES in "
                           "minigrad/_vmap.py")
    batched = [_level(a) == level for a in args]
    size = next(a for a, b in zip(args, batched) if b)._physical.shape[0]
    physical = [a._physical if b else a for a, b in zip(args, batched)]
    out = rule(function, size, physical, batched)
    if isinstance(out, tuple):
        return tuple(_batched(o, level) for o in out)
    return _batched(out, level)


# --- vmap --------------------------------------------------------------------------------------------

def _name(func):
    return getattr(func, "__name__", repr(func))


def _flatten(tree, dims, where, names=("in_dims", "inputs")):
    """Pairs (leaf, dim) of `tree` (nested tuples, lists and dicts) with `dims` (an int or None for every
    leaf, or the same nesting); `names` say which dims and tree an error is about."""
    if isinstance(dims, (tuple, list)) and isinstance(tree, (tuple, list)):
        if len(dims) != len(tree):
            raise ValueError(f"{where}: {names[0]} is not compatible with the structure of `{names[1]}`. "
                             f"{names[0]} has {len(dims)} entries but {names[1]} has {len(tree)}")
        return [pair for t, d in zip(tree, dims) for pair in _flatten(t, d, where, names)]
    if isinstance(dims, dict) and isinstance(tree, dict) and dims.keys() == tree.keys():
        return [pair for k in tree for pair in _flatten(tree[k], dims[k], where, names)]
    if dims is not None and not isinstance(dims, int):
        raise ValueError(f"{where}: {names[0]} is not compatible with the structure of `{names[1]}`: got "
                         f"{dims!r} for a {type(tree).__name__}")
    if isinstance(tree, (tuple, list)):
        return [pair for t in tree for pair in _flatten(t, dims, where, names)]
    if isinstance(tree, dict):
        return [pair for t in tree.values() for pair in _flatten(t, dims, where, names)]
    return [(tree, dims)]


def _rebuild(tree, leaves):
    """`tree` with its leaves replaced, in order, by the iterator `leaves`."""
    if isinstance(tree, (tuple, list)):
        return type(tree)(_rebuild(t, leaves) for t in tree)
    if isinstance(tree, dict):
        return {k: _rebuild(v, leaves) for k, v in tree.items()}
    return next(leaves)


def _check_in_dims(func, in_dims, args):
    where = f"vmap({_name(func)}, in_dims={in_dims}, ...)(<inputs>)"
    if not args:
        raise ValueError(f"vmap({_name(func)})(<inputs>): got no inputs. Maybe you forgot to add inputs, or you "
                         "are trying to vmap over a function with no inputs. The latter is unsupported.")
    if not isinstance(in_dims, (int, tuple)) or isinstance(in_dims, bool):
        raise ValueError(f"{where}: expected `in_dims` to be int or a (potentially nested) tuple matching the "
                         f"structure of inputs, got: {type(in_dims)}.")
    pairs = _flatten(tuple(args), in_dims if isinstance(in_dims, tuple) else (in_dims,) * len(args), where)
    sizes = []
    for leaf, dim in pairs:
        if dim is None:
            continue
        if not isinstance(leaf, Tensor):
            raise ValueError(f"{where}: Got in_dim={dim} for an input but the input is of type {type(leaf)}. We "
                             "cannot vmap over non-Tensor arguments, please use None as the respective in_dim")
        if not -leaf.ndim <= dim < leaf.ndim:
            raise ValueError(f"{where}: Got in_dim={dim} for some input, but that input is a Tensor of "
                             f"dimensionality {leaf.ndim} so expected in_dim to satisfy "
                             f"-{leaf.ndim} <= in_dim < {leaf.ndim}.")
        sizes.append(leaf.shape[dim])
    if not sizes:
        raise ValueError(f"{where}: at least one of the inputs must be a Tensor mapped over a dim (in_dims not "
                         "None everywhere)")
    if len(set(sizes)) > 1:
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                         f"{sizes} for the mapped dimension")
    return pairs, sizes[0]


def _out_pairs(func, outputs, out_dims):
    where = f"vmap({_name(func)}, ..., out_dims={out_dims})(<inputs>)"
    if not isinstance(out_dims, (int, tuple, list)) and out_dims is not None:
        raise ValueError(f"{where}: expected `out_dims` to be int or a (potentially nested) tuple matching the "
                         f"structure of outputs, got: {type(out_dims)}.")
    if isinstance(out_dims, (tuple, list)) and not isinstance(outputs, (tuple, list)):
        raise ValueError(f"{where}: out_dims is not compatible with the structure of `outputs`: out_dims has "
                         f"{len(out_dims)} entries but the output is not a tuple or list")
    return _flatten(outputs, out_dims, where, ("out_dims", "outputs"))


def _unbatch(func, out, dim, level, size):
    if dim is None:
        if isinstance(out, Tensor) and _level(out) == level:
            raise ValueError(f"vmap({_name(func)}, ...): `{_name(func)}` can not return a BatchedTensor when "
                             "out_dim is None")
        return out
    if not isinstance(out, Tensor):
        raise ValueError(f"vmap({_name(func)}, ...): `{_name(func)}` must only return Tensors, got type "
                         f"{type(out)}. Did you mean to set out_dims= to None for output?")
    physical = out._physical if _level(out) == level else _broadcast_in(out, size)
    if not -physical.ndim <= dim < physical.ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-physical.ndim}, "
                         f"{physical.ndim - 1}], but got {dim})")
    return _move(physical, 0, dim % physical.ndim)


def _run(func, args, kwargs, pairs, size, out_dims, randomness):
    _COUNTER[0] += 1
    level = _COUNTER[0]
    leaves = iter([leaf if dim is None else _batched(_move(leaf, dim % leaf.ndim, 0), level)
                   for leaf, dim in pairs])
    _ACTIVE.append((level, size, randomness))
    try:
        outputs = func(*_rebuild(tuple(args), leaves), **kwargs)
    finally:
        _ACTIVE.pop()
    pairs = _out_pairs(func, outputs, out_dims)
    return _rebuild(outputs, iter([_unbatch(func, o, d, level, size) for o, d in pairs]))


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """func mapped over dim `in_dims` of its inputs, returning outputs batched along `out_dims`.

    in_dims (and out_dims) is an int or None for every input (output), or a tuple with one entry per
    input (output), nested as the inputs are. Each op runs once on the whole batch through its batching
    rule; an op without one raises. `chunk_size` maps that many examples at a time. A random draw inside
    raises with randomness="error" (the default), is shared by every example with "same", and raises
    NotImplementedError with "different" (minigrad's random functions draw once, not per example).
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. "
                           f"Got {randomness}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    def wrapped(*args, **kwargs):
        pairs, size = _check_in_dims(func, in_dims, args)
        if chunk_size is None or chunk_size >= size:
            return _run(func, args, kwargs, pairs, size, out_dims, randomness)
        chunks = []
        for start in range(0, size, chunk_size):
            length = min(chunk_size, size - start)
            part = [(leaf if dim is None else leaf.narrow(dim, start, length), dim) for leaf, dim in pairs]
            chunks.append(_run(func, args, kwargs, part, length, out_dims, randomness))
        return _join(chunks, _out_pairs(func, chunks[0], out_dims))

    return wrapped


def _join(chunks, pairs):
    """The chunks' outputs joined along their out_dims."""
    flat = [[o for o, _ in _flatten(c, None, "vmap")] for c in chunks]
    joined = [cat([f[i] for f in flat], d) if d is not None else flat[0][i] for i, (_, d) in enumerate(pairs)]
    return _rebuild(chunks[0], iter(joined))
