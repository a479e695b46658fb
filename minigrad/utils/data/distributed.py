"""torch.utils.data.distributed's names: DistributedSampler, the same object as minigrad.data's."""
from minigrad.data.distributed import DistributedSampler

__all__ = ["DistributedSampler"]
