"""nn: Module mechanics, every layer against PyTorch (forward, gradients, init statistics, state_dict keys),
train/eval behaviour, losses, summary, and the errors a user meets."""
import math

import numpy as np
import pytest

import minigrad
from minigrad import nn
from checks import leaf



def _torch():
    return pytest.importorskip("torch")


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


def torch_lenet(t):
    tn = t.nn
    return tn.Sequential(
        tn.Conv2d(1, 6, kernel_size=5, padding=2), tn.Sigmoid(), tn.AvgPool2d(kernel_size=2, stride=2),
        tn.Conv2d(6, 16, kernel_size=5), tn.Sigmoid(), tn.AvgPool2d(kernel_size=2, stride=2), tn.Flatten(),
        tn.Linear(16 * 5 * 5, 120), tn.Sigmoid(), tn.Linear(120, 84), tn.Sigmoid(), tn.Linear(84, 10))


def copy_to_torch(ours, theirs):
    t = _torch()
    theirs.load_state_dict({k: t.tensor(v.numpy()) for k, v in ours.state_dict().items()})


# --- Module mechanics ----------------------------------------------------------------------------------

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
        self.head = nn.Linear(8, 3)
        self.register_buffer("scale", minigrad.ones(1))
        self.register_buffer("scratch", minigrad.zeros(1), persistent=False)

    def forward(self, x):
        return self.head(self.features(x).flatten(1)[:, :8]) * self.scale


def test_registration_traversal_and_state_dict():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["features.0.weight", "features.0.bias", "head.weight", "head.bias"]
    assert list(net.state_dict()) == ["scale", "features.0.weight", "features.0.bias", "head.weight", "head.bias"]
    assert [type(m).__name__ for m in net.children()] == ["Sequential", "Linear"]
    assert [type(m).__name__ for m in net.modules()] == ["Net", "Sequential", "Conv2d", "ReLU", "Linear"]
    assert sum(p.numel() for p in net.parameters()) == 2 * 9 + 2 + 8 * 3 + 3
    visited = []
    net.apply(lambda m: visited.append(type(m).__name__))
    assert visited[-1] == "Net"
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'missing'"):
        net.missing
    net.eval()
    assert not net.training and not net.features[1].training
    net.train()
    assert net.head.training


def test_zero_grad_to_and_requires_grad():
    net = Net()
    net(minigrad.randn(2, 1, 5, 5)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    weight = net.head.weight
    net.to(minigrad.float64)
    assert net.head.weight is weight and weight.dtype is minigrad.float64 and net.scale.dtype is minigrad.float64
    assert net(minigrad.randn(2, 1, 5, 5, dtype=minigrad.float64)).dtype is minigrad.float64


def test_load_state_dict_strict_and_shapes():
    net, other = Net(), Net()
    other.load_state_dict(net.state_dict())
    np.testing.assert_array_equal(other.head.weight.detach().numpy(), net.head.weight.detach().numpy())
    state = net.state_dict()
    del state["head.bias"]
    state["extra"] = minigrad.zeros(1)
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "head.bias"') as info:
        other.load_state_dict(state)
    assert 'Unexpected key(s) in state_dict: "extra"' in str(info.value)
    result = other.load_state_dict(state, strict=False)
    assert result.missing_keys == ["head.bias"] and result.unexpected_keys == ["extra"]
    bad = net.state_dict()
    bad["head.weight"] = minigrad.zeros(2, 2)
    with pytest.raises(RuntimeError, match="size mismatch for head.weight"):
        other.load_state_dict(bad)


def test_sequential_and_module_list():
    seq = lenet()
    assert len(seq) == 12 and isinstance(seq[0], nn.Conv2d) and isinstance(seq[-1], nn.Linear)
    head = seq[:3]
    assert isinstance(head, nn.Sequential) and len(head) == 3
    assert [type(m).__name__ for m in seq][6] == "Flatten"
    seq.add_module("extra", nn.Identity())
    assert len(seq) == 13
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.Linear(2, 1))
    assert len(layers) == 4 and len(list(layers.parameters())) == 8
    with pytest.raises(IndexError):
        seq[20]


def test_repr_matches_pytorch():
    t = _torch()
    assert repr(lenet()) == repr(torch_lenet(t))
    ours = nn.Sequential(nn.MaxPool2d(2), nn.Dropout(0.3), nn.BatchNorm2d(4), nn.LeakyReLU(0.2), nn.GELU(),
                         nn.Conv2d(2, 4, 3, stride=2, padding=1, bias=False, padding_mode="reflect"))
    theirs = t.nn.Sequential(t.nn.MaxPool2d(2), t.nn.Dropout(0.3), t.nn.BatchNorm2d(4), t.nn.LeakyReLU(0.2),
                             t.nn.GELU(), t.nn.Conv2d(2, 4, 3, stride=2, padding=1, bias=False, padding_mode="reflect"))
    assert repr(ours) == repr(theirs)


def test_lazy_modules_become_eager():
    lazy = nn.LazyLinear(4)
    assert lazy(minigrad.ones(2, 7)).shape == (2, 4)
    assert type(lazy) is nn.Linear and lazy.in_features == 7 and lazy.weight.shape == (4, 7)
    conv = nn.LazyConv2d(5, 3, padding=1)
    assert conv(minigrad.ones(1, 2, 6, 6)).shape == (1, 5, 6, 6)
    assert type(conv) is nn.Conv2d and conv.in_channels == 2


# --- layers against PyTorch ----------------------------------------------------------------------------

LAYERS = [
    ("Linear", (5, 3), (4, 5)),
    ("Conv1d", (2, 4, 3), (2, 2, 9)),
    ("Conv2d", (2, 4, 3), (2, 2, 7, 7)),
    ("Conv2d", dict(in_channels=4, out_channels=4, kernel_size=3, padding="same", groups=2, padding_mode="circular"),
     (2, 4, 6, 6)),
    ("Conv2d", dict(in_channels=2, out_channels=3, kernel_size=(2, 3), stride=2, padding=1, padding_mode="replicate"),
     (1, 2, 7, 8)),
    ("Conv3d", (2, 3, 2), (1, 2, 4, 4, 4)),
    ("ConvTranspose2d", dict(in_channels=3, out_channels=2, kernel_size=3, stride=2, padding=1, output_padding=1),
     (2, 3, 4, 4)),
    ("MaxPool1d", (2,), (2, 3, 8)),
    ("MaxPool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), (2, 3, 7, 7)),
    ("AvgPool1d", (3,), (2, 3, 9)),
    ("AvgPool2d", dict(kernel_size=2, stride=1, padding=1, count_include_pad=False), (2, 3, 5, 5)),
    ("AdaptiveAvgPool2d", (3,), (2, 3, 7, 5)),
    ("AdaptiveMaxPool2d", ((2, 3),), (2, 3, 7, 5)),
    ("Flatten", (), (2, 3, 4)),
    ("Unflatten", (1, (2, 6)), (2, 12)),
    ("ZeroPad2d", ((1, 2, 0, 1),), (2, 3, 4, 4)),
    ("Upsample", dict(scale_factor=1.5, mode="bilinear"), (2, 3, 4, 5)),
    ("Upsample", dict(size=(3, 7), mode="bilinear", align_corners=True), (2, 3, 4, 5)),
    ("Upsample", dict(scale_factor=(2, 1.5, 0.5), mode="nearest"), (1, 2, 3, 4, 5)),
    ("Upsample", dict(size=7, mode="linear"), (2, 3, 5)),
    ("UpsamplingNearest2d", dict(scale_factor=2), (2, 3, 4, 5)),
    ("UpsamplingBilinear2d", dict(size=(6, 3)), (2, 3, 4, 5)),
    ("ConstantPad1d", (2, 3.5), (2, 3, 4)),
    ("ConstantPad2d", (1, -1.0), (2, 3, 4, 4)),
    ("ReflectionPad1d", (2,), (2, 3, 5)),
    ("ReflectionPad2d", ((1, 2, 2, 1),), (2, 3, 4, 4)),
    ("ReplicationPad1d", (3,), (2, 3, 5)),
    ("ReplicationPad2d", (2,), (2, 3, 4, 4)),
    ("ReLU", (), (3, 4)),
    ("LeakyReLU", (0.2,), (3, 4)),
    ("Sigmoid", (), (3, 4)),
    ("Tanh", (), (3, 4)),
    ("GELU", (), (3, 4)),
    ("GELU", ("tanh",), (3, 4)),
    ("Softmax", (1,), (3, 4)),
    ("LogSoftmax", (1,), (3, 4)),
    ("BatchNorm1d", (4,), (6, 4)),
    ("BatchNorm1d", (4,), (6, 4, 3)),
    ("BatchNorm2d", (3,), (4, 3, 5, 5)),
    ("LayerNorm", ((4, 5),), (3, 4, 5)),
    ("Identity", (), (3, 4)),
]


@pytest.mark.parametrize("name, args, shape", LAYERS, ids=[f"{n}-{i}" for i, (n, _, __) in enumerate(LAYERS)])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_layer_matches_pytorch(name, args, shape, mode):
    t = _torch()
    make = (lambda cls: cls(**args)) if isinstance(args, dict) else (lambda cls: cls(*args))
    ours, theirs = make(getattr(nn, name)), make(getattr(t.nn, name))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.double()
    theirs.double()
    copy_to_torch(ours, theirs)
    getattr(ours, mode)()
    getattr(theirs, mode)()
    x = np.random.default_rng(0).standard_normal(shape)
    mx, tx = leaf(x), t.tensor(x, requires_grad=True)
    out, expected = ours(mx), theirs(tx)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=1e-9, atol=1e-10)
    weights = np.random.default_rng(1).standard_normal(tuple(expected.shape))
    (out * minigrad.from_numpy(weights)).sum().backward()
    (expected * t.from_numpy(weights)).sum().backward()
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=1e-8, atol=1e-10)
    for (key, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-8, atol=1e-10, err_msg=key)
    for (key, b), (_, c) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        np.testing.assert_allclose(b.numpy(), c.numpy(), rtol=1e-9, atol=1e-12, err_msg=key)


INITIALISED = [
    lambda m: m.nn.Linear(300, 200),
    lambda m: m.nn.Conv2d(16, 32, 3),
    lambda m: m.nn.ConvTranspose2d(16, 8, 4),
    lambda m: m.nn.Conv1d(6, 40, 5, groups=2),
]


def check_default_initialisation(layer):
    """PyTorch draws weights and biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with
    a = sqrt(5)). Each sample must lie inside that interval, and the large ones must fill it with the
    uniform's standard deviation bound / sqrt(3)."""
    fan_in = np.prod(layer.weight.shape[1:])
    bound = 1 / math.sqrt(fan_in)
    for name, p in layer.named_parameters():
        sample = p.detach().numpy().ravel()
        assert np.abs(sample).max() <= bound + 1e-7, name
        if sample.size >= 1000:
            assert abs(sample.std() - bound / math.sqrt(3)) < 0.05 * bound, name
            assert np.abs(sample).max() > 0.99 * bound, name
            assert abs(sample.mean()) < 5 * bound / math.sqrt(3 * sample.size), name


@pytest.mark.parametrize("make", INITIALISED)
def test_default_initialisation_statistics(make):
    check_default_initialisation(make(minigrad))


@pytest.mark.parametrize("make", INITIALISED)
def test_default_initialisation_matches_pytorch_statistically(make):
    """The same shapes as PyTorch's, and PyTorch's own sample passes the same check."""
    t = _torch()
    ours, theirs = make(minigrad), make(t)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    check_default_initialisation(theirs)


def test_init_functions():
    w = minigrad.empty(200, 300)
    nn.init.xavier_uniform_(w)
    bound = math.sqrt(6 / 500)
    assert w.abs().max().item() <= bound and w.abs().max().item() > 0.95 * bound
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(w.std().item() - math.sqrt(2 / 300)) < 0.005
    nn.init.xavier_normal_(w)
    assert abs(w.std().item() - math.sqrt(2 / 500)) < 0.005
    nn.init.constant_(w, 0.5)
    assert w.min().item() == w.max().item() == 0.5
    nn.init.zeros_(w)
    nn.init.ones_(w)
    assert w.sum().item() == 60000
    nn.init.normal_(w, 1.0, 0.1)
    assert abs(w.mean().item() - 1.0) < 0.01
    nn.init.uniform_(w, -2, -1)
    assert -2 <= w.min().item() and w.max().item() < -1


def test_dropout_and_batchnorm_modes():
    minigrad.manual_seed(0)
    drop = nn.Dropout(0.5)
    x = minigrad.ones(1000)
    y = drop(x)
    kept = (y != 0).sum().item()
    assert 400 < kept < 600 and set(np.unique(y.numpy())) <= {0.0, 2.0}
    drop.eval()
    assert drop(x) is x
    bn = nn.BatchNorm2d(2)
    data = minigrad.randn(8, 2, 3, 3) * 3 + 1
    out = bn(data)
    assert abs(out.mean().item()) < 1e-5 and bn.num_batches_tracked.item() == 1
    assert not np.allclose(bn.running_mean.numpy(), 0)
    bn.eval()
    running = bn.running_mean.numpy().copy()
    bn(data)
    np.testing.assert_array_equal(bn.running_mean.numpy(), running)


# --- losses --------------------------------------------------------------------------------------------

LOSSES = [
    ("CrossEntropyLoss", {}, "classes"),
    ("CrossEntropyLoss", dict(reduction="sum", label_smoothing=0.1), "classes"),
    ("CrossEntropyLoss", dict(ignore_index=2, label_smoothing=0.2), "classes"),
    ("CrossEntropyLoss", dict(reduction="none"), "classes"),
    ("CrossEntropyLoss", dict(label_smoothing=0.1), "probabilities"),
    ("NLLLoss", {}, "classes"),
    ("NLLLoss", dict(reduction="none", ignore_index=1), "classes"),
    ("MSELoss", {}, "values"),
    ("L1Loss", dict(reduction="sum"), "values"),
    ("BCEWithLogitsLoss", {}, "binary"),
]


def loss_inputs(target_kind):
    """Logits of shape (6, 4) and a target of the given kind, as numpy arrays."""
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 4))
    target = {"classes": rng.integers(0, 4, 6), "probabilities": rng.dirichlet(np.ones(4), 6),
              "values": rng.standard_normal((6, 4)), "binary": (rng.random((6, 4)) > 0.5) * 1.0}[target_kind]
    return logits, target


@pytest.mark.parametrize("name, kwargs, target_kind", LOSSES)
def test_losses_gradcheck(name, kwargs, target_kind):
    logits, target = loss_inputs(target_kind)
    loss = getattr(nn, name)(**kwargs)
    assert minigrad.autograd.gradcheck(lambda z: loss(z, minigrad.tensor(target)), [leaf(logits)])


@pytest.mark.parametrize("name, kwargs, target_kind", LOSSES)
def test_losses_match_pytorch(name, kwargs, target_kind):
    t = _torch()
    logits, target = loss_inputs(target_kind)
    mx, tx = leaf(logits), t.tensor(logits, requires_grad=True)
    ours = getattr(nn, name)(**kwargs)(mx, minigrad.tensor(target))
    theirs = getattr(t.nn, name)(**kwargs)(tx, t.tensor(target))
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10)
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_cross_entropy_with_class_weights_and_spatial_targets():
    t = _torch()
    rng = np.random.default_rng(1)
    logits, target, weight = rng.standard_normal((2, 3, 4, 4)), rng.integers(0, 3, (2, 4, 4)), rng.random(3)
    ours = nn.functional.cross_entropy(minigrad.tensor(logits), minigrad.tensor(target), minigrad.tensor(weight),
                                       label_smoothing=0.1)
    theirs = t.nn.functional.cross_entropy(t.tensor(logits), t.tensor(target), t.tensor(weight), label_smoothing=0.1)
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-10)


def test_cross_entropy_is_stable_for_huge_logits():
    loss = nn.CrossEntropyLoss()(minigrad.tensor([[1000.0, -1000.0]]), minigrad.tensor([1]))
    assert loss.item() == pytest.approx(2000.0)


# --- summary and errors -----------------------------------------------------------------------------------

def test_summary_of_lenet():
    text = minigrad.summary(lenet(), (1, 28, 28))
    assert "Conv2d-1" in text and "[1, 6, 28, 28]" in text and "[1, 10]" in text
    assert "Total params: 61,706" in text and "Trainable params: 61,706" in text
    conv2 = next(line for line in text.splitlines() if line.strip().startswith("Conv2d-4"))
    assert conv2.split()[-4:] == ["10", "5.0", "2", "14"]  # map size, start, jump, receptive field


def test_errors_name_the_layer_and_shapes():
    with pytest.raises(RuntimeError, match=r"Conv2d\(1, 6, .*expected input with 1 channels, got 3"):
        nn.Conv2d(1, 6, 5)(minigrad.ones(1, 3, 28, 28))
    with pytest.raises(RuntimeError, match=r"Conv2d\(1, 6.*expected a 3-D or 4-D input"):
        nn.Conv2d(1, 6, 5)(minigrad.ones(28, 28))
    with pytest.raises(RuntimeError, match=r"Linear\(in_features=400.*last dimension 400, got input of shape \[2, 300\]"):
        nn.Linear(400, 120)(minigrad.ones(2, 300))
    with pytest.raises(ValueError, match="BatchNorm2d: expected 4D input"):
        nn.BatchNorm2d(3)(minigrad.ones(2, 3))
    with pytest.raises(ValueError, match="must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)


def test_zero_input_channels_give_the_bias_as_in_pytorch():
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        conv = nn.Conv2d(0, 4, 3)
    with minigrad.no_grad():
        conv.bias.copy_(minigrad.arange(4.0))
    x = minigrad.ones(2, 0, 5, 5, requires_grad=True)
    out = conv(x)  # each output is an empty sum plus the bias
    assert out.shape == (2, 4, 3, 3) and out[:, :, 1, 2].tolist() == [[0.0, 1.0, 2.0, 3.0]] * 2
    out.sum().backward()
    assert x.grad.shape == (2, 0, 5, 5) and conv.weight.grad.shape == (4, 0, 3, 3)
    assert conv.bias.grad.tolist() == [18.0] * 4
    assert nn.functional.conv1d(minigrad.ones(0, 6), minigrad.ones(2, 0, 3)).tolist() == [[0.0] * 4] * 2
    with pytest.warns(UserWarning, match="zero-element"):
        linear = nn.Linear(0, 3)
    assert linear(minigrad.ones(2, 0)).tolist() == [[0.0] * 3] * 2


def test_layers_take_their_own_dtype_only():
    x = minigrad.ones(2, 3, dtype=minigrad.float64)
    with pytest.raises(RuntimeError, match="mat1 and mat2 must have the same dtype"):
        nn.Linear(3, 2)(x)
    assert nn.Linear(3, 2).double()(x).dtype is minigrad.float64
    with pytest.raises(RuntimeError, match="batch_norm\\(\\): expected running_mean to have the dtype of input"):
        nn.BatchNorm1d(3)(x)
    assert nn.BatchNorm1d(3).double()(x).dtype is minigrad.float64
