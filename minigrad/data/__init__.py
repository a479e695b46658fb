"""Data loading: Dataset, TensorDataset, DataLoader and the image datasets (also as minigrad.utils.data)."""
from minigrad.data import datasets
from minigrad.data.dataloader import (ConcatDataset, DataLoader, Dataset, Subset, TensorDataset, default_collate,
                                      random_split)
from minigrad.data.distributed import DistributedSampler

__all__ = ["datasets", "ConcatDataset", "DataLoader", "Dataset", "Subset", "TensorDataset", "default_collate",
           "random_split", "DistributedSampler"]
