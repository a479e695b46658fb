"""Primitives with no derivative: comparisons, logic, tests, all/any, arg-max, argsort and floor division.

Their outputs are bool, int64 or (floor division) piecewise constant, and never require grad; they
still go through Primitive.apply, so devices are checked as for every other op.
"""
import numpy as np

from minigrad.autograd.function import Primitive


class _NotDifferentiable(Primitive):
    differentiable = False
    kernel = None  # the backend method the op calls on its arguments

    @classmethod
    def compute(cls, ctx, *arrays):
        return getattr(ctx.backend, cls.kernel)(*arrays)


class Equal(_NotDifferentiable):
    kernel = "equal"


class NotEqual(_NotDifferentiable):
    kernel = "not_equal"


class Less(_NotDifferentiable):
    kernel = "less"


class LessEqual(_NotDifferentiable):
    kernel = "less_equal"


class Greater(_NotDifferentiable):
    kernel = "greater"


class GreaterEqual(_NotDifferentiable):
    kernel = "greater_equal"


class BitwiseAnd(_NotDifferentiable):
    kernel = "bitwise_and"


class BitwiseOr(_NotDifferentiable):
    kernel = "bitwise_or"


class BitwiseXor(_NotDifferentiable):
    kernel = "bitwise_xor"


class FloorDivide(_NotDifferentiable):
    """a // b (piecewise constant; PyTorch gives it no derivative either)."""
    kernel = "floor_divide"


class Invert(_NotDifferentiable):
    kernel = "invert"


class LogicalNot(_NotDifferentiable):
    kernel = "logical_not"


class IsNan(_NotDifferentiable):
    kernel = "isnan"


class IsInf(_NotDifferentiable):
    kernel = "isinf"


class All(_NotDifferentiable):
    """Whether every element over `dims` is true (dims: a normalised tuple); Any: whether one is."""
    kernel = "all"

    @classmethod
    def compute(cls, ctx, x, dims, keepdim):
        return getattr(ctx.backend, cls.kernel)(x, axis=dims, keepdims=keepdim)


class Any(All):
    kernel = "any"


class ArgExtreme(_NotDifferentiable):
    """argmax (take_max) or argmin over one normalised dim, or over all elements when dim is None."""
    float16_in_float32 = True

    @staticmethod
    def compute(ctx, x, dim, keepdim, take_max):
        b = ctx.backend
        reduce = b.argmax if take_max else b.argmin
        if dim is None:
            flat = reduce(b.reshape(x, -1))
            return b.reshape(b.asarray(flat, dtype=np.int64), (1,) * x.ndim if keepdim else ())
        return reduce(x, axis=dim, keepdims=keepdim) if x.ndim else b.zeros((), dtype=np.int64)


class Argsort(_NotDifferentiable):
    """The int64 positions that sort x along one normalised dim, stably: equal values keep their order and
    nan sorts as the largest value (sort and topk gather with them)."""

    @staticmethod
    def compute(ctx, x, dim, descending):
        if not x.ndim:
            return ctx.backend.zeros((), dtype=np.int64)
        return ctx.backend.argsort(x, dim, descending)
