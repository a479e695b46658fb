"""Average pooling and padding as linear primitives, each paired with its adjoint.

WindowMean averages windows given by per-axis [start, end) ranges and a divisor per output
(avg_pool, adaptive_avg_pool); its VJP spreads each gradient over its window (1/Q each).
Pad reads the input through one index map per axis (every padding mode is a different map);
its VJP adds each output back where it came from. MaxPool finds each window's max and its
arg-max in one pass, and routes gradients and tangents through the arg-max; adaptive max pooling's
WindowMaxIndices finds the arg-max only, and Gather reads the values (see nn.functional).
"""
import functools

from minigrad.autograd.function import AUTO_LINEAR, Primitive
from minigrad.ops.elementwise import Where
from minigrad.ops.reduction import Gather, ScatterAlong


class MaxPool(Primitive):
    """x (N, C, H, W)'s windows in one pass: each one's max, and the flat plane position of its first max
    (non-differentiable). A window wholly in the padding gives -inf, index -1 and no gradient. The VJP
    adds each gradient at its arg-max (ScatterAlong), the JVP reads the tangent there (Gather)."""
    float16_in_float32 = True
    outputs = ("out", "indices")
    saves = ("indices",)
    non_differentiable = ("indices",)

    @staticmethod
    def compute(ctx, x, kernel, stride, padding, dilation, out_size):
        ctx.size = x.shape
        ctx.has_empty = _has_empty_window(x.shape[2:], kernel, stride, padding, dilation, out_size)
        return ctx.backend.max_pool(x, kernel, stride, padding, dilation, out_size)

    @staticmethod
    def backward(ctx, g, _):
        indices, = ctx.saved_tensors
        n_batch, channels, height, width = ctx.size
        flat, inside = _argmax_positions(indices, ctx.has_empty)
        g = g.reshape(flat.shape)
        if inside is not None:
            g = Where.apply(inside, g, g.new_zeros(()))
        grad = ScatterAlong.apply(g, flat, 2, (n_batch, channels, height * width))
        return (grad.reshape(ctx.size),) + (None,) * 5

    @staticmethod
    def jvp(ctx, dx, *_):
        indices, = ctx.saved_tensors
        flat, inside = _argmax_positions(indices, ctx.has_empty)
        tangent = Gather.apply(dx.reshape(dx.shape[0], dx.shape[1], -1), flat, 2)
        if inside is not None:
            tangent = Where.apply(inside, tangent, tangent.new_zeros(()))
        return tangent.reshape(indices.shape), None


def _argmax_positions(indices, has_empty):
    """indices (N, C, ...) flattened to (N, C, L), and None; with windows in the padding, their -1 made 0,
    and the mask of the windows that are not."""
    flat = indices.reshape(indices.shape[0], indices.shape[1], -1)
    if not has_empty:
        return flat, None
    return flat.clamp(min=0), flat >= 0


@functools.lru_cache(maxsize=256)
def _has_empty_window(size, kernel, stride, padding, dilation, out_size):
    """Whether some max-pooling window lies wholly in the padding (from the geometry alone)."""
    return any(all(not 0 <= o * s - p + a * d < n for a in range(k)) for n, k, s, p, d, out in
               zip(size, kernel, stride, padding, dilation, out_size) for o in range(out))


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
