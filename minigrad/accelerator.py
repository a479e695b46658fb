"""minigrad.accelerator: PyTorch's device-agnostic accelerator API (torch.accelerator), over the one
accelerator minigrad has, CUDA (numba.cuda). On a machine without one, is_available() is False and
current_accelerator() is None, so `torch.accelerator.current_accelerator()` code falls back to the CPU."""
from minigrad import cuda as _cuda
from minigrad._device import device as _device

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index", "synchronize"]


def is_available():
    """True when an accelerator (a CUDA device, or Numba's simulator) can run minigrad's kernels."""
    return _cuda.is_available()


def current_accelerator(check_available=False):
    """minigrad.device('cuda') when CUDA is available, else None (check_available is accepted: with no
    accelerator compiled in, as in PyTorch's CPU build, the answer is None either way)."""
    return _device("cuda") if _cuda.is_available() else None


def device_count():
    """How many accelerator devices there are (0 without one)."""
    return _cuda.device_count() if _cuda.is_available() else 0


def _require():
    if not _cuda.is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")


def current_device_index():
    """The index of the current accelerator device (always 0: minigrad uses one device); PyTorch's
    RuntimeError without one."""
    _require()
    return _cuda.current_device()


def synchronize(device=None):
    """Wait for the accelerator's queued work to finish; PyTorch's RuntimeError without one."""
    _require()
    _cuda.synchronize(device)
