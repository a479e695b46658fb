"""Optimizer steps in one pass: minigrad_kernels/optim_steps.py's element updates, in parallel over a
parameter's elements."""
from numba import prange

from minigrad_kernels import optim_steps
from minigrad_kernels._jit import cpu_kernel

_sgd_step = cpu_kernel(optim_steps.sgd_step, parallel=False)
_adam_step = cpu_kernel(optim_steps.adam_step, parallel=False)


@cpu_kernel
def sgd(param, grad, buffer, lr, weight_decay, momentum, dampening_complement, nesterov, maximize, first):
    """SGD's step in place."""
    for i in prange(param.shape[0]):
        _sgd_step(i, param, grad, buffer, lr, weight_decay, momentum, dampening_complement, nesterov, maximize,
                  first)


@cpu_kernel
def adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, amsgrad, maximize, shrink, weight_decay,
         one_minus_beta1, beta2, one_minus_beta2, bias_correction2_sqrt, eps, neg_step_size):
    """Adam's (and AdamW's) step in place."""
    for i in prange(param.shape[0]):
        _adam_step(i, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, amsgrad, maximize, shrink, weight_decay,
                   one_minus_beta1, beta2, one_minus_beta2, bias_correction2_sqrt, eps, neg_step_size)
