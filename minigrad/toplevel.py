"""The functions of the top-level namespace (torch.*) that are not factories: cat, stack, where, and a
function form of each Tensor method."""
from minigrad.arguments import normalize_dim
from minigrad.ops import shape as shape_ops
from minigrad.tensor import Tensor, matmul

def _tensors(tensors, name):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}(): argument 'tensors' must be a tuple or list of Tensors, "
                        f"got {type(tensors).__name__}")
    if not tensors:
        raise RuntimeError(f"{name}(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): expected tensors[{i}] to be a Tensor, got {type(t).__name__}")
    return list(tensors)


def cat(tensors, dim=0):
    """Join tensors along an existing dim; every other dim must match."""
    tensors = _tensors(tensors, "cat")
    first = tensors[0]
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"cat(): zero-dimensional tensor (at position {i}) cannot be concatenated")
    dim = normalize_dim(dim, first.ndim)
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != first.ndim or any(a != b for k, (a, b) in enumerate(zip(t.shape, first.shape)) if k != dim):
            raise RuntimeError(f"cat(): Sizes of tensors must match except in dimension {dim}. Expected "
                               f"{list(first.shape)} but got {list(t.shape)} for tensor number {i} in the list.")
        if t.device != first.device:
            raise RuntimeError(f"cat(): Expected all tensors to be on the same device, but found {first.device} "
                               f"and {t.device} (tensor number {i})")
    # all operands have dims, so PyTorch's promotion is: the highest category, then the widest dtype
    dtype = max((t.dtype for t in tensors), key=lambda d: (d.category, d.itemsize))
    return shape_ops.Cat.apply(dim, *(t if t.dtype is dtype else t.to(dtype) for t in tensors))


concat = cat


def stack(tensors, dim=0):
    """Join same-shaped tensors along a new dim."""
    tensors = _tensors(tensors, "stack")
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(tensors[0].shape)} "
                               f"at entry 0 and {list(t.shape)} at entry {i}")
    dim = normalize_dim(dim, tensors[0].ndim + 1)
    return cat([t.unsqueeze(dim) for t in tensors], dim)


def _method(name):
    method = getattr(Tensor, name)

    def call(input, *args, **kwargs):  # noqa: A002 (PyTorch's argument name)
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
        return method(input, *args, **kwargs)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"minigrad.{name}(input, ...) is Tensor.{name}(input, ...)."
    return call


METHOD_FUNCTIONS = {name: _method(name) for name in (
    "split", "chunk", "flatten", "reshape", "squeeze", "unsqueeze", "transpose", "permute", "unbind", "narrow",
    "t", "clone", "detach", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "erf", "sign", "floor",
    "square", "abs", "clamp", "clip", "maximum", "minimum", "pow", "neg", "sum", "mean", "var", "std", "prod",
    "max", "min", "amax", "amin", "argmax", "argmin", "logsumexp", "softmax", "log_softmax", "numel",
    "allclose", "equal", "add", "sub", "mul", "div", "eq", "ne", "lt", "le", "gt", "ge", "isnan", "isinf",
    "logical_not", "all", "any")}
"""minigrad.<name>(input, ...) for Tensor methods; minigrad/__init__ exposes them."""


def mm(input, mat2):  # noqa: A002
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got {input.ndim}-D and {mat2.ndim}-D")
    return matmul(input, mat2)


def bmm(input, mat2):  # noqa: A002
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"bmm: expected 3-D tensors, got {input.ndim}-D and {mat2.ndim}-D")
    return matmul(input, mat2)


def is_tensor(obj):
    return isinstance(obj, Tensor)
