"""Batched matrix product with shared-memory tiles: out[z] = a[z] @ b[z] for 3-d views a (B, m, k)
and b (B, k, n) of any strides (a broadcast batch has stride 0). Each block computes one TILE x TILE
tile of the output, loading TILE x TILE tiles of a and b into shared memory for each step along k."""
import functools
import math

import numba
from numba import cuda

from minigrad_kernels.cuda.arrays import MAX_BLOCKS, SIMULATOR, empty

TILE = 4 if SIMULATOR else 16  # the simulator runs a Python thread per thread of a block


@functools.cache
def _kernel(dtype):
    item = numba.from_dtype(dtype)

    @cuda.jit
    def kernel(a, b, out, zero):
        tile_a = cuda.shared.array((TILE, TILE), item)
        tile_b = cuda.shared.array((TILE, TILE), item)
        ty, tx = cuda.threadIdx.y, cuda.threadIdx.x
        n_batch, m, k = a.shape
        n = b.shape[2]
        row = cuda.blockIdx.y * TILE + ty
        col = cuda.blockIdx.x * TILE + tx
        for z in range(cuda.blockIdx.z, n_batch, cuda.gridDim.z):
            acc = zero
            for start in range(0, k, TILE):
                tile_a[ty, tx] = a[z, row, start + tx] if row < m and start + tx < k else zero
                tile_b[ty, tx] = b[z, start + ty, col] if start + ty < k and col < n else zero
                cuda.syncthreads()
                for q in range(TILE):
                    acc += tile_a[ty, q] * tile_b[q, tx]
                cuda.syncthreads()
            if row < m and col < n:
                out[z, row, col] = acc
    return kernel


def batched_matmul(a, b):
    """(B, m, k) @ (B, k, n) -> a new C-contiguous (B, m, n) array."""
    n_batch, m, _ = a.shape
    n = b.shape[2]
    out = empty((n_batch, m, n), a.dtype)
    if out.size:
        grid = (math.ceil(n / TILE), math.ceil(m / TILE), min(n_batch, MAX_BLOCKS))
        _kernel(out.dtype)[grid, (TILE, TILE)](a, b, out, out.dtype.type(0))
    return out
