"""minigrad.func (jacrev, jacfwd, hessian, vmap, grad, vjp, jvp, linearize, functional_call) and
minigrad.autograd.functional, on functions built from every primitive (test_primitives.CASES and
test_architecture's layer cases): against central differences, against a loop over the batch, against
each other, and against torch.func and torch.autograd.functional where PyTorch is installed."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad
import minigrad.autograd.functional as AF
import minigrad.nn.functional as F
from minigrad import func, nn
from minigrad._vmap import RULES
from minigrad.autograd.function import Function, Primitive
from minigrad.ops.elementwise import ElementwiseBinary, Unary
from checks import leaf
from test_architecture import _layer_cases, _Recorder
from test_primitives import CASES, _draw_case

H = 1e-6


def _inputs(arrays):
    return [minigrad.from_numpy(np.asarray(a, dtype=np.float64)) for a in arrays]


def _finite_differences(fn, inputs):
    """d fn / d inputs[j] by central differences, each of shape out.shape + inputs[j].shape."""
    out_shape = tuple(fn(*inputs).shape)
    jacobians = []
    for j, x in enumerate(inputs):
        base = x.numpy().copy()
        columns = []
        for k in range(base.size):
            shifted = []
            for sign in (1, -1):
                moved = base.copy().reshape(-1)
                moved[k] += sign * H
                args = list(inputs)
                args[j] = minigrad.from_numpy(moved.reshape(base.shape))
                shifted.append(fn(*args).numpy())
            columns.append((shifted[0] - shifted[1]) / (2 * H))
        jac = np.stack(columns, -1) if columns else np.zeros(out_shape + (0,))
        jacobians.append(jac.reshape(out_shape + base.shape))
    return jacobians


def _case(name, data):
    fn, arrays, _ = _draw_case(name, data.draw(CASES[name][0]))
    return fn, _inputs(arrays)


# --- Jacobians and Hessians against central differences -----------------------------------------------

@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_jacfwd_equals_jacrev_equals_finite_differences(name, data):
    fn, inputs = _case(name, data)
    argnums = tuple(range(len(inputs)))
    reverse = func.jacrev(fn, argnums)(*inputs)
    forward = func.jacfwd(fn, argnums)(*inputs)
    for r, f, expected in zip(reverse, forward, _finite_differences(fn, inputs)):
        assert r.shape == f.shape == expected.shape
        np.testing.assert_allclose(r.numpy(), f.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(r.numpy(), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_hessian_is_symmetric_and_the_finite_differences_of_grad(name, data):
    fn, inputs = _case(name, data)
    weights = minigrad.from_numpy(np.random.default_rng(0).standard_normal(tuple(fn(*inputs).shape)))

    def scalar(x):
        return (fn(x, *inputs[1:]) * weights).sum()

    hessian = func.hessian(scalar)(inputs[0])
    n = inputs[0].numel()
    square = hessian.numpy().reshape(n, n)
    np.testing.assert_allclose(square, square.T, rtol=1e-8, atol=1e-10)
    (expected,) = _finite_differences(func.grad(scalar), inputs[:1])
    np.testing.assert_allclose(hessian.numpy(), expected, rtol=1e-4, atol=1e-6)


# --- vmap: one batching rule per primitive --------------------------------------------------------------

# the primitives no CASES entry applies in its forward pass: comparisons, logic, arg-max, casts
MORE_PRIMITIVES = [
    lambda x: x == x.mean(), lambda x: x != 0.5, lambda x: x < 0, lambda x: x <= 0, lambda x: x > 0,
    lambda x: x >= 0, lambda x: x // 0.7, lambda x: x.isnan(), lambda x: x.isinf(), lambda x: x.argmax(),
    lambda x: x.argmin(-1, keepdim=True), lambda x: (x > 0).all(), lambda x: (x > 0).any(-1),
    lambda x: ~(x > 0), lambda x: (x > 0).logical_not(), lambda x: (x > 0) & (x < 1), lambda x: (x > 0) | (x < 1),
    lambda x: (x > 0) ^ (x < 1), lambda x: F.adaptive_max_pool2d(x.reshape(1, 1, 1, -1), (1, 2)),
    lambda x: x.float() * 2, lambda x: x.argsort(-1, descending=True),
]


def _batch(arrays, size, rng):
    """`size` examples around each array, stacked on dim 0."""
    return [np.stack([np.asarray(a) + 0.01 * i * rng.standard_normal(np.shape(a)) for i in range(size)])
            for a in arrays]


def _check_vmap(fn, arrays, in_dims, size=3):
    rng = np.random.default_rng(1)
    stacked = _batch(arrays, size, rng)
    args = [minigrad.from_numpy(np.moveaxis(s, 0, d)) if d is not None else minigrad.from_numpy(np.asarray(s[0]))
            for s, d in zip(stacked, in_dims)]
    out = func.vmap(fn, in_dims=tuple(in_dims))(*args)
    expected = [fn(*[minigrad.from_numpy(np.asarray(s[i] if d is not None else s[0])) for s, d in zip(stacked, in_dims)])
                for i in range(size)]
    np.testing.assert_allclose(out.numpy(), np.stack([e.numpy() for e in expected]), rtol=1e-12, atol=1e-12)
    assert out.dtype is expected[0].dtype


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
def test_vmap_equals_stacking_each_example(name, data):
    fn, arrays, _ = _draw_case(name, data.draw(CASES[name][0]))
    in_dims = [data.draw(st.sampled_from([0, np.ndim(a), None if i else 0])) for i, a in enumerate(arrays)]
    _check_vmap(fn, arrays, in_dims)


@pytest.mark.parametrize("case", range(len(_layer_cases(np.random.default_rng(0)))))
def test_vmap_of_layer_primitives_equals_stacking_each_example(case):
    fn, inputs = _layer_cases(np.random.default_rng(0))[case]
    arrays = [x.detach().numpy() for x in inputs]
    _check_vmap(fn, arrays, [0] * len(arrays))
    if len(arrays) == 2:  # a shared weight (second) and shared data (first)
        _check_vmap(fn, arrays, [0, None])
        _check_vmap(fn, arrays, [None, 0])


@pytest.mark.parametrize("fn", MORE_PRIMITIVES)
def test_vmap_of_comparisons_logic_and_casts(fn):
    _check_vmap(fn, [np.random.default_rng(2).standard_normal((2, 4))], [0])


@pytest.mark.parametrize("fn", [lambda t: t.softmax(0), lambda t: t.log_softmax(-1), lambda t: t.argmax(0),
                                lambda t: t.argmin(keepdim=True), lambda t: t.max(0).values, lambda t: t.prod(0),
                                lambda t: t.sort(0).values])
def test_vmap_over_zero_dim_examples(fn):
    _check_vmap(fn, [np.array(0.5)], [0])


def _primitives():
    """Every concrete primitive in minigrad.ops (the bases that only share code left out)."""
    found, stack = set(), [Primitive]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        found.add(cls)
    return {cls for cls in found if cls.__module__.startswith("minigrad.ops.") and not cls.__name__.startswith("_")
            and cls not in (ElementwiseBinary, Unary)}


def test_every_primitive_has_a_batching_rule_and_a_vmap_test_applies_each():
    missing = _primitives() - set(RULES)
    assert not missing, f"primitives without a batching rule: {sorted(c.__name__ for c in missing)}"
    covered = set()

    @settings(max_examples=1, deadline=None, database=None)
    @given(data=st.data())
    def every_case(data):
        for name in sorted(CASES):
            fn, arrays, _ = _draw_case(name, data.draw(CASES[name][0]))
            with _Recorder() as seen:
                func.vmap(fn)(*[minigrad.from_numpy(s) for s in _batch(arrays, 2, np.random.default_rng(0))])
            covered.update(seen.classes)

    every_case()
    for fn, inputs in _layer_cases(np.random.default_rng(0)):
        with _Recorder() as seen:
            func.vmap(fn)(*[minigrad.from_numpy(s) for s in _batch([x.detach().numpy() for x in inputs], 2,
                                                                    np.random.default_rng(0))])
            func.vmap(fn, in_dims=(None,) * (len(inputs) - 1) + (0,))(
                *[x.detach() for x in inputs[:-1]], inputs[-1].detach().unsqueeze(0).expand(2, *inputs[-1].shape))
        covered.update(seen.classes)
    for fn in MORE_PRIMITIVES:
        with _Recorder() as seen:
            func.vmap(fn)(minigrad.randn(2, 2, 4, dtype=minigrad.float64))
        covered.update(seen.classes)
    untested = set(RULES) - covered
    assert not untested, f"batching rules no vmap test applies: {sorted(c.__name__ for c in untested)}"


def test_an_op_without_a_batching_rule_raises_naming_it():
    class Double(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    with pytest.raises(RuntimeError, match="vmap: Double has no batching rule"):
        func.vmap(Double.apply)(minigrad.randn(3, 2))


def test_nested_vmap_vmap_of_grad_grad_of_vmap_and_vmap_of_jvp():
    rng = np.random.default_rng(3)
    w, xs = _inputs([rng.standard_normal((2, 3)), rng.standard_normal((4, 5, 3))])

    def loss(w, x):
        return (w @ x).tanh().sum()

    nested = func.vmap(func.vmap(lambda x: loss(w, x)))(xs)
    np.testing.assert_allclose(nested.numpy(), [[loss(w, x).item() for x in row] for row in xs], rtol=1e-12)
    per_example = func.vmap(func.vmap(func.grad(loss), in_dims=(None, 0)), in_dims=(None, 0))(w, xs)
    loop = np.stack([np.stack([func.grad(loss)(w, x).numpy() for x in row]) for row in xs])
    np.testing.assert_allclose(per_example.numpy(), loop, rtol=1e-12, atol=1e-14)
    total = func.grad(lambda w: func.vmap(lambda x: loss(w, x))(xs[0]).sum())(w)
    np.testing.assert_allclose(total.numpy(), loop[0].sum(0), rtol=1e-10)
    tangents = minigrad.from_numpy(rng.standard_normal((4, 2, 3)))
    pushed = func.vmap(lambda t: func.jvp(lambda v: loss(v, xs[0, 0]), (w,), (t,))[1])(tangents)
    loop = [func.jvp(lambda v: loss(v, xs[0, 0]), (w,), (t,))[1].item() for t in tangents]
    np.testing.assert_allclose(pushed.numpy(), loop, rtol=1e-12)
    batched_primals = func.vmap(lambda x, t: func.jvp(lambda v: v.sin() * v, (x,), (t,))[1])(xs[0], xs[1])
    np.testing.assert_allclose(batched_primals.numpy(), ((xs[0].cos() * xs[0] + xs[0].sin()) * xs[1]).numpy())


def test_transforms_of_transforms():
    xs = minigrad.from_numpy(np.random.default_rng(7).standard_normal((4, 3)))

    def f(t):
        return t.sin() * t.sum()

    def scalar(t):
        return (t.exp() * t.sum()).sum()

    for transform, fn in [(func.jacrev, f), (func.jacfwd, f), (func.hessian, scalar)]:
        batched = func.vmap(transform(fn))(xs)
        np.testing.assert_allclose(batched.numpy(), np.stack([transform(fn)(x).numpy() for x in xs]), rtol=1e-12)
    np.testing.assert_allclose(func.jacrev(func.jacrev(scalar))(xs[0]).numpy(),
                               func.hessian(scalar)(xs[0]).numpy(), rtol=1e-10)
    np.testing.assert_allclose(func.jacfwd(func.vmap(f))(xs).numpy(), func.jacrev(func.vmap(f))(xs).numpy(),
                               rtol=1e-12)
    second = func.grad(lambda t: func.grad(scalar)(t).sum())(xs[0])
    np.testing.assert_allclose(second.numpy(), func.hessian(scalar)(xs[0]).numpy().sum(0), rtol=1e-10)


def test_jacobians_of_inputs_and_outputs_of_several_dtypes_and_an_ensemble_under_vmap():
    a, b = minigrad.tensor([0.5, -2.0], dtype=minigrad.float64), minigrad.tensor([1.5, 3.0])
    for transform in (func.jacfwd, func.jacrev):
        (d_a, d_b), (e_a, e_b) = transform(lambda u, v: (u * v.double(), v * 2), argnums=(0, 1))(a, b)
        np.testing.assert_allclose(d_a.numpy(), np.diag(b.numpy()))
        np.testing.assert_allclose(e_b.numpy(), 2 * np.eye(2))
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = minigrad.randn(5, 3)
    members = [{k: v.detach() + 0.1 * i for k, v in net.named_parameters()} for i in range(3)]
    stacked = {k: minigrad.stack([m[k] for m in members]) for k in members[0]}
    ensemble = func.vmap(lambda p: func.functional_call(net, p, (x,)))(stacked)
    loop = np.stack([func.functional_call(net, m, (x,)).detach().numpy() for m in members])
    np.testing.assert_allclose(ensemble.numpy(), loop, rtol=1e-6)


@pytest.mark.parametrize("key", [(np.array([0, 2]), slice(None), np.array([1, 3])),
                                 (0, np.array([True, False, True, True, False]), slice(1, None)),
                                 (Ellipsis, np.array([[0], [2]]))])
def test_vmap_of_indexing_with_split_advanced_indices(key):
    """numpy puts the indexed dims first when advanced indices are split; the batch dim must follow."""
    xs = minigrad.from_numpy(np.random.default_rng(8).standard_normal((3, 4, 5, 6)))
    key = tuple(minigrad.tensor(k) if isinstance(k, np.ndarray) else k for k in key)

    def put(t):
        out = t.clone() * 1.0
        out[key] = t[key] * 2 + 1
        return out

    for fn in (lambda t: t[key].sin(), put, lambda t: func.grad(lambda u: u[key].sin().sum())(t)):
        np.testing.assert_allclose(func.vmap(fn)(xs).numpy(), np.stack([fn(x).numpy() for x in xs]), rtol=1e-12)
    values = minigrad.from_numpy(np.random.default_rng(9).standard_normal((3,) + tuple(xs[0][key].shape)))

    def write(v):
        out = minigrad.zeros(4, 5, 6, dtype=minigrad.float64) + 0 * v.sum()  # batched like v: written in place
        out[key] = v
        return out

    np.testing.assert_allclose(func.vmap(write)(values).numpy(),
                               np.stack([write(v).numpy() for v in values]), rtol=1e-12)


def test_vmap_captures_a_batched_tensor_inside_grad():
    x, w = _inputs([np.arange(6.0).reshape(3, 2), np.ones(2)])
    grads = func.vmap(lambda xi: func.grad(lambda v: (v * xi).sin().sum())(w))(x)
    np.testing.assert_allclose(grads.numpy(), (x * (w * x).cos()).numpy(), rtol=1e-12)


def test_vmap_in_dims_out_dims_chunk_size_and_pytrees():
    x, y = _inputs([np.arange(12.0).reshape(3, 4), np.arange(3.0)])
    out = func.vmap(lambda a, b: (a * b, a.sum()), in_dims=(1, None), out_dims=(1, 0))(x, y)
    np.testing.assert_allclose(out[0].numpy(), x.numpy() * y.numpy()[:, None])
    np.testing.assert_allclose(out[1].numpy(), x.numpy().sum(0))
    chunked = func.vmap(lambda d: d["a"] * 2, in_dims=({"a": 0},), chunk_size=2)({"a": x})
    np.testing.assert_allclose(chunked.numpy(), 2 * x.numpy())
    constant = func.vmap(lambda a: minigrad.ones(2, dtype=minigrad.float64))(x)
    assert constant.shape == (3, 2)
    same = func.vmap(lambda a: F.dropout(a, 0.5), randomness="same")(minigrad.ones(3, 8))
    assert (same == same[0]).all()


# --- per-sample gradients of a small conv net -----------------------------------------------------------

def _conv_net():
    minigrad.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3 * 3 * 3, 4))


def test_per_sample_gradients_of_a_conv_net_equal_the_per_example_loop():
    net = _conv_net()
    params = {k: v.detach() for k, v in net.named_parameters()}
    x = minigrad.randn(5, 1, 8, 8)
    y = minigrad.tensor([0, 3, 1, 2, 3])

    def loss(params, sample, target):
        out = func.functional_call(net, params, (sample.unsqueeze(0),))
        return F.cross_entropy(out, target.unsqueeze(0))

    per_sample = func.vmap(func.grad(loss), in_dims=(None, 0, 0))(params, x, y)
    for i in range(5):
        one = func.grad(loss)(params, x[i], y[i])
        for name in params:
            np.testing.assert_allclose(per_sample[name][i].numpy(), one[name].numpy(), rtol=1e-4, atol=1e-6)
    assert all(p.grad is None for p in net.parameters())
    assert net[0].weight is dict(net.named_parameters())["0.weight"]  # restored


def test_per_sample_gradients_match_torch_func():
    torch = pytest.importorskip("torch")
    net = _conv_net()
    state = {k: v.detach().numpy() for k, v in net.named_parameters()}
    x = np.random.default_rng(4).standard_normal((4, 1, 8, 8)).astype(np.float32)
    y = np.array([0, 3, 1, 2])
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                 torch.nn.Flatten(), torch.nn.Linear(27, 4))

    def make_loss(module, framework):
        def loss(params, sample, target):
            out = framework.func.functional_call(module, params, (sample.unsqueeze(0),))
            return framework.nn.functional.cross_entropy(out, target.unsqueeze(0))
        return loss

    ours = func.vmap(func.grad(make_loss(net, minigrad)), in_dims=(None, 0, 0))(
        {k: minigrad.from_numpy(v) for k, v in state.items()}, minigrad.from_numpy(x), minigrad.from_numpy(y))
    expected = torch.func.vmap(torch.func.grad(make_loss(theirs, torch)), in_dims=(None, 0, 0))(
        {k: torch.from_numpy(v) for k, v in state.items()}, torch.from_numpy(x), torch.from_numpy(y))
    for name in state:
        np.testing.assert_allclose(ours[name].numpy(), expected[name].numpy(), rtol=1e-4, atol=1e-6)


# --- against torch.func and torch.autograd.functional ---------------------------------------------------

@pytest.mark.parametrize("name", ["mul", "div", "exp", "tanh", "softmax", "log_softmax", "max_dim", "matmul",
                                  "sum", "prod", "index", "cat", "expand", "where"])
@given(data=st.data())
def test_transforms_match_torch_func(name, data):
    torch = pytest.importorskip("torch")
    fn, arrays, _ = _draw_case(name, data.draw(CASES[name][0]))
    ours, theirs = _inputs(arrays), [torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in arrays]
    argnums = tuple(range(len(arrays)))
    for ours_t, theirs_t in [(func.jacrev(fn, argnums), torch.func.jacrev(fn, argnums)),
                             (func.jacfwd(fn, argnums), torch.func.jacfwd(fn, argnums))]:
        for a, b in zip(ours_t(*ours), theirs_t(*theirs)):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    batched = _batch(arrays, 2, np.random.default_rng(0))
    a = func.vmap(fn)(*_inputs(batched))
    b = torch.func.vmap(fn)(*[torch.from_numpy(s) for s in batched])
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)
    weights = np.random.default_rng(5).standard_normal(tuple(b.shape[1:]))

    def scalar(x, module, w):
        return (fn(x, *(ours if module is minigrad else theirs)[1:]) * w).sum()
    h_ours = func.hessian(lambda x: scalar(x, minigrad, minigrad.from_numpy(weights)))(ours[0])
    h_theirs = torch.func.hessian(lambda x: scalar(x, torch, torch.from_numpy(weights)))(theirs[0])
    np.testing.assert_allclose(h_ours.numpy(), h_theirs.numpy(), rtol=1e-9, atol=1e-11)


def _pair(x):
    return (x.sin() * x.sum(), (x * x).prod())


def _scalar(x, y):
    return (x.exp() * y).sum() + (x * x * x).sum()


def _flat(tree):
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in _flat(item)]
    return [tree]


@pytest.mark.parametrize("vectorize, strategy", [(False, "reverse-mode"), (True, "reverse-mode"),
                                                 (True, "forward-mode")])
@pytest.mark.parametrize("create_graph", [False, True])
def test_autograd_functional_matches_torch(vectorize, strategy, create_graph):
    torch = pytest.importorskip("torch")
    tf = torch.autograd.functional
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(3), rng.standard_normal(3)]
    mine, theirs = _inputs(arrays), [torch.from_numpy(a) for a in arrays]
    graph = create_graph and strategy == "reverse-mode"
    calls = [
        (lambda m, x: m.jacobian(_pair, x[0], graph, False, vectorize, strategy)),
        (lambda m, x: m.jacobian(_scalar, tuple(x), graph, False, vectorize, strategy)),
        (lambda m, x: m.hessian(_scalar, tuple(x), graph, False, vectorize, strategy)),
        (lambda m, x: m.vjp(_pair, x[0], (x[1], x[1].sum()), create_graph)),
        (lambda m, x: m.jvp(_pair, x[0], x[1], create_graph)),
        (lambda m, x: m.hvp(_scalar, tuple(x), tuple(x), create_graph)),
        (lambda m, x: m.vhp(_scalar, tuple(x), tuple(x), create_graph)),
    ]
    for call in calls:
        a, b = call(AF, mine), call(tf, theirs)
        assert type(a) is type(b) or isinstance(b, list)
        for p, q in zip(_flat(a), _flat(b)):
            assert tuple(p.shape) == tuple(q.shape)
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_autograd_functional_create_graph_keeps_results_differentiable():
    x = leaf(np.array([0.5, -1.0, 2.0]))
    hessian = AF.hessian(lambda t: (t ** 3).sum(), x, create_graph=True)
    (third,) = minigrad.autograd.grad(hessian.sum(), x)
    np.testing.assert_allclose(third.numpy(), [6.0, 6.0, 6.0])
    assert not AF.jacobian(lambda t: t ** 2, x).requires_grad


@pytest.mark.parametrize("call, message", [
    (lambda: AF.jacobian(lambda t: t.detach(), minigrad.ones(2), strict=True),
     "Output 0 of the user-provided function does not require gradients"),
    (lambda: AF.jacobian(lambda a, b: a * 2, (minigrad.ones(2), minigrad.ones(2)), strict=True),
     "Output 0 of the user-provided function is independent of input 1"),
    (lambda: AF.vjp(lambda a, b: a.sum(), (minigrad.ones(2), minigrad.ones(2)), strict=True),
     "independent of input 1"),
    (lambda: AF.hessian(lambda t: t.sum(), minigrad.ones(2), strict=True), "the jacobian of the user-provided"),
    (lambda: AF.vjp(lambda t: t, minigrad.ones(2)), "v can only be None"),
    (lambda: AF.jvp(lambda t: t, minigrad.ones(2), minigrad.ones(3)), "v has invalid size"),
    (lambda: AF.hvp(lambda t: t, minigrad.ones(2), minigrad.ones(2)), "should contain a single element"),
    (lambda: AF.jacobian(lambda t: t, minigrad.ones(2), vectorize=True, strict=True), "not supported together"),
    (lambda: AF.jacobian(lambda t: t, minigrad.ones(2), strategy="forward-mode"), "vectorize=True"),
])
def test_autograd_functional_errors_as_pytorch(call, message):
    with pytest.raises((RuntimeError, NotImplementedError), match=message):
        call()


def test_autograd_functional_rejects_non_tensors_with_a_type_error():
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        AF.jacobian(lambda t: t, 3.0)


# --- the rest of torch.func -----------------------------------------------------------------------------

def test_grad_and_value_has_aux_vjp_linearize_and_functional_call():
    x = leaf(np.array([0.5, -1.0, 2.0]), requires_grad=False)
    g, (value, aux) = func.grad_and_value(lambda t: ((t ** 2).sum(), t.mean()), has_aux=True)(x)
    np.testing.assert_allclose(g.numpy(), 2 * x.numpy())
    assert value.item() == pytest.approx(5.25) and aux.item() == pytest.approx(0.5)
    out, vjp_fn, aux = func.vjp(lambda t: (t.sin(), t.sum()), x, has_aux=True)
    (pulled,) = vjp_fn(minigrad.ones(3, dtype=minigrad.float64))
    np.testing.assert_allclose(pulled.numpy(), np.cos(x.numpy()))
    out, jvp_fn = func.linearize(lambda t: t.exp(), x)
    np.testing.assert_allclose(jvp_fn(minigrad.ones(3, dtype=minigrad.float64)).numpy(), np.exp(x.numpy()))
    linear = nn.Linear(3, 2)
    weight = minigrad.zeros(2, 3)
    result = func.functional_call(linear, {"weight": weight}, (x.float(),))
    np.testing.assert_allclose(result.detach().numpy(), linear.bias.detach().numpy())
    assert linear.weight is not weight and isinstance(linear.weight, nn.Parameter)
    jac = func.jacrev(lambda p: func.functional_call(linear, p, (x.float(),)))(dict(linear.named_parameters()))
    np.testing.assert_allclose(jac["weight"].numpy()[0, 0], x.float().numpy(), rtol=1e-6)


def test_functional_call_ties_weights_and_jacobians_return_aux():
    net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Linear(2, 2, bias=False))
    net[1].weight = net[0].weight
    x = minigrad.ones(1, 2)
    doubled = {"0.weight": 2 * net[0].weight.detach()}
    tied = func.functional_call(net, doubled, (x,))
    np.testing.assert_allclose(tied.detach().numpy(), (x @ doubled["0.weight"].T @ doubled["0.weight"].T).numpy())
    untied = func.functional_call(net, doubled, (x,), tie_weights=False)
    expected = x @ doubled["0.weight"].T @ net[1].weight.detach().T
    np.testing.assert_allclose(untied.detach().numpy(), expected.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="which are tied"):
        func.functional_call(net, {"0.weight": net[0].weight * 1, "1.weight": net[0].weight * 2}, (x,))
    with pytest.raises(RuntimeError, match="Unexpected key\\(s\\): 'extra'"):
        func.functional_call(net, {"0.weight": net[0].weight, "extra": x}, (x,), strict=True)
    t = minigrad.tensor([0.5, 1.5], dtype=minigrad.float64)
    for transform in (func.jacrev, func.jacfwd):
        jac, aux = transform(lambda u: (u.exp(), u.sum()), has_aux=True)(t)
        np.testing.assert_allclose(jac.numpy(), np.diag(np.exp(t.numpy())))
        assert aux.item() == pytest.approx(2.0)


@pytest.mark.parametrize("call, error, message", [
    (lambda: func.vmap(minigrad.sin, in_dims=(0, 1))(minigrad.ones(2, 2)), ValueError, "not compatible"),
    (lambda: func.vmap(minigrad.sin, out_dims=(0, 1))(minigrad.ones(2, 2)), ValueError, "out_dims is not compatible"),
    (lambda: func.vmap(minigrad.sin, in_dims=3)(minigrad.ones(2, 2)), ValueError, "Got in_dim=3"),
    (lambda: func.vmap(minigrad.sin, in_dims="a")(minigrad.ones(2)), ValueError, "expected `in_dims` to be int"),
    (lambda: func.vmap(lambda a, b: a + b)(minigrad.ones(3, 2), minigrad.ones(2, 2)), ValueError,
     "same size in the mapped dimension, got sizes \\[3, 2\\]"),
    (lambda: func.vmap(lambda a: 1)(minigrad.ones(3)), ValueError, "must only return Tensors"),
    (lambda: func.vmap(lambda a, b: a, in_dims=(0, 0))(minigrad.ones(2), 1.0), ValueError,
     "cannot vmap over non-Tensor arguments"),
    (lambda: func.vmap(lambda a: a, out_dims=None)(minigrad.ones(2)), ValueError, "out_dim is None"),
    (lambda: func.vmap(minigrad.sin, randomness="x")(minigrad.ones(2)), RuntimeError, "randomness"),
    (lambda: func.vmap(minigrad.sin, chunk_size=0)(minigrad.ones(2)), ValueError, "chunk_size"),
    (lambda: func.vmap(lambda t: F.dropout(t, 0.5))(minigrad.ones(2, 3)), RuntimeError, "randomness error mode"),
    (lambda: func.vmap(lambda t: t + minigrad.randn(3), randomness="different")(minigrad.ones(2, 3)),
     NotImplementedError, "randomness='different'"),
    (lambda: func.vmap(minigrad.sin)(), ValueError, "got no inputs"),
    (lambda: func.vmap(lambda a: a.item())(minigrad.ones(2)), RuntimeError, "item"),
    (lambda: func.vmap(lambda a: minigrad.zeros(2).add_(a))(minigrad.ones(3, 2)), RuntimeError,
     "Add in place is not possible"),
    (lambda: func.vmap(lambda a: a if a.sum() > 0 else -a)(minigrad.tensor([1.0, -1.0])), RuntimeError,
     "data-dependent control flow"),
    (lambda: func.grad(lambda a: a)(minigrad.ones(2)), RuntimeError, "Expected f\\(\\*args\\) to return a scalar"),
    (lambda: func.grad(lambda a: a.sum())(3.0), ValueError, "must be Tensor"),
    (lambda: func.grad(lambda a: a.sum(), has_aux=True)(minigrad.ones(2)), RuntimeError, "\\(output, aux\\)"),
    (lambda: func.jacrev(minigrad.sin, argnums=2)(minigrad.ones(2)), RuntimeError, "Got argnum=2"),
    (lambda: func.jacrev(minigrad.sin, argnums=(0, 0))(minigrad.ones(2)), RuntimeError, "unique"),
    (lambda: func.jacrev(minigrad.sin, argnums=1.0)(minigrad.ones(2)), RuntimeError, "argnums must be int"),
    (lambda: func.jacrev(lambda a: 1)(minigrad.ones(2)), RuntimeError, "return only tensors"),
    (lambda: func.vjp(minigrad.sin, minigrad.ones(2))[1](minigrad.ones(3)), RuntimeError, "Mismatch in shape"),
    (lambda: func.jvp(minigrad.sin, minigrad.ones(2), minigrad.ones(2)), RuntimeError, "to be a tuple"),
    (lambda: func.jvp(lambda t: minigrad.ones(2), (minigrad.ones(2),), (minigrad.ones(2),), strict=True),
     RuntimeError, "independent of the inputs"),
    (lambda: func.functional_call(nn.Linear(2, 2), {"weight": minigrad.ones(2, 2)}, (minigrad.ones(2),),
                                  strict=True), RuntimeError, "Missing key\\(s\\): 'bias'"),
    (lambda: func.functional_call(nn.Linear(2, 2), ({"bias": minigrad.ones(2)}, {"bias": minigrad.ones(2)}),
                                  (minigrad.ones(2),)), ValueError, "appeared in multiple dictionaries"),
])
def test_bad_input_raises_pytorch_exception_types(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("call", [
    lambda f: f.vmap(lambda a, b: a + b)(f.ones(3, 2), f.ones(2, 2)),
    lambda f: f.vmap(lambda a: 1)(f.ones(3)),
    lambda f: f.vmap(f.sin, in_dims=3)(f.ones(2, 2)),
    lambda f: f.grad(lambda a: a)(f.ones(2)),
    lambda f: f.jacrev(f.sin, argnums=2)(f.ones(2)),
])
def test_bad_input_raises_what_torch_func_raises(call):
    torch = pytest.importorskip("torch")

    class Namespace:
        def __init__(self, package):
            self.vmap, self.grad, self.jacrev = package.func.vmap, package.func.grad, package.func.jacrev
            self.ones, self.sin = package.ones, package.sin

    with pytest.raises(Exception) as theirs:
        call(Namespace(torch))
    with pytest.raises(type(theirs.value)):
        call(Namespace(minigrad))
