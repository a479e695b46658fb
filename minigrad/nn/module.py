"""Module, the base of every layer, and the Sequential and ModuleList containers."""
import collections
import collections.abc
import itertools
import operator

from minigrad._device import device as Device
from minigrad._dtype import as_dtype
from minigrad.autograd.grad_mode import no_grad
from minigrad.nn.parameter import Parameter
from minigrad.tensor import Tensor

IncompatibleKeys = collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class _HookHandle:
    _ids = itertools.count()

    def __init__(self, hooks):
        self.hooks, self.id = hooks, next(self._ids)

    def remove(self):
        self.hooks.pop(self.id, None)


class Module:
    """Base class of layers and models. Parameters, buffers and submodules assigned as attributes
    are registered, so parameters(), state_dict(), to() and train()/eval() reach all of them."""

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_forward_hooks", {})
        object.__setattr__(self, "_forward_pre_hooks", {})

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def _fused_call(self, following, input):  # noqa: A002
        """(output, how many of the modules `following` it took) when this module and those after it in an
        nn.Sequential run as one op that gives the same values; None to run it alone (the default)."""
        return None

    def _hooked(self):
        return bool(self._forward_hooks or self._forward_pre_hooks)

    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    # --- registration ------------------------------------------------------------------------------
    def _registries(self):
        return self.__dict__.get("_parameters"), self.__dict__.get("_buffers"), self.__dict__.get("_modules")

    def __setattr__(self, name, value):
        params, buffers, modules = self._registries()
        if params is None:
            raise AttributeError(f"cannot assign '{name}' before Module.__init__() call")
        if isinstance(value, Parameter):
            if name not in params:
                self._forget(name)
            params[name] = value
        elif isinstance(value, Module):
            if name not in modules:
                self._forget(name)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(minigrad.nn.Parameter or None expected)")
            params[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(minigrad.Tensor or None expected)")
            buffers[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                "(minigrad.nn.Module or None expected)")
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name):
        for registry in self._registries():
            registry.pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        registries = self._registries()
        if registries[0] is not None:
            for registry in registries:
                if name in registry:
                    return registry[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        if any(name in registry for registry in self._registries()):
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (minigrad.nn.Parameter or None required)")
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: cannot assign '{type(tensor).__name__}' object to buffer "
                            f"'{name}' (minigrad.Tensor or None required)")
        self._forget(name)
        self._buffers[name] = tensor
        (self._non_persistent.discard if persistent else self._non_persistent.add)(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module subclass")
        if not isinstance(name, str) or "." in name or not name:
            raise KeyError(f"add_module: module name must be a non-empty string without '.', got {name!r}")
        self._forget(name)
        self._modules[name] = module

    register_module = add_module

    def register_forward_hook(self, hook):
        """hook(module, inputs, output) runs after forward; a non-None result replaces the output."""
        handle = _HookHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def register_forward_pre_hook(self, hook):
        handle = _HookHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    # --- traversal ---------------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        memo = set() if memo is None else memo
        if remove_duplicate and self in memo:
            return
        memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self):
        return (module for _, module in self.named_modules())

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and module not in seen:
                seen.add(module)
                yield name, module

    def children(self):
        return (module for _, module in self.named_children())

    def _named_members(self, registry, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix="", recurse=True):
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True):
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        return (b for _, b in self.named_buffers(recurse=recurse))

    def apply(self, fn):
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # --- modes, devices, gradients -----------------------------------------------------------------
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError(f"train: training mode is expected to be boolean, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                with no_grad():
                    p.grad.zero_()

    def to(self, *args, dtype=None, device=None):
        """Move and/or cast every parameter and buffer in place (floating ones only for a dtype)."""
        for arg in args:
            if isinstance(arg, (str, Device)):
                device = arg
            elif isinstance(arg, Tensor):
                dtype, device = arg.dtype, arg.device
            else:
                dtype = arg
        dtype = None if dtype is None else as_dtype(dtype)
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError(f"Module.to only accepts floating point dtypes, but got desired dtype={dtype}")

        def convert(t):
            target = t.to(device=device) if device is not None else t
            return target.to(dtype) if dtype is not None and t.dtype.is_floating_point else target

        with no_grad():
            for module in self.modules():
                for p in module._parameters.values():
                    if p is not None:
                        p.data = convert(p.detach())
                        if p.grad is not None:
                            p.grad = convert(p.grad)
                for name, b in module._buffers.items():
                    if b is not None:
                        module._buffers[name] = convert(b)
        return self

    def float(self):
        return self.to(as_dtype("float32"))

    def double(self):
        return self.to(as_dtype("float64"))

    def half(self):
        return self.to(as_dtype("float16"))

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)

    # --- state ---------------------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """Parameters and persistent buffers by dotted name, detached unless keep_vars."""
        destination = collections.OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict=True):
        """Copy tensors into parameters and buffers in place; with strict, keys must match exactly.
        Lazy modules not yet run take their shapes from the checkpoint."""
        if not isinstance(state_dict, collections.abc.Mapping):
            raise TypeError(f"load_state_dict: Expected state_dict to be dict-like, got {type(state_dict)}.")
        names = self.state_dict(keep_vars=True).keys()
        for key, value in state_dict.items():
            if key in names and not isinstance(value, Tensor):
                raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\tWhile copying the "
                                   f"parameter named \"{key}\", expected minigrad.Tensor from checkpoint but "
                                   f"received {type(value)}")
        for prefix, module in self.named_modules():
            module._before_load(state_dict, prefix + "." if prefix else "")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        for key, value in state_dict.items():
            if key in own and tuple(value.shape) != tuple(own[key].shape):
                errors.append(f"size mismatch for {key}: copying a param with shape {_shape_str(value.shape)} from "
                              f"checkpoint, the shape in current model is {_shape_str(own[key].shape)}.")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        with no_grad():
            for key, value in state_dict.items():
                if key in own:
                    own[key].copy_(value if isinstance(value, Tensor) else Tensor(value))
        return IncompatibleKeys(missing, unexpected)

    def _before_load(self, state_dict, prefix):
        """Called by load_state_dict on every submodule before it checks shapes (lazy modules use it)."""

    # --- printing ------------------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(module).replace("\n", "\n  ") for name, module in self._modules.items()]
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}(" + (extra + "\n" if extra else "\n")
        return head + "".join("  " + line + "\n" for line in lines) + ")"


def _shape_str(shape):
    return f"minigrad.Size({list(shape)})"


class _Container(Module):
    """Submodules named "0", "1", ...: what Sequential and ModuleList share."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def _renumber(self, modules):
        self._modules.clear()
        for i, module in enumerate(modules):
            self.add_module(str(i), module)


class Sequential(_Container):
    """Modules applied in order. Indexing, slicing, len, iteration and append work as in PyTorch."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], collections.OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def forward(self, input):  # noqa: A002 (PyTorch's argument name)
        modules = tuple(self._modules.values())
        i = 0
        while i < len(modules):
            fused = modules[i]._fused_call(modules[i + 1:], input)
            if fused is None:
                input = modules[i](input)
                i += 1
            else:
                input, used = fused
                i += 1 + used
        return input

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(collections.OrderedDict(items[index]))
        try:
            index = operator.index(index)
        except TypeError:
            raise TypeError(f"Sequential: index must be an int or a slice, got {type(index).__name__}") from None
        if not -len(items) <= index < len(items):
            raise IndexError(f"index {index} is out of range for Sequential of length {len(items)}")
        return items[index][1]

    def __setitem__(self, index, module):
        self.add_module(list(self._modules)[index], module)

    def __delitem__(self, index):
        modules = list(self._modules.values())
        del modules[index]
        self._renumber(modules)  # as PyTorch does, so that append() cannot overwrite a module


class ModuleList(_Container):
    """A list of modules, registered so that their parameters are found."""

    def __init__(self, modules=None):
        super().__init__()
        for module in modules or ():
            self.append(module)

    def __getitem__(self, index):
        values = list(self._modules.values())
        return ModuleList(values[index]) if isinstance(index, slice) else values[index]

    def __setitem__(self, index, module):
        values = list(self._modules.values())
        values[index] = module
        self._renumber(values)

    def __delitem__(self, index):
        values = list(self._modules.values())
        del values[index]
        self._renumber(values)

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        values = list(self._modules.values())
        values.insert(index, module)
        self._renumber(values)


class _NamedContainer(Module):
    """Dict access over an ordered registry of names: what ModuleDict and ParameterDict share."""

    def _names(self):
        raise NotImplementedError

    def __len__(self):
        return len(self._names())

    def __iter__(self):
        return iter(list(self._names()))

    def __contains__(self, key):
        return key in self._names()

    def keys(self):
        return list(self._names())

    def items(self):
        return [(key, self[key]) for key in self._names()]

    def values(self):
        return [self[key] for key in self._names()]

    def pop(self, key):
        value = self[key]
        del self[key]
        return value

    def clear(self):
        for key in list(self._names()):
            del self[key]

    def update(self, pairs):
        if not isinstance(pairs, collections.abc.Iterable):
            raise TypeError(f"{type(self).__name__}.update should be called with an iterable of key/value pairs, "
                            f"but got {type(pairs).__name__}")
        pairs = pairs.items() if isinstance(pairs, collections.abc.Mapping) else pairs
        for i, pair in enumerate(pairs):
            if len(pair) != 2:
                raise ValueError(f"{type(self).__name__} update sequence element #{i} has length {len(pair)}; "
                                 "2 is required")
            self[pair[0]] = pair[1]


class ModuleDict(_NamedContainer):
    """A dict of modules by name, registered so that their parameters are found; keeps insertion order."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def _names(self):
        return self._modules

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]


def _store(module, name, value):
    """Register value under name: plain tensors become Parameters (as PyTorch's containers do); other objects
    are kept as attributes."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        value = Parameter(value)
    if isinstance(value, Parameter):
        module.register_parameter(name, value)
    else:
        module._forget(name)
        object.__setattr__(module, name, value)


class ParameterList(Module):
    """A list of parameters named "0", "1", ...; tensors appended are wrapped into Parameters."""

    def __init__(self, values=None):
        super().__init__()
        self._size = 0
        for value in values or ():
            self.append(value)

    def _key(self, index):
        index = operator.index(index)
        if not -self._size <= index < self._size:
            raise IndexError(f"index {index} is out of range for ParameterList of length {self._size}")
        return str(index % self._size)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ParameterList([self[i] for i in range(self._size)[index]])
        return getattr(self, self._key(index))

    def __setitem__(self, index, value):
        _store(self, self._key(index), value)

    def __len__(self):
        return self._size

    def __iter__(self):
        return (self[i] for i in range(self._size))

    def append(self, value):
        self._size += 1
        self[self._size - 1] = value
        return self

    def extend(self, values):
        for value in values:
            self.append(value)
        return self


class ParameterDict(_NamedContainer):
    """A dict of parameters by name; tensors stored are wrapped into Parameters."""

    def __init__(self, parameters=None):
        super().__init__()
        self._order = {}
        if parameters is not None:
            self.update(parameters)

    def _names(self):
        return self._order

    def __getitem__(self, key):
        if key not in self._order:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key, value):
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict: keys must be str, got {type(key).__name__}")
        self._order[key] = None
        _store(self, key, value)

    def __delitem__(self, key):
        del self._order[key]
        self._forget(key)
