"""Matrix products and the singular value decomposition."""
import numpy as np

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


class Linear(Primitive):
    """x @ w^T (+ b) for x (N, in), w (out, in), b (out,): nn.Linear's product and bias as one node on the
    tape (a transpose, a product and a sum were three, and as many again in the backward pass)."""
    float16_in_float32 = True
    saves = ("x", "w")

    @staticmethod
    def compute(ctx, x, w, b=None):
        backend, ctx.biased = ctx.backend, b is not None
        out = backend.matmul(x, backend.transpose(w))
        if b is not None:
            backend.add_into(out, b)
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need_x, need_w = ctx.needs_input_grad[:2]
        grads = (g @ w if need_x else None, g.mT @ x if need_w else None)
        return grads + ((g.sum(0) if ctx.needs_input_grad[2] else None,) if ctx.biased else ())

    @staticmethod
    def jvp(ctx, dx, dw, db=None):
        x, w = ctx.saved_tensors
        out = dx @ w.mT + x @ dw.mT
        return out if db is None else out + db


class Svd(Primitive):
    """(U, S, Vh) with A = U diag(S) Vh for a batch of real matrices (..., m, n), k = min(m, n) singular
    values in descending order, U (..., m, k) and Vh (..., k, n) (or square, full_matrices=True).
    LAPACK (numpy) computes it on the host; the CUDA backend copies there and back. The rules are
    PyTorch's (real case): they divide by s_j^2 - s_i^2, so repeated singular values give inf or nan,
    unless only S is used. With full_matrices=True and m != n, U's and Vh's extra columns carry no
    gradient (as in PyTorch, which refuses)."""
    float16_in_float32 = True
    outputs = ("U", "S", "Vh")
    saves = ("U", "S", "Vh")

    @staticmethod
    def compute(ctx, a, full_matrices):
        ctx.full = full_matrices and a.shape[-1] != a.shape[-2]
        host = ctx.backend.to_numpy(a)
        return tuple(ctx.backend.from_numpy(np.ascontiguousarray(t))
                     for t in np.linalg.svd(host, full_matrices=full_matrices))

    @staticmethod
    def _reduced(ctx):
        """U, S, V (not Vh), and the identity of size k."""
        u, s, vh = ctx.saved_tensors
        k = s.shape[-1]
        u, v = u[..., :k], vh[..., :k, :].mT
        return u, s, v, s.new_tensor(np.eye(k))

    @staticmethod
    def _inverse_gaps(s, eye):
        """F[..., i, j] = 1 / (s_j^2 - s_i^2) off the diagonal, 0 on it (finite there, in every derivative)."""
        s2 = s * s
        return (1 - eye) / (s2.unsqueeze(-2) - s2.unsqueeze(-1) + eye)

    @staticmethod
    def backward(ctx, g_u, g_s, g_vh):
        if ctx.full and (g_u is not None or g_vh is not None):
            raise NotImplementedError("linalg.svd: the gradient through U or Vh with full_matrices=True is not "
                                      "supported (as in PyTorch); use full_matrices=False")
        u, s, v, eye = Svd._reduced(ctx)
        inner = (g_s.unsqueeze(-1) * eye) if g_s is not None else 0 * eye
        gap = Svd._inverse_gaps(s, eye)
        extra = 0
        if g_u is not None:
            ut_gu = u.mT @ g_u
            inner = inner + gap * (ut_gu - ut_gu.mT) * s.unsqueeze(-2)
            if u.shape[-2] > s.shape[-1]:
                extra = extra + ((g_u - u @ ut_gu) / s.unsqueeze(-2)) @ v.mT
        if g_vh is not None:
            g_v = g_vh.mT
            vt_gv = v.mT @ g_v
            inner = inner + s.unsqueeze(-1) * (gap * (vt_gv - vt_gv.mT))
            if v.shape[-2] > s.shape[-1]:
                extra = extra + u @ ((g_v - v @ vt_gv) / s.unsqueeze(-2)).mT
        return u @ inner @ v.mT + extra, None

    @staticmethod
    def jvp(ctx, da, *_):
        if ctx.full:
            raise NotImplementedError("linalg.svd: forward-mode derivatives with full_matrices=True are not "
                                      "supported; use full_matrices=False")
        u, s, v, eye = Svd._reduced(ctx)
        dp = u.mT @ da @ v
        gap = Svd._inverse_gaps(s, eye)
        du = u @ (gap * (dp * s.unsqueeze(-2) + s.unsqueeze(-1) * dp.mT))
        dv = v @ (gap * (s.unsqueeze(-1) * dp + dp.mT * s.unsqueeze(-2)))
        if u.shape[-2] > s.shape[-1]:
            du = du + (da @ v - u @ (u.mT @ da @ v)) / s.unsqueeze(-2)
        if v.shape[-2] > s.shape[-1]:
            dv = dv + (da.mT @ u - v @ (v.mT @ da.mT @ u)) / s.unsqueeze(-2)
        return du, (dp * eye).sum(-1), dv.mT
