"""Reductions of any length. The input is an 8-d view whose last dims are the reduced ones, so output o
reduces elements o * n_reduced ... (o + 1) * n_reduced - 1 in C order. Long reductions into few outputs
take one block per output (its threads stride over the elements, then a tree in shared memory); short
ones, or many outputs, take one thread per output, which keeps every thread busy."""
import functools

import numba
from numba import cuda

from minigrad_kernels.cuda.arrays import THREADS, blocks_for
from minigrad_kernels.cuda.elementwise import at


@functools.cache
def reduction(op, dtype):
    """Kernel (out, a, n_reduced, identity) folding with the device function op(acc, value)."""
    item = numba.from_dtype(dtype)

    @cuda.jit
    def kernel(out, a, n_reduced, identity):
        partial = cuda.shared.array(THREADS, item)
        t = cuda.threadIdx.x
        for o in range(cuda.blockIdx.x, out.size, cuda.gridDim.x):
            acc = identity
            for j in range(t, n_reduced, THREADS):
                acc = op(acc, at(a, o * n_reduced + j))
            partial[t] = acc
            cuda.syncthreads()
            step = THREADS // 2
            while step > 0:
                if t < step:
                    partial[t] = op(partial[t], partial[t + step])
                cuda.syncthreads()
                step //= 2
            if t == 0:
                out[o] = partial[0]
            cuda.syncthreads()
    return kernel


@functools.cache
def _serial_reduction(op):
    @cuda.jit
    def kernel(out, a, n_reduced, identity):
        for o in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            acc = identity
            for j in range(n_reduced):
                acc = op(acc, at(a, o * n_reduced + j))
            out[o] = acc
    return kernel


def _one_thread_each(n_out, n_reduced):
    return n_reduced <= 64 or n_out >= 8192


def reduce_into(op, out, a, n_reduced, identity):
    if not out.size:
        return
    if _one_thread_each(out.size, n_reduced):
        _serial_reduction(op)[blocks_for(out.size), THREADS](out, a, n_reduced, identity)
    else:
        reduction(op, out.dtype)[blocks_for(out.size * THREADS), THREADS](out, a, n_reduced, identity)


@cuda.jit(device=True)
def _better(value, index, best, best_index, take_max):
    """Does (value, index) beat (best, best_index)? NaN wins, then the larger (or smaller), then the
    first index, as numpy's argmax and argmin decide."""
    if best != best:
        return value != value and index < best_index
    if value != value:
        return True
    if value == best:
        return index < best_index
    return value > best if take_max else value < best


@functools.cache
def _arg_reduction(dtype):
    item = numba.from_dtype(dtype)

    @cuda.jit
    def kernel(values, indices, a, n_reduced, take_max):
        best_values = cuda.shared.array(THREADS, item)
        best_indices = cuda.shared.array(THREADS, numba.int64)
        t = cuda.threadIdx.x
        for o in range(cuda.blockIdx.x, indices.size, cuda.gridDim.x):
            best_index = -1
            best = at(a, o * n_reduced)
            for j in range(t, n_reduced, THREADS):
                value = at(a, o * n_reduced + j)
                if best_index < 0 or _better(value, j, best, best_index, take_max):
                    best, best_index = value, j
            best_values[t] = best
            best_indices[t] = best_index
            cuda.syncthreads()
            step = THREADS // 2
            while step > 0:
                if t < step and best_indices[t + step] >= 0 and (
                        best_indices[t] < 0 or _better(best_values[t + step], best_indices[t + step],
                                                       best_values[t], best_indices[t], take_max)):
                    best_values[t] = best_values[t + step]
                    best_indices[t] = best_indices[t + step]
                cuda.syncthreads()
                step //= 2
            if t == 0:
                values[o] = best_values[0]
                indices[o] = best_indices[0]
            cuda.syncthreads()
    return kernel


@cuda.jit(cache=True)
def _serial_arg_reduction(values, indices, a, n_reduced, take_max):
    for o in range(cuda.grid(1), indices.size, cuda.gridsize(1)):
        best, best_index = at(a, o * n_reduced), 0
        for j in range(1, n_reduced):
            value = at(a, o * n_reduced + j)
            if _better(value, j, best, best_index, take_max):
                best, best_index = value, j
        values[o] = best
        indices[o] = best_index


def arg_reduce_into(values, indices, a, n_reduced, take_max):
    """values[o], indices[o]: the max (or min) of each group of n_reduced >= 1 elements, and where."""
    if not indices.size:
        return
    if _one_thread_each(indices.size, n_reduced):
        _serial_arg_reduction[blocks_for(indices.size), THREADS](values, indices, a, n_reduced, take_max)
    else:
        _arg_reduction(values.dtype)[blocks_for(indices.size * THREADS), THREADS](
            values, indices, a, n_reduced, take_max)


# --- folds that elementwise.py lacks (sums, products, max and min fold with its add, multiply,
# maximum and minimum) --------------------------------------------------------------------------

@cuda.jit(device=True)
def logical_and(acc, x):
    return acc and x != 0


@cuda.jit(device=True)
def logical_or(acc, x):
    return acc or x != 0
