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
from minigrad_kernels.cpu import warm_up


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
    size = uint64(ow * nb)
    whole = count * ow * nb == cols.shape[1]  # every run a whole output row (each is at most one)
    lines = np.empty(count, dtype=np.int64)
    for c in range(channels):
        for a in range(kd):
            for b in range(kh):
                # per run, the offset of the input row that taps (a, b) read (in whole rows), -1 in padding
                for r in range(count):
                    iz, iy = runs[r, 0] * sd - pd + a * dd, runs[r, 1] * sh - ph + b * dh
                    inside = 0 <= iz < depth and 0 <= iy < height
                    lines[r] = ((c * depth + iz) * height + iy) * width if inside else -1
                for e in range(kw):
                    row = cols[((c * kd + a) * kh + b) * kw + e]
                    # output columns [lo, hi) read inside the image: xo * sw + shift in [0, width)
                    shift = e * dw - pw
                    lo = min(max(0, (-shift + sw - 1) // sw), ow)
                    hi = max(min(ow, (width - 1 - shift) // sw + 1), lo)
                    if not whole or sw != 1:
                        if backward:
                            _add_runs(flat, row, runs, count, lines, lo, hi, shift, sw, nb)
                        else:
                            _copy_runs(flat, row, runs, count, lines, lo, hi, shift, sw, nb)
                        continue
                    # whole rows, stride 1: one length for every run, so LLVM sets up the copy loop once
                    # (inline: LeNet conv2's columns took 0.71 ms per pass with a call per row, 0.65 without)
                    at, stop, i = uint64(lo * nb), uint64(hi * nb), uint64(0)
                    for r in range(uint64(count)):
                        src, dst = uint64((lines[r] + shift + lo) * nb), i + at
                        if backward:
                            if lines[r] >= 0:
                                for q in range(stop - at):
                                    flat[src + q] += row[dst + q]
                        elif lines[r] < 0:
                            for q in range(size):
                                row[i + q] = 0.0
                        else:
                            for q in range(at):
                                row[i + q] = 0.0
                            for q in range(stop - at):
                                row[dst + q] = flat[src + q]
                            for q in range(stop, size):
                                row[i + q] = 0.0
                        i += size


@cpu_kernel(parallel=False)
def _copy_runs(flat, row, runs, count, lines, lo, hi, shift, sw, nb):
    """One row of im2col: each run's part inside the image copied from flat (input row lines[r], shifted
    by `shift` columns), its part in the padding zeroed."""
    i = uint64(0)  # unsigned offsets: no negative-index wraparound, and the copies vectorize
    for r in range(count):
        xo, run = runs[r, 2], runs[r, 3]
        size = uint64(run * nb)
        first, last = max(xo, lo), min(xo + run, hi)
        if lines[r] < 0 or last <= first:
            for q in range(size):
                row[i + q] = 0.0
        else:
            # in the run: [0, at) zeros, [at, stop) the image's part, [stop, size) zeros
            at, stop = uint64((first - xo) * nb), uint64((last - xo) * nb)
            src, dst = uint64((lines[r] + shift + first * sw) * nb), i + at
            for q in range(at):
                row[i + q] = 0.0
            if sw == 1:
                for q in range(stop - at):
                    row[dst + q] = flat[src + q]
            elif nb == 1:  # stride without a block: one float per column
                step = uint64(sw)
                for m in range(stop - at):
                    row[dst + m] = flat[src + m * step]
            else:
                step, width = uint64(sw * nb), uint64(nb)
                for m in range(uint64(last - first)):
                    for q in range(width):
                        row[dst + m * width + q] = flat[src + m * step + q]
            for q in range(stop, size):
                row[i + q] = 0.0
        i += size


@cpu_kernel(parallel=False)
def _add_runs(flat, row, runs, count, lines, lo, hi, shift, sw, nb):
    """The adjoint of _copy_runs: flat += each run's part inside the image."""
    i = uint64(0)
    for r in range(count):
        xo, run = runs[r, 2], runs[r, 3]
        first, last = max(xo, lo), min(xo + run, hi)
        if lines[r] >= 0 and last > first:
            at, stop = uint64((first - xo) * nb), uint64((last - xo) * nb)
            src, dst = uint64((lines[r] + shift + first * sw) * nb), i + at
            if sw == 1:
                for q in range(stop - at):
                    flat[src + q] += row[dst + q]
            elif nb == 1:
                step = uint64(sw)
                for m in range(stop - at):
                    flat[src + m * step] += row[dst + m]
            else:
                step, width = uint64(sw * nb), uint64(nb)
                for m in range(uint64(last - first)):
                    for q in range(width):
                        flat[src + m * step + q] += row[dst + m * width + q]
        i += uint64(run * nb)


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
    positions, start, step = uint64(tile.shape[1] // nb), uint64(p0), uint64(nb)
    for j in range(uint64(nb)):
        for o in range(tile.shape[0]):
            row, part = maps[n0 + j, first + o], tile[o]
            if backward:
                for i in range(positions):
                    part[i * step + j] = row[start + i]
            elif bias.size:  # a loop of its own: `bias[o] if bias.size else 0.0` made the sum float64
                shift = bias[first + o]
                for i in range(positions):
                    row[start + i] = part[i * step + j] + shift
            else:
                for i in range(positions):
                    row[start + i] = part[i * step + j]


@cpu_kernel(parallel=False)
def _add(total, part):
    """total += part, for C-contiguous arrays of one shape (a loop: Numba's array expressions and axis
    sums took seconds more to compile)."""
    flat, other = total.reshape(total.size), part.reshape(part.size)
    for i in range(flat.size):
        flat[i] += other[i]


@cpu_kernel(parallel=False)
def _transpose_into(total, part, add):
    """total (m, n) = part (n, m) transposed, or += when add; by 32 x 32 blocks, which stay in cache."""
    rows, columns, side = uint64(total.shape[0]), uint64(total.shape[1]), uint64(32)
    out, source = total.reshape(total.size), part.reshape(part.size)
    for r0 in range(uint64(0), rows, side):
        for c0 in range(uint64(0), columns, side):
            c1 = min(c0 + side, columns)
            for r in range(r0, min(r0 + side, rows)):
                at = r * columns
                if add:
                    for c in range(c0, c1):
                        out[at + c] += source[c * rows + r]
                else:
                    for c in range(c0, c1):
                        out[at + c] = source[c * rows + r]


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
    grad (N, C_out, L) = conv(x, w) + bias (per output channel; bias may be empty); WEIGHT writes
    w (G, C_out / G, C_in / G * K) = the gradient in w; INPUT writes x (N, C_in, D, H, W) = the gradient
    in x. One kernel for the three, as Numba took about 5 s to compile each. Tiles are blocks of `images`
    whole images, or (images == 1) chunks of `chunk` positions of one image (INPUT needs whole images: no
    two threads may add into one); thread t takes tiles t, t + threads, ... WEIGHT sums each thread's
    tiles, then the threads' sums."""
    groups, per_group, taps = w.shape
    n_batch, volume = x.shape[0], out_size[0] * out_size[1] * out_size[2]
    n_tiles, width = _tile_count(n_batch, volume, images, chunk)
    # WEIGHT sums the gradient transposed, (G, K, C_out / G), for up to 128 outputs per group, and INPUT
    # multiplies by w transposed (C-contiguous): OpenBLAS ran those GEMMs 1.1-1.5x faster on LeNet's and
    # ResNet-18's shapes; with 256 outputs within 5%, less than transposing the sum took (0.35 ms).
    turn = per_group <= 128
    # Flags go to the helpers as values computed from mode (mode == INPUT, ...), even where their value is
    # known: Numba compiles a helper once per constant True or False (13.7-15.6 -> 11.5-11.7 s cold).
    partial = np.zeros((threads if mode == WEIGHT else 0, groups, taps * per_group), dtype=x.dtype)
    turned = np.empty((groups if mode == INPUT else 0, taps, per_group), dtype=x.dtype)
    for g in range(turned.shape[0]):
        _transpose_into(turned[g], w[g], mode == WEIGHT)
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
                         cols.reshape((groups * taps, positions * nb)), mode == INPUT)
            for g in range(groups):
                if mode == FORWARD:
                    np.dot(w[g], cols[g], tile_grad)
                    _move_products(grad, n0, nb, p0, g * per_group, tile_grad, bias, mode != FORWARD)
                else:
                    _move_products(grad, n0, nb, p0, g * per_group, tile_grad, bias, mode != FORWARD)
                    if mode == WEIGHT:
                        if turn:
                            _add(partial[t, g].reshape((taps, per_group)), np.dot(cols[g], tile_grad.T))
                        else:
                            _add(partial[t, g].reshape((per_group, taps)), np.dot(tile_grad, cols[g].T))
                    else:
                        np.dot(turned[g], tile_grad, cols[g])
            if mode == INPUT:  # col2im into the image itself, or into the block transposed
                xt = _block(x, n0, nb, block_space) if nb == 1 else \
                    block_space[:_image_size(x) * nb].reshape(x.shape[1:] + (nb,))
                xt[...] = 0.0
                _columns(xt, runs, count, kernel, stride, padding, dilation, out_size,
                         cols.reshape((groups * taps, positions * nb)), mode == INPUT)
                if nb > 1:
                    _transpose_block(x, n0, xt, True)
    if mode == WEIGHT:
        w[...] = 0.0
        for t in range(threads):
            for g in range(groups):
                if turn:
                    _transpose_into(w[g], partial[t, g].reshape((taps, per_group)), mode == WEIGHT)
                else:
                    _add(w[g], partial[t, g].reshape((per_group, taps)))


def conv_forward(x, w, bias, kernel, stride, padding, dilation, out_size, images, chunk, threads, out):
    """out (N, C_out, L) = the cross-correlation of x with w, plus bias (C_out,) when it is not empty."""
    warm_up.wait()
    conv_pass(FORWARD, x, w, out, bias, kernel, stride, padding, dilation, out_size, images, chunk, threads)


def conv_weight(x, grad, groups, kernel, stride, padding, dilation, out_size, images, chunk, threads):
    """The gradient in w, (G, C_out / G, C_in / G * K)."""
    warm_up.wait()
    taps = x.shape[1] // groups * kernel[0] * kernel[1] * kernel[2]
    dw = np.empty((groups, grad.shape[1] // groups, taps), dtype=x.dtype)
    conv_pass(WEIGHT, x, dw, grad, _NO_BIAS.astype(x.dtype), kernel, stride, padding, dilation, out_size, images,
              chunk, threads)
    return dw


def conv_input(grad, w, kernel, stride, padding, dilation, out_size, images, threads, grad_x):
    """grad_x (N, C_in, D, H, W) = the adjoint of conv_forward in x, by blocks of whole images."""
    warm_up.wait()
    volume = out_size[0] * out_size[1] * out_size[2]
    conv_pass(INPUT, grad_x, w, grad, _NO_BIAS.astype(w.dtype), kernel, stride, padding, dilation, out_size, images,
              volume, threads)

