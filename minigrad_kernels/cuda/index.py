"""Gathers and scatters. Positions are C-order flat indices into an operand's logical shape, read
through its 8-d view; scatters add with atomics because positions may repeat."""
from numba import cuda

from minigrad_kernels.cuda.arrays import THREADS, blocks_for
from minigrad_kernels.cuda.elementwise import at, position


@cuda.jit(cache=True)
def _gather(out, x, positions):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = at(x, positions[i])


def gather(out, x, positions):
    """out[i] = x.flat[positions[i]] for a 1-d out and an 8-d view x."""
    if out.size:
        _gather[blocks_for(out.size), THREADS](out, x, positions)


@cuda.jit(cache=True)
def _scatter_set(out, positions, values):
    for i in range(cuda.grid(1), positions.size, cuda.gridsize(1)):
        out[positions[i]] = at(values, i)


@cuda.jit(cache=True)
def _scatter_add(out, positions, values):
    for i in range(cuda.grid(1), positions.size, cuda.gridsize(1)):
        cuda.atomic.add(out, positions[i], at(values, i))


def scatter(out, positions, values, accumulate):
    """out[positions[i]] += (or =) values.flat[i] for a 1-d contiguous out and an 8-d view values."""
    if positions.size:
        kernel = _scatter_add if accumulate else _scatter_set
        kernel[blocks_for(positions.size), THREADS](out, positions, values)


@cuda.jit(device=True)
def _along(x, indices, i, axis):
    """The 8-d index of x holding the i-th element of take_along_axis(x, indices, axis)."""
    index = position(indices, i)
    j = indices[index]
    if j < 0:
        j += x.shape[axis]
    return (j if axis == 0 else index[0], j if axis == 1 else index[1], j if axis == 2 else index[2],
            j if axis == 3 else index[3], j if axis == 4 else index[4], j if axis == 5 else index[5],
            j if axis == 6 else index[6], j if axis == 7 else index[7])


@cuda.jit(cache=True)
def _take_along(out, x, indices, axis):
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        out[i] = x[_along(x, indices, i, axis)]


def take_along(out, x, indices, axis):
    """numpy's take_along_axis on 8-d views (indices broadcast against x except along axis)."""
    if out.size:
        _take_along[blocks_for(out.size), THREADS](out, x, indices, axis)


@cuda.jit(cache=True)
def _scatter_add_along(out, indices, values, axis):
    n = 1
    for d in range(8):
        n *= indices.shape[d]
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        cuda.atomic.add(out, _along(out, indices, i, axis), values[position(indices, i)])


def scatter_add_along(out, indices, values, axis):
    """take_along's adjoint: out (8-d, zeroed, contiguous) += values at indices along axis."""
    if indices.size:
        _scatter_add_along[blocks_for(indices.size), THREADS](out, indices, values, axis)
