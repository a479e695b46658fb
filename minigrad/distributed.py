"""Collectives across processes and machines on MPI (mpi4py), with torch.distributed's names.

Launch with any MPI launcher, nothing minigrad-specific: `mpiexec -n 2 python train.py`. Then
`init_process_group(backend="mpi")` takes the world size and rank from MPI, makes an uncaught exception
on any rank end the whole job (MPI Abort) instead of leaving the others waiting forever, and gives each
rank its share of the machine's cores. Collectives are in place and work on tensors of every dtype and
device; they go through MPI's buffer calls (no pickling). Install with `pip install -e ".[mpi]"`.
"""
import enum
import os
import sys
import time

import numpy as np

from minigrad._dtype import ALL as ALL_DTYPES
from minigrad._threads import set_num_threads
from minigrad.autograd.grad_mode import no_grad
from minigrad.creation import from_numpy
from minigrad.tensor import Tensor

_INSTALL = 'pip install -e ".[mpi]" (or pip install mpi4py mpich)'
_MAX_DIMS = 8
_NUMPY_TYPES = {d.numpy.num: d.numpy.type for d in ALL_DTYPES}  # to name a rank's dtype in errors


class ReduceOp(enum.Enum):
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


class _State:
    comm = None  # this process group's communicator (a duplicate of MPI.COMM_WORLD)
    previous_excepthook = None


def is_available():
    """True when mpi4py can be imported (the `mpi` extra is installed)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        raise RuntimeError(f"minigrad.distributed needs mpi4py and an MPI library: {_INSTALL}") from None
    return MPI


def init_process_group(backend="mpi", init_method=None, timeout=None, world_size=-1, rank=-1, **kwargs):
    """Join the processes started by the MPI launcher into the default process group."""
    if backend not in ("mpi", None):
        raise ValueError(f"init_process_group: backend must be 'mpi' (minigrad's collectives run on MPI), "
                         f"got {backend!r}")
    if _State.comm is not None:
        raise RuntimeError("init_process_group: trying to initialize the default process group twice!")
    MPI = _mpi()
    comm = MPI.COMM_WORLD.Dup()
    for name, given, actual in (("world_size", world_size, comm.Get_size()), ("rank", rank, comm.Get_rank())):
        if given not in (-1, None) and given != actual:
            comm.Free()
            raise ValueError(f"init_process_group: {name}={given} was given, but MPI started this process with "
                             f"{name} {actual}; leave it out (MPI's launcher sets it)")
    _State.comm = comm
    if comm.Get_size() > 1:
        _State.previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught_exception
    _share_cores(comm)


def _abort_on_uncaught_exception(kind, value, traceback):
    """Print the error, then end every rank: the others would otherwise wait in a collective forever."""
    _State.previous_excepthook(kind, value, traceback)
    comm = _State.comm
    sys.stderr.write(f"minigrad.distributed: rank {comm.Get_rank()} of {comm.Get_size()} failed "
                     f"({kind.__name__}); aborting the job\n")
    sys.stderr.flush()
    time.sleep(0.5)  # lets the launcher forward this output: Abort kills its forwarding processes too
    _mpi().COMM_WORLD.Abort(1)


def _share_cores(comm):
    """Numba threads per rank: MINIGRAD_THREADS_PER_RANK, or this machine's cores over its ranks."""
    local_ranks = comm.Split_type(_mpi().COMM_TYPE_SHARED).Get_size()
    threads = int(os.environ.get("MINIGRAD_THREADS_PER_RANK", 0)) or max(1, (os.cpu_count() or 1) // local_ranks)
    set_num_threads(threads)


def destroy_process_group(group=None):
    comm = _comm("destroy_process_group")
    if _State.previous_excepthook is not None:
        sys.excepthook, _State.previous_excepthook = _State.previous_excepthook, None
    _State.comm = None
    comm.Free()


def is_initialized():
    return _State.comm is not None


def _comm(caller):
    if _State.comm is None:
        raise ValueError(f"{caller}: Default process group has not been initialized, please make sure to call "
                         "init_process_group.")
    return _State.comm


def get_rank(group=None):
    return _comm("get_rank").Get_rank()


def get_world_size(group=None):
    return _comm("get_world_size").Get_size()


def barrier(group=None):
    _comm("barrier").Barrier()


def _host_array(tensor, caller, argument="tensor"):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{caller}: {argument} must be a Tensor, got {type(tensor).__name__}")
    if not tensor.is_contiguous():
        raise ValueError(f"{caller}: {argument} must be contiguous (call .contiguous() first), got a "
                         f"non-contiguous tensor of shape {list(tensor.shape)}")
    return np.ascontiguousarray(tensor.detach().cpu().numpy())


def _write(tensor, array):
    with no_grad():
        tensor.copy_(from_numpy(array.reshape(tensor.shape)))


def _check_alike(comm, caller, tensor):
    """Every rank raises the same clear error when ranks pass tensors of different shapes or dtypes, where MPI
    would hang or read past a buffer."""
    if tensor.ndim > _MAX_DIMS:
        raise ValueError(f"{caller}: tensors of at most {_MAX_DIMS} dimensions, got {tensor.ndim}")
    mine = np.full(_MAX_DIMS + 2, -1, dtype=np.int64)
    mine[0], mine[1] = tensor.ndim, tensor.dtype.numpy.num
    mine[2:2 + tensor.ndim] = tensor.shape
    every = np.empty((comm.Get_size(), mine.size), dtype=np.int64)
    comm.Allgather(mine, every)
    for rank, row in enumerate(every):
        if not np.array_equal(row, every[0]):
            raise RuntimeError(f"{caller}: rank {rank} passed a tensor of shape {_shape(row)} and dtype "
                               f"{np.dtype(_NUMPY_TYPES[row[1]])}, rank 0 one of shape {_shape(every[0])} and "
                               f"dtype {np.dtype(_NUMPY_TYPES[every[0][1]])}; every rank must pass the same "
                               "shape and dtype")


def _shape(row):
    return list(row[2:2 + row[0]])


def _mpi_op(op, dtype, caller):
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{caller}: op must be a ReduceOp (SUM, AVG, PRODUCT, MIN, MAX), got {op!r}")
    MPI = _mpi()
    if dtype.numpy == np.bool_:
        if op is ReduceOp.AVG:
            raise TypeError(f"{caller}: ReduceOp.AVG needs a floating point tensor, got {dtype}")
        return MPI.LOR if op in (ReduceOp.SUM, ReduceOp.MAX) else MPI.LAND
    if op is ReduceOp.AVG and not dtype.is_floating_point:
        raise TypeError(f"{caller}: ReduceOp.AVG needs a floating point tensor, got {dtype}")
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
            ReduceOp.MAX: MPI.MAX}[op]


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce the tensor over all ranks, in place on every rank."""
    comm = _comm("all_reduce")
    mpi_op = _mpi_op(op, tensor.dtype, "all_reduce") if isinstance(tensor, Tensor) else None
    array = _host_array(tensor, "all_reduce")
    _check_alike(comm, "all_reduce", tensor)
    result = np.empty_like(array)
    comm.Allreduce(array, result, op=mpi_op)
    if op is ReduceOp.AVG:
        result /= comm.Get_size()
    _write(tensor, result)


def reduce(tensor, dst, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce the tensor over all ranks into rank dst's tensor (the others keep theirs)."""
    comm = _comm("reduce")
    _check_rank(comm, dst, "reduce", "dst")
    mpi_op = _mpi_op(op, tensor.dtype, "reduce") if isinstance(tensor, Tensor) else None
    array = _host_array(tensor, "reduce")
    _check_alike(comm, "reduce", tensor)
    result = np.empty_like(array)
    comm.Reduce(array, result, op=mpi_op, root=dst)
    if comm.Get_rank() == dst:
        if op is ReduceOp.AVG:
            result /= comm.Get_size()
        _write(tensor, result)


def broadcast(tensor, src, group=None, async_op=False):
    """Copy rank src's tensor into every rank's tensor, in place."""
    comm = _comm("broadcast")
    _check_rank(comm, src, "broadcast", "src")
    array = _host_array(tensor, "broadcast")
    _check_alike(comm, "broadcast", tensor)
    comm.Bcast(array, root=src)
    _write(tensor, array)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """tensor_list[r] receives rank r's tensor, on every rank."""
    comm = _comm("all_gather")
    array = _host_array(tensor, "all_gather")
    if not isinstance(tensor_list, list) or len(tensor_list) != comm.Get_size():
        raise ValueError(f"all_gather: tensor_list must be a list of world_size ({comm.Get_size()}) tensors, "
                         f"got {len(tensor_list) if isinstance(tensor_list, list) else type(tensor_list).__name__}")
    for i, target in enumerate(tensor_list):
        _host_array(target, "all_gather", f"tensor_list[{i}]")
        if target.shape != tensor.shape or target.dtype is not tensor.dtype:
            raise ValueError(f"all_gather: tensor_list[{i}] has shape {list(target.shape)} and dtype "
                             f"{target.dtype}, tensor has shape {list(tensor.shape)} and dtype {tensor.dtype}")
    _check_alike(comm, "all_gather", tensor)
    result = np.empty((comm.Get_size(),) + array.shape, dtype=array.dtype)
    comm.Allgather(array, result)
    for target, part in zip(tensor_list, result):
        _write(target, part)


def _check_rank(comm, rank, caller, argument):
    if not isinstance(rank, (int, np.integer)) or not 0 <= rank < comm.Get_size():
        raise ValueError(f"{caller}: {argument} must be a rank in [0, {comm.Get_size()}), got {rank!r}")


def _communicator():
    """The process group's MPI communicator, for DistributedDataParallel's non-blocking reductions."""
    return _comm("DistributedDataParallel")


__all__ = ["ReduceOp", "is_available", "init_process_group", "destroy_process_group", "is_initialized", "get_rank",
           "get_world_size", "barrier", "all_reduce", "reduce", "broadcast", "all_gather"]
