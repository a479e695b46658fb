"""Optimizer steps in one pass on the device: the CPU kernels' updates (minigrad_kernels/cpu/optim.py), the
same operations in the same order, one grid-stride loop per parameter.

Arrays are C-contiguous, 1-d and of one length and dtype, the scalars in that dtype. NVVM contracts a
multiply followed by an add into one fused multiply-add (its default), so on a GPU a step can differ from
the Tensor-op form's in the last bit; the simulator rounds each operation, as the CPU does.
"""
import math

from numba import cuda

from minigrad_kernels.cuda.arrays import THREADS, blocks_for


@cuda.jit(cache=True)
def _sgd(param, grad, buffer, lr, weight_decay, momentum, dampening_complement, nesterov, maximize, first):
    for i in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        g = -grad[i] if maximize else grad[i]
        if weight_decay != 0:
            g = g + param[i] * weight_decay
        if momentum != 0:
            b = g if first else buffer[i] * momentum + g * dampening_complement
            buffer[i] = b
            g = g + b * momentum if nesterov else b
        param[i] = param[i] - g * lr


def sgd(param, grad, buffer, *scalars):
    """SGD's step in place (the CPU kernel's contract)."""
    _sgd[blocks_for(param.size), THREADS](param, grad, buffer, *scalars)


@cuda.jit(cache=True)
def _adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, amsgrad, maximize, shrink, weight_decay,
          one_minus_beta1, beta2, one_minus_beta2, bias_correction2_sqrt, eps, neg_step_size):
    for i in range(cuda.grid(1), param.size, cuda.gridsize(1)):
        g = -grad[i] if maximize else grad[i]
        p = param[i] * shrink
        if weight_decay != 0:
            g = g + p * weight_decay
        m = exp_avg[i] + (g - exp_avg[i]) * one_minus_beta1
        v = exp_avg_sq[i] * beta2 + g * g * one_minus_beta2
        exp_avg[i] = m
        exp_avg_sq[i] = v
        s = v
        if amsgrad:
            s = max_exp_avg_sq[i]
            if v > s or v != v:
                s = v
            max_exp_avg_sq[i] = s
        param[i] = p + m / (math.sqrt(s) / bias_correction2_sqrt + eps) * neg_step_size


def adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *scalars):
    """Adam's step in place (the CPU kernel's contract)."""
    _adam[blocks_for(param.size), THREADS](param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *scalars)
