"""Adam, AdamW and RMSprop with PyTorch's update rules (bias correction, amsgrad, decoupled decay)."""
import math

from minigrad import creation
from minigrad.ops.optim import adam_step_, fusable
from minigrad.optim.optimizer import Optimizer, check_hyperparameters, check_implementation_flags, implementation
from minigrad.tensor import Tensor


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        check_implementation_flags(type(self).__name__, capturable=capturable, differentiable=differentiable)
        self._implementation = implementation(type(self).__name__, foreach, fused)
        check_hyperparameters(type(self).__name__, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        if not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"{type(self).__name__}: invalid beta parameters {betas}")
        if eps < 0 or weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: invalid eps ({eps}) or weight_decay ({weight_decay})")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=bool(decoupled_weight_decay)))

    @staticmethod
    def _init_state(param, state, group):
        state["step"] = creation.tensor(0.0)
        state["exp_avg"] = param.detach()._zeros_like()
        state["exp_avg_sq"] = param.detach()._zeros_like()
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = param.detach()._zeros_like()

    def _fused_update(self, param, grad, state, group):
        if isinstance(group["lr"], Tensor) or not fusable(param, grad):
            return False
        if not state:
            self._init_state(param, state, group)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        max_exp_avg_sq = state["max_exp_avg_sq"] if group["amsgrad"] else None
        if not fusable(param, exp_avg, exp_avg_sq, *([] if max_exp_avg_sq is None else [max_exp_avg_sq])):
            return False
        beta1, beta2 = group["betas"]
        adam_step_(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, state["step"], group["lr"], beta1, beta2,
                   group["eps"], group["weight_decay"], group["decoupled_weight_decay"], group["maximize"])
        return True

    def _update(self, param, grad, state, group):
        lr, (beta1, beta2), eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not state:
            self._init_state(param, state, group)
        if decay and group["decoupled_weight_decay"]:
            param.mul_(1 - lr * decay)
        elif decay:
            grad = grad + param * decay
        state["step"].add_(1)
        step = state["step"].item()
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.add_((grad - exp_avg) * (1 - beta1))
        exp_avg_sq.mul_(beta2).add_(grad * grad * (1 - beta2))
        second = exp_avg_sq
        if group["amsgrad"]:
            state["max_exp_avg_sq"].copy_(state["max_exp_avg_sq"].maximum(exp_avg_sq))
            second = state["max_exp_avg_sq"]
        step_size = lr / (1 - beta1 ** step)
        denom = second.sqrt() / math.sqrt(1 - beta2 ** step) + eps
        param.add_(exp_avg / denom * -step_size)


class AdamW(Adam):
    """Adam with decoupled weight decay: the parameter shrinks by lr * weight_decay before each step."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        check_implementation_flags("RMSprop", capturable=capturable, foreach=foreach, differentiable=differentiable)
        check_hyperparameters("RMSprop", dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                              momentum=momentum))
        if alpha < 0 or eps < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"RMSprop: invalid alpha ({alpha}), eps ({eps}), momentum ({momentum}) or "
                             f"weight_decay ({weight_decay})")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _update(self, param, grad, state, group):
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = creation.tensor(0.0)
            state["square_avg"] = param.detach()._zeros_like()
            if momentum > 0:
                state["momentum_buffer"] = param.detach()._zeros_like()
            if group["centered"]:
                state["grad_avg"] = param.detach()._zeros_like()
        state["step"].add_(1)
        if group["weight_decay"]:
            grad = grad + param * group["weight_decay"]
        square_avg = state["square_avg"]
        square_avg.mul_(alpha).add_(grad * grad * (1 - alpha))
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg.add_((grad - grad_avg) * (1 - alpha))
            avg = (square_avg - grad_avg * grad_avg).sqrt() + group["eps"]
        else:
            avg = square_avg.sqrt() + group["eps"]
        if momentum > 0:
            buffer = state["momentum_buffer"]
            buffer.mul_(momentum).add_(grad / avg)
            param.sub_(buffer * group["lr"])
        else:
            param.add_(grad / avg * -group["lr"])
