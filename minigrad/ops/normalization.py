"""Batch normalization's primitives over the channel dim 1 of (N, C, ...): Normalize and its VJP Project,
and the per-channel affine map with its sums.

With means m(.) per channel over every other dim, xhat = (x - m(x)) * r and r = 1 / sqrt(var + eps),
the VJP of xhat in x and its JVP are one linear map, self-adjoint (a projection scaled by r):

    P(u) = r * (u - m(u) - xhat * m(xhat * u))

Project computes P in two passes over u (its sums, then the affine map); Normalize in two over x.
ChannelAffine is x * scale + shift per channel (BatchNorm's weight and bias, or in evaluation all of it),
and its VJP in scale and shift is ChannelSums's one pass. Each rule is written with Tensor operations, P
among them, so every derivative is itself differentiable.
"""
import numpy as np

from minigrad.autograd.function import Primitive

_FLOAT64 = np.dtype(np.float64)


def _channels(t):
    """(the dims a per-channel mean reduces, the shape a (C,) tensor broadcasts with, elements per channel)."""
    return (0,) + tuple(range(2, t.ndim)), (1, t.shape[1]) + (1,) * (t.ndim - 2), t.numel() // t.shape[1]


def _inv_std(var, eps):
    return 1 / (var + eps).sqrt()


class Normalize(Primitive):
    """x (N, C, ...) normalized per channel: (out, mean, var), out = (x - mean) / sqrt(var + eps), with
    the mean and the biased variance (C,), in x's dtype (the sums in float64). All three are differentiable."""
    float16_in_float32 = True
    outputs = ("out", "mean", "var")
    saves = ("out", "var")

    @staticmethod
    def compute(ctx, x, eps):
        ctx.eps = eps
        ctx.set_materialize_grads(False)  # the mean and variance rarely get a gradient: no zeros for them
        b, count = ctx.backend, x.size // x.shape[1]
        sums, squares = b.channel_sums(x, x)
        mean = b.divide(sums, count)
        var = b.maximum(b.subtract(b.divide(squares, count), b.multiply(mean, mean)), 0.0)
        inv_std = b.divide(1.0, b.sqrt(b.add(var, eps)))
        out = b.channel_affine(x, inv_std, b.negative(b.multiply(mean, inv_std)))
        return out, b.astype(mean, x.dtype), b.astype(var, x.dtype)

    @staticmethod
    def backward(ctx, g, g_mean, g_var):
        out, var = ctx.saved_tensors
        _, shape, count = _channels(out)
        inv_std = _inv_std(var, ctx.eps)
        grad = None if g is None else Project.apply(g, out, inv_std)
        if g_mean is not None:  # x - mean = out / inv_std
            term = (g_mean / count).reshape(shape).expand(tuple(out.shape))
            grad = term if grad is None else grad + term
        if g_var is not None:
            term = out * (g_var * (2 / count) / inv_std).reshape(shape)
            grad = term if grad is None else grad + term
        return grad, None

    @staticmethod
    def jvp(ctx, dx, _):
        out, var = ctx.saved_tensors
        dims, _, _ = _channels(out)
        inv_std = _inv_std(var, ctx.eps)
        return Project.apply(dx, out, inv_std), dx.mean(dims), 2 * (out * dx).mean(dims) / inv_std


class Project(Primitive):
    """P(u) = r * (u - m(u) - xhat * m(xhat * u)) for u and xhat (N, C, ...) of one shape and r (C,):
    Normalize's VJP and JVP in x. Linear and self-adjoint in u."""
    float16_in_float32 = True
    saves = ("u", "xhat", "r")

    @staticmethod
    def compute(ctx, u, xhat, r):
        b, count = ctx.backend, u.size // u.shape[1]
        sums, products = b.channel_sums(u, xhat)
        r = b.astype(r, _FLOAT64)
        return b.channel_affine(u, r, b.negative(b.multiply(r, b.divide(sums, count))), xhat,
                                b.negative(b.multiply(r, b.divide(products, count))))

    @staticmethod
    def backward(ctx, v):
        u, xhat, r = ctx.saved_tensors
        dims, shape, _ = _channels(u)
        needs = ctx.needs_input_grad
        grad_u = Project.apply(v, xhat, r) if needs[0] else None
        grad_xhat = -r.reshape(shape) * (v * (xhat * u).mean(dims, keepdim=True)
                                         + u * (xhat * v).mean(dims, keepdim=True)) if needs[1] else None
        grad_r = (v * Project.apply(u, xhat, r.new_ones(r.shape))).sum(dims) if needs[2] else None
        return grad_u, grad_xhat, grad_r

    @staticmethod
    def jvp(ctx, du, dxhat, dr):
        u, xhat, r = ctx.saved_tensors
        dims, shape, _ = _channels(u)
        moved = -r.reshape(shape) * (dxhat * (xhat * u).mean(dims, keepdim=True)
                                     + xhat * (dxhat * u).mean(dims, keepdim=True))
        return Project.apply(du, xhat, r) + moved + dr.reshape(shape) * Project.apply(u, xhat, r.new_ones(r.shape))


class ChannelAffine(Primitive):
    """x (N, C, ...) * scale + shift, with scale and shift (C,) along dim 1, in one pass."""
    float16_in_float32 = True
    saves = ("x", "scale")

    @staticmethod
    def compute(ctx, x, scale, shift):
        return ctx.backend.channel_affine(x, scale, shift)

    @staticmethod
    def backward(ctx, g):
        x, scale = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_x = ChannelAffine.apply(g, scale, scale.new_zeros(scale.shape)) if needs[0] else None
        sums, products = ChannelSums.apply(g, x) if needs[1] or needs[2] else (None, None)
        return grad_x, products, sums

    @staticmethod
    def jvp(ctx, dx, dscale, dshift):
        x, scale = ctx.saved_tensors
        return ChannelAffine.apply(dx, scale, dshift) + ChannelAffine.apply(x, dscale, dscale.new_zeros(dscale.shape))


class ChannelSums(Primitive):
    """(sum of x, sum of x * y) per channel of x and y (N, C, ...) of one shape, (C,) each in x's dtype,
    from one pass (in float64)."""
    float16_in_float32 = True
    outputs = ("sums", "products")
    saves = ("x", "y")

    @staticmethod
    def compute(ctx, x, y):
        sums, products = ctx.backend.channel_sums(x, y)
        return ctx.backend.astype(sums, x.dtype), ctx.backend.astype(products, x.dtype)

    @staticmethod
    def backward(ctx, g_sums, g_products):
        x, y = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_x = ChannelAffine.apply(y, g_products, g_sums) if needs[0] else None
        grad_y = ChannelAffine.apply(x, g_products, g_products.new_zeros(g_products.shape)) if needs[1] else None
        return grad_x, grad_y

    @staticmethod
    def jvp(ctx, dx, dy):
        x, y = ctx.saved_tensors
        sums, products = ChannelSums.apply(dx, y)
        return sums, products + ChannelSums.apply(x, dy)[1]
