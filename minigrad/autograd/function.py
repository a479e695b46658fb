"""Function: an op with a forward, a VJP rule (backward) and a JVP rule (jvp).

`Function.apply` runs `forward` with recording off, then, when grad mode is on
and an input requires grad, records a Node on the tape whose edges point at the
inputs' nodes. When an input carries a forward-mode tangent, it also runs the
`jvp` rule and attaches the output tangents.

The rules are written with Tensor operations, so a gradient can itself be
differentiated (`create_graph=True`) and tangents can be pulled back.

`Primitive` is the base of minigrad's own ops (minigrad.ops): its `compute` works on backend
arrays, and its machinery, `Primitive.apply`, is the one door between Tensors and arrays.
"""
import inspect
import weakref

import numpy as np

from minigrad._dtype import float16
from minigrad.autograd.grad_mode import STATE
from minigrad.autograd.variable import TensorBase
from minigrad.backends import backend_for
from minigrad_kernels._tape import Node, apply_primitive, bind_primitive_machinery, record_edges

_FREED = ("Trying to backward through the graph a second time (or directly access saved tensors "
          "after they have already been freed). Saved intermediate values of the graph are freed "
          "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need "
          "to backward through the graph a second time or if you need to access saved tensors "
          "after calling backward.")


class _SavedOutput:
    """An output saved for backward, held without a reference to the output tensor.

    Holding the tensor itself would make a cycle (tensor -> node -> ctx -> tensor);
    on unpacking, an alias of the output is rebuilt with the node as its grad_fn.
    """
    __slots__ = ("like", "output_nr")

    def __init__(self, output, output_nr):
        self.like = output._alias_without_graph()
        self.output_nr = output_nr

    def unpack(self, node):
        alias = self.like._alias_without_graph()
        alias._tangent = self.like._tangent
        if node is not None:
            alias._attach(node, self.output_nr)
        return alias


class Context:
    """What forward passes to backward and jvp: saved tensors and any attributes set on it."""

    # defaults live on the class so that creating a context (once per op) sets one attribute
    needs_input_grad = ()
    materialize_grads = True
    _saved = ()
    _versions = ()
    _node = None  # weak reference to this op's node, set when recorded
    _non_differentiable = ()
    _released = False
    _input_shapes = ()
    _output_meta = ()

    def __init__(self, function):
        self._function = function

    def save_for_backward(self, *tensors):
        """Keep tensors (inputs or outputs of forward, or None) for backward and jvp."""
        for t in tensors:
            if t is not None and not isinstance(t, TensorBase):
                raise TypeError(f"save_for_backward: expected tensors or None, got {type(t).__name__}")
        self._saved = tensors
        self._versions = tuple(None if t is None else t._version.value for t in tensors)

    def mark_non_differentiable(self, *tensors):
        """Outputs that get no gradient (e.g. indices)."""
        self._non_differentiable = tensors

    def set_materialize_grads(self, value):
        """With False, backward gets None (not zeros) for outputs that received no gradient."""
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self):
        if self._released:
            raise RuntimeError(_FREED)
        node = None if self._node is None else self._node()
        unpacked = []
        for item, version in zip(self._saved, self._versions):
            if isinstance(item, _SavedOutput):
                tensor = item.unpack(node)
                current = item.like._version.value
            else:
                tensor = item
                current = None if item is None else item._version.value
            if current != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: a tensor saved by {self._function.__name__} is at version "
                    f"{current}; expected version {version} instead.")
            unpacked.append(tensor)
        return tuple(unpacked)

    # called by the tape engine
    def apply_backward(self, grads):
        if self._released:
            raise RuntimeError(_FREED)
        if self.materialize_grads:
            if any(g is None for g in grads):  # outputs that received no gradient get zeros
                grads = tuple([grad if grad is not None else _zeros_for_output(self._output_meta[i])
                               for i, grad in enumerate(grads)])
        result = self._function.backward(self, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        return _check_grads(self._function, result, self._input_shapes)

    def release(self):
        self._saved = ()
        self._released = True


def _zeros_for_output(meta):
    tensor_type, shape, dtype, device = meta
    return tensor_type._zeros(shape, dtype, device)


def _check_grads(function, grads, input_shapes):
    if len(grads) != len(input_shapes):
        raise RuntimeError(f"function {function.__name__}Backward returned an incorrect number of "
                           f"gradients (expected {len(input_shapes)}, got {len(grads)})")
    for i, shape in enumerate(input_shapes):
        g = grads[i]
        if g is not None and shape is not None \
                and (g._data.shape if isinstance(g, TensorBase) else g.shape) != shape:  # (.shape builds a Size)
            raise RuntimeError(f"function {function.__name__}Backward returned an invalid gradient at "
                               f"index {i} - got {list(g.shape)} but expected shape compatible with {list(shape)}")
    return grads


class Function:
    """Subclass with static `forward(ctx, *args)`, `backward(ctx, *grads)` and
    `jvp(ctx, *tangents)`, then call `MyFunction.apply(*args)`."""

    _backward_name = "FunctionBackward"  # the name of this op's nodes, set once per class

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._backward_name = cls.__name__ + "Backward"

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a Function subclass must implement forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must implement backward(ctx, *grad_outputs) "
                                  "to be differentiated in reverse mode")

    @staticmethod
    def jvp(ctx, *tangents):
        raise NotImplementedError("a Function subclass must implement jvp(ctx, *tangents) "
                                  "to be differentiated in forward mode")

    @classmethod
    def apply(cls, *args):
        state = STATE
        for a in args:
            if isinstance(a, TensorBase) and a._vmap_level:  # raises: a Function has no batching rule
                return a._apply_batched(cls, args)
        ctx = Context(cls)
        needs = tuple(isinstance(a, TensorBase) and a._requires_grad for a in args)
        _check_devices(cls, args)
        record = state.grad_enabled and True in needs
        if record:
            _check_views(args)
        ctx.needs_input_grad = needs if record else (False,) * len(args)

        previous = state.grad_enabled
        state.grad_enabled = False
        try:
            result = cls.forward(ctx, *args)
        finally:
            state.grad_enabled = previous
        outputs = result if isinstance(result, tuple) else (result,)

        if record:
            _record(cls, ctx, args, outputs)
        if state.forward_ad_enabled and any(isinstance(a, TensorBase) and a._tangent is not None for a in args):
            _push_tangents(cls, ctx, args, outputs)
        return result


def is_recorded(*args):
    """Whether an op on these arguments is recorded for backward (grad mode on and one requires grad) or
    pushes a forward-mode tangent: whether its rules may run (Function.apply's and Primitive.apply's test)."""
    tensors = [a for a in args if isinstance(a, TensorBase)]
    return (STATE.grad_enabled and any(t._requires_grad for t in tensors)
            or STATE.forward_ad_enabled and any(t._tangent is not None for t in tensors))


def _check_devices(cls, args):
    device = None
    for a in args:
        if isinstance(a, TensorBase):
            if device is None:
                device = a._device
            elif a._device is not device and a._device != device:
                raise _mixed_devices(cls, device, a._device)


def _mixed_devices(cls, first, other):
    return RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                        f"{first} and {other}! (in {cls.__name__})")


def _check_views(args):
    for a in args:
        if isinstance(a, TensorBase) and a._base is not None and a._requires_grad \
                and a._version.value != a._view_version:
            raise RuntimeError(
                "a view is used after the tensor it views was modified in place (version "
                f"{a._view_version} -> {a._version.value}); its gradient would be wrong. Take the view again "
                "after the in-place operation.")


def _differentiable(ctx, output):
    return output._dtype.is_floating_point and not any(output is t for t in ctx._non_differentiable)


def _record(cls, ctx, args, outputs):
    needs = ctx.needs_input_grad
    node = Node(ctx, record_edges(args, needs), len(outputs), cls._backward_name)
    ctx._input_shapes = tuple([a._data.shape if need else None for a, need in zip(args, needs)])
    ctx._output_meta = tuple([(type(out), out._data.shape, out._dtype, out._device) for out in outputs])
    if ctx._saved:
        ctx._saved = saved = tuple([_saved_form(item, outputs) for item in ctx._saved])
        if any(type(item) is _SavedOutput for item in saved):
            ctx._node = weakref.ref(node)  # only a saved output needs the node back (see _SavedOutput)
    for i, out in enumerate(outputs):
        if _differentiable(ctx, out):
            out._attach(node, i)


def _saved_form(item, outputs):
    """Outputs are saved without a reference to themselves (see _SavedOutput); inputs as they are."""
    for i, out in enumerate(outputs):
        if item is out:
            return _SavedOutput(out, i)
    return item


def _push_tangents(cls, ctx, args, outputs):
    tangents = tuple(
        (a._tangent if a._tangent is not None else a._zeros_like())
        if isinstance(a, TensorBase) and a._dtype.is_floating_point else None
        for a in args)
    STATE.forward_ad_enabled = False
    try:
        result = _jvp(cls, ctx, args, tangents)
    finally:
        STATE.forward_ad_enabled = True
    out_tangents = result if isinstance(result, tuple) else (result,)
    for i, (out, tangent) in enumerate(zip(outputs, out_tangents)):
        if tangent is not None and _differentiable(ctx, out):
            out._tangent = tangent
            for item in ctx._saved:  # a saved output carries its tangent into backward (for gradgradcheck's JVP)
                if isinstance(item, _SavedOutput) and item.output_nr == i:
                    item.like._tangent = tangent


# --- forward-mode rules that follow from the op itself (PyTorch's derivatives.yaml: auto_linear, ...) ---

class DerivedJvp:
    """A marker to put in place of a `jvp` rule: the machinery derives the JVP, as named."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


AUTO_LINEAR = DerivedJvp("AUTO_LINEAR")                # linear op: the op applied to the tangents
AUTO_BILINEAR = DerivedJvp("AUTO_BILINEAR")            # op(a, b) linear in each: op(da, b) + op(a, db)
AUTO_ELEMENT_WISE = DerivedJvp("AUTO_ELEMENT_WISE")    # unary elementwise: J is diagonal, so JVP = VJP
AUTO_SYMMETRIC = DerivedJvp("AUTO_SYMMETRIC")          # J = J^T in the first input (softmax): JVP = VJP


def _jvp(cls, ctx, args, tangents):
    rule = cls.jvp
    if rule is AUTO_LINEAR:
        # arguments without a tangent (indices, masks, parameters) are passed as they are
        return cls.apply(*(a if t is None else t for a, t in zip(args, tangents)))
    if rule is AUTO_BILINEAR:
        a, b, *rest = args
        return cls.apply(tangents[0], b, *rest) + cls.apply(a, tangents[1], *rest)
    if rule is AUTO_ELEMENT_WISE or rule is AUTO_SYMMETRIC:
        grads = cls.backward(ctx, tangents[0])
        return grads[0] if isinstance(grads, tuple) else grads
    return rule(ctx, *tangents)


# --- Primitive: minigrad's own ops, computing on arrays ---------------------------------------------

_BACKEND_OF_TYPE = {}  # by device type: a tensor exists only on a device its backend accepted
_COMPUTE_ONLY = {}  # backend -> the context that non-differentiable primitives share


def _backend_of(device):
    backend = _BACKEND_OF_TYPE.get(device.type)
    if backend is None:
        backend = _BACKEND_OF_TYPE[device.type] = backend_for(device)
        _COMPUTE_ONLY[backend] = Context(Primitive)
        _COMPUTE_ONLY[backend].backend = backend
    return backend


class Primitive(Function):
    """An op of minigrad's own: `compute` works on arrays, the rules (`backward`, `jvp`) on Tensors.

    `compute(ctx, *args)` gets each Tensor argument as its backend array and every other argument as
    given; `ctx.backend` is the arrays' backend. It returns an array, or a tuple of arrays named by
    `outputs`. The rules read `ctx.saved_tensors`: the arguments and outputs that `saves` names, in
    that order (saved only when a rule may run). `apply` checks devices and views, unwraps and wraps
    once, records the op and pushes tangents. Class attributes:

        saves                compute's argument names and output names the rules need
        outputs              names of compute's outputs ("out" for one)
        non_differentiable   outputs that get no gradient (indices)
        differentiable       False: no rules; the outputs never require grad (comparisons, masks)
        view                 the output may share the first argument's storage (reshape, index, ...)
        jvp                  a rule, or AUTO_LINEAR / AUTO_BILINEAR / AUTO_ELEMENT_WISE / AUTO_SYMMETRIC
        float16_in_float32   True: compute gets float32 copies of float16 arrays and its floating outputs
                             are rounded back to float16 (kernels without float16, and sums that
                             accumulate in float32, as PyTorch's CPU kernels do)
    """
    saves = ()
    outputs = ("out",)
    non_differentiable = ()
    differentiable = True
    view = False
    float16_in_float32 = False

    @staticmethod
    def compute(ctx, *args):
        raise NotImplementedError("a Primitive must implement compute(ctx, *args)")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        names = [p.name for p in inspect.signature(cls.compute).parameters.values()
                 if p.kind is p.POSITIONAL_OR_KEYWORD and p.name != "ctx"]
        for name in cls.saves + cls.non_differentiable:
            if name not in names and name not in cls.outputs:
                raise TypeError(f"{cls.__name__}: {name!r} is neither an argument of compute {tuple(names)} "
                                f"nor an output {cls.outputs}")
        # where each saved tensor comes from: i >= 0 is argument i, -1 - k is output k
        cls._save_plan = tuple(names.index(n) if n in names else -1 - cls.outputs.index(n) for n in cls.saves)
        cls._saves_output = any(i < 0 for i in cls._save_plan)
        cls._non_differentiable_outputs = tuple(cls.outputs.index(n) for n in cls.non_differentiable)

    # unwrap, check devices, compute, wrap, save, record, push tangents: in Cython (minigrad_kernels/_tape.pyx)
    apply = classmethod(apply_primitive)


def _compute_only(cls, first, backend, arrays, half):
    """A non-differentiable primitive: no rule will read a context, so its backend's shared one serves."""
    result = _compute(cls, _COMPUTE_ONLY[backend], arrays, half)
    return first._wrap(result) if not isinstance(result, tuple) else tuple(map(first._wrap, result))


def _is_float16(value):
    """value is a float16 array (numpy's type code 'e'; no isinstance against np.dtype, whose ABC check
    cost a LeNet step at batch 64 about 5% of its time, on every op)."""
    return getattr(getattr(value, "dtype", None), "char", None) == "e"


def _in_float32(backend, value):
    """A float16 backend array, or a tuple holding float16 host arrays (pooling's divisors), in float32."""
    if isinstance(value, tuple):
        return tuple(v.astype(np.float32) if _is_float16(v) else v for v in value)
    return backend.astype(value, np.float32) if _is_float16(value) else value


def _compute(cls, ctx, arrays, half):
    """cls.compute(ctx, *arrays); with a float16 tensor argument (half) and cls.float16_in_float32, on
    float32 copies of its float16 arrays, with its floating outputs rounded back to float16."""
    if not (half and cls.float16_in_float32):
        return cls.compute(ctx, *arrays)
    backend = ctx.backend
    result = cls.compute(ctx, *[_in_float32(backend, a) for a in arrays])
    rounded = [backend.astype(r, np.float16) if r.dtype.kind == "f" else r
               for r in (result if isinstance(result, tuple) else (result,))]
    return tuple(rounded) if isinstance(result, tuple) else rounded[0]


def _share_storage(out, source, backend):
    """Make `out` a view of `source` (one version counter) when its array shares source's storage."""
    if backend.shares_memory(out._data, source._data):
        out._version = source._version
        out._view_version = source._version.value
        out._base = source if source._base is None else source._base


bind_primitive_machinery(TensorBase, float16, STATE, _BACKEND_OF_TYPE, _backend_of, Context, _SavedOutput,
                         _mixed_devices, _check_views, _compute, _compute_only, _share_storage, _push_tangents)
