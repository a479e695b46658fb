"""Convolution as three bilinear primitives that are each other's derivatives.

For x (N, C, *in), w (C_out, C/groups, *kernel) and y (N, C_out, *out), all 5-d here:

    Conv(x, w)          = y      cross-correlation (im2col, then GEMM)
    ConvTranspose(y, w) = x-like  the adjoint in x: GEMM with w^T, then col2im ("fold")
    ConvWeight(x, y)    = w-like  the adjoint in w: correlation of x with y

    <Conv(x, w), y> = <x, ConvTranspose(y, w)> = <w, ConvWeight(x, y)>

so each one's VJP is made of the other two (grad_input of a convolution *is* a transposed
convolution), each one's JVP is bilinear (op(da, b) + op(a, db)), and every derivative is itself
differentiable. Unfold and Fold (im2col and col2im on their own) are a linear adjoint pair.
"""
from minigrad.autograd.function import Function


class Conv(Function):
    @staticmethod
    def forward(ctx, x, w, geometry):
        ctx.save_for_backward(x, w)
        ctx.geometry = geometry
        return x._wrap(x._backend.conv(x._data, w._data, geometry))

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need_x, need_w, _ = ctx.needs_input_grad
        return (ConvTranspose.apply(g, w, ctx.geometry) if need_x else None,
                ConvWeight.apply(x, g, ctx.geometry) if need_w else None, None)

    @staticmethod
    def jvp(ctx, dx, dw, _):
        x, w = ctx.saved_tensors
        return Conv.apply(dx, w, ctx.geometry) + Conv.apply(x, dw, ctx.geometry)


class ConvTranspose(Function):
    @staticmethod
    def forward(ctx, y, w, geometry):
        ctx.save_for_backward(y, w)
        ctx.geometry = geometry
        return y._wrap(y._backend.conv_transpose(y._data, w._data, geometry))

    @staticmethod
    def backward(ctx, g):
        y, w = ctx.saved_tensors
        need_y, need_w, _ = ctx.needs_input_grad
        return (Conv.apply(g, w, ctx.geometry) if need_y else None,
                ConvWeight.apply(g, y, ctx.geometry) if need_w else None, None)

    @staticmethod
    def jvp(ctx, dy, dw, _):
        y, w = ctx.saved_tensors
        return ConvTranspose.apply(dy, w, ctx.geometry) + ConvTranspose.apply(y, dw, ctx.geometry)


class ConvWeight(Function):
    @staticmethod
    def forward(ctx, x, y, geometry):
        ctx.save_for_backward(x, y)
        ctx.geometry = geometry
        return x._wrap(x._backend.conv_weight(x._data, y._data, geometry))

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need_x, need_y, _ = ctx.needs_input_grad
        return (ConvTranspose.apply(y, g, ctx.geometry) if need_x else None,
                Conv.apply(x, g, ctx.geometry) if need_y else None, None)

    @staticmethod
    def jvp(ctx, dx, dy, _):
        x, y = ctx.saved_tensors
        return ConvWeight.apply(dx, y, ctx.geometry) + ConvWeight.apply(x, dy, ctx.geometry)


class Unfold(Function):
    """im2col: (N, C, *in) -> (N, C * K, L), "a list of flattened patches"."""

    @staticmethod
    def forward(ctx, x, geometry):
        ctx.geometry, ctx.channels = geometry, x.shape[1]
        return x._wrap(x._backend.unfold(x._data, geometry))

    @staticmethod
    def backward(ctx, g):
        return Fold.apply(g, ctx.channels, ctx.geometry), None

    @staticmethod
    def jvp(ctx, dx, _):
        return Unfold.apply(dx, ctx.geometry)


class Fold(Function):
    """col2im: (N, C * K, L) -> (N, C, *in), adding overlapping patches."""

    @staticmethod
    def forward(ctx, cols, channels, geometry):
        ctx.geometry, ctx.channels = geometry, channels
        return cols._wrap(cols._backend.fold(cols._data, channels, geometry))

    @staticmethod
    def backward(ctx, g):
        return Unfold.apply(g, ctx.geometry), None, None

    @staticmethod
    def jvp(ctx, dcols, _, __):
        return Fold.apply(dcols, ctx.channels, ctx.geometry)
