"""SGD with momentum, dampening, weight decay and Nesterov momentum (PyTorch's update rule)."""
from minigrad.ops.optim import fusable, sgd_step_
from minigrad.optim.optimizer import Optimizer, check_hyperparameters, check_implementation_flags, implementation
from minigrad.tensor import Tensor


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        check_implementation_flags("SGD", differentiable=differentiable)
        self._implementation = implementation("SGD", foreach, fused)
        check_hyperparameters("SGD", dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay))
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: invalid momentum ({momentum}) or weight_decay ({weight_decay}) value")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _update(self, param, grad, state, group):
        if group["weight_decay"]:
            grad = grad + param * group["weight_decay"]
        momentum = group["momentum"]
        if momentum:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = grad.clone()
            else:
                buffer.mul_(momentum).add_(grad * (1 - group["dampening"]))
            grad = grad + buffer * momentum if group["nesterov"] else buffer
        param.sub_(grad * group["lr"])

    def _fused_update(self, param, grad, state, group):
        momentum = group["momentum"]
        buffer = state.get("momentum_buffer") if momentum else None
        if isinstance(group["lr"], Tensor) or not fusable(param, grad, *([] if buffer is None else [buffer])):
            return False
        first = bool(momentum) and buffer is None
        if first:
            buffer = state["momentum_buffer"] = param.detach()._zeros_like()
        sgd_step_(param, grad, buffer, group["lr"], group["weight_decay"], momentum, group["dampening"],
                  group["nesterov"], group["maximize"], first)
        return True
