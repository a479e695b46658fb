"""What every backend computes the same way, written once on top of the interface's array entries.

Convolution is im2col, one batched GEMM per group, and the reshapes around them; its two adjoints
reuse the same columns. Only `im2col`, `col2im`, `matmul` and the layout entries differ by device; a
backend may still override a method here with a faster device-specific path (the CPU backend's direct
stride-1 convolution) and fall back to this one. The optimizer steps (sgd_update, adam_update) work out
their scalars here too, once for both devices' kernels, and batch normalization's per-channel sums and
affine map are written here from elementwise entries (the CPU backend runs one kernel pass for each).
"""
import math

import numpy as np

from minigrad.backends.interface import Backend


class SharedBackend(Backend):
    """The interface's device-independent methods, for both backends to inherit."""

    # convolution: 5-d arrays (N, C, D, H, W); `g` is a minigrad.backends.geometry.ConvGeometry
    def _columns(self, x, g):
        """im2col of x as a (groups, C/groups * K, N * L) array, ready for one batched GEMM."""
        n_batch, channels = x.shape[:2]
        k, length = math.prod(g.kernel), math.prod(g.out_size)
        buffer = self.empty((channels * k, n_batch, length), x.dtype)
        self.im2col(x, g, self.transpose(buffer, (1, 0, 2)))
        return self.reshape(buffer, (g.groups, channels // g.groups * k, n_batch * length))

    def _grouped_outputs(self, y, g):
        """(N, C_out, *out) as (groups, C_out/groups, N * L)."""
        n_batch, channels = y.shape[:2]
        length = math.prod(g.out_size)
        by_channel = self.contiguous(self.transpose(self.reshape(y, (n_batch, channels, length)), (1, 0, 2)))
        return self.reshape(by_channel, (g.groups, channels // g.groups, n_batch * length))

    def conv(self, x, w, g, bias=None, activation=None, windows=None):
        """Cross-correlation of x (N, C, *in) with w (C_out, C/groups, *kernel), plus bias: one batched GEMM;
        then the _epilogue."""
        n_batch, c_out = x.shape[0], w.shape[0]
        weights = self.reshape(w, (g.groups, c_out // g.groups, math.prod(w.shape[1:])))
        out = self.matmul(weights, self._columns(x, g))
        if bias is not None:
            out = self.add(out, self.reshape(bias, (g.groups, c_out // g.groups, 1)))
        out = self.contiguous(self.transpose(self.reshape(out, (c_out, n_batch) + tuple(g.out_size)), (1, 0, 2, 3, 4)))
        return self._epilogue(out, g, activation, windows)

    def _epilogue(self, out, g, activation, windows):
        """conv's activation and pooling of its output `out`: the entries one after another."""
        if activation is not None:
            out = getattr(self, activation)(out)
        if windows is None:
            return out
        planes = self.reshape(out, tuple(out.shape[:2]) + tuple(g.out_size[1:]))
        pooled = self.window_mean(planes, windows)
        return self.reshape(pooled, tuple(pooled.shape[:2]) + (1,) + tuple(pooled.shape[2:]))

    def conv_transpose(self, y, w, g):
        """The adjoint of conv in x: GEMM with the transposed weight, then col2im."""
        n_batch, c_in = y.shape[0], w.shape[1] * g.groups
        weights = self.reshape(w, (g.groups, w.shape[0] // g.groups, math.prod(w.shape[1:])))
        cols = self.matmul(self.transpose(weights, (0, 2, 1)), self._grouped_outputs(y, g))
        cols = self.reshape(cols, (c_in * math.prod(g.kernel), n_batch, math.prod(g.out_size)))
        return self.col2im(self.transpose(cols, (1, 0, 2)), g, c_in)

    def conv_weight(self, x, y, g):
        """The adjoint of conv in w: GEMM of the output gradient with the transposed columns."""
        c_out, c_in = y.shape[1], x.shape[1]
        dw = self.matmul(self._grouped_outputs(y, g), self.transpose(self._columns(x, g), (0, 2, 1)))
        return self.reshape(dw, (c_out, c_in // g.groups) + tuple(g.kernel))

    # per channel: sums in float64 and the affine map, as separate elementwise passes
    def channel_sums(self, x, y):
        axes = (0,) + tuple(range(2, len(x.shape)))
        wide = self.astype(x, np.dtype(np.float64))
        other = wide if y is x else self.astype(y, np.dtype(np.float64))  # Normalize's (x, x): one copy
        return self.sum(wide, axes), self.sum(self.multiply(wide, other), axes)

    def channel_affine(self, x, scale, shift, y=None, y_scale=None):
        shape = (1, x.shape[1]) + (1,) * (len(x.shape) - 2)

        def along(values):
            return self.reshape(self.astype(values, x.dtype), shape)
        out = self.add(self.multiply(x, along(scale)), along(shift))
        return out if y is None else self.add(out, self.multiply(y, along(y_scale)))

    # optimizer steps: the scalars as the Tensor-op form (minigrad/optim) computes them, in Python floats,
    # then cast to the arrays' dtype (as numpy casts a Python scalar); `_sgd_pass`/`_adam_pass` run the kernel
    def sgd_update(self, param, grad, buffer, lr, weight_decay, momentum, dampening, nesterov, maximize, first):
        """One SGD step in place: the device's kernel with the scalars in param's dtype."""
        cast = param.dtype.type
        self._sgd_pass(param, grad, param if buffer is None else buffer, cast(lr), cast(weight_decay),
                       cast(momentum), cast(1 - dampening), bool(nesterov), bool(maximize), bool(first))

    def adam_update(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
                    decoupled, maximize, step):
        """One Adam(W) step in place: the device's kernel with the scalars in param's dtype."""
        cast = param.dtype.type
        shrink, l2 = (1 - lr * weight_decay, 0) if decoupled and weight_decay else (1, weight_decay)
        self._adam_pass(param, grad, exp_avg, exp_avg_sq, exp_avg_sq if max_exp_avg_sq is None else max_exp_avg_sq,
                        max_exp_avg_sq is not None, bool(maximize), cast(shrink), cast(l2), cast(1 - beta1),
                        cast(beta2), cast(1 - beta2), cast(math.sqrt(1 - beta2 ** step)), cast(eps),
                        cast(-(lr / (1 - beta1 ** step))))
