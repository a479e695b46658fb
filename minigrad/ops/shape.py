"""Shape, indexing and copy primitives. Each returns a view wherever the backend can make one
(`view = True`: the machinery then shares the input's version counter)."""
from minigrad.autograd.function import AUTO_LINEAR, Function, Primitive
from minigrad.backends import backend_for
from minigrad.ops.elementwise import sum_to


class Reshape(Primitive):
    view = True

    @staticmethod
    def compute(ctx, x, shape, strict):
        ctx.shape, ctx.out_shape = x.shape, shape
        return ctx.backend.view(x, shape) if strict else ctx.backend.reshape(x, shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None, None

    @staticmethod
    def jvp(ctx, dx, _, __):
        return dx.reshape(ctx.out_shape)  # not a strict view: a tangent may be laid out otherwise


class Permute(Primitive):
    view = True
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, x, dims):
        ctx.dims = dims
        return ctx.backend.transpose(x, dims)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return g.permute(inverse), None


class Expand(Primitive):
    view = True
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, x, shape):
        ctx.shape = x.shape
        return ctx.backend.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.shape), None


class Index(Primitive):
    """x[key], `key` already converted to backend arrays, slices, ints, None and Ellipsis."""
    view = True
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, x, key):
        ctx.shape, ctx.key = x.shape, key
        return ctx.backend.getitem(x, key)

    @staticmethod
    def backward(ctx, g):
        return IndexAdd.apply(g, ctx.shape, ctx.key), None


class IndexAdd(Primitive):
    """zeros(shape) with `values` added at `key`: the adjoint of Index."""
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, values, shape, key):
        ctx.key = key
        return ctx.backend.index_add(shape, key, values, values.dtype)

    @staticmethod
    def backward(ctx, g):
        return Index.apply(g, ctx.key), None, None


class IndexPut(Primitive):
    """A copy of x with x[key] = values (the functional form of __setitem__)."""
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, x, key, values):
        ctx.key, ctx.values_shape = key, values.shape
        return ctx.backend.index_put(x, key, values)

    @staticmethod
    def backward(ctx, g):
        need_x, _, need_values = ctx.needs_input_grad
        grad_x = IndexPut.apply(g, ctx.key, g.new_zeros(())) if need_x else None
        grad_values = sum_to(Index.apply(g, ctx.key), ctx.values_shape) if need_values else None
        return grad_x, None, grad_values


class Cat(Primitive):
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, dim, *arrays):
        ctx.dim = dim
        ctx.sizes = [a.shape[dim] for a in arrays]
        return ctx.backend.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        grads, start = [None], 0
        for size in ctx.sizes:
            grads.append(g.narrow(ctx.dim, start, size))
            start += size
        return tuple(grads)


class Clone(Primitive):
    """A copy in new, C-contiguous storage."""
    jvp = AUTO_LINEAR

    @staticmethod
    def compute(ctx, x):
        return ctx.backend.copy(x, order="C")

    @staticmethod
    def backward(ctx, g):
        return g


class ToDevice(Function):
    """A copy on another device; the gradient travels back to the source device. The one op that
    crosses backends, so its forward takes the Tensor (a Primitive's output stays on its input's device)."""
    jvp = AUTO_LINEAR

    @staticmethod
    def forward(ctx, x, device):
        ctx.source = x.device
        array = backend_for(device).from_numpy(x._backend.to_numpy(x._data))
        return x._wrap_on(array, device)

    @staticmethod
    def backward(ctx, g):
        return g.to(ctx.source), None
