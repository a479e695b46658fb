"""minigrad.models: d2l's modern CNNs as the book writes them (lazy layers), and nn.LazyBatchNorm1d/2d.
Layer shapes are the book's printed layer_summary output; forward and gradients match PyTorch from the
same weights (the same model code run on torch.nn); a few training steps lower the loss."""
import io
import pathlib

import numpy as np
import pytest

import minigrad
from minigrad import models, nn, optim
from test_checkpoint import lazy_bn_net

ROOT = pathlib.Path(__file__).resolve().parent.parent

# --- LazyBatchNorm1d / LazyBatchNorm2d ---------------------------------------------------------------


def test_lazy_batchnorm_becomes_batchnorm_with_num_features_from_the_input():
    bn1, bn2 = nn.LazyBatchNorm1d(momentum=0.2), nn.LazyBatchNorm2d(eps=1e-3, affine=False)
    weight, mean = bn1.weight, bn1.running_mean
    bn1(minigrad.randn(4, 7))
    bn2(minigrad.randn(2, 3, 4, 4))
    assert type(bn1) is nn.BatchNorm1d and bn1.num_features == 7 and bn1.momentum == 0.2
    assert type(bn2) is nn.BatchNorm2d and bn2.num_features == 3 and bn2.eps == 1e-3 and bn2.weight is None
    assert bn1.weight is weight and bn1.running_mean is mean
    assert bn1.weight.shape == bn1.bias.shape == bn1.running_var.shape == (7,)
    assert bn2.running_mean.shape == (3,) and bn2.num_batches_tracked.item() == 1
    np.testing.assert_array_equal(bn1.weight.detach().numpy(), np.ones(7))
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.LazyBatchNorm2d()(minigrad.randn(3, 4))


def test_lazy_batchnorm_model_loads_a_checkpoint_before_its_first_forward(tmp_path):
    minigrad.manual_seed(0)
    trained = lazy_bn_net()
    trained(minigrad.randn(6, 2, 4, 4))
    minigrad.save(trained.state_dict(), tmp_path / "bn.safetensors")
    fresh = lazy_bn_net()
    ids = [id(p) for p in fresh.parameters()]
    fresh.load_state_dict(minigrad.load(tmp_path / "bn.safetensors"))
    assert type(fresh[1]) is nn.BatchNorm2d and type(fresh[5]) is nn.BatchNorm1d
    assert [id(p) for p in fresh.parameters()] == ids
    x = minigrad.randn(3, 2, 4, 4)
    trained.eval(), fresh.eval()
    np.testing.assert_array_equal(fresh(x).detach().numpy(), trained(x).detach().numpy())


def test_lazy_batchnorm_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for ours, theirs, shape in ((nn.LazyBatchNorm1d(), torch.nn.LazyBatchNorm1d(), (5, 3)),
                                (nn.LazyBatchNorm1d(), torch.nn.LazyBatchNorm1d(), (5, 3, 4)),
                                (nn.LazyBatchNorm2d(momentum=None), torch.nn.LazyBatchNorm2d(momentum=None),
                                 (2, 3, 4, 4))):
        ours, theirs = ours.double(), theirs.double()
        for _ in range(2):
            x = rng.standard_normal(shape)
            np.testing.assert_allclose(ours(minigrad.from_numpy(x)).detach().numpy(),
                                       theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
        assert type(theirs).__name__ == type(ours).__name__
        for key, value in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-10, err_msg=key)


# --- the book's layer_summary shapes -----------------------------------------------------------------

BOOK = {  # (model, input size, the book's printed layer_summary: class name and output shape per layer)
    "LeNet": (models.LeNet, 28, [
        ("Conv2d", [1, 6, 28, 28]), ("Sigmoid", [1, 6, 28, 28]), ("AvgPool2d", [1, 6, 14, 14]),
        ("Conv2d", [1, 16, 10, 10]), ("Sigmoid", [1, 16, 10, 10]), ("AvgPool2d", [1, 16, 5, 5]),
        ("Flatten", [1, 400]), ("Linear", [1, 120]), ("Sigmoid", [1, 120]), ("Linear", [1, 84]),
        ("Sigmoid", [1, 84]), ("Linear", [1, 10])]),
    "BNLeNet": (models.BNLeNet, 28, [
        ("Conv2d", [1, 6, 24, 24]), ("BatchNorm2d", [1, 6, 24, 24]), ("Sigmoid", [1, 6, 24, 24]),
        ("AvgPool2d", [1, 6, 12, 12]), ("Conv2d", [1, 16, 8, 8]), ("BatchNorm2d", [1, 16, 8, 8]),
        ("Sigmoid", [1, 16, 8, 8]), ("AvgPool2d", [1, 16, 4, 4]), ("Flatten", [1, 256]), ("Linear", [1, 120]),
        ("BatchNorm1d", [1, 120]), ("Sigmoid", [1, 120]), ("Linear", [1, 84]), ("BatchNorm1d", [1, 84]),
        ("Sigmoid", [1, 84]), ("Linear", [1, 10])]),
    "AlexNet": (models.AlexNet, 224, [
        ("Conv2d", [1, 96, 54, 54]), ("ReLU", [1, 96, 54, 54]), ("MaxPool2d", [1, 96, 26, 26]),
        ("Conv2d", [1, 256, 26, 26]), ("ReLU", [1, 256, 26, 26]), ("MaxPool2d", [1, 256, 12, 12]),
        ("Conv2d", [1, 384, 12, 12]), ("ReLU", [1, 384, 12, 12]), ("Conv2d", [1, 384, 12, 12]),
        ("ReLU", [1, 384, 12, 12]), ("Conv2d", [1, 256, 12, 12]), ("ReLU", [1, 256, 12, 12]),
        ("MaxPool2d", [1, 256, 5, 5]), ("Flatten", [1, 6400]), ("Linear", [1, 4096]), ("ReLU", [1, 4096]),
        ("Dropout", [1, 4096]), ("Linear", [1, 4096]), ("ReLU", [1, 4096]), ("Dropout", [1, 4096]),
        ("Linear", [1, 10])]),
    "VGG": (lambda: models.VGG(arch=((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))), 224, [
        ("Sequential", [1, 64, 112, 112]), ("Sequential", [1, 128, 56, 56]), ("Sequential", [1, 256, 28, 28]),
        ("Sequential", [1, 512, 14, 14]), ("Sequential", [1, 512, 7, 7]), ("Flatten", [1, 25088]),
        ("Linear", [1, 4096]), ("ReLU", [1, 4096]), ("Dropout", [1, 4096]), ("Linear", [1, 4096]),
        ("ReLU", [1, 4096]), ("Dropout", [1, 4096]), ("Linear", [1, 10])]),
    "NiN": (models.NiN, 224, [
        ("Sequential", [1, 96, 54, 54]), ("MaxPool2d", [1, 96, 26, 26]), ("Sequential", [1, 256, 26, 26]),
        ("MaxPool2d", [1, 256, 12, 12]), ("Sequential", [1, 384, 12, 12]), ("MaxPool2d", [1, 384, 5, 5]),
        ("Dropout", [1, 384, 5, 5]), ("Sequential", [1, 10, 5, 5]), ("AdaptiveAvgPool2d", [1, 10, 1, 1]),
        ("Flatten", [1, 10])]),
    "GoogLeNet": (models.GoogLeNet, 96, [
        ("Sequential", [1, 64, 24, 24]), ("Sequential", [1, 192, 12, 12]), ("Sequential", [1, 480, 6, 6]),
        ("Sequential", [1, 832, 3, 3]), ("Sequential", [1, 1024]), ("Linear", [1, 10])]),
    "ResNet18": (models.ResNet18, 96, [
        ("Sequential", [1, 64, 24, 24]), ("Sequential", [1, 64, 24, 24]), ("Sequential", [1, 128, 12, 12]),
        ("Sequential", [1, 256, 6, 6]), ("Sequential", [1, 512, 3, 3]), ("Sequential", [1, 10])]),
    "DenseNet": (models.DenseNet, 96, [
        ("Sequential", [1, 64, 24, 24]), ("DenseBlock", [1, 192, 24, 24]), ("Sequential", [1, 96, 12, 12]),
        ("DenseBlock", [1, 224, 12, 12]), ("Sequential", [1, 112, 6, 6]), ("DenseBlock", [1, 240, 6, 6]),
        ("Sequential", [1, 120, 3, 3]), ("DenseBlock", [1, 248, 3, 3]), ("Sequential", [1, 10])]),
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "VGG" else n for n in BOOK])
def test_layer_summary_prints_the_books_shapes(name):
    build, size, expected = BOOK[name]
    out = io.StringIO()
    net = build()
    if name == "BNLeNet":  # BatchNorm1d cannot train on a batch of 1 (PyTorch refuses it too)
        net.eval()
    with minigrad.no_grad():
        net.layer_summary((1, 1, size, size), file=out)
    lines = out.getvalue().splitlines()
    assert lines == [f"{cls} output shape:\t minigrad.Size({shape})" for cls, shape in expected]


def test_any_input_channel_count_and_torchvision_builders():
    net = models.resnet18(num_classes=7)
    assert net(minigrad.randn(2, 3, 32, 32)).shape == (2, 7)
    assert models.googlenet()(minigrad.randn(1, 2, 32, 32)).shape == (1, 1000)
    assert [len(b) for b in models.densenet121().net if isinstance(b, models.DenseBlock) for b in [b.net]] == \
        [6, 12, 24, 16]
    assert sum(isinstance(m, nn.LazyConv2d) for m in models.vgg16(num_classes=3).modules()) == 13
    with pytest.raises(ValueError, match="pretrained"):
        models.resnet18(weights="IMAGENET1K_V1")


# --- PyTorch from the same weights; training lowers the loss -----------------------------------------

def torch_models():
    """minigrad/models/__init__.py's own code, run on torch.nn: the same architectures, built by PyTorch."""
    torch = pytest.importorskip("torch")
    source = (ROOT / "minigrad" / "models" / "__init__.py").read_text()
    source = source.replace("from minigrad import creation\n", "import torch as creation\n")
    source = source.replace("from minigrad import toplevel as _toplevel\n", "import torch as _toplevel\n")
    source = source.replace("from minigrad import nn\n", "from torch import nn\n")
    source = source.replace("from minigrad.nn import functional as F\n", "from torch.nn import functional as F\n")
    source = source.replace("from minigrad.autograd import no_grad", "from torch import no_grad")
    assert "minigrad" not in "\n".join(line for line in source.splitlines() if "import" in line)
    namespace = {"__name__": "torch_models"}
    exec(compile(source, "torch_models", "exec"), namespace)  # noqa: S102
    return torch, namespace


SMALL = {  # (builder name, input size, batch): reduced sizes that every layer still accepts
    "LeNet": (lambda m: m.LeNet(), 28, 4), "BNLeNet": (lambda m: m.BNLeNet(), 28, 4),
    "AlexNet": (lambda m: m.AlexNet(), 67, 2), "vgg11": (lambda m: m.vgg11(num_classes=10), 32, 2),
    "NiN": (lambda m: m.NiN(), 67, 2), "googlenet": (lambda m: m.googlenet(num_classes=10), 32, 2),
    "resnet18": (lambda m: m.resnet18(num_classes=10), 32, 4),  # BatchNorm over 2 values at 1x1 diverges
    "DenseNet": (lambda m: m.DenseNet(), 32, 4),
}


def no_dropout(net):
    for module in net.modules():
        if type(module).__name__ == "Dropout":
            module.p = 0.0


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in ("AlexNet", "vgg11", "googlenet")
                                  else n for n in SMALL])
def test_forward_and_gradients_match_pytorch_and_training_lowers_the_loss(name):
    torch, theirs_ns = torch_models()
    build, size, batch = SMALL[name]
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((batch, 1, size, size)), rng.integers(0, 10, batch)
    minigrad.manual_seed(0)
    ours = build(models).double()
    ours.apply_init([minigrad.from_numpy(x)], models.init_cnn)
    theirs = build(type("ns", (), theirs_ns)).double()
    theirs.apply_init([torch.from_numpy(x)])
    state = ours.state_dict()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in state.items()})
    no_dropout(ours), no_dropout(theirs)

    out = ours(minigrad.from_numpy(x))
    their_out = theirs(torch.from_numpy(x))
    np.testing.assert_allclose(out.detach().numpy(), their_out.detach().numpy(), rtol=1e-8, atol=1e-10)
    loss = minigrad.nn.functional.cross_entropy(out, minigrad.from_numpy(y))
    their_loss = torch.nn.functional.cross_entropy(their_out, torch.from_numpy(y))
    loss.backward()
    their_loss.backward()
    theirs_params = dict(theirs.named_parameters())
    # atol: BatchNorm over 2 values amplifies rounding, and a bias before a BatchNorm has a gradient of 0
    # up to rounding (1e-12 of the largest gradient)
    largest = max(np.abs(p.grad.numpy()).max() for p in theirs.parameters())
    for key, p in ours.named_parameters():
        expected = theirs_params[key].grad.numpy()
        np.testing.assert_allclose(p.grad.numpy(), expected, rtol=1e-7,
                                   atol=max(1e-9 * np.abs(expected).max(), 1e-12 * largest), err_msg=key)
    for key, value in theirs.state_dict().items():  # running statistics moved the same way
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-8, atol=1e-12,
                                   err_msg=key)

    optimizer = optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)
    losses = [loss.item()]
    for _ in range(3):
        optimizer.step()
        optimizer.zero_grad()
        loss = minigrad.nn.functional.cross_entropy(ours(minigrad.from_numpy(x)), minigrad.from_numpy(y))
        loss.backward()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses
    # the trained weights and running statistics give PyTorch's eval-mode output too
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    ours.eval(), theirs.eval()
    with minigrad.no_grad(), torch.no_grad():
        np.testing.assert_allclose(ours(minigrad.from_numpy(x)).numpy(), theirs(torch.from_numpy(x)).numpy(),
                                   rtol=1e-8, atol=1e-10)


# --- examples/train_cnn.py ------------------------------------------------------------------------------

def train_cnn():
    import importlib.util
    spec = importlib.util.spec_from_file_location("train_cnn", ROOT / "examples" / "train_cnn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("model", ["resnet18", "nin"] + [pytest.param(m, marks=pytest.mark.slow)
                                                         for m in ("vgg11", "googlenet", "densenet121")])
def test_train_cnn_smoke(model, tmp_path, capsys):
    history = train_cnn().main(["--model", model, "--dataset", "synthetic", "--epochs", "1", "--batch-size", "4",
                                "--max-batches", "1", "--no-progress", "--data-dir", str(tmp_path)])
    out = capsys.readouterr().out
    size = 68 if model == "nin" else 32
    assert f"training {model} (" in out and f"resized to {size}x{size}" in out and "epoch 1: loss" in out
    assert len(history) == 1 and np.isfinite(history[0]["loss"])


@pytest.mark.slow
def test_train_cnn_resumes_plots_and_rejects_a_too_small_image(tmp_path, capsys):
    script = train_cnn()
    common = ["--model", "resnet18", "--dataset", "synthetic", "--batch-size", "4", "--max-batches", "1",
              "--no-progress", "--data-dir", str(tmp_path), "--image-size", "32", "--optimizer", "adam"]
    whole, part = tmp_path / "whole.safetensors", tmp_path / "part.safetensors"
    a = script.main(common + ["--epochs", "2", "--checkpoint", str(whole), "--plot", str(tmp_path / "c.png")])
    script.main(common + ["--epochs", "1", "--checkpoint", str(part)])
    b = script.main(common + ["--epochs", "2", "--resume", str(part)])
    assert "resumed from" in capsys.readouterr().out and (tmp_path / "c.png").stat().st_size > 0
    assert [h["loss"] for h in a] == [h["loss"] for h in b]
    with pytest.raises(SystemExit):
        script.main(["--model", "nin", "--image-size", "64"])
    assert "--image-size must be at least 67 for nin" in capsys.readouterr().err


def test_train_cnn_resizes_with_nearest_neighbours():
    from minigrad.data import datasets
    digits = datasets.Synthetic(num_samples=3)
    big = train_cnn().resized(digits, 56)
    assert big.data.shape == (3, 56, 56) and big.scale == digits.scale and len(big) == 3
    np.testing.assert_array_equal(big.data[:, ::2, ::2], digits.data)
    np.testing.assert_array_equal(big.targets, digits.targets)
