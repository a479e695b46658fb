"""Reductions that return indices: one pass instead of numpy's argmax + take."""
import numpy as np
from numba import prange

from minigrad_kernels._jit import cpu_kernel


@cpu_kernel
def max_along_middle(x, take_max):
    """Max (or min) of a C-contiguous (outer, n, inner) array along axis 1.

    Returns (values, indices) of shape (outer, inner). Ties go to the first
    index; a NaN wins over every number, as in PyTorch.
    """
    outer, n, inner = x.shape
    values = np.empty((outer, inner), dtype=x.dtype)
    indices = np.zeros((outer, inner), dtype=np.int64)
    for o in prange(outer):
        for j in range(inner):
            values[o, j] = x[o, 0, j]
        for i in range(1, n):
            for j in range(inner):
                v = x[o, i, j]
                best = values[o, j]
                if best == best and (v != v or (v > best if take_max else v < best)):
                    values[o, j] = v
                    indices[o, j] = i
    return values, indices
