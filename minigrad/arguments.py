"""Argument normalisers shared by the Tensor methods, the factories and the top-level functions: dims,
sizes, broadcast shapes, and the type names PyTorch's messages print. Pure Python: no tensors, no arrays."""
import builtins
import functools
import numbers

import numpy as np


def normalize_dim(dim, ndim, argument="dim"):
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{argument}: expected an int, got {type(dim).__name__}")
    rank = builtins.max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(f"{argument}: Dimension out of range (expected to be in range of "
                         f"[{-rank}, {rank - 1}], but got {dim})")
    return int(dim) % rank


def normalize_dims(dim, ndim):
    """A sorted tuple of non-negative dims; None or an empty list means every dim, as in PyTorch."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(ndim))
    if isinstance(dim, (tuple, list)):
        dims = tuple(normalize_dim(d, ndim) for d in dim)
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"dim: dim {list(dim)} appears multiple times in the list of dims")
        return tuple(sorted(dims)) if ndim else ()
    return (normalize_dim(dim, ndim),) if ndim else ()


def shape_args(args, argument="size"):
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    for n in args:
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
            raise TypeError(f"{argument}: expected a sequence of ints, got {list(args)!r}")
    return tuple(int(n) for n in args)


def type_name(value):
    """`value`'s type as PyTorch's messages print it: list, numpy.ndarray, ..."""
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


@functools.lru_cache(maxsize=512)
def broadcast_shape(a, b):
    """The shape that shapes a and b broadcast to; RuntimeError in PyTorch's words when they don't."""
    ndim = builtins.max(len(a), len(b))
    a, b = (1,) * (ndim - len(a)) + tuple(a), (1,) * (ndim - len(b)) + tuple(b)
    for dim in range(ndim - 1, -1, -1):  # PyTorch reports the last mismatch
        if a[dim] != b[dim] and a[dim] != 1 and b[dim] != 1:
            raise RuntimeError(f"The size of tensor a ({a[dim]}) must match the size of tensor b ({b[dim]}) "
                               f"at non-singleton dimension {dim}")
    return tuple(x if y == 1 else y for x, y in zip(a, b))


def check_std(std, function):
    """A standard deviation for normal sampling: a number >= 0 (inf allowed, nan not), as in PyTorch."""
    if not isinstance(std, numbers.Real):
        raise TypeError(f"{function}(): argument 'std' must be a number, not {type_name(std)}")
    if not std >= 0:
        raise RuntimeError(f"{function}(): normal expects std >= 0.0, but found std {std}")
    return std
