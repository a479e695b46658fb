"""Shape, indexing and copy primitives. Each returns a view wherever numpy can make one."""
from minigrad.autograd.function import Function
from minigrad.backends import backend_for
from minigrad.ops.elementwise import sum_to


def _view_of(x, array):
    """A tensor on `array`, sharing x's version counter when `array` is a view of x's storage."""
    out = x._wrap(array)
    if x._backend.shares_memory(array, x._data):
        out._version = x._version
        out._view_version = x._version.value
        out._base = x if x._base is None else x._base
    return out


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape, strict):
        ctx.shape, ctx.out_shape = x.shape, shape
        b = x._backend
        return _view_of(x, b.view(x._data, shape) if strict else b.reshape(x._data, shape))

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None, None

    @staticmethod
    def jvp(ctx, dx, _, __):
        return dx.reshape(ctx.out_shape)


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return _view_of(x, x._backend.transpose(x._data, dims))

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return g.permute(inverse), None

    @staticmethod
    def jvp(ctx, dx, _):
        return dx.permute(ctx.dims)


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape, ctx.out_shape = x.shape, shape
        return _view_of(x, x._backend.broadcast_to(x._data, shape))

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.shape), None

    @staticmethod
    def jvp(ctx, dx, _):
        return dx.expand(ctx.out_shape)


class Index(Function):
    """x[key], `key` already converted to backend arrays, slices, ints, None and Ellipsis."""

    @staticmethod
    def forward(ctx, x, key):
        ctx.shape, ctx.key = x.shape, key
        return _view_of(x, x._backend.getitem(x._data, key))

    @staticmethod
    def backward(ctx, g):
        return IndexAdd.apply(g, ctx.shape, ctx.key), None

    @staticmethod
    def jvp(ctx, dx, _):
        return Index.apply(dx, ctx.key)


class IndexAdd(Function):
    """zeros(shape) with `values` added at `key`: the adjoint of Index."""

    @staticmethod
    def forward(ctx, values, shape, key):
        ctx.shape, ctx.key = shape, key
        return values._wrap(values._backend.index_add(shape, key, values._data, values._dtype.numpy))

    @staticmethod
    def backward(ctx, g):
        return Index.apply(g, ctx.key), None, None

    @staticmethod
    def jvp(ctx, dvalues, _, __):
        return IndexAdd.apply(dvalues, ctx.shape, ctx.key)


class IndexPut(Function):
    """A copy of x with x[key] = values (the functional form of __setitem__)."""

    @staticmethod
    def forward(ctx, x, key, values):
        ctx.key, ctx.values_shape = key, values.shape
        return x._wrap(x._backend.index_put(x._data, key, values._data))

    @staticmethod
    def backward(ctx, g):
        need_x, _, need_values = ctx.needs_input_grad
        grad_x = IndexPut.apply(g, ctx.key, g.new_zeros(())) if need_x else None
        grad_values = sum_to(Index.apply(g, ctx.key), ctx.values_shape) if need_values else None
        return grad_x, None, grad_values

    @staticmethod
    def jvp(ctx, dx, _, dvalues):
        return IndexPut.apply(dx, ctx.key, dvalues)


class Cat(Function):
    @staticmethod
    def forward(ctx, dim, *tensors):
        ctx.dim = dim
        ctx.sizes = [t.shape[dim] for t in tensors]
        first = tensors[0]
        return first._wrap(first._backend.concatenate([t._data for t in tensors], axis=dim))

    @staticmethod
    def backward(ctx, g):
        grads, start = [None], 0
        for size in ctx.sizes:
            grads.append(g.narrow(ctx.dim, start, size))
            start += size
        return tuple(grads)

    @staticmethod
    def jvp(ctx, _, *tangents):
        return Cat.apply(ctx.dim, *tangents)


class Clone(Function):
    """A copy in new, C-contiguous storage."""

    @staticmethod
    def forward(ctx, x):
        return x._wrap(x._backend.copy(x._data, order="C"))

    @staticmethod
    def backward(ctx, g):
        return g

    @staticmethod
    def jvp(ctx, dx):
        return dx.clone()


class ToDevice(Function):
    """A copy on another device; the gradient travels back to the source device."""

    @staticmethod
    def forward(ctx, x, device):
        ctx.source, ctx.target = x.device, device
        array = backend_for(device).from_numpy(x._backend.to_numpy(x._data))
        return x._wrap_on(array, device)

    @staticmethod
    def backward(ctx, g):
        return g.to(ctx.source), None

    @staticmethod
    def jvp(ctx, dx, _):
        return dx.to(ctx.target)
