"""Dataset, TensorDataset and DataLoader with torch.utils.data's names and defaults.

A dataset may offer `get_batch(indices)`, returning the collated batch for an index array in one
vectorized call; DataLoader uses it when no collate_fn is given (TensorDataset and the image datasets
do), and otherwise fetches items one by one and collates them.
"""
import numbers
import warnings

import numpy as np

from minigrad._dtype import float64
from minigrad.creation import tensor
from minigrad.toplevel import stack
from minigrad.random import generator_or_default
from minigrad.tensor import Tensor


class Dataset:
    """Subclass and implement __getitem__ (and __len__ for DataLoader)."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")


class TensorDataset(Dataset):
    """Items are tuples (t[i] for t in tensors); all tensors share their first dimension."""

    def __init__(self, *tensors):
        if not tensors or not all(isinstance(t, Tensor) for t in tensors):
            raise TypeError("TensorDataset: expected one or more Tensors")
        if any(t.shape[0] != tensors[0].shape[0] for t in tensors):
            raise ValueError(f"TensorDataset: Size mismatch between tensors: first dimensions "
                             f"{[t.shape[0] for t in tensors]}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def get_batch(self, indices):
        key = tensor(indices)
        return [t[key] for t in self.tensors]


class Subset(Dataset):
    """The items of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)

    def get_batch(self, indices):
        inner = getattr(self.dataset, "get_batch", None)
        if inner is None:
            raise AttributeError("get_batch")
        return inner(np.asarray(self.indices, dtype=np.int64)[np.asarray(indices, dtype=np.int64)])


class ConcatDataset(Dataset):
    """The datasets one after another; cumulative_sizes[i] is the length of the first i + 1 of them."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if index < 0:
            if -index > len(self):
                raise ValueError("ConcatDataset: absolute value of index should not exceed dataset length")
            index += len(self)
        which = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        if which == len(self.datasets):
            raise IndexError(f"ConcatDataset: index {index} is out of range for a dataset of length {len(self)}")
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def random_split(dataset, lengths, generator=None):
    """Split dataset into non-overlapping Subsets of the given lengths (or fractions that sum to 1)."""
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and abs(sum(lengths) - 1) < 1e-9:
        if any(not 0 <= x <= 1 for x in lengths):
            raise ValueError(f"random_split: fractions must be between 0 and 1, got {lengths}")
        counts = [int(np.floor(n * x)) for x in lengths]
        for i in range(n - sum(counts)):  # the remainder, one each, round-robin as PyTorch does
            counts[i % len(counts)] += 1
        lengths = counts
    if any(not isinstance(x, (int, np.integer)) or x < 0 for x in lengths) or sum(lengths) != n:
        raise ValueError(f"random_split: Sum of input lengths ({lengths}) does not equal the length of the input "
                         f"dataset ({n}), or a length is not a non-negative int")
    order = generator_or_default(generator).numpy.permutation(n).tolist()
    offsets = np.cumsum([0] + lengths).tolist()
    return [Subset(dataset, order[offsets[i]:offsets[i + 1]]) for i in range(len(lengths))]


class ShapeMismatchError(RuntimeError):
    """Raised by default_collate; `position` is the offending sample's place in the batch."""

    def __init__(self, position, shape, first_shape):
        super().__init__(f"default_collate: sample {position} of the batch has shape {shape}, but sample 0 has "
                         f"shape {first_shape}; every sample must have the same shape")
        self.position, self.shape, self.first_shape = position, shape, first_shape


def default_collate(batch):
    """Stack a list of samples: tensors are stacked, numbers become a tensor, tuples are collated
    field by field."""
    first = batch[0]
    if isinstance(first, Tensor):
        for i, item in enumerate(batch):
            if not isinstance(item, Tensor) or item.shape != first.shape:
                shape = list(item.shape) if isinstance(item, Tensor) else type(item).__name__
                raise ShapeMismatchError(i, shape, list(first.shape))
        return stack(batch)
    if isinstance(first, float):
        return tensor(batch, dtype=float64)  # as PyTorch's default_collate
    if isinstance(first, (numbers.Number, np.generic)):
        return tensor(batch)
    if isinstance(first, np.ndarray):
        return default_collate([tensor(item) for item in batch])
    if isinstance(first, (tuple, list)):
        if any(len(item) != len(first) for item in batch):
            raise RuntimeError("default_collate: each element in the batch should be of equal size")
        return [default_collate(list(field)) for field in zip(*batch)]
    if isinstance(first, dict):
        return {key: default_collate([item[key] for item in batch]) for key in first}
    raise TypeError(f"default_collate: batch must contain tensors, numbers, arrays, dicts or lists; "
                    f"found {type(first).__name__}")


class DataLoader:
    """Iterate over a dataset in batches, optionally shuffled (reproducibly, with manual_seed or generator),
    or in the order a sampler gives (DistributedSampler: this rank's share).

    num_workers is accepted for compatibility and ignored, with a one-time warning: loading runs in the calling
    process. pin_memory, timeout, worker_init_fn, persistent_workers and prefetch_factor are accepted and ignored.
    """
    _warned_workers = False

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, **_compat):
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size <= 0):
            raise ValueError(f"DataLoader: batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size!r}")
        if not hasattr(dataset, "__len__"):
            raise TypeError(f"DataLoader: the dataset ({type(dataset).__name__}) must define __len__")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            raise ValueError("DataLoader: batch_sampler is not supported; pass a sampler and batch_size instead")
        if sampler is not None and not hasattr(sampler, "__iter__"):
            raise TypeError(f"DataLoader: sampler must be an iterable of dataset indices, got "
                            f"{type(sampler).__name__}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, bool(shuffle), drop_last
        self.sampler, self.collate_fn, self.generator, self.num_workers = sampler, collate_fn, generator, num_workers
        if num_workers and not DataLoader._warned_workers:
            DataLoader._warned_workers = True
            warnings.warn(f"DataLoader: num_workers={num_workers} is ignored; minigrad loads batches in the calling "
                          "process (this warning is shown once)", stacklevel=2)

    def _order(self):
        if self.sampler is not None:
            return np.fromiter(self.sampler, dtype=np.int64)
        n = len(self.dataset)
        return generator_or_default(self.generator).numpy.permutation(n) if self.shuffle else np.arange(n)

    def __iter__(self):
        order = self._order()
        if self.batch_size is None:
            for i in order:
                yield self.dataset[int(i)]
            return
        get_batch = getattr(self.dataset, "get_batch", None) if self.collate_fn is None else None
        for start in range(0, len(order), self.batch_size):
            indices = order[start:start + self.batch_size]
            if self.drop_last and len(indices) < self.batch_size:
                return
            if get_batch is not None:
                yield get_batch(indices)
            else:
                yield self._collate([self.dataset[int(i)] for i in indices], indices)

    def _collate(self, items, indices):
        if self.collate_fn is not None:
            return self.collate_fn(items)
        try:
            return default_collate(items)
        except ShapeMismatchError as error:
            raise RuntimeError(f"DataLoader: dataset item {int(indices[error.position])} has shape {error.shape}, "
                               f"but item {int(indices[0])} of the same batch has shape {error.first_shape}; "
                               "every item must have the same shape (or pass a collate_fn)") from None

    def __len__(self):
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
