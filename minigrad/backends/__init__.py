"""Backends: the array operations that ops call, one backend per device type.

An op never touches numpy (or a GPU array library) directly: it asks the
tensor's backend, so a new device plugs in without touching any op.
"""
from minigrad.backends.cpu import CPU_BACKEND

_BACKENDS = {"cpu": CPU_BACKEND}


def backend_for(device):
    """The backend that runs ops for tensors on `device` (a minigrad.device)."""
    backend = _BACKENDS.get(device.type)
    if backend is None:
        raise RuntimeError(f"device: no backend is available for device '{device}' "
                           f"(available: {', '.join(sorted(_BACKENDS))})")
    return backend
