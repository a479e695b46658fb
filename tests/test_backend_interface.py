"""Both backends implement minigrad.backends.interface.Backend: every declared entry with the declared
signature, nothing public beyond it, and the contract's errors raised alike. The CPU side always runs;
the CUDA side needs a GPU or NUMBA_ENABLE_CUDASIM=1 (marker `cuda`)."""
import ast
import inspect
import warnings
import pathlib

import numpy as np
import pytest

import minigrad
from minigrad.backends import backend_for, interface
from minigrad.backends.cpu import CPU_BACKEND, _direct, _live_taps
from minigrad.backends.geometry import ConvGeometry
from minigrad.backends.interface import Backend, ViewError
from minigrad.backends.shared import SharedBackend

needs_cuda = pytest.mark.skipif(not minigrad.cuda.is_available(),
                                reason="numba.cuda finds no GPU; set NUMBA_ENABLE_CUDASIM=1 for the simulator")
# public names a backend may have beyond the declared entries
UNDECLARED_ALLOWED = {"name"}  # the device type, a class attribute the interface declares as data


def _cuda():
    return backend_for(minigrad.device("cuda"))


BACKENDS = [pytest.param(lambda: CPU_BACKEND, id="cpu"),
            pytest.param(_cuda, id="cuda", marks=[pytest.mark.cuda, needs_cuda])]


ROOT = pathlib.Path(__file__).resolve().parents[1]


def _declared_signature(name):
    signature = inspect.signature(getattr(Backend, name))
    return list(signature.parameters.values())[1:]  # without self


def test_the_interface_is_small_and_every_entry_has_a_contract():
    families = [name for names in interface.FAMILIES.values() for name in names]
    entries = set(interface.ENTRIES) - set(families)
    assert len(entries) + len(interface.FAMILIES) <= 50
    for name in interface.ENTRIES:
        doc = getattr(Backend, name).__doc__
        assert doc and doc.strip(), f"{name} has no contract line"
    assert set(Backend.__abstractmethods__) == set(interface.ENTRIES)


def _names_asked_of_backends():
    """Attributes read off a backend outside minigrad/backends (x.backend.NAME, x._backend.NAME,
    backend.NAME), and the `kernel = "NAME"` of ops that look their backend entry up by name."""
    for path in sorted((ROOT / "minigrad").rglob("*.py")):
        if "backends" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute):
                owner = node.value
                if (isinstance(owner, ast.Attribute) and owner.attr in ("backend", "_backend")
                        or isinstance(owner, ast.Name) and owner.id == "backend"):
                    yield path.relative_to(ROOT), node.attr
            elif isinstance(node, ast.Assign):  # kernel = "exp", or kernel, saves = "exp", (...)
                for target in node.targets:
                    pairs = (zip(target.elts, node.value.elts) if isinstance(target, ast.Tuple)
                             and isinstance(node.value, ast.Tuple) else [(target, node.value)])
                    for name, value in pairs:
                        if (isinstance(name, ast.Name) and name.id == "kernel" and isinstance(value, ast.Constant)
                                and isinstance(value.value, str)):
                            yield path.relative_to(ROOT), value.value


def test_ops_ask_backends_only_for_declared_entries():
    asked = list(_names_asked_of_backends())
    assert asked, "the scan found no backend calls: has the spelling changed?"
    undeclared = sorted({f"{path}: {name}" for path, name in asked if name not in interface.ENTRIES})
    assert not undeclared, undeclared


@pytest.mark.parametrize("get_backend", BACKENDS)
def test_backend_implements_every_entry_with_the_declared_signature(get_backend):
    backend = get_backend()
    assert isinstance(backend, Backend)
    assert not getattr(type(backend), "__abstractmethods__", None)
    differ = [f"{name}{inspect.signature(getattr(backend, name))} is declared "
              f"{name}{inspect.signature(getattr(Backend, name))}" for name in interface.ENTRIES
              if list(inspect.signature(getattr(backend, name)).parameters.values()) != _declared_signature(name)]
    assert not differ, differ


@pytest.mark.parametrize("get_backend", BACKENDS)
def test_backend_has_no_undeclared_public_names(get_backend):
    backend = get_backend()
    public = {name for name in dir(type(backend)) if not name.startswith("_")}
    assert public - set(interface.ENTRIES) == UNDECLARED_ALLOWED


@pytest.mark.parametrize("get_backend", BACKENDS)
def test_convolution_plumbing_is_written_once(get_backend):
    """The GEMM path lives in SharedBackend; a backend brings im2col and col2im (the CPU backend may also
    take its direct stride-1 path, falling back to SharedBackend's)."""
    cls = type(get_backend())
    for name in ("_columns", "_grouped_outputs"):
        assert name not in vars(cls), f"{cls.__name__} redefines {name}"
    if cls.name == "cuda":
        for name in ("conv", "conv_transpose", "conv_weight"):
            assert name not in vars(cls)


def _strided(backend, array):
    """A transposed (non-contiguous) view of `array` on the backend."""
    return backend.transpose(backend.from_numpy(np.ascontiguousarray(array.T)))


def _errors(b):
    """(entry, call, the contract's error) for each error the interface names."""
    x = b.from_numpy(np.arange(6.0).reshape(2, 3))
    broadcast = b.broadcast_to(b.from_numpy(np.zeros((1, 3))), (2, 3))
    return [
        ("view (strides)", lambda: b.view(_strided(b, np.arange(6.0).reshape(2, 3)), (6,)), ViewError),
        ("view (size)", lambda: b.view(x, (7,)), ValueError),
        ("reshape (size)", lambda: b.reshape(x, (7,)), ValueError),
        ("broadcast_to", lambda: b.broadcast_to(x, (4, 3, 2)), ValueError),
        ("assign (broadcast destination)", lambda: b.assign(broadcast, b.from_numpy(np.ones((2, 3)))), ValueError),
        ("assign (source shape)", lambda: b.assign(b.copy(x), b.from_numpy(np.ones(4))), ValueError),
        ("argmax (empty axis)", lambda: b.argmax(b.from_numpy(np.zeros((0, 3))), axis=0), ValueError),
        ("argmin (empty, flat)", lambda: b.argmin(b.from_numpy(np.zeros(0))), ValueError),
        ("max_with_indices (empty last axis)", lambda: b.max_with_indices(b.from_numpy(np.zeros((3, 0))), 1, True),
         ValueError),
        ("max_with_indices (empty middle axis)",
         lambda: b.max_with_indices(b.from_numpy(np.zeros((3, 0, 2))), 1, False), ValueError),
        ("getitem (basic)", lambda: b.getitem(x, (5,)), IndexError),
        ("getitem (advanced)", lambda: b.getitem(x, (b.from_numpy(np.array([5])),)), IndexError),
    ]


@pytest.mark.parametrize("get_backend", BACKENDS)
def test_contract_errors(get_backend):
    """Each error the interface names, raised as the contract says, on each backend (the same list)."""
    backend = get_backend()
    for entry, call, error in _errors(backend):
        with pytest.raises(error):
            call()
    assert issubclass(ViewError, ValueError)


@pytest.mark.parametrize("get_backend", BACKENDS)
def test_contract_layout_promises(get_backend):
    """The promises about identity and layout that callers rely on, alike on both backends."""
    b = get_backend()
    x = b.from_numpy(np.arange(6.0).reshape(2, 3))
    t = b.transpose(x)
    assert b.contiguous(x) is x and b.astype(x, np.dtype(np.float64)) is x
    assert not b.is_contiguous(t) and b.is_contiguous(b.contiguous(t)) and b.is_contiguous(b.copy(t, order="C"))
    assert b.shares_memory(t, x) and not b.shares_memory(b.copy(x), x) and not b.shares_memory(b.contiguous(t), x)
    assert b.shares_memory(b.view(x, (3, 2)), x) and b.shares_memory(b.getitem(x, (0, slice(1, 3))), x)
    empty = b.empty((2, 0, 3), np.dtype(np.float32))
    assert tuple(empty.shape) == (2, 0, 3) and empty.dtype == np.float32 and b.is_contiguous(empty)
    assert b.zeros((2,)).dtype == np.float64
    np.testing.assert_array_equal(b.to_numpy(b.reshape(t, (6,))), np.arange(6.0).reshape(2, 3).T.reshape(6))


@pytest.mark.parametrize("get_backend", BACKENDS)
def test_contract_float_overflow_gives_inf_without_a_warning(get_backend):
    """inf, and no warning (on CUDA only the value: the simulator runs kernels on numpy scalars, which warn)."""
    b = get_backend()
    x = b.from_numpy(np.full((2, 3, 2), 3e38, np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error" if b.name == "cpu" else "ignore")
        for out in (b.sum(x), b.sum(x, (0, 2)), b.prod(x, 1), b.multiply(x, x), b.add(x, x), b.exp(x)):
            assert np.isposinf(b.to_numpy(out)).all()


@pytest.mark.parametrize("get_backend", BACKENDS)
def test_contract_argsort(get_backend):
    """Stable in both directions, nan as the largest value, any axis of any strides, int64."""
    b = get_backend()
    values = np.array([[2.0, np.nan, 1.0, 2.0], [np.nan, 0.5, np.nan, 0.5]])
    for x, axis in ((b.from_numpy(values), 1), (_strided(b, values), 1), (b.from_numpy(values.T.copy()), 0)):
        ascending, descending = b.to_numpy(b.argsort(x, axis, False)), b.to_numpy(b.argsort(x, axis, True))
        assert ascending.dtype == np.int64
        np.testing.assert_array_equal(ascending if axis else ascending.T, [[2, 0, 3, 1], [1, 3, 0, 2]])
        np.testing.assert_array_equal(descending if axis else descending.T, [[1, 0, 3, 2], [0, 2, 1, 3]])


@pytest.mark.parametrize("get_backend", BACKENDS)
def test_non_viewable_view_raises_pytorchs_runtime_error(get_backend):
    """A .view() the strides don't allow is PyTorch's RuntimeError on every device (on CUDA it once
    escaped as the backend's bare ValueError); .reshape() copies instead."""
    backend = get_backend()
    t = minigrad.from_numpy(np.arange(6.0).reshape(2, 3))
    if backend.name == "cuda":
        t = t.cuda()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        t.t().view(6)
    np.testing.assert_array_equal(t.t().reshape(6).cpu().numpy(), np.arange(6.0).reshape(2, 3).T.reshape(6))
    assert t.view(3, 2).shape == (3, 2)


@pytest.mark.parametrize("stride, groups, c_in, c_out, direct",
                         [(1, 1, 1, 4, True), (1, 2, 2, 6, True), (1, 1, 4, 4, False), (2, 2, 4, 6, False)])
def test_cpu_convolution_kernels_equal_the_shared_gemm_path(stride, groups, c_in, c_out, direct):
    """The CPU backend's convolutions (the direct stride-1 kernels for one input channel per group, the
    tiled im2col + GEMM otherwise) give SharedBackend's values (one im2col, one batched GEMM)."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, c_in, 1, 7, 6)), rng.standard_normal((c_out, c_in // groups, 1, 3, 2))
    out_size = (1, (7 + 2 - 3) // stride + 1, (6 + 2 - 2) // stride + 1)
    g = ConvGeometry((1, 3, 2), (1, stride, stride), (0, 1, 1), (1, 1, 1), groups, (1, 7, 6), out_size)
    y = rng.standard_normal((2, c_out) + out_size)
    assert _direct(g, c_in, c_out) == direct  # the case exercises the path it names
    for name, args in (("conv", (x, w, g)), ("conv_transpose", (y, w, g)), ("conv_weight", (x, y, g))):
        cpu = getattr(CPU_BACKEND, name)(*args)
        shared = getattr(SharedBackend, name)(CPU_BACKEND, *args)
        np.testing.assert_allclose(cpu, shared, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("in_size, stride, dilation, live", [((1, 1), 1, 1, (1, 1)), ((2, 2), 2, 1, (2, 2)),
                                                             ((1, 3), 1, 1, (1, 3)), ((3, 5), 1, 2, (1, 3)),
                                                             ((3, 3), 2, 1, (3, 3))])
def test_cpu_convolution_skips_taps_that_read_only_padding(in_size, stride, dilation, live):
    """On small maps some taps only ever read padding (8 of 9 on a 1x1 map): the CPU backend leaves them
    out of its GEMMs (their weight gradient is zero) and must still give SharedBackend's values."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((3, 4, 1) + in_size), rng.standard_normal((5, 4, 1, 3, 3))
    out_size = (1,) + tuple((n + 2 - dilation * 2 - 1) // stride + 1 for n in in_size)
    g = ConvGeometry((1, 3, 3), (1, stride, stride), (0, 1, 1), (1, dilation, dilation), 1, (1,) + in_size,
                     out_size)
    y = rng.standard_normal((3, 5) + out_size)
    assert _live_taps(g)[1].kernel == (1,) + live  # the kernel the GEMMs see
    for name, args in (("conv", (x, w, g)), ("conv_transpose", (y, w, g)), ("conv_weight", (x, y, g))):
        np.testing.assert_allclose(getattr(CPU_BACKEND, name)(*args), getattr(SharedBackend, name)(CPU_BACKEND, *args),
                                   rtol=1e-12, atol=1e-12, err_msg=name)
