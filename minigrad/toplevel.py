"""The functions of the top-level namespace (torch.*) that are not factories: cat, stack, where, and a
function form of each Tensor method."""
import collections
import functools
import math
import string

from minigrad.arguments import normalize_dim
from minigrad.creation import arange
from minigrad.ops import shape as shape_ops
from minigrad.promotion import promote_types
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
    # all operands have dims, so PyTorch's promotion is promote_types over them all
    dtype = functools.reduce(promote_types, (t.dtype for t in tensors))
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
    "logical_not", "all", "any", "dot", "outer", "ger", "addmm", "index_select", "masked_fill", "flip", "roll",
    "tril", "triu", "cumsum", "cumprod", "norm", "isclose", "nan_to_num", "nan_to_num_", "argsort", "sort", "topk",
    "unique", "bernoulli", "multinomial", "gather", "scatter_add", "scatter")}
"""minigrad.<name>(input, ...) for Tensor methods; minigrad/__init__ exposes them."""


def mm(input, mat2):  # noqa: A002
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got {input.ndim}-D and {mat2.ndim}-D")
    return matmul(input, mat2)


def bmm(input, mat2):  # noqa: A002
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"bmm: expected 3-D tensors, got {input.ndim}-D and {mat2.ndim}-D")
    return matmul(input, mat2)


def repeat_interleave(input, repeats=None, dim=None):  # noqa: A002
    """input.repeat_interleave(repeats, dim); with repeats omitted, `input` holds the counts and each
    position 0, 1, ... is repeated that many times."""
    if not isinstance(input, Tensor):
        raise TypeError(f"repeat_interleave(): argument 'input' must be Tensor, not {type(input).__name__}")
    if repeats is None:
        return arange(input.numel(), device=input.device).repeat_interleave(input)
    return input.repeat_interleave(repeats, dim)


def _einsum_terms(equation, operands):
    """Each operand's subscripts (an ellipsis spelled out as letters the equation leaves unused, aligned
    right), and the output's."""
    inputs, arrow, output = equation.replace(" ", "").partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise RuntimeError(f"einsum(): {'fewer' if len(operands) < len(terms) else 'more'} operands were provided "
                           f"than specified in the equation ({len(operands)} for {len(terms)} subscripts)")
    for term in terms + [output]:
        for letter in term.replace("...", ""):
            if not letter.isalpha() or not letter.isascii():
                raise RuntimeError(f"einsum(): invalid subscript given in the equation string: {letter!r}")
    spare = [c for c in string.ascii_letters if c not in equation]
    ranks = []
    for i, (term, t) in enumerate(zip(terms, operands)):
        explicit = len(term.replace("...", ""))
        if "..." not in term and explicit != t.ndim or explicit > t.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({explicit}) does not match the "
                               f"number of dimensions ({t.ndim}) for operand {i}"
                               + ("" if "..." in term else " and no ellipsis was given"))
        ranks.append(t.ndim - explicit if "..." in term else 0)
    ellipsis = "".join(spare[:max(ranks)])
    terms = [term.replace("...", ellipsis[len(ellipsis) - rank:]) for term, rank in zip(terms, ranks)]
    if arrow:
        output = output.replace("...", ellipsis)
        for letter in output:
            if output.count(letter) > 1:
                raise RuntimeError(f"einsum(): output subscript {letter} appears more than once in the output")
            if not any(letter in term for term in terms):
                raise RuntimeError(f"einsum(): output subscript {letter} does not appear in the equation for any "
                                   "input operand")
    else:  # implicit: the ellipsis, then the subscripts used once, in alphabetical order
        counts = collections.Counter("".join(terms))
        output = ellipsis + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ellipsis))
    return terms, output


def _einsum_sizes(terms, operands):
    sizes = {}
    for i, (term, t) in enumerate(zip(terms, operands)):
        for letter, n in zip(term, t.shape):
            seen = sizes.get(letter, 1)
            if n != seen and 1 not in (n, seen):
                raise RuntimeError(f"einsum(): subscript {letter} has size {n} for operand {i} which does not "
                                   f"broadcast with previously seen size {seen}")
            sizes[letter] = max(n, seen) if 1 in (n, seen) else n
    return sizes


def _diagonal(t, term, letter):
    """t with the two dims of a repeated subscript replaced by their diagonal, as the last dim."""
    first, second = term.index(letter), term.index(letter, term.index(letter) + 1)
    if t.shape[first] != t.shape[second]:
        raise RuntimeError(f"einsum(): subscript {letter} is repeated for an operand but the sizes don't match, "
                           f"{t.shape[first]} != {t.shape[second]}")
    rest = [d for d in range(t.ndim) if d not in (first, second)]
    positions = arange(t.shape[first], device=t.device)
    return t.permute(rest + [first, second])[..., positions, positions], \
        "".join(term[d] for d in rest) + letter


def _contract(a, a_terms, b, b_terms, kept, sizes):
    """a and b multiplied and summed over their shared subscripts not in `kept`, as one batched matmul."""
    batch = [c for c in a_terms if c in b_terms and c in kept]
    summed = [c for c in a_terms if c in b_terms and c not in kept]
    left = [c for c in a_terms if c not in b_terms]
    right = [c for c in b_terms if c not in a_terms]

    def size(letters):
        return math.prod(sizes[c] for c in letters)

    a = a.permute([a_terms.index(c) for c in batch + left + summed]).reshape(size(batch), size(left), size(summed))
    b = b.permute([b_terms.index(c) for c in batch + summed + right]).reshape(size(batch), size(summed), size(right))
    out = matmul(a, b).reshape([sizes[c] for c in batch + left + right])
    return out, "".join(batch + left + right)


def einsum(equation, *operands):
    """Einstein summation (explicit or implicit output, ellipses, repeated subscripts for diagonals,
    size-1 dims broadcast), lowered to permute, reshape, expand, sum and batched matmul."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): argument 'equation' must be str, not {type(equation).__name__}")
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum(): operands[{i}] must be a Tensor, not {type(t).__name__}")
        if t.dtype is not operands[0].dtype:
            raise RuntimeError(f"einsum(): operands must have one dtype: expected scalar type {operands[0].dtype} "
                               f"but found {t.dtype} (operand {i})")
    terms, output = _einsum_terms(equation, operands)
    sizes = _einsum_sizes(terms, operands)
    prepared = []
    for i, (t, term) in enumerate(zip(operands, terms)):
        for letter in sorted(set(term)):
            if term.count(letter) > 1:
                t, term = _diagonal(t, term, letter)
        t = t.expand([sizes[c] for c in term])
        others = output + "".join(terms[:i] + terms[i + 1:])
        alone = [d for d, c in enumerate(term) if c not in others]
        if alone:
            t, term = t.sum(alone), "".join(c for c in term if c in others)
        prepared.append((t, term))
    out, term = prepared[0]
    for i, (t, t_term) in enumerate(prepared[1:], 2):
        kept = output + "".join(p_term for _, p_term in prepared[i:])
        out, term = _contract(out, term, t, t_term, kept, sizes)
    return out.permute([term.index(c) for c in output])


def is_tensor(obj):
    return isinstance(obj, Tensor)
