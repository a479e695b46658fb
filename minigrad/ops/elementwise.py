"""Elementwise primitives. Inputs arrive with one dtype and device (the Tensor layer promotes);
binary ops broadcast, and their VJPs sum the gradient back to each input's shape."""
import math

from minigrad.autograd.function import Function


def sum_to(grad, shape):
    """Sum `grad` down to `shape`: the VJP of broadcasting to grad.shape."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    return grad.sum(dims, keepdim=True).reshape(shape)


def _unary(x, name, *args):
    return x._wrap(getattr(x._backend, name)(x._data, *args))


def _binary(a, b, name):
    return a._wrap(getattr(a._backend, name)(a._data, b._data))


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (a.shape, b.shape)
        return _binary(a, b, "add")

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.shapes[0]), sum_to(g, ctx.shapes[1])

    @staticmethod
    def jvp(ctx, da, db):
        return da + db


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (a.shape, b.shape)
        return _binary(a, b, "subtract")

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.shapes[0]), sum_to(-g, ctx.shapes[1])

    @staticmethod
    def jvp(ctx, da, db):
        return da - db


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _binary(a, b, "multiply")

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (sum_to(g * b, a.shape) if need_a else None,
                sum_to(g * a, b.shape) if need_b else None)

    @staticmethod
    def jvp(ctx, da, db):
        a, b = ctx.saved_tensors
        return da * b + a * db


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _binary(a, b, "divide")

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


class Pow(Function):
    """a ** b for two tensors. d/db is taken as 0 where a == 0, as PyTorch does."""

    @staticmethod
    def forward(ctx, a, b):
        out = _binary(a, b, "power")
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def _partials(a, b, out):
        zero = a.new_zeros(())
        d_base = Where.apply(b == 0, zero, b * a ** (b - 1))  # 0 at b == 0 (no 0 * inf at a == 0)
        d_exponent = Where.apply(a == 0, zero, out * a.log())
        return d_base, d_exponent

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        da, db = Pow._partials(a, b, out)
        return sum_to(g * da, a.shape), sum_to(g * db, b.shape)

    @staticmethod
    def jvp(ctx, ta, tb):
        a, b, out = ctx.saved_tensors
        da, db = Pow._partials(a, b, out)
        return ta * da + tb * db


class PowScalar(Function):
    """x ** c for a Python number c."""

    @staticmethod
    def forward(ctx, x, c):
        ctx.save_for_backward(x)
        ctx.c = c
        return x._wrap(x._backend.power(x._data, x._dtype.numpy.type(c)))

    @staticmethod
    def _derivative(ctx, x):
        return x.new_zeros(()) if ctx.c == 0 else ctx.c * x ** (ctx.c - 1)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * PowScalar._derivative(ctx, x), None

    @staticmethod
    def jvp(ctx, dx, _):
        x, = ctx.saved_tensors
        return dx * PowScalar._derivative(ctx, x)


class Maximum(Function):
    """Elementwise max; on a tie each input gets half the gradient, as in PyTorch."""

    @staticmethod
    def forward(ctx, a, b, take_max):
        ctx.save_for_backward(a, b)
        ctx.take_max = take_max
        return _binary(a, b, "maximum" if take_max else "minimum")

    @staticmethod
    def _weight_of_a(ctx, a, b):
        wins = (a > b) if ctx.take_max else (a < b)
        return wins.to(a.dtype) + (a == b).to(a.dtype) * 0.5

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        weight = Maximum._weight_of_a(ctx, a, b)
        return sum_to(g * weight, a.shape), sum_to(g * (1 - weight), b.shape), None

    @staticmethod
    def jvp(ctx, da, db, _):
        a, b = ctx.saved_tensors
        weight = Maximum._weight_of_a(ctx, a, b)
        return da * weight + db * (1 - weight)


class Where(Function):
    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.save_for_backward(condition)
        ctx.shapes = (a.shape, b.shape)
        return a._wrap(a._backend.where(condition._data, a._data, b._data))

    @staticmethod
    def backward(ctx, g):
        condition, = ctx.saved_tensors
        zero = g.new_zeros(())
        return (None, sum_to(Where.apply(condition, g, zero), ctx.shapes[0]),
                sum_to(Where.apply(condition, zero, g), ctx.shapes[1]))

    @staticmethod
    def jvp(ctx, _, da, db):
        condition, = ctx.saved_tensors
        return Where.apply(condition, da, db)


class Remainder(Function):
    """a % b with the sign of b (Python's and PyTorch's convention)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _binary(a, b, "remainder")

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return sum_to(g, a.shape), sum_to(-g * (a / b).floor(), b.shape)

    @staticmethod
    def jvp(ctx, da, db):
        a, b = ctx.saved_tensors
        return da - db * (a / b).floor()


class Neg(Function):
    @staticmethod
    def forward(ctx, x):
        return _unary(x, "negative")

    @staticmethod
    def backward(ctx, g):
        return -g

    @staticmethod
    def jvp(ctx, dx):
        return -dx


class _PiecewiseConstant(Function):
    """floor, sign: the derivative is zero wherever it exists."""
    kernel = None

    @classmethod
    def forward(cls, ctx, x):
        return _unary(x, cls.kernel)

    @staticmethod
    def backward(ctx, g):
        return g._zeros_like()

    @staticmethod
    def jvp(ctx, dx):
        return dx._zeros_like()


class Floor(_PiecewiseConstant):
    kernel = "floor"


class Sign(_PiecewiseConstant):
    kernel = "sign"


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        y = _unary(x, "exp")
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * y

    @staticmethod
    def jvp(ctx, dx):
        y, = ctx.saved_tensors
        return dx * y


class Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _unary(x, "log")

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / x

    @staticmethod
    def jvp(ctx, dx):
        x, = ctx.saved_tensors
        return dx / x


class Sqrt(Function):
    @staticmethod
    def forward(ctx, x):
        y = _unary(x, "sqrt")
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g / (2 * y)

    @staticmethod
    def jvp(ctx, dx):
        y, = ctx.saved_tensors
        return dx / (2 * y)


class Sin(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _unary(x, "sin")

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * x.cos()

    @staticmethod
    def jvp(ctx, dx):
        x, = ctx.saved_tensors
        return dx * x.cos()


class Cos(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _unary(x, "cos")

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return -g * x.sin()

    @staticmethod
    def jvp(ctx, dx):
        x, = ctx.saved_tensors
        return -dx * x.sin()


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        y = _unary(x, "tanh")
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * (1 - y * y)

    @staticmethod
    def jvp(ctx, dx):
        y, = ctx.saved_tensors
        return dx * (1 - y * y)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        y = _unary(x, "sigmoid")
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return SigmoidBackward.apply(g, y)

    @staticmethod
    def jvp(ctx, dx):
        y, = ctx.saved_tensors
        return SigmoidBackward.apply(dx, y)


class SigmoidBackward(Function):
    """g * y * (1 - y), fused (a sigmoid's VJP and JVP). Its own rules keep it differentiable."""

    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(g, y)
        return g._wrap(g._backend.sigmoid_backward(g._data, y._data))

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        need_g, need_y = ctx.needs_input_grad
        return (sum_to(gg * y * (1 - y), g.shape) if need_g else None,
                sum_to(gg * g * (1 - 2 * y), y.shape) if need_y else None)

    @staticmethod
    def jvp(ctx, dg, dy):
        g, y = ctx.saved_tensors
        return dg * y * (1 - y) + g * (1 - 2 * y) * dy


class Erf(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _unary(x, "erf")

    @staticmethod
    def _derivative(x):
        return (-(x * x)).exp() * (2 / math.sqrt(math.pi))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * Erf._derivative(x)

    @staticmethod
    def jvp(ctx, dx):
        x, = ctx.saved_tensors
        return dx * Erf._derivative(x)


class Abs(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _unary(x, "abs")

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * x.sign()

    @staticmethod
    def jvp(ctx, dx):
        x, = ctx.saved_tensors
        return dx * x.sign()


class Clamp(Function):
    """clamp(x, min, max) with Python-number bounds; the gradient passes where min <= x <= max."""

    @staticmethod
    def forward(ctx, x, low, high):
        ctx.save_for_backward(x)
        ctx.bounds = (low, high)
        return _unary(x, "clip", low, high)

    @staticmethod
    def _mask(ctx, x):
        low, high = ctx.bounds
        inside = None
        if low is not None:
            inside = x >= low
        if high is not None:
            inside = (x <= high) if inside is None else inside & (x <= high)
        return inside.to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * Clamp._mask(ctx, x), None, None

    @staticmethod
    def jvp(ctx, dx, _, __):
        x, = ctx.saved_tensors
        return dx * Clamp._mask(ctx, x)


class Relu(Function):
    @staticmethod
    def forward(ctx, x):
        y = _unary(x, "relu")
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * (y > 0).to(g.dtype)

    @staticmethod
    def jvp(ctx, dx):
        y, = ctx.saved_tensors
        return dx * (y > 0).to(dx.dtype)


class Cast(Function):
    """x.to(dtype). Only floating dtypes carry gradients."""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.source, ctx.target = x.dtype, dtype
        return x._wrap(x._backend.astype(x._data, dtype.numpy))

    @staticmethod
    def backward(ctx, g):
        return g.to(ctx.source), None

    @staticmethod
    def jvp(ctx, dx, _):
        return dx.to(ctx.target)
