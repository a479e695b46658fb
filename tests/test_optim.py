"""Optimizers and schedulers against PyTorch (20 steps from the same parameters and gradients), parameter
groups, state dicts, checkpoints through minigrad.save/load, and the errors a user meets."""
import numpy as np
import pytest

import minigrad
from minigrad import nn, optim


def _torch():
    return pytest.importorskip("torch")


OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.5, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01)),
]


@pytest.mark.parametrize("name, kwargs", OPTIMIZERS)
def test_twenty_steps_match_pytorch(name, kwargs):
    t = _torch()
    rng = np.random.default_rng(0)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    start = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(20)]
    ours = [nn.Parameter(minigrad.tensor(a)) for a in start]
    theirs = [t.nn.Parameter(t.tensor(a)) for a in start]
    opt_ours = getattr(optim, name)(ours, **kwargs)
    opt_theirs = getattr(t.optim, name)(theirs, **kwargs)
    for step in grads:
        for p, q, g in zip(ours, theirs, step):
            p.grad, q.grad = minigrad.tensor(g), t.tensor(g)
        opt_ours.step()
        opt_theirs.step()
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6, atol=1e-6)


SCHEDULERS = [
    ("StepLR", dict(step_size=3, gamma=0.5), "SGD", 10),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001), "SGD", 12),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=20), "SGD", 19),
    ("OneCycleLR", dict(max_lr=[0.5], epochs=2, steps_per_epoch=10, anneal_strategy="linear", three_phase=True),
     "Adam", 19),
]


@pytest.mark.parametrize("name, kwargs, opt_name, steps", SCHEDULERS)
def test_schedulers_match_pytorch(name, kwargs, opt_name, steps):
    t = _torch()
    options = dict(lr=0.1, momentum=0.9) if opt_name == "SGD" else dict(lr=0.1)
    ours = getattr(optim, opt_name)([nn.Parameter(minigrad.zeros(2))], **options)
    theirs = getattr(t.optim, opt_name)([t.nn.Parameter(t.zeros(2))], **options)
    s_ours = getattr(optim.lr_scheduler, name)(ours, **kwargs)
    s_theirs = getattr(t.optim.lr_scheduler, name)(theirs, **kwargs)
    for _ in range(steps):
        assert s_ours.get_last_lr()[0] == pytest.approx(s_theirs.get_last_lr()[0], rel=1e-9, abs=1e-12)
        for key in ("momentum", "betas"):
            if key in theirs.param_groups[0]:
                assert ours.param_groups[0][key] == pytest.approx(theirs.param_groups[0][key], rel=1e-9)
        ours.step()
        theirs.step()
        s_ours.step()
        s_theirs.step()


def test_param_groups_have_their_own_options():
    a, b = nn.Parameter(minigrad.ones(2)), nn.Parameter(minigrad.ones(2))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad, b.grad = minigrad.ones(2), minigrad.ones(2)
    opt.step()
    assert a.tolist() == pytest.approx([0.9, 0.9]) and b.tolist() == [0.0, 0.0]
    c = nn.Parameter(minigrad.ones(1))
    opt.add_param_group({"params": c, "momentum": 0.5})
    assert opt.param_groups[2]["momentum"] == 0.5 and opt.param_groups[2]["lr"] == 0.1
    opt.zero_grad()
    assert a.grad is None


def test_optimizer_errors():
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"optimizer can only optimize Tensors, but params\[0\] is list"):
        optim.Adam([[1.0, 2.0]])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([minigrad.ones(2, requires_grad=True) * 2], lr=0.1)
    with pytest.raises(ValueError, match="does not require grad"):
        optim.SGD([minigrad.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.SGD([nn.Parameter(minigrad.ones(1))], lr=-1)


def _model_and_batch():
    minigrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    return model, minigrad.randn(16, 4), minigrad.randint(0, 3, (16,))


def _step(model, opt, x, y):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_checkpoint_resume_gives_the_identical_next_step(name, tmp_path):
    kwargs = dict(lr=0.05, momentum=0.9) if name != "Adam" else dict(lr=0.01)
    model, x, y = _model_and_batch()
    opt = getattr(optim, name)(model.parameters(), **kwargs)
    for _ in range(3):
        _step(model, opt, x, y)
    minigrad.save(model.state_dict(), tmp_path / "model.safetensors")
    minigrad.save(opt.state_dict(), tmp_path / "optim.safetensors")
    _step(model, opt, x, y)
    expected = [p.detach().numpy().copy() for p in model.parameters()]

    resumed, _, _ = _model_and_batch()
    resumed.load_state_dict(minigrad.load(tmp_path / "model.safetensors"))
    opt2 = getattr(optim, name)(resumed.parameters(), **kwargs)
    opt2.load_state_dict(minigrad.load(tmp_path / "optim.safetensors"))
    _step(resumed, opt2, x, y)
    for p, e in zip(resumed.parameters(), expected):
        np.testing.assert_array_equal(p.detach().numpy(), e)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors", "optim.safetensors"]
