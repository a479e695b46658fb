"""The storage dtypes (float16, float32, float64, uint8, int8, int16, int32, int64, bool) against PyTorch:
promotion, casting, arithmetic, reductions, comparisons, indexing, gradients, serialization and data."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad
import minigrad.nn.functional as F
from minigrad.data import DataLoader, TensorDataset

NAMES = ["float16", "float32", "float64", "uint8", "int8", "int16", "int32", "int64", "bool"]
INTEGERS = ["uint8", "int8", "int16", "int32", "int64"]


def _torch():
    return pytest.importorskip("torch")


def _pair(name):
    return getattr(minigrad, name), getattr(_torch(), name)


def _same_dtype(ours, theirs):
    assert ours.name == str(theirs).split(".")[1], (ours, theirs)


def _close(ours, theirs, rtol=1e-6):
    _same_dtype(ours.dtype, theirs.dtype)
    expected = theirs.detach().numpy()
    got = ours.detach().numpy()
    assert got.shape == expected.shape
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(got.astype(np.float64), expected.astype(np.float64), rtol=rtol, atol=rtol)
    else:
        np.testing.assert_array_equal(got, expected)


def _both(op, ours, theirs, rtol=1e-6):
    """op on minigrad's and torch's operands: the same results, or both raise (argmax of bool, ...)."""
    try:
        expected = op(*theirs)
    except (RuntimeError, NotImplementedError, TypeError):
        with pytest.raises((RuntimeError, NotImplementedError, TypeError)):
            op(*ours)
        return
    _close(op(*ours), expected, rtol)


# --- promotion ------------------------------------------------------------------------------------

@pytest.mark.torch
def test_promote_types_and_can_cast_match_torch_for_every_pair():
    torch = _torch()
    for a in NAMES:
        for b in NAMES:
            _same_dtype(minigrad.promote_types(getattr(minigrad, a), getattr(minigrad, b)),
                        torch.promote_types(getattr(torch, a), getattr(torch, b)))
            assert minigrad.can_cast(getattr(minigrad, a), getattr(minigrad, b)) == \
                torch.can_cast(getattr(torch, a), getattr(torch, b)), (a, b)


KINDS = ["tensor", "0-d tensor", "int", "float", "bool"]


@st.composite
def operands(draw):
    """Two operands, at least one a tensor: (kind, dtype name, value) each; values small and nonzero."""
    first = draw(st.sampled_from(KINDS[:2]))
    second = draw(st.sampled_from(KINDS))
    picked = []
    for kind in (first, second):
        name = draw(st.sampled_from(NAMES)) if "tensor" in kind else None
        value = draw(st.integers(1, 3)) if kind != "float" else draw(st.sampled_from([0.5, 1.5, 2.25]))
        picked.append((kind, name, True if kind == "bool" or name == "bool" else value))
    return picked if draw(st.booleans()) else picked[::-1]


def _make(lib, kind, name, value):
    if kind == "tensor":
        return lib.tensor([value, value], dtype=getattr(lib, name))
    if kind == "0-d tensor":
        return lib.tensor(value, dtype=getattr(lib, name))
    return {"int": int, "float": float, "bool": bool}[kind](value)


@pytest.mark.torch
@given(operands(), st.sampled_from(["add", "mul", "truediv", "sub", "lt", "eq"]))
def test_result_type_and_binary_ops_match_torch(pair, op_name):
    torch = _torch()
    import operator
    op = getattr(operator, op_name)
    ours = [_make(minigrad, *p) for p in pair]
    theirs = [_make(torch, *p) for p in pair]
    _same_dtype(minigrad.result_type(*ours), torch.result_type(*theirs))
    _both(op, ours, theirs, rtol=1e-3)  # bool - bool raises


@pytest.mark.torch
def test_default_dtype_float16_and_float64_steer_python_floats_as_in_torch():
    torch = _torch()
    for name in ("float16", "float64"):
        minigrad.set_default_dtype(getattr(minigrad, name))
        torch.set_default_dtype(getattr(torch, name))
        try:
            for dtype in INTEGERS:
                _close(minigrad.ones(2, dtype=getattr(minigrad, dtype)) * 2.5,
                       torch.ones(2, dtype=getattr(torch, dtype)) * 2.5)
            _same_dtype(minigrad.tensor(1.5).dtype, torch.tensor(1.5).dtype)
            _same_dtype(minigrad.randn(2).dtype, torch.randn(2).dtype)
        finally:
            minigrad.set_default_dtype(minigrad.float32)
            torch.set_default_dtype(torch.float32)


# --- casting --------------------------------------------------------------------------------------

@pytest.mark.torch
@given(st.lists(st.floats(-1000, 1000, allow_nan=False, width=32), min_size=1, max_size=8),
       st.sampled_from(NAMES))
def test_casts_from_float_truncate_and_wrap_as_torch(values, name):
    torch = _torch()
    ours, theirs = _pair(name)
    _close(minigrad.tensor(values).to(ours), torch.tensor(values).to(theirs))


@pytest.mark.torch
@given(st.lists(st.integers(-65000, 65000), min_size=1, max_size=8), st.sampled_from(NAMES),  # float16 finite
       st.sampled_from(NAMES))
def test_casts_between_all_dtypes_match_torch(values, source, target):
    torch = _torch()
    (ours_source, theirs_source), (ours_target, theirs_target) = _pair(source), _pair(target)
    a, x = minigrad.tensor(values).to(ours_source), torch.tensor(values).to(theirs_source)
    _close(a, x)
    _close(a.to(ours_target), x.to(theirs_target))


def test_methods_give_torchs_dtypes_and_type_names():
    x = minigrad.tensor([1.7, -2.2])
    for method, name, type_name in [("byte", "uint8", "ByteTensor"), ("char", "int8", "CharTensor"),
                                    ("short", "int16", "ShortTensor"), ("int", "int32", "IntTensor"),
                                    ("long", "int64", "LongTensor"), ("half", "float16", "HalfTensor"),
                                    ("float", "float32", "FloatTensor"), ("double", "float64", "DoubleTensor"),
                                    ("bool", "bool", "BoolTensor")]:
        converted = getattr(x, method)()
        assert converted.dtype is getattr(minigrad, name)
        assert converted.type() == "minigrad." + type_name
        assert x.to(dtype=name).dtype is converted.dtype and x.to(np.dtype(name)).dtype is converted.dtype
    assert x.int().tolist() == [1, -2]
    assert minigrad.int is minigrad.int32 and minigrad.half is minigrad.float16 and minigrad.short is minigrad.int16
    assert repr(minigrad.tensor([1, 2], dtype=minigrad.int32)) == "tensor([1, 2], dtype=minigrad.int32)"
    assert x.int().element_size() == 4 and x.half().element_size() == 2 and x.byte().element_size() == 1


def test_wrong_dtype_arguments_name_the_argument_and_the_choices():
    with pytest.raises(TypeError, match=r"dtype: expected a minigrad dtype \(float16, .*int32.*\), got 'int3'"):
        minigrad.ones(2, dtype="int3")
    with pytest.raises(TypeError, match="from_numpy.*array: numpy dtype uint64 is not supported.*uint8"):
        minigrad.from_numpy(np.ones(2, np.uint64))
    with pytest.raises(TypeError, match="can_cast.*argument 'to' must be minigrad.dtype, not str"):
        minigrad.can_cast(minigrad.int8, "int16")
    with pytest.raises(TypeError, match="set_default_dtype.*float16, float32, float64.*int32"):
        minigrad.set_default_dtype(minigrad.int32)


# --- arithmetic and reductions --------------------------------------------------------------------

@pytest.mark.torch
@given(st.lists(st.integers(0, 255), min_size=1, max_size=8), st.sampled_from(INTEGERS),
       st.integers(-300, 300))
def test_integer_arithmetic_wraps_as_torch(values, name, scalar):
    torch = _torch()
    ours, theirs = _pair(name)
    a, b = minigrad.tensor(values).to(ours), torch.tensor(values).to(theirs)
    for op in (lambda x: x + x, lambda x: x * 3, lambda x: x + scalar, lambda x: x - 7, lambda x: x * scalar,
               lambda x: x // 3, lambda x: x % 5, lambda x: x / 4, lambda x: x & 6, lambda x: -x,
               lambda x: x.abs(), lambda x: x.clamp(2, 100), lambda x: x ** 2):
        _close(op(a), op(b))


@pytest.mark.torch
@given(st.sampled_from(NAMES), st.integers(1, 3), st.integers(1, 4))
def test_reductions_give_torchs_dtypes(name, rows, cols):
    torch = _torch()
    ours, theirs = _pair(name)
    values = np.arange(rows * cols).reshape(rows, cols) % 5
    a, b = minigrad.tensor(values).to(ours), torch.tensor(values).to(theirs)
    for op in (lambda x: x.sum(), lambda x: x.sum(1), lambda x: x.prod(0), lambda x: x.cumsum(1),
               lambda x: x.max(), lambda x: x.min(1).values, lambda x: x.max(0).indices, lambda x: x.argmax(),
               lambda x: x.argmin(1), lambda x: x.amax(0)):
        _both(op, (a,), (b,), rtol=1e-3)
    if ours.is_floating_point:
        _close(a.mean(1), b.mean(1), rtol=1e-3)
    else:
        with pytest.raises(RuntimeError):
            b.mean()
        with pytest.raises(RuntimeError, match="mean"):
            a.mean()


@pytest.mark.torch
@given(st.sampled_from(NAMES), st.sampled_from(NAMES), st.lists(st.integers(-3, 3), min_size=1, max_size=6))
def test_comparisons_across_dtypes_match_torch(left, right, values):
    torch = _torch()
    (ours_left, theirs_left), (ours_right, theirs_right) = _pair(left), _pair(right)
    x, y = torch.tensor(values).to(theirs_left), torch.tensor(values[::-1]).to(theirs_right)
    a, b = minigrad.tensor(values).to(ours_left), minigrad.tensor(values[::-1]).to(ours_right)
    for op in (lambda p, q: p < q, lambda p, q: p == q, lambda p, q: p >= 1, lambda p, q: p != q):
        _close(op(a, b), op(x, y))


@pytest.mark.torch
@given(st.sampled_from(NAMES), st.sampled_from(["int32", "int64"]))
def test_indexing_with_int32_and_int64_index_tensors(name, index_name):
    torch = _torch()
    ours, theirs = _pair(name)
    values = np.arange(12).reshape(4, 3) % 7
    a, b = minigrad.tensor(values).to(ours), torch.tensor(values).to(theirs)
    ours_index = minigrad.tensor([2, 0, 2], dtype=getattr(minigrad, index_name))
    theirs_index = torch.tensor([2, 0, 2], dtype=getattr(torch, index_name))
    _close(a[ours_index], b[theirs_index])
    _close(a[:, ours_index[:2]], b[:, theirs_index[:2]])
    _close(a.index_select(0, ours_index), b.index_select(0, theirs_index))
    a[ours_index[:2]] = 1
    b[theirs_index[:2]] = 1
    _close(a, b)
    along_ours, along_theirs = ours_index.reshape(1, 3).expand(2, 3), theirs_index.reshape(1, 3).expand(2, 3)
    _close(a.gather(0, along_ours), b.gather(0, along_theirs))
    if name not in ("bool",):
        ones_ours, ones_theirs = minigrad.ones(2, 3).to(ours), torch.ones(2, 3).to(theirs)
        _close(a.scatter_add(0, along_ours, ones_ours), b.scatter_add(0, along_theirs, ones_theirs))
    if ours.is_floating_point:
        _close(minigrad.nn.functional.embedding(ours_index, a), torch.nn.functional.embedding(theirs_index, b))


# --- float16: computed in float32 where the kernels need it, stored and returned as float16 ----------

@pytest.mark.torch
def test_float16_gradients_are_float16_and_close_to_torchs():
    torch = _torch()
    values = np.linspace(-2, 2, 12).reshape(3, 4).astype(np.float16)
    a = minigrad.tensor(values, requires_grad=True)
    b = torch.tensor(values, requires_grad=True)
    for f in (lambda x: (x * x).sum(), lambda x: x.sigmoid().sum(), lambda x: x.softmax(1).max(),
              lambda x: (x.exp() / 3 + x.tanh() * x.relu()).mean(), lambda x: x.logsumexp(1).sum()):
        f(a).backward()
        f(b).backward()
        _close(a.grad, b.grad, rtol=2e-3)
        a.grad, b.grad = None, None


@pytest.mark.torch
def test_float16_conv_and_linear_forward_and_backward_match_torch():
    torch = _torch()
    rng = np.random.default_rng(0)
    arrays = {"x": rng.standard_normal((2, 3, 8, 8)), "w": rng.standard_normal((4, 3, 3, 3)) / 3,
              "bias": rng.standard_normal(4), "lw": rng.standard_normal((5, 64)) / 8, "lb": rng.standard_normal(5)}
    results = []
    for lib, functional in ((minigrad, F), (torch, torch.nn.functional)):
        t = {k: lib.tensor(v.astype(np.float16), requires_grad=True) for k, v in arrays.items()}
        y = functional.conv2d(t["x"], t["w"], t["bias"], padding=1, stride=2)
        y = functional.max_pool2d(functional.relu(y), 1)
        out = functional.linear(y.reshape(2, -1), t["lw"], t["lb"])
        out.float().square().sum().backward()
        results.append([out] + [t[k].grad for k in arrays])
    for ours, theirs in zip(*results):
        assert ours.dtype is minigrad.float16
        _close(ours, theirs, rtol=2e-2)


def test_only_floating_tensors_require_grad():
    for name in INTEGERS + ["bool"]:
        dtype = getattr(minigrad, name)
        for make in (lambda: minigrad.ones(2, dtype=dtype).requires_grad_(),
                     lambda: minigrad.tensor([1, 2], dtype=dtype, requires_grad=True),
                     lambda: minigrad.zeros(2, dtype=dtype, requires_grad=True)):
            with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require gradients"):
                make()
    assert minigrad.ones(2, dtype=minigrad.float16, requires_grad=True).requires_grad


def test_float16_optimizer_steps_and_module_half():
    model = minigrad.nn.Linear(4, 2).half()
    assert all(p.dtype is minigrad.float16 for p in model.parameters())
    optimizer = minigrad.optim.Adam(model.parameters(), lr=0.1)
    loss = model(minigrad.randn(3, 4, dtype=minigrad.float16)).float().square().sum()
    loss.backward()
    before = model.weight.detach().clone()
    optimizer.step()
    assert model.weight.dtype is minigrad.float16 and not bool((model.weight == before).all())


# --- creation, numpy, serialization and data --------------------------------------------------------

@pytest.mark.torch
def test_factories_and_numpy_data_keep_dtypes_as_torch():
    torch = _torch()
    for name in NAMES:
        ours, theirs = _pair(name)
        for factory in (lambda lib, d: lib.zeros(2, 3, dtype=d), lambda lib, d: lib.ones(2, dtype=d),
                        lambda lib, d: lib.full((2,), 1, dtype=d), lambda lib, d: lib.arange(4, dtype=d),
                        lambda lib, d: lib.eye(2, dtype=d), lambda lib, d: lib.tensor([[1, 0]], dtype=d),
                        lambda lib, d: lib.zeros_like(lib.ones(2, dtype=d)),
                        lambda lib, d: lib.ones(2, dtype=d).new_zeros(3)):
            _both(factory, (minigrad, ours), (torch, theirs))
        array = np.ones((2, 2), dtype=name if name != "bool" else np.bool_)
        _close(minigrad.tensor(array), torch.tensor(array))
        _close(minigrad.as_tensor(array), torch.as_tensor(array))
        _close(minigrad.from_numpy(array), torch.from_numpy(array))
    for name in ("float16", "float32", "float64"):
        ours, theirs = _pair(name)
        _same_dtype(minigrad.rand(2, dtype=ours).dtype, torch.rand(2, dtype=theirs).dtype)
        _same_dtype(minigrad.randn(2, dtype=ours).dtype, torch.randn(2, dtype=theirs).dtype)
    for name in INTEGERS:
        assert minigrad.randint(0, 5, (3,), dtype=getattr(minigrad, name)).dtype is getattr(minigrad, name)


def test_from_numpy_shares_memory_for_every_dtype():
    for name in NAMES:
        array = np.zeros(3, dtype=np.bool_ if name == "bool" else name)
        t = minigrad.from_numpy(array)
        assert t.dtype.name == name and np.shares_memory(t.numpy(), array)
        array[1] = 1
        assert t.tolist()[1] == 1
        t[2] = 1
        assert array[2] == 1


def test_save_and_load_round_trip_every_dtype(tmp_path):
    tensors = {name: minigrad.tensor([[0, 1], [1, 3]]).to(getattr(minigrad, name)) for name in NAMES}
    minigrad.save(tensors, tmp_path / "flat.safetensors")
    minigrad.save({"nested": [tensors["uint8"], {"half": tensors["float16"]}]}, tmp_path / "nested.safetensors")
    loaded = minigrad.load(tmp_path / "flat.safetensors")
    for name, t in tensors.items():
        assert loaded[name].dtype is t.dtype and loaded[name].tolist() == t.tolist()
    nested = minigrad.load(tmp_path / "nested.safetensors")["nested"]
    assert nested[0].dtype is minigrad.uint8 and nested[1]["half"].dtype is minigrad.float16


@pytest.mark.torch
def test_saved_dtypes_load_into_torch_and_state_dicts_keep_them(tmp_path):
    torch = _torch()
    safetensors_torch = pytest.importorskip("safetensors.torch")
    model = minigrad.nn.BatchNorm2d(3).half()
    model.register_buffer("lookup", minigrad.tensor([1, 2], dtype=minigrad.int32))
    state = model.state_dict()
    assert state["weight"].dtype is minigrad.float16 and state["lookup"].dtype is minigrad.int32
    assert state["num_batches_tracked"].dtype is minigrad.int64  # integer buffers keep their dtype in half()
    minigrad.save(state, tmp_path / "bn.safetensors")
    theirs = safetensors_torch.load_file(str(tmp_path / "bn.safetensors"))
    assert theirs["weight"].dtype is torch.float16 and theirs["lookup"].dtype is torch.int32
    restored = minigrad.nn.BatchNorm2d(3).half()
    restored.register_buffer("lookup", minigrad.zeros(2, dtype=minigrad.int32))
    restored.load_state_dict(minigrad.load(tmp_path / "bn.safetensors"))
    assert restored.lookup.dtype is minigrad.int32 and restored.lookup.tolist() == [1, 2]


def test_uint8_images_load_and_scale_to_float():
    images = (np.arange(4 * 2 * 2) * 17 % 256).astype(np.uint8).reshape(4, 1, 2, 2)
    dataset = TensorDataset(minigrad.from_numpy(images), minigrad.arange(4))
    batches = list(DataLoader(dataset, batch_size=2))
    assert batches[0][0].dtype is minigrad.uint8
    scaled = batches[1][0].float() / 255
    assert scaled.dtype is minigrad.float32
    np.testing.assert_allclose(scaled.numpy(), images[2:] / np.float32(255), rtol=1e-6)
    numpy_batches = list(DataLoader(list(images), batch_size=4))
    assert numpy_batches[0].dtype is minigrad.uint8 and (numpy_batches[0].numpy() == images).all()


@pytest.mark.torch
def test_scalar_writes_reduction_dtypes_and_bool_operands_follow_torch():
    torch = _torch()
    cases = [lambda lib: (lambda x: (x.__setitem__(0, 300), x)[1])(lib.zeros(2, dtype=lib.uint8)),  # overflow
             lambda lib: (lambda x: (x.__setitem__(0, -1), x)[1])(lib.zeros(2, dtype=lib.uint8)),  # wraps
             lambda lib: (lambda x: (x.__setitem__(0, -129), x)[1])(lib.zeros(2, dtype=lib.int8)),
             lambda lib: lib.zeros(2, dtype=lib.int16).fill_(40000),
             lambda lib: lib.zeros(2, dtype=lib.uint8).masked_fill(lib.tensor([True, False]), 256),
             lambda lib: lib.zeros(2, dtype=lib.int8).add_(200),
             lambda lib: lib.tensor([200, 100], dtype=lib.uint8).sum(dtype=lib.int32),
             lambda lib: lib.tensor([2 ** 30, 2 ** 30], dtype=lib.int32).sum(dtype=lib.int32),
             lambda lib: lib.tensor([20, 20], dtype=lib.uint8).prod(dtype=lib.int16),
             lambda lib: lib.tensor([1.0, 2.0]) - True,
             lambda lib: True - lib.tensor([1, 2], dtype=lib.int8),
             lambda lib: lib.tensor([True, False]).argmax(),
             lambda lib: lib.nn.functional.nll_loss(lib.zeros(2, 3), lib.tensor([0, 1], dtype=lib.int32)),
             lambda lib: lib.nn.functional.nll_loss(lib.zeros(2, 3), lib.tensor([0, 2], dtype=lib.uint8))]
    for case in cases:
        _both(case, (minigrad,), (torch,))


@pytest.mark.torch
def test_python_types_as_dtypes_match_torch():
    """dtype=float is float64 (a Python float is a double), int is int64 and bool is bool, as in PyTorch."""
    torch = _torch()
    for python_type in (float, int, bool):
        ours, theirs = minigrad.zeros(2, dtype=python_type), torch.zeros(2, dtype=python_type)
        assert ours.dtype.name == str(theirs.dtype).split(".")[1]
        assert minigrad.ones(2).to(python_type).dtype.name == str(torch.ones(2).to(python_type).dtype).split(".")[1]
