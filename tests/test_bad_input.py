"""Bad input across the public API: each case must raise PyTorch's exception type, with a message that
names the argument (or the value) at fault; no raw numpy or Numba error, no silent acceptance.

Every case is a function of the library (`minigrad`, or `torch` for the parity test), so that where
PyTorch is installed the same case also runs there and must raise the same type. Cases where PyTorch
answers differently (it accepts the input, or fails with an AttributeError/AssertionError of its own)
say why and run on minigrad only.
"""
import os
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad
import minigrad.nn.functional  # noqa: F401 (makes minigrad.nn.functional reachable as an attribute)

_MISSING = os.path.join(tempfile.gettempdir(), "minigrad-no-such-directory", "model.safetensors")


def F(lib):  # noqa: N802 (the usual name of nn.functional)
    return lib.nn.functional


def _params(lib):
    return [lib.nn.Parameter(lib.ones(2))]


def _sgd(lib):
    return lib.optim.SGD(_params(lib), lr=0.1)


def _set(t, key, value):
    t[key] = value
    return t


def _garbage_file(lib):
    with tempfile.NamedTemporaryFile(suffix=".safetensors", delete=False) as f:
        f.write(b"this is not a checkpoint")
    try:
        return lib.load(f.name)
    finally:
        os.unlink(f.name)


def _save_unstorable(lib):
    with tempfile.TemporaryDirectory() as folder:
        return lib.save({"weight": object()}, os.path.join(folder, "x.safetensors"))


class _NoLen:
    def __getitem__(self, index):
        return index


SAME = None  # torch raises the same type: checked by test_torch_raises_the_same_type

# (id, case(lib), expected type, substring of the message, SAME or why PyTorch is not compared)
CASES = [
    # --- creation ---
    ("tensor-str", lambda lib: lib.tensor("abc"), TypeError, "str", SAME),
    ("tensor-list-with-str", lambda lib: lib.tensor([1.0, "a"]), TypeError, "str", SAME),
    ("tensor-ragged", lambda lib: lib.tensor([[1, 2], [3]]), ValueError, "data", SAME),
    ("tensor-complex", lambda lib: lib.tensor(np.ones(2, np.complex64)), TypeError, "complex64",
     "PyTorch has complex dtypes"),
    ("tensor-uint64", lambda lib: lib.tensor(np.ones(2, np.uint64)), TypeError, "uint64", "PyTorch has uint64"),
    ("from_numpy-uint16", lambda lib: lib.from_numpy(np.ones(2, np.uint16)), TypeError, "astype(np.int64)",
     "PyTorch has uint16; minigrad cannot share uint16 memory as int64"),
    ("requires-grad-int32", lambda lib: lib.ones(2, dtype=lib.int32).requires_grad_(), RuntimeError,
     "only Tensors of floating point dtype can require gradients", SAME),
    ("to-dtype-name", lambda lib: lib.ones(2).to(dtype="int3"), TypeError, "int3",
     "PyTorch's message names no argument"),
    ("from_numpy-list", lambda lib: lib.from_numpy([1, 2]), TypeError, "ndarray", SAME),
    ("from_numpy-str", lambda lib: lib.from_numpy(np.array(["a"])), TypeError, "<U1", SAME),
    ("zeros-negative", lambda lib: lib.zeros(-1), RuntimeError, "negative dimension", SAME),
    ("zeros-str", lambda lib: lib.zeros("a"), TypeError, "size", SAME),
    ("zeros-float", lambda lib: lib.zeros(2.5), TypeError, "size", SAME),
    ("ones-dtype-name", lambda lib: lib.ones(2, dtype="foo"), TypeError, "dtype", SAME),
    ("full-str", lambda lib: lib.full((2,), "a"), TypeError, "fill_value", SAME),
    ("arange-step-0", lambda lib: lib.arange(0, 10, 0), RuntimeError, "step", SAME),
    ("randint-low-high", lambda lib: lib.randint(5, 2, (3,)), RuntimeError, "low", SAME),
    ("randn-int-dtype", lambda lib: lib.randn(2, dtype=lib.int64), RuntimeError, "dtype", SAME),
    ("eye-negative", lambda lib: lib.eye(-1), RuntimeError, "n", SAME),
    ("linspace-negative", lambda lib: lib.linspace(0, 1, -1), RuntimeError, "steps", SAME),
    ("normal-negative-std", lambda lib: lib.normal(0.0, -1.0, size=(3,)), RuntimeError, "std >= 0.0", SAME),
    ("normal-nan-std", lambda lib: lib.normal(0.0, float("nan"), size=(3,)), RuntimeError, "std", SAME),
    ("normal-tensor-std", lambda lib: lib.normal(lib.zeros(3), lib.tensor([1.0, -1.0, 1.0])), RuntimeError,
     "std", SAME),
    ("normal_-negative-std", lambda lib: lib.zeros(3).normal_(0, -1), RuntimeError, "std", SAME),
    ("uniform_-reversed", lambda lib: lib.zeros(3).uniform_(1, 0), RuntimeError, "from=1", SAME),
    ("int-requires-grad", lambda lib: lib.ones(2, dtype=lib.int64, requires_grad=True), RuntimeError,
     "floating point", SAME),
    # --- operators and tensor methods ---
    ("add-broadcast", lambda lib: lib.ones(3) + lib.ones(4), RuntimeError,
     "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 0", SAME),
    ("mul-broadcast-2d", lambda lib: lib.ones(2, 3) * lib.ones(4, 3), RuntimeError, "tensor b (4)", SAME),
    ("broadcast-last-dim", lambda lib: lib.ones(5, 2, 3) - lib.ones(4, 3), RuntimeError,
     "at non-singleton dimension 1", SAME),
    ("eq-broadcast", lambda lib: lib.ones(3) == lib.ones(4), RuntimeError, "tensor a (3)", SAME),
    ("maximum-broadcast", lambda lib: lib.maximum(lib.ones(3), lib.ones(4)), RuntimeError, "tensor a (3)", SAME),
    ("where-broadcast", lambda lib: lib.where(lib.ones(3) > 0, lib.ones(3), lib.ones(4)), RuntimeError,
     "tensor b (4)", SAME),
    ("add_-broadcast", lambda lib: lib.ones(3).add_(lib.ones(4)), RuntimeError, "tensor a (3)", SAME),
    ("add_-grows", lambda lib: lib.ones(3).add_(lib.ones(2, 3)), RuntimeError, "broadcast shape", SAME),
    ("setitem-shape", lambda lib: _set(lib.ones(3), slice(None), lib.ones(4)), RuntimeError, "shape", SAME),
    ("setitem-index-shape", lambda lib: _set(lib.ones(3), lib.tensor([0, 1]), lib.ones(3)), RuntimeError, "shape",
     SAME),
    ("setitem-str", lambda lib: _set(lib.ones(3), 0, "a"), TypeError, "str", SAME),
    ("setitem-none", lambda lib: _set(lib.ones(3), slice(None), None), TypeError, "NoneType", SAME),
    ("ndarray-plus-tensor", lambda lib: np.ones(3) + lib.ones(3), TypeError, "", SAME),
    ("ndarray-times-tensor", lambda lib: np.ones(3) * lib.ones(3), TypeError, "", SAME),
    ("ndarray-matmul-tensor", lambda lib: np.ones((3, 3)) @ lib.ones(3, 3), TypeError, "", SAME),
    ("ndarray-less-tensor", lambda lib: np.ones(3) < lib.ones(3), TypeError, "", SAME),
    ("tensor-plus-str", lambda lib: lib.ones(3) + "a", TypeError, "str", SAME),
    ("tensor-plus-none", lambda lib: lib.ones(3) + None, TypeError, "NoneType", SAME),
    ("matmul-float64-float32", lambda lib: lib.ones(2, 3, dtype=lib.float64) @ lib.ones(3, 2), RuntimeError,
     "same dtype", SAME),
    ("matmul-int64-float32", lambda lib: lib.ones(2, 3, dtype=lib.int64) @ lib.ones(3, 2), RuntimeError,
     "same dtype", SAME),
    ("matmul-vectors-dtypes", lambda lib: lib.ones(3, dtype=lib.float64) @ lib.ones(3), RuntimeError, "dtype",
     SAME),
    ("mm-dtypes", lambda lib: lib.mm(lib.ones(2, 3, dtype=lib.float64), lib.ones(3, 2)), RuntimeError, "dtype",
     SAME),
    ("bmm-dtypes", lambda lib: lib.bmm(lib.ones(1, 2, 3, dtype=lib.float64), lib.ones(1, 3, 2)), RuntimeError,
     "dtype", SAME),
    ("matmul-bool", lambda lib: (lib.ones(2, 2) > 0) @ (lib.ones(2, 2) > 0), RuntimeError, "bool", SAME),
    ("matmul-0d", lambda lib: lib.matmul(lib.ones(3), lib.tensor(1.0)), RuntimeError, "1D", SAME),
    ("matmul-shapes", lambda lib: lib.ones(2, 3) @ lib.ones(2, 3), RuntimeError, "cannot be multiplied", SAME),
    ("matmul-ndarray", lambda lib: lib.matmul(np.ones((2, 2)), lib.ones(2, 2)), TypeError, "input", SAME),
    ("floordiv-zero", lambda lib: lib.tensor([1, 2]) // 0, RuntimeError, "ZeroDivisionError", SAME),
    ("remainder-zero", lambda lib: lib.tensor([1, 2]) % lib.tensor([1, 0]), RuntimeError, "ZeroDivisionError",
     SAME),
    ("rfloordiv-zero", lambda lib: 5 // lib.tensor([0, 1]), RuntimeError, "ZeroDivisionError", SAME),
    ("int-negative-power", lambda lib: lib.tensor([1, 2]) ** -1, RuntimeError, "negative integer powers", SAME),
    ("reshape-size", lambda lib: lib.ones(3).reshape(4), RuntimeError, "[4]", SAME),
    ("sum-dim", lambda lib: lib.ones(3).sum(dim=3), IndexError, "Dimension out of range", SAME),
    ("view-size", lambda lib: lib.ones(3).view(2, 2), RuntimeError, "invalid for input of size 3", SAME),
    ("cat-sizes", lambda lib: lib.cat([lib.ones(3), lib.ones(2, 2)]), RuntimeError, "tensor number 1", SAME),
    ("cat-not-a-list", lambda lib: lib.cat(lib.ones(3)), TypeError, "tensors", SAME),
    ("stack-sizes", lambda lib: lib.stack([lib.ones(3), lib.ones(2)]), RuntimeError, "entry 1", SAME),
    ("expand-size", lambda lib: lib.ones(3).expand(2, 4), RuntimeError, "non-singleton dimension 1", SAME),
    ("permute-length", lambda lib: lib.ones(3).permute(1, 0), RuntimeError, "len(dims) = 2", SAME),
    ("transpose-dim", lambda lib: lib.ones(3).transpose(0, 3), IndexError, "Dimension out of range", SAME),
    ("to-unknown-device", lambda lib: lib.ones(3).to("tpu"), RuntimeError, "tpu", SAME),
    ("item-of-many", lambda lib: lib.ones(3).item(), RuntimeError, "3 elements", SAME),
    ("softmax-int", lambda lib: lib.tensor([1, 2]).softmax(0), RuntimeError, "int64",
     SAME),
    ("backward-no-grad", lambda lib: lib.ones(3).sum().backward(), RuntimeError, "does not require grad", SAME),
    ("backward-non-scalar", lambda lib: (lib.ones(3, requires_grad=True) * 2).backward(), RuntimeError,
     "scalar outputs", SAME),
    ("index-out-of-range", lambda lib: lib.ones(3)[5], IndexError, "5", SAME),
    ("index-str", lambda lib: lib.ones(3)["a"], TypeError, "str", SAME),
    ("index-float-tensor", lambda lib: lib.ones(3)[lib.tensor([1.0])], IndexError, "tensors used as indices",
     SAME),
    ("clamp-no-bounds", lambda lib: lib.ones(3).clamp(), RuntimeError, "min", SAME),
    # --- layers and their functions ---
    ("linear-float64", lambda lib: lib.nn.Linear(3, 2)(lib.ones(4, 3, dtype=lib.float64)), RuntimeError,
     "same dtype", SAME),
    ("linear-int64", lambda lib: lib.nn.Linear(3, 2)(lib.ones(4, 3, dtype=lib.int64)), RuntimeError,
     "same dtype", SAME),
    ("linear-ndarray", lambda lib: lib.nn.Linear(3, 2)(np.ones((2, 3), np.float32)), TypeError,
     "linear(): argument 'input' (position 1) must be Tensor, not numpy.ndarray", SAME),
    ("linear-features", lambda lib: lib.nn.Linear(3, 2)(lib.ones(2, 4)), RuntimeError, "4", SAME),
    ("F.linear-bias-dtype", lambda lib: F(lib).linear(lib.ones(4, 3), lib.ones(2, 3), lib.ones(2, dtype=lib.float64)),
     RuntimeError, "bias", SAME),
    ("F.linear-ndarray", lambda lib: F(lib).linear(np.ones((2, 3)), lib.ones(2, 3)), TypeError, "input", SAME),
    ("conv2d-list", lambda lib: lib.nn.Conv2d(1, 2, 3)([[[[1.0] * 5] * 5]]), TypeError, "list", SAME),
    ("conv2d-float64", lambda lib: lib.nn.Conv2d(1, 2, 3)(lib.ones(1, 1, 5, 5, dtype=lib.float64)), RuntimeError,
     "float64", SAME),
    ("conv2d-int64", lambda lib: lib.nn.Conv2d(1, 2, 3)(lib.ones(1, 1, 5, 5, dtype=lib.int64)), RuntimeError,
     "int64", SAME),
    ("conv1d-float64", lambda lib: lib.nn.Conv1d(1, 2, 3)(lib.ones(1, 1, 5, dtype=lib.float64)), RuntimeError,
     "float64", SAME),
    ("conv2d-channels", lambda lib: lib.nn.Conv2d(1, 2, 3)(lib.ones(1, 2, 5, 5)), RuntimeError, "channels", SAME),
    ("conv2d-rank", lambda lib: lib.nn.Conv2d(1, 2, 3)(lib.ones(5, 5)), RuntimeError, "[5, 5]", SAME),
    ("conv2d-same-strided", lambda lib: lib.nn.Conv2d(1, 2, 3, padding="same", stride=2), ValueError,
     "padding='same' is not supported for strided convolutions", SAME),
    ("conv1d-same-strided", lambda lib: lib.nn.Conv1d(1, 2, 3, padding="same", stride=(2,)), ValueError,
     "strided", SAME),
    ("conv2d-padding-name", lambda lib: lib.nn.Conv2d(1, 2, 3, padding="full"), ValueError, "padding", SAME),
    ("conv2d-groups", lambda lib: lib.nn.Conv2d(1, 2, 3, groups=2), ValueError, "groups", SAME),
    ("conv2d-no-out-channels", lambda lib: lib.nn.Conv2d(3, 0, 3)(lib.ones(1, 3, 5, 5)), RuntimeError,
     "at least 1 at dimension 0", SAME),
    ("F.conv2d-kernel-too-big", lambda lib: F(lib).conv2d(lib.ones(1, 1, 2, 2), lib.ones(1, 1, 3, 3)),
     RuntimeError, "Kernel size", SAME),
    ("F.conv2d-same-strided", lambda lib: F(lib).conv2d(lib.ones(1, 1, 5, 5), lib.ones(2, 1, 3, 3), padding="same",
                                                        stride=2), RuntimeError, "strided", SAME),
    ("conv_transpose2d-float64", lambda lib: lib.nn.ConvTranspose2d(1, 2, 3)(lib.ones(1, 1, 5, 5, dtype=lib.float64)),
     RuntimeError, "float64", SAME),
    ("conv_transpose2d-no-in-channels", lambda lib: lib.nn.ConvTranspose2d(0, 8, 3)(lib.ones(1, 0, 5, 5)),
     RuntimeError, "at least 1 at dimension 0", SAME),
    ("batchnorm-float64", lambda lib: lib.nn.BatchNorm2d(2)(lib.ones(2, 2, 3, 3, dtype=lib.float64)), RuntimeError,
     "float64", SAME),
    ("batchnorm-eval-float64", lambda lib: lib.nn.BatchNorm1d(2).eval()(lib.ones(4, 2, dtype=lib.float64)),
     RuntimeError, "float64", SAME),
    ("batchnorm-int64", lambda lib: lib.nn.BatchNorm2d(2)(lib.ones(2, 2, 3, 3, dtype=lib.int64)), RuntimeError,
     "int64", SAME),
    ("batchnorm-channels", lambda lib: lib.nn.BatchNorm2d(2)(lib.ones(2, 3, 4, 4)), RuntimeError, "3", SAME),
    ("batchnorm-rank", lambda lib: lib.nn.BatchNorm2d(2)(lib.ones(2, 2)), ValueError, "4D", SAME),
    ("batchnorm-ndarray", lambda lib: lib.nn.BatchNorm1d(3)(np.ones((2, 3))), TypeError, "numpy.ndarray",
     "PyTorch raises AttributeError ('numpy.ndarray' object has no attribute 'dim')"),
    ("F.batch_norm-weight-dtype", lambda lib: F(lib).batch_norm(lib.ones(2, 3), lib.zeros(3), lib.ones(3),
                                                                weight=lib.ones(3, dtype=lib.float64)),
     RuntimeError, "weight", SAME),
    ("layernorm-float64", lambda lib: lib.nn.LayerNorm(3)(lib.ones(2, 3, dtype=lib.float64)), RuntimeError,
     "float64", SAME),
    ("layernorm-ndarray", lambda lib: lib.nn.LayerNorm(3)(np.ones((2, 3))), TypeError, "numpy.ndarray", SAME),
    ("maxpool-ndarray", lambda lib: lib.nn.MaxPool2d(2)(np.ones((1, 1, 4, 4))), TypeError, "numpy.ndarray", SAME),
    ("avgpool-list", lambda lib: F(lib).avg_pool2d([[[[1.0] * 4] * 4]], 2), TypeError, "list", SAME),
    ("interpolate-size-and-scale", lambda lib: F(lib).interpolate(lib.ones(1, 1, 4), 2, 2.0), ValueError,
     "only one of size or scale_factor", SAME),
    ("interpolate-no-size", lambda lib: F(lib).interpolate(lib.ones(1, 1, 4)), ValueError, "either size", SAME),
    ("interpolate-size-length", lambda lib: F(lib).interpolate(lib.ones(1, 1, 4, 4), (2, 2, 2)), ValueError,
     "spatial dimensions", SAME),
    ("interpolate-size-float", lambda lib: F(lib).interpolate(lib.ones(1, 1, 4, 4), (2.0, 3)), TypeError, "size",
     SAME),
    ("interpolate-scale-str", lambda lib: F(lib).interpolate(lib.ones(1, 1, 4), scale_factor="a"), TypeError,
     "scale_factor", SAME),
    ("interpolate-recompute-with-size", lambda lib: F(lib).interpolate(lib.ones(1, 1, 4), 2,
                                                                       recompute_scale_factor=True),
     ValueError, "recompute_scale_factor", SAME),
    ("interpolate-bilinear-3d", lambda lib: F(lib).interpolate(lib.ones(1, 1, 4), 2, mode="bilinear"),
     NotImplementedError, "bilinear", SAME),
    ("interpolate-linear-4d", lambda lib: F(lib).interpolate(lib.ones(1, 1, 4, 4), 2, mode="linear"),
     NotImplementedError, "linear", SAME),
    ("interpolate-nearest-2d", lambda lib: F(lib).interpolate(lib.ones(1, 4), 2), NotImplementedError, "2D", SAME),
    ("interpolate-align-nearest", lambda lib: F(lib).interpolate(lib.ones(1, 1, 4), 2, align_corners=True),
     ValueError, "align_corners", SAME),
    ("interpolate-size-0", lambda lib: F(lib).interpolate(lib.ones(1, 1, 4, 4), (0, 2)), RuntimeError,
     "greater than 0", SAME),
    ("interpolate-negative-scale", lambda lib: F(lib).interpolate(lib.ones(1, 1, 4), scale_factor=-1.0),
     RuntimeError, "greater than 0", SAME),
    ("interpolate-empty-input", lambda lib: F(lib).interpolate(lib.ones(1, 1, 0), 3), RuntimeError,
     "greater than 0", SAME),
    ("interpolate-int", lambda lib: F(lib).interpolate(lib.ones(1, 1, 4, dtype=lib.int64), 3), NotImplementedError,
     "int64", SAME),
    ("interpolate-bicubic", lambda lib: F(lib).interpolate(lib.ones(1, 1, 4, 4), 2, mode="bicubic"),
     NotImplementedError, "bicubic", "PyTorch implements bicubic"),
    ("interpolate-antialias", lambda lib: F(lib).interpolate(lib.ones(1, 1, 4, 4), 2, mode="bilinear",
                                                             antialias=True),
     NotImplementedError, "antialias", "PyTorch implements antialiasing"),
    ("upsample-ndarray", lambda lib: lib.nn.Upsample(scale_factor=2)(np.ones((1, 1, 4))), TypeError,
     "numpy.ndarray", "PyTorch raises AttributeError ('numpy.ndarray' object has no attribute 'dim')"),
    ("relu-ndarray", lambda lib: lib.nn.ReLU()(np.ones(3)), TypeError, "relu(): argument 'input'", SAME),
    ("sigmoid-ndarray", lambda lib: lib.nn.Sigmoid()(np.ones(3)), TypeError, "sigmoid", SAME),
    ("tanh-list", lambda lib: lib.nn.Tanh()([1.0, 2.0]), TypeError, "list", SAME),
    ("softmax-ndarray", lambda lib: lib.nn.Softmax(0)(np.ones(3)), TypeError, "numpy.ndarray",
     "PyTorch raises AttributeError ('numpy.ndarray' object has no attribute 'softmax')"),
    ("dropout-ndarray", lambda lib: lib.nn.Dropout()(np.ones(3)), TypeError, "numpy.ndarray", SAME),
    ("dropout-p", lambda lib: lib.nn.Dropout(p=1.5), ValueError, "1.5", SAME),
    ("dropout-int", lambda lib: F(lib).dropout(lib.ones(3, dtype=lib.int64)), RuntimeError, "int64", SAME),
    ("gelu-int", lambda lib: F(lib).gelu(lib.ones(3, dtype=lib.int64)), RuntimeError, "int64", SAME),
    ("gelu-approximate", lambda lib: F(lib).gelu(lib.ones(3), approximate="fast"), RuntimeError, "approximate",
     SAME),
    ("leaky_relu-int", lambda lib: F(lib).leaky_relu(lib.ones(3, dtype=lib.int64)), RuntimeError, "int64", SAME),
    ("F.softmax-int", lambda lib: F(lib).softmax(lib.ones(3, dtype=lib.int64), 0), RuntimeError, "int64", SAME),
    ("pad-length", lambda lib: F(lib).pad(lib.ones(3), (1,)), RuntimeError, "Padding length", SAME),
    ("pad-ndarray", lambda lib: F(lib).pad(np.ones(3), (1, 1)), TypeError, "numpy.ndarray", SAME),
    ("pad-mode", lambda lib: F(lib).pad(lib.ones(1, 3), (1, 1), mode="mirror"), NotImplementedError, "mirror",
     SAME),
    ("sequential-str-index", lambda lib: lib.nn.Sequential(lib.nn.ReLU())["0"], TypeError, "str", SAME),
    ("sequential-float-index", lambda lib: lib.nn.Sequential(lib.nn.ReLU())[1.0], TypeError, "float", SAME),
    ("sequential-index-range", lambda lib: lib.nn.Sequential(lib.nn.ReLU())[5], IndexError, "5", SAME),
    ("sequential-ndarray", lambda lib: lib.nn.Sequential(lib.nn.Linear(3, 2))(np.ones((2, 3))), TypeError, "input",
     SAME),
    # --- losses ---
    ("cross_entropy-int-logits", lambda lib: F(lib).cross_entropy(lib.ones(2, 3, dtype=lib.int64), lib.tensor([0, 1])),
     RuntimeError, "int64", SAME),
    ("CrossEntropyLoss-int-logits", lambda lib: lib.nn.CrossEntropyLoss()(lib.ones(2, 3, dtype=lib.int64),
                                                                          lib.tensor([0, 1])),
     RuntimeError, "input", SAME),
    ("nll_loss-int", lambda lib: F(lib).nll_loss(lib.ones(2, 3, dtype=lib.int64), lib.tensor([0, 1])), RuntimeError,
     "int64", SAME),
    ("NLLLoss-int", lambda lib: lib.nn.NLLLoss()(lib.ones(2, 3, dtype=lib.int64), lib.tensor([0, 1])),
     RuntimeError, "int64", SAME),
    ("cross_entropy-ndarray", lambda lib: F(lib).cross_entropy(np.ones((2, 3)), lib.tensor([0, 1])), TypeError,
     "input", SAME),
    ("cross_entropy-list-target", lambda lib: F(lib).cross_entropy(lib.ones(2, 3), [0, 1]), TypeError,
     "argument 'target' (position 2) must be Tensor, not list", SAME),
    ("cross_entropy-weight-dtype", lambda lib: F(lib).cross_entropy(lib.ones(2, 3, dtype=lib.float64),
                                                                    lib.tensor([0, 1]), weight=lib.ones(3)),
     RuntimeError, "weight", SAME),
    ("cross_entropy-target-range", lambda lib: F(lib).cross_entropy(lib.ones(2, 3), lib.tensor([0, 5])), IndexError,
     "5", SAME),
    ("cross_entropy-target-range-weighted", lambda lib: F(lib).cross_entropy(lib.ones(2, 3), lib.tensor([0, 5]),
                                                                             weight=lib.ones(3)), IndexError, "5", SAME),
    ("cross_entropy-target-range-ignoring", lambda lib: F(lib).cross_entropy(lib.ones(3, 3), lib.tensor([0, -100, 5])),
     IndexError, "5", SAME),
    ("cross_entropy-batch", lambda lib: F(lib).cross_entropy(lib.ones(2, 3), lib.tensor([0, 1, 2])), ValueError,
     "batch_size", SAME),
    ("nll_loss-float-target", lambda lib: F(lib).nll_loss(lib.ones(2, 3), lib.tensor([0.0, 1.0])), RuntimeError,
     "target", SAME),
    ("mse_loss-ndarray", lambda lib: F(lib).mse_loss(np.ones(3), lib.ones(3)), TypeError, "input", SAME),
    ("mse_loss-ndarray-target", lambda lib: F(lib).mse_loss(lib.ones(3), np.ones(3)), TypeError, "target", SAME),
    ("mse_loss-int", lambda lib: F(lib).mse_loss(lib.ones(3, dtype=lib.int64), lib.ones(3, dtype=lib.int64)),
     RuntimeError, "int64", SAME),
    ("bce_logits-int", lambda lib: F(lib).binary_cross_entropy_with_logits(lib.ones(3, dtype=lib.int64), lib.ones(3)),
     RuntimeError, "int64", SAME),
    ("bce_logits-int-target", lambda lib: F(lib).binary_cross_entropy_with_logits(lib.ones(3),
                                                                                  lib.ones(3, dtype=lib.int64)),
     RuntimeError, "target", SAME),
    ("MSELoss-reduction", lambda lib: lib.nn.MSELoss(reduction="average")(lib.ones(3), lib.ones(3)), ValueError,
     "average", SAME),
    ("l1_loss-reduction", lambda lib: F(lib).l1_loss(lib.ones(3), lib.ones(3), reduction="average"), ValueError,
     "average", SAME),
    # --- optimizers ---
    ("SGD-lr-str", lambda lib: lib.optim.SGD(_params(lib), lr="0.1"), TypeError, "lr", SAME),
    ("SGD-lr-none", lambda lib: lib.optim.SGD(_params(lib), lr=None), TypeError, "lr", SAME),
    ("SGD-lr-negative", lambda lib: lib.optim.SGD(_params(lib), lr=-1), ValueError, "learning rate", SAME),
    ("SGD-momentum-str", lambda lib: lib.optim.SGD(_params(lib), lr=0.1, momentum="0.9"), TypeError, "momentum",
     SAME),
    ("SGD-weight-decay", lambda lib: lib.optim.SGD(_params(lib), lr=0.1, weight_decay=-1), ValueError,
     "weight_decay", SAME),
    ("SGD-nesterov", lambda lib: lib.optim.SGD(_params(lib), lr=0.1, nesterov=True), ValueError, "Nesterov", SAME),
    ("SGD-no-params", lambda lib: lib.optim.SGD([], lr=0.1), ValueError, "empty parameter list", SAME),
    ("SGD-tensor-params", lambda lib: lib.optim.SGD(lib.ones(2, requires_grad=True), lr=0.1), TypeError,
     "iterable", SAME),
    ("SGD-ndarray-param", lambda lib: lib.optim.SGD([np.ones(2)], lr=0.1), TypeError, "Tensors", SAME),
    ("SGD-none-params", lambda lib: lib.optim.SGD(None, lr=0.1), TypeError, "NoneType", SAME),
    ("SGD-group-lr-str", lambda lib: lib.optim.SGD([{"params": _params(lib), "lr": "1"}], lr=0.1), TypeError, "lr",
     "PyTorch checks only the constructor's arguments and fails at the first step"),
    ("Adam-lr-str", lambda lib: lib.optim.Adam(_params(lib), lr="0.1"), TypeError, "lr", SAME),
    ("Adam-beta", lambda lib: lib.optim.Adam(_params(lib), betas=(1.0, 0.9)), ValueError, "beta", SAME),
    ("Adam-betas-str", lambda lib: lib.optim.Adam(_params(lib), betas="ab"), TypeError, "betas", SAME),
    ("Adam-eps", lambda lib: lib.optim.Adam(_params(lib), eps=-1), ValueError, "eps", SAME),
    ("AdamW-lr-none", lambda lib: lib.optim.AdamW(_params(lib), lr=None), TypeError, "lr", SAME),
    ("RMSprop-alpha", lambda lib: lib.optim.RMSprop(_params(lib), alpha=-1), ValueError, "alpha", SAME),
    ("RMSprop-lr-str", lambda lib: lib.optim.RMSprop(_params(lib), lr="0.1"), TypeError, "lr", SAME),
    # --- schedulers ---
    ("StepLR-not-an-optimizer", lambda lib: lib.optim.lr_scheduler.StepLR(object(), 1), TypeError, "Optimizer",
     SAME),
    ("StepLR-step-size", lambda lib: lib.optim.lr_scheduler.StepLR(_sgd(lib), step_size=0), ValueError, "step_size",
     "PyTorch accepts step_size=0 and divides by zero at the first step"),
    ("OneCycleLR-no-steps", lambda lib: lib.optim.lr_scheduler.OneCycleLR(_sgd(lib), max_lr=0.1), ValueError,
     "total_steps", SAME),
    ("OneCycleLR-strategy", lambda lib: lib.optim.lr_scheduler.OneCycleLR(_sgd(lib), 0.1, total_steps=10,
                                                                          anneal_strategy="step"),
     ValueError, "anneal_strategy", SAME),
    # --- tensor ops (tests/test_tensor_ops.py compares their values and gradients) ---
    ("dot-2d", lambda lib: lib.dot(lib.ones(2, 2), lib.ones(2)), RuntimeError, "1-D", SAME),
    ("dot-sizes", lambda lib: lib.dot(lib.ones(2), lib.ones(3)), RuntimeError, "inconsistent tensor size", SAME),
    ("dot-dtypes", lambda lib: lib.dot(lib.ones(2), lib.ones(2, dtype=lib.float64)), RuntimeError, "same dtype", SAME),
    ("outer-2d", lambda lib: lib.outer(lib.ones(2, 2), lib.ones(2)), RuntimeError, "1-D", SAME),
    ("addmm-broadcast", lambda lib: lib.addmm(lib.ones(4), lib.ones(2, 3), lib.ones(3, 3)), RuntimeError,
     "expanded size", SAME),
    ("addmm-3d", lambda lib: lib.addmm(lib.ones(3), lib.ones(2, 3, 1), lib.ones(3, 3)), RuntimeError,
     "mat1 must be a matrix", SAME),
    ("addmm-dtypes", lambda lib: lib.addmm(lib.ones(3, dtype=lib.float64), lib.ones(2, 3), lib.ones(3, 3)),
     RuntimeError, "dtype", SAME),
    ("index_select-float-index", lambda lib: lib.ones(3).index_select(0, lib.tensor([0.0])), RuntimeError,
     "int64", SAME),
    ("gather-float-index", lambda lib: lib.ones(3, 4).gather(1, lib.tensor([[0.0]])), RuntimeError, "int64", SAME),
    ("gather-index-rank", lambda lib: lib.ones(3, 4).gather(1, lib.tensor([0])), RuntimeError,
     "same number of dimensions", SAME),
    ("gather-out-of-bounds", lambda lib: lib.ones(3, 4).gather(1, lib.tensor([[4]])), RuntimeError,
     "out of bounds", SAME),
    ("gather-index-larger", lambda lib: lib.ones(3, 4).gather(1, lib.zeros(4, 1, dtype=lib.int64)), RuntimeError,
     "no larger than self", SAME),
    ("scatter_add-dtypes", lambda lib: lib.ones(3, 4).scatter_add(1, lib.tensor([[0]]), lib.ones(1, 1, dtype=lib.float64)),
     RuntimeError, "dtype", SAME),
    ("scatter_add-src-number", lambda lib: lib.ones(3, 4).scatter_add(1, lib.tensor([[0]]), 1.0), TypeError,
     "'src' must be Tensor", SAME),
    ("scatter-dtypes", lambda lib: lib.ones(3, 4).scatter(1, lib.tensor([[0]]), lib.ones(1, 1, dtype=lib.float64)),
     RuntimeError, "dtype", SAME),
    ("scatter-reduce", lambda lib: lib.ones(3, 4).scatter(1, lib.tensor([[0]]), 1.0, reduce="mean"), RuntimeError,
     "add or multiply", SAME),
    ("scatter-src-and-value", lambda lib: lib.ones(3).scatter(0, lib.tensor([0]), src=lib.ones(1), value=1.0),
     TypeError, "exactly one", SAME),
    ("scatter-src-str", lambda lib: lib.ones(3).scatter(0, lib.tensor([0]), "a"), TypeError, "'src'", SAME),
    ("scatter-out-of-bounds", lambda lib: lib.ones(3, 4).scatter(1, lib.tensor([[4]]), 0.0), RuntimeError,
     "out of bounds", SAME),
    ("scatter-index-larger-than-src", lambda lib: lib.ones(3, 4).scatter(0, lib.zeros(2, 2, dtype=lib.int64),
                                                                         lib.ones(1, 2)),
     RuntimeError, "no larger than src", SAME),
    ("unique-dim-of-0d", lambda lib: lib.tensor(3.0).unique(dim=0), IndexError, "no dimensions", SAME),
    ("unique-dim-zero-sized", lambda lib: lib.ones(2, 0).unique(dim=0), RuntimeError, "0 sized dimensions", SAME),
    ("unique-dim-range", lambda lib: lib.ones(2).unique(dim=1), IndexError, "Dimension out of range", SAME),
    ("index_select-2d-index", lambda lib: lib.ones(3).index_select(0, lib.tensor([[0]])), IndexError, "vector", SAME),
    ("index_select-out-of-range", lambda lib: lib.ones(3).index_select(0, lib.tensor([3])), IndexError,
     "index out of range", SAME),
    ("index_select-negative", lambda lib: lib.ones(3).index_select(0, lib.tensor([-1])), IndexError,
     "index out of range", SAME),
    ("index_select-dim", lambda lib: lib.ones(3).index_select(1, lib.tensor([0])), IndexError,
     "Dimension out of range", SAME),
    ("masked_fill-float-mask", lambda lib: lib.ones(3).masked_fill(lib.ones(3), 0.5), RuntimeError,
     "boolean masks", SAME),
    ("masked_fill-1d-value", lambda lib: lib.ones(3).masked_fill(lib.ones(3) > 0, lib.ones(1)), RuntimeError,
     "0-dimensional value", SAME),
    ("masked_fill-broadcast", lambda lib: lib.ones(3).masked_fill(lib.ones(4) > 0, 0.0), RuntimeError,
     "must match the size", SAME),
    ("repeat-too-few", lambda lib: lib.ones(3, 2).repeat(2), RuntimeError, "repeat dims", SAME),
    ("repeat-negative", lambda lib: lib.ones(3, 2).repeat(2, -1), RuntimeError, "negative dimension", SAME),
    ("repeat_interleave-negative", lambda lib: lib.ones(3).repeat_interleave(-1), RuntimeError, "non-negative", SAME),
    ("repeat_interleave-sizes", lambda lib: lib.ones(3).repeat_interleave(lib.tensor([1, 2])), RuntimeError,
     "same size as input", SAME),
    ("repeat_interleave-negative-tensor", lambda lib: lib.ones(3).repeat_interleave(lib.tensor([1, 2, -1])),
     RuntimeError, "can not be negative", SAME),
    ("repeat_interleave-2d", lambda lib: lib.ones(3).repeat_interleave(lib.tensor([[1, 2, 1]])), RuntimeError,
     "0-dim or 1-dim", SAME),
    ("flip-duplicate-dims", lambda lib: lib.ones(3).flip(0, 0), RuntimeError, "multiple times", SAME),
    ("flip-dim", lambda lib: lib.ones(3).flip(1), IndexError, "Dimension out of range", SAME),
    ("roll-align", lambda lib: lib.ones(3).roll((1, 2), 0), RuntimeError, "shifts and dimensions must align", SAME),
    ("tril-1d", lambda lib: lib.ones(3).tril(), RuntimeError, "at least 2 dimensions", SAME),
    ("triu-float-diagonal", lambda lib: lib.ones(2, 2).triu(0.5), TypeError, "diagonal", SAME),
    ("cumsum-dim", lambda lib: lib.ones(3).cumsum(1), IndexError, "Dimension out of range", SAME),
    ("norm-int", lambda lib: lib.ones(3, dtype=lib.int64).norm(), RuntimeError, "floating point", SAME),
    ("linalg.norm-3d-ord", lambda lib: lib.linalg.norm(lib.ones(2, 3, 4), ord=2), RuntimeError,
     "must be 1D or 2D", SAME),
    ("matrix_norm-dim", lambda lib: lib.linalg.matrix_norm(lib.ones(2, 3), dim=(1,)), RuntimeError, "2-tuple", SAME),
    ("matrix_norm-1d", lambda lib: lib.linalg.matrix_norm(lib.ones(3)), RuntimeError, "at least 2 dimensions", SAME),
    ("einsum-sizes", lambda lib: lib.einsum("ij,jk->ik", lib.ones(2, 3), lib.ones(2, 2)), RuntimeError,
     "subscript j has size 2", SAME),
    ("einsum-output", lambda lib: lib.einsum("ij->ik", lib.ones(2, 3)), RuntimeError, "output subscript k", SAME),
    ("einsum-fewer", lambda lib: lib.einsum("ij,jk->ik", lib.ones(2, 3)), RuntimeError, "fewer operands", SAME),
    ("einsum-subscripts", lambda lib: lib.einsum("ijk->ik", lib.ones(2, 3)), RuntimeError,
     "number of subscripts", SAME),
    ("einsum-dtypes", lambda lib: lib.einsum("ij,jk", lib.ones(2, 3), lib.ones(3, 2, dtype=lib.float64)), RuntimeError,
     "dtype", SAME),
    ("isclose-dtypes", lambda lib: lib.ones(3).isclose(lib.ones(3, dtype=lib.float64)), RuntimeError,
     "did not match", SAME),
    ("isclose-rtol", lambda lib: lib.ones(3).isclose(lib.ones(3), rtol=-1), RuntimeError, "rtol", SAME),
    ("topk-k", lambda lib: lib.ones(3).topk(4), RuntimeError, "selected index k out of range", SAME),
    ("sort-dim", lambda lib: lib.ones(3).sort(dim=1), IndexError, "Dimension out of range", SAME),
    ("multinomial-without-replacement", lambda lib: lib.multinomial(lib.ones(3), 4), RuntimeError,
     "without replacement", SAME),
    ("multinomial-negative", lambda lib: lib.multinomial(lib.tensor([-1.0, 1.0]), 1), RuntimeError, "< 0", SAME),
    ("multinomial-zero-sum", lambda lib: lib.multinomial(lib.zeros(3), 1, True), RuntimeError,
     "sum of probabilities", SAME),
    ("multinomial-3d", lambda lib: lib.multinomial(lib.ones(2, 2, 2), 1), RuntimeError, "1 or 2 dim", SAME),
    ("multinomial-zero-samples", lambda lib: lib.multinomial(lib.ones(2), 0), RuntimeError, "n_sample <= 0", SAME),
    ("multinomial-int", lambda lib: lib.multinomial(lib.ones(2, dtype=lib.int64), 1), RuntimeError, "floating", SAME),
    ("bernoulli-p", lambda lib: lib.bernoulli(lib.tensor([2.0])), RuntimeError, "p_in >= 0", SAME),
    # --- data ---
    ("DataLoader-batch-size", lambda lib: lib.utils.data.DataLoader(lib.utils.data.TensorDataset(lib.ones(4)),
                                                                    batch_size=0),
     ValueError, "batch_size", SAME),
    ("TensorDataset-sizes", lambda lib: lib.utils.data.TensorDataset(lib.ones(3), lib.ones(4)), ValueError,
     "Size mismatch", "PyTorch raises AssertionError"),
    ("DataLoader-no-len", lambda lib: len(lib.utils.data.DataLoader(_NoLen())), TypeError, "__len__", SAME),
    # --- checkpoints and state dicts ---
    ("load-missing-file", lambda lib: lib.load(_MISSING), FileNotFoundError, "minigrad-no-such-directory", SAME),
    ("load-garbage", _garbage_file, RuntimeError, "not a readable safetensors file",
     "PyTorch raises pickle's UnpicklingError"),
    ("save-unstorable", _save_unstorable, TypeError, "object", "PyTorch pickles any object"),
    ("load_state_dict-list", lambda lib: lib.nn.Linear(2, 2).load_state_dict([1, 2]), TypeError,
     "Expected state_dict to be dict-like, got <class 'list'>", SAME),
    ("load_state_dict-list-value", lambda lib: lib.nn.Linear(2, 2).load_state_dict(
        {"weight": [[1.0, 2.0], [3.0, 4.0]], "bias": lib.ones(2)}), RuntimeError, '"weight"', SAME),
    ("load_state_dict-ndarray-value", lambda lib: lib.nn.Linear(2, 2).load_state_dict(
        {"weight": np.ones((2, 2), np.float32), "bias": lib.ones(2)}), RuntimeError, "numpy.ndarray", SAME),
    ("load_state_dict-missing-key", lambda lib: lib.nn.Linear(2, 2).load_state_dict({"weight": lib.ones(2, 2)}),
     RuntimeError, '"bias"', SAME),
    ("load_state_dict-shape", lambda lib: lib.nn.Linear(2, 2).load_state_dict(
        {"weight": lib.ones(3, 2), "bias": lib.ones(2)}), RuntimeError, "size mismatch for weight", SAME),
    ("register_buffer-list", lambda lib: lib.nn.Module().register_buffer("x", [1]), TypeError, "x", SAME),
    ("assign-tensor-to-parameter", lambda lib: setattr(lib.nn.Linear(2, 2), "weight", lib.ones(2, 2)), TypeError,
     "weight", SAME),
    ("train-mode-str", lambda lib: lib.nn.Linear(2, 2).train("yes"), ValueError, "boolean", SAME),
    ("module-to-int", lambda lib: lib.nn.Linear(2, 2).to(lib.int64), TypeError, "floating point", SAME),
]

_IDS = [case[0] for case in CASES]
assert len(set(_IDS)) == len(_IDS), "case ids must be unique"


@pytest.mark.parametrize("case, expected, words", [case[1:4] for case in CASES], ids=_IDS)
def test_bad_input_raises_pytorchs_type_with_a_named_cause(case, expected, words):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. zero-element init; the error is what is checked
        with pytest.raises(expected) as raised:
            case(minigrad)
    assert words in str(raised.value)
    # the user reads minigrad's words, not numpy's or Numba's
    assert not type(raised.value).__module__.startswith(("numpy", "numba"))
    assert "could not be broadcast" not in str(raised.value)


@pytest.mark.torch
@pytest.mark.parametrize("case, expected, why_not", [(c[1], c[2], c[4]) for c in CASES], ids=_IDS)
def test_torch_raises_the_same_type(case, expected, why_not):
    torch = pytest.importorskip("torch")
    if why_not is not SAME:
        pytest.skip(why_not)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(expected):
            case(torch)


def test_the_table_is_broad():
    assert len(CASES) >= 50
    compared = [c for c in CASES if c[4] is SAME]
    assert len(compared) >= 0.8 * len(CASES)


# --- bad shapes drawn at random: matmul, linear and conv2d refuse them as PyTorch does -------------

_dims = st.integers(1, 4)


@given(st.tuples(_dims, _dims), st.tuples(_dims, _dims))
def test_matmul_of_drawn_shapes_multiplies_or_raises_runtime_error(left, right):
    a, b = minigrad.ones(*left), minigrad.ones(*right)
    if left[1] == right[0]:
        assert (a @ b).shape == (left[0], right[1])
    else:
        with pytest.raises(RuntimeError, match="cannot be multiplied"):
            a @ b


@given(_dims, _dims, _dims)
def test_linear_of_drawn_features_runs_or_raises_runtime_error(batch, features, in_features):
    layer = minigrad.nn.Linear(in_features, 2)
    x = minigrad.ones(batch, features)
    if features == in_features:
        assert layer(x).shape == (batch, 2)
    else:
        with pytest.raises(RuntimeError, match=str(in_features)):
            layer(x)


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 6), st.integers(1, 4))
def test_conv2d_of_drawn_shapes_runs_or_raises_runtime_error(in_channels, channels, size, kernel):
    layer = minigrad.nn.Conv2d(in_channels, 2, kernel)
    x = minigrad.ones(1, channels, size, size)
    if channels == in_channels and kernel <= size:
        assert layer(x).shape == (1, 2, size - kernel + 1, size - kernel + 1)
    else:
        with pytest.raises(RuntimeError):
            layer(x)


@given(st.lists(_dims, min_size=1, max_size=3), st.lists(_dims, min_size=1, max_size=3))
def test_elementwise_ops_of_drawn_shapes_broadcast_or_raise_pytorchs_error(left, right):
    a, b = minigrad.ones(*left), minigrad.ones(*right)
    try:
        expected = np.broadcast_shapes(tuple(left), tuple(right))
    except ValueError:
        with pytest.raises(RuntimeError, match="must match the size of tensor b"):
            a * b
        with pytest.raises(RuntimeError, match="must match the size of tensor b"):
            a.maximum(b)
    else:
        assert (a * b).shape == expected and (a > b).shape == expected
