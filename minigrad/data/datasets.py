"""Image-classification datasets: MNIST and Fashion-MNIST (IDX files, downloaded and checksummed),
Digits (scikit-learn's bundled 8x8 digits, offline) and Synthetic (generated, for smoke tests).

Every item is (image, label): a float32 tensor of shape (1, 28, 28) with values in [0, 1] (what
torchvision's ToTensor gives) and an int. `transform` and `target_transform` are applied per item.
"""
import gzip
import hashlib
import os
import pathlib

import numpy as np

from minigrad.creation import from_numpy, tensor
from minigrad.data.dataloader import Dataset
from minigrad.toplevel import stack


def read_idx(path):
    """The array in an IDX file (gzipped or raw), checking its header against its length."""
    with open(path, "rb") as stream:
        raw = stream.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise RuntimeError(f"read_idx: {path} is a corrupt or truncated gzip file ({error})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise RuntimeError(f"read_idx: {path} is not an IDX file of unsigned bytes (header {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise RuntimeError(f"read_idx: {path} is truncated: its header is incomplete")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected:
        raise RuntimeError(f"read_idx: {path} holds {len(raw)} bytes, but its header {shape} needs {expected} "
                           "(truncated or corrupt)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def md5sum(path):
    digest = hashlib.md5()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class DownloadError(RuntimeError):
    """A dataset could not be downloaded; the message says where to put its files by hand."""


def _root_cause(error):
    """`Type: message` of the innermost exception behind a download failure, on one line."""
    seen = set()
    while id(error) not in seen:
        seen.add(id(error))
        inner = error.__cause__ or error.__context__ or getattr(error, "reason", None)
        if not isinstance(inner, BaseException):
            break
        error = inner
    return " ".join(f"{type(error).__name__}: {error}".split())


class ImageDataset(Dataset):
    """Images held as a uint8 (N, 28, 28) array and labels as int64, served as float tensors."""

    classes = [str(i) for i in range(10)]

    def __init__(self, images, labels, transform=None, target_transform=None):
        self.data, self.targets = images, labels.astype(np.int64)
        self.transform, self.target_transform = transform, target_transform
        self.scale = 255.0

    def __len__(self):
        return len(self.targets)

    def _images(self, indices):
        return from_numpy((self.data[indices] / np.float32(self.scale)).astype(np.float32)[:, None])

    def __getitem__(self, index):
        image = self._images(np.array([index]))[0]
        label = int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def get_batch(self, indices):
        """The collated batch (images (B, 1, 28, 28), labels (B,)) for an index array, in one call."""
        if self.transform is None and self.target_transform is None:
            return [self._images(indices), from_numpy(self.targets[indices])]
        items = [self[int(i)] for i in indices]
        return [stack([image for image, _ in items]), tensor([label for _, label in items])]


class MNIST(ImageDataset):
    """MNIST from the IDX files in root/MNIST (gzipped or raw); download=True fetches and checks them."""

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    resources = {
        "train": [("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                  ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432")],
        "test": [("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")],
    }

    def __init__(self, root, train=True, download=False, transform=None, target_transform=None):
        self.root = pathlib.Path(root).expanduser()
        self.train = train
        folder = self.root / type(self).__name__
        paths = [self._locate(folder, name, md5, download) for name, md5 in self.resources["train" if train else "test"]]
        images, labels = read_idx(paths[0]), read_idx(paths[1])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise RuntimeError(f"{type(self).__name__}: {paths[0]} and {paths[1]} do not hold matching images "
                               f"(N, H, W) and labels (N,): got shapes {images.shape} and {labels.shape}")
        super().__init__(images, labels, transform, target_transform)

    def _locate(self, folder, name, md5, download):
        """The gzipped file (checksum verified) or the raw file (structure verified when read)."""
        gz, raw = folder / name, folder / name[:-3]
        if gz.exists():
            if md5sum(gz) != md5:
                raise RuntimeError(f"{type(self).__name__}: {gz} has the wrong checksum (expected md5 {md5}); "
                                   "it is corrupt or truncated: delete it and download again")
            return gz
        if raw.exists():
            return raw
        if not download:
            raise RuntimeError(f"{type(self).__name__}: dataset not found in {folder} (looked for {name}); "
                               "pass download=True to fetch it")
        return self._download(folder, name, md5)

    def _download(self, folder, name, md5):
        import pooch  # here, not at the top: importing it costs 27 ms of `import minigrad`
        # pooch writes to a temporary file and renames it only once the checksum matches
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RuntimeError(f"{type(self).__name__}: cannot create the data directory {folder}: {error}") from None
        failures = []
        for mirror in self.mirrors:
            try:
                path = pooch.retrieve(mirror + name, known_hash=f"md5:{md5}", fname=name, path=str(folder),
                                      progressbar=False)
                return pathlib.Path(path)
            except Exception as error:  # noqa: BLE001  (any network or checksum failure: try the next mirror)
                failures.append(f"{mirror}{name} ({_root_cause(error)})")
        files = [file for split in ("train", "test") for file, _ in self.resources[split]]
        raise DownloadError(
            f"{type(self).__name__}: could not download {name} (offline?); tried {', '.join(failures)}. "
            f"To install it by hand, place {', '.join(files)} (or the same unzipped, without .gz) in {folder}. "
            "To work offline, use the bundled Digits dataset: "
            "python examples/train_lenet.py --dataset digits --model modern")


class FashionMNIST(MNIST):
    """Fashion-MNIST: Zalando's clothing images in MNIST's format (md5s from its README)."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = {
        "train": [("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                  ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe")],
        "test": [("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                 ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")],
    }
    classes = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]


class Digits(ImageDataset):
    """scikit-learn's 1,797 bundled 8x8 digits (no download), each pixel repeated 3x3 and padded to 28x28.
    A fixed stratified split keeps 80% of each class for training and 20% for testing."""

    def __init__(self, root=None, train=True, transform=None, target_transform=None, seed=0):
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise RuntimeError("Digits needs scikit-learn: pip install 'minigrad[digits]'") from None
        bunch = load_digits()
        images = np.kron(bunch.images, np.ones((3, 3)))  # 8x8 -> 24x24
        images = np.pad(images, ((0, 0), (2, 2), (2, 2)))
        rng = np.random.default_rng(seed)
        chosen = []
        for label in range(10):
            members = rng.permutation(np.flatnonzero(bunch.target == label))
            cut = int(round(0.8 * len(members)))
            chosen.append(members[:cut] if train else members[cut:])
        keep = np.sort(np.concatenate(chosen))
        super().__init__(images[keep].astype(np.uint8), bunch.target[keep], transform, target_transform)
        self.train, self.scale = train, 16.0


class Synthetic(ImageDataset):
    """A generated 10-class set of 28x28 images: each class is a fixed random blob pattern, and each
    sample is its pattern shifted by up to 2 pixels with noise added. Quick to learn; for smoke tests."""

    def __init__(self, root=None, train=True, num_samples=None, transform=None, target_transform=None, seed=0):
        num_samples = (4096 if train else 1024) if num_samples is None else num_samples
        patterns = np.random.default_rng(seed).random((10, 7, 7))
        patterns = np.kron(patterns, np.ones((4, 4)))  # 28x28 blocks
        rng = np.random.default_rng(seed + (1 if train else 2))
        labels = rng.integers(0, 10, num_samples)
        shifts = rng.integers(-2, 3, (num_samples, 2))
        images = np.empty((num_samples, 28, 28))
        for i, (label, (dy, dx)) in enumerate(zip(labels, shifts)):
            images[i] = np.roll(patterns[label], (dy, dx), axis=(0, 1))
        images = np.clip(images + rng.normal(0, 0.25, images.shape), 0, 1)
        super().__init__((images * 255).astype(np.uint8), labels, transform, target_transform)
        self.train = train


def default_root():
    """Where datasets are cached: $MINIGRAD_DATA, else ~/.cache/minigrad/datasets."""
    return pathlib.Path(os.environ.get("MINIGRAD_DATA", pathlib.Path.home() / ".cache" / "minigrad" / "datasets"))


__all__ = ["read_idx", "md5sum", "DownloadError", "ImageDataset", "MNIST", "FashionMNIST", "Digits", "Synthetic",
           "default_root"]
