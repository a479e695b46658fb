"""Convolution, transposed convolution, unfold/fold, pooling and padding.

Hypothesis draws the geometry. Each function is checked against a slow reference written from
the definition in plain numpy loops, against PyTorch when installed, and (in float64) for its
VJP and JVP against central differences and the adjoint identity.
"""
import itertools

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigrad
import minigrad.nn.functional as F
from checks import LAYOUTS, check_adjoint, check_rules, leaf, relayout

seeds = st.integers(0, 2 ** 32 - 1)
layouts = st.sampled_from(LAYOUTS)


def _torch():
    return pytest.importorskip("torch")


# --- slow references, straight from the definitions --------------------------------------------------

def ref_conv(x, w, stride, padding, dilation, groups):
    """out[n, o, p...] = sum_{c, k...} x_pad[n, g*Cg + c, p*s + k*d] * w[o, c, k...]; padding is (before, after) per dim."""
    nd = x.ndim - 2
    x = np.pad(x, [(0, 0), (0, 0)] + list(padding))
    n_batch, channels = x.shape[:2]
    c_out, c_group = w.shape[:2]
    kernel = w.shape[2:]
    out_size = [(x.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(nd)]
    out = np.zeros((n_batch, c_out, *out_size))
    per_group = c_out // groups
    for o in range(c_out):
        g = o // per_group
        for pos in itertools.product(*map(range, out_size)):
            for offsets in itertools.product(*map(range, kernel)):
                idx = tuple(p * s + k * d for p, s, k, d in zip(pos, stride, offsets, dilation))
                patch = x[(slice(None), slice(g * c_group, (g + 1) * c_group)) + idx]
                out[(slice(None), o) + pos] += patch @ w[(o, slice(None)) + offsets]
    return out


def ref_conv_transpose(y, w, stride, padding, output_padding, dilation, groups):
    """The adjoint of ref_conv in its input: every y[n, o, p] scatters y * w[o, c, k] to p*s - pad + k*d."""
    nd = y.ndim - 2
    c_in, c_group = w.shape[:2]
    kernel = w.shape[2:]
    out_size = [(y.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1)
                + output_padding[i] + 1 for i in range(nd)]
    full = np.zeros((y.shape[0], c_group * groups, *[o + 2 * p for o, p in zip(out_size, padding)]))
    per_group = c_in // groups
    for o in range(c_in):
        g = o // per_group
        for pos in itertools.product(*map(range, y.shape[2:])):
            for offsets in itertools.product(*map(range, kernel)):
                idx = tuple(p * s + k * d for p, s, k, d in zip(pos, stride, offsets, dilation))
                full[(slice(None), slice(g * c_group, (g + 1) * c_group)) + idx] += (
                    y[(slice(None), o) + pos][:, None] * w[(o, slice(None)) + offsets])
    return full[(Ellipsis,) + tuple(slice(p, p + o) for p, o in zip(padding, out_size))]


def ref_adaptive(x, out_size, reduce):
    """Windows [floor(i * H / O), ceil((i + 1) * H / O)) along each axis."""
    height, width = x.shape[2:]
    out = np.zeros(x.shape[:2] + tuple(out_size))
    for i, j in itertools.product(*map(range, out_size)):
        rows = slice(i * height // out_size[0], -(-(i + 1) * height // out_size[0]))
        cols = slice(j * width // out_size[1], -(-(j + 1) * width // out_size[1]))
        out[:, :, i, j] = reduce(x[:, :, rows, cols], axis=(2, 3))
    return out


def ref_unfold(x, kernel, dilation, padding, stride):
    x = np.pad(x, [(0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2])
    n_batch, channels, height, width = x.shape
    oh = (height - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    ow = (width - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    cols = np.zeros((n_batch, channels * kernel[0] * kernel[1], oh * ow))
    for c, a, b, i, j in itertools.product(range(channels), range(kernel[0]), range(kernel[1]), range(oh), range(ow)):
        cols[:, (c * kernel[0] + a) * kernel[1] + b, i * ow + j] = x[:, c, i * stride[0] + a * dilation[0],
                                                                      j * stride[1] + b * dilation[1]]
    return cols


def ref_pool(x, kernel, stride, padding, dilation, out_size, reduce):
    """reduce(window values, number of padded positions in the window) for each window."""
    n_batch, channels, height, width = x.shape
    out = np.zeros((n_batch, channels, *out_size))
    for n, c, i, j in itertools.product(range(n_batch), range(channels), *map(range, out_size)):
        values, padded = [], 0
        for a, b in itertools.product(range(kernel[0]), range(kernel[1])):
            y, z = i * stride[0] - padding[0] + a * dilation[0], j * stride[1] - padding[1] + b * dilation[1]
            if 0 <= y < height and 0 <= z < width:
                values.append(x[n, c, y, z])
            elif y < height + padding[0] and z < width + padding[1]:
                padded += 1
        out[n, c, i, j] = reduce(np.array(values), padded)
    return out


# --- strategies ----------------------------------------------------------------------------------------

@st.composite
def conv_case(draw, nd=2, transposed=False, string_padding=True, wide=False):
    """A convolution's input, weight, bias and geometry. wide=True gives more than 16 output channels
    per group, where the CPU backend switches from its direct kernel to im2col + GEMM."""
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(17, 18) if wide else st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    padding = draw(st.sampled_from(["same", "valid", "ints"])) if string_padding and not transposed else "ints"
    if padding == "same":
        stride = (1,) * nd
    if padding == "ints":
        padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    size = tuple(draw(st.integers(1, 6 if nd < 3 else 4)) for _ in range(nd))
    if not transposed:
        pads = [0] * nd if padding in ("same", "valid") else padding
        assume(all(s + (2 * p if not isinstance(padding, str) else (d * (k - 1) if padding == "same" else 0))
                   >= d * (k - 1) + 1 for s, p, k, d in zip(size, pads, kernel, dilation)))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation)) if transposed else None
    if transposed:
        assume(all((i - 1) * s - 2 * p + d * (k - 1) + op + 1 >= 1
                   for i, k, s, p, d, op in zip(size, kernel, stride, padding, dilation, output_padding)))
    rng = np.random.default_rng(draw(seeds))
    n_batch = draw(st.integers(1, 2))
    x = rng.standard_normal((n_batch, c_out if transposed else c_in, *size))
    w_shape = (c_out, c_in // groups, *kernel) if not transposed else (c_out, c_in // groups, *kernel)
    w = rng.standard_normal(w_shape)
    b = rng.standard_normal(c_in if transposed else c_out) if draw(st.booleans()) else None
    layout = draw(st.sampled_from(["contiguous", "transposed", "strided"]))
    return dict(x=x, w=w, b=b, stride=stride, padding=padding, dilation=dilation, groups=groups,
                output_padding=output_padding, layout=layout)


def _same_pads(kernel, dilation):
    total = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return [(t // 2, t - t // 2) for t in total]


def _conv_args(case):
    return dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"])


def _torch_args(torch, case):
    """The case's x, w and bias (or None) as PyTorch tensors."""
    return torch.tensor(case["x"]), torch.tensor(case["w"]), None if case["b"] is None else torch.tensor(case["b"])


CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_GEOMETRIES = [(1, False), (2, False), (3, False), (2, True)]


def _conv(case):
    nd = case["x"].ndim - 2
    b = case["b"]
    return CONV[nd](leaf(case["x"], case["layout"]), leaf(case["w"]), None if b is None else leaf(b),
                    **_conv_args(case))


@pytest.mark.parametrize("nd, wide", CONV_GEOMETRIES)
@given(data=st.data())
def test_conv_matches_reference(nd, wide, data):
    case = data.draw(conv_case(nd, wide=wide))
    x, w, b = case["x"], case["w"], case["b"]
    kernel = w.shape[2:]
    padding = case["padding"]
    pads = (_same_pads(kernel, case["dilation"]) if padding == "same" else
            [(0, 0)] * nd if padding == "valid" else [(p, p) for p in padding])
    expected = ref_conv(x, w, case["stride"], pads, case["dilation"], case["groups"])
    if b is not None:
        expected = expected + b.reshape(1, -1, *(1,) * nd)
    np.testing.assert_allclose(_conv(case).detach().numpy(), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("nd, wide", CONV_GEOMETRIES)
@given(data=st.data())
def test_conv_matches_pytorch(nd, wide, data):
    torch = _torch()
    case = data.draw(conv_case(nd, wide=wide))
    theirs = getattr(torch.nn.functional, f"conv{nd}d")(*_torch_args(torch, case), **_conv_args(case))
    np.testing.assert_allclose(_conv(case).detach().numpy(), theirs.numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("nd, wide", [(1, False), (2, False), (2, True)])
@given(data=st.data())
def test_conv_rules(nd, wide, data):
    case = data.draw(conv_case(nd, wide=wide))
    inputs = [leaf(case["x"], case["layout"]), leaf(case["w"])] + ([leaf(case["b"])] if case["b"] is not None else [])
    check_rules(lambda x, w, *b: CONV[nd](x, w, *b, **_conv_args(case)), inputs)


def _conv_transpose_args(case):
    return dict(stride=case["stride"], padding=case["padding"], output_padding=case["output_padding"],
                groups=case["groups"], dilation=case["dilation"])


def _conv_transpose(case):
    """The transposed convolution of a case as a function of (y, w[, b]), and those inputs as leaves."""
    fn = getattr(F, f"conv_transpose{case['x'].ndim - 2}d")
    args = _conv_transpose_args(case)
    inputs = [leaf(case["x"], case["layout"]), leaf(case["w"])] + ([leaf(case["b"])] if case["b"] is not None else [])
    return (lambda y, w, *b: fn(y, w, *b, **args)), inputs


@pytest.mark.parametrize("nd", [1, 2])
@given(data=st.data())
def test_conv_transpose_matches_reference_and_rules(nd, data):
    case = data.draw(conv_case(nd, transposed=True))
    fn, inputs = _conv_transpose(case)
    check_rules(fn, inputs)
    b = case["b"]
    expected = ref_conv_transpose(case["x"], case["w"], case["stride"], case["padding"], case["output_padding"],
                                  case["dilation"], case["groups"])
    if b is not None:
        expected = expected + b.reshape(1, -1, *(1,) * nd)
    np.testing.assert_allclose(fn(*inputs).detach().numpy(), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("nd", [1, 2])
@given(data=st.data())
def test_conv_transpose_matches_pytorch(nd, data):
    torch = _torch()
    case = data.draw(conv_case(nd, transposed=True))
    fn, inputs = _conv_transpose(case)
    tfn = getattr(torch.nn.functional, f"conv_transpose{nd}d")
    theirs = tfn(*_torch_args(torch, case), **_conv_transpose_args(case))
    np.testing.assert_allclose(fn(*inputs).detach().numpy(), theirs.numpy(), rtol=1e-9, atol=1e-9)


@given(data=st.data())
def test_conv_transpose_is_the_vjp_of_conv_in_its_input(data):
    case = data.draw(conv_case(2, string_padding=False))
    x, w = leaf(case["x"]), leaf(case["w"])
    y = F.conv2d(x, w, **_conv_args(case))
    g = minigrad.from_numpy(np.random.default_rng(0).standard_normal(tuple(y.shape)))
    (grad_x,) = minigrad.autograd.grad(y, x, g)
    output_padding = tuple(int(i + 2 * p - d * (k - 1) - 1) % s for i, p, d, k, s in
                           zip(x.shape[2:], case["padding"], case["dilation"], w.shape[2:], case["stride"]))
    transposed = F.conv_transpose2d(g, w.detach(), stride=case["stride"], padding=case["padding"],
                                    output_padding=output_padding, groups=case["groups"], dilation=case["dilation"])
    np.testing.assert_allclose(transposed.numpy(), grad_x.numpy(), rtol=1e-10, atol=1e-10)


def test_conv_second_derivatives():
    rng = np.random.default_rng(0)
    x, w = leaf(rng.standard_normal((1, 2, 4, 4))), leaf(rng.standard_normal((2, 1, 2, 2)))
    assert minigrad.autograd.gradgradcheck(lambda a, b: F.conv2d(a, b, stride=2, padding=1, groups=2), [x, w])


@given(data=st.data())
def test_winograd_convolution(data):
    """3x3 stride-1 layers with 16+ channels and outputs of 12x12 or more take the CPU backend's Winograd
    kernels (a spy checks that they ran, with blocks of a few tiles so that blocks split tile rows and
    images): forward, both gradients against PyTorch in float64, the JVP against central differences
    along a direction, and the adjoint identity."""
    torch = _torch()
    with pytest.MonkeyPatch.context() as patch:
        calls = _spy_on_winograd(patch, data.draw(st.integers(1, 40)))
        _check_winograd(torch, data, calls)


def _spy_on_winograd(patch, block):
    """Makes the CPU backend's Winograd kernels record their calls (returned), with `block` tiles a block."""
    from minigrad.backends import cpu
    from minigrad_kernels.cpu import winograd
    calls = []
    for name in ("conv3x3", "conv3x3_weight"):
        real = getattr(winograd, name)
        patch.setattr(winograd, name, lambda *a, real=real, name=name: calls.append(name) or real(*a))
    patch.setattr(cpu, "_winograd_block", lambda c_in, c_out: block)
    return calls


def _check_winograd(torch, data, calls):
    rng = np.random.default_rng(data.draw(seeds))
    c_in, c_out = data.draw(st.integers(16, 18)), data.draw(st.integers(16, 18))
    padding = (data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3)))
    size = tuple(data.draw(st.integers(12 - 2 * p + 2, 15)) for p in padding)
    x = leaf(rng.standard_normal((data.draw(st.integers(1, 2)), c_in) + size), data.draw(layouts))
    w, b = leaf(rng.standard_normal((c_out, c_in, 3, 3))), leaf(rng.standard_normal(c_out))
    y = F.conv2d(x, w, b, padding=padding)
    g = rng.standard_normal(tuple(y.shape))
    y.backward(minigrad.from_numpy(g))
    assert calls == ["conv3x3", "conv3x3", "conv3x3_weight"]  # forward, input gradient, weight gradient
    xt, wt, bt = (torch.tensor(a.detach().numpy(), requires_grad=True) for a in (x, w, b))
    theirs = torch.nn.functional.conv2d(xt, wt, bt, padding=padding)
    theirs.backward(torch.tensor(g))
    for ours, expected in ((y, theirs), (x.grad, xt.grad), (w.grad, wt.grad), (b.grad, bt.grad)):
        np.testing.assert_allclose(ours.detach().numpy(), expected.detach().numpy(), rtol=1e-9, atol=1e-9)
    dx, dw = rng.standard_normal(x.shape), rng.standard_normal(w.shape)
    _, tangent = minigrad.func.jvp(lambda a, b: F.conv2d(a, b, padding=padding), (x.detach(), w.detach()),
                                   (minigrad.from_numpy(dx), minigrad.from_numpy(dw)))
    eps = 1e-6
    step_x, step_w = minigrad.from_numpy(eps * dx), minigrad.from_numpy(eps * dw)
    ahead, behind = (F.conv2d(x.detach() + s * step_x, w.detach() + s * step_w, padding=padding).numpy()
                     for s in (1, -1))
    np.testing.assert_allclose(tangent.numpy(), (ahead - behind) / (2 * eps), rtol=1e-5, atol=1e-5)
    check_adjoint(lambda a, b: F.conv2d(a, b, padding=padding),
                  [x.detach().requires_grad_(), w.detach().requires_grad_()])


@given(data=st.data())
def test_winograd_channels_last_forward_pass(data):
    """float32 layers with 16 or 32 channels on each side take the channels-last passes (the forward
    one in the forward pass and in the input gradient, whose padding 2 - p may be negative, and the
    weight gradient's): forward and both gradients against PyTorch in float32 (to 2e-5 of the largest
    value), odd sizes, blocks of a few tiles, non-contiguous layouts; a spy checks that they ran."""
    torch = _torch()
    from minigrad.backends import cpu
    from minigrad_kernels.cpu import winograd
    rng = np.random.default_rng(data.draw(seeds))
    c_in, c_out = data.draw(st.sampled_from([16, 32])), data.draw(st.sampled_from([16, 32]))
    padding = (data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3)))
    size = tuple(data.draw(st.integers(12 - 2 * p + 2, 19)) for p in padding)
    images = data.draw(st.integers(1, 2))
    x = minigrad.from_numpy(relayout(rng.standard_normal((images, c_in) + size).astype(np.float32),
                                     data.draw(layouts))).requires_grad_()
    w = minigrad.from_numpy(rng.standard_normal((c_out, c_in, 3, 3)).astype(np.float32)).requires_grad_()
    passes = []
    with pytest.MonkeyPatch.context() as patch:
        real = winograd._channels_last_pass
        patch.setattr(winograd, "_channels_last_pass", lambda *a: passes.append(a[0]) or real(*a))
        patch.setattr(cpu, "_winograd_block", lambda c_in, c_out, block=data.draw(st.integers(1, 40)): block)
        y = F.conv2d(x, w, padding=padding)
        g = rng.standard_normal(tuple(y.shape)).astype(np.float32)
        y.backward(minigrad.from_numpy(g))
    assert passes == [winograd.FORWARD, winograd.FORWARD, winograd.WEIGHT], passes  # forward, input, weight
    xt, wt = (torch.tensor(a.detach().numpy(), requires_grad=True) for a in (x, w))
    theirs = torch.nn.functional.conv2d(xt, wt, padding=padding)
    theirs.backward(torch.tensor(g))
    for ours, expected in ((y, theirs), (x.grad, xt.grad), (w.grad, wt.grad)):
        expected = expected.detach().numpy()
        np.testing.assert_allclose(ours.detach().numpy(), expected, rtol=0, atol=2e-5 * np.abs(expected).max())


@pytest.mark.parametrize("c_in, c_out, size, padding, kernel, tiled", [(1, 6, 28, 2, 5, 0), (6, 16, 14, 0, 5, 0),
                                                                      (6, 16, 14, 0, 3, 1)])
def test_lenet_layers_in_blocks_of_images(c_in, c_out, size, padding, kernel, tiled, monkeypatch):
    """LeNet's layers at batch 32, and a 3x3 layer of its second one's shape: the forward passes and input
    gradients run the batch-minor kernel, the 5x5 weight gradients lane_weight's, and the 3x3 one im2col
    tiles of several whole images (a spy counts the tilings, and that they were blocks): forward and both
    gradients against PyTorch."""
    torch = _torch()
    from minigrad.backends import cpu
    tilings = []
    real = cpu._shallow_tiling
    monkeypatch.setattr(cpu, "_shallow_tiling", lambda *a: tilings.append(real(*a)) or tilings[-1])
    rng = np.random.default_rng(0)
    x, w = leaf(rng.standard_normal((32, c_in, size, size))), leaf(rng.standard_normal((c_out, c_in, kernel, kernel)))
    y = F.conv2d(x, w, padding=padding)
    g = rng.standard_normal(tuple(y.shape))
    y.backward(minigrad.from_numpy(g))
    assert len(tilings) == tiled and all(t is not None and t[0] > 1 for t in tilings), tilings
    xt, wt = (torch.tensor(a.detach().numpy(), requires_grad=True) for a in (x, w))
    theirs = torch.nn.functional.conv2d(xt, wt, padding=padding)
    theirs.backward(torch.tensor(g))
    for ours, expected in ((y, theirs), (x.grad, xt.grad), (w.grad, wt.grad)):
        np.testing.assert_allclose(ours.detach().numpy(), expected.detach().numpy(), rtol=1e-9, atol=1e-9)


@given(data=st.data())
def test_lane_weight_gradient(data):
    """5x5 layers take lane_weight's weight gradient (a spy checks): 2-6 images, 1-33 output channels (half
    vectors up to 32 bytes of them, partly filled vectors), strides, padding, non-contiguous layouts;
    forward and all three gradients against PyTorch, in float64 to 1e-9 and in float32 to 2e-5 of the
    largest value."""
    torch = _torch()
    from minigrad_kernels.cpu import lane_weight
    rng = np.random.default_rng(data.draw(seeds))
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    c_in, c_out = data.draw(st.integers(1, 3)), data.draw(st.one_of(st.integers(1, 8), st.integers(9, 33)))
    stride, padding = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))), data.draw(st.integers(0, 2))
    size = tuple(data.draw(st.integers(5 + padding, 13)) for _ in range(2))  # every tap reads the input
    x = minigrad.from_numpy(relayout(rng.standard_normal((data.draw(st.integers(2, 6)), c_in) + size).astype(dtype),
                                     data.draw(layouts))).requires_grad_()
    w = minigrad.from_numpy(rng.standard_normal((c_out, c_in, 5, 5)).astype(dtype)).requires_grad_()
    b = minigrad.from_numpy(rng.standard_normal(c_out).astype(dtype)).requires_grad_()
    calls = []
    with pytest.MonkeyPatch.context() as patch:
        real = lane_weight.conv_weight
        patch.setattr(lane_weight, "conv_weight", lambda *a: calls.append(a[1].shape) or real(*a))
        y = F.conv2d(x, w, b, stride=stride, padding=padding)
        g = rng.standard_normal(tuple(y.shape)).astype(dtype)
        y.backward(minigrad.from_numpy(g))
    assert calls == [tuple(y.shape)], calls
    xt, wt, bt = (torch.tensor(a.detach().numpy(), requires_grad=True) for a in (x, w, b))
    theirs = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=padding)
    theirs.backward(torch.tensor(g))
    for ours, expected in ((y, theirs), (x.grad, xt.grad), (w.grad, wt.grad), (b.grad, bt.grad)):
        expected = expected.detach().numpy()
        tolerance = 1e-9 if dtype == np.float64 else 2e-5 * np.abs(expected).max()
        np.testing.assert_allclose(ours.detach().numpy(), expected, rtol=0, atol=tolerance)


def test_lane_weight_checks_its_shapes():
    """The kernel reads raw memory through its intrinsics, so it refuses shapes that do not fit a 5x5 kernel
    instead of reading past x."""
    from minigrad_kernels.cpu import lane_weight
    x, grad = np.zeros((2, 1, 9, 9), np.float32), np.zeros((2, 16, 5, 5), np.float32)
    for fits, padding in ((x, (0, 0)), (x[:, :, 1:-1, 2:-2], (1, 2))):
        dw = np.empty((16, 1, 5, 5), np.float32)
        lane_weight.conv_weight(np.ascontiguousarray(fits), grad, (1, 1), padding, 2, dw)
    for bad_x, bad_grad, stride, padding, dw in [(x[:, :, :8], grad, (1, 1), (0, 0), (16, 1, 5, 5)),
                                                 (x, grad, (2, 1), (0, 0), (16, 1, 5, 5)),
                                                 (x[:, :, 1:-1], grad, (1, 1), (0, 1), (16, 1, 5, 5)),
                                                 (x, grad, (1, 1), (-1, 0), (16, 1, 5, 5)),
                                                 (x, grad[:1], (1, 1), (0, 0), (16, 1, 5, 5)),
                                                 (x, grad, (1, 1), (0, 0), (15, 1, 5, 5))]:
        with pytest.raises(ValueError, match="do not fit a 5x5 kernel"):
            lane_weight.conv_weight(np.ascontiguousarray(bad_x), bad_grad, stride, padding, 2,
                                    np.empty(dw, np.float32))


@st.composite
def batch_minor_case(draw):
    """A convolution that the CPU backend sends to its batch-minor kernel: 16-40 images (partial blocks of
    lanes), 1-17 output channels (each register tile, and padded rows), 1-3 dims, dilation, padding, stride
    ("same" padding at stride 1 often, where the input gradient takes the kernel too)."""
    nd = draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    assume(np.prod(kernel) > 1)
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    same = draw(st.booleans())
    padding = tuple(d * (k - 1) // 2 if same else draw(st.integers(0, d * (k - 1))) for k, d in zip(kernel, dilation))
    stride = tuple(1 if same else draw(st.integers(1, 2)) for _ in range(nd))
    size = tuple(draw(st.integers(d * (k - 1) + s + 1, d * (k - 1) + s + (3 if nd < 3 else 2)))  # taps live, 2+ outputs
                 for k, d, s in zip(kernel, dilation, stride))
    c_in, c_out = draw(st.integers(1, 3)), draw(st.sampled_from([1, 3, 4, 5, 6, 7, 9, 16, 17]))
    rng = np.random.default_rng(draw(seeds))
    x = rng.standard_normal((draw(st.integers(16, 40)), c_in) + size)
    return x, rng.standard_normal((c_out, c_in) + kernel), rng.standard_normal(c_out), padding, dilation, stride


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@given(case=batch_minor_case(), layout=layouts)
def test_batch_minor_convolution(dtype, case, layout):
    """Layers at 16 images or more take the batch-minor direct kernel (a spy checks that it ran):
    forward and both gradients against PyTorch, the JVP against central differences along a direction
    (float64), and the adjoint identity."""
    torch = _torch()
    from minigrad_kernels.cpu import batch_conv
    x, w, b, padding, dilation, stride = case
    nd = x.ndim - 2
    calls = []
    with pytest.MonkeyPatch.context() as patch:
        real = batch_conv.conv
        patch.setattr(batch_conv, "conv", lambda *a: calls.append(1) or real(*a))
        xs, ws, bs = (minigrad.from_numpy(relayout(a.astype(dtype), lay)).requires_grad_()
                      for a, lay in ((x, layout), (w, "contiguous"), (b, "contiguous")))
        y = CONV[nd](xs, ws, bs, stride=stride, padding=padding, dilation=dilation)
        g = np.random.default_rng(0).standard_normal(tuple(y.shape)).astype(dtype)
        y.backward(minigrad.from_numpy(g))
    assert calls, "the batch-minor kernel did not run"
    assert y.dtype == getattr(minigrad, dtype)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x.astype(dtype), w.astype(dtype), b.astype(dtype)))
    theirs = getattr(torch.nn.functional, f"conv{nd}d")(xt, wt, bt, stride=stride, padding=padding, dilation=dilation)
    theirs.backward(torch.tensor(g))
    tolerance = 1e-9 if dtype == "float64" else 2e-4
    for ours, expected in ((y, theirs), (xs.grad, xt.grad), (ws.grad, wt.grad), (bs.grad, bt.grad)):
        np.testing.assert_allclose(ours.detach().numpy(), expected.detach().numpy(), rtol=tolerance, atol=tolerance)
    if dtype == "float64":
        fn = lambda a, c: CONV[nd](a, c, stride=stride, padding=padding, dilation=dilation)  # noqa: E731
        dx, dw = np.random.default_rng(1).standard_normal(x.shape), np.random.default_rng(2).standard_normal(w.shape)
        _, tangent = minigrad.func.jvp(fn, (leaf(x, requires_grad=False), leaf(w, requires_grad=False)),
                                       (minigrad.from_numpy(dx), minigrad.from_numpy(dw)))
        eps = 1e-6
        ahead, behind = (fn(leaf(x + s * eps * dx, requires_grad=False), leaf(w + s * eps * dw, requires_grad=False))
                         .numpy() for s in (1, -1))
        np.testing.assert_allclose(tangent.numpy(), (ahead - behind) / (2 * eps), rtol=1e-5, atol=1e-5)
        check_adjoint(fn, [leaf(x, layout), leaf(w)])


def test_deep_layers_on_small_maps_run_in_blocks_that_copy_long_runs():
    """A deep layer's tile is a few positions (2016 taps: 65), but its blocks of images still copy runs of
    at least cpu.RUN floats (one output row per image), which ran 1.3x faster for DenseNet's layers."""
    from minigrad.backends import cpu
    from minigrad.backends.geometry import ConvGeometry
    for size in (8, 4, 2):
        g = ConvGeometry((1, 3, 3), (1, 1, 1), (0, 1, 1), (1, 1, 1), 1, (1, size, size), (1, size, size))
        images, chunk = cpu._tiling(g, 64, cpu._tile(224 * 9))
        assert chunk == size * size and images * size >= cpu.RUN, (size, images)


@st.composite
def block_case(draw):
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    size = tuple(draw(st.integers(d * (k - 1) + 1, 6)) for k, d in zip(kernel, dilation))
    x = np.random.default_rng(draw(seeds)).standard_normal((draw(st.integers(1, 2)), draw(st.integers(1, 3)), *size))
    return x, dict(kernel_size=kernel, dilation=dilation, padding=padding, stride=stride)


def _unfold_fold(x, layout, args):
    """unfold(x) and, with y drawn in unfold's output shape, y and fold(y), as numpy arrays."""
    cols = F.unfold(leaf(x, layout), **args).detach().numpy()
    y = np.random.default_rng(1).standard_normal(cols.shape)
    return cols, y, F.fold(leaf(y), x.shape[2:], **args).detach().numpy()


@given(block_case(), layouts)
def test_unfold_fold(case, layout):
    x, args = case
    cols, y, folded = _unfold_fold(x, layout, args)
    expected = ref_unfold(x, args["kernel_size"], args["dilation"], args["padding"], args["stride"])
    np.testing.assert_allclose(cols, expected)
    # unfold and fold are adjoint: <unfold(x), y> == <x, fold(y)>
    assert np.isclose((expected * y).sum(), (x * folded).sum())
    check_rules(lambda t: F.unfold(t, **args), [leaf(x, layout)])
    check_rules(lambda t: F.fold(t, x.shape[2:], **args), [leaf(y)])


@given(block_case(), layouts)
def test_unfold_fold_matches_pytorch(case, layout):
    torch = _torch()
    x, args = case
    cols, y, folded = _unfold_fold(x, layout, args)
    tf = torch.nn.functional
    np.testing.assert_allclose(cols, tf.unfold(torch.tensor(x), **args).numpy())
    np.testing.assert_allclose(folded, tf.fold(torch.tensor(y), x.shape[2:], **args).numpy())


@st.composite
def pool_case(draw, max_pool=True, nd=2):
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd)) if max_pool else (1,) * nd
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    size = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 7)) for k, d, p in zip(kernel, dilation, padding))
    rng = np.random.default_rng(draw(seeds))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + size
    # distinct values (at least 0.05 apart) keep max pooling differentiable at the sample
    x = (rng.permutation(int(np.prod(shape))) * 0.05 + rng.uniform(0, 0.01)).reshape(shape)
    args = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=draw(st.booleans()))
    if not max_pool:
        args["count_include_pad"] = draw(st.booleans())
        if nd == 2 and draw(st.booleans()):
            args["divisor_override"] = draw(st.integers(1, 5))
    layout = draw(st.sampled_from(["contiguous", "strided"] if max_pool else ["contiguous", "transposed"]))
    return x, args, dilation, layout


def _pool_out(size, k, s, p, d, ceil_mode):
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    return out - 1 if ceil_mode and (out - 1) * s >= size + p else out


@pytest.mark.parametrize("nd", [1, 2])
@given(data=st.data())
def test_max_pool(nd, data):
    x, args, dilation, layout = data.draw(pool_case(True, nd))
    fn = getattr(F, f"max_pool{nd}d")
    out, indices = fn(leaf(x), dilation=dilation, return_indices=True, **args)
    pad2 = lambda t, fill: (fill,) * (2 - nd) + tuple(t)  # noqa: E731
    x4 = x.reshape(x.shape[0], x.shape[1], *pad2(x.shape[2:], 1))
    out_size = [_pool_out(*v, args["ceil_mode"]) for v in zip(x4.shape[2:], pad2(args["kernel_size"], 1),
                                                                pad2(args["stride"], 1), pad2(args["padding"], 0),
                                                                pad2(dilation, 1))]
    # a window wholly inside the padding gives -inf (and no gradient), as in PyTorch
    expected = ref_pool(x4, pad2(args["kernel_size"], 1), pad2(args["stride"], 1), pad2(args["padding"], 0),
                        pad2(dilation, 1), out_size, lambda v, _: v.max() if v.size else -np.inf)
    np.testing.assert_allclose(out.detach().numpy().reshape(expected.shape), expected)
    finite = np.isfinite(expected).reshape(out.shape)
    # each index points (in the flattened spatial input) at its window's maximum
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    picked = np.take_along_axis(flat, indices.numpy().reshape(flat.shape[:2] + (-1,)), axis=2)
    np.testing.assert_array_equal(picked.reshape(out.shape)[finite], out.detach().numpy()[finite])
    if finite.all():
        check_rules(lambda t: fn(t, dilation=dilation, **args), [leaf(x, layout)])


@pytest.mark.parametrize("nd", [1, 2])
@given(data=st.data())
def test_max_pool_matches_pytorch(nd, data):
    torch = _torch()
    x, args, dilation, _ = data.draw(pool_case(True, nd))
    out, indices = getattr(F, f"max_pool{nd}d")(leaf(x), dilation=dilation, return_indices=True, **args)
    tfn = getattr(torch.nn.functional, f"max_pool{nd}d")
    t_out, t_idx = tfn(torch.tensor(x), dilation=dilation, return_indices=True, **args)
    np.testing.assert_allclose(out.detach().numpy(), t_out.numpy())
    finite = np.isfinite(t_out.numpy())  # a window wholly inside the padding has no meaningful index
    np.testing.assert_array_equal(indices.numpy()[finite], t_idx.numpy()[finite])


@pytest.mark.parametrize("nd", [1, 2])
@given(data=st.data())
def test_avg_pool(nd, data):
    x, args, _, layout = data.draw(pool_case(False, nd))
    fn = getattr(F, f"avg_pool{nd}d")
    pad2 = lambda t, fill: (fill,) * (2 - nd) + tuple(t)  # noqa: E731
    x4 = x.reshape(x.shape[0], x.shape[1], *pad2(x.shape[2:], 1))
    geometry = [pad2(args["kernel_size"], 1), pad2(args["stride"], 1), pad2(args["padding"], 0)]
    out_size = [_pool_out(i, k, s, p, 1, args["ceil_mode"]) for i, k, s, p in zip(x4.shape[2:], *geometry)]
    divisor = args.get("divisor_override")
    expected = ref_pool(x4, *geometry, (1, 1), out_size, lambda v, padded: v.sum() / (
        divisor or (len(v) + padded if args["count_include_pad"] else len(v))))
    np.testing.assert_allclose(fn(leaf(x), **args).detach().numpy().reshape(expected.shape), expected, rtol=1e-12)
    check_rules(lambda t: fn(t, **args), [leaf(x, layout)])


@pytest.mark.parametrize("nd", [1, 2])
@given(data=st.data())
def test_avg_pool_matches_pytorch(nd, data):
    torch = _torch()
    x, args, _, _ = data.draw(pool_case(False, nd))
    theirs = getattr(torch.nn.functional, f"avg_pool{nd}d")(torch.tensor(x), **args)
    np.testing.assert_allclose(getattr(F, f"avg_pool{nd}d")(leaf(x), **args).detach().numpy(), theirs.numpy(),
                               rtol=1e-10, atol=1e-12)


@st.composite
def adaptive_case(draw):
    """An input of distinct values (0.05 apart, so max pooling is smooth) and an output size."""
    size = draw(st.tuples(st.integers(1, 7), st.integers(1, 7)))
    output_size = draw(st.tuples(st.integers(1, 4), st.integers(1, 4)))
    rng = np.random.default_rng(draw(seeds))
    shape = (2, 2) + size
    return (rng.permutation(int(np.prod(shape))) * 0.05).reshape(shape), output_size


@given(adaptive_case())
def test_adaptive_pools(case):
    x, output_size = case
    np.testing.assert_allclose(F.adaptive_avg_pool2d(leaf(x), output_size).detach().numpy(),
                               ref_adaptive(x, output_size, np.mean), rtol=1e-12)
    np.testing.assert_allclose(F.adaptive_max_pool2d(leaf(x), output_size).detach().numpy(),
                               ref_adaptive(x, output_size, np.max))
    check_rules(lambda t: F.adaptive_avg_pool2d(t, output_size), [leaf(x)])
    check_rules(lambda t: F.adaptive_max_pool2d(t, output_size), [leaf(x)])


@given(adaptive_case())
def test_adaptive_pools_match_pytorch(case):
    torch = _torch()
    x, output_size = case
    tf = torch.nn.functional
    np.testing.assert_allclose(F.adaptive_avg_pool2d(leaf(x), output_size).detach().numpy(),
                               tf.adaptive_avg_pool2d(torch.tensor(x), output_size).numpy(), rtol=1e-12)
    ours, ours_idx = F.adaptive_max_pool2d(leaf(x), output_size, return_indices=True)
    theirs, theirs_idx = tf.adaptive_max_pool2d(torch.tensor(x), output_size, return_indices=True)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.numpy())
    np.testing.assert_array_equal(ours_idx.numpy(), theirs_idx.numpy())


@st.composite
def pad_case(draw):
    """An input, F.pad's pads (negative ones crop), mode and value."""
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    n_axes = draw(st.integers(1, 3))
    seed = draw(seeds)
    shape = tuple(draw(st.integers(2, 4)) for _ in range(n_axes + 2))
    limit = 1 if mode == "reflect" else 2
    low = -1 if mode in ("constant", "circular") else 0
    pads = tuple(draw(st.integers(low, limit)) for _ in range(2 * n_axes))
    if mode == "circular":  # wrapping more than once is an error (PyTorch returns uninitialised memory)
        sizes = [shape[-1 - i] - max(-pads[2 * i], 0) - max(-pads[2 * i + 1], 0) for i in range(n_axes)]
        assume(all(max(pads[2 * i], pads[2 * i + 1]) <= sizes[i] for i in range(n_axes)))
    x = np.random.default_rng(seed).standard_normal(shape)
    return x, pads, mode, 1.5 if mode == "constant" else None


@given(pad_case())
def test_pad(case):
    x, pads, mode, value = case
    n_axes = len(pads) // 2
    widths = [(0, 0)] * (x.ndim - n_axes) + [(pads[2 * i], pads[2 * i + 1]) for i in range(n_axes)][::-1]
    cropped = x[tuple(slice(max(-a, 0), x.shape[d] - max(-b, 0)) for d, (a, b) in enumerate(widths))]
    numpy_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    extra = {"constant_values": value} if mode == "constant" else {}
    expected = np.pad(cropped, [(max(a, 0), max(b, 0)) for a, b in widths], mode=numpy_mode, **extra)
    np.testing.assert_allclose(F.pad(leaf(x), pads, mode=mode, value=value).detach().numpy(), expected)
    check_rules(lambda t: F.pad(t, pads, mode=mode, value=value), [leaf(x, "transposed")])


@given(pad_case())
def test_pad_matches_pytorch(case):
    torch = _torch()
    x, pads, mode, value = case
    expected = torch.nn.functional.pad(torch.tensor(x), pads, mode=mode, value=value)
    np.testing.assert_allclose(F.pad(leaf(x), pads, mode=mode, value=value).detach().numpy(), expected.numpy())


def test_course_examples():
    x = minigrad.tensor([[0.0, 1, 2], [3, 4, 5], [6, 7, 8]]).reshape(1, 1, 3, 3)
    k = minigrad.tensor([[0.0, 1], [2, 3]]).reshape(1, 1, 2, 2)
    assert F.conv2d(x, k).reshape(2, 2).tolist() == [[19, 25], [37, 43]]
    assert F.conv2d(x, k, padding=1).reshape(4, 4).tolist() == [[0, 3, 8, 4], [9, 19, 25, 10], [21, 37, 43, 16],
                                                                 [6, 7, 8, 0]]
    a = minigrad.tensor([[29.0, 15, 28, 184], [0, 100, 70, 38], [12, 12, 7, 2], [12, 12, 45, 6]]).reshape(1, 1, 4, 4)
    assert F.max_pool2d(a, 2).reshape(2, 2).tolist() == [[100, 184], [12, 45]]
    b = minigrad.tensor([[31.0, 15, 28, 184], [0, 100, 70, 38], [12, 12, 7, 2], [12, 12, 45, 6]]).reshape(1, 1, 4, 4)
    assert F.avg_pool2d(b, 2).reshape(2, 2).tolist() == [[36.5, 80], [12, 15]]
    grid = F.max_pool2d(minigrad.arange(100.0).reshape(1, 1, 10, 10), 2).reshape(5, 5)
    assert grid.tolist() == [[20 * i + 2 * j + 11 for j in range(5)] for i in range(5)]
    # the edge detector: [1, -1] on a 6x8 image of ones whose columns 2-5 are zero
    image = minigrad.ones(6, 8)
    image[:, 2:6] = 0
    edges = F.conv2d(image.reshape(1, 1, 6, 8), minigrad.tensor([[1.0, -1.0]]).reshape(1, 1, 1, 2)).reshape(6, 7)
    assert edges.tolist() == [[0, 1, 0, 0, 0, -1, 0]] * 6


def test_max_pool_window_inside_the_padding_is_minus_inf_without_gradient():
    x = minigrad.tensor([[[0.5, 0.75]]], requires_grad=True)
    out = F.max_pool1d(x, 2, stride=1, padding=1, dilation=2)  # windows (-1, 1) and (0, 2)
    assert out.tolist() == [[[0.75, 0.5]]]
    lone = minigrad.tensor([[[0.5]]], requires_grad=True)
    out = F.max_pool1d(lone, 2, stride=1, padding=1, dilation=2)
    assert out.tolist() == [[[-float("inf")]]]
    out.sum().backward()
    assert lone.grad.tolist() == [[[0.0]]]
    _, tangent = minigrad.func.jvp(lambda t: F.max_pool1d(t, 2, stride=1, padding=1, dilation=2), (lone.detach(),),
                                   (minigrad.ones_like(lone),))
    assert tangent.tolist() == [[[0.0]]]


def test_max_pool_ties_send_the_gradient_to_the_first_maximum():
    x = minigrad.tensor([[[[1.0, 1.0], [1.0, 1.0]]]], requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    assert x.grad.reshape(-1).tolist() == [1, 0, 0, 0]


def test_bad_arguments_name_the_problem():
    x, w = minigrad.ones(1, 4, 5, 5), minigrad.ones(6, 2, 3, 3)
    with pytest.raises(RuntimeError, match="Given groups=1, weight of size \\[6, 2, 3, 3\\], expected input"):
        F.conv2d(x, w)
    with pytest.raises(RuntimeError, match="Kernel size can't be greater than actual input size"):
        F.conv2d(minigrad.ones(1, 2, 2, 2), minigrad.ones(1, 2, 3, 3))
    with pytest.raises(RuntimeError, match="non-positive stride is not supported"):
        F.conv2d(x, w, stride=0, groups=2)
    with pytest.raises(RuntimeError, match="expected a 4-D weight"):
        F.conv2d(x, minigrad.ones(6, 4, 3))
    with pytest.raises(RuntimeError, match="expected a floating point input"):
        F.conv2d(minigrad.ones(1, 4, 5, 5, dtype=minigrad.int64), w)
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided convolutions"):
        F.conv2d(x, w, stride=2, padding="same", groups=2)
    with pytest.raises(RuntimeError, match="Expected 3D \\(unbatched\\) or 4D \\(batched\\) input"):
        F.conv2d(minigrad.ones(5, 5), w)
    with pytest.raises(RuntimeError, match="pad should be smaller than or equal to half of kernel size"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension"):
        F.pad(x, (5, 5, 0, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 4D input"):
        F.pad(x, (1, 1), mode="replicate")
    with pytest.raises(RuntimeError, match="expected input of shape"):
        F.fold(minigrad.ones(1, 5, 4), (3, 3), 2)
    with pytest.raises(TypeError, match="kernel_size: expected an int or a tuple of 2 ints"):
        F.max_pool2d(x, (2, 2, 2))


def _conv_block(nn, activation, pool, in_channels, out_channels, kernel, padding):
    layers = [nn.Conv2d(in_channels, out_channels, kernel, padding=padding),
              nn.Sigmoid() if activation == "sigmoid" else nn.ReLU()]
    return nn.Sequential(*layers, nn.AvgPool2d(2), nn.Flatten()) if pool else nn.Sequential(*layers)


def _spy_batch_conv(patch, calls):
    """Records (activation code, divisor) of each batch_conv.conv call."""
    from minigrad_kernels.cpu import batch_conv
    real = batch_conv.conv
    patch.setattr(batch_conv, "conv", lambda *a: calls.append(a[-3:-1]) or real(*a))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(activation=st.sampled_from(["relu", "sigmoid"]), pool=st.booleans(), batch=st.sampled_from([3, 16, 37]),
       channels=st.integers(1, 3), out_channels=st.sampled_from([1, 6, 16]), size=st.integers(4, 9),
       kernel=st.integers(2, 5), seed=seeds)
def test_sequential_fuses_conv_activation_and_pooling_bit_for_bit(dtype, activation, pool, batch, channels,
                                                                   out_channels, size, kernel, seed):
    """nn.Sequential runs Conv2d -> ReLU or Sigmoid (-> AvgPool2d(2) when nothing is recorded) as one op:
    the same bits as the layers one by one, forward and gradients, whether the batch-minor kernel takes
    the epilogue (a spy checks that it does for even maps of 16 or more images) or the backend composes it."""
    assume(kernel <= size)
    padding = kernel // 2
    net = _conv_block(minigrad.nn, activation, pool, channels, out_channels, kernel, padding)
    net = net.to(getattr(minigrad, dtype))
    x = minigrad.from_numpy(np.random.default_rng(seed).standard_normal((batch, channels, size, size)).astype(dtype))
    calls = []
    with minigrad.no_grad(), pytest.MonkeyPatch.context() as patch:
        _spy_batch_conv(patch, calls)
        fused = net(x)
        one_by_one = x
        for layer in net:
            one_by_one = layer(one_by_one)
    np.testing.assert_array_equal(fused.numpy(), one_by_one.numpy())
    out_size = size + 2 * padding - kernel + 1
    if batch >= 16 and (dtype == "float32" or activation == "relu") and out_size % 2 == 0:
        assert calls[0] == (1 if activation == "relu" else 2, 4.0 if pool else 0.0), calls
    calls.clear()
    with pytest.MonkeyPatch.context() as patch:
        _spy_batch_conv(patch, calls)
        y = net(x.requires_grad_())  # recorded: the pooling runs on its own
    assert all(divisor == 0.0 for _, divisor in calls), calls
    assert pool or y.grad_fn.name() == "ConvActivationBackward"
    grads = minigrad.autograd.grad(y.sum(), (x,) + tuple(net.parameters()))
    expected = x
    for layer in net:
        expected = layer(expected)
    np.testing.assert_array_equal(y.detach().numpy(), expected.detach().numpy())
    for ours, theirs in zip(grads, minigrad.autograd.grad(expected.sum(), (x,) + tuple(net.parameters()))):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
@pytest.mark.parametrize("size", [4, 5])
def test_conv_activation_rules(activation, size):
    """ConvActivation and ConvActivationPool (float64: relu in the batch-minor kernel's epilogue at 16
    images, sigmoid composed): VJP and JVP against central differences and the adjoint identity, and
    against PyTorch's layers one by one."""
    rng = np.random.default_rng(size)
    x, w, b = rng.standard_normal((16, 2, size, size)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    pool = (2, None, 0, False, True, None)
    for avg_pool in (None, pool):
        def fn(x_, w_, b_, avg_pool=avg_pool):
            return F._conv(x_, w_, b_, 1, 1, 1, 1, 2, "conv2d", activation, avg_pool)
        check_rules(fn, [leaf(x), leaf(w), leaf(b)])
    torch = pytest.importorskip("torch")
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    theirs = torch.nn.functional.conv2d(xt, wt, bt, padding=1)
    theirs = torch.nn.functional.avg_pool2d(getattr(torch, activation)(theirs), 2)
    ours = F._conv(*(leaf(a) for a in (x, w, b)), 1, 1, 1, 1, 2, "conv2d", activation, pool)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_fusion_keeps_hooks_and_leaves_other_layers_alone():
    """A hook on the convolution or its activation runs (that pair then runs layer by layer); a Conv2d
    subclass with its own forward, a transposed convolution and reflect padding are not fused."""
    nn = minigrad.nn
    x = minigrad.randn(16, 1, 8, 8)
    for hooked in (0, 1):
        net = _conv_block(nn, "relu", True, 1, 4, 3, 1)
        seen = []
        net[hooked].register_forward_hook(lambda module, args, out: seen.append(type(module).__name__))
        with minigrad.no_grad():
            net(x)
        assert seen == [type(net[hooked]).__name__]

    class Doubled(nn.Conv2d):
        def forward(self, input):  # noqa: A002
            return super().forward(input) * 2

    for conv in (Doubled(1, 4, 3, padding=1), nn.Conv2d(1, 4, 3, padding=1, padding_mode="reflect")):
        net = nn.Sequential(conv, nn.ReLU(), nn.AvgPool2d(2))
        calls = []
        with minigrad.no_grad(), pytest.MonkeyPatch.context() as patch:
            _spy_batch_conv(patch, calls)
            out = net(x)
            assert all(call == (0, 0.0) for call in calls), calls
            np.testing.assert_array_equal(out.numpy(), net[2](net[1](net[0](x))).numpy())
