"""Reductions and normalisations. `dims` arrive as a normalised tuple of non-negative ints."""
from minigrad.autograd.function import Function
from minigrad.ops.elementwise import Where


def kept_shape(shape, dims):
    """`shape` with every reduced dim set to 1 (what keepdim=True gives)."""
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


def _expand_back(g, shape, dims, keepdim):
    """Broadcast a reduced gradient back over the reduced dims."""
    if not keepdim:
        g = g.reshape(kept_shape(shape, dims))
    return g.expand(shape)


class Sum(Function):
    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, dims, keepdim
        integer = not x._dtype.is_floating_point
        out = x._backend.sum(x._data, axis=dims, keepdims=keepdim, dtype="int64" if integer else None)
        return x._wrap(out)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim), None, None

    @staticmethod
    def jvp(ctx, dx, _, __):
        return dx.sum(ctx.dims, keepdim=ctx.keepdim)


class Prod(Function):
    """Product over `dims`; the gradient is the product of the *other* elements, zeros included."""

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.dims, ctx.keepdim = dims, keepdim
        integer = not x._dtype.is_floating_point
        out = x._wrap(x._backend.prod(x._data, axis=dims, keepdims=keepdim, dtype="int64" if integer else None))
        ctx.save_for_backward(x, out)
        return out

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


class Amax(Function):
    """max (or min) over `dims` without indices; ties share the gradient evenly, as in PyTorch."""

    @staticmethod
    def forward(ctx, x, dims, keepdim, take_max):
        ctx.dims, ctx.keepdim = dims, keepdim
        reduce = x._backend.amax if take_max else x._backend.amin
        out = x._wrap(reduce(x._data, axis=dims, keepdims=keepdim))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def _weights(ctx, x, out):
        hits = (x == _expand_back(out, x.shape, ctx.dims, ctx.keepdim)).to(x.dtype)
        return hits / hits.sum(ctx.dims, keepdim=True)

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        g = _expand_back(g, x.shape, ctx.dims, ctx.keepdim)
        return g * Amax._weights(ctx, x, out), None, None, None

    @staticmethod
    def jvp(ctx, dx, *_):
        x, out = ctx.saved_tensors
        return (dx * Amax._weights(ctx, x, out)).sum(ctx.dims, keepdim=ctx.keepdim)


class MaxDim(Function):
    """(values, indices) of the max (or min) along one dim; the gradient goes to the first arg-max."""

    @staticmethod
    def forward(ctx, x, dim, keepdim, take_max):
        ctx.dim, ctx.keepdim, ctx.shape = dim, keepdim, x.shape
        values, indices = x._backend.max_with_indices(x._data, dim, take_max)
        values, indices = x._wrap(values), x._wrap(indices)
        if keepdim:
            values, indices = values.unsqueeze(dim), indices.unsqueeze(dim)
        ctx.mark_non_differentiable(indices)
        ctx.save_for_backward(indices)
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


class Gather(Function):
    """out[..., i, ...] = x[..., index[..., i, ...], ...] along `dim` (torch.gather)."""

    @staticmethod
    def forward(ctx, x, index, dim):
        ctx.save_for_backward(index)
        ctx.dim, ctx.shape = dim, x.shape
        return x._wrap(x._backend.take_along_axis(x._data, index._data, dim))

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        return ScatterAlong.apply(g, index, ctx.dim, ctx.shape), None, None

    @staticmethod
    def jvp(ctx, dx, _, __):
        index, = ctx.saved_tensors
        return Gather.apply(dx, index, ctx.dim)


class ScatterAlong(Function):
    """zeros(shape) with `values` added at `index` along `dim`: Gather's adjoint."""

    @staticmethod
    def forward(ctx, values, index, dim, shape):
        ctx.save_for_backward(index)
        ctx.dim, ctx.shape = dim, shape
        return values._wrap(values._backend.scatter_add_along_axis(shape, index._data, values._data, dim))

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        return Gather.apply(g, index, ctx.dim), None, None, None

    @staticmethod
    def jvp(ctx, dvalues, *_):
        index, = ctx.saved_tensors
        return ScatterAlong.apply(dvalues, index, ctx.dim, ctx.shape)


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, dim):
        b = x._backend
        shifted = b.subtract(x._data, b.amax(x._data, axis=dim, keepdims=True))
        e = b.exp(shifted)
        y = x._wrap(b.divide(e, b.sum(e, axis=dim, keepdims=True)))
        ctx.dim = dim
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return y * (g - (g * y).sum(ctx.dim, keepdim=True)), None

    @staticmethod
    def jvp(ctx, dx, _):
        y, = ctx.saved_tensors
        return y * (dx - (dx * y).sum(ctx.dim, keepdim=True))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, dim):
        b = x._backend
        shifted = b.subtract(x._data, b.amax(x._data, axis=dim, keepdims=True))
        y = x._wrap(b.subtract(shifted, b.log(b.sum(b.exp(shifted), axis=dim, keepdims=True))))
        ctx.dim = dim
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g - y.exp() * g.sum(ctx.dim, keepdim=True), None

    @staticmethod
    def jvp(ctx, dx, _):
        y, = ctx.saved_tensors
        return dx - (y.exp() * dx).sum(ctx.dim, keepdim=True)
