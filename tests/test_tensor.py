"""The Tensor API: creation, dtypes, attributes, conversions, operators, indexing, shape ops and errors."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad
from checks import broadcastable_pair


def test_creation_dtypes_follow_pytorch():
    assert minigrad.tensor(1.5).dtype is minigrad.float32
    assert minigrad.tensor(3).dtype is minigrad.int64
    assert minigrad.tensor([True, False]).dtype is minigrad.bool
    assert minigrad.tensor([[1, 2], [3, 4.5]]).dtype is minigrad.float32
    assert minigrad.tensor(np.zeros(2)).dtype is minigrad.float64
    assert minigrad.tensor(np.zeros(2, dtype=np.int32)).dtype is minigrad.int32
    assert minigrad.tensor([1, 2], dtype=minigrad.float64).dtype is minigrad.float64
    assert minigrad.Tensor([1, 2]).dtype is minigrad.float32
    assert minigrad.tensor([]).shape == (0,)


def test_tensor_copies_and_from_numpy_shares():
    a = np.arange(3.0)
    t, s = minigrad.tensor(a), minigrad.from_numpy(a)
    a[0] = 7
    assert t[0].item() == 0 and s[0].item() == 7
    with pytest.raises(TypeError, match="from_numpy: expected np.ndarray"):
        minigrad.from_numpy([1, 2])


def test_factories():
    assert minigrad.zeros(2, 3).shape == minigrad.Size([2, 3])
    assert minigrad.ones((2,), dtype=minigrad.int64).tolist() == [1, 1]
    assert minigrad.full((2,), 7).dtype is minigrad.int64
    assert minigrad.full((2,), 0.5).tolist() == [0.5, 0.5]
    assert minigrad.empty(0, 2).numel() == 0
    assert minigrad.zeros_like(minigrad.ones(2, dtype=minigrad.float64)).dtype is minigrad.float64
    assert minigrad.ones_like(minigrad.ones(2, 2)).sum().item() == 4
    assert minigrad.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert minigrad.arange(1, 2, 0.5).tolist() == [1.0, 1.5]
    assert minigrad.arange(1, 2, 0.5).dtype is minigrad.float32
    assert minigrad.linspace(0, 1, 3).tolist() == [0.0, 0.5, 1.0]
    assert minigrad.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(RuntimeError, match="negative dimension"):
        minigrad.zeros(-1)
    with pytest.raises(TypeError, match="size: expected a sequence of ints"):
        minigrad.zeros(2.5)


def test_random_draws_are_reproducible():
    minigrad.manual_seed(0)
    a = (minigrad.rand(3), minigrad.randn(2, 2), minigrad.randint(0, 10, (4,)), minigrad.normal(0, 1, (2,)))
    minigrad.manual_seed(0)
    b = (minigrad.rand(3), minigrad.randn(2, 2), minigrad.randint(0, 10, (4,)), minigrad.normal(0, 1, (2,)))
    for x, y in zip(a, b):
        assert x.tolist() == y.tolist()
    assert a[2].dtype is minigrad.int64 and a[0].dtype is minigrad.float32
    g = minigrad.Generator().manual_seed(5)
    assert minigrad.rand(2, generator=g).tolist() == minigrad.rand(2, generator=minigrad.Generator().manual_seed(5)).tolist()
    r = minigrad.rand(10000)
    assert 0 <= r.min().item() and r.max().item() < 1
    assert abs(minigrad.randn(10000).std().item() - 1) < 0.05
    n = minigrad.normal(minigrad.zeros(3), minigrad.ones(3))
    assert n.shape == (3,)


def test_attributes_and_conversions():
    t = minigrad.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert isinstance(t.shape, minigrad.Size) and t.shape == (2, 3) and repr(t.shape) == "minigrad.Size([2, 3])"
    assert t.ndim == t.dim() == 2 and t.numel() == 6 and t.size() == (2, 3) and t.size(1) == 3 and t.size(-1) == 3
    assert str(t.device) == "cpu" and t.device == minigrad.device("cpu")
    assert t.T.shape == (3, 2) and t.t().shape == (3, 2)
    assert t.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert t.numpy().shape == (2, 3) and np.asarray(t).dtype == np.float32
    assert len(t) == 2 and [row.tolist() for row in t] == [[1, 2, 3], [4, 5, 6]]
    s = minigrad.tensor(2.5)
    assert s.item() == 2.5 and float(s) == 2.5 and int(s) == 2 and bool(s) and f"{s:.2f}" == "2.50"
    assert [0, 1, 2][minigrad.tensor(1)] == 1
    with pytest.raises(RuntimeError, match="a Tensor with 6 elements cannot be converted to Scalar"):
        t.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(t)
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(s)
    with pytest.raises(RuntimeError, match="Use tensor.detach\\(\\).numpy\\(\\)"):
        minigrad.ones(2, requires_grad=True).numpy()


def test_repr():
    assert repr(minigrad.tensor([1.0, 2.5])) == "tensor([1.0000, 2.5000])"
    assert repr(minigrad.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(minigrad.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(minigrad.tensor(1.0, dtype=minigrad.float64)) == "tensor(1., dtype=minigrad.float64)"
    assert repr(minigrad.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert "grad_fn=<MulBackward>" in repr(minigrad.tensor([1.0], requires_grad=True) * 2)


def test_dtype_conversions():
    t = minigrad.tensor([1.7, -2.2])
    assert t.double().dtype is minigrad.float64
    assert t.long().tolist() == [1, -2]
    assert t.to(minigrad.int64).dtype is minigrad.long
    assert t.type(minigrad.float64).dtype is minigrad.double
    assert t.type() == "minigrad.FloatTensor"
    assert t.bool().tolist() == [True, True]
    assert minigrad.tensor([1, 2]).float().dtype is minigrad.float
    with pytest.raises(TypeError, match="dtype: expected a minigrad dtype"):
        t.to(np.complex128)


@given(broadcastable_pair(), st.integers(0, 1000))
def test_operators_broadcast_like_numpy(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(1, 2, shapes[0]), rng.uniform(1, 2, shapes[1])
    ta, tb = minigrad.tensor(a), minigrad.tensor(b)
    for ours, theirs in [(ta + tb, a + b), (ta - tb, a - b), (ta * tb, a * b), (ta / tb, a / b),
                         (ta ** tb, a ** b), (ta // tb, a // b), (ta % tb, a % b), (2 - ta, 2 - a),
                         (3 / ta, 3 / a), (2 ** ta, 2 ** a), (-ta, -a), (abs(ta - 1.5), abs(a - 1.5))]:
        np.testing.assert_allclose(ours.numpy(), theirs)
    for ours, theirs in [(ta == tb, a == b), (ta < tb, a < b), (ta >= 1.5, a >= 1.5), (ta != tb, a != b)]:
        assert ours.dtype is minigrad.bool
        np.testing.assert_array_equal(ours.numpy(), theirs)


def test_type_promotion_follows_pytorch():
    i, f, d = minigrad.tensor([1, 2]), minigrad.tensor([1.0]), minigrad.tensor([1.0], dtype=minigrad.float64)
    assert (i + 1).dtype is minigrad.int64
    assert (i + 1.5).dtype is minigrad.float32
    assert (i / 2).dtype is minigrad.float32
    assert (i + f).dtype is minigrad.float32
    assert (f + d).dtype is minigrad.float64
    assert (f + minigrad.tensor(1.0, dtype=minigrad.float64)).dtype is minigrad.float32  # 0-d loses
    assert (i + minigrad.tensor(1.0, dtype=minigrad.float64)).dtype is minigrad.float64  # higher category wins
    assert (minigrad.tensor([True]) + 1).dtype is minigrad.int64
    assert (i ** 2).dtype is minigrad.int64 and (i ** 0.5).dtype is minigrad.float32


def test_in_place_operators_bump_version_and_keep_dtype():
    t = minigrad.tensor([1.0, 2.0])
    v = t.view(2)
    t += 1
    t *= 2
    t -= minigrad.tensor([1.0, 1.0])
    t /= 2
    np.testing.assert_allclose(v.numpy(), [1.5, 2.5])
    assert t._version.value == 4 and v._version is t._version
    ints = minigrad.tensor([1, 2])
    with pytest.raises(RuntimeError, match="result type .* can't be cast"):
        ints *= 1.5
    with pytest.raises(RuntimeError, match="result type .* can't be cast"):
        ints /= 2


def test_elementwise_and_reductions_values():
    x = minigrad.tensor([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]])
    a = x.numpy()
    np.testing.assert_allclose(x.clamp(-1, 2).numpy(), np.clip(a, -1, 2))
    np.testing.assert_allclose(x.clamp(min=0).numpy(), np.clip(a, 0, None))
    np.testing.assert_allclose(x.relu().numpy(), np.maximum(a, 0))
    np.testing.assert_allclose(minigrad.where(x > 0, x, minigrad.zeros(1)).numpy(), np.where(a > 0, a, 0))
    np.testing.assert_allclose(x.maximum(minigrad.tensor(0.0)).numpy(), np.maximum(a, 0))
    np.testing.assert_allclose(x.sum((0, 1)).numpy(), a.sum())
    np.testing.assert_allclose(x.mean(1, keepdim=True).numpy(), a.mean(1, keepdims=True))
    np.testing.assert_allclose(x.var(1, correction=0).numpy(), a.var(1), rtol=1e-6)
    np.testing.assert_allclose(x.std().numpy(), a.std(ddof=1), rtol=1e-6)
    np.testing.assert_allclose(x.prod(0).numpy(), a.prod(0))
    np.testing.assert_allclose(x.logsumexp(1).numpy(), np.log(np.exp(a).sum(1)), rtol=1e-6)
    np.testing.assert_allclose(x.softmax(1).sum(1).numpy(), [1, 1], rtol=1e-6)
    values, indices = x.max(dim=1)
    assert values.tolist() == [3.0, 4.0] and indices.tolist() == [2, 1]
    assert x.min(0).indices.tolist() == [1, 0, 1]
    assert x.argmax().item() == 4 and x.argmax(1).tolist() == [2, 1] and x.argmin(axis=0).tolist() == [1, 0, 1]
    assert x.argmax(1, keepdim=True).shape == (2, 1)
    assert minigrad.tensor([1, 2, 3]).sum().dtype is minigrad.int64
    assert minigrad.tensor([True, True]).sum().item() == 2
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype"):
        minigrad.tensor([1, 2]).mean()
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.sum(2)
    inf = minigrad.tensor([-math.inf, -math.inf])
    assert inf.logsumexp(0).item() == -math.inf


def test_shape_ops_and_views():
    x = minigrad.arange(24).reshape(2, 3, 4)
    assert x.reshape(-1, 4).shape == (6, 4) and x.view(6, -1).shape == (6, 4)
    assert x.permute(2, 0, 1).shape == (4, 2, 3) and x.transpose(0, 2).shape == (4, 3, 2)
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12)
    assert x.unsqueeze(0).shape == (1, 2, 3, 4) and x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert minigrad.zeros(1, 3, 1).squeeze().shape == (3,) and minigrad.zeros(1, 3, 1).squeeze(0).shape == (3, 1)
    assert minigrad.zeros(3, 1).expand(3, 4).shape == (3, 4) and minigrad.zeros(3, 1).expand(2, -1, 5).shape == (2, 3, 5)
    assert [p.shape[0] for p in minigrad.arange(10).split(4)] == [4, 4, 2]
    assert [p.shape[0] for p in minigrad.arange(10).split([3, 7])] == [3, 7]
    assert [p.shape[0] for p in minigrad.arange(10).chunk(3)] == [4, 4, 2]
    assert minigrad.cat([x, x], dim=1).shape == (2, 6, 4) and minigrad.stack([x, x], -1).shape == (2, 3, 4, 2)
    view = x.view(6, 4)
    view[0, 0] = 100
    assert x[0, 0, 0].item() == 100  # views share storage
    assert not x.transpose(0, 1).is_contiguous() and x.transpose(0, 1).contiguous().is_contiguous()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.transpose(0, 1).view(-1)
    with pytest.raises(RuntimeError, match=r"shape '\[5, 5\]' is invalid for input of size 24"):
        x.reshape(5, 5)
    with pytest.raises(RuntimeError, match="The expanded size of the tensor"):
        minigrad.zeros(3).expand(4)
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 0"):
        minigrad.cat([minigrad.zeros(2, 3), minigrad.zeros(2, 4)])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        minigrad.stack([minigrad.zeros(2), minigrad.zeros(3)])


def test_indexing_and_setitem():
    x = minigrad.arange(12).reshape(3, 4)
    assert x[1].tolist() == [4, 5, 6, 7] and x[:, 1].tolist() == [1, 5, 9] and x[-1, -1].item() == 11
    assert x[None, ..., 0].shape == (1, 3)
    assert x[x > 9].tolist() == [10, 11]
    assert x[minigrad.tensor([2, 0])].shape == (2, 4) and x[[0, 0], [1, 2]].tolist() == [1, 2]
    y = minigrad.ones(3, 8)
    y[:, 2:6] = 0
    assert y.sum().item() == 12
    y[1, 1] = minigrad.tensor(5.0)
    assert y[1, 1].item() == 5
    y[y == 5] = -1
    assert y.min().item() == -1
    with pytest.raises(IndexError):
        x[3]
    with pytest.raises(IndexError, match="tensors used as indices must be long"):
        x[minigrad.tensor([0.0])]


def test_matmul_shapes_and_errors():
    a, b = minigrad.ones(2, 3), minigrad.ones(3, 4)
    assert (a @ b).shape == (2, 4) and minigrad.matmul(minigrad.ones(3), b).shape == (4,)
    assert (minigrad.ones(5, 2, 3) @ b).shape == (5, 2, 4) and (a @ minigrad.ones(3)).shape == (2,)
    assert minigrad.mm(a, b).shape == (2, 4) and minigrad.bmm(minigrad.ones(2, 2, 3), minigrad.ones(2, 3, 1)).shape == (2, 2, 1)
    with pytest.raises(RuntimeError, match=r"\(2x3 and 4x5\)"):
        minigrad.ones(2, 3) @ minigrad.ones(4, 5)
    with pytest.raises(RuntimeError, match="both arguments to matmul need to be at least 1D"):
        minigrad.tensor(1.0) @ minigrad.ones(2)


def test_devices_and_bad_arguments():
    with pytest.raises(RuntimeError, match="expected a device type"):
        minigrad.device("tpu")
    with pytest.raises(TypeError, match="other: expected a Tensor or a number"):
        minigrad.ones(2) + "a"
    with pytest.raises(TypeError, match="data: expected a number"):
        minigrad.tensor(["a"])
    with pytest.raises(RuntimeError, match="clamp: At least one of 'min' or 'max'"):
        minigrad.ones(2).clamp()
    with pytest.raises(TypeError, match="where: expected condition to be a bool Tensor"):
        minigrad.where(minigrad.ones(2), minigrad.ones(2), minigrad.ones(2))


def test_module_functions_and_aliases():
    x = minigrad.tensor([1.0, -2.0])
    assert minigrad.sum(x).item() == -1 and minigrad.max(x).item() == 1 and minigrad.abs(x).tolist() == [1, 2]
    assert minigrad.exp(minigrad.zeros(1)).item() == 1 and minigrad.float is minigrad.float32
    assert minigrad.long is minigrad.int64 and minigrad.bool.name == "bool"
    with pytest.raises(AttributeError):
        minigrad.no_such_function


def test_numpy_data_converts_only_without_loss():
    for dtype in (np.int8, np.int16, np.int32, np.uint8, np.float16):  # kept, as PyTorch keeps them
        data = np.array([1, 2], dtype=dtype)
        for make in (minigrad.tensor, minigrad.as_tensor):
            assert make(data).dtype.numpy == np.dtype(dtype)
    for dtype in (np.uint16, np.uint32):  # dtypes minigrad lacks, widened: every value fits
        info = np.iinfo(dtype)
        data = np.array([info.min, info.max], dtype=dtype)
        for make in (minigrad.tensor, minigrad.as_tensor):
            t = make(data)
            assert t.dtype is minigrad.int64 and t.tolist() == [int(info.min), int(info.max)]
    assert minigrad.tensor(np.float64(2.5)).dtype is minigrad.float64
    assert minigrad.tensor(np.ones(2, np.float16), dtype=minigrad.float32).dtype is minigrad.float32  # asked for
    for dtype in (np.uint64, np.complex128):  # no silent change of range
        with pytest.raises(TypeError, match=f"tensor\\(\\): data: numpy dtype {np.dtype(dtype).name}"):
            minigrad.tensor(np.ones(2, dtype))
        with pytest.raises(TypeError, match=f"as_tensor\\(\\): data: numpy dtype {np.dtype(dtype).name}"):
            minigrad.as_tensor(np.ones(2, dtype)[0])
        with pytest.raises(TypeError, match="from_numpy"):
            minigrad.from_numpy(np.ones(2, dtype))
    with pytest.raises(TypeError, match=r"numpy dtype uint16 is not supported.*astype\(np.int64\)"):
        minigrad.from_numpy(np.ones(2, np.uint16))  # sharing memory rules out a conversion
    for dtype in (np.float16, np.float32, np.float64, np.uint8, np.int8, np.int16, np.int32, np.int64, np.bool_):
        a = np.zeros(2, dtype)
        assert np.shares_memory(minigrad.from_numpy(a).numpy(), a)


def test_numpy_scalars_and_arrays_do_not_take_over_tensor_operators():
    x = minigrad.ones(3, requires_grad=True)
    for y in (np.float64(2.0) * x, np.float32(2.0) + x, np.int64(2) - x, np.float64(2.0) / x, np.float64(2.0) ** x):
        assert isinstance(y, minigrad.Tensor) and y.dtype is minigrad.float32 and y.requires_grad
    (np.float64(3.0) * x).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]
    assert (np.float64(1.5) < x).tolist() == [False] * 3
    for operation in (lambda a, t: a + t, lambda a, t: a * t, lambda a, t: a == t, lambda a, t: t == a,
                      lambda a, t: a @ t):
        with pytest.raises(TypeError, match="numpy.ndarray"):  # PyTorch 2.13 raises TypeError too
            operation(np.ones((3, 3)), minigrad.ones(3, 3))
    t = minigrad.tensor([1.0, 2.0])  # numpy still reads tensors
    assert np.asarray(t).tolist() == [1.0, 2.0]
    np.testing.assert_allclose(t, [1.0, 2.0])


def test_shapes_that_do_not_broadcast_raise_pytorchs_runtime_error():
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size of tensor b \(4\) at "
                                           r"non-singleton dimension 0"):
        minigrad.ones(3) + minigrad.ones(4)
    with pytest.raises(RuntimeError, match=r"tensor a \(2\) must match the size of tensor b \(4\) at "
                                           r"non-singleton dimension 1"):
        minigrad.ones(5, 2, 3) * minigrad.ones(4, 3)
    assert (minigrad.ones(2, 1, 3) + minigrad.ones(4, 1)).shape == (2, 4, 3)


# --- the default dtype ---------------------------------------------------------------------------------

FLOAT_FACTORIES = {
    "tensor": lambda lib: lib.tensor([1.5, 2.0]), "Tensor": lambda lib: lib.Tensor([1, 2]),
    "zeros": lambda lib: lib.zeros(2), "ones": lambda lib: lib.ones(2, 3), "empty": lambda lib: lib.empty(2),
    "full": lambda lib: lib.full((2,), 1.5), "arange": lambda lib: lib.arange(0.0, 2.0, 0.5),
    "linspace": lambda lib: lib.linspace(0, 1, 5), "eye": lambda lib: lib.eye(2), "rand": lambda lib: lib.rand(2),
    "randn": lambda lib: lib.randn(2), "int-times-float": lambda lib: lib.arange(3) * 1.5,
    "int-divided": lambda lib: lib.arange(3) / 2, "int-sqrt": lambda lib: lib.arange(3).sqrt(),
    "Linear": lambda lib: lib.nn.Linear(2, 3).weight, "Conv2d-bias": lambda lib: lib.nn.Conv2d(1, 2, 3).bias,
}


@pytest.fixture
def default_float64():
    """float64 as the default dtype for one test (and PyTorch's, where installed), restored after it."""
    torch = _torch_or_none()
    minigrad.set_default_dtype(minigrad.float64)
    if torch is not None:
        torch.set_default_dtype(torch.float64)
    yield torch
    minigrad.set_default_dtype(minigrad.float32)
    if torch is not None:
        torch.set_default_dtype(torch.float32)


def _torch_or_none():
    try:
        import torch
    except ImportError:
        return None
    return torch


@pytest.mark.parametrize("name", sorted(FLOAT_FACTORIES))
def test_the_default_dtype_reaches_every_factory(name, default_float64):
    assert minigrad.get_default_dtype() is minigrad.float64
    assert FLOAT_FACTORIES[name](minigrad).dtype is minigrad.float64
    if default_float64 is not None:
        assert FLOAT_FACTORIES[name](default_float64).dtype is default_float64.float64


def test_the_default_dtype_leaves_named_and_integer_dtypes(default_float64):
    assert minigrad.ones(2, dtype=minigrad.float32).dtype is minigrad.float32
    assert minigrad.arange(3).dtype is minigrad.int64 and minigrad.full((2,), 1).dtype is minigrad.int64
    assert minigrad.from_numpy(np.ones(2, np.float32)).dtype is minigrad.float32
    assert repr(minigrad.ones(1)) == "tensor([1.])"
    assert repr(minigrad.ones(1).float()) == "tensor([1.], dtype=minigrad.float32)"


def test_default_dtype_is_float32_and_rejects_other_types():
    assert minigrad.get_default_dtype() is minigrad.float32 and minigrad.zeros(1).dtype is minigrad.float32
    for bad in (minigrad.int64, minigrad.bool, "float64", np.float64):
        with pytest.raises(TypeError, match="set_default_dtype"):
            minigrad.set_default_dtype(bad)
    assert minigrad.get_default_dtype() is minigrad.float32
