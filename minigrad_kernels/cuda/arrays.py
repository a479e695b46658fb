"""Device arrays: counted allocation, host transfers, and strided views.

`as_strided` is the one view constructor, as in numpy: transposes, broadcasts, basic indexing and
the 8-d views that every kernel takes are all made with it. Under NUMBA_ENABLE_CUDASIM=1 a device
array wraps a numpy array, so the view is made on that array instead of on a device pointer.
"""
import math
import weakref

import numpy as np
from numba import config, cuda
from numba.core import types as numba_types

SIMULATOR = bool(config.ENABLE_CUDASIM)
RANK = 8  # kernels see every operand as an 8-d view: one compiled kernel serves every ndim

if SIMULATOR:
    import sys
    import threading

    from numba.cuda.simulator import kernelapi
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
    from numba.np import numpy_support

    # The simulator runs a block's threads as Python threads that hand over the GIL at every
    # syncthreads(); at Python's default 5 ms switch interval a barrier costs about 30 ms (a sum into
    # 288 outputs took 19 s), at 0.1 ms about 16x less.
    sys.setswitchinterval(1e-4)

    # The simulator's cuda.shared.array finds a block's array by the calling line without a lock: two
    # threads preempted between its lookup and its insert each get their own "shared" array, and the
    # kernel computes garbage (the likely cause of a tiled-GEMM conv weight gradient that came out
    # wrong in 2 of 11 runs on a loaded machine). The same lookup, under a lock:
    _shared_lock = threading.Lock()
    _dynamic_shared_array = kernelapi.FakeCUDAShared.array

    def _shared_array(self, shape, dtype, alignment=None):
        if shape == 0 or alignment is not None:
            return _dynamic_shared_array(self, shape, dtype, alignment)
        caller = sys._getframe(1)
        key = (caller.f_code.co_filename, caller.f_lineno)
        with _shared_lock:
            found = self._allocations.get(key)
            if found is None:
                dtype = numpy_support.as_dtype(dtype) if isinstance(dtype, numba_types.Type) else dtype
                found = self._allocations[key] = np.empty(shape, dtype)
        return found

    kernelapi.FakeCUDAShared.array = _shared_array
else:
    from numba.cuda.cudadrv.devicearray import DeviceNDArray

# The simulator runs every thread as a Python thread: small blocks and grids keep it usable, and two
# blocks still exercise the grid-stride loops across blocks.
THREADS = 8 if SIMULATOR else 256
MAX_BLOCKS = 2 if SIMULATOR else 65535

_live = {"count": 0, "bytes": 0}


def blocks_for(n):
    """Blocks for a grid-stride loop over n items with THREADS threads each."""
    return max(1, min(math.ceil(n / THREADS), MAX_BLOCKS))


def _storage(x):
    """The object that owns x's memory (views keep it alive)."""
    if SIMULATOR:  # follow numpy's view chain (through _Interface objects) to the allocation
        owner = x._ary
        while getattr(owner, "base", None) is not None:
            owner = owner.base
        return owner
    return x.gpu_data.owner


def _released(nbytes):
    _live["count"] -= 1
    _live["bytes"] -= nbytes


def empty(shape, dtype):
    """A new C-contiguous device array, counted in live_allocations() until its memory is freed."""
    out = cuda.device_array(tuple(shape), dtype=np.dtype(dtype))
    if out.size:
        nbytes = out.size * out.dtype.itemsize
        _live["count"] += 1
        _live["bytes"] += nbytes
        weakref.finalize(_storage(out), _released, nbytes)
    return out


def live_allocations():
    """(count, bytes) of device arrays made by empty() whose memory is still held."""
    return _live["count"], _live["bytes"]


def to_device(host):
    out = empty(host.shape, host.dtype)
    if out.size:
        # flat on both sides: numba drops stride-0 (broadcast) dims of the host array when it copies
        flat(out).copy_to_device(np.ascontiguousarray(host).reshape(-1))
    return out


def to_host(x):
    """A new numpy array with the values of a C-contiguous x."""
    if not x.size:
        return np.empty(x.shape, x.dtype)
    return x.copy_to_host()


def is_c_contiguous(x):
    return x.size <= 1 or x.is_c_contiguous()


class _Interface:
    """An object numpy can view through __array_interface__, keeping the viewed array alive."""

    def __init__(self, interface, base):
        self.__array_interface__ = interface
        self.base = base


def as_strided(x, shape, strides, offset=0):
    """A view of x's storage with `shape` and byte `strides`, starting `offset` bytes after x's
    first element. The caller guarantees the view stays inside x's storage."""
    shape, strides = tuple(int(n) for n in shape), tuple(int(s) for s in strides)
    if 0 in shape or x.size == 0:
        return cuda.device_array(shape, dtype=x.dtype)
    if SIMULATOR:
        interface = dict(x._ary.__array_interface__, shape=shape, strides=strides)
        interface["data"] = (interface["data"][0] + offset, False)
        interface.pop("mask", None)
        return FakeCUDAArray(np.asarray(_Interface(interface, x._ary)))
    data = x.gpu_data.view(offset) if offset else x.gpu_data
    return DeviceNDArray(shape, strides, x.dtype, gpu_data=data)


def flat(x):
    """The 1-d view of a C-contiguous x."""
    return as_strided(x, (x.size,), (x.dtype.itemsize,))


def shares_memory(a, b):
    if a.size == 0 or b.size == 0:
        return False
    return _storage(a) is _storage(b)


def broadcast_strides(x, shape):
    """x's byte strides broadcast to `shape` (numpy's rules); raises ValueError if they don't fit."""
    if len(shape) < x.ndim:
        raise ValueError(f"cannot broadcast shape {tuple(x.shape)} to {tuple(shape)}")
    lead = len(shape) - x.ndim
    strides = [0] * lead
    for n, target, stride in zip(x.shape, shape[lead:], x.strides):
        if n == target:
            strides.append(stride)
        elif n == 1:
            strides.append(0)
        else:
            raise ValueError(f"cannot broadcast shape {tuple(x.shape)} to {tuple(shape)}")
    return tuple(strides)


def rank8(x, shape=None):
    """x (broadcast to `shape` if given) as an 8-d view with leading size-1 dims."""
    shape = tuple(x.shape) if shape is None else tuple(shape)
    if len(shape) > RANK:
        raise ValueError(f"cuda: tensors of at most {RANK} dims are supported, got shape {shape}")
    strides = broadcast_strides(x, shape)
    pad = RANK - len(shape)
    return as_strided(x, (1,) * pad + shape, (0,) * pad + strides)
