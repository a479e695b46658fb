"""im2col / col2im (unfold / fold) for 1-, 2- and 3-d convolutions, written once for 3-d volumes.

A 2-d input is passed as (N, C, 1, H, W), a 1-d one as (N, C, 1, 1, W). Geometry arguments are
(depth, height, width) triples. `cols` is indexed [n, c * K + kernel offset, output position] with
K = kd * kh * kw, the layout of torch.nn.functional.unfold; passing a transposed view of a
(C * K, N, L) buffer gives the layout a single batched GEMM wants. Padding is implicit: positions
outside the input read as zero (im2col) or are dropped (col2im).
"""
from numba import prange

from minigrad_kernels._jit import cpu_kernel


@cpu_kernel
def im2col(x, kernel, stride, padding, dilation, out_size, cols):
    n_batch, channels, depth, height, width = x.shape
    kd, kh, kw = kernel
    sd, sh, sw = stride
    pd, ph, pw = padding
    dd, dh, dw = dilation
    od, oh, ow = out_size
    for nc in prange(n_batch * channels):
        n, c = nc // channels, nc % channels
        for a in range(kd):
            for b in range(kh):
                for e in range(kw):
                    row = ((c * kd + a) * kh + b) * kw + e
                    for z in range(od):
                        iz = z * sd - pd + a * dd
                        for y in range(oh):
                            iy = y * sh - ph + b * dh
                            base = (z * oh + y) * ow
                            inside = 0 <= iz < depth and 0 <= iy < height
                            for xo in range(ow):
                                ix = xo * sw - pw + e * dw
                                if inside and 0 <= ix < width:
                                    cols[n, row, base + xo] = x[n, c, iz, iy, ix]
                                else:
                                    cols[n, row, base + xo] = 0.0


@cpu_kernel
def col2im(cols, kernel, stride, padding, dilation, out_size, x):
    """The adjoint of im2col: adds every column entry back into `x` (which must start zeroed)."""
    n_batch, channels, depth, height, width = x.shape
    kd, kh, kw = kernel
    sd, sh, sw = stride
    pd, ph, pw = padding
    dd, dh, dw = dilation
    od, oh, ow = out_size
    for nc in prange(n_batch * channels):
        n, c = nc // channels, nc % channels
        for a in range(kd):
            for b in range(kh):
                for e in range(kw):
                    row = ((c * kd + a) * kh + b) * kw + e
                    for z in range(od):
                        iz = z * sd - pd + a * dd
                        if iz < 0 or iz >= depth:
                            continue
                        for y in range(oh):
                            iy = y * sh - ph + b * dh
                            if iy < 0 or iy >= height:
                                continue
                            base = (z * oh + y) * ow
                            for xo in range(ow):
                                ix = xo * sw - pw + e * dw
                                if 0 <= ix < width:
                                    x[n, c, iz, iy, ix] += cols[n, row, base + xo]
