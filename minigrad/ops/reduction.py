"""Reductions and normalisations. `dims` arrive as a normalised tuple of non-negative ints."""
from minigrad.autograd.function import AUTO_LINEAR, AUTO_SYMMETRIC, Primitive
from minigrad.ops.elementwise import Where


def _integer(array):
    return array.dtype.kind != "f"


def kept_shape(shape, dims):
    """`shape` with every reduced dim set to 1 (what keepdim=True gives)."""
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


def _expand_back(g, shape, dims, keepdim):
    """Broadcast a reduced gradient back over the reduced dims."""
    if not keepdim:
        g = g.reshape(kept_shape(shape, dims))
    return g.expand(shape)


class Sum(Primitive):
    float16_in_float32 = True
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, x, dims, keepdim):
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        return ctx.backend.sum(x, axis=dims, keepdims=keepdim, dtype="int64" if _integer(x) else None)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim), None, None


class Prod(Primitive):
    """Product over `dims`; the gradient is the product of the *other* elements, zeros included."""
    saves = ("x", "out")

    @staticmethod
    def compute(ctx, x, dims, keepdim):
        ctx.dims, ctx.keepdim = dims, keepdim
        return ctx.backend.prod(x, axis=dims, keepdims=keepdim, dtype="int64" if _integer(x) else None)

    @staticmethod
    def _product_of_others(ctx, x, out):
        out = _expand_back(out, x.shape, ctx.dims, ctx.keepdim)
        zero, one = x.new_zeros(()), x.new_ones(())
        is_zero = x == 0
        nonzero = Where.apply(is_zero, one, x)
        nonzero_prod = _expand_back(nonzero.prod(ctx.dims, keepdim=True), x.shape, ctx.dims, True)
        zero_count = _expand_back(is_zero.sum(ctx.dims, keepdim=True), x.shape, ctx.dims, True)
        at_zero = Where.apply(zero_count == 1, nonzero_prod, zero)
        return Where.apply(is_zero, at_zero, out / nonzero)

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        others = Prod._product_of_others(ctx, x, out)
        return _expand_back(g, x.shape, ctx.dims, ctx.keepdim) * others, None, None

    @staticmethod
    def jvp(ctx, dx, _, __):
        x, out = ctx.saved_tensors
        return (Prod._product_of_others(ctx, x, out) * dx).sum(ctx.dims, keepdim=ctx.keepdim)


class Amax(Primitive):
    """max over `dims` without indices; ties share the gradient evenly, as in PyTorch."""
    float16_in_float32 = True
    kernel = "amax"
    saves = ("x", "out")

    @classmethod
    def compute(cls, ctx, x, dims, keepdim):
        ctx.dims, ctx.keepdim = dims, keepdim
        return getattr(ctx.backend, cls.kernel)(x, axis=dims, keepdims=keepdim)

    @staticmethod
    def _weights(ctx, x, out):
        hits = (x == _expand_back(out, x.shape, ctx.dims, ctx.keepdim)).to(x.dtype)
        return hits / hits.sum(ctx.dims, keepdim=True)

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        g = _expand_back(g, x.shape, ctx.dims, ctx.keepdim)
        return g * Amax._weights(ctx, x, out), None, None

    @staticmethod
    def jvp(ctx, dx, *_):
        x, out = ctx.saved_tensors
        return (dx * Amax._weights(ctx, x, out)).sum(ctx.dims, keepdim=ctx.keepdim)


class Amin(Amax):
    kernel = "amin"


class MaxDim(Primitive):
    """(values, indices) of the max (or min) along one dim; the gradient goes to the first arg-max."""
    float16_in_float32 = True
    outputs = ("values", "indices")
    non_differentiable = ("indices",)
    saves = ("indices",)

    @staticmethod
    def compute(ctx, x, dim, keepdim, take_max):
        ctx.dim, ctx.keepdim, ctx.shape = dim, keepdim, x.shape
        values, indices = ctx.backend.max_with_indices(x, dim, take_max)
        if keepdim:
            kept = values.shape[:dim] + (1,) + values.shape[dim:]
            values, indices = ctx.backend.reshape(values, kept), ctx.backend.reshape(indices, kept)
        return values, indices

    @staticmethod
    def _kept(ctx, t):
        return t if ctx.keepdim else t.unsqueeze(ctx.dim)

    @staticmethod
    def backward(ctx, g, _):
        indices, = ctx.saved_tensors
        return ScatterAlong.apply(MaxDim._kept(ctx, g), MaxDim._kept(ctx, indices), ctx.dim, ctx.shape), \
            None, None, None

    @staticmethod
    def jvp(ctx, dx, *_):
        indices, = ctx.saved_tensors
        values = Gather.apply(dx, MaxDim._kept(ctx, indices), ctx.dim)
        return values if ctx.keepdim else values.squeeze(ctx.dim), None


class Gather(Primitive):
    """out[..., i, ...] = x[..., index[..., i, ...], ...] along `dim` (torch.gather)."""
    float16_in_float32 = True
    saves = ("index",)
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, x, index, dim):
        ctx.dim, ctx.shape = dim, x.shape
        return ctx.backend.take_along_axis(x, index, dim)

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        return ScatterAlong.apply(g, index, ctx.dim, ctx.shape), None, None


class ScatterAlong(Primitive):
    """zeros(shape) with `values` added at `index` along `dim`: Gather's adjoint."""
    float16_in_float32 = True
    saves = ("index",)
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, values, index, dim, shape):
        ctx.dim = dim
        return ctx.backend.scatter_add_along_axis(shape, index, values, dim)

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        return Gather.apply(g, index, ctx.dim), None, None, None


class Softmax(Primitive):
    float16_in_float32 = True
    saves = ("out",)
    jvp = AUTO_SYMMETRIC  # J = diag(y) - y y^T

    @staticmethod
    def compute(ctx, x, dim):
        b = ctx.backend
        e = b.exp(b.subtract(x, b.amax(x, axis=dim, keepdims=True)))
        ctx.dim = dim
        return b.divide(e, b.sum(e, axis=dim, keepdims=True))

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return y * (g - (g * y).sum(ctx.dim, keepdim=True)), None


class LogSoftmax(Primitive):
    float16_in_float32 = True
    saves = ("out",)

    @staticmethod
    def compute(ctx, x, dim):
        b = ctx.backend
        shifted = b.subtract(x, b.amax(x, axis=dim, keepdims=True))
        ctx.dim = dim
        return b.subtract(shifted, b.log(b.sum(b.exp(shifted), axis=dim, keepdims=True)))

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g - y.exp() * g.sum(ctx.dim, keepdim=True), None

    @staticmethod
    def jvp(ctx, dx, _):
        y, = ctx.saved_tensors
        return dx - (y.exp() * dx).sum(ctx.dim, keepdim=True)
