"""Convolution as im2col + GEMM, tiled so that every thread runs its own GEMMs on its own columns.

A tile is either a block of nb whole images, or (for large images) a range of one image's output
positions. Its columns are built into a per-thread buffer small enough to stay in cache, then one BLAS
call per group multiplies them (BLAS itself runs on one thread: see backends/cpu.py). So both cores work
in every phase and the column matrix of the whole batch never exists. In a block the image index is the
fastest-varying one: column (position p, image j) is p * nb + j, read from the block transposed to
(C, D, H, W, nb), so every run of columns copied is nb times longer than an output row (small images,
like LeNet's 10x10 maps or ResNet's 4x4 ones, would otherwise copy runs of a few floats).

Geometry arguments are (depth, height, width) triples; 2-d inputs are passed as (N, C, 1, H, W).
Weights are (G, C_out / G, C_in / G * K) and gradients (N, C_out, L), with K = kd * kh * kw. Inner
loops index with unsigned ints, so that Numba emits no negative-index wraparound and LLVM vectorizes them
(measured 2-4x faster).
"""
import numpy as np
from numba import prange, uint64

from minigrad_kernels._jit import cpu_kernel


@cpu_kernel(parallel=False)
def _row_runs(p0, p1, out_size, runs):
    """Splits positions [p0, p1) into runs along output rows: runs[r] = (z, y, first column, length);
    returns the count. Computed once per tile, so the column loops do no integer division."""
    oh, ow = out_size[1], out_size[2]
    p, count = p0, 0
    while p < p1:
        xo = p % ow
        run = min(ow - xo, p1 - p)
        runs[count, 0], runs[count, 1], runs[count, 2], runs[count, 3] = p // (oh * ow), (p // ow) % oh, xo, run
        count += 1
        p += run
    return count


@cpu_kernel(parallel=False)
def _columns(xt, runs, count, kernel, stride, padding, dilation, out_size, cols, backward):
    """Forward: cols[c * K + k, i * nb + j] = what tap k of channel c sees at the tile's i-th position in
    image j, for xt (C, D, H, W, nb) (zero outside the image). Backward: xt += the same entries of cols
    (the adjoint)."""
    channels, depth, height, width, nb = xt.shape
    flat = xt.reshape(xt.size)  # flat offsets: a view per run cost more than the copy (measured 1.5-2x)
    kd, kh, kw = kernel
    sd, sh, sw = stride
    pd, ph, pw = padding
    dd, dh, dw = dilation
    ow = out_size[2]
    for c in range(channels):
        for a in range(kd):
            for b in range(kh):
                for e in range(kw):
                    row = cols[((c * kd + a) * kh + b) * kw + e]
                    # output columns [lo, hi) read inside the image: xo * sw + shift in [0, width)
                    shift = e * dw - pw
                    lo = min(max(0, (-shift + sw - 1) // sw), ow)
                    hi = max(min(ow, (width - 1 - shift) // sw + 1), lo)
                    i = 0
                    for r in range(count):
                        z, y, xo, run = runs[r, 0], runs[r, 1], runs[r, 2], runs[r, 3]
                        iz, iy = z * sd - pd + a * dd, y * sh - ph + b * dh
                        first, last = max(xo, lo), min(xo + run, hi)
                        if iz < 0 or iz >= depth or iy < 0 or iy >= height or last <= first:
                            first = last = xo + run
                        # in row: [begin, at) zeros, [at, stop) the image's part, [stop, end) zeros
                        begin, at = uint64(i * nb), uint64((i + first - xo) * nb)
                        stop, end = uint64((i + last - xo) * nb), uint64((i + run) * nb)
                        line = (((c * depth + iz) * height + iy) * width + shift) * nb
                        if backward:
                            if sw == 1:
                                src = uint64(line + first * nb)
                                for q in range(stop - at):
                                    flat[src + q] += row[at + q]
                            else:
                                for m in range(uint64(last - first)):
                                    src = uint64(line + (first + m) * sw * nb)
                                    for q in range(uint64(nb)):
                                        flat[src + q] += row[at + m * nb + q]
                        else:
                            for q in range(begin, at):
                                row[q] = 0.0
                            if sw == 1:
                                src = uint64(line + first * nb)
                                for q in range(stop - at):
                                    row[at + q] = flat[src + q]
                            else:
                                for m in range(uint64(last - first)):
                                    src = uint64(line + (first + m) * sw * nb)
                                    for q in range(uint64(nb)):
                                        row[at + m * nb + q] = flat[src + q]
                            for q in range(stop, end):
                                row[q] = 0.0
                        i += run


@cpu_kernel(parallel=False)
def _transpose_block(x, n0, xt, backward):
    """Forward: xt[c, ..., j] = x[n0 + j, c, ...]; backward: x[n0 + j, c, ...] = xt[c, ..., j]."""
    nb = xt.shape[4]
    flat = xt.reshape(xt.size // nb, nb)
    for j in range(nb):
        image = x[n0 + j].reshape(flat.shape[0])
        for s in range(flat.shape[0]):
            if backward:
                image[s] = flat[s, j]
            else:
                flat[s, j] = image[s]


@cpu_kernel(parallel=False)
def _move_products(maps, n0, nb, p0, first, tile, bias, backward):
    """Forward: maps[n0 + j, first + o, p0 + i] = tile[o, i * nb + j] + bias[first + o] (a GEMM's product
    into the (N, C_out, L) output; bias may be empty); backward: tile[o, i * nb + j] = maps[...] (a
    gradient into GEMM layout)."""
    positions = tile.shape[1] // nb
    for j in range(nb):
        for o in range(tile.shape[0]):
            row, part = maps[n0 + j, first + o], tile[o]
            if backward:
                for i in range(uint64(positions)):
                    part[i * nb + j] = row[p0 + i]
            else:
                shift = bias[first + o] if bias.size else 0.0
                for i in range(uint64(positions)):
                    row[p0 + i] = part[i * nb + j] + shift


@cpu_kernel(parallel=False)
def _add(total, part):
    """total += part, for C-contiguous arrays of one shape (a loop: Numba's array expressions and axis
    sums took seconds more to compile)."""
    flat, other = total.reshape(total.size), part.reshape(part.size)
    for i in range(flat.size):
        flat[i] += other[i]


@cpu_kernel(parallel=False)
def _tile_of(t, n_batch, volume, images, chunk):
    """Tile t: (first image, images in it, first position, positions in it)."""
    if images > 1 or chunk >= volume:
        n0 = t * images
        return n0, min(images, n_batch - n0), 0, volume
    per_image = (volume + chunk - 1) // chunk
    p0 = (t % per_image) * chunk
    return t // per_image, 1, p0, min(chunk, volume - p0)


@cpu_kernel(parallel=False)
def _tile_count(n_batch, volume, images, chunk):
    """(number of tiles, the most columns in one)."""
    if images > 1 or chunk >= volume:
        return (n_batch + images - 1) // images, images * volume
    return n_batch * ((volume + chunk - 1) // chunk), chunk


@cpu_kernel(parallel=False)
def _image_size(x):
    """Elements per image of (N, C, D, H, W), from the shape alone (x[0] is out of bounds when N = 0)."""
    return x.shape[1] * x.shape[2] * x.shape[3] * x.shape[4]


@cpu_kernel(parallel=False)
def _block(x, n0, nb, space):
    """The images [n0, n0 + nb) of x as (C, D, H, W, nb): a view for one image, else transposed into space."""
    shape = x.shape[1:]
    if nb == 1:
        return x[n0].reshape((shape[0], shape[1], shape[2], shape[3], 1))
    xt = space[:_image_size(x) * nb].reshape((shape[0], shape[1], shape[2], shape[3], nb))
    _transpose_block(x, n0, xt, False)
    return xt


FORWARD, WEIGHT, INPUT = 0, 1, 2  # which of conv_pass's three operands it computes
_NO_BIAS = np.empty(0)


@cpu_kernel
def conv_pass(mode, x, w, grad, bias, kernel, stride, padding, dilation, out_size, images, chunk, threads):
    """One of the three operands of <conv(x, w), grad> from the other two, in place: FORWARD writes
    grad (N, C_out, L) = conv(x, w) + bias (per output channel; bias may be empty); WEIGHT writes w (G, C_out / G, C_in / G * K) = the gradient in w;
    INPUT writes x (N, C_in, D, H, W) = the gradient in x. One kernel for the three, as Numba took about
    5 s to compile each. Tiles are blocks of `images` whole images, or (images == 1) chunks of `chunk`
    positions of one image (INPUT needs whole images: no two threads may add into one); thread t takes
    tiles t, t + threads, ... WEIGHT sums each thread's tiles, then the threads' sums."""
    groups, per_group, taps = w.shape
    n_batch, volume = x.shape[0], out_size[0] * out_size[1] * out_size[2]
    n_tiles, width = _tile_count(n_batch, volume, images, chunk)
    partial = np.zeros((threads if mode == WEIGHT else 0, groups, per_group, taps), dtype=x.dtype)
    for t in prange(threads):
        block_space = np.empty(_image_size(x) * images, dtype=x.dtype)
        col_space = np.empty(groups * taps * width, dtype=x.dtype)
        grad_space = np.empty(per_group * width, dtype=x.dtype)
        runs = np.empty((width + 1, 4), dtype=np.int64)
        for i in range(t, n_tiles, threads):
            n0, nb, p0, positions = _tile_of(i, n_batch, volume, images, chunk)
            cols = col_space[:groups * taps * positions * nb].reshape((groups, taps, positions * nb))
            tile_grad = grad_space[:per_group * positions * nb].reshape((per_group, positions * nb))
            count = _row_runs(p0, p0 + positions, out_size, runs)
            if mode != INPUT:
                _columns(_block(x, n0, nb, block_space), runs, count, kernel, stride, padding, dilation, out_size,
                         cols.reshape((groups * taps, positions * nb)), False)
            for g in range(groups):
                if mode == FORWARD:
                    np.dot(w[g], cols[g], tile_grad)
                    _move_products(grad, n0, nb, p0, g * per_group, tile_grad, bias, False)
                else:
                    _move_products(grad, n0, nb, p0, g * per_group, tile_grad, bias, True)
                    if mode == WEIGHT:
                        _add(partial[t, g], np.dot(tile_grad, cols[g].T))
                    else:
                        np.dot(w[g].T, tile_grad, cols[g])
            if mode == INPUT:  # col2im into the image itself, or into the block transposed
                xt = _block(x, n0, 1, block_space) if nb == 1 else \
                    block_space[:_image_size(x) * nb].reshape(x.shape[1:] + (nb,))
                xt[...] = 0.0
                _columns(xt, runs, count, kernel, stride, padding, dilation, out_size,
                         cols.reshape((groups * taps, positions * nb)), True)
                if nb > 1:
                    _transpose_block(x, n0, xt, True)
    if mode == WEIGHT:
        w[...] = 0.0
        for t in range(threads):
            _add(w, partial[t])


def conv_forward(x, w, bias, kernel, stride, padding, dilation, out_size, images, chunk, threads, out):
    """out (N, C_out, L) = the cross-correlation of x with w, plus bias (C_out,) when it is not empty."""
    conv_pass(FORWARD, x, w, out, bias, kernel, stride, padding, dilation, out_size, images, chunk, threads)


def conv_weight(x, grad, groups, kernel, stride, padding, dilation, out_size, images, chunk, threads):
    """The gradient in w, (G, C_out / G, C_in / G * K)."""
    taps = x.shape[1] // groups * kernel[0] * kernel[1] * kernel[2]
    dw = np.empty((groups, grad.shape[1] // groups, taps), dtype=x.dtype)
    conv_pass(WEIGHT, x, dw, grad, _NO_BIAS.astype(x.dtype), kernel, stride, padding, dilation, out_size, images, chunk, threads)
    return dw


def conv_input(grad, w, kernel, stride, padding, dilation, out_size, images, threads, grad_x):
    """grad_x (N, C_in, D, H, W) = the adjoint of conv_forward in x, by blocks of whole images."""
    volume = out_size[0] * out_size[1] * out_size[2]
    conv_pass(INPUT, grad_x, w, grad, _NO_BIAS.astype(w.dtype), kernel, stride, padding, dilation, out_size, images, volume, threads)
