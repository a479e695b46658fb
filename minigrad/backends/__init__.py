"""Backends: the array operations that ops call, one backend per device type.

An op never touches numpy (or a GPU array library) directly: it asks the
tensor's backend, so a new device plugs in without touching any op. What a
backend provides is declared in interface.py (each entry with its contract);
shared.py holds what both backends compute alike (convolution around im2col
and GEMM), on top of the per-device entries. The CUDA
backend is imported on first use, so CPU-only programs never load numba.cuda,
and need no numba-cuda installed.
"""
import importlib.util

import numba

from minigrad.backends.cpu import CPU_BACKEND

_BACKENDS = {"cpu": CPU_BACKEND}


def _numba_cuda_installed():
    """Whether NVIDIA's numba-cuda package (the `cuda` extra) is installed; checked without importing it."""
    try:
        return importlib.util.find_spec("numba_cuda") is not None
    except (ImportError, ValueError):
        return False


def _numba_cuda():
    """numba.cuda, when minigrad may run on it, else None. A GPU needs numba-cuda; the simulator
    (NUMBA_ENABLE_CUDASIM=1) also runs on the numba.cuda built into numba itself (0.61-0.68 have one)."""
    if not numba.config.ENABLE_CUDASIM and not _numba_cuda_installed():
        return None
    try:
        from numba import cuda
    except ImportError:
        return None
    return cuda


def cuda_device_count():
    """How many CUDA devices numba.cuda sees (1 under NUMBA_ENABLE_CUDASIM=1), 0 if it can't run."""
    cuda = _numba_cuda()
    if cuda is None:
        return 0
    try:
        return len(cuda.gpus) if cuda.is_available() else 0
    except cuda.CudaSupportError:
        return 0


def cuda_unavailable_error(device):
    """The RuntimeError for a cuda device that can't run: what to install, or what is missing."""
    requested = f"device: {device} was requested, but"
    if numba.config.ENABLE_CUDASIM:
        return RuntimeError(f"{requested} NUMBA_ENABLE_CUDASIM=1 is set and numba.cuda can't be imported; "
                            "the simulator needs numba-cuda: pip install numba-cuda")
    simulator = ("set NUMBA_ENABLE_CUDASIM=1 before importing minigrad to run on Numba's CUDA simulator "
                 "(for testing; it is slow)")
    if not _numba_cuda_installed():
        return RuntimeError(
            f"{requested} numba-cuda, which minigrad's CUDA backend runs on, is not installed. On a machine "
            "with an NVIDIA GPU, install it with pip install -e \".[cuda]\" from a minigrad checkout, or pip "
            f"install \"numba-cuda[cu12]\"; without a GPU, use the cpu device, or {simulator}")
    return RuntimeError(f"{requested} numba.cuda finds no usable NVIDIA GPU and driver; use the cpu device, "
                        f"or {simulator}")


def _load_cuda(device):
    if cuda_device_count() == 0:
        raise cuda_unavailable_error(device)
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
