"""Elementwise primitives. Inputs arrive with one dtype and device (the Tensor layer promotes);
binary ops broadcast, and their VJPs sum the gradient back to each input's shape.

`compute` works on backend arrays; the rules on Tensors. Most JVPs are derived (see
autograd/function.py): AUTO_LINEAR (the op on the tangents), AUTO_BILINEAR, AUTO_ELEMENT_WISE
(a diagonal Jacobian: the VJP applied to the tangent), and, for binary ops declaring their partial
derivatives once, both rules from `partials` (ElementwiseBinary).
"""
import math

import numpy as np

from minigrad import _dtype as dtypes
from minigrad.autograd.function import AUTO_BILINEAR, AUTO_ELEMENT_WISE, AUTO_LINEAR, Primitive


def sum_to(grad, shape):
    """Sum `grad` down to `shape`: the VJP of broadcasting to grad.shape."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    return grad.sum(dims, keepdim=True).reshape(shape)


class ElementwiseBinary(Primitive):
    """out = f(a, b), broadcast. `partials(ctx, *saved)` gives (df/da, df/db) once; both rules follow:
    VJP (sum_to(g * df/da), sum_to(g * df/db)), JVP da * df/da + db * df/db."""
    kernel = None

    @classmethod
    def compute(cls, ctx, a, b):
        ctx.shapes = (a.shape, b.shape)
        return getattr(ctx.backend, cls.kernel)(a, b)

    @classmethod
    def backward(cls, ctx, g):
        d_a, d_b = cls.partials(ctx, *ctx.saved_tensors)
        return sum_to(g * d_a, ctx.shapes[0]), sum_to(g * d_b, ctx.shapes[1])

    @classmethod
    def jvp(cls, ctx, da, db):
        d_a, d_b = cls.partials(ctx, *ctx.saved_tensors)
        return da * d_a + db * d_b


class Add(Primitive):
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, a, b):
        ctx.shapes = (a.shape, b.shape)
        return ctx.backend.add(a, b)

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.shapes[0]), sum_to(g, ctx.shapes[1])


class Sub(Primitive):
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, a, b):
        ctx.shapes = (a.shape, b.shape)
        return ctx.backend.subtract(a, b)

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.shapes[0]), sum_to(-g, ctx.shapes[1])


class Mul(Primitive):
    saves = ("a", "b")
    jvp = AUTO_BILINEAR

    @staticmethod
    def compute(ctx, a, b):
        return ctx.backend.multiply(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (sum_to(g * b, a.shape) if need_a else None,
                sum_to(g * a, b.shape) if need_b else None)


class Div(Primitive):
    saves = ("a", "b")

    @staticmethod
    def compute(ctx, a, b):
        return ctx.backend.divide(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (sum_to(g / b, a.shape) if need_a else None,
                sum_to(-g * a / (b * b), b.shape) if need_b else None)

    @staticmethod
    def jvp(ctx, da, db):
        a, b = ctx.saved_tensors
        return da / b - db * a / (b * b)


class Pow(ElementwiseBinary):
    """a ** b for two tensors. d/db is taken as 0 where a == 0, as PyTorch does."""
    kernel = "power"
    saves = ("a", "b", "out")

    @staticmethod
    def partials(ctx, a, b, out):
        zero = a.new_zeros(())
        d_base = Where.apply(b == 0, zero, b * a ** (b - 1))  # 0 at b == 0 (no 0 * inf at a == 0)
        d_exponent = Where.apply(a == 0, zero, out * a.log())
        return d_base, d_exponent


class Maximum(ElementwiseBinary):
    """Elementwise max; on a tie each input gets half the gradient, as in PyTorch."""
    kernel = "maximum"
    saves = ("a", "b")

    @classmethod
    def partials(cls, ctx, a, b):
        wins = (a > b) if cls.kernel == "maximum" else (a < b)
        weight = wins.to(a.dtype) + (a == b).to(a.dtype) * 0.5
        return weight, 1 - weight


class Minimum(Maximum):
    kernel = "minimum"


class Remainder(ElementwiseBinary):
    """a % b with the sign of b (Python's and PyTorch's convention)."""
    kernel = "remainder"
    saves = ("a", "b")

    @staticmethod
    def partials(ctx, a, b):
        return a.new_ones(()), -(a / b).floor()


class SigmoidBackward(ElementwiseBinary):
    """g * y * (1 - y), fused (a sigmoid's VJP and JVP). Its own rules keep it differentiable."""
    float16_in_float32 = True
    kernel = "sigmoid_backward"
    saves = ("a", "b")  # g and y

    @staticmethod
    def partials(ctx, g, y):
        return y * (1 - y), g * (1 - 2 * y)


class ReluBackward(ElementwiseBinary):
    """0 where y <= 0, else g, fused (ReLU's VJP); y is the ReLU's output. Linear in g, flat in y."""
    float16_in_float32 = True
    kernel = "relu_backward"
    saves = ("b",)  # y

    @staticmethod
    def partials(ctx, y):
        mask = 1 - (y <= 0).to(y.dtype)
        return mask, mask * 0


class Where(Primitive):
    saves = ("condition",)
    jvp = AUTO_LINEAR  # linear in a and b; the condition passes as it is

    @staticmethod
    def compute(ctx, condition, a, b):
        ctx.shapes = (a.shape, b.shape)
        return ctx.backend.where(condition, a, b)

    @staticmethod
    def backward(ctx, g):
        condition, = ctx.saved_tensors
        zero = g.new_zeros(())
        return (None, sum_to(Where.apply(condition, g, zero), ctx.shapes[0]),
                sum_to(Where.apply(condition, zero, g), ctx.shapes[1]))


class PowScalar(Primitive):
    """x ** c for a Python number c."""
    saves = ("x",)
    jvp = AUTO_ELEMENT_WISE

    @staticmethod
    def compute(ctx, x, c):
        ctx.c = c
        return ctx.backend.power(x, x.dtype.type(c))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * (x.new_zeros(()) if ctx.c == 0 else ctx.c * x ** (ctx.c - 1)), None


class Neg(Primitive):
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, x):
        return ctx.backend.negative(x)

    @staticmethod
    def backward(ctx, g):
        return -g


class Unary(Primitive):
    """y = f(x) by the backend method `kernel`; the VJP is g * f'(x), so the JVP is derived."""
    kernel = None
    jvp = AUTO_ELEMENT_WISE

    @classmethod
    def compute(cls, ctx, x):
        return getattr(ctx.backend, cls.kernel)(x)


class _PiecewiseConstant(Unary):
    """floor, sign: the derivative is zero wherever it exists."""

    @staticmethod
    def backward(ctx, g):
        return g.new_zeros(g.shape)


class Floor(_PiecewiseConstant):
    kernel = "floor"


class Sign(_PiecewiseConstant):
    kernel = "sign"


class Exp(Unary):
    kernel, saves = "exp", ("out",)

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * y


class Log(Unary):
    kernel, saves = "log", ("x",)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / x


class Sqrt(Unary):
    kernel, saves = "sqrt", ("out",)

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g / (2 * y)


class Sin(Unary):
    kernel, saves = "sin", ("x",)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * x.cos()


class Cos(Unary):
    kernel, saves = "cos", ("x",)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return -g * x.sin()


class Tanh(Unary):
    kernel, saves = "tanh", ("out",)

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * (1 - y * y)


class Sigmoid(Unary):
    float16_in_float32 = True
    kernel, saves = "sigmoid", ("out",)

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return SigmoidBackward.apply(g, y)


class Erf(Unary):
    float16_in_float32 = True
    kernel, saves = "erf", ("x",)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * ((-(x * x)).exp() * (2 / math.sqrt(math.pi)))


class Abs(Unary):
    kernel, saves = "abs", ("x",)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * x.sign()


class Relu(Unary):
    kernel, saves = "relu", ("out",)

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return ReluBackward.apply(g, y)


class Clamp(Primitive):
    """clamp(x, min, max) with Python-number bounds; the gradient passes where min <= x <= max."""
    saves = ("x",)
    jvp = AUTO_ELEMENT_WISE

    @staticmethod
    def compute(ctx, x, low, high):
        ctx.bounds = (low, high)
        return ctx.backend.clip(x, low, high)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        low, high = ctx.bounds
        inside = None
        if low is not None:
            inside = x >= low
        if high is not None:
            inside = (x <= high) if inside is None else inside & (x <= high)
        return g * inside.to(x.dtype), None, None


class Cast(Primitive):
    """x.to(dtype). Only floating dtypes carry gradients."""
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, x, dtype):
        ctx.source = dtypes.BY_NUMPY[x.dtype]
        if x.dtype.kind == "f" and dtype.category == 1 and dtype.itemsize < 8:
            x = ctx.backend.astype(x, np.int64)  # truncate, then wrap into the narrower integer, as PyTorch
        return ctx.backend.astype(x, dtype.numpy)

    @staticmethod
    def backward(ctx, g):
        return g.to(ctx.source), None
