"""torch.utils.data's names: the same objects as minigrad.data (`from minigrad.utils.data import DataLoader`)."""
from minigrad.data import DataLoader, Dataset, DistributedSampler, TensorDataset, datasets, default_collate
from minigrad.utils.data import distributed

__all__ = ["DataLoader", "Dataset", "DistributedSampler", "TensorDataset", "datasets", "default_collate",
           "distributed"]
