"""Optimizer steps in one pass on the device: minigrad_kernels/optim_steps.py's element updates (the CPU
kernels' too) as device functions, one grid-stride loop per parameter.

NVVM contracts a multiply followed by an add into one fused multiply-add (its default), so on a GPU a step
can differ from the Tensor-op form's in the last bit; the simulator rounds each operation, as the CPU does.
"""
from numba import cuda

from minigrad_kernels import optim_steps
from minigrad_kernels.cuda.arrays import THREADS, blocks_for

_sgd_step = cuda.jit(device=True)(optim_steps.sgd_step)
_adam_step = cuda.jit(device=True)(optim_steps.adam_step)


@cuda.jit(cache=True)
def _sgd(param, grad, buffer, lr, weight_decay, momentum, dampening_complement, nesterov, maximize, first):
    for i in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        _sgd_step(i, param, grad, buffer, lr, weight_decay, momentum, dampening_complement, nesterov, maximize,
                  first)


def sgd(param, grad, buffer, *scalars):
    """SGD's step in place (the CPU kernel's contract)."""
    _sgd[blocks_for(param.size), THREADS](param, grad, buffer, *scalars)


@cuda.jit(cache=True)
def _adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, amsgrad, maximize, shrink, weight_decay,
          one_minus_beta1, beta2, one_minus_beta2, bias_correction2_sqrt, eps, neg_step_size):
    for i in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        _adam_step(i, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, amsgrad, maximize, shrink, weight_decay,
                   one_minus_beta1, beta2, one_minus_beta2, bias_correction2_sqrt, eps, neg_step_size)


def adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *scalars):
    """Adam's step in place (the CPU kernel's contract)."""
    _adam[blocks_for(param.size), THREADS](param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *scalars)
