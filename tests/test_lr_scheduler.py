"""Learning-rate schedules against PyTorch: the lr of every param group over 30 steps (chainable step(), the
closed form of step(epoch), two schedules composed on one optimizer), ReduceLROnPlateau fed metric sequences
with plateaus, state dicts equal to PyTorch's and resumed through minigrad.save/load, and bad arguments
refused with PyTorch's exception types."""
import math
import warnings
from collections import Counter

import pytest

import minigrad
from minigrad import nn, optim

STEPS = 30


def _torch():
    return pytest.importorskip("torch")


def _optimizer(lib, name="SGD"):
    """Two param groups with different lrs, so per-group values (and lists of lambdas, min_lrs) are exercised."""
    groups = [{"params": [lib.nn.Parameter(lib.zeros(2))]}, {"params": [lib.nn.Parameter(lib.zeros(3))], "lr": 0.05}]
    if name == "SGD":
        return lib.optim.SGD(groups, lr=0.1, momentum=0.9)
    return getattr(lib.optim, name)(groups, lr=0.1)


def _lrs(opt):
    return [group["lr"] for group in opt.param_groups]


def _close(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-15)


def _warmup(epoch):
    return min(1.0, (epoch + 1) / 4)


class Halving:
    """A callable object: LambdaLR's state_dict saves its __dict__ (a plain function saves None)."""

    def __init__(self, every):
        self.every = every

    def __call__(self, epoch):
        return 0.5 ** (epoch // self.every)


def _make(lib, opt, name, *args, **kwargs):
    return getattr(lib.optim.lr_scheduler, name)(opt, *args, **kwargs)


# (id, factory(lib, optimizer) -> scheduler or list of schedulers all stepped each epoch)
CASES = [
    ("MultiStepLR", lambda lib, o: _make(lib, o, "MultiStepLR", milestones=[3, 7, 7, 12], gamma=0.5)),
    ("MultiStepLR-default-gamma", lambda lib, o: _make(lib, o, "MultiStepLR", [10, 20.0])),
    ("ExponentialLR", lambda lib, o: _make(lib, o, "ExponentialLR", gamma=0.9)),
    ("LambdaLR", lambda lib, o: _make(lib, o, "LambdaLR", lambda e: 0.95 ** e)),
    ("LambdaLR-per-group", lambda lib, o: _make(lib, o, "LambdaLR", [_warmup, Halving(4)])),
    ("LinearLR-default", lambda lib, o: _make(lib, o, "LinearLR")),
    ("LinearLR-decay", lambda lib, o: _make(lib, o, "LinearLR", start_factor=0.5, end_factor=0.1, total_iters=8)),
    ("LinearLR-zero-end", lambda lib, o: _make(lib, o, "LinearLR", start_factor=1.0, end_factor=0.0, total_iters=30)),
    ("SequentialLR-warmup-exponential", lambda lib, o: _make(
        lib, o, "SequentialLR", [_make(lib, o, "LinearLR", start_factor=0.1, total_iters=4),
                                 _make(lib, o, "ExponentialLR", gamma=0.9)], milestones=[5])),
    ("SequentialLR-warmup-cosine", lambda lib, o: _make(
        lib, o, "SequentialLR", [_make(lib, o, "LinearLR", start_factor=0.25, total_iters=3),
                                 _make(lib, o, "CosineAnnealingLR", T_max=10, eta_min=0.001)], milestones=[3])),
    ("SequentialLR-three", lambda lib, o: _make(
        lib, o, "SequentialLR", [_make(lib, o, "ExponentialLR", gamma=0.8),
                                 _make(lib, o, "MultiStepLR", milestones=[2, 4]),
                                 _make(lib, o, "CosineAnnealingWarmRestarts", T_0=3, T_mult=2)],
        milestones=[6, 12])),
    ("SequentialLR-step-lambda", lambda lib, o: _make(
        lib, o, "SequentialLR", [_make(lib, o, "StepLR", step_size=2, gamma=0.5),
                                 _make(lib, o, "LambdaLR", lambda e: 1 / (e + 1))], milestones=[7])),
    ("CosineAnnealingWarmRestarts", lambda lib, o: _make(lib, o, "CosineAnnealingWarmRestarts", T_0=5)),
    ("CosineAnnealingWarmRestarts-T_mult", lambda lib, o: _make(lib, o, "CosineAnnealingWarmRestarts", T_0=3,
                                                                T_mult=2, eta_min=0.001)),
    ("CosineAnnealingWarmRestarts-T_mult-3", lambda lib, o: _make(lib, o, "CosineAnnealingWarmRestarts", 2, 3)),
    ("chained-exponential-multistep", lambda lib, o: [_make(lib, o, "ExponentialLR", gamma=0.95),
                                                      _make(lib, o, "MultiStepLR", milestones=[5, 15], gamma=0.2)]),
    ("chained-linear-exponential", lambda lib, o: [_make(lib, o, "LinearLR", start_factor=0.2, total_iters=6),
                                                   _make(lib, o, "ExponentialLR", gamma=0.9)]),
]


def _as_list(scheduler):
    return scheduler if isinstance(scheduler, list) else [scheduler]


def _assert_same_state(ours, theirs, path="state"):
    """minigrad's state_dict has PyTorch's keys, in PyTorch's order, with equal values."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), path
        assert list(ours) == list(theirs), path
        if isinstance(theirs, Counter):
            assert isinstance(ours, Counter), path
        for key in theirs:
            _assert_same_state(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), path
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _assert_same_state(a, b, f"{path}.{i}")
    elif isinstance(theirs, float) and not isinstance(ours, bool):
        assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15), path
    else:
        assert ours == theirs and type(ours) is type(theirs), path


@pytest.mark.parametrize("factory", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_lr_sequence_matches_pytorch(factory):
    t = _torch()
    ours_opt, theirs_opt = _optimizer(minigrad), _optimizer(t)
    ours, theirs = _as_list(factory(minigrad, ours_opt)), _as_list(factory(t, theirs_opt))
    _close(_lrs(ours_opt), _lrs(theirs_opt))
    for _ in range(STEPS):
        ours_opt.step()
        theirs_opt.step()
        for a, b in zip(ours, theirs):
            a.step()
            b.step()
        _close(_lrs(ours_opt), _lrs(theirs_opt))
        for a, b in zip(ours, theirs):
            _close(a.get_last_lr(), b.get_last_lr())
    for a, b in zip(ours, theirs):
        _assert_same_state(a.state_dict(), b.state_dict())


@pytest.mark.parametrize("factory", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_state_dict_round_trips_through_a_checkpoint_and_resumes(factory, tmp_path):
    opt = _optimizer(minigrad)
    schedulers = _as_list(factory(minigrad, opt))
    for _ in range(7):
        opt.step()
        for s in schedulers:
            s.step()
    minigrad.save({"optimizer": opt.state_dict(), "schedulers": [s.state_dict() for s in schedulers]},
                  tmp_path / "ckpt.safetensors")
    loaded = minigrad.load(tmp_path / "ckpt.safetensors")
    resumed_opt = _optimizer(minigrad)
    resumed = _as_list(factory(minigrad, resumed_opt))
    resumed_opt.load_state_dict(loaded["optimizer"])
    for s, state in zip(resumed, loaded["schedulers"]):
        s.load_state_dict(state)
    for a, b in zip(resumed, schedulers):
        _assert_same_state(a.state_dict(), b.state_dict())
    for _ in range(12):
        for o in (opt, resumed_opt):
            o.step()
        for a, b in zip(schedulers, resumed):
            a.step()
            b.step()
            assert a.get_last_lr() == b.get_last_lr()
        assert _lrs(opt) == _lrs(resumed_opt)


# --- step(epoch): PyTorch's deprecated closed form ---------------------------------------------------------

EPOCH_CASES = [
    ("MultiStepLR", dict(milestones=[3, 7, 7, 12], gamma=0.5), [0, 5, 7, 3, 12, 20, 1]),
    ("ExponentialLR", dict(gamma=0.9), [0, 4, 2, 10, 29]),
    ("LinearLR", dict(start_factor=0.5, end_factor=0.1, total_iters=8), [0, 3, 8, 12, 1]),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.9 ** e), [0, 6, 2]),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2), [0, 0.5, 1.7, 3, 4.5, 10, 21.3, 2]),
    ("CosineAnnealingWarmRestarts", dict(T_0=4), [0, 2.5, 4, 9.25, 13]),
]


@pytest.mark.parametrize("name, kwargs, epochs", EPOCH_CASES, ids=[c[0] for c in EPOCH_CASES])
def test_step_with_an_epoch_matches_pytorch(name, kwargs, epochs):
    t = _torch()
    ours_opt, theirs_opt = _optimizer(minigrad), _optimizer(t)
    ours, theirs = _make(minigrad, ours_opt, name, **kwargs), _make(t, theirs_opt, name, **kwargs)
    for epoch in epochs:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ours.step(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs.step(epoch)
        if name != "CosineAnnealingWarmRestarts":
            assert any("deprecated" in str(w.message) for w in caught)
        _close(_lrs(ours_opt), _lrs(theirs_opt))
        assert ours.last_epoch == theirs.last_epoch


def test_resuming_with_last_epoch_matches_pytorch():
    """last_epoch >= 0 needs 'initial_lr' in the groups; the chainable schedules then continue from the
    optimizer's current lr, as PyTorch's do."""
    t = _torch()
    results = []
    for lib in (minigrad, t):
        opt = _optimizer(lib)
        for group in opt.param_groups:
            group["initial_lr"] = group["lr"]
            group["lr"] = group["lr"] * 0.5
        schedulers = [lib.optim.lr_scheduler.ExponentialLR(opt, 0.9, last_epoch=4),
                      lib.optim.lr_scheduler.MultiStepLR(opt, [6, 8], last_epoch=4)]
        lrs = [_lrs(opt)]
        for _ in range(6):
            opt.step()
            for s in schedulers:
                s.step()
            lrs.append(_lrs(opt))
        results.append(lrs)
    for ours, theirs in zip(*results):
        _close(ours, theirs)
    with pytest.raises(KeyError, match="initial_lr"):
        minigrad.optim.lr_scheduler.LinearLR(_optimizer(minigrad), last_epoch=3)


# --- ReduceLROnPlateau ----------------------------------------------------------------------------------

def _plateau_metrics():
    """Improves, stalls, improves by less than a 1e-4 relative threshold, bounces, stalls for a long time."""
    values = [1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.79999, 0.7, 0.71, 0.72, 0.69995, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6,
              0.6, 0.5, 0.55, 0.55, 0.55, 0.55, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45]
    assert len(values) == STEPS
    return values


PLATEAU_CASES = [
    ("defaults", dict(), 1),
    ("patience", dict(patience=2), 1),
    ("no-patience", dict(patience=0, factor=0.5), 1),
    ("abs-threshold", dict(patience=1, threshold=0.05, threshold_mode="abs"), 1),
    ("cooldown-min_lr", dict(patience=1, cooldown=2, factor=0.5, min_lr=0.02), 1),
    ("min_lr-per-group", dict(patience=0, factor=0.3, min_lr=[0.01, 0.004]), 1),
    ("eps-skips-small-changes", dict(patience=0, factor=0.5, eps=0.01), 1),
    ("max-rel", dict(mode="max", patience=2, factor=0.5), -1),
    ("max-abs-cooldown", dict(mode="max", patience=1, threshold=0.02, threshold_mode="abs", cooldown=1,
                              min_lr=0.01), -1),
    ("max-rel-threshold", dict(mode="max", patience=0, threshold=0.1, factor=0.7), -1),
]


@pytest.mark.parametrize("kwargs, sign", [(c[1], c[2]) for c in PLATEAU_CASES], ids=[c[0] for c in PLATEAU_CASES])
def test_reduce_lr_on_plateau_matches_pytorch(kwargs, sign):
    t = _torch()
    ours_opt, theirs_opt = _optimizer(minigrad, "Adam"), _optimizer(t, "Adam")
    ours = minigrad.optim.lr_scheduler.ReduceLROnPlateau(ours_opt, **kwargs)
    theirs = t.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, **kwargs)
    changes = 0
    for i, metric in enumerate(_plateau_metrics()):
        before = _lrs(ours_opt)
        # a float, a 0-d tensor (as a loss is): both are accepted
        ours.step(sign * metric if i % 2 else minigrad.tensor(sign * metric, dtype=minigrad.float64))
        theirs.step(sign * metric)
        changes += _lrs(ours_opt) != before
        _close(_lrs(ours_opt), _lrs(theirs_opt))
        _close(ours.get_last_lr(), theirs.get_last_lr())
        assert (ours.num_bad_epochs, ours.cooldown_counter, ours.last_epoch) == (
            theirs.num_bad_epochs, theirs.cooldown_counter, theirs.last_epoch)
        assert ours.best == pytest.approx(theirs.best, rel=1e-12)
    if kwargs:
        assert changes >= 1  # the sequence has plateaus long enough to reduce the lr
    _assert_same_state(ours.state_dict(), theirs.state_dict())


def test_reduce_lr_on_plateau_resumes_from_a_checkpoint(tmp_path):
    metrics = _plateau_metrics()
    opt = _optimizer(minigrad)
    sched = minigrad.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", patience=1, cooldown=1)
    for m in metrics[:9]:
        sched.step(-m)
    minigrad.save({"sched": sched.state_dict(), "opt": opt.state_dict()}, tmp_path / "s.safetensors")
    loaded = minigrad.load(tmp_path / "s.safetensors")
    opt2 = _optimizer(minigrad)
    opt2.load_state_dict(loaded["opt"])
    sched2 = minigrad.optim.lr_scheduler.ReduceLROnPlateau(opt2)  # other options: the state brings them
    sched2.load_state_dict(loaded["sched"])
    assert sched2.mode_worse == -math.inf and sched2.mode == "max"
    for m in metrics[9:]:
        sched.step(-m)
        sched2.step(-m)
        assert _lrs(opt) == _lrs(opt2)
    assert sched.state_dict() == sched2.state_dict()


def test_reduce_lr_on_plateau_added_group_takes_the_default_min_lr():
    opt = _optimizer(minigrad)
    sched = minigrad.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=0.04)
    opt.add_param_group({"params": [nn.Parameter(minigrad.zeros(1))], "lr": 1.0})
    sched.step(1.0)
    sched.step(2.0)
    assert _lrs(opt) == pytest.approx([0.04, 0.04, 0.1])
    listed = minigrad.optim.lr_scheduler.ReduceLROnPlateau(_optimizer(minigrad), patience=0, min_lr=[0.0, 0.0])
    listed.optimizer.add_param_group({"params": [nn.Parameter(minigrad.zeros(1))]})
    listed.step(1.0)
    with pytest.raises(RuntimeError, match="min_lrs"):
        listed.step(2.0)


def test_lambda_lr_state_dict_keeps_callable_objects_state_not_functions():
    halving = Halving(4)
    opt = _optimizer(minigrad)
    sched = minigrad.optim.lr_scheduler.LambdaLR(opt, [_warmup, halving])
    assert sched.state_dict()["lr_lambdas"] == [None, {"every": 4}]
    state = sched.state_dict()
    state["lr_lambdas"][1]["every"] = 2
    other = minigrad.optim.lr_scheduler.LambdaLR(_optimizer(minigrad), [_warmup, Halving(4)])
    other.load_state_dict(state)
    assert other.lr_lambdas[1].every == 2 and other.lr_lambdas[0] is _warmup
    assert "lr_lambdas" in state  # load_state_dict leaves its argument as it was


def test_get_lr_outside_step_warns_as_pytorch():
    sched = minigrad.optim.lr_scheduler.ExponentialLR(_optimizer(minigrad), 0.5)
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()


def test_tensor_lr_is_updated_in_place():
    lr = minigrad.tensor(0.1, dtype=minigrad.float64)
    opt = optim.Adam([nn.Parameter(minigrad.zeros(2))], lr=lr)
    sched = minigrad.optim.lr_scheduler.ExponentialLR(opt, 0.5)
    sched.step()
    assert opt.param_groups[0]["lr"] is lr and lr.item() == pytest.approx(0.05)
    assert sched.get_last_lr()[0] is not lr


def test_every_scheduler_is_exported_as_in_pytorch():
    t = _torch()
    for name in minigrad.optim.lr_scheduler.__all__:
        assert hasattr(t.optim.lr_scheduler, name), name
        assert issubclass(getattr(minigrad.optim.lr_scheduler, name), minigrad.optim.lr_scheduler.LRScheduler)


# --- bad arguments: PyTorch's exception type, a message that names the argument ---------------------------

def _sched(lib, name, *args, **kwargs):
    return getattr(lib.optim.lr_scheduler, name)(_optimizer(lib), *args, **kwargs)


def _sequential(lib, build):
    opt = _optimizer(lib)
    return lib.optim.lr_scheduler.SequentialLR(opt, *build(lib, opt))


SAME = "same as PyTorch"
BAD = [
    ("LinearLR-start_factor", lambda lib: _sched(lib, "LinearLR", start_factor=0), ValueError, "start_factor", SAME),
    ("LinearLR-start_factor-big", lambda lib: _sched(lib, "LinearLR", start_factor=1.5), ValueError, "start_factor",
     SAME),
    ("LinearLR-end_factor", lambda lib: _sched(lib, "LinearLR", end_factor=-0.1), ValueError, "end_factor", SAME),
    ("LinearLR-not-an-optimizer", lambda lib: lib.optim.lr_scheduler.LinearLR(object()), TypeError, "Optimizer",
     SAME),
    ("LambdaLR-count", lambda lib: _sched(lib, "LambdaLR", [lambda e: 1.0]), ValueError, "lr_lambdas", SAME),
    ("LambdaLR-not-callable", lambda lib: _sched(lib, "LambdaLR", 0.5), TypeError, "lr_lambda",
     SAME),
    ("MultiStepLR-not-iterable", lambda lib: _sched(lib, "MultiStepLR", 5), TypeError, "int", SAME),
    ("MultiStepLR-milestone-str", lambda lib: _sched(lib, "MultiStepLR", ["3"]), TypeError, "milestones",
     "PyTorch accepts it and never matches it"),
    ("MultiStepLR-milestone-fraction", lambda lib: _sched(lib, "MultiStepLR", [2.5]), ValueError, "milestones",
     "PyTorch accepts it and never matches it"),
    ("MultiStepLR-gamma-str", lambda lib: _sched(lib, "MultiStepLR", [2], gamma="0.1"), TypeError, "gamma",
     "PyTorch fails at the first milestone"),
    ("ExponentialLR-gamma-str", lambda lib: _sched(lib, "ExponentialLR", "0.9"), TypeError, "gamma",
     "PyTorch fails at the first step"),
    ("CAWR-T_0", lambda lib: _sched(lib, "CosineAnnealingWarmRestarts", 0), ValueError, "T_0", SAME),
    ("CAWR-T_0-float", lambda lib: _sched(lib, "CosineAnnealingWarmRestarts", 2.5), ValueError, "T_0", SAME),
    ("CAWR-T_0-str", lambda lib: _sched(lib, "CosineAnnealingWarmRestarts", "5"), TypeError, "T_0", SAME),
    ("CAWR-T_mult", lambda lib: _sched(lib, "CosineAnnealingWarmRestarts", 5, T_mult=0), ValueError, "T_mult", SAME),
    ("CAWR-T_mult-float", lambda lib: _sched(lib, "CosineAnnealingWarmRestarts", 5, T_mult=1.5), ValueError,
     "T_mult", SAME),
    ("CAWR-eta_min", lambda lib: _sched(lib, "CosineAnnealingWarmRestarts", 5, eta_min="0"), ValueError, "eta_min",
     SAME),
    ("CAWR-negative-epoch", lambda lib: _sched(lib, "CosineAnnealingWarmRestarts", 5).step(-1), ValueError, "epoch",
     SAME),
    ("Plateau-factor", lambda lib: _sched(lib, "ReduceLROnPlateau", factor=1.0), ValueError, "actor", SAME),
    ("Plateau-mode", lambda lib: _sched(lib, "ReduceLROnPlateau", mode="minimum"), ValueError, "mode", SAME),
    ("Plateau-threshold_mode", lambda lib: _sched(lib, "ReduceLROnPlateau", threshold_mode="relative"), ValueError,
     "threshold mode", SAME),
    ("Plateau-min_lr-count", lambda lib: _sched(lib, "ReduceLROnPlateau", min_lr=[0.1]), ValueError, "min_lr", SAME),
    ("Plateau-not-an-optimizer", lambda lib: lib.optim.lr_scheduler.ReduceLROnPlateau(object()), TypeError,
     "Optimizer", SAME),
    ("Plateau-metric-str", lambda lib: _sched(lib, "ReduceLROnPlateau").step("low"), ValueError, "low", SAME),
    ("Sequential-empty", lambda lib: _sequential(lib, lambda lib, o: ([], [])), ValueError, "schedulers", SAME),
    ("Sequential-milestones", lambda lib: _sequential(lib, lambda lib, o: (
        [lib.optim.lr_scheduler.ExponentialLR(o, 0.9), lib.optim.lr_scheduler.ExponentialLR(o, 0.5)], [])),
     ValueError, "milestones", SAME),
    ("Sequential-plateau", lambda lib: _sequential(lib, lambda lib, o: (
        [lib.optim.lr_scheduler.ExponentialLR(o, 0.9), lib.optim.lr_scheduler.ReduceLROnPlateau(o)], [3])),
     ValueError, "ReduceLROnPlateau", SAME),
    ("Sequential-other-optimizer", lambda lib: _sequential(lib, lambda lib, o: (
        [lib.optim.lr_scheduler.ExponentialLR(_optimizer(lib), 0.9)], [])), ValueError, "same optimizer", SAME),
    ("Sequential-not-a-scheduler", lambda lib: _sequential(lib, lambda lib, o: ([object()], [])), TypeError,
     "optimizer", SAME),
]


@pytest.mark.parametrize("case, expected, words", [(c[1], c[2], c[3]) for c in BAD], ids=[c[0] for c in BAD])
def test_bad_arguments_raise_with_a_named_cause(case, expected, words):
    with pytest.raises(expected) as raised:
        case(minigrad)
    assert words in str(raised.value)


@pytest.mark.parametrize("case, expected, why_not", [(c[1], c[2], c[4]) for c in BAD], ids=[c[0] for c in BAD])
def test_torch_raises_the_same_type(case, expected, why_not):
    t = _torch()
    if why_not is not SAME:
        pytest.skip(why_not)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(expected):
            case(t)
