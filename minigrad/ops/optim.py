"""The optimizers' fused steps: each parameter's update as one backend pass, written in place with what the
in-place Tensor ops do around the write (TensorBase._in_place): the same leaf check while recording, no
node on the tape, and every written tensor's version counter bumped."""
from minigrad.autograd.grad_mode import STATE


def fusable(*tensors):
    """True when the fused step can take these tensors: all of one floating dtype, device and shape,
    C-contiguous, with no forward-mode tangent and no vmap batching; else the Tensor-op form must run
    (also for float16, which the kernels are not compiled for)."""
    first = tensors[0]
    return first._dtype.is_floating_point and first._dtype.itemsize > 2 and all(
        t._dtype is first._dtype and t._device == first._device and t._data.shape == first._data.shape
        and t._tangent is None and not t._vmap_level and t._backend.is_contiguous(t._data) for t in tensors)


def _writing(*tensors):
    """The in-place check of TensorBase._in_place: a tensor that requires grad is not written while recording."""
    if STATE.grad_enabled and any(t._requires_grad for t in tensors):
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")


def _written(*tensors):
    for t in tensors:
        t._version.value += 1
        t._view_version = t._version.value


def sgd_step_(param, grad, buffer, lr, weight_decay, momentum, dampening, nesterov, maximize, first):
    """torch.optim.SGD's step in place in param and buffer (None without momentum; first: the buffer's
    first step, which sets it to the gradient). The tensors must be fusable."""
    written = (param,) if buffer is None else (param, buffer)
    _writing(*written)
    param._backend.sgd_update(param._data, grad._data, None if buffer is None else buffer._data, lr, weight_decay,
                              momentum, dampening, nesterov, maximize, first)
    _written(*written)


def adam_step_(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
               decoupled, maximize):
    """torch.optim.Adam's (AdamW's with decoupled) step in place: step, the 0-d step count, gains 1 as
    step.add_(1) would; then param, exp_avg, exp_avg_sq and max_exp_avg_sq (None without amsgrad) are
    updated in one pass. The tensors but step must be fusable."""
    written = (param, exp_avg, exp_avg_sq) + (() if max_exp_avg_sq is None else (max_exp_avg_sq,))
    _writing(step, *written)
    step._backend.assign(step._data, step._backend.add(step._data, 1))
    _written(step)
    param._backend.adam_update(param._data, grad._data, exp_avg._data, exp_avg_sq._data,
                               None if max_exp_avg_sq is None else max_exp_avg_sq._data, lr, beta1, beta2, eps,
                               weight_decay, decoupled, maximize, step.item())
    _written(*written)
