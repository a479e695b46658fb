"""Convolution as three bilinear primitives that are each other's derivatives.

For x (N, C, *in), w (C_out, C/groups, *kernel) and y (N, C_out, *out), 1-, 2- or 3-d (the geometry
gives the sizes as (depth, height, width) triples; compute hands the backend 5-d views):

    Conv(x, w)          = y      cross-correlation (im2col, then GEMM; a bias may ride along)
    ConvTranspose(y, w) = x-like  the adjoint in x: GEMM with w^T, then col2im ("fold")
    ConvWeight(x, y)    = w-like  the adjoint in w: correlation of x with y

    <Conv(x, w), y> = <x, ConvTranspose(y, w)> = <w, ConvWeight(x, y)>

so each one's VJP is made of the other two (grad_input of a convolution *is* a transposed
convolution), each one's JVP is bilinear (op(da, b) + op(a, db)), and every derivative is itself
differentiable. Unfold and Fold (im2col and col2im on their own) are a linear adjoint pair.
"""
import math

from minigrad.autograd.function import AUTO_BILINEAR, AUTO_LINEAR, Primitive
from minigrad.ops.elementwise import ReluBackward, SigmoidBackward
from minigrad.ops.pool import WindowMean, WindowMeanAdjoint


def _in_5d(backend, a, size):
    """a (N, C, *spatial) 1-, 2- or 3-d, as the backend's 5-d (N, C, D, H, W): size (D, H, W) has 1s in front."""
    return backend.reshape(a, tuple(a.shape[:2]) + tuple(size))


def _in_nd(backend, a, size, ndim):
    """A backend's 5-d result back in the operands' ndim: the last ndim - 2 entries of size."""
    return backend.reshape(a, tuple(a.shape[:2]) + tuple(size)[5 - ndim:])


class Conv(Primitive):
    """Conv(x, w) (+ bias, one per output channel, added in the kernel's own pass): bilinear in (x, w)."""
    float16_in_float32 = True
    saves = ("x", "w")

    @staticmethod
    def compute(ctx, x, w, geometry, bias=None):
        ctx.geometry, ctx.biased = geometry, bias is not None
        b = ctx.backend
        out = b.conv(_in_5d(b, x, geometry.in_size), _in_5d(b, w, geometry.kernel), geometry, bias)
        return _in_nd(b, out, geometry.out_size, x.ndim)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        grads = _conv_grads(ctx, x, w, g)
        return grads if ctx.biased else grads[:3]

    @staticmethod
    def jvp(ctx, dx, dw, _, db=None):
        x, w = ctx.saved_tensors
        return _conv_tangent(ctx, x, w, dx, dw, db)


def _conv_grads(ctx, x, w, g):
    """Conv's VJP at output gradient g: the gradients in (x, w, geometry, bias)."""
    need = ctx.needs_input_grad
    return (ConvTranspose.apply(g, w, ctx.geometry) if need[0] else None,
            ConvWeight.apply(x, g, ctx.geometry) if need[1] else None, None,
            g.sum((0,) + tuple(range(2, g.ndim))) if len(need) > 3 and need[3] else None)


def _conv_tangent(ctx, x, w, dx, dw, db):
    """Conv's JVP: bilinear in (x, w), plus the bias's tangent."""
    out = Conv.apply(dx, w, ctx.geometry) + Conv.apply(x, dw, ctx.geometry)
    return out if db is None else out + db.reshape((1, -1) + (1,) * (out.ndim - 2))


ACTIVATION_RULES = {"relu": ReluBackward, "sigmoid": SigmoidBackward}  # VJP and JVP, from the output y


class ConvActivation(Primitive):
    """activation(Conv(x, w) + bias), "relu" or "sigmoid", in the convolution's pass where the backend can
    (nn.Sequential's Conv -> ReLU or Sigmoid). Both rules chain the activation's, from the output y, with
    Conv's."""
    float16_in_float32 = True
    saves = ("x", "w", "out")

    @staticmethod
    def compute(ctx, x, w, geometry, bias, activation):
        ctx.geometry, ctx.rule = geometry, ACTIVATION_RULES[activation]
        b = ctx.backend
        out = b.conv(_in_5d(b, x, geometry.in_size), _in_5d(b, w, geometry.kernel), geometry, bias, activation)
        return _in_nd(b, out, geometry.out_size, x.ndim)

    @staticmethod
    def backward(ctx, g):
        x, w, y = ctx.saved_tensors
        return _conv_grads(ctx, x, w, ctx.rule.apply(g, y)) + (None,)

    @staticmethod
    def jvp(ctx, dx, dw, _, db, __):
        x, w, y = ctx.saved_tensors
        return ctx.rule.apply(_conv_tangent(ctx, x, w, dx, dw, db), y)


class ConvActivationPool(Primitive):
    """WindowMean(ConvActivation(x, w, bias), windows) of 2-d maps (N, C, H, W), in one pass where the
    backend can, which stores neither the convolution nor the activation: nn.Sequential's Conv2d -> ReLU
    or Sigmoid -> AvgPool2d when nothing is recorded (inference). The rules recompute the activation y, then
    chain WindowMean's with ConvActivation's."""
    float16_in_float32 = True
    saves = ("x", "w", "bias")

    @staticmethod
    def compute(ctx, x, w, geometry, bias, activation, windows):
        ctx.geometry, ctx.activation, ctx.windows = geometry, activation, windows
        b = ctx.backend
        out = b.conv(_in_5d(b, x, geometry.in_size), _in_5d(b, w, geometry.kernel), geometry, bias, activation,
                     windows)
        return b.reshape(out, tuple(out.shape[:2]) + tuple(out.shape[3:]))

    @staticmethod
    def backward(ctx, g):
        x, w, y = _recompute_activation(ctx)
        gy = WindowMeanAdjoint.apply(g, ctx.windows, tuple(y.shape[2:]))
        return _conv_grads(ctx, x, w, ACTIVATION_RULES[ctx.activation].apply(gy, y)) + (None, None)

    @staticmethod
    def jvp(ctx, dx, dw, _, db, __, ___):
        x, w, y = _recompute_activation(ctx)
        return WindowMean.apply(ACTIVATION_RULES[ctx.activation].apply(_conv_tangent(ctx, x, w, dx, dw, db), y),
                                ctx.windows)


class ConvTranspose(Primitive):
    float16_in_float32 = True
    saves = ("y", "w")
    jvp = AUTO_BILINEAR

    @staticmethod
    def compute(ctx, y, w, geometry):
        ctx.geometry = geometry
        b = ctx.backend
        out = b.conv_transpose(_in_5d(b, y, geometry.out_size), _in_5d(b, w, geometry.kernel), geometry)
        return _in_nd(b, out, geometry.in_size, y.ndim)

    @staticmethod
    def backward(ctx, g):
        y, w = ctx.saved_tensors
        need_y, need_w, _ = ctx.needs_input_grad
        return (Conv.apply(g, w, ctx.geometry) if need_y else None,
                ConvWeight.apply(g, y, ctx.geometry) if need_w else None, None)


class ConvWeight(Primitive):
    float16_in_float32 = True
    saves = ("x", "y")
    jvp = AUTO_BILINEAR

    @staticmethod
    def compute(ctx, x, y, geometry):
        ctx.geometry = geometry
        b = ctx.backend
        out = b.conv_weight(_in_5d(b, x, geometry.in_size), _in_5d(b, y, geometry.out_size), geometry)
        return _in_nd(b, out, geometry.kernel, x.ndim)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need_x, need_y, _ = ctx.needs_input_grad
        return (ConvTranspose.apply(y, g, ctx.geometry) if need_x else None,
                Conv.apply(x, g, ctx.geometry) if need_y else None, None)


def _recompute_activation(ctx):
    """(x, w, ConvActivation's output y) of a ConvActivationPool."""
    x, w, bias = ctx.saved_tensors
    return x, w, ConvActivation.apply(x, w, ctx.geometry, bias, ctx.activation)


class Unfold(Primitive):
    """im2col: (N, C, *in) -> (N, C * K, L), "a list of flattened patches"."""
    float16_in_float32 = True
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, x, geometry):
        ctx.geometry, ctx.channels = geometry, x.shape[1]
        cols = ctx.backend.empty((x.shape[0], x.shape[1] * math.prod(geometry.kernel), math.prod(geometry.out_size)),
                                 x.dtype)
        ctx.backend.im2col(x, geometry, cols)
        return cols

    @staticmethod
    def backward(ctx, g):
        return Fold.apply(g, ctx.channels, ctx.geometry), None


class Fold(Primitive):
    """col2im: (N, C * K, L) -> (N, C, *in), adding overlapping patches."""
    float16_in_float32 = True
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, cols, channels, geometry):
        ctx.geometry = geometry
        return ctx.backend.col2im(ctx.backend.contiguous(cols), geometry, channels)

    @staticmethod
    def backward(ctx, g):
        return Unfold.apply(g, ctx.geometry), None, None
