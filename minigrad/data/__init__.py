"""Data loading: Dataset, TensorDataset, DataLoader and the image datasets (also as minigrad.utils.data)."""
from minigrad.data import datasets
from minigrad.data.dataloader import DataLoader, Dataset, TensorDataset, default_collate
from minigrad.data.distributed import DistributedSampler

__all__ = ["datasets", "DataLoader", "Dataset", "TensorDataset", "default_collate", "DistributedSampler"]
