"""Reverse- and forward-mode automatic differentiation."""
from minigrad.autograd.engine import backward, grad
from minigrad.autograd.forward_ad import jvp
from minigrad.autograd.function import Context, Function
from minigrad.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled,
                                         no_grad, set_grad_enabled)
from minigrad.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["backward", "grad", "jvp", "Context", "Function", "enable_grad", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled", "no_grad", "set_grad_enabled", "GradcheckError", "gradcheck", "gradgradcheck"]
