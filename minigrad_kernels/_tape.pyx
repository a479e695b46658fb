# cython: language_level=3, boundscheck=False, wraparound=False
"""The tape: graph nodes, the reverse sweep, and Primitive.apply's common path (apply_primitive).

A Node stands for one recorded op. It knows nothing about tensors: it holds
`fn`, an object with `apply_backward(grads) -> grads_per_input` and
`release()`, and `next_edges`, one `(Node, slot)` or None per input.
The sweep is iterative (no recursion limit) and counts dependencies so every
node runs once, after all the gradients flowing into it have been summed.
apply_primitive reads and writes Tensors' fields; it imports nothing of minigrad
(autograd/function.py binds the helpers it calls back, bind_primitive_machinery).
"""
cimport cython
from cpython.weakref cimport PyWeakref_NewRef


@cython.trashcan(True)
cdef class Node:
    cdef public object fn
    cdef public tuple next_edges
    cdef public int num_outputs
    cdef public dict pre_hooks
    cdef str _name
    cdef object __weakref__

    def __init__(self, fn, tuple next_edges, int num_outputs, str name):
        self.fn = fn
        self.next_edges = next_edges
        self.num_outputs = num_outputs
        self.pre_hooks = None
        self._name = name

    def register_prehook(self, int slot, hook):
        if self.pre_hooks is None:
            self.pre_hooks = {}
        self.pre_hooks.setdefault(slot, []).append(hook)

    def name(self):
        return self._name

    @property
    def next_functions(self):
        return tuple(None if e is None else (e[0], e[1]) for e in self.next_edges)

    def __repr__(self):
        return "<%s>" % self._name


def record_edges(tuple args, tuple needs):
    """One edge per argument: (node, slot) from `arg._grad_edge()` where needs[i], else None."""
    cdef Py_ssize_t i, n = len(args)
    cdef list edges = [None] * n
    for i in range(n):
        if needs[i]:
            edges[i] = args[i]._grad_edge()
    return tuple(edges)


cdef list _post_order(list roots):
    """Nodes reachable from `roots`, every node after all of its inputs' nodes."""
    cdef list order = []
    cdef set seen = set()
    cdef list stack = []
    cdef Node node, child
    cdef Py_ssize_t i
    for node in roots:
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, 0))
        while stack:
            node, i = stack.pop()
            while i < len(node.next_edges):
                edge = node.next_edges[i]
                i += 1
                if edge is not None:
                    child = <Node>edge[0]
                    if child not in seen:
                        seen.add(child)
                        stack.append((node, i))
                        stack.append((child, 0))
                        break
            else:
                order.append(node)
    return order


cdef inline object _add(object a, object b):
    return b if a is None else a + b


def run_backward(list roots, list root_grads, bint keep_graph, dict targets=None):
    """Run the reverse sweep from `roots` (a list of (Node, slot)).

    Without `targets`, every reachable node runs (leaf accumulators included).
    With `targets` (a dict {(Node, slot): index}), only the nodes on a path to a
    target run, and the gradient arriving at each target is returned in a list.
    """
    cdef list root_nodes = [edge[0] for edge in roots]
    cdef list order = _post_order(root_nodes)
    cdef dict deps = {}
    cdef dict buffers = {}
    cdef set runs = None
    cdef set target_nodes = None
    cdef list captured = None
    cdef Node node, child
    cdef list buf, stack
    cdef Py_ssize_t slot, k

    if targets is not None:
        captured = [None] * len(targets)
        target_nodes = {edge[0] for edge in targets}
        runs = set()
        for node in order:  # inputs first, so a node sees its children's verdict
            for edge in node.next_edges:
                if edge is not None and (edge[0] in runs or edge[0] in target_nodes):
                    runs.add(node)
                    break

    for node in order:
        if runs is not None and node not in runs:
            continue
        for edge in node.next_edges:
            if edge is not None:
                deps[edge[0]] = deps.get(edge[0], 0) + 1

    for k in range(len(roots)):
        node = <Node>roots[k][0]
        slot = roots[k][1]
        buf = buffers.get(node)
        if buf is None:
            buf = [None] * node.num_outputs
            buffers[node] = buf
        buf[slot] = _add(buf[slot], root_grads[k])

    stack = [node for node in buffers if deps.get(node, 0) == 0]
    while stack:
        node = <Node>stack.pop()
        buf = buffers.pop(node)
        if node.pre_hooks is not None:
            for slot, hooks in node.pre_hooks.items():
                if buf[slot] is not None:
                    for hook in hooks:
                        result = hook(buf[slot])
                        if result is not None:
                            buf[slot] = result
        if target_nodes is not None and node in target_nodes:
            for slot in range(node.num_outputs):
                k = targets.get((node, slot), -1)
                if k >= 0:
                    captured[k] = buf[slot]
        if runs is not None and node not in runs:
            continue
        if any(g is not None for g in buf):
            grads = node.fn.apply_backward(tuple(buf))
        else:
            grads = None
        if not keep_graph:
            node.fn.release()
        for k in range(len(node.next_edges)):
            edge = node.next_edges[k]
            if edge is None:
                continue
            child = <Node>edge[0]
            if grads is not None and grads[k] is not None:
                child_buf = buffers.get(child)
                if child_buf is None:
                    child_buf = [None] * child.num_outputs
                    buffers[child] = child_buf
                slot = edge[1]
                child_buf[slot] = _add(child_buf[slot], grads[k])
            deps[child] -= 1
            if deps[child] == 0:
                if child not in buffers:
                    buffers[child] = [None] * child.num_outputs
                stack.append(child)
    return captured


# --- Primitive.apply's hot path ----------------------------------------------------------------------
# minigrad/autograd/function.py documents the steps (Primitive's docstring) and binds, once, the Python
# objects they use; the rare branches (vmap, float16 in float32, views, tangents) call back into it.

cdef object _TensorBase, _float16, _STATE, _backend_of, _new_object, _Context, _SavedOutput
cdef object _mixed_devices, _check_views, _compute, _compute_only, _share_storage, _push_tangents
cdef dict _backend_of_type


def bind_primitive_machinery(tensor_base, float16, state, dict backend_of_type, backend_of, context,
                             saved_output, mixed_devices, check_views, compute, compute_only,
                             share_storage, push_tangents):
    """Hand apply_primitive the classes, state and helpers of minigrad.autograd.function."""
    global _TensorBase, _float16, _STATE, _backend_of_type, _backend_of, _new_object, _Context, _SavedOutput
    global _mixed_devices, _check_views, _compute, _compute_only, _share_storage, _push_tangents
    _TensorBase, _float16, _STATE = tensor_base, float16, state
    _backend_of_type, _backend_of, _new_object, _Context = backend_of_type, backend_of, object.__new__, context
    _SavedOutput, _mixed_devices, _check_views = saved_output, mixed_devices, check_views
    _compute, _compute_only, _share_storage, _push_tangents = compute, compute_only, share_storage, push_tangents


@cython.boundscheck(True)  # args[k] for each saved argument: an IndexError, never a read past the tuple
def apply_primitive(cls, *args):
    """Primitive.apply: unwrap, check devices, compute, wrap, save, record the node, push tangents."""
    cdef Py_ssize_t i, k, n = len(args)
    cdef list arrays = [None] * n
    cdef list needs = [False] * n
    cdef bint want = False, has_tangent = False, half = False, record, push, single
    cdef object first = None, device = None, a, other, backend, ctx, result, wrap, outputs, out, plan, saved
    cdef object non_differentiable, need
    cdef list edges, shapes
    cdef Node node
    for i in range(n):
        a = args[i]
        if isinstance(a, _TensorBase):
            if a._vmap_level:  # batched by vmap: the op's batching rule runs it (minigrad/_vmap.py)
                return a._apply_batched(cls, args)
            if first is None:
                first = a
                device = a._device
            else:
                other = a._device
                if other is not device and other != device:
                    raise _mixed_devices(cls, device, other)
            arrays[i] = a._data
            need = a._requires_grad
            needs[i] = need
            if need:
                want = True
            if a._tangent is not None:
                has_tangent = True
            if a._dtype is _float16:
                half = True
        else:
            arrays[i] = a
    device = first._device
    backend = _backend_of_type.get(device.type) or _backend_of(device)
    if not cls.differentiable:  # no rule will read a context
        return _compute_only(cls, first, backend, arrays, half)
    ctx = _new_object(_Context)  # Context(cls) without the call
    ctx._function = cls
    ctx.backend = backend
    record = want and _STATE.grad_enabled
    if record:
        _check_views(args)
        ctx.needs_input_grad = tuple(needs)
    if half and cls.float16_in_float32:
        result = _compute(cls, ctx, arrays, half)
    else:
        result = cls.compute(ctx, *arrays)

    single = not isinstance(result, tuple)
    wrap = first._wrap
    outputs = (wrap(result),) if single else tuple([wrap(r) for r in result])
    if cls.view:
        _share_storage(outputs[0], first, backend)
    push = has_tangent and _STATE.forward_ad_enabled
    if record or push:
        plan = cls._save_plan
        if plan:
            saved = tuple([args[k] if k >= 0 else outputs[-1 - k] for k in plan])
            ctx._saved = saved
            ctx._versions = tuple([t._version.value for t in saved])
        non_differentiable = cls._non_differentiable_outputs
        if non_differentiable:
            non_differentiable = tuple([outputs[k] for k in non_differentiable])
            ctx._non_differentiable = non_differentiable
        if record:
            edges = [None] * n
            shapes = [None] * n
            for i in range(n):
                if needs[i]:
                    a = args[i]
                    edges[i] = a._grad_edge()
                    shapes[i] = a._data.shape
            node = Node.__new__(Node)
            node.fn = ctx
            node.next_edges = tuple(edges)
            node.num_outputs = len(outputs)
            node._name = cls._backward_name
            ctx._input_shapes = tuple(shapes)
            ctx._output_meta = tuple([(type(out), out._data.shape, out._dtype, out._device) for out in outputs])
            if cls._saves_output:  # outputs are saved without a reference to themselves (see _SavedOutput)
                ctx._saved = tuple([args[k] if k >= 0 else _SavedOutput(outputs[-1 - k], -1 - k) for k in plan])
                ctx._node = PyWeakref_NewRef(node, None)
            for i in range(len(outputs)):
                out = outputs[i]
                if out._dtype.is_floating_point and not (
                        non_differentiable and any(out is t for t in non_differentiable)):
                    out._attach(node, i)
        if push:
            _push_tangents(cls, ctx, args, outputs)
    return outputs[0] if single else outputs
