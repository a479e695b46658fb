"""NAdam (Adam with Nesterov momentum, Dozat 2016) and RAdam (rectified Adam, Liu et al. 2019) with
PyTorch's update rules, including decoupled weight decay (NAdamW / RAdamW)."""
from minigrad import creation
from minigrad.optim.optimizer import (Optimizer, check_hyperparameters, check_implementation_flags, check_lr,
                                      lerp_, scalar)


def _check_adam_family(owner, lr, betas, eps, weight_decay, flags):
    check_hyperparameters(owner, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
    check_lr(owner, lr)
    check_implementation_flags(owner, **flags)
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"{owner}: Invalid eps value: {eps}")
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"{owner}: Invalid beta parameter at index {i}: {beta} (betas must be in [0, 1))")
    if not 0.0 <= weight_decay:
        raise ValueError(f"{owner}: Invalid weight_decay value: {weight_decay}")


def _weight_decay(param, grad, lr, group):
    """L2 penalty added to the gradient, or (decoupled_weight_decay) the parameter shrunk by lr * decay."""
    decay = group["weight_decay"]
    if decay != 0:
        if group["decoupled_weight_decay"]:
            param.mul_(1 - lr * decay)
        else:
            grad = grad + param * decay
    return grad


class NAdam(Optimizer):
    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        check_hyperparameters("NAdam", dict(momentum_decay=momentum_decay))
        _check_adam_family("NAdam", lr, betas, eps, weight_decay,
                           dict(foreach=foreach, capturable=capturable, differentiable=differentiable))
        if not 0.0 <= momentum_decay:
            raise ValueError(f"NAdam: Invalid momentum_decay value: {momentum_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize))

    def _update(self, param, grad, state, group):
        lr, (beta1, beta2), eps = scalar(group["lr"]), group["betas"], group["eps"]
        if not state:
            state["step"] = creation.tensor(0.0)
            # a scalar of the default dtype, as PyTorch keeps it: the products are rounded alike
            state["mu_product"] = creation.tensor(1.0)
            state["exp_avg"] = param.detach()._zeros_like()
            state["exp_avg_sq"] = param.detach()._zeros_like()
        state["step"].add_(1)
        step = state["step"].item()
        bias_correction2 = 1 - beta2 ** step
        grad = _weight_decay(param, grad, lr, group)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * group["momentum_decay"])))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * group["momentum_decay"])))
        state["mu_product"].mul_(mu)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).add_(grad * grad * (1 - beta2))
        denom = (exp_avg_sq / bias_correction2).sqrt() + eps
        mu_product = state["mu_product"].item()
        mu_product_next = mu_product * mu_next
        param.add_(grad / denom * (-lr * (1.0 - mu) / (1.0 - mu_product)))
        param.add_(exp_avg / denom * ((-lr * mu_next) / (1.0 - mu_product_next)))


class RAdam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        _check_adam_family("RAdam", lr, betas, eps, weight_decay,
                           dict(foreach=foreach, capturable=capturable, differentiable=differentiable))
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def _update(self, param, grad, state, group):
        lr, (beta1, beta2), eps = scalar(group["lr"]), group["betas"], group["eps"]
        if not state:
            state["step"] = creation.tensor(0.0)
            state["exp_avg"] = param.detach()._zeros_like()
            state["exp_avg_sq"] = param.detach()._zeros_like()
        state["step"].add_(1)
        step = state["step"].item()
        grad = _weight_decay(param, grad, lr, group)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).add_(grad * grad * (1 - beta2))
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        bias_corrected_exp_avg = exp_avg / bias_correction1
        # the length of the approximated simple moving average, and its limit
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        if rho_t > 5.0:  # the variance is tractable: rectified adaptive step
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive_lr = (bias_correction2 ** 0.5) / (exp_avg_sq.sqrt() + eps)
            param.sub_(bias_corrected_exp_avg * lr * adaptive_lr * rect)
        else:  # early steps: SGD with momentum
            param.sub_(bias_corrected_exp_avg * lr)
