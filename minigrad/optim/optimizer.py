"""Optimizer: parameter groups, per-parameter state, zero_grad and state_dict, as in torch.optim."""
import copy
import numbers

from minigrad.autograd.grad_mode import enable_grad, no_grad
from minigrad.tensor import Tensor

_NUMERIC = ("lr", "momentum", "dampening", "weight_decay", "eps", "alpha", "rho", "lr_decay",
            "initial_accumulator_value", "momentum_decay")


def check_hyperparameters(owner, options):
    """Numeric options must be numbers (lr may also be a Tensor) and betas a pair of numbers, so that a
    string such as lr="0.1" fails here, by name, and not in the middle of a step."""
    for name, value in options.items():
        if name == "betas":
            if (not isinstance(value, (tuple, list)) or len(value) != 2
                    or not all(isinstance(b, numbers.Real) for b in value)):
                raise TypeError(f"{owner}: betas must be a pair of numbers, got {value!r}")
        elif name in _NUMERIC and not (isinstance(value, numbers.Real) or (name == "lr" and isinstance(value, Tensor))):
            raise TypeError(f"{owner}: {name} must be a number, got {type(value).__name__} {value!r}")


def check_lr(owner, lr):
    """A Tensor lr must hold one element (PyTorch's rule); a number is checked by check_hyperparameters."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError(f"{owner}: Tensor lr must be 1-element, got shape {list(lr.shape)}")


def check_implementation_flags(owner, **flags):
    """PyTorch's implementation switches, for an optimizer that has only the single-tensor loop of Tensor
    ops: foreach and fused may be None (the default) or False (asks for that loop), and capturable and
    differentiable must stay False; anything else is refused rather than silently ignored. (SGD, Adam and
    AdamW also have a one-pass update: their foreach and fused go through implementation.)"""
    for name, value in flags.items():
        allowed = (None, False) if name in ("foreach", "fused") else (False,)
        if not any(value is a for a in allowed):
            raise NotImplementedError(f"{owner}: {name}={value!r} is not supported: minigrad has only the "
                                      f"single-tensor implementation; leave {name} at its default "
                                      f"({allowed[0]!r})")


def implementation(owner, foreach, fused):
    """PyTorch's foreach and fused switches, for an optimizer with a one-pass update (_fused_update):
    "auto" (both None, the default, or foreach=True: the one-pass update wherever the tensors allow it, the
    Tensor-op loop for the rest), "fused" (fused=True: the one-pass update for every parameter, RuntimeError
    at the step for one it cannot take) or "loop" (foreach or fused False, neither True: the Tensor-op loop)."""
    for name, value in (("foreach", foreach), ("fused", fused)):
        if not any(value is a for a in (None, False, True)):
            raise TypeError(f"{owner}: {name} must be None, False or True, got {value!r}")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    if fused:
        return "fused"
    return "auto" if foreach or (foreach is None and fused is None) else "loop"


def scalar(value):
    """A group's lr as a Python number (PyTorch's _to_scalar): a 1-element Tensor lr gives its value."""
    return value.item() if isinstance(value, Tensor) else value


def lerp_(start, end, weight):
    """start.lerp_(end, weight) with PyTorch's two formulas (exact at weight 0 and 1)."""
    if weight < 0.5:
        return start.add_((end - start) * weight)
    return start.copy_(end - (end - start) * (1 - weight))


class Optimizer:
    """Subclasses set `defaults` and implement `_update(param, grad, state, group)`, the step in Tensor ops;
    one with a one-pass form also implements `_fused_update` and sets `_implementation` (see implementation)."""

    _implementation = "loop"

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = {}
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params argument given to the optimizer should be an iterable "
                            f"of Tensors or dicts, but got {type(params).__name__}")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        if not isinstance(param_group, dict):
            raise TypeError(f"add_param_group: expected a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: optimizer can only optimize Tensors, but params[{i}] is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: can't optimize a non-leaf Tensor (params[{i}] has "
                                 f"grad_fn {p.grad_fn!r})")
            if not p.requires_grad:
                raise ValueError(f"{type(self).__name__}: params[{i}] (shape {list(p.shape)}) does not require grad")
            if id(p) in seen:
                raise ValueError("some parameters appear in more than one parameter group")
            seen.add(id(p))
        group = dict(self.defaults)
        group.update({k: v for k, v in param_group.items() if k != "params"})
        group["params"] = params
        unknown = set(param_group) - set(self.defaults) - {"params"}
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown option(s) {sorted(unknown)} in a parameter group")
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group):
        check_hyperparameters(type(self).__name__, group)
        if group.get("lr", 0) < 0:
            raise ValueError(f"Invalid learning rate: {group['lr']}")

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    with no_grad():
                        p.grad.zero_()

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state.setdefault(p, {})
                    if self._implementation != "loop" and self._fused_update(p, p.grad, state, group):
                        continue
                    if self._implementation == "fused":
                        raise RuntimeError(f"{type(self).__name__}(fused=True): the one-pass update needs the "
                                           f"parameter, its gradient and its state contiguous, of one floating "
                                           f"dtype and device, and a number lr; got a parameter of shape "
                                           f"{list(p.shape)} that is not (use the default fused=None)")
                    self._update(p, -p.grad if group.get("maximize") else p.grad, state, group)
        return loss

    def _update(self, param, grad, state, group):
        raise NotImplementedError

    def _fused_update(self, param, grad, state, group):
        """The step as one pass (grad is p.grad, maximize not applied); False, with nothing changed, where
        the tensors do not allow it."""
        return False

    def state_dict(self):
        """{'state': {index: {...}}, 'param_groups': [{options, 'params': [index, ...]}]} as in PyTorch."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        params = [p for group in self.param_groups for p in group["params"]]
        state = {index[id(p)]: {k: (v.clone() if isinstance(v, Tensor) else v) for k, v in self.state[p].items()}
                 for p in params if p in self.state}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"load_state_dict: loaded state dict has {len(groups)} parameter groups, the optimizer "
                             f"has {len(self.param_groups)}")
        for saved, own in zip(groups, self.param_groups):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError("load_state_dict: loaded state dict contains a parameter group that doesn't "
                                 "match the size of optimizer's group")
        by_index = {}
        for saved, own in zip(groups, self.param_groups):
            for i, p in zip(saved["params"], own["params"]):
                by_index[int(i)] = p
            own.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})
        self.state = {}
        for i, values in state_dict["state"].items():
            p = by_index[int(i)]
            # as PyTorch does: floating state takes the parameter's dtype and device; "step" stays on the CPU
            self.state[p] = {k: (v.to(p.device, p.dtype, copy=True)
                                 if isinstance(v, Tensor) and v.dtype.is_floating_point and k != "step"
                                 else v.clone() if isinstance(v, Tensor) else v) for k, v in values.items()}

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join(lines) + "\n)"
