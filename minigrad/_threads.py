"""The intra-op thread count: Numba's thread pool, which runs the CPU kernels (BLAS stays at
MINIGRAD_BLAS_THREADS, see backends/cpu.py)."""
import warnings

import numba


def set_num_threads(num_threads):
    """Threads for the CPU kernels; more than Numba's pool (NUMBA_NUM_THREADS, the cores at start-up) are
    capped to it, with a warning."""
    if not isinstance(num_threads, int) or isinstance(num_threads, bool) or num_threads <= 0:
        raise RuntimeError(f"set_num_threads: expected a positive int, got {num_threads!r}")
    most = numba.config.NUMBA_NUM_THREADS
    if num_threads > most:
        warnings.warn(f"set_num_threads: {num_threads} threads requested, Numba's pool has {most} (set "
                      f"NUMBA_NUM_THREADS before starting Python for more); using {most}", stacklevel=2)
    numba.set_num_threads(min(num_threads, most))


def get_num_threads():
    return numba.get_num_threads()
