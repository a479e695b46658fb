"""minigrad.cuda: which CUDA devices minigrad can use. The CUDA backend has not been written yet
(see the project's issues), so none can be, whatever hardware the machine has."""


def is_available():
    """False: minigrad has no CUDA backend yet."""
    return False


def device_count():
    """0: minigrad has no CUDA backend yet (d2l's try_gpu() then falls back to the CPU)."""
    return 0
