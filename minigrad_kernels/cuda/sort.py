"""argsort along the last axis: one block per row, a bitonic sort of (value, position) pairs in shared
memory. Ties are broken by position, so the sort is stable (as torch's stable=True) in both
directions; nan is the largest value. Rows longer than MAX_ROW do not fit: the caller sorts those
elsewhere."""
import functools

import numba
from numba import cuda

from minigrad_kernels.cuda.arrays import MAX_BLOCKS, THREADS
from minigrad_kernels.cuda.elementwise import at

MAX_ROW = 2048  # keys (8 bytes) and positions (4 bytes) of a row: 24 KiB of shared memory


@cuda.jit(device=True)
def _before(a, i, b, j, n, descending):
    """Does value a at position i sort before value b at position j? Padding (positions >= n) goes
    last; nan is the largest value; equal values (nan and nan too) keep their order."""
    if i >= n or j >= n:
        return i < j
    a_nan, b_nan = a != a, b != b
    if a_nan or b_nan:
        if a_nan and b_nan:
            return i < j
        return a_nan if descending else b_nan
    if a == b:
        return i < j
    return a > b if descending else a < b


@functools.cache
def _row_sort(dtype):
    """Kernel (out, x, n, width, descending): out[row] = the positions that sort x's row (8-d view,
    rows of n in C order); width is n rounded up to a power of two, at most MAX_ROW."""
    item = numba.from_dtype(dtype)

    @cuda.jit
    def kernel(out, x, n, width, descending):
        keys = cuda.shared.array(MAX_ROW, item)
        positions = cuda.shared.array(MAX_ROW, numba.int32)
        t, threads = cuda.threadIdx.x, cuda.blockDim.x
        for row in range(cuda.blockIdx.x, out.shape[0], cuda.gridDim.x):
            for i in range(t, width, threads):
                positions[i] = i
                if i < n:
                    keys[i] = at(x, row * n + i)
            cuda.syncthreads()
            k = 2
            while k <= width:  # merge bitonic runs of k: ascending where i & k == 0, else descending
                j = k // 2
                while j > 0:
                    for p in range(t, width // 2, threads):
                        i = 2 * j * (p // j) + p % j
                        other = i + j
                        swap = _before(keys[other], positions[other], keys[i], positions[i], n, descending)
                        if (i & k) != 0:
                            swap = not swap
                        if swap:
                            keys[i], keys[other] = keys[other], keys[i]
                            positions[i], positions[other] = positions[other], positions[i]
                    cuda.syncthreads()
                    j //= 2
                k *= 2
            for i in range(t, n, threads):
                out[row, i] = positions[i]
            cuda.syncthreads()
    return kernel


def argsort_rows(out, x, descending):
    """out (rows, n) int64 = the stable argsort of each row of x, an 8-d view of rows * n elements in
    C order whose dtype is float32, float64 or int64; n <= MAX_ROW."""
    rows, n = out.shape
    if not rows or not n:
        return
    if n > MAX_ROW:
        raise ValueError(f"argsort_rows: rows of {n} exceed the kernel's {MAX_ROW}")
    width = 1 << (n - 1).bit_length()
    threads = max(1, min(width // 2, THREADS))
    _row_sort(x.dtype)[min(rows, MAX_BLOCKS), threads](out, x, n, width, descending)
