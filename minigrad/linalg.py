"""minigrad.linalg: torch.linalg's norms (vector norms of any order; matrix norms 'fro', 'nuc', 1, -1, 2,
-2, inf and -inf) and the singular value decomposition (svd, svdvals)."""
import math
import numbers

from minigrad.arguments import normalize_dim
from minigrad.ops.linalg import Svd
from minigrad.tensor import Tensor


def _check_input(A, function):  # noqa: N803 (PyTorch's argument name)
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.{function}(): argument 'input' must be Tensor, not {type(A).__name__}")


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):  # noqa: A002 (PyTorch's argument names)
    """(sum |x|**ord)**(1/ord) over dim (every dim when None); inf/-inf: max/min |x|; 0: non-zero count."""
    _check_input(x, "vector_norm")
    return x._vector_norm(ord, dim, keepdim, dtype, "linalg.vector_norm")


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):  # noqa: A002, N803
    """The norm of the matrices over the two dims `dim`: 'fro' (Frobenius), 'nuc' (sum of the singular
    values), 2/-2 (largest/smallest singular value), 1/-1 (max/min column sum of |A|), inf/-inf (max/min
    row sum of |A|)."""
    _check_input(A, "matrix_norm")
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {dim!r}")
    if A.ndim < 2:
        raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions, got {A.ndim}")
    rows, cols = (normalize_dim(d, A.ndim) for d in dim)
    if rows == cols:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord == "fro":
        return A._vector_norm(2, (rows, cols), keepdim, dtype, "linalg.matrix_norm")
    if ord == "nuc" or ord in (2, -2):
        rest = [d for d in range(A.ndim) if d not in (rows, cols)]
        values = svdvals((A if dtype is None else A.to(dtype)).permute(*rest, rows, cols))
        out = values.sum(-1) if ord == "nuc" else values.amax(-1) if ord == 2 else values.amin(-1)
        return out.unsqueeze(min(rows, cols)).unsqueeze(max(rows, cols)) if keepdim else out
    if isinstance(ord, str) or not isinstance(ord, numbers.Real) or ord not in (1, -1, math.inf, -math.inf):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord!r} not supported; expected 'fro', 'nuc', 1, -1, 2, "
                           "-2, inf or -inf")
    # |A| summed over the rows (a column sum, ord 1) or the columns (a row sum, ord inf), then max or min
    summed, across = (rows, cols) if abs(ord) == 1 else (cols, rows)
    sums = A._vector_norm(1, summed, True, dtype, "linalg.matrix_norm")
    out = sums.amax(across, keepdim=True) if ord > 0 else sums.amin(across, keepdim=True)
    return out if keepdim else out.squeeze((rows, cols))


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):  # noqa: A002, N803
    """A vector norm over one dim (or all, flattened, when dim and ord are None), or a matrix norm over two;
    with ord given and dim None, A must be 1-D or 2-D."""
    _check_input(A, "norm")
    if isinstance(dim, numbers.Integral):
        dim = (dim,)
    if dim is None:
        if ord is None:
            return vector_norm(A, 2, None, keepdim, dtype=dtype)
        if A.ndim not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                               f"Got {A.ndim}D.")
        dim = tuple(range(A.ndim))
    if len(dim) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    if len(dim) != 1:
        raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(dim)}")
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.norm: ord={ord!r} is a matrix norm, but dim names one dim ({dim[0]})")
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


def svd(A, full_matrices=True, *, driver=None):  # noqa: N803
    """(U, S, Vh) with A = U diag(S) Vh, over the last two dims: S descending, U and Vh with orthonormal
    columns and rows (square when full_matrices, as PyTorch's default; gradients through U and Vh then
    need A square, as in PyTorch). driver is accepted for PyTorch's signature (CUDA-only there)."""
    _check_input(A, "svd")
    _check_matrices(A, "svd")
    return Svd.apply(A, bool(full_matrices))


def svdvals(A, *, driver=None):  # noqa: N803
    """The singular values of the matrices over the last two dims, in descending order."""
    _check_input(A, "svdvals")
    _check_matrices(A, "svdvals")
    return Svd.apply(A, False)[1]


def _check_matrices(A, function):  # noqa: N803
    if A.ndim < 2:
        raise RuntimeError(f"linalg.{function}: The input tensor A must have at least 2 dimensions, got {A.ndim}")
    if not A.dtype.is_floating_point:
        raise RuntimeError(f"linalg.{function}: Expected a floating point tensor as input. Got {A.dtype}")
