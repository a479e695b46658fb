"""torch.utils.data's names: the same objects as minigrad.data (`from minigrad.utils.data import DataLoader`)."""
from minigrad.data import (ConcatDataset, DataLoader, Dataset, DistributedSampler, Subset, TensorDataset, datasets,
                           default_collate, random_split)
from minigrad.utils.data import distributed

__all__ = ["ConcatDataset", "DataLoader", "Dataset", "DistributedSampler", "Subset", "TensorDataset", "datasets",
           "default_collate", "distributed", "random_split"]
