"""im2col / col2im for 3-d volumes (x as (N, C, D, H, W); 1-d and 2-d pass size-1 dims), the layout
of torch.nn.functional.unfold: cols[n, c * K + tap, output position]. One thread per element
written: im2col reads one input (or a padding zero); col2im gathers every column entry that lands
on its input element, so no two threads write the same place and no atomics are needed."""
from numba import cuda

from minigrad_kernels.cuda.arrays import THREADS, blocks_for


@cuda.jit(cache=True)
def _im2col(x, kernel, stride, padding, dilation, out_size, cols):
    n_batch, channels, depth, height, width = x.shape
    kd, kh, kw = kernel
    od, oh, ow = out_size
    taps, length = kd * kh * kw, od * oh * ow
    for i in range(cuda.grid(1), cols.size, cuda.gridsize(1)):
        pos = i % length
        row = (i // length) % (channels * taps)
        n = i // (length * channels * taps)
        c, tap = row // taps, row % taps
        a, b, e = tap // (kh * kw), (tap // kw) % kh, tap % kw
        z, y, xo = pos // (oh * ow), (pos // ow) % oh, pos % ow
        iz = z * stride[0] - padding[0] + a * dilation[0]
        iy = y * stride[1] - padding[1] + b * dilation[1]
        ix = xo * stride[2] - padding[2] + e * dilation[2]
        if 0 <= iz < depth and 0 <= iy < height and 0 <= ix < width:
            cols[n, row, pos] = x[n, c, iz, iy, ix]
        else:
            cols[n, row, pos] = 0


def im2col(x, kernel, stride, padding, dilation, out_size, cols):
    if cols.size:
        _im2col[blocks_for(cols.size), THREADS](x, kernel, stride, padding, dilation, out_size, cols)


@cuda.jit(device=True)
def _source(i, stride, padding, dilation, tap, size):
    """The output position whose window puts `tap` on input position i, or -1."""
    shifted = i + padding - tap * dilation
    if shifted < 0 or shifted % stride != 0 or shifted // stride >= size:
        return -1
    return shifted // stride


@cuda.jit(cache=True)
def _col2im(cols, kernel, stride, padding, dilation, out_size, x, zero):
    n_batch, channels, depth, height, width = x.shape
    kd, kh, kw = kernel
    od, oh, ow = out_size
    taps = kd * kh * kw
    for i in range(cuda.grid(1), x.size, cuda.gridsize(1)):
        ix, iy, iz = i % width, (i // width) % height, (i // (width * height)) % depth
        c = (i // (width * height * depth)) % channels
        n = i // (width * height * depth * channels)
        total = zero
        for a in range(kd):
            z = _source(iz, stride[0], padding[0], dilation[0], a, od)
            if z < 0:
                continue
            for b in range(kh):
                y = _source(iy, stride[1], padding[1], dilation[1], b, oh)
                if y < 0:
                    continue
                for e in range(kw):
                    xo = _source(ix, stride[2], padding[2], dilation[2], e, ow)
                    if xo >= 0:
                        total += cols[n, c * taps + (a * kh + b) * kw + e, (z * oh + y) * ow + xo]
        x[n, c, iz, iy, ix] = total


def col2im(cols, kernel, stride, padding, dilation, out_size, x):
    """x (N, C, D, H, W) = the adjoint of im2col applied to cols (x is overwritten, not added to)."""
    if x.size:
        _col2im[blocks_for(x.size), THREADS](cols, kernel, stride, padding, dilation, out_size, x,
                                             x.dtype.type(0))
