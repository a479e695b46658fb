"""Matrix products."""
from minigrad.autograd.function import AUTO_BILINEAR, Primitive
from minigrad.ops.elementwise import sum_to


class Matmul(Primitive):
    """a @ b for a.ndim, b.ndim >= 2, batch dims broadcast."""
    float16_in_float32 = True
    saves = ("a", "b")
    jvp = AUTO_BILINEAR

    @staticmethod
    def compute(ctx, a, b):
        return ctx.backend.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (sum_to(g @ b.mT, a.shape) if need_a else None,
                sum_to(a.mT @ g, b.shape) if need_b else None)
