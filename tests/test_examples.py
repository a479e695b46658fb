"""What a new user sees: the cold-start notice, progress bars, the offline message, the pictures the examples
write, what pytest says without PyTorch, and what .gitignore covers."""
import os
import pathlib
import shutil
import socket
import subprocess
import sys

import numpy as np
import pooch
import pytest
import requests

from minigrad.data import datasets

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(EXAMPLES))
NOTICE = "minigrad: compiling CPU kernels"


def run(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=300)


def user_stderr(stderr):
    """stderr without the cold-start notice (the tests may run before the kernels are cached)."""
    return "\n".join(line for line in stderr.splitlines() if not line.startswith(NOTICE))


# --- cold start -----------------------------------------------------------------------------------------

COMPILE_TWO_KERNELS = """
import sys
import numpy as np
from tqdm import tqdm
from minigrad_kernels.cpu import elementwise
x = np.linspace(-1, 1, 8)
with tqdm(total=2, desc="bar", file=sys.stderr) as bar:
    elementwise.sigmoid_backward(x, x)
    bar.update()
    elementwise.erf(x)
    bar.update()
"""


def test_a_cold_kernel_cache_says_once_that_it_compiles_and_a_warm_one_says_nothing(tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path)}
    cold = run("-c", COMPILE_TWO_KERNELS, env=env)
    assert cold.returncode == 0, cold.stderr
    assert cold.stderr.count(NOTICE) == 1 and str(tmp_path) in cold.stderr  # once, though two kernels compiled
    segments = cold.stderr.replace("\r", "\n").splitlines()
    assert any(segment.startswith(NOTICE) for segment in segments)  # on its own line, not after the bar
    assert cold.stdout == ""
    warm = run("-c", COMPILE_TWO_KERNELS, env=env)
    assert warm.returncode == 0 and "bar" in warm.stderr and NOTICE not in warm.stderr, warm.stderr


# --- offline ----------------------------------------------------------------------------------------------

def offline_retrieve(url, **kwargs):
    """What pooch raises when there is no network: a requests ConnectionError caused by a failed DNS lookup."""
    host = url.split("/")[2]
    try:
        raise socket.gaierror(-3, "Temporary failure in name resolution")
    except socket.gaierror as cause:
        raise requests.exceptions.ConnectionError(
            f"HTTPConnectionPool(host='{host}', port=80): Max retries exceeded with url: /x (Caused by "
            f"NameResolutionError(\"HTTPConnection(host='{host}', port=80): Failed to resolve '{host}'\"))") from cause


def test_a_failed_download_says_where_to_put_the_files_and_what_works_offline(tmp_path, monkeypatch):
    monkeypatch.setattr(pooch, "retrieve", offline_retrieve)
    with pytest.raises(datasets.DownloadError) as caught:
        datasets.FashionMNIST(tmp_path, train=True, download=True)
    message = str(caught.value)
    assert isinstance(caught.value, RuntimeError) and "\n" not in message
    assert "could not download train-images-idx3-ubyte.gz" in message
    assert "gaierror: [Errno -3] Temporary failure in name resolution" in message  # the cause, whole
    assert str(tmp_path / "FashionMNIST") in message
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        assert name in message
    assert message.endswith("python examples/train_lenet.py --dataset digits --model modern")
    assert list((tmp_path / "FashionMNIST").iterdir()) == []


OFFLINE_RUN = """
import runpy, sys
sys.path.insert(0, {tests!r})
import pooch
import test_examples
pooch.retrieve = test_examples.offline_retrieve
sys.argv = [{script!r}, "--no-progress"]
runpy.run_path({script!r}, run_name="__main__")
"""


@pytest.mark.parametrize("script", ["train_lenet.py", "fmnist_cnn.py"])
def test_the_examples_end_offline_in_one_whole_line(tmp_path, script):
    path = str(EXAMPLES / script)
    result = run("-c", OFFLINE_RUN.format(tests=str(ROOT / "tests"), script=path),
                 env={"MINIGRAD_DATA": str(tmp_path)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"{script}: error: FashionMNIST: could not download")
    assert str(tmp_path / "FashionMNIST") in last and last.endswith("--dataset digits --model modern")


def test_the_docstring_gives_the_offline_command_with_the_modern_model():
    import train_lenet

    assert "train_lenet.py --dataset digits --model modern  # offline" in train_lenet.__doc__


# --- progress and where the files go --------------------------------------------------------------------

def test_fmnist_cnn_shows_a_progress_bar_unless_told_not_to():
    args = ("--dataset", "digits", "--epochs", "1", "--max-batches", "2", "--batch-size", "16")
    result = run(EXAMPLES / "fmnist_cnn.py", *args)
    assert result.returncode == 0, result.stderr
    assert "epoch 1/1" in result.stderr and "/2 [" in result.stderr  # a bar over the 2 batches
    assert result.stdout.startswith("epoch 1: loss") and "test acc" in result.stdout
    quiet = run(EXAMPLES / "fmnist_cnn.py", *args, "--no-progress")
    assert quiet.returncode == 0 and user_stderr(quiet.stderr) == ""


def image_stats(path):
    from PIL import Image

    with Image.open(path) as image:
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    return image.size, pixels.std()


def check_picture(path, widths, heights):
    """Written, within the size range in pixels, and not blank."""
    (width, height), spread = image_stats(path)
    assert widths[0] <= width <= widths[1] and heights[0] <= height <= heights[1], (path.name, width, height)
    assert spread > 10, f"{path.name} looks blank (pixel std {spread:.1f})"


def test_visualize_writes_readable_pictures_into_the_current_directory_by_default(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    result = run(EXAMPLES / "visualize.py", "--epochs", "1", "--max-batches", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "visualizations"
    assert f"in {out}" in result.stdout
    assert "training modern LeNet on digits" in result.stderr and "/2 [" in result.stderr
    check_picture(out / "filters.png", (500, 1400), (150, 500))
    check_picture(out / "feature_maps.png", (600, 1400), (250, 800))  # was 2304 x 336
    check_picture(out / "gradcam.png", (400, 1000), (250, 600))


# --- what the pictures show (figures kept open to inspect them) -----------------------------------------

@pytest.fixture
def figures(monkeypatch):
    plt = pytest.importorskip("matplotlib.pyplot")
    kept = []
    monkeypatch.setattr(plt, "close", kept.append)
    yield plt, kept
    monkeypatch.undo()
    for fig in kept:
        plt.close(fig)


def colorbars(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_filters_share_one_scale_by_default_and_say_so(figures, tmp_path):
    import visualize

    plt, kept = figures
    weight = np.random.default_rng(0).normal(0, 0.2, (6, 1, 5, 5))
    weight[0] *= 10  # one filter with a much wider range
    visualize.plot_filters(plt, weight, tmp_path / "shared.png")
    visualize.plot_filters(plt, weight, tmp_path / "each.png", scale="each")
    shared, each = kept
    limits = {image.get_clim() for ax in shared.axes for image in ax.get_images()}
    assert len(limits) == 1 and len(colorbars(shared)) == 1 and "one shared scale" in shared._suptitle.get_text()
    assert len({image.get_clim() for ax in each.axes for image in ax.get_images()}) == 6
    assert "own scale" in each._suptitle.get_text()
    check_picture(tmp_path / "shared.png", (500, 1400), (150, 500))


def test_feature_maps_label_each_layer_with_its_shape_and_have_colour_bars(figures, tmp_path):
    import visualize

    plt, kept = figures
    rng = np.random.default_rng(1)
    maps = [("layer 0: Conv2d", rng.random((6, 28, 28))), ("layer 3: Conv2d", rng.random((16, 10, 10)))]
    visualize.plot_feature_maps(plt, maps, tmp_path / "maps.png", "feature maps")
    (fig,) = kept
    labels = [subfig._supylabel.get_text() for subfig in fig.subfigs]
    assert labels == ["layer 0: Conv2d\n6 x 28 x 28", "layer 3: Conv2d\n16 x 10 x 10"]
    assert sum(len(colorbars(subfig)) for subfig in fig.subfigs) == 2
    check_picture(tmp_path / "maps.png", (600, 1400), (250, 800))


def test_gradcam_names_the_true_and_predicted_class_and_has_a_colour_bar(figures, tmp_path):
    import visualize

    plt, kept = figures
    image = np.random.default_rng(2).random((28, 28))
    visualize.plot_gradcam(plt, image, image / image.max(), tmp_path / "cam.png", "class 3", "3", "5")
    (fig,) = kept
    titles = " ".join(ax.get_title() for ax in fig.axes)
    assert "true 3" in titles and "predicted 5" in titles and "Grad-CAM for class 3" in titles
    assert len(colorbars(fig)) == 1
    check_picture(tmp_path / "cam.png", (400, 1000), (250, 600))


def test_curves_have_integer_epochs_an_axis_per_quantity_a_title_and_legends(figures, tmp_path):
    import train_lenet

    plt, kept = figures
    history = [dict(epoch=e, loss=2.3 / e, train_acc=0.1 + 0.08 * e, test_acc=0.1 + 0.07 * e) for e in range(1, 6)]
    train_lenet.plot_curves(tmp_path / "curves.png", history, model="modern", dataset="digits")
    train_lenet.plot_curves(tmp_path / "one.png", history[:1])
    fig, single = kept
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_ylabel() == "cross-entropy loss" and acc_ax.get_ylabel() == "accuracy"
    for ax in (loss_ax, acc_ax, *single.axes):
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        assert ax.get_legend() is not None and ax.get_xlabel() == "epoch"
    assert fig._suptitle.get_text() == "modern LeNet on digits: final test accuracy 0.450"
    check_picture(tmp_path / "curves.png", (500, 1200), (250, 600))


# --- what pytest says without PyTorch, and what git ignores ---------------------------------------------

WITHOUT_TORCH = """
import importlib.abc, sys
class NoTorch(importlib.abc.MetaPathFinder):  # `import torch` fails as if it were not installed
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoTorch())
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""


def test_pytest_says_why_tests_are_skipped_without_pytorch():
    args = ("-q", "-p", "no:cacheprovider", "tests/test_edge_cases.py", "-k", "circular_padding_crops")
    result = run("-c", WITHOUT_TORCH, *args, cwd=ROOT)
    assert result.returncode == 0, result.stdout
    assert "PyTorch not installed: 1 oracle comparison skipped; pip install torch==2.13.0 to run them" in result.stdout
    assert "SKIPPED [1] tests/test_edge_cases.py" in result.stdout and "No module named 'torch'" in result.stdout
    header = run("-c", WITHOUT_TORCH, *args[1:], cwd=ROOT)
    assert "PyTorch not installed: the tests that compare with it (the oracle) are skipped" in header.stdout


def test_pytest_says_nothing_about_pytorch_when_it_is_installed():
    pytest.importorskip("torch")
    result = run("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_edge_cases.py", "-k",
                 "circular_padding_crops", cwd=ROOT)
    assert result.returncode == 0 and "1 passed" in result.stdout and "PyTorch not installed" not in result.stdout


def test_gitignore_covers_what_the_examples_write():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    written = ["curves.png", "examples/curves.png", "lenet.safetensors", "visualizations/filters.png"]
    result = subprocess.run(["git", "check-ignore", *written], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.split() == written
