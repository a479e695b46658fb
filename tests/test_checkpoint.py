"""Checkpoints a user can trust, without PyTorch: every layer's state_dict and every optimizer's state
survive save/load with shapes, dtypes and values intact; train_lenet.py resumes to the last bit; lazy
parameters and everything else that changes a Parameter keep its identity, so optimizers still hold it."""
import importlib.util
import inspect
import pathlib

import numpy as np
import pytest

import minigrad
from minigrad import nn, optim

ROOT = pathlib.Path(__file__).resolve().parent.parent

# every Module class in minigrad.nn: constructor arguments and an input shape (None: no forward here)
LAYERS = {
    "Linear": ((5, 3), (4, 5)), "LazyLinear": ((3,), (4, 5)),
    "Conv1d": ((2, 4, 3), (2, 2, 9)), "Conv2d": ((2, 4, 3), (2, 2, 7, 7)), "Conv3d": ((2, 3, 2), (1, 2, 4, 4, 4)),
    "LazyConv2d": ((4, 3), (2, 2, 7, 7)), "ConvTranspose2d": ((3, 2, 3), (2, 3, 4, 4)),
    "BatchNorm1d": ((4,), (6, 4)), "BatchNorm2d": ((3,), (4, 3, 5, 5)), "LayerNorm": (((4, 5),), (3, 4, 5)),
    "LazyBatchNorm1d": ((), (6, 4)), "LazyBatchNorm2d": ((), (4, 3, 5, 5)),
    "MaxPool1d": ((2,), (2, 3, 8)), "MaxPool2d": ((2,), (2, 3, 6, 6)), "AvgPool1d": ((3,), (2, 3, 9)),
    "AvgPool2d": ((2,), (2, 3, 6, 6)), "AdaptiveAvgPool2d": ((3,), (2, 3, 7, 5)),
    "AdaptiveMaxPool2d": (((2, 3),), (2, 3, 7, 5)), "ZeroPad2d": ((1,), (2, 3, 4, 4)),
    "ConstantPad1d": ((2, 3.5), (2, 3, 4)), "ConstantPad2d": ((1, -1.0), (2, 3, 4, 4)),
    "ReflectionPad1d": ((2,), (2, 3, 5)), "ReflectionPad2d": ((1,), (2, 3, 4, 4)),
    "ReplicationPad1d": ((3,), (2, 3, 5)), "ReplicationPad2d": ((2,), (2, 3, 4, 4)),
    "ReLU": ((), (3, 4)), "LeakyReLU": ((0.2,), (3, 4)), "Sigmoid": ((), (3, 4)), "Tanh": ((), (3, 4)),
    "GELU": ((), (3, 4)), "Softmax": ((1,), (3, 4)), "LogSoftmax": ((1,), (3, 4)), "Identity": ((), (3, 4)),
    "Dropout": ((0.5,), (3, 4)), "Flatten": ((), (2, 3, 4)), "Unflatten": ((1, (2, 6)), (2, 12)),
    "Sequential": ((), (3, 4)),
    "SiLU": ((), (3, 4)), "Mish": ((), (3, 4)), "Hardswish": ((), (3, 4)), "Embedding": ((10, 3, 0), None),
    "GroupNorm": ((2, 4), (2, 4, 3, 3)), "InstanceNorm2d": ((3,), (2, 3, 4, 4)),
    "Upsample": ((None, 2, "bilinear"), (2, 3, 4, 4)), "UpsamplingNearest2d": ((3,), (2, 3, 4, 4)),
    "UpsamplingBilinear2d": (((5, 6),), (2, 3, 4, 4)),
    "BCEWithLogitsLoss": ((), None), "CrossEntropyLoss": ((), None), "L1Loss": ((), None), "MSELoss": ((), None),
    "NLLLoss": ((), None), "Module": ((), None), "ModuleList": ((), None), "ModuleDict": ((), None),
    "ParameterList": (([minigrad.ones(2), minigrad.zeros(3)],), None),
    "ParameterDict": (({"w": minigrad.ones(2)},), None),
}


def module_classes():
    return sorted(name for name in nn.__all__ if inspect.isclass(getattr(nn, name)) and
                  issubclass(getattr(nn, name), nn.Module))


def test_the_table_covers_every_layer():
    assert sorted(LAYERS) == module_classes(), "add the new layer to LAYERS"


def trained(name, dtype):
    """The layer after two training-mode forwards (running statistics and counters move)."""
    args, shape = LAYERS[name]
    layer = getattr(nn, name)(*args)
    if shape is not None:
        x = minigrad.randn(*shape, generator=minigrad.Generator().manual_seed(0))
        for _ in range(2):
            layer(x)
    return layer.to(dtype)


def assert_identical(loaded, saved):
    assert list(loaded) == list(saved)
    for key, value in saved.items():
        assert loaded[key].shape == value.shape, key
        assert loaded[key].dtype is value.dtype, key
        np.testing.assert_array_equal(loaded[key].numpy(), value.numpy(), err_msg=key)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_state_dict_round_trips(name, dtype, tmp_path):
    layer = trained(name, getattr(minigrad, dtype))
    saved = layer.state_dict()
    minigrad.save(saved, tmp_path / "layer.safetensors")
    loaded = minigrad.load(tmp_path / "layer.safetensors")
    assert_identical(loaded, saved)
    fresh = getattr(nn, name)(*LAYERS[name][0]).to(getattr(minigrad, dtype))
    fresh.load_state_dict(loaded)  # lazy layers take their shapes from the checkpoint
    assert_identical(fresh.state_dict(), saved)


def test_batchnorm_counter_stays_0d(tmp_path):
    """The reported failure: num_batches_tracked came back with shape [1] and did not load."""
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    net(minigrad.randn(2, 1, 5, 5))
    minigrad.save(net.state_dict(), tmp_path / "bn.safetensors")
    loaded = minigrad.load(tmp_path / "bn.safetensors")
    assert loaded["1.num_batches_tracked"].shape == () and loaded["1.num_batches_tracked"].item() == 1
    nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).load_state_dict(loaded)


OPTIMIZERS = [
    (optim.SGD, dict(lr=0.1)), (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    (optim.Adam, dict(lr=0.01)), (optim.Adam, dict(lr=0.01, amsgrad=True)), (optim.AdamW, dict(lr=0.01)),
    (optim.RMSprop, dict(lr=0.01)), (optim.RMSprop, dict(lr=0.01, momentum=0.9, centered=True)),
    (optim.Adadelta, dict()), (optim.Adadelta, dict(lr=0.5, weight_decay=1e-3, maximize=True)),
    (optim.Adagrad, dict(lr=0.1)), (optim.Adagrad, dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    (optim.NAdam, dict(lr=0.01)), (optim.NAdam, dict(lr=0.01, weight_decay=1e-2, decoupled_weight_decay=True)),
    (optim.RAdam, dict(lr=0.01)), (optim.RAdam, dict(lr=0.01, weight_decay=1e-2, decoupled_weight_decay=True)),
]


def test_the_optimizer_table_covers_every_optimizer():
    names = {name for name in optim.__all__ if inspect.isclass(getattr(optim, name)) and name != "Optimizer"}
    assert {cls.__name__ for cls, _ in OPTIMIZERS} == names


def flat(state):
    """{path: tensor or value} of a nested state_dict, for exact comparison."""
    if isinstance(state, dict):
        return {f"{k}.{p}": v for k, value in state.items() for p, v in flat(value).items()}
    if isinstance(state, (list, tuple)):
        return {f"{i}.{p}": v for i, value in enumerate(state) for p, v in flat(value).items()}
    return {"": state}


def assert_same_state(a, b):
    a, b = flat(a), flat(b)
    assert list(a) == list(b)
    for key in a:
        if isinstance(a[key], minigrad.Tensor):
            assert (a[key].shape, a[key].dtype) == (b[key].shape, b[key].dtype), key
            np.testing.assert_array_equal(a[key].numpy(), b[key].numpy(), err_msg=key)
        else:
            assert a[key] == b[key] and type(a[key]) is type(b[key]), key


def steps(net, optimizer, count, seed):
    g = minigrad.Generator().manual_seed(seed)
    for _ in range(count):
        optimizer.zero_grad()
        (net(minigrad.randn(4, 3, generator=g)) ** 2).mean().backward()
        optimizer.step()


@pytest.mark.parametrize("cls, options", OPTIMIZERS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_every_optimizer_state_round_trips_and_resumes_exactly(cls, options, tmp_path):
    minigrad.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    optimizer = cls(net.parameters(), **options)
    steps(net, optimizer, 3, seed=1)
    minigrad.save({"model": net.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "ckpt.safetensors")
    loaded = minigrad.load(tmp_path / "ckpt.safetensors")
    assert_same_state(loaded["optimizer"], optimizer.state_dict())
    for entry in loaded["optimizer"]["state"].values():
        if "step" in entry:
            assert entry["step"].shape == ()
    resumed = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    resumed.load_state_dict(loaded["model"])
    resumed_optimizer = cls(resumed.parameters(), **options)
    resumed_optimizer.load_state_dict(loaded["optimizer"])
    steps(net, optimizer, 2, seed=2)
    steps(resumed, resumed_optimizer, 2, seed=2)
    assert_same_state(resumed.state_dict(), net.state_dict())
    assert_same_state(resumed_optimizer.state_dict(), optimizer.state_dict())


def test_generator_state_round_trips_through_a_checkpoint(tmp_path):
    g = minigrad.Generator().manual_seed(3)
    g.numpy.random(5)
    minigrad.save({"rng": g.get_state(), "default": minigrad.get_rng_state()}, tmp_path / "rng.safetensors")
    expected = g.numpy.permutation(100)
    restored = minigrad.Generator().set_state(minigrad.load(tmp_path / "rng.safetensors")["rng"])
    np.testing.assert_array_equal(restored.numpy.permutation(100), expected)
    with pytest.raises(TypeError, match="new_state"):
        minigrad.Generator().set_state([1, 2])


# --- train_lenet.py: --checkpoint then --resume equals one uninterrupted run ----------------------------

def train_lenet():
    spec = importlib.util.spec_from_file_location("train_lenet", ROOT / "examples" / "train_lenet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("model", ["classic", "modern", "bn"])
def test_train_lenet_resume_equals_an_uninterrupted_run(model, tmp_path, capsys):
    script = train_lenet()
    common = ["--model", model, "--dataset", "synthetic", "--batch-size", "32", "--max-batches", "3",
              "--no-progress", "--data-dir", str(tmp_path)]
    whole, part = tmp_path / "whole.safetensors", tmp_path / "part.safetensors"
    script.main(common + ["--epochs", "3", "--checkpoint", str(whole)])
    script.main(common + ["--epochs", "1", "--checkpoint", str(part)])
    script.main(common + ["--epochs", "3", "--checkpoint", str(part), "--resume", str(part)])
    assert "resumed from" in capsys.readouterr().out
    a, b = minigrad.load(whole), minigrad.load(part)
    assert a["epoch"] == b["epoch"] == 3
    assert_same_state(b["model"], a["model"])
    assert_same_state(b["optimizer"], a["optimizer"])
    assert len(a["history"]) == len(b["history"]) == 3
    for x, y in zip(a["history"], b["history"]):
        assert {k: v for k, v in x.items() if k != "examples_per_sec"} == \
               {k: v for k, v in y.items() if k != "examples_per_sec"}


# --- Parameter identity: lazy materialization, load_state_dict, to(), double(), apply() ---------------

def lazy_net():
    return nn.Sequential(nn.LazyConv2d(3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(4))


def lazy_bn_net():
    # no bias before a BatchNorm: its gradient is exactly 0
    return nn.Sequential(nn.LazyConv2d(3, 3, padding=1, bias=False), nn.LazyBatchNorm2d(), nn.ReLU(), nn.Flatten(),
                         nn.LazyLinear(5, bias=False), nn.LazyBatchNorm1d(), nn.ReLU(), nn.LazyLinear(2))


@pytest.mark.parametrize("make", [lazy_net, lazy_bn_net])
def test_optimizer_built_before_the_first_forward_trains_every_lazy_parameter(make):
    minigrad.manual_seed(0)
    net = make()
    params = list(net.parameters())
    optimizer = optim.SGD(net.parameters(), lr=0.1)
    x, y = minigrad.randn(6, 2, 6, 6), minigrad.randint(0, 2, (6,))
    before = None
    for _ in range(3):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y)
        before = before or [p.detach().clone() for p in net.parameters()]
        loss.backward()
        optimizer.step()
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    for (name, p), start in zip(net.named_parameters(), before):
        assert not np.array_equal(p.detach().numpy(), start.numpy()), f"{name} did not move"


def test_lazy_training_matches_pytorch_from_the_same_weights():
    torch = pytest.importorskip("torch")
    minigrad.manual_seed(0)
    net = lazy_net().double()
    optimizer = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    theirs = torch.nn.Sequential(torch.nn.LazyConv2d(3, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                 torch.nn.Flatten(), torch.nn.LazyLinear(8), torch.nn.ReLU(),
                                 torch.nn.LazyLinear(4)).double()
    their_optimizer = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 2, 6, 6)), rng.integers(0, 4, 5)
    net(minigrad.from_numpy(x))
    theirs(torch.from_numpy(x))
    with torch.no_grad():
        for p, q in zip(net.parameters(), theirs.parameters()):
            q.copy_(torch.from_numpy(p.detach().numpy()))
    for _ in range(3):
        for model, opt, lib in ((net, optimizer, minigrad), (theirs, their_optimizer, torch)):
            opt.zero_grad()
            lib.nn.functional.cross_entropy(model(lib.from_numpy(x)), lib.from_numpy(y)).backward()
            opt.step()
    for p, q in zip(net.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_parameter_objects_survive_load_to_double_and_apply():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.LazyLinear(3))
    lazy_ids = [id(p) for p in net.parameters()]
    net.load_state_dict(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(),
                                      nn.Linear(8, 3)).state_dict())
    assert type(net[3]) is nn.Linear and net[3].in_features == 8
    ids = [id(p) for p in net.parameters()]
    assert ids == lazy_ids
    optimizer = optim.SGD(net.parameters(), lr=0.1)
    net.double()
    net.apply(lambda m: nn.init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)
    net.to("cpu").float()
    assert [id(p) for p in net.parameters()] == ids
    assert [id(p) for p in optimizer.param_groups[0]["params"]] == ids
