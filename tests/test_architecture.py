"""One door between Tensors and arrays: outside the op machinery, nothing touches backend arrays.

Every array operation that produces a tensor goes through an op (Primitive.apply), where devices,
dtypes and versions are checked. These tests read the package's source (ast) and fail on a way
around that door.
"""
import ast
import pathlib

import numpy as np
import pytest

import minigrad
from minigrad.autograd.function import AUTO_ELEMENT_WISE, AUTO_LINEAR, Primitive
from minigrad.ops import logic
from checks import leaf

PACKAGE = pathlib.Path(minigrad.__file__).resolve().parent

# Where backend arrays may be touched, and why:
ARRAY_HOMES = (
    "ops/",          # the primitives: compute works on arrays
    "autograd/",     # the machinery that unwraps and wraps once, the tape, gradcheck's one-hot tangents
    "backends/",     # the arrays themselves
    "tensor.py",     # the facade holds the array: creation, conversion, storage (limited below)
    "creation.py",   # factories: host data onto a device
)
# tensor.py may ask its backend only for these: creating arrays, converting them, and writing storage
TENSOR_BACKEND_METHODS = {"asarray", "zeros", "ones", "full", "from_numpy", "to_numpy", "copy", "assign",
                          "is_contiguous"}
ARRAY_ATTRIBUTES = {"_data", "_backend", "_wrap", "_wrap_on", "_from_array"}
ARRAY_NAMES = {"backend_for", "CPU_BACKEND", "CUDA_BACKEND"}


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(), str(path))


def _is_array_home(relative):
    return any(relative == home or (home.endswith("/") and relative.startswith(home)) for home in ARRAY_HOMES)


def _array_access(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ARRAY_ATTRIBUTES:
            yield node.lineno, "." + node.attr
        elif isinstance(node, ast.Name) and node.id in ARRAY_NAMES:
            yield node.lineno, node.id
        elif isinstance(node, ast.ImportFrom) and any(a.name in ARRAY_NAMES for a in node.names):
            yield node.lineno, f"import from {node.module}"


def test_only_the_op_machinery_touches_backend_arrays():
    offences = [f"minigrad/{relative}:{line}: {what}"
                for relative, tree in _sources() if not _is_array_home(relative)
                for line, what in _array_access(tree)]
    assert not offences, "backend arrays touched outside the op machinery (go through an op):\n" + "\n".join(offences)


def _backend_method_calls(tree):
    """(line, method) for each `<x>._backend.<method>` and `backend_for(...).<method>`; and bare uses."""
    reached = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            inner = node.value
            if isinstance(inner, ast.Attribute) and inner.attr == "_backend":
                reached.add(id(inner))
                yield node.lineno, node.attr
            elif isinstance(inner, ast.Call) and getattr(inner.func, "id", None) == "backend_for":
                yield node.lineno, node.attr
    for node in ast.walk(tree):  # a backend held in a variable would escape the check above
        if isinstance(node, ast.Attribute) and node.attr == "_backend" and id(node) not in reached:
            yield node.lineno, "_backend (not called directly)"


def test_tensor_operators_reach_arrays_only_through_ops():
    tree = ast.parse((PACKAGE / "tensor.py").read_text())
    offences = [f"minigrad/tensor.py:{line}: backend.{method}" for line, method in _backend_method_calls(tree)
                if method not in TENSOR_BACKEND_METHODS]
    assert not offences, "tensor.py computes on arrays outside an op:\n" + "\n".join(offences)


def test_the_check_finds_a_side_door():
    tree = ast.parse("def f(x):\n    return x._wrap(x._backend.equal(x._data, x._data))\n")
    assert {what for _, what in _array_access(tree)} == {"._wrap", "._backend", "._data"}
    assert ("equal" in {m for _, m in _backend_method_calls(tree)})


# --- non-differentiable primitives -----------------------------------------------------------------

def _float_leaf():
    return minigrad.tensor([[1.5, -2.0], [float("nan"), 3.0]], requires_grad=True)


@pytest.mark.parametrize("make", [
    lambda x: x == 1.5, lambda x: x != 1.5, lambda x: x < 0, lambda x: x <= 0, lambda x: x > 0, lambda x: x >= 0,
    lambda x: x // 2, lambda x: 7.0 // x, lambda x: x.isnan(), lambda x: x.isinf(), lambda x: x.argmax(),
    lambda x: x.argmin(1), lambda x: (x > 0).all(), lambda x: (x > 0).any(1), lambda x: ~(x > 0),
    lambda x: (x > 0).logical_not(), lambda x: (x > 0) & (x < 2), lambda x: (x > 0) | (x < 2),
    lambda x: (x > 0) ^ (x < 2), lambda x: x.argsort(0, descending=True), lambda x: x.sort(1).indices,
])
def test_non_differentiable_ops_never_require_grad(make):
    x = _float_leaf()
    out = make(x)
    assert not out.requires_grad and out.grad_fn is None
    value, tangent = minigrad.func.jvp(make, (x.detach(),), (minigrad.ones(2, 2),))
    assert tangent.dtype == value.dtype and not tangent.any()  # no derivative: a zero tangent


def test_non_differentiable_primitives_are_declared_so():
    for name in ("Equal", "Less", "FloorDivide", "IsNan", "All", "ArgExtreme", "Invert", "Argsort"):
        op = getattr(logic, name)
        assert issubclass(op, Primitive) and op.differentiable is False


def test_derived_jvp_markers_name_their_rule():
    assert repr(AUTO_LINEAR) == "AUTO_LINEAR" and repr(AUTO_ELEMENT_WISE) == "AUTO_ELEMENT_WISE"


# --- every primitive's rules are checked ------------------------------------------------------------

def _concrete_primitives():
    """Every differentiable op class in minigrad.ops (bases that only share code excluded)."""
    import inspect
    from minigrad.autograd.function import Function
    from minigrad.ops import conv, elementwise, linalg, normalization, pool, reduction, shape
    bases = {elementwise.ElementwiseBinary, elementwise.Unary}
    found = set()
    for module in (conv, elementwise, linalg, logic, normalization, pool, reduction, shape):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Function) and cls.__module__ == module.__name__ and not cls.__name__.startswith("_") \
                    and cls not in bases and getattr(cls, "differentiable", True):
                found.add(cls)
    return found


class _Recorder:
    """Which primitives a piece of code applies, with their arguments."""

    def __enter__(self):
        from minigrad.autograd.function import Function
        self.calls, self.saved = [], (Primitive.__dict__["apply"], Function.__dict__["apply"])
        for base, original in zip((Primitive, Function), self.saved):
            def recording(cls, *args, original=original):
                self.calls.append((cls, args))
                return original.__func__(cls, *args)
            setattr(base, "apply", classmethod(recording))
        return self

    def __exit__(self, *exc):
        from minigrad.autograd.function import Function
        Primitive.apply, Function.apply = self.saved

    @property
    def classes(self):
        return {cls for cls, _ in self.calls}

    def args_of(self, cls):
        return next(args for c, args in self.calls if c is cls)


def _rng_leaf(rng, *shape):
    return leaf(rng.standard_normal(shape))


def _layer_cases(rng):
    """(function, inputs) for the convolution, pooling and padding primitives, and for each adjoint
    that only a VJP applies (its own rules are checked here, as a function of its own)."""
    from minigrad.backends.geometry import ConvGeometry
    from minigrad.ops import conv, normalization, pool, reduction, shape
    import minigrad.nn.functional as F
    x4, w4 = _rng_leaf(rng, 2, 2, 5, 5), _rng_leaf(rng, 3, 2, 2, 2)
    geometry = ConvGeometry((1, 2, 2), (1, 1, 1), (0, 0, 0), (1, 1, 1), 1, (1, 5, 5), (1, 4, 4))
    x5, y5 = _rng_leaf(rng, 2, 2, 1, 5, 5), _rng_leaf(rng, 2, 3, 1, 4, 4)
    with _Recorder() as seen:
        F.avg_pool2d(x4.detach(), 2)
        F.pad(x4.detach(), (1, 2, 0, 1), mode="reflect")
        x4.detach()[0, 1:]
        F.adaptive_max_pool2d(x4.detach(), 2)
    windows = seen.args_of(pool.WindowMean)[1]
    _, maps, _ = seen.args_of(pool.Pad)
    planes = seen.args_of(pool.Pad)[0]
    key = seen.args_of(shape.Index)[1]
    _, index, dim = seen.args_of(reduction.Gather)
    index = index.detach()
    return [
        (lambda x, w: F.conv2d(x, w, padding=1), [x4, w4]),
        (lambda x, w, b: F.conv2d(x, w, b, stride=2), [x4, w4, _rng_leaf(rng, 3)]),
        (lambda y, w: F.conv_transpose2d(y, w, stride=2), [_rng_leaf(rng, 2, 3, 3, 3), w4]),
        # nn.Sequential's fused Conv2d -> Sigmoid and Conv2d -> ReLU -> AvgPool2d(2)
        (lambda x, w, b: F._conv(x, w, b, 1, 1, 1, 1, 2, "conv2d", "sigmoid"), [x4, w4, _rng_leaf(rng, 3)]),
        (lambda x, w, b: F._conv(x, w, b, 1, 1, 1, 1, 2, "conv2d", "relu", (2, None, 0, False, True, None)),
         [x4, w4, _rng_leaf(rng, 3)]),
        (lambda x, y: conv.ConvWeight.apply(x, y, geometry), [x5, y5]),
        (lambda x: F.fold(F.unfold(x, 2), (5, 5), 2), [x4]),
        (lambda x: F.avg_pool2d(x, 2), [x4]),
        (lambda g: pool.WindowMeanAdjoint.apply(g, windows, (5, 5)), [_rng_leaf(rng, 2, 2, 2, 2)]),
        (lambda x: F.pad(x, (1, 2, 0, 1), mode="reflect"), [x4]),
        (lambda g: pool.PadAdjoint.apply(g, maps, tuple(planes.shape[1:])), [_rng_leaf(rng, *planes.shape[:1], 1, 6, 8)]),
        (lambda v: shape.IndexAdd.apply(v, (2, 2, 5, 5), key), [_rng_leaf(rng, 1, 5, 5)]),
        (lambda x: F.max_pool2d(x, 2), [x4]),
        (lambda x: F.adaptive_max_pool2d(x, 2), [x4]),
        (lambda v: reduction.ScatterAlong.apply(v, index, dim, (2, 2, 25)), [_rng_leaf(rng, *index.shape)]),
        (lambda u, xhat, r: normalization.Project.apply(u, xhat, r),
         [_rng_leaf(rng, 3, 2, 2), _rng_leaf(rng, 3, 2, 2), leaf(rng.uniform(0.5, 2.0, 2))]),
        (lambda x, y: minigrad.cat(normalization.ChannelSums.apply(x, y)), [_rng_leaf(rng, 2, 3, 2), _rng_leaf(rng, 2, 3, 2)]),
    ]


def test_every_primitive_has_its_rules_checked_by_a_property_test():
    """tests/test_primitives.py's CASES (each run through check_rules there) and the cases here must
    together apply every differentiable primitive. Two are checked elsewhere: ToDevice needs a second
    device (tests/test_cuda.py), and Cast changes precision, so finite differences can't check it
    (test_cast_rules_exactly)."""
    from hypothesis import given, settings, strategies as st
    from checks import check_rules
    from minigrad.ops.elementwise import Cast
    from minigrad.ops.shape import ToDevice
    from test_primitives import CASES, _draw_case

    covered = set()

    @settings(max_examples=1, deadline=None, database=None)
    @given(data=st.data())
    def draw_every_case(data):
        for name in sorted(CASES):
            fn, arrays, layout = _draw_case(name, data.draw(CASES[name][0]))
            with _Recorder() as seen:
                fn(*[leaf(a, layout) for a in arrays])
            covered.update(seen.classes)

    draw_every_case()
    for fn, inputs in _layer_cases(np.random.default_rng(0)):
        with _Recorder() as seen:
            fn(*inputs)
        covered.update(seen.classes)
        check_rules(fn, inputs)
    missing = _concrete_primitives() - covered - {ToDevice, Cast}
    assert not missing, f"primitives whose rules no property test checks: {sorted(c.__name__ for c in missing)}"


def test_cast_rules_exactly():
    x = leaf([1.5, -2.0, 0.25])
    out, tangent = minigrad.func.jvp(lambda t: t.float(), (x.detach(),), (minigrad.tensor([1.0, 2.0, -3.0]).double(),))
    assert out.dtype == tangent.dtype == minigrad.float32 and tangent.tolist() == [1.0, 2.0, -3.0]
    x.float().backward(minigrad.tensor([4.0, 5.0, 6.0]))
    assert x.grad.dtype == minigrad.float64 and x.grad.tolist() == [4.0, 5.0, 6.0]


def test_a_primitive_that_saves_an_unknown_name_fails_when_defined():
    with pytest.raises(TypeError, match="'y' is neither an argument of compute"):
        class Bad(Primitive):
            saves = ("y",)

            @staticmethod
            def compute(ctx, x):
                return x


def test_a_users_primitive_runs_through_the_one_door():
    class Double(Primitive):
        jvp = AUTO_LINEAR

        @staticmethod
        def compute(ctx, x):
            return ctx.backend.multiply(x, 2.0)

        @staticmethod
        def backward(ctx, g):
            return g * 2

    from checks import check_rules
    check_rules(Double.apply, [leaf([1.0, -3.0])])
