"""Type promotion, PyTorch's rules: dimensioned tensors > 0-d tensors > Python scalars; within a tier the
higher category (bool < int < float) wins, then the wider dtype. Rules on dtypes only: converting the
operands is the Tensor facade's job (minigrad/tensor.py)."""
import builtins
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


def result_dtype(a, b):
    """The dtype of a binary op on a and b, each a tensor or a Python number."""
    tiers = ([], [], [])  # dimensioned tensors, 0-d tensors, Python scalars
    for operand in (a, b):
        if isinstance(operand, TensorBase):
            tiers[0 if operand.ndim else 1].append(operand._dtype)
        else:
            tiers[2].append(python_scalar_dtype(operand))
    result = None
    for tier in tiers[:2]:
        if tier:
            best = builtins.max(tier, key=lambda d: (d.category, d.itemsize))
            if result is None or best.category > result.category:
                result = best
    if tiers[2]:
        best = builtins.max(tiers[2], key=lambda d: d.category)
        if result is None or best.category > result.category:
            result = best
    return result
