"""A matrix product with every thread busy: numpy's BLAS runs on one thread here (see backends/cpu.py),
so each of Numba's threads multiplies its own block of rows."""
import numpy as np
from numba import prange

from minigrad_kernels._jit import cpu_kernel


@cpu_kernel
def matmul_rows(a, b, out, threads):
    """out (M, N) = a (M, K) @ b (K, N) for C-contiguous a and out and a C- or F-contiguous b of one float
    dtype; thread t multiplies rows [t * M / threads, (t + 1) * M / threads)."""
    rows = a.shape[0]
    for t in prange(threads):
        first, last = t * rows // threads, (t + 1) * rows // threads
        if first < last:
            np.dot(a[first:last], b, out[first:last])
