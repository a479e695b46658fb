"""SGD with momentum, dampening, weight decay and Nesterov momentum (PyTorch's update rule)."""
from minigrad.optim.optimizer import Optimizer, check_hyperparameters, check_implementation_flags


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        check_implementation_flags("SGD", foreach=foreach, differentiable=differentiable, fused=fused)
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
