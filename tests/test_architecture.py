"""One door between Tensors and arrays: outside the op machinery, nothing touches backend arrays.

Every array operation that produces a tensor goes through an op (Primitive.apply), where devices,
dtypes and versions are checked. These tests read the package's source (ast) and fail on a way
around that door.
"""
import ast
import pathlib

import pytest

import minigrad
from minigrad.autograd.function import AUTO_ELEMENT_WISE, AUTO_LINEAR, Primitive
from minigrad.ops import logic

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
    lambda x: (x > 0) ^ (x < 2),
])
def test_non_differentiable_ops_never_require_grad(make):
    x = _float_leaf()
    out = make(x)
    assert not out.requires_grad and out.grad_fn is None
    value, tangent = minigrad.func.jvp(make, (x.detach(),), (minigrad.ones(2, 2),))
    assert tangent.dtype == value.dtype and not tangent.any()  # no derivative: a zero tangent


def test_non_differentiable_primitives_are_declared_so():
    for name in ("Equal", "Less", "FloorDivide", "IsNan", "All", "ArgExtreme", "Invert"):
        op = getattr(logic, name)
        assert issubclass(op, Primitive) and op.differentiable is False


def test_derived_jvp_markers_name_their_rule():
    assert repr(AUTO_LINEAR) == "AUTO_LINEAR" and repr(AUTO_ELEMENT_WISE) == "AUTO_ELEMENT_WISE"
