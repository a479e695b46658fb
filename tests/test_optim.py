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
    ("Adadelta", dict(weight_decay=0.01)),
    ("Adagrad", dict(lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1)),
    ("NAdam", dict(weight_decay=0.01)),
    ("RAdam", dict(decoupled_weight_decay=True, weight_decay=0.01, maximize=True)),
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


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adadelta", "Adagrad", "NAdam", "RAdam"])
def test_checkpoint_resume_gives_the_identical_next_step(name, tmp_path):
    kwargs = dict(lr=0.05, momentum=0.9) if name in ("SGD", "RMSprop") else dict(lr=0.01)
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


# --- Adadelta, Adagrad, NAdam, RAdam: float64, step for step against PyTorch ---------------------------------

NEW_OPTIMIZERS = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(lr=2.0, rho=0.95, weight_decay=0.05, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.05, eps=1e-6, weight_decay=0.02, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, betas=(0.6, 0.9), eps=1e-6, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("NAdam", dict(lr=0.02, betas=(0.3, 0.99), momentum_decay=0.0, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.6, 0.9), eps=1e-6, weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.05, betas=(0.9, 0.5))),  # rho_inf = 3: never rectified, SGD with momentum throughout
]


def _float64_pair(t, name, kwargs, groups=False):
    rng = np.random.default_rng(1)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    start = [rng.standard_normal(s) for s in shapes]
    ours = [nn.Parameter(minigrad.tensor(a)) for a in start]
    theirs = [t.nn.Parameter(t.tensor(a)) for a in start]
    if groups:  # the second group overrides lr and maximize
        ours = [{"params": ours[:2]}, {"params": ours[2:], "lr": 0.003, "maximize": True}]
        theirs = [{"params": theirs[:2]}, {"params": theirs[2:], "lr": 0.003, "maximize": True}]
    return getattr(optim, name)(ours, **kwargs), getattr(t.optim, name)(theirs, **kwargs), shapes, rng


def _params_of(opt):
    return [p for group in opt.param_groups for p in group["params"]]


def _run_both(opt_ours, opt_theirs, shapes, rng, steps, t, skip=()):
    for step in range(steps):
        for i, (p, q, s) in enumerate(zip(_params_of(opt_ours), _params_of(opt_theirs), shapes)):
            if (step, i) in skip:  # a parameter without a gradient this step is left alone
                p.grad = q.grad = None
                continue
            g = rng.standard_normal(s)
            p.grad, q.grad = minigrad.tensor(g), t.tensor(g)
        opt_ours.step()
        opt_theirs.step()
        for p, q in zip(_params_of(opt_ours), _params_of(opt_theirs)):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name, kwargs", NEW_OPTIMIZERS)
def test_new_optimizers_match_pytorch_step_for_step_in_float64(name, kwargs):
    t = _torch()
    opt_ours, opt_theirs, shapes, rng = _float64_pair(t, name, kwargs)
    assert _params_of(opt_ours)[0].dtype == minigrad.float64
    _run_both(opt_ours, opt_theirs, shapes, rng, 15, t, skip={(3, 1), (4, 1), (7, 0)})
    _assert_state_like_pytorch(opt_ours.state_dict(), opt_theirs.state_dict())


@pytest.mark.parametrize("name", ["Adadelta", "Adagrad", "NAdam", "RAdam"])
def test_new_optimizers_param_groups_match_pytorch(name):
    t = _torch()
    kwargs = dict(lr=0.01) if name != "Adadelta" else dict(lr=0.5)
    opt_ours, opt_theirs, shapes, rng = _float64_pair(t, name, kwargs, groups=True)
    _run_both(opt_ours, opt_theirs, shapes, rng, 8, t)
    _assert_state_like_pytorch(opt_ours.state_dict(), opt_theirs.state_dict())


def test_tensor_lr_and_a_scheduler_drive_the_new_optimizers_as_in_pytorch():
    t = _torch()
    for name in ("Adadelta", "Adagrad", "NAdam", "RAdam"):
        opt_ours, opt_theirs, shapes, rng = _float64_pair(t, name, {})
        s_ours = optim.lr_scheduler.ExponentialLR(opt_ours, gamma=0.7)
        s_theirs = t.optim.lr_scheduler.ExponentialLR(opt_theirs, gamma=0.7)
        for _ in range(6):
            _run_both(opt_ours, opt_theirs, shapes, rng, 1, t)
            s_ours.step()
            s_theirs.step()
        assert opt_ours.param_groups[0]["lr"] == pytest.approx(opt_theirs.param_groups[0]["lr"], rel=1e-12)
    lr = minigrad.tensor(0.01, dtype=minigrad.float64)
    p = nn.Parameter(minigrad.ones(2, dtype=minigrad.float64))
    opt = optim.RAdam([p], lr=lr)
    q = t.nn.Parameter(t.ones(2, dtype=t.float64))
    opt_t = t.optim.RAdam([q], lr=t.tensor(0.01, dtype=t.float64))
    for _ in range(8):
        p.grad, q.grad = minigrad.ones(2, dtype=minigrad.float64), t.ones(2, dtype=t.float64)
        opt.step()
        opt_t.step()
    np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        optim.NAdam([nn.Parameter(minigrad.ones(1))], lr=minigrad.ones(2))


def _assert_state_like_pytorch(ours, theirs):
    """The same state entries (names, order, shapes, dtypes, values) and the same group options, except the
    implementation switches (foreach, fused, capturable, differentiable) that minigrad does not keep."""
    assert list(ours["state"]) == list(theirs["state"])
    for index, entry in theirs["state"].items():
        mine = ours["state"][index]
        assert list(mine) == list(entry)
        for key, value in entry.items():
            assert tuple(mine[key].shape) == tuple(value.shape), key
            assert str(mine[key].dtype).split(".")[-1] == str(value.dtype).split(".")[-1], key
            np.testing.assert_allclose(mine[key].numpy(), value.numpy(), rtol=1e-12, atol=1e-14, err_msg=key)
    switches = {"foreach", "fused", "capturable", "differentiable"}
    assert len(ours["param_groups"]) == len(theirs["param_groups"])
    for mine, group in zip(ours["param_groups"], theirs["param_groups"]):
        assert set(mine) == set(group) - switches
        for key in mine:
            assert mine[key] == (tuple(group[key]) if key == "betas" else group[key]), key


def test_adagrad_has_state_before_the_first_step_as_pytorch():
    t = _torch()
    opt_ours, opt_theirs, _, _ = _float64_pair(t, "Adagrad", dict(initial_accumulator_value=0.25))
    _assert_state_like_pytorch(opt_ours.state_dict(), opt_theirs.state_dict())
    late = nn.Parameter(minigrad.ones(2, dtype=minigrad.float64))
    opt_ours.add_param_group({"params": [late]})  # PyTorch's Adagrad fails at the step; minigrad's starts it
    late.grad = minigrad.ones(2, dtype=minigrad.float64)
    opt_ours.step()
    expected = 1 - 0.01 / (0.25 + 1) ** 0.5  # the group's initial_accumulator_value, then one squared gradient
    assert opt_ours.state[late]["step"].item() == 1 and late.tolist() == pytest.approx([expected] * 2, rel=1e-12)


@pytest.mark.parametrize("name, flag, value", [
    ("Adadelta", "foreach", True), ("Adadelta", "capturable", True), ("Adadelta", "differentiable", True),
    ("Adagrad", "foreach", True), ("Adagrad", "fused", True), ("Adagrad", "differentiable", True),
    ("NAdam", "foreach", True), ("NAdam", "capturable", True), ("NAdam", "differentiable", True),
    ("RAdam", "foreach", True), ("RAdam", "capturable", True), ("RAdam", "differentiable", True),
    ("SGD", "differentiable", True), ("Adam", "capturable", True), ("AdamW", "differentiable", True),
    ("RMSprop", "foreach", True), ("RMSprop", "capturable", True),
])
def test_implementation_switches_other_than_the_default_are_refused(name, flag, value):
    p = [nn.Parameter(minigrad.ones(2))]
    with pytest.raises(NotImplementedError, match=flag):
        getattr(optim, name)(p, **{flag: value})
    getattr(optim, name)(p, **{flag: None if flag in ("foreach", "fused") else False})
    if flag in ("foreach", "fused"):
        getattr(optim, name)(p, **{flag: False})  # False asks for the single-tensor loop minigrad has


def test_optimizer_signatures_match_pytorch():
    import inspect
    t = _torch()
    for name in sorted(set(optim.__all__) - {"Optimizer", "lr_scheduler"}):
        ours = inspect.signature(getattr(optim, name)).parameters
        theirs = inspect.signature(getattr(t.optim, name)).parameters
        assert list(ours) == list(theirs), name
        for key in theirs:
            assert ours[key].kind == theirs[key].kind, (name, key)
            assert ours[key].default == theirs[key].default, (name, key)


def test_step_takes_a_closure():
    p = nn.Parameter(minigrad.tensor([1.0, -2.0]))
    opt = optim.NAdam([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == pytest.approx(5.0)
    assert abs(p.tolist()[0]) < 1.0


def _p(lib):
    return [lib.nn.Parameter(lib.ones(2))]


SAME = "same as PyTorch"
BAD_OPTIONS = [
    ("Adadelta-lr", lambda lib: lib.optim.Adadelta(_p(lib), lr=-0.1), ValueError, "learning rate", SAME),
    ("Adadelta-rho", lambda lib: lib.optim.Adadelta(_p(lib), rho=1.5), ValueError, "rho", SAME),
    ("Adadelta-eps", lambda lib: lib.optim.Adadelta(_p(lib), eps=-1e-6), ValueError, "eps", SAME),
    ("Adadelta-weight_decay", lambda lib: lib.optim.Adadelta(_p(lib), weight_decay=-1), ValueError, "weight_decay",
     SAME),
    ("Adadelta-rho-str", lambda lib: lib.optim.Adadelta(_p(lib), rho="0.9"), TypeError, "rho", SAME),
    ("Adagrad-lr_decay", lambda lib: lib.optim.Adagrad(_p(lib), lr_decay=-1), ValueError, "lr_decay", SAME),
    ("Adagrad-initial_accumulator_value", lambda lib: lib.optim.Adagrad(_p(lib), initial_accumulator_value=-1),
     ValueError, "initial_accumulator_value", SAME),
    ("Adagrad-eps", lambda lib: lib.optim.Adagrad(_p(lib), eps=-1), ValueError, "eps", SAME),
    ("Adagrad-weight_decay", lambda lib: lib.optim.Adagrad(_p(lib), weight_decay=-0.1), ValueError, "weight_decay",
     SAME),
    ("Adagrad-lr-none", lambda lib: lib.optim.Adagrad(_p(lib), lr=None), TypeError, "lr", SAME),
    ("NAdam-beta0", lambda lib: lib.optim.NAdam(_p(lib), betas=(1.0, 0.999)), ValueError, "beta", SAME),
    ("NAdam-beta1", lambda lib: lib.optim.NAdam(_p(lib), betas=(0.9, -0.1)), ValueError, "index 1", SAME),
    ("NAdam-momentum_decay", lambda lib: lib.optim.NAdam(_p(lib), momentum_decay=-1), ValueError, "momentum_decay",
     SAME),
    ("NAdam-eps", lambda lib: lib.optim.NAdam(_p(lib), eps=-1), ValueError, "eps", SAME),
    ("NAdam-weight_decay", lambda lib: lib.optim.NAdam(_p(lib), weight_decay=-1), ValueError, "weight_decay", SAME),
    ("NAdam-lr-str", lambda lib: lib.optim.NAdam(_p(lib), lr="0.01"), TypeError, "lr", SAME),
    ("NAdam-tensor-lr", lambda lib: lib.optim.NAdam(_p(lib), lr=lib.ones(2)), ValueError, "Tensor lr", SAME),
    ("RAdam-beta0", lambda lib: lib.optim.RAdam(_p(lib), betas=(-0.1, 0.999)), ValueError, "beta", SAME),
    ("RAdam-beta1", lambda lib: lib.optim.RAdam(_p(lib), betas=(0.9, 1.0)), ValueError, "index 1", SAME),
    ("RAdam-betas-str", lambda lib: lib.optim.RAdam(_p(lib), betas="ab"), TypeError, "betas",
     "PyTorch compares the string with a float (TypeError) without naming betas"),
    ("RAdam-eps", lambda lib: lib.optim.RAdam(_p(lib), eps=-1), ValueError, "eps", SAME),
    ("RAdam-weight_decay", lambda lib: lib.optim.RAdam(_p(lib), weight_decay=-1), ValueError, "weight_decay", SAME),
    ("RAdam-lr", lambda lib: lib.optim.RAdam(_p(lib), lr=-1), ValueError, "learning rate", SAME),
    ("RAdam-unknown-option", lambda lib: lib.optim.RAdam(_p(lib), amsgrad=True), TypeError, "amsgrad", SAME),
    ("Adagrad-empty", lambda lib: lib.optim.Adagrad([]), ValueError, "empty parameter list", SAME),
]


@pytest.mark.parametrize("case, expected, words", [(c[1], c[2], c[3]) for c in BAD_OPTIONS],
                         ids=[c[0] for c in BAD_OPTIONS])
def test_new_optimizers_refuse_bad_options_by_name(case, expected, words):
    with pytest.raises(expected) as raised:
        case(minigrad)
    assert words in str(raised.value)


@pytest.mark.parametrize("case, expected, why_not", [(c[1], c[2], c[4]) for c in BAD_OPTIONS],
                         ids=[c[0] for c in BAD_OPTIONS])
def test_torch_refuses_the_same_options_with_the_same_type(case, expected, why_not):
    t = _torch()
    if why_not is not SAME:
        pytest.skip(why_not)
    with pytest.raises(expected):
        case(t)


def test_adam_with_decoupled_weight_decay_is_adamw():
    def trained(make):
        p = nn.Parameter(minigrad.tensor([1.0, -2.0], dtype=minigrad.float64))
        opt = make([p])
        for _ in range(3):
            opt.zero_grad()
            (p * p).sum().backward()
            opt.step()
        return p.tolist(), opt.param_groups[0]["decoupled_weight_decay"]
    assert trained(lambda p: optim.Adam(p, lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)) == \
        trained(lambda p: optim.AdamW(p, lr=0.1, weight_decay=0.1))
    assert trained(lambda p: optim.Adam(p, lr=0.1, weight_decay=0.1))[0] != \
        trained(lambda p: optim.AdamW(p, lr=0.1, weight_decay=0.1))[0]


# --- SGD, Adam and AdamW: the one-pass update (foreach/fused) against the Tensor-op loop -------------------

def _fused_and_loop_runs(name, kwargs, dtype, shapes, steps, seed=0):
    """Parameters and state after `steps` steps of the default (one-pass) update and of foreach=False."""
    results = []
    for foreach in (None, False):
        rng = np.random.default_rng(seed)
        params = [nn.Parameter(minigrad.tensor(rng.standard_normal(s).astype(dtype))) for s in shapes]
        opt = getattr(optim, name)(params, foreach=foreach, **kwargs)
        for step in range(steps):
            for i, p in enumerate(params):
                # a parameter without a gradient at one step is left alone
                p.grad = None if (step + i) % 5 == 3 else minigrad.tensor(rng.standard_normal(p.shape).astype(dtype))
            opt.step()
        results.append([p.detach().numpy() for p in params]
                       + [v.numpy() for p in params for v in opt.state.get(p, {}).values()])
    return results


def _hyperparameters(draw, name):
    from hypothesis import strategies as st
    lr, decay = draw(st.sampled_from([0.1, 0.013, 1.0])), draw(st.sampled_from([0, 0.01, 0.3]))
    maximize = draw(st.booleans())
    if name == "SGD":
        momentum = draw(st.sampled_from([0, 0.5, 0.9]))
        nesterov = momentum > 0 and draw(st.booleans())
        dampening = 0 if nesterov else draw(st.sampled_from([0, 0.1]))
        return dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=decay, nesterov=nesterov,
                    maximize=maximize)
    return dict(lr=lr / 10, betas=draw(st.sampled_from([(0.9, 0.999), (0.5, 0.8)])), eps=draw(st.sampled_from(
        [1e-8, 1e-3])), weight_decay=decay, amsgrad=draw(st.booleans()), maximize=maximize)


def test_the_one_pass_update_equals_the_tensor_op_loop_bit_for_bit():
    """The kernels do the Tensor ops' arithmetic in the same order and dtype: float64 and float32 results
    are identical, parameters and state, over hyperparameters, shapes and steps."""
    from hypothesis import given, settings, strategies as st

    @settings(max_examples=40, deadline=None, database=None)
    @given(data=st.data())
    def check(data):
        name = data.draw(st.sampled_from(["SGD", "Adam", "AdamW"]))
        kwargs = _hyperparameters(data.draw, name)
        dtype = data.draw(st.sampled_from([np.float64, np.float32]))
        shapes = data.draw(st.lists(st.lists(st.integers(1, 4), max_size=3).map(tuple), min_size=1, max_size=3))
        fused, loop = _fused_and_loop_runs(name, kwargs, dtype, shapes, data.draw(st.integers(1, 6)))
        assert len(fused) == len(loop)
        for a, b in zip(fused, loop):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), (name, kwargs, dtype, shapes)

    check()


ONE_PASS_OPTIMIZERS = [
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.02, weight_decay=0.5)),
]


@pytest.mark.parametrize("name, kwargs", ONE_PASS_OPTIMIZERS)
@pytest.mark.parametrize("foreach", [None, True, False])
def test_one_pass_optimizers_match_pytorch_step_for_step_in_float64(name, kwargs, foreach):
    t = _torch()
    opt_ours, opt_theirs, shapes, rng = _float64_pair(t, name, dict(kwargs, foreach=foreach), groups=True)
    _run_both(opt_ours, opt_theirs, shapes, rng, 12, t, skip={(3, 1), (4, 1), (7, 0)})
    _assert_state_like_pytorch(opt_ours.state_dict(), opt_theirs.state_dict())


def test_foreach_and_fused_choose_the_implementation_as_documented():
    def strided_param():  # a leaf whose storage is not C-contiguous
        return minigrad.arange(6.0).reshape(2, 3).t().detach().requires_grad_()

    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together"):
        optim.Adam([nn.Parameter(minigrad.ones(2))], foreach=True, fused=True)
    with pytest.raises(TypeError, match="fused must be None, False or True"):
        optim.SGD([nn.Parameter(minigrad.ones(2))], lr=0.1, fused="yes")
    for name in ("SGD", "Adam"):
        p = strided_param()
        opt = getattr(optim, name)([p], lr=0.1, fused=True)
        p.grad = minigrad.ones(3, 2)
        with pytest.raises(RuntimeError, match=r"fused=True\): the one-pass update needs"):
            opt.step()
        # the default and foreach=True fall back to the Tensor ops for what the kernel can't take
        results = []
        for foreach in (None, True, False):
            p = strided_param()
            opt = getattr(optim, name)([p], lr=0.1, foreach=foreach)
            for _ in range(3):
                p.grad = minigrad.arange(6.0).reshape(3, 2)
                opt.step()
            results.append(p.tolist())
        assert results[0] == results[1] == results[2]
    # a Tensor lr, and a gradient of another dtype, take the Tensor ops too
    for lr in (minigrad.tensor(0.1), 0.1):
        p = nn.Parameter(minigrad.ones(2))
        opt = optim.SGD([p], lr=lr, momentum=0.5)
        p.grad = minigrad.ones(2, dtype=minigrad.float64)
        opt.step()
        assert p.dtype == minigrad.float32 and p.tolist() == pytest.approx([0.9, 0.9])


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_the_one_pass_update_bumps_versions_as_in_place_ops_do(name):
    p = nn.Parameter(minigrad.tensor([1.0, 2.0]))
    opt = getattr(optim, name)([p], lr=0.1, momentum=0.9) if name == "SGD" else optim.Adam([p], lr=0.1)
    y = (p * p).sum()  # saves p for its backward
    p.grad = minigrad.ones(2)
    before = p._version.value
    opt.step()
    assert p._version.value > before and p.requires_grad and p.grad_fn is None  # still a leaf
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    state = opt.state[p]
    buffers = [v for k, v in state.items() if k != "step"]
    assert buffers and all(b._version.value >= 1 for b in buffers)
    if name == "Adam":
        assert state["step"].item() == 1 and state["step"]._version.value == 1
