"""Data-parallel training across processes (see minigrad.distributed)."""
from minigrad.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
