"""Type promotion, PyTorch's rules (torch.promote_types and torch.result_type). Rules on dtypes only:
converting the operands is the Tensor facade's job (minigrad/tensor.py).

Operands fall in three tiers: dimensioned tensors > 0-d tensors > Python scalars. Within a tier the
dtypes promote pairwise (promote_types). A lower tier changes the result only when the tiers above
it give bool, or it is floating and they are not; then the two promote. A Python float counts as the
default floating dtype, so an int32 tensor + 2.5 is float32, while a float16 tensor + 2.5 stays
float16 and a uint8 tensor + 300 stays uint8 (the scalar wraps)."""
import numbers

import numpy as np

from minigrad import _dtype as dtypes
from minigrad.autograd.variable import TensorBase


def python_scalar_dtype(value):
    """The dtype a Python (or numpy) scalar takes: bool, int64 or the default floating dtype."""
    if isinstance(value, (bool, np.bool_)):
        return dtypes.bool_
    if isinstance(value, numbers.Integral):
        return dtypes.int64
    if isinstance(value, numbers.Real):
        return dtypes.get_default_dtype()
    raise TypeError(f"data: expected a number, a nested sequence of numbers, an array or a Tensor, "
                    f"got {type(value).__name__}")


def promote_types(a, b):
    """The smallest dtype both a and b convert to without losing their kind, as torch.promote_types:
    uint8 with int8 is int16, an integer with a float is the float, float16 with float32 is float32."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    if a.is_floating_point or a.numpy.kind == b.numpy.kind:  # both floating, both signed or both unsigned
        return a if a.itemsize >= b.itemsize else b
    signed = b if a is dtypes.uint8 else a  # uint8 is the one unsigned integer dtype
    return signed if signed.itemsize > 1 else dtypes.int16


def _combine(higher, lower):
    """A tier's dtype (or None) with the dtype of the tiers below it (or None): PyTorch's combine_categories."""
    if higher is None:
        return lower
    if lower is None or higher.is_floating_point:
        return higher
    if higher is dtypes.bool_ or lower.is_floating_point:
        return promote_types(higher, lower)
    return higher


def result_dtype(*operands):
    """The dtype of an op on the operands, each a tensor or a Python number (torch.result_type)."""
    tiers = [None, None, None]  # dimensioned tensors, 0-d tensors, Python scalars
    for operand in operands:
        if isinstance(operand, TensorBase):
            tier, dtype = (0 if operand.ndim else 1), operand._dtype
        else:
            tier, dtype = 2, python_scalar_dtype(operand)
        tiers[tier] = dtype if tiers[tier] is None else promote_types(tiers[tier], dtype)
    return _combine(tiers[0], _combine(tiers[1], tiers[2]))


def result_type(tensor, other):
    """torch.result_type: the dtype of an op on a tensor (or number) and a tensor (or number)."""
    return result_dtype(tensor, other)


def can_cast(from_, to):
    """torch.can_cast: whether an op's result of dtype from_ may be written into a tensor of dtype to
    (not floating into an integer, nor a number into bool)."""
    for name, value in (("from_", from_), ("to", to)):
        if not isinstance(value, dtypes.dtype):
            raise TypeError(f"can_cast(): argument '{name}' must be minigrad.dtype, not {type(value).__name__}")
    return from_.category <= to.category
