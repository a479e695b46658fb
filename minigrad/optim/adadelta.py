"""Adadelta with PyTorch's update rule (Zeiler 2012): per-element steps from running averages of squared
gradients and squared updates."""
from minigrad import creation
from minigrad.optim.optimizer import (Optimizer, check_hyperparameters, check_implementation_flags, check_lr,
                                      scalar)


class Adadelta(Optimizer):
    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        check_hyperparameters("Adadelta", dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))
        check_lr("Adadelta", lr)
        check_implementation_flags("Adadelta", foreach=foreach, capturable=capturable, differentiable=differentiable)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: Invalid rho value: {rho} (rho must be in [0, 1])")
        if not 0.0 <= eps:
            raise ValueError(f"Adadelta: Invalid eps value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Adadelta: Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _update(self, param, grad, state, group):
        lr, rho, eps, decay = scalar(group["lr"]), group["rho"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = creation.tensor(0.0)
            state["square_avg"] = param.detach()._zeros_like()
            state["acc_delta"] = param.detach()._zeros_like()
        state["step"].add_(1)
        if decay != 0:
            grad = grad + param * decay
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg.mul_(rho).add_(grad * grad * (1 - rho))
        std = (square_avg + eps).sqrt()
        delta = (acc_delta + eps).sqrt() / std * grad
        acc_delta.mul_(rho).add_(delta * delta * (1 - rho))
        param.add_(delta * -lr)
