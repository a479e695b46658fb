"""Adagrad with PyTorch's update rule: steps scaled by the root of each element's sum of squared gradients,
with an lr that decays as lr / (1 + (step - 1) * lr_decay)."""
from minigrad import creation
from minigrad.autograd.grad_mode import no_grad
from minigrad.optim.optimizer import (Optimizer, check_hyperparameters, check_implementation_flags, check_lr,
                                      scalar)


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        check_hyperparameters("Adagrad", dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                              initial_accumulator_value=initial_accumulator_value, eps=eps))
        check_lr("Adagrad", lr)
        check_implementation_flags("Adagrad", foreach=foreach, differentiable=differentiable, fused=fused)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Adagrad: Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Adagrad: Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Adagrad: Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Adagrad: Invalid eps value: {eps}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, maximize=maximize))
        # as PyTorch does, the state exists from the start (state_dict() before the first step has it)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, self.state.setdefault(p, {}), group)

    @staticmethod
    def _init_state(param, state, group):
        with no_grad():
            state["step"] = creation.tensor(0.0)
            state["sum"] = creation.full_like(param.detach(), group["initial_accumulator_value"])

    def _update(self, param, grad, state, group):
        if not state:  # a group added by add_param_group after construction
            self._init_state(param, state, group)
        lr, decay, eps = scalar(group["lr"]), group["weight_decay"], group["eps"]
        state["step"].add_(1)
        step = state["step"].item()
        if decay != 0:
            grad = grad + param * decay
        clr = lr / (1 + (step - 1) * group["lr_decay"])
        state_sum = state["sum"]
        state_sum.add_(grad * grad)
        std = state_sum.sqrt() + eps
        param.add_(grad / std * -clr)
