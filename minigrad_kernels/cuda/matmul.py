"""Batched matrix product with shared-memory tiles: out[z] = a[z] @ b[z] for 3-d views a (B, m, k)
and b (B, k, n) of any strides (a broadcast batch has stride 0). A block computes TILE x TILE tiles
of the output (striding over them when the grid is smaller than the tile count), loading a TILE x TILE
tile of a and of b into shared memory for each step along k."""
import functools
import math

import numba
from numba import cuda

from minigrad_kernels.cuda.arrays import MAX_BLOCKS, SIMULATOR, empty

TILE = 8 if SIMULATOR else 16  # the simulator runs a Python thread per thread of a block


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
        row_tiles, col_tiles = (m + TILE - 1) // TILE, (n + TILE - 1) // TILE
        for tile in range(cuda.blockIdx.x, n_batch * row_tiles * col_tiles, cuda.gridDim.x):
            z = tile // (row_tiles * col_tiles)
            row = (tile // col_tiles) % row_tiles * TILE + ty
            col = tile % col_tiles * TILE + tx
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
        tiles = n_batch * math.ceil(m / TILE) * math.ceil(n / TILE)
        _kernel(out.dtype)[min(tiles, MAX_BLOCKS), (TILE, TILE)](a, b, out, out.dtype.type(0))
    return out
