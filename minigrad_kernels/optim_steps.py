"""Optimizer steps, one element at a time, written once for both devices: minigrad_kernels/cpu/optim.py
compiles them with Numba and loops over a parameter in parallel, minigrad_kernels/cuda/optim.py compiles
them as numba.cuda device functions in a grid-stride loop.

Each updates element i in place, rounding for rounding as minigrad/optim's Tensor-op form (the same
operations in the same order, each in the arrays' dtype). Arrays are C-contiguous, 1-d and of one length
and dtype; the scalars come in that dtype, so that float32 arrays are updated in float32 arithmetic, as
numpy does with a Python scalar (NEP 50).
"""
import math


def sgd_step(i, param, grad, buffer, lr, weight_decay, momentum, dampening_complement, nesterov, maximize,
             first):
    """SGD's step: buffer is read and written only when momentum != 0; first: the buffer starts as the
    step's gradient."""
    g = -grad[i] if maximize else grad[i]
    if weight_decay != 0:
        g = g + param[i] * weight_decay
    if momentum != 0:
        b = g if first else buffer[i] * momentum + g * dampening_complement
        buffer[i] = b
        g = g + b * momentum if nesterov else b
    param[i] = param[i] - g * lr


def adam_step(i, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, amsgrad, maximize, shrink, weight_decay,
              one_minus_beta1, beta2, one_minus_beta2, bias_correction2_sqrt, eps, neg_step_size):
    """Adam's step: param shrinks by `shrink` (decoupled decay; 1 otherwise), weight_decay != 0 adds the L2
    term to the gradient; max_exp_avg_sq is read and written only with amsgrad (numpy's maximum: nan wins)."""
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
