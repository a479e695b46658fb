"""Matrix products."""
from minigrad.autograd.function import Function
from minigrad.ops.elementwise import sum_to


class Matmul(Function):
    """a @ b for a.ndim, b.ndim >= 2, batch dims broadcast."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a._wrap(a._backend.matmul(a._data, b._data))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (sum_to(g @ b.mT, a.shape) if need_a else None,
                sum_to(a.mT @ g, b.shape) if need_b else None)

    @staticmethod
    def jvp(ctx, da, db):
        a, b = ctx.saved_tensors
        return da @ b + a @ db
