"""The tape: fan-out, diamonds, retain_graph, grad mode, hooks, detach, in-place checks, deep graphs,
higher-order derivatives, custom Functions and the functional API."""
import numpy as np
import pytest

import minigrad
from minigrad.autograd import Function, gradcheck, gradgradcheck
from checks import check_rules, leaf


def test_fan_out_accumulates():
    x = minigrad.tensor(2.0, requires_grad=True)
    y = x * x + x * 3 + x.exp()  # x used in four places
    y.backward()
    assert x.grad.item() == pytest.approx(2 * 2.0 + 3 + np.exp(2.0))


def test_diamond_graph_runs_each_node_once():
    calls = []

    class Spy(Function):
        @staticmethod
        def forward(ctx, t):
            return t * 1

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return g

        @staticmethod
        def jvp(ctx, dt):
            return dt

    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    top = Spy.apply(x)
    left, right = top.sin(), top.cos()
    (left * right).sum().backward()
    assert len(calls) == 1
    expected = np.cos(2 * np.array([1.0, 2.0]))  # d/dx sin x cos x = cos 2x
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)


def test_grads_accumulate_across_backward_calls():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_second_backward_through_freed_graph_raises_and_retain_graph_allows_it():
    x = minigrad.tensor(3.0, requires_grad=True)
    y = x.exp() * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == pytest.approx(2 * (np.exp(3) + 3 * np.exp(3)))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_backward_on_non_scalar_needs_gradient():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        y.backward()
    y.backward(minigrad.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 20.0])
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(minigrad.tensor([1.0, 2.0, 3.0]))


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        minigrad.tensor(1.0).backward()


def test_no_grad_and_decorators():
    x = minigrad.tensor(1.0, requires_grad=True)
    with minigrad.no_grad():
        assert not minigrad.is_grad_enabled()
        y = x * 2
        with minigrad.enable_grad():
            z = x * 2
    assert minigrad.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @minigrad.no_grad()
    def doubled(t):
        return t * 2
    assert not doubled(x).requires_grad

    @minigrad.set_grad_enabled(False)
    def tripled(t):
        return t * 3
    assert minigrad.is_grad_enabled()
    assert not tripled(x).requires_grad
    minigrad.set_grad_enabled(False)
    assert not minigrad.is_grad_enabled()
    minigrad.set_grad_enabled(True)


def test_backward_inside_no_grad_still_works():
    x = minigrad.tensor(2.0, requires_grad=True)
    loss = x * x
    with minigrad.no_grad():
        loss.backward()
    assert x.grad.item() == 4.0


def test_hooks_see_and_replace_gradients():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    y = x * 3
    handle = y.register_hook(lambda g: g * 10)
    y.sum().backward()
    np.testing.assert_allclose(seen[0], [30.0, 30.0])
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])
    handle.remove()
    x.grad = None
    y2 = x * 3
    y2.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_retain_grad_keeps_non_leaf_grad():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [4.0, 8.0])


def test_leaf_grad_takes_an_unshared_gradient_and_copies_a_shared_one(monkeypatch):
    """.grad takes the engine's gradient array itself when nothing else can reach it (PyTorch's
    AccumulateGrad too), and a copy whenever anything else could: the caller's root gradient, another
    leaf's gradient, a hook's, a retained non-leaf gradient's, an array a rule kept."""
    from minigrad.tensor import Tensor
    copied = []
    clone = Tensor.clone
    monkeypatch.setattr(Tensor, "clone", lambda self: copied.append(tuple(self.shape)) or clone(self))
    conv = minigrad.nn.Conv2d(2, 3, 3)
    (conv(minigrad.randn(2, 2, 5, 5)) ** 2).sum().backward()
    assert copied == []  # the weight's (a view of the kernel's 5-d gradient) and the bias's taken as they are
    conv = minigrad.nn.Conv2d(2, 3, 3, padding=1)
    (conv(minigrad.randn(2, 2, 1, 1)) ** 2).sum().backward()  # one live tap: the 5-d gradient owns its array
    assert copied == []

    def shares(a, b):
        return np.shares_memory(a.detach().numpy(), b.detach().numpy())

    a, b, g = minigrad.randn(3, requires_grad=True), minigrad.randn(3, requires_grad=True), minigrad.ones(3)
    a.backward(g)  # the caller's gradient
    (a * 1 + b * 1).backward(minigrad.ones(3) * 2)  # add's rule hands one tensor to both leaves
    assert not shares(a.grad, g) and not shares(a.grad, b.grad)
    kept = []
    a.grad = None
    a.register_hook(lambda grad: kept.append(grad))
    (a * 2).backward(g)
    assert not shares(a.grad, kept[0])
    kept = []

    class ViewOfAKeptGradient(minigrad.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            whole = g.reshape(1, 3) * 2  # owns its array, which `kept` holds too
            kept.append(whole.numpy())
            return whole.reshape(3)

    x = minigrad.randn(3, requires_grad=True)
    ViewOfAKeptGradient.apply(x).sum().backward()
    assert not np.shares_memory(x.grad.numpy(), kept[0])
    x = minigrad.randn(3, requires_grad=True)
    y = x.view(3)
    y.retain_grad()
    (y * 2).backward(g)
    assert not shares(x.grad, y.grad)
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2, 2])
    y.grad.zero_()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2, 2])


def test_detach_cuts_the_graph_and_shares_storage():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    y = x * d
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    base = minigrad.tensor([1.0, 2.0])
    base.detach()[0] = 5.0
    assert base[0].item() == 5.0


def test_modifying_a_saved_tensor_in_place_raises_at_backward():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    y = x.sigmoid()  # saves its output
    z = y.sum()
    y += 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_in_place_on_a_non_leaf_is_differentiated():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y *= x  # y = x^2, the old value of y saved by the copy
    y[0] = 0.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 4.0])
    assert y._version.value == 2


def test_in_place_copies_the_old_values_only_for_an_op_that_saves_them(monkeypatch):
    """add saves none of its inputs, so y += x writes into y's storage with no copy of y's old values;
    mul saves its first, so y *= x gives it a copy. Gradients and tangents are right either way."""
    from minigrad.backends.cpu import CPU_BACKEND
    copies, copy = [], CPU_BACKEND.copy
    monkeypatch.setattr(CPU_BACKEND, "copy", lambda x, order="K": copies.append(x.shape) or copy(x, order))
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y += x
    assert copies == []
    y *= x  # y = 4 x^2
    assert copies == [(2,)]
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [8.0, 16.0])
    _, tangent = minigrad.func.jvp(lambda t: (t * 3).add_(t).mul_(t), (x.detach(),), (minigrad.tensor([1.0, -1.0]),))
    np.testing.assert_allclose(tangent.numpy(), [8.0, -16.0])


def test_in_place_on_a_leaf_that_requires_grad_raises():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x += 1
    with minigrad.no_grad():
        x -= 1
    np.testing.assert_allclose(x.detach().numpy(), [0.0, 1.0])


def test_parameter_update_through_data():
    p = minigrad.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    p.data[:] -= 0.5 * p.grad
    np.testing.assert_allclose(p.detach().numpy(), [0.0, 0.0])
    assert p.is_leaf and p.requires_grad


def test_chain_of_100000_ops_has_no_recursion_limit():
    x = minigrad.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0
    del y  # freeing a 100,000-deep graph must not overflow the C stack either


def test_second_derivative_of_cube_is_6x():
    x = minigrad.tensor(2.0, requires_grad=True)
    (dx,) = minigrad.autograd.grad(x ** 3, x, create_graph=True)
    assert dx.item() == pytest.approx(12.0)
    (d2x,) = minigrad.autograd.grad(dx, x)
    assert d2x.item() == pytest.approx(12.0)  # 6x at x = 2
    y = minigrad.tensor(-1.5, requires_grad=True)
    (dy,) = minigrad.autograd.grad(y ** 3, y, create_graph=True)
    dy.backward()
    assert y.grad.item() == pytest.approx(-9.0)


@pytest.mark.parametrize("fn", [
    lambda x: (x * x.sin()).sum(),
    lambda x: x.exp().log_softmax(0),
    lambda x: (x @ x.T).tanh(),
    lambda x: x.sigmoid().prod(),
])
def test_gradgradcheck(fn):
    x = leaf(np.random.default_rng(0).uniform(0.5, 1.5, (3, 3)))
    assert gradgradcheck(fn, [x])


def test_batch_norm_has_second_derivatives():
    """Normalize's and Project's rules, written with Tensor ops, differentiate again (in training, with an
    affine map, and through the mean and variance outputs)."""
    from minigrad.ops.normalization import Normalize
    rng = np.random.default_rng(1)
    x, w, b = leaf(rng.standard_normal((3, 2, 2))), leaf(rng.standard_normal(2)), leaf(rng.standard_normal(2))
    assert gradgradcheck(lambda x, w, b: minigrad.nn.functional.batch_norm(x, None, None, w, b, True).sin(), [x, w, b])
    assert gradgradcheck(lambda x: minigrad.cat([o.reshape(-1) for o in Normalize.apply(x, 1e-5)]).sin(), [x])


def test_gradcheck_catches_a_wrong_rule():
    class WrongSquare(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x  # should be 2 g x

        @staticmethod
        def jvp(ctx, dx):
            (x,) = ctx.saved_tensors
            return 2 * dx * x

    x = leaf([1.0, 2.0])
    with pytest.raises(minigrad.autograd.GradcheckError, match="VJP"):
        gradcheck(WrongSquare.apply, [x])
    assert not gradcheck(WrongSquare.apply, [x], raise_exception=False)
    assert gradcheck(WrongSquare.apply, [x], check_backward_ad=False)


def test_custom_function_with_needs_input_grad_and_non_tensor_args():
    seen = []

    class Scale(Function):
        @staticmethod
        def forward(ctx, x, factor):
            seen.append(ctx.needs_input_grad)
            ctx.factor = factor
            return x * factor

        @staticmethod
        def backward(ctx, g):
            return g * ctx.factor, None

        @staticmethod
        def jvp(ctx, dx, _):
            return dx * ctx.factor

    x = leaf([1.0, -2.0])
    Scale.apply(x, 2.5)
    assert seen == [(True, False)]
    check_rules(lambda t: Scale.apply(t, 2.5), [x])


def test_custom_function_returning_wrong_gradient_shape_raises():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.sum()

    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="invalid gradient at index 0"):
        Bad.apply(x).sum().backward()


def test_autograd_grad_does_not_touch_dot_grad_and_checks_unused():
    x = minigrad.tensor(1.0, requires_grad=True)
    w = minigrad.tensor(2.0, requires_grad=True)
    y = x * 3
    (gx,) = minigrad.autograd.grad(y, x, retain_graph=True)
    assert gx.item() == 3.0 and x.grad is None
    with pytest.raises(RuntimeError, match="not have been used in the graph"):
        minigrad.autograd.grad(y, [x, w])
    y = x * 3
    assert minigrad.autograd.grad(y, [x, w], allow_unused=True)[1] is None


def test_backward_with_inputs_only_fills_those():
    x = minigrad.tensor(1.0, requires_grad=True)
    w = minigrad.tensor(2.0, requires_grad=True)
    (x * w).backward(inputs=[w])
    assert x.grad is None and w.grad.item() == 1.0


def test_functional_api_vjp_grad_jvp():
    x = minigrad.tensor([0.5, -1.0], dtype=minigrad.float64)
    out, vjp_fn = minigrad.func.vjp(lambda t: t.sin() * 2, x)
    (g,) = vjp_fn(minigrad.ones_like(out))
    np.testing.assert_allclose(g.numpy(), 2 * np.cos([0.5, -1.0]))
    grad_fn = minigrad.func.grad(lambda t: (t ** 2).sum())
    np.testing.assert_allclose(grad_fn(x).numpy(), [1.0, -2.0])
    value, tangent = minigrad.func.jvp(lambda t: t.exp(), (x,), (minigrad.ones_like(x),))
    np.testing.assert_allclose(tangent.numpy(), np.exp([0.5, -1.0]))
    assert value.grad_fn is None and not x.requires_grad


def test_jvp_uses_forward_rules_not_backward():
    calls = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            calls.append("backward")
            return g * 2

        @staticmethod
        def jvp(ctx, dx):
            calls.append("jvp")
            return dx * 2

    x = minigrad.tensor([1.0])
    _, t = minigrad.autograd.jvp(Probe.apply, (x,), (minigrad.tensor([3.0]),))
    assert calls == ["jvp"] and t.item() == 6.0


def test_jvp_argument_errors():
    x = minigrad.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"tangents\[0\]: expected shape \[2\]"):
        minigrad.func.jvp(lambda t: t, (x,), (minigrad.ones(3),))
    with pytest.raises(TypeError, match=r"primals\[0\]"):
        minigrad.func.jvp(lambda t: t, (minigrad.tensor([1, 2]),), (minigrad.tensor([1, 2]),))


def test_post_accumulate_grad_hooks_see_the_summed_gradient_once_per_backward():
    w = minigrad.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    (w * 2 + w * w).sum().backward()  # two paths into w: one call, after both are summed
    assert seen == [[4.0, 6.0]]
    handle.remove()
    (w * 2).sum().backward()
    assert seen == [[4.0, 6.0]]
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(print)


def test_queued_callbacks_run_after_the_sweep():
    from minigrad.autograd.engine import queue_callback
    w = minigrad.tensor([1.0], requires_grad=True)
    order = []
    w.register_post_accumulate_grad_hook(lambda t: queue_callback(lambda: order.append(("callback", t.grad.item()))))
    w.register_hook(lambda g: order.append(("hook", g.item())))
    (w * 3).sum().backward()
    assert order == [("hook", 3.0), ("callback", 3.0)]


def test_inference_mode_as_context_and_decorators():
    x = minigrad.ones(2, requires_grad=True)
    with minigrad.inference_mode():
        assert minigrad.is_inference_mode_enabled() and not (x * 2).requires_grad
    assert not minigrad.is_inference_mode_enabled()
    with minigrad.inference_mode(False):
        assert (x * 2).requires_grad and not minigrad.is_inference_mode_enabled()

    @minigrad.inference_mode
    def bare(t):
        return t * 2

    @minigrad.inference_mode()
    def called(t):
        return t * 2

    @minigrad.no_grad
    def no_grad_bare(t):
        return t * 2
    assert not any(f(x).requires_grad for f in (bare, called, no_grad_bare)) and (x * 2).requires_grad
    with pytest.raises(TypeError, match="mode"):
        minigrad.inference_mode("yes")


def test_num_threads():
    import numba
    before = minigrad.get_num_threads()
    try:
        minigrad.set_num_threads(1)
        assert minigrad.get_num_threads() == numba.get_num_threads() == 1
        with pytest.warns(UserWarning, match="NUMBA_NUM_THREADS"):
            minigrad.set_num_threads(numba.config.NUMBA_NUM_THREADS + 1)
        assert minigrad.get_num_threads() == numba.config.NUMBA_NUM_THREADS
        with pytest.raises(RuntimeError, match="positive int"):
            minigrad.set_num_threads(0)
    finally:
        minigrad.set_num_threads(before)


def test_backward_with_inputs_runs_post_accumulate_hooks_and_queued_callbacks():
    from minigrad.autograd.engine import queue_callback
    w, v = minigrad.tensor([2.0], requires_grad=True), minigrad.tensor([3.0], requires_grad=True)
    order = []
    w.register_post_accumulate_grad_hook(
        lambda t: (order.append(("hook", t.grad.item())), queue_callback(lambda: order.append(("callback",)))))
    (w * v).sum().backward(inputs=[w])
    assert order == [("hook", 3.0), ("callback",)] and v.grad is None
