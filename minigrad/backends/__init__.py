"""Backends: the array operations that ops call, one backend per device type.

An op never touches numpy (or a GPU array library) directly: it asks the
tensor's backend, so a new device plugs in without touching any op. The CUDA
backend is imported on first use, so CPU-only programs never load numba.cuda.
"""
from minigrad.backends.cpu import CPU_BACKEND

_BACKENDS = {"cpu": CPU_BACKEND}


def cuda_device_count():
    """How many CUDA devices numba.cuda sees (1 under NUMBA_ENABLE_CUDASIM=1), 0 if it can't run."""
    from numba import cuda
    try:
        return len(cuda.gpus) if cuda.is_available() else 0
    except cuda.CudaSupportError:
        return 0


def _load_cuda(device):
    count = cuda_device_count()
    if count == 0:
        raise RuntimeError(f"device: {device} was requested, but numba.cuda finds no usable NVIDIA GPU and "
                           "driver; use the cpu device, or set NUMBA_ENABLE_CUDASIM=1 before importing "
                           "minigrad to run on Numba's CUDA simulator")
    from minigrad.backends.cuda import CUDA_BACKEND
    _BACKENDS["cuda"] = CUDA_BACKEND
    return CUDA_BACKEND


def backend_for(device):
    """The backend that runs ops for tensors on `device` (a minigrad.device)."""
    backend = _BACKENDS.get(device.type)
    if backend is None:
        backend = _load_cuda(device)
    if device.index:  # cuda:0 and cuda are the device minigrad runs on
        raise RuntimeError(f"device: minigrad runs on one GPU, cuda:0; got {device} "
                           f"({cuda_device_count()} visible)")
    return backend
