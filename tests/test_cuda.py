"""The CUDA backend against the CPU backend: every primitive's values, VJPs and JVPs, the convolution
and pooling family, losses, optimizers, the device API, and device memory over training steps.

These run on a GPU when numba.cuda finds one, and in CI under Numba's simulator:

    NUMBA_ENABLE_CUDASIM=1 python -m pytest -q -m cuda

The simulator runs each GPU thread as a Python thread, so the shapes here are small.
"""
import gc
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad
import minigrad.nn.functional as F
from minigrad import nn
from test_conv import conv_case
from test_primitives import CASES, _draw_case

pytestmark = pytest.mark.cuda
needs_cuda = pytest.mark.skipif(not minigrad.cuda.is_available(),
                                reason="numba.cuda finds no GPU; set NUMBA_ENABLE_CUDASIM=1 for the simulator")
EXAMPLES = 40 if os.environ.get("MINIGRAD_HYPOTHESIS_PROFILE") == "thorough" else 4
few = settings(max_examples=EXAMPLES)
ROOT = pathlib.Path(__file__).resolve().parents[1]


def on_cuda(array, layout="contiguous"):
    """A float64 leaf on the GPU holding `array`, laid out on the device as checks.relayout does."""
    array = np.asarray(array, dtype=np.float64)
    if layout == "transposed" and array.ndim >= 2:
        t = minigrad.from_numpy(np.ascontiguousarray(array.T)).cuda().permute(*reversed(range(array.ndim)))
    elif layout == "strided" and array.ndim >= 1:
        t = minigrad.from_numpy(np.repeat(array, 2, axis=-1)).cuda()[..., ::2]
    else:
        t = minigrad.from_numpy(array).cuda()
    return t.detach().requires_grad_()


def on_cpu(array):
    return minigrad.from_numpy(np.asarray(array, dtype=np.float64)).requires_grad_()


def host(t):
    return t.detach().cpu().numpy()


def assert_same(gpu, cpu, rtol=1e-9, atol=1e-11):
    assert gpu.device.type == "cuda"
    assert tuple(gpu.shape) == tuple(cpu.shape) and gpu.dtype == cpu.dtype
    np.testing.assert_allclose(host(gpu), host(cpu), rtol=rtol, atol=atol)


def compare(fn, arrays, layout="contiguous", rtol=1e-9, atol=1e-11):
    """fn on the GPU and on the CPU: outputs, VJPs (a random cotangent) and JVPs (random tangents)."""
    gpu_in, cpu_in = [on_cuda(a, layout) for a in arrays], [on_cpu(a) for a in arrays]
    gpu_out, cpu_out = fn(*gpu_in), fn(*cpu_in)
    assert_same(gpu_out, cpu_out, rtol, atol)
    rng = np.random.default_rng(0)
    weights = rng.standard_normal(tuple(cpu_out.shape))
    (gpu_out * minigrad.from_numpy(weights).cuda()).sum().backward()
    (cpu_out * minigrad.from_numpy(weights)).sum().backward()
    for g, c in zip(gpu_in, cpu_in):
        assert_same(g.grad, c.grad, rtol, atol)
    tangents = [rng.standard_normal(a.shape) for a in arrays]
    gpu_t = minigrad.func.jvp(fn, tuple(t.detach() for t in gpu_in),
                              tuple(minigrad.from_numpy(v).cuda() for v in tangents))[1]
    cpu_t = minigrad.func.jvp(fn, tuple(t.detach() for t in cpu_in), tuple(minigrad.from_numpy(v) for v in tangents))[1]
    assert_same(gpu_t, cpu_t, rtol, atol)


# --- every primitive -----------------------------------------------------------------------------

@needs_cuda
@pytest.mark.parametrize("name", sorted(CASES))
@few
@given(data=st.data())
def test_primitive_matches_cpu(name, data):
    fn, arrays, layout = _draw_case(name, data.draw(CASES[name][0]))
    compare(fn, arrays, layout)


# the tensor ops composed of primitives (tests/test_tensor_ops.py), sort's host round trip among them
TENSOR_OPS = {
    "sort_topk": lambda t: t.sort(1, descending=True).values + t.topk(3, 0, largest=False).values.sum(0),
    "cumsum_cumprod": lambda t: t.cumsum(1) + t.cumprod(0),
    "flip_roll": lambda t: t.flip(0, 1).roll((1, -2), (0, 1)),
    "tril_triu": lambda t: t.tril(-1) + 2 * t.triu(1),
    "repeat": lambda t: t.repeat(2, 1, 2).repeat_interleave(2, 1),
    "einsum": lambda t: minigrad.einsum("ij,kj->ik", t, t),
    "norms": lambda t: minigrad.linalg.norm(t, float("inf"), (0, 1)) + t.norm(3, 1).sum(),
    "masked_fill_nan_to_num": lambda t: t.masked_fill(t > 0, 0.5).nan_to_num(),
    "scatter": lambda t: t.scatter(1, minigrad.tensor([[3, 0], [1, 1], [0, 2]], device=t.device), t[:, :2] * 2)
    + t.scatter(0, minigrad.tensor([[2, 0, 1, 1], [2, 2, 1, 0]], device=t.device), 1.5, reduce="multiply"),
    "products": lambda t: minigrad.addmm(t[0], t.t(), t, beta=0.5).sum() + minigrad.outer(t[0], t[1]).sum()
    + t[0].dot(t[1]),
}


@needs_cuda
@pytest.mark.parametrize("name", sorted(TENSOR_OPS))
def test_tensor_ops_match_cpu(name):
    compare(TENSOR_OPS[name], [np.random.default_rng(5).standard_normal((3, 4))])


@needs_cuda
def test_argsort_and_unique_match_cpu():
    values = np.array([[2.0, np.nan, 1.0, 2.0], [0.5, 0.5, -1.0, 3.0]])
    gpu, cpu = minigrad.from_numpy(values).cuda(), minigrad.from_numpy(values)
    for descending in (False, True):
        assert_same(gpu.argsort(1, descending), cpu.argsort(1, descending))
    for g, c in zip(gpu.unique(return_inverse=True, return_counts=True),
                    cpu.unique(return_inverse=True, return_counts=True)):
        assert_same(g, c)
    rows = np.array([[1.0, 2.0, 1.0], [0.0, 2.0, 1.0], [1.0, 2.0, 1.0]])
    for dim in (0, 1):
        for g, c in zip(minigrad.from_numpy(rows).cuda().unique(dim=dim, return_inverse=True, return_counts=True),
                        minigrad.from_numpy(rows).unique(dim=dim, return_inverse=True, return_counts=True)):
            assert_same(g, c)


@needs_cuda
@pytest.mark.parametrize("shape, axis", [((2, 5), 1), ((5, 3), 0), ((2, 3, 4), 1), ((0, 3), 1), ((3, 0), 1),
                                         ((9,), 0)])
def test_argsort_kernel_matches_cpu_on_the_device(shape, axis, monkeypatch):
    """Ties, nan, both directions, each key dtype, strided input; nothing is copied to the host."""
    from minigrad_kernels.cuda import arrays
    rng = np.random.default_rng(7)
    values = np.floor(rng.standard_normal(shape) * 1.5)
    values[rng.random(shape) < 0.2] = np.nan
    inputs = [values, values.astype(np.float32), np.nan_to_num(values).astype(np.int64), values > 0]
    gpu = [minigrad.from_numpy(v).cuda() for v in inputs] + [minigrad.from_numpy(values.T.copy()).cuda().T]
    with monkeypatch.context() as patched:
        patched.setattr(arrays, "to_host", lambda x: pytest.fail("argsort copied to the host"))
        sorted_gpu = [[t.argsort(axis, descending) for t in gpu] for descending in (False, True)]
    for descending, results in zip((False, True), sorted_gpu):
        for t, v in zip(results, inputs + [values]):
            assert_same(t, minigrad.from_numpy(v).argsort(axis, descending))


@needs_cuda
def test_argsort_of_rows_longer_than_the_kernel_takes_falls_back_to_the_host(monkeypatch):
    from minigrad_kernels.cuda import sort as sort_kernels
    monkeypatch.setattr(sort_kernels, "MAX_ROW", 4)
    values = np.array([[3.0, np.nan, 1.0, 3.0, -1.0, 0.5], [2.0, 2.0, 2.0, 1.0, 1.0, 0.0]])
    for descending in (False, True):
        assert_same(minigrad.from_numpy(values).cuda().sort(1, descending).indices,
                    minigrad.from_numpy(values).sort(1, descending).indices)
    with pytest.raises(ValueError, match="exceed"):
        sort_kernels.argsort_rows(minigrad.zeros(2, 6, dtype=minigrad.int64).cuda()._data, None, False)


@needs_cuda
@pytest.mark.parametrize("nd", [1, 2, 3])
@few
@given(data=st.data())
def test_conv_matches_cpu(nd, data):
    case = data.draw(conv_case(nd))
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    args = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
    if case["b"] is None:
        compare(lambda x, w: conv(x, w, **args), [case["x"], case["w"]], case["layout"])
    else:
        compare(lambda x, w, b: conv(x, w, b, **args), [case["x"], case["w"], case["b"]], case["layout"])


@needs_cuda
@few
@given(data=st.data())
def test_conv_transpose_matches_cpu(data):
    case = data.draw(conv_case(2, transposed=True))
    args = dict(stride=case["stride"], padding=case["padding"], output_padding=case["output_padding"],
                groups=case["groups"], dilation=case["dilation"])
    compare(lambda y, w: F.conv_transpose2d(y, w, **args), [case["x"], case["w"]], case["layout"])


@needs_cuda
@few
@given(seed=st.integers(0, 2 ** 31), kernel=st.integers(1, 3), stride=st.integers(1, 2),
       padding=st.integers(0, 1), dilation=st.integers(1, 2))
def test_unfold_and_fold_match_cpu(seed, kernel, stride, padding, dilation):
    x = np.random.default_rng(seed).standard_normal((2, 2, 6, 5))  # fits a kernel of 3 dilated by 2
    args = dict(kernel_size=kernel, dilation=dilation, padding=padding, stride=stride)
    compare(lambda t: F.fold(F.unfold(t, **args) * 2, (6, 5), **args), [x])


POOLS = {
    "max": lambda x: F.max_pool2d(x, 2, stride=1, padding=1),
    "max_dilated_ceil": lambda x: F.max_pool2d(x, 2, stride=2, dilation=2, ceil_mode=True),
    "max1d": lambda x: F.max_pool1d(x.flatten(2), 3, stride=2, padding=1),
    "avg": lambda x: F.avg_pool2d(x, 2, stride=1, padding=1),
    "avg_no_pad": lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
    "avg1d": lambda x: F.avg_pool1d(x.flatten(2), 2),
    "adaptive_avg": lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
    "adaptive_max": lambda x: F.adaptive_max_pool2d(x, 2),
}
PADS = {mode: (lambda x, mode=mode: F.pad(x, (1, 2, 2, 0), mode=mode))
        for mode in ("constant", "reflect", "replicate", "circular")}


@needs_cuda
@pytest.mark.parametrize("name", sorted(POOLS) + sorted(PADS))
def test_pooling_and_padding_match_cpu(name):
    # values at least 0.05 apart, so the arg-max does not depend on rounding
    rng = np.random.default_rng(len(name))
    x = (rng.permutation(2 * 2 * 5 * 5) * 0.05).reshape(2, 2, 5, 5)
    compare({**POOLS, **PADS}[name], [x], "strided")


@needs_cuda
def test_max_pool_values_and_indices_match_cpu():
    x = np.random.default_rng(1).standard_normal((1, 2, 6, 5))
    _, gpu = F.max_pool2d(minigrad.from_numpy(x).cuda(), 3, 2, 1, return_indices=True)
    _, cpu = F.max_pool2d(minigrad.from_numpy(x), 3, 2, 1, return_indices=True)
    assert gpu.device.type == "cuda" and host(gpu).tolist() == host(cpu).tolist()


LOSSES = {
    "cross_entropy": lambda x, t: F.cross_entropy(x, t),
    "cross_entropy_smooth_weighted": lambda x, t: F.cross_entropy(
        x, t, weight=minigrad.arange(1.0, 5.0, dtype=x.dtype, device=x.device), label_smoothing=0.1),
    "nll": lambda x, t: F.nll_loss(x.log_softmax(1), t, reduction="sum"),
    "mse": lambda x, t: F.mse_loss(x, t.to(x.dtype)[:, None].expand(-1, 4)),
    "bce_logits": lambda x, t: F.binary_cross_entropy_with_logits(x, (t.to(x.dtype) / 3)[:, None].expand(-1, 4)),
}


@needs_cuda
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_match_cpu(name):
    rng = np.random.default_rng(3)
    x, target = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    loss = LOSSES[name]
    gpu_target, cpu_target = minigrad.tensor(target).cuda(), minigrad.tensor(target)
    compare(lambda t: loss(t, gpu_target if t.is_cuda else cpu_target), [x])


# --- kernels at their edges ---------------------------------------------------------------------

@needs_cuda
def test_reductions_of_any_length_and_dims():
    x = np.random.default_rng(2).standard_normal((3, 1100))
    gpu = minigrad.from_numpy(x).cuda()
    np.testing.assert_allclose(host(gpu.sum()), x.sum(), rtol=1e-12)
    np.testing.assert_allclose(host(gpu.sum(1)), x.sum(1), rtol=1e-12)
    np.testing.assert_allclose(host(gpu.mean((0, 1), keepdim=True)), x.mean((0, 1), keepdims=True), rtol=1e-12)
    assert host(gpu.argmax(1)).tolist() == x.argmax(1).tolist()
    assert host(gpu.amin(0)).tolist() == x.min(0).tolist()
    assert int(host((gpu > 0).sum())) == int((x > 0).sum())
    assert bool(host((gpu > -10).all())) and not bool(host((gpu > 10).any()))


@needs_cuda
def test_nan_ties_and_special_values_follow_numpy():
    x = np.array([[1.0, 3.0, 3.0, np.nan, 2.0], [0.0, -1.0, -1.0, 5.0, 5.0]])
    gpu = minigrad.from_numpy(x).cuda()
    assert host(gpu.argmax(1)).tolist() == [3, 3]
    assert host(gpu.argmin(1)).tolist() == [3, 1]
    assert np.isnan(host(gpu.amax(1))[0]) and host(gpu.amax(1))[1] == 5.0
    special = np.array([0.0, -1.0, np.inf, -np.inf, np.nan, 800.0, -800.0])
    s = minigrad.from_numpy(special)
    for op in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "abs", "sign", "floor", "relu"):
        np.testing.assert_allclose(host(getattr(s.cuda(), op)()), host(getattr(s, op)()), rtol=1e-15, err_msg=op)
    np.testing.assert_array_equal(host(s.cuda() / 0.0), host(s / 0.0))


@needs_cuda
@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 17, 5), (2, 4, 33)])
def test_matmul_tiles_at_every_edge(shape):
    m, k, n = shape
    rng = np.random.default_rng(k)
    a, b = rng.standard_normal((2, m, k)), rng.standard_normal((k, n))
    np.testing.assert_allclose(host(minigrad.from_numpy(a).cuda() @ minigrad.from_numpy(b).cuda()), a @ b,
                               rtol=1e-12, atol=1e-12)


@needs_cuda
def test_dtypes_and_casts():
    x = minigrad.tensor([[1.5, -2.5], [0.0, 3.0]], device="cuda")
    assert x.dtype == minigrad.float32 and x.device == minigrad.device("cuda:0")
    assert host(x.long()).tolist() == [[1, -2], [0, 3]]
    assert host(x.bool()).tolist() == [[True, True], [False, True]]
    assert host(minigrad.arange(5, device="cuda") // 2).tolist() == [0, 0, 1, 1, 2]
    assert host(minigrad.arange(5, device="cuda") % 3 == 1).tolist() == [False, True, False, False, True]
    assert host(minigrad.zeros(2, 3, device="cuda", dtype=minigrad.int64) + 1).tolist() == [[1] * 3] * 2
    assert host(minigrad.full((2,), 7.0, device="cuda")).tolist() == [7.0, 7.0]
    mask = minigrad.tensor([True, False], device="cuda")
    assert host(~mask).tolist() == [False, True] and host(mask & ~mask).tolist() == [False, False]
    assert host(~minigrad.tensor([0, 5], device="cuda")).tolist() == [-1, -6]


# --- the device API ----------------------------------------------------------------------------

@needs_cuda
def test_moving_between_devices():
    x = minigrad.randn(3, 4)
    for moved in (x.cuda(), x.to("cuda"), x.to(minigrad.device("cuda:0")), x.to("cuda", minigrad.float64)):
        assert moved.is_cuda and moved.device.type == "cuda"
        np.testing.assert_allclose(moved.cpu().numpy(), x.numpy(), rtol=1e-7)
    assert x.cuda().cpu().device == minigrad.device("cpu")
    assert minigrad.cuda.is_available() and minigrad.cuda.device_count() >= 1
    assert repr(minigrad.ones(2).cuda()) == "tensor([1., 1.], device='cuda:0')"
    assert x.cuda().device == minigrad.device("cuda", 0) and x.cuda().device.index == 0
    assert x.cuda()[1, 2].item() == pytest.approx(x[1, 2].item())
    assert x.cuda().tolist() == pytest.approx(np.asarray(x.tolist()))


@needs_cuda
def test_numpy_on_cuda_and_mixed_devices_raise_clearly():
    x = minigrad.ones(2, device="cuda")
    with pytest.raises(TypeError, match=r"cpu\(\)"):
        x.numpy()
    with pytest.raises(RuntimeError, match="same device"):
        x + minigrad.ones(2)
    with pytest.raises(RuntimeError, match="same device"):
        minigrad.ones(2, 2) @ minigrad.ones(2, 2, device="cuda")
    with pytest.raises(RuntimeError, match="same dtype and device"):
        F.conv2d(minigrad.ones(1, 1, 3, 3, device="cuda"), minigrad.ones(1, 1, 2, 2))
    with pytest.raises(RuntimeError, match="cuda:1"):
        minigrad.ones(2).to("cuda:1")


SIDE_DOORS_BEFORE = {  # ops that once called the backend directly, skipping the device check
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b, "floordiv": lambda a, b: a // b,
    "and": lambda a, b: (a > 0) & (b > 0), "or": lambda a, b: (a > 0) | (b > 0),
    "xor": lambda a, b: (a > 0) ^ (b > 0), "maximum": lambda a, b: a.maximum(b),
    "where": lambda a, b: minigrad.where(a > 0, a, b),
    "scatter": lambda a, b: a.scatter(0, (b > 5).long(), 1.0),
}


@needs_cuda
@pytest.mark.parametrize("name", sorted(SIDE_DOORS_BEFORE))
@pytest.mark.parametrize("cpu_first", [True, False])
def test_mixed_devices_raise_in_every_op(name, cpu_first):
    cpu, gpu = minigrad.ones(2, 2), minigrad.ones(2, 2, device="cuda")
    a, b = (cpu, gpu) if cpu_first else (gpu, cpu)
    with pytest.raises(RuntimeError, match="same device"):
        SIDE_DOORS_BEFORE[name](a, b)


@needs_cuda
def test_non_differentiable_ops_run_on_cuda():
    x = minigrad.tensor([[1.5, -2.0], [float("nan"), 3.0]])
    for fn in (lambda t: t > 0, lambda t: t // 2, lambda t: t.isnan(), lambda t: t.argmax(1),
               lambda t: (t > 0).any(0), lambda t: ~(t > 0), lambda t: F.max_pool2d(t[None, None], 2)):
        gpu, cpu = fn(x.cuda()), fn(x)
        assert gpu.device.type == "cuda" and gpu.dtype == cpu.dtype
        np.testing.assert_array_equal(host(gpu), host(cpu))


@needs_cuda
def test_in_place_ops_and_views_share_device_storage():
    x = minigrad.zeros(3, 4, device="cuda")
    row = x[1]
    row.add_(2.0)
    x[:, 3] = 5.0
    x.t()[0].mul_(0).add_(-1)
    expected = np.zeros((3, 4))
    expected[1] = 2.0
    expected[:, 3] = 5.0
    expected[:, 0] = -1.0
    np.testing.assert_array_equal(host(x), expected)
    assert host(row).tolist() == expected[1].tolist()
    assert not x.t().is_contiguous() and x.t().contiguous().is_contiguous()


@needs_cuda
def test_module_to_cuda_and_state_dict():
    torch_net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.LazyLinear(3))
    torch_net(minigrad.zeros(1, 1, 5, 5))
    net = torch_net.to("cuda")
    assert all(p.is_cuda for p in net.parameters()) and all(b.is_cuda for b in net.buffers())
    out = net(minigrad.randn(2, 1, 5, 5, device="cuda"))
    assert out.is_cuda and tuple(out.shape) == (2, 3)
    state = net.state_dict()
    assert all(v.is_cuda for v in state.values())
    back = net.cpu()
    assert all(not p.is_cuda for p in back.parameters())


@needs_cuda
@pytest.mark.parametrize("make", [
    lambda ps: minigrad.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: minigrad.optim.Adam(ps, lr=0.01),
    lambda ps: minigrad.optim.AdamW(ps, lr=0.01, amsgrad=True),
    lambda ps: minigrad.optim.RMSprop(ps, lr=0.01, momentum=0.5),
])
def test_optimizer_steps_match_cpu(make):
    rng = np.random.default_rng(4)
    w0, x, y = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    results = []
    for device in ("cpu", "cuda"):
        w = minigrad.tensor(w0, device=device, requires_grad=True)
        opt = make([w])
        for _ in range(3):
            opt.zero_grad()
            F.mse_loss(minigrad.from_numpy(x).to(device) @ w.T, minigrad.from_numpy(y).to(device)).backward()
            opt.step()
        results.append(host(w))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-10, atol=1e-12)


@needs_cuda
@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.01, maximize=True)),
    ("SGD", dict(lr=0.1)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("AdamW", dict(lr=0.01, betas=(0.5, 0.8), amsgrad=True)),
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_one_pass_optimizer_kernels_match_the_tensor_op_loop(name, kwargs, dtype):
    """The CUDA kernels against the Tensor ops on both devices. A GPU may fuse a multiply and an add
    (one rounding fewer), hence a tolerance of a few units in the last place rather than equality."""
    rng = np.random.default_rng(5)
    shapes = [(3, 4), (5,), ()]
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(3)]
    results = []
    for device, foreach in (("cuda", None), ("cuda", False), ("cpu", None)):
        params = [minigrad.tensor(a, device=device, requires_grad=True) for a in start]
        opt = getattr(minigrad.optim, name)(params, foreach=foreach, **kwargs)
        for step in grads:
            for p, g in zip(params, step):
                p.grad = minigrad.tensor(g, device=device)
            opt.step()
        results.append([host(p) for p in params] + [host(v) for p in params for k, v in opt.state[p].items()
                                                     if k != "step"])
    tolerance = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)
    for fused, loop, cpu in zip(*results):
        assert fused.dtype == np.dtype(dtype)
        np.testing.assert_allclose(fused, loop, **tolerance)
        np.testing.assert_allclose(fused, cpu, **tolerance)


def _lenet(model):
    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), model(), nn.AvgPool2d(2), nn.Conv2d(2, 3, 3), model(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3, 4), model(), nn.Linear(4, 3))


@needs_cuda
def test_training_steps_match_cpu_and_do_not_grow_device_memory():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((4, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, 4)
    minigrad.manual_seed(0)
    cpu_net = _lenet(nn.Sigmoid)
    gpu_net = _lenet(nn.Sigmoid)
    gpu_net.load_state_dict(cpu_net.state_dict())
    gpu_net.to("cuda")
    nets = [(cpu_net, minigrad.optim.SGD(cpu_net.parameters(), lr=0.5), "cpu"),
            (gpu_net, minigrad.optim.SGD(gpu_net.parameters(), lr=0.5), "cuda")]
    counts = []
    for step in range(4):
        losses = []
        for net, opt, device in nets:
            opt.zero_grad()
            loss = F.cross_entropy(net(minigrad.from_numpy(x).to(device)), minigrad.tensor(y).to(device))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[1] == pytest.approx(losses[0], rel=1e-4)
        del loss
        gc.collect()  # count what is alive, not what the collector has yet to reach (a cycle freed late read as a drop)
        counts.append(minigrad.cuda.allocation_count())
    assert counts[1] == counts[2] == counts[3], counts
    for p_cpu, p_gpu in zip(cpu_net.parameters(), gpu_net.parameters()):
        np.testing.assert_allclose(host(p_gpu), p_cpu.detach().numpy(), rtol=1e-4, atol=1e-5)


@needs_cuda
def test_train_lenet_example_runs_on_cuda(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_lenet.py"), "--device", "cuda", "--dataset", "synthetic",
         "--epochs", "1", "--batch-size", "1", "--max-batches", "1", "--no-progress", "--model", "modern"],
        capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "on cuda" in result.stdout and "epoch 1: loss" in result.stdout


def test_cuda_without_a_device_raises_a_clear_error():
    if minigrad.cuda.is_available():
        pytest.skip("a CUDA device (or the simulator) is available")
    with pytest.raises(RuntimeError, match="NUMBA_ENABLE_CUDASIM"):
        minigrad.zeros(2).cuda()


@needs_cuda
def test_checkpoint_written_on_cuda_resumes_on_cuda_and_on_cpu(tmp_path):
    minigrad.manual_seed(0)
    net = nn.Linear(3, 2).to("cuda")
    opt = minigrad.optim.Adam(net.parameters(), lr=0.1)
    x = minigrad.randn(4, 3)
    net(x.cuda()).sum().backward()
    opt.step()
    minigrad.save({"model": net.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "ckpt.safetensors")
    state = minigrad.load(tmp_path / "ckpt.safetensors")
    results = []
    for device in ("cuda", "cpu"):
        copy = nn.Linear(3, 2).to(device)
        copy.load_state_dict(state["model"])
        copy_opt = minigrad.optim.Adam(copy.parameters(), lr=0.1)
        copy_opt.load_state_dict(state["optimizer"])
        copy(x.to(device)).sum().backward()
        copy_opt.step()
        assert all(p.device.type == device for p in copy.parameters())
        results.append(host(copy.weight))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


@needs_cuda
def test_indexing_and_assignment_edge_cases_match_cpu():
    x = minigrad.arange(6.0).reshape(2, 3)
    for key in (True, (0, True), (Ellipsis, None, 1), (slice(None), [2, 0])):
        assert host(x.cuda()[key]).tolist() == host(x[key]).tolist()
    results = []
    for device in ("cpu", "cuda"):
        y = minigrad.zeros(2, 3, device=device)
        y[0] = minigrad.ones(1, 3, device=device)  # extra leading size-1 dims are ignored, as in numpy
        y[1, 1:] = 7.0
        results.append(host(y).tolist())
        with pytest.raises(ValueError, match="read-only"):
            minigrad.zeros(1, 2, device=device).expand(3, 2).add_(1.0)
    assert results[0] == results[1] == [[1.0, 1.0, 1.0], [0.0, 7.0, 7.0]]
    signed = minigrad.tensor([1.0, -2.0, 0.0, -0.0])
    for fn in (lambda t: t / minigrad.tensor(-0.0, device=t.device), lambda t: 1 / t.abs(), lambda t: 1 / t.sign()):
        np.testing.assert_array_equal(host(fn(signed.cuda())), host(fn(signed)))


# --- the narrow storage dtypes (tests/test_dtypes.py compares them with PyTorch on the CPU) ------------

@needs_cuda
@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32", "float16"])
def test_narrow_dtypes_create_copy_compute_and_cast_as_on_cpu(name):
    dtype = getattr(minigrad, name)
    values = np.array([[0, 1, 2], [3, 100, 7]])
    results = []
    for device in ("cpu", "cuda"):
        x = minigrad.tensor(values, dtype=dtype, device=device)
        y = minigrad.ones(2, 3, dtype=dtype, device=device)
        index = minigrad.tensor([1, 0, 1], dtype=minigrad.int32, device=device)
        outputs = [x, y, x + y, x * 3, x + 300, x - 1, x / 2, x // 2, x % 3, x == y, x < 2.5, x.float(), x.half(),
                   x.to(minigrad.float32).to(dtype), x.byte(), x.int(), x.sum(), x.sum(1), x.amax(0), x.max(1).values,
                   x.argmax(), x.t().contiguous(), x[index], x[:, index[:2]], minigrad.where(x > 1, x, y),
                   minigrad.cat([x, y]), x.cumsum(1), x.clamp(1, 5), minigrad.from_numpy(values.astype(name)).to(device)]
        if dtype.is_floating_point:
            leaf = (x / 50).detach().requires_grad_()
            (leaf.exp() * leaf.sigmoid() + leaf.tanh() * leaf).sum().backward()
            outputs += [(x / 50).exp(), x.sqrt(), x.relu(), x.softmax(1), leaf.grad]
        results.append(outputs)
    for cpu, gpu in zip(*results):
        assert gpu.device.type == "cuda" and gpu.dtype is cpu.dtype
        np.testing.assert_allclose(host(gpu).astype(np.float64), host(cpu).astype(np.float64), rtol=2e-3)
