"""minigrad.cuda: the CUDA devices minigrad can use, and its device-memory use (numba.cuda; under
NUMBA_ENABLE_CUDASIM=1, Numba's simulator counts as one device)."""
import sys

from minigrad.backends import cuda_device_count, cuda_unavailable_error


def is_available():
    """True when numba.cuda can run kernels (a GPU and driver, or the simulator)."""
    return cuda_device_count() > 0


def device_count():
    return cuda_device_count()


def current_device():
    return 0


def _live_allocations():
    # (count, bytes); nothing is allocated before the CUDA backend is loaded, and this doesn't load it
    arrays = sys.modules.get("minigrad_kernels.cuda.arrays")
    return (0, 0) if arrays is None else arrays.live_allocations()


def memory_allocated(device=None):
    """Bytes of device memory held by live minigrad tensors (and minigrad's small index caches)."""
    return _live_allocations()[1]


def allocation_count(device=None):
    """How many device allocations minigrad holds now: a training loop that leaks shows it growing."""
    return _live_allocations()[0]


def synchronize(device=None):
    """Wait for every kernel launched so far to finish (for timing)."""
    if not is_available():
        raise cuda_unavailable_error("cuda")
    from numba import cuda
    cuda.synchronize()
