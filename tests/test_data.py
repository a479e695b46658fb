"""Data: IDX files made by the test, downloads served by a loopback HTTP server, corrupt, truncated and
mis-checksummed files, DataLoader semantics, a LeNet that learns Synthetic, and the examples' command lines."""
import functools
import gzip
import hashlib
import http.server
import pathlib
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import minigrad
from minigrad import nn
from minigrad.data import DataLoader, Dataset, TensorDataset, datasets

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def idx_bytes(array):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.tobytes()


def tiny_mnist(rng, n):
    return rng.integers(0, 256, (n, 28, 28)), rng.integers(0, 10, n)


def write_split(folder, prefix, images, labels, compress=True):
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
        name = f"{prefix}-{kind}-ubyte"
        data = idx_bytes(array)
        if compress:
            data = gzip.compress(data)
            name += ".gz"
        (folder / name).write_bytes(data)
        files[name] = hashlib.md5(data).hexdigest()
    return files


def test_reads_gzipped_and_raw_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = tiny_mnist(rng, 5)
    files = write_split(tmp_path / "MNIST", "t10k", images, labels, compress=False)
    test = datasets.MNIST(tmp_path, train=False)
    assert len(test) == 5 and test[2][1] == labels[2]
    np.testing.assert_allclose(test[2][0].numpy()[0], images[2] / 255, rtol=1e-6)
    assert test[0][0].shape == (1, 28, 28) and test[0][0].dtype is minigrad.float32
    assert len(files) == 2
    class Tiny(datasets.MNIST):
        resources = {"train": [], "test": [(name, md5) for name, md5 in
                                           write_split(tmp_path / "Tiny", "t10k", images, labels).items()]}
    np.testing.assert_array_equal(Tiny(tmp_path, train=False).targets, labels)


def test_missing_corrupt_truncated_and_wrong_checksum_files(tmp_path):
    rng = np.random.default_rng(1)
    with pytest.raises(RuntimeError, match="dataset not found .* pass download=True"):
        datasets.MNIST(tmp_path, train=False)
    images, labels = tiny_mnist(rng, 4)
    folder = tmp_path / "MNIST"
    write_split(folder, "t10k", images, labels, compress=False)
    raw = folder / "t10k-images-idx3-ubyte"
    raw.write_bytes(raw.read_bytes()[:-10])
    with pytest.raises(RuntimeError, match="truncated or corrupt"):
        datasets.MNIST(tmp_path, train=False)
    raw.write_bytes(b"not an idx file at all")
    with pytest.raises(RuntimeError, match="is not an IDX file"):
        datasets.MNIST(tmp_path, train=False)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images))[:-20])
    with pytest.raises(RuntimeError, match="wrong checksum"):
        datasets.MNIST(tmp_path, train=False)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def file_server(tmp_path):
    """A loopback HTTP server for the files in tmp_path/served."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_verifies_checksums_and_leaves_nothing_half_written(tmp_path, file_server):
    served, url = file_server
    rng = np.random.default_rng(2)
    images, labels = tiny_mnist(rng, 6)
    checksums = write_split(served, "t10k", images, labels)
    names = sorted(checksums)

    class Mirrored(datasets.MNIST):
        mirrors = ["http://127.0.0.1:9/", url]  # the first mirror refuses connections
        resources = {"train": [], "test": [(n, checksums[n]) for n in names]}

    data = Mirrored(tmp_path / "cache", train=False, download=True)
    assert len(data) == 6 and data[5][1] == labels[5]
    assert sorted(p.name for p in (tmp_path / "cache" / "Mirrored").iterdir()) == names

    class WrongChecksum(Mirrored):
        resources = {"train": [], "test": [(n, "0" * 32) for n in names]}

    with pytest.raises(RuntimeError, match="could not download .* tried"):
        WrongChecksum(tmp_path / "cache", train=False, download=True)
    leftovers = list((tmp_path / "cache" / "WrongChecksum").iterdir())
    assert leftovers == []  # no half-downloaded or unverified file where it looks valid

    class Offline(Mirrored):
        mirrors = ["http://127.0.0.1:9/"]
        resources = {"train": [], "test": [(n, checksums[n]) for n in names]}

    with pytest.raises(RuntimeError, match="offline"):
        Offline(tmp_path / "cache", train=False, download=True)


def test_dataloader_batches_shuffles_reproducibly_and_drops_last():
    data = TensorDataset(minigrad.arange(10).float(), minigrad.arange(10))
    batches = list(DataLoader(data, batch_size=4))
    assert [len(b[1]) for b in batches] == [4, 4, 2] and batches[0][1].tolist() == [0, 1, 2, 3]
    assert len(DataLoader(data, batch_size=4, drop_last=True)) == 2
    minigrad.manual_seed(3)
    first = [b[1].tolist() for b in DataLoader(data, batch_size=5, shuffle=True)]
    minigrad.manual_seed(3)
    second = [b[1].tolist() for b in DataLoader(data, batch_size=5, shuffle=True)]
    assert first == second and sorted(sum(first, [])) == list(range(10)) and first != [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    g = minigrad.Generator().manual_seed(7)
    order = [b[1].tolist() for b in DataLoader(data, batch_size=10, shuffle=True, generator=g)]
    assert order == [b[1].tolist() for b in DataLoader(data, 10, shuffle=True, generator=minigrad.Generator().manual_seed(7))]
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(data, batch_size=0)


class Ragged(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, index):
        return minigrad.zeros(3 if index != 4 else 2), index


def test_collate_stacks_samples_and_names_the_inconsistent_item():
    items = next(iter(DataLoader(Ragged(), batch_size=3)))
    assert items[0].shape == (3, 3) and items[1].tolist() == [0, 1, 2]
    with pytest.raises(RuntimeError, match="dataset item 4 has shape \\[2\\], but item 3"):
        list(DataLoader(Ragged(), batch_size=3))


def test_digits_split_is_stratified_and_fixed():
    pytest.importorskip("sklearn")
    train, test = datasets.Digits(train=True), datasets.Digits(train=False)
    assert len(train) + len(test) == 1797 and abs(len(test) - 0.2 * 1797) < 10
    counts = np.bincount(test.targets, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38
    assert train[0][0].shape == (1, 28, 28) and 0 <= train[0][0].min().item() and train[0][0].max().item() <= 1
    np.testing.assert_array_equal(datasets.Digits(train=False).targets, test.targets)


def test_lenet_learns_synthetic_to_95_percent_within_a_minute():
    sys.path.insert(0, str(EXAMPLES))
    import train_lenet

    minigrad.manual_seed(0)
    start = time.perf_counter()
    train_set, test_set = datasets.Synthetic(train=True), datasets.Synthetic(train=False)
    net = train_lenet.build_model(nn, "modern")
    optimizer = minigrad.optim.Adam(net.parameters(), lr=0.001)
    for _ in range(4):
        for X, y in DataLoader(train_set, 64, shuffle=True):
            optimizer.zero_grad()
            nn.functional.cross_entropy(net(X), y).backward()
            optimizer.step()
    accuracy = train_lenet.evaluate_accuracy(minigrad, net, DataLoader(test_set, 256))
    assert accuracy > 0.95
    assert time.perf_counter() - start < 60


def run_example(*args, cwd=None):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_train_lenet_command_line(tmp_path):
    result = run_example(EXAMPLES / "train_lenet.py", "--dataset", "imagenet")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "invalid choice: 'imagenet'" in result.stderr
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    result = run_example(EXAMPLES / "train_lenet.py", "--dataset", "mnist", "--data-dir", not_a_dir, "--epochs", "1")
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("train_lenet.py: error:")
    checkpoint = tmp_path / "lenet.safetensors"
    result = run_example(EXAMPLES / "train_lenet.py", "--dataset", "synthetic", "--model", "modern", "--epochs", "1",
                         "--no-progress", "--checkpoint", checkpoint)
    assert result.returncode == 0, result.stderr
    assert "epoch 1: loss" in result.stdout and "examples/sec on cpu" in result.stdout and checkpoint.exists()
    result = run_example(EXAMPLES / "train_lenet.py", "--dataset", "synthetic", "--model", "modern", "--epochs", "2",
                         "--no-progress", "--resume", checkpoint)
    assert result.returncode == 0, result.stderr
    assert "resumed from" in result.stdout and "epoch 2: loss" in result.stdout and "epoch 1: loss" not in result.stdout


def test_learn_kernel_recovers_the_edge_detector():
    result = run_example(EXAMPLES / "learn_kernel.py")
    assert result.returncode == 0, result.stderr
    losses = [float(line.split("loss ")[1]) for line in result.stdout.splitlines() if line.startswith("epoch")]
    assert len(losses) == 5 and losses == sorted(losses, reverse=True) and losses[-1] < 0.5
    kernel = eval(result.stdout.strip().splitlines()[-1].split(":", 1)[1])
    assert abs(kernel[0] - 1) < 0.2 and abs(kernel[1] + 1) < 0.2


def test_visualize_writes_its_pictures(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    result = run_example(EXAMPLES / "visualize.py", "--epochs", "1", "--out-dir", tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("filters.png", "feature_maps.png", "gradcam.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_lenet_plots_its_curves(tmp_path):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "curves.png"
    result = run_example(EXAMPLES / "train_lenet.py", "--dataset", "synthetic", "--model", "bn", "--epochs", "1",
                         "--batch-size", "512", "--no-progress", "--plot", plot)
    assert result.returncode == 0, result.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fmnist_cnn_trains_an_epoch():
    pytest.importorskip("sklearn")
    result = run_example(EXAMPLES / "fmnist_cnn.py", "--dataset", "digits", "--epochs", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("epoch 1: loss") and "test acc" in result.stdout


# --- Subset, ConcatDataset, random_split, DataLoader's PyTorch-only arguments -------------------------------

def test_random_split_lengths_and_fractions():
    from minigrad.utils.data import Subset, random_split
    data = TensorDataset(minigrad.arange(10))
    parts = random_split(data, [3, 7], generator=minigrad.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [3, 7] and all(isinstance(p, Subset) for p in parts)
    assert sorted(i for p in parts for i in p.indices) == list(range(10))
    assert [len(p) for p in random_split(data, [0.35, 0.35, 0.3])] == [4, 3, 3]  # the remainder round-robin
    again = random_split(data, [3, 7], generator=minigrad.Generator().manual_seed(0))
    assert [p.indices for p in again] == [p.indices for p in parts]
    assert [x.item() for (x,) in DataLoader(parts[0], batch_size=None)] == parts[0].indices  # get_batch-less path
    assert next(iter(DataLoader(parts[1], batch_size=7)))[0].tolist() == parts[1].indices  # vectorized path
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(data, [3, 3])


def test_random_split_matches_pytorch_lengths():
    torch = pytest.importorskip("torch")
    for n, fractions in ((10, [0.35, 0.35, 0.3]), (7, [0.5, 0.5]), (101, [0.8, 0.1, 0.1])):
        ours = [len(p) for p in minigrad.utils.data.random_split(TensorDataset(minigrad.arange(n)), fractions)]
        theirs = [len(p) for p in torch.utils.data.random_split(range(n), fractions)]
        assert ours == theirs


def test_concat_dataset():
    from minigrad.utils.data import ConcatDataset
    data = ConcatDataset([TensorDataset(minigrad.arange(3)), TensorDataset(minigrad.arange(10, 15))])
    assert len(data) == 8 and data.cumulative_sizes == [3, 8]
    assert [data[i][0].item() for i in (0, 2, 3, 7, -1, -8)] == [0, 2, 10, 14, 14, 0]
    assert [b[0].tolist() for b in DataLoader(data, batch_size=4)] == [[0, 1, 2, 10], [11, 12, 13, 14]]
    with pytest.raises(IndexError):
        data[8]
    with pytest.raises(ValueError, match="should not be an empty iterable"):
        ConcatDataset([])


def test_dataloader_takes_pytorch_arguments_and_warns_once_about_workers():
    import warnings
    data = TensorDataset(minigrad.arange(6))
    DataLoader._warned_workers = False
    with pytest.warns(UserWarning, match="num_workers=2 is ignored"):
        loader = DataLoader(data, batch_size=4, shuffle=False, num_workers=2, pin_memory=True, drop_last=True,
                            persistent_workers=True, prefetch_factor=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DataLoader(data, num_workers=2)  # once per process
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3]]
