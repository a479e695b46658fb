"""The one decorator every Numba CPU kernel goes through.

`MINIGRAD_KERNEL_DEBUG=1` compiles every kernel serial (so a bounds error inside
a `prange` is not dropped, numba issue #4600) and with `boundscheck=True`, into
a separate cache directory (Numba's cache key ignores the bounds-check flag, so
a shared cache would hand back unchecked machine code).
"""
import os

import numba

DEBUG = os.environ.get("MINIGRAD_KERNEL_DEBUG", "0") not in ("", "0")

if DEBUG:
    _base = numba.config.CACHE_DIR or os.path.join(os.path.expanduser("~"), ".cache", "minigrad")
    numba.config.CACHE_DIR = os.path.join(_base, "numba-debug-kernels")


def cpu_kernel(fn=None, *, parallel=True, fastmath=False):
    """`numba.njit(cache=True)`, parallel unless the debug switch is on. fastmath=True lets LLVM
    reorder a float reduction so that it vectorizes."""
    options = dict(cache=True, nogil=True, parallel=parallel and not DEBUG, boundscheck=DEBUG,
                   fastmath=fastmath)

    def decorate(f):
        return numba.njit(**options)(f)

    return decorate if fn is None else decorate(fn)
