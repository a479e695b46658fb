"""Average pooling and padding as linear primitives, each paired with its adjoint.

WindowMean averages windows given by per-axis [start, end) ranges and a divisor per output
(avg_pool, adaptive_avg_pool); its VJP spreads each gradient over its window (1/Q each).
Pad reads the input through one index map per axis (every padding mode is a different map);
its VJP adds each output back where it came from. Max pooling needs no differentiable primitive of
its own: MaxPoolIndices or WindowMaxIndices finds the arg-max and Gather routes values and tangents
from it (see nn.functional).
"""
from minigrad.autograd.function import AUTO_LINEAR, Primitive


class MaxPoolIndices(Primitive):
    """Flat plane position of each window's first max, for x (N, C, H, W); -1 for a window in the padding."""
    float16_in_float32 = True
    differentiable = False

    @staticmethod
    def compute(ctx, x, kernel, stride, padding, dilation, out_size):
        return ctx.backend.max_pool_indices(x, kernel, stride, padding, dilation, out_size)


class WindowMaxIndices(Primitive):
    """Flat plane position of each window's first max, windows given as per-axis [start, end) ranges."""
    float16_in_float32 = True
    differentiable = False

    @staticmethod
    def compute(ctx, x, windows):
        return ctx.backend.window_max_indices(x, windows)


class WindowMean(Primitive):
    float16_in_float32 = True
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, x, windows):
        ctx.windows, ctx.size = windows, x.shape[2:]
        return ctx.backend.window_mean(x, windows)

    @staticmethod
    def backward(ctx, g):
        return WindowMeanAdjoint.apply(g, ctx.windows, ctx.size), None


class WindowMeanAdjoint(Primitive):
    float16_in_float32 = True
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, g, windows, size):
        ctx.windows = windows
        return ctx.backend.window_mean_adjoint(g, windows, *size)

    @staticmethod
    def backward(ctx, gg):
        return WindowMean.apply(gg, ctx.windows), None, None


class Pad(Primitive):
    """x (P, D, H, W) read through index maps (one per axis, -1 for `value`). Affine, not linear, in x
    when value != 0: the JVP pads with zeros."""
    float16_in_float32 = True

    @staticmethod
    def compute(ctx, x, maps, value):
        ctx.maps, ctx.size = maps, x.shape[1:]
        return ctx.backend.pad_gather(x, maps, value)

    @staticmethod
    def backward(ctx, g):
        return PadAdjoint.apply(g, ctx.maps, ctx.size), None, None

    @staticmethod
    def jvp(ctx, dx, _, __):
        return Pad.apply(dx, ctx.maps, 0.0)


class PadAdjoint(Primitive):
    float16_in_float32 = True
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, g, maps, size):
        ctx.maps = maps
        return ctx.backend.pad_scatter_add(g, maps, size)

    @staticmethod
    def backward(ctx, gg):
        return Pad.apply(gg, ctx.maps, 0.0), None, None
