"""TensorBase: the autograd half of a Tensor (its place on the tape).

minigrad.tensor.Tensor adds the arithmetic on top. Keeping this half here lets
Function.apply and the engine handle tensors without importing minigrad.tensor.
"""
import sys
import weakref

import numpy as np

from minigrad.autograd.grad_mode import STATE
from minigrad_kernels._tape import Node


class VersionCounter:
    """Shared by a tensor and its views; every in-place change bumps it."""
    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


class TensorBase:
    __slots__ = ("_data", "_dtype", "_device", "_requires_grad", "_node", "_output_nr", "_grad",
                 "_version", "_tangent", "_accumulator", "_base", "_view_version", "_retains_grad", "__weakref__")
    _vmap_level = 0  # a BatchedTensor (minigrad/_vmap.py) holds its vmap's level; the op door checks it

    # --- what a subclass must provide --------------------------------------------------
    def _wrap(self, array):
        """A new tensor on this tensor's device holding `array`."""
        raise NotImplementedError

    @classmethod
    def _zeros(cls, shape, dtype, device):
        raise NotImplementedError

    # --- graph bookkeeping ---------------------------------------------------------------
    def _alias_without_graph(self):
        """A tensor sharing storage and version counter, with no place on the tape."""
        alias = self._wrap(self._data)
        alias._version = self._version
        alias._view_version = self._version.value
        alias._base = self if self._base is None else self._base
        return alias

    def _alias_with_graph(self):
        """A tensor sharing storage, whose gradient flows on to this tensor."""
        alias = self._alias_without_graph()
        if self._requires_grad:
            node, slot = self._grad_edge()
            alias._attach(node, slot)
        return alias

    def _zeros_like(self):
        return self._zeros(self.shape, self._dtype, self._device)

    def _attach(self, node, output_nr):
        self._node = node
        self._output_nr = output_nr
        self._requires_grad = True

    def _grad_edge(self):
        """(node, slot) through which gradients reach this tensor."""
        if self._node is not None:
            return (self._node, self._output_nr)
        if self._accumulator is None or self._accumulator() is None:
            node = Node(_AccumulateGrad(self), (), 1, "AccumulateGrad")
            self._accumulator = weakref.ref(node)
            return (node, 0)
        return (self._accumulator(), 0)

    def _accumulate_grad(self, grad, keep_graph):
        """Add grad into .grad: in place (as PyTorch does) unless either takes part in a graph."""
        if grad._dtype is not self._dtype:
            grad = grad.to(self._dtype)
        if self._grad is None:
            # the incoming tensor itself when nothing else can reach its memory (PyTorch's AccumulateGrad
            # takes it too: ResNet-18 copied 45 MB a step), else a fresh, writable copy: it may be shared,
            # broadcast or read-only
            if keep_graph:
                self._grad = grad.clone()
            else:
                self._grad = grad._wrap(grad._data) if _unshared(grad) else grad.detach().clone()
        elif keep_graph or self._grad._requires_grad or self._grad._data.shape != grad._data.shape:
            self._grad = self._grad + grad
        else:
            self._grad._backend.add_into(self._grad._data, grad._data)
            self._grad._version.value += 1

    # --- in-place writes: the leaf and view checks, the version bump, the graph rewired -----
    def _check_in_place_result(self, result):
        """PyTorch's errors for an in-place result that this tensor cannot hold."""
        if result.dtype is not self.dtype:
            raise RuntimeError(f"result type {result.dtype} can't be cast to the desired output type {self.dtype}")
        if result.shape != self.shape:
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                               f"{list(result.shape)}")

    def _in_place(self, function, *args):
        """Run `function(self, *args)` and write the result into this tensor's storage."""
        recording = STATE.grad_enabled and (
            self._requires_grad or any(isinstance(a, TensorBase) and a._requires_grad for a in args))
        if recording and self._node is None and self._requires_grad:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        if recording and self._base is not None:
            raise RuntimeError("in-place: modifying a view in place while recording gradients is not "
                               "supported; clone() the view first, or do it under no_grad()")
        source = self
        if (recording or self._tangent is not None) and 0 in getattr(function, "_save_plan", (0,)):
            # the op may save its input (a Primitive names what it saves; a Function may save anything):
            # give it the old values, not the storage we overwrite
            source = self._wrap(self._backend.copy(self._data))
            source._node, source._output_nr, source._requires_grad = self._node, self._output_nr, self._requires_grad
            source._tangent = self._tangent
        result = function.apply(source, *args)
        if result._vmap_level:  # (a batched self has its own _in_place, minigrad/_vmap.py)
            raise RuntimeError(f"vmap: {function.__name__} in place is not possible: it would write a value batched "
                               "by vmap into a tensor that is not batched; use the out-of-place op")
        self._check_in_place_result(result)
        self._backend.assign(self._data, result._data)
        self._version.value += 1
        self._view_version = self._version.value  # this tensor itself is up to date
        if recording:
            self._node, self._output_nr, self._requires_grad = result._node, result._output_nr, True
        self._tangent = result._tangent
        return self

    # --- public autograd API ---------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if self._node is not None:
            raise RuntimeError("requires_grad: you can only change requires_grad flags of leaf variables.")
        if value and not self._dtype.is_floating_point:
            raise RuntimeError(f"requires_grad: only Tensors of floating point dtype can require "
                               f"gradients, got {self._dtype}")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None and value.shape != self.shape:
            raise RuntimeError(f"grad: assigned grad has shape {list(value.shape)}, "
                               f"expected {list(self.shape)}")
        self._grad = value

    def register_hook(self, hook):
        """Call `hook(grad)` when this tensor's gradient is computed; a non-None result replaces it."""
        if not self._requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require gradient")
        node, slot = self._grad_edge()
        if self._node is None:
            self._accumulator_keepalive(node)
        node.register_prehook(slot, hook)
        return _HookHandle(node, slot, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call `hook(tensor)` on a leaf after backward has accumulated its .grad (DDP's readiness signal)."""
        if self._node is not None:
            raise RuntimeError("register_post_accumulate_grad_hook: post accumulate grad hooks cannot be "
                               "registered on non-leaf tensors")
        if not self._requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: cannot register a hook on a tensor that "
                               "doesn't require gradient")
        node, _ = self._grad_edge()
        self._accumulator_keepalive(node)
        node.fn.post_hooks.append(hook)
        return _PostHookHandle(node.fn.post_hooks, hook)

    def _accumulator_keepalive(self, node):
        # A leaf's accumulator node lives only as long as a graph uses it; a hook must outlive that.
        self._accumulator = _Strong(node)

    def retain_grad(self):
        """Keep .grad of a non-leaf tensor after backward (calling it again changes nothing)."""
        if self._node is None or self._retains_grad:
            return
        self._retains_grad = True
        ref = weakref.ref(self)

        def store(grad):
            tensor = ref()
            if tensor is not None:
                tensor._accumulate_grad(grad, False)
        self.register_hook(store)


# References to a gradient on its way into a leaf's .grad from the engine: run_backward's buffer, the
# tuple of it and its loop variable (the test for a non-empty buffer), the frames of
# _AccumulateGrad.accumulate, _accumulate_grad and _unshared, and getrefcount's argument. Any other
# holder makes it one more; tests/test_tape.py checks both sides.
_ENGINE_HOLDERS = 7


def _unshared(grad):
    """True when grad, on its way from the engine into .grad, holds a writeable, C-contiguous numpy array
    that nothing but the engine can reach: no other reference to the tensor, to the tensor it is a view
    of, to its array or to the array's base. A device array or any other holder (the caller's root
    gradient, a hook that kept it, another input's gradient) gives False. sys.getrefcount counts its own
    argument, and each local here one more."""
    data, view_of = grad._data, grad._base
    if type(data) is not np.ndarray or not (data.flags.writeable and data.flags.c_contiguous):
        return False
    if sys.getrefcount(grad) > _ENGINE_HOLDERS or sys.getrefcount(data) > 3:
        return False
    base, known = data.base, 3  # the base's holders: data.base, this local and the argument
    if view_of is not None:  # the tensor viewed holds the base array, or an array viewing it
        if view_of._base is not None or sys.getrefcount(view_of) > 3:
            return False
        viewed = view_of._data
        if viewed is base:  # the tensor viewed owns the array: it and the local `viewed` hold the base
            known += 2
        elif viewed.base is not base or sys.getrefcount(viewed) > 3:
            return False
        else:
            known += 1
    return base is None or (type(base) is np.ndarray and sys.getrefcount(base) <= known)


class _AccumulateGrad:
    """The node function of a leaf: adds the incoming gradient into `leaf.grad`."""
    __slots__ = ("leaf_ref", "post_hooks")

    def __init__(self, leaf):
        self.leaf_ref = weakref.ref(leaf)
        self.post_hooks = []

    def apply_backward(self, grads):
        self.accumulate(grads[0], STATE.grad_enabled)
        return ()

    def accumulate(self, grad, keep_graph):
        """Add grad into the leaf's .grad, then run its post-accumulate hooks."""
        leaf = self.leaf_ref()
        if leaf is not None:
            leaf._accumulate_grad(grad, keep_graph)
            for hook in self.post_hooks:
                hook(leaf)

    def release(self):
        pass


class _Strong:
    """Stands in for a weakref.ref, holding its object strongly."""
    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __call__(self):
        return self.obj


class _HookHandle:
    def __init__(self, node, slot, hook):
        self.node_ref = weakref.ref(node)
        self.slot = slot
        self.hook = hook

    def remove(self):
        node = self.node_ref()
        if node is not None and node.pre_hooks and self.hook in node.pre_hooks.get(self.slot, ()):
            node.pre_hooks[self.slot].remove(self.hook)


class _PostHookHandle:
    def __init__(self, hooks, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self):
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)
