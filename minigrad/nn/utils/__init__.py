"""torch.nn.utils's gradient clipping (`from minigrad.nn.utils import clip_grad_norm_`)."""
from minigrad.nn.utils import clip_grad
from minigrad.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm

__all__ = ["clip_grad", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]
