"""The gradient in a 5x5 convolution's weight with the output channels as the vector dimension.

dw[o, c, i, k] is the sum over images n and output positions p of grad[n, o, p] * x[n, c, p's corner +
(i, k)]. With the output gradient transposed to (positions, channels), one position of 16 float32 output
channels is one vector (of 8 in a 32-byte vector for up to 8 channels: LeNet's first layer has 6), and
each of a channel's 25 kernel taps is one element of x at a fixed offset from the position's corner:
register_tile.outer_accumulate holds the 25 taps x 16 channels of sums in 25 vector registers for a whole
reduction over images and positions, each step one vector load and 25 broadcast multiply-adds. No column
matrix is built, and x is read where it lies.

The output gradient is transposed a few images at a time into a per-thread buffer that stays in cache;
each thread sums its own images, then the threads' sums are added. Inner loops index with unsigned ints.
"""
import numpy as np
from numba import prange, uint64

from minigrad_kernels._jit import cpu_kernel
from minigrad_kernels.cpu.register_tile import TILE_BYTES, half_transpose_store, outer_accumulate, transpose_store

SIDE = 5  # the kernel's height and width: the register tile is SIDE x SIDE sums of one vector each
HALF_VECTOR = TILE_BYTES // 2  # the vectors for up to 8 float32 output channels
BUFFER_BYTES = 1 << 14  # a thread's transposed output gradient: half of L1


@cpu_kernel
def conv_weight(x, grad, stride, padding, threads, dw):
    """dw (O, C, 5, 5) = the gradient in w of <conv(x, w), grad> for x (N, C, H, W) and grad (N, O, Ho, Wo),
    both C-contiguous, at the given (height, width) stride and padding, dilation 1. The parallel loop only
    calls serial functions: Numba took 3.5 s to compile it with their bodies inline, 1.1 s without the
    parallel loop."""
    n_batch, channels, height, width = x.shape
    n_out, out_h, out_w = grad.shape[1], grad.shape[2], grad.shape[3]
    if (dw.shape != (n_out, channels, SIDE, SIDE) or grad.shape[0] != n_batch or out_h < 1 or out_w < 1
            or min(padding) < 0 or (out_h - 1) * stride[0] + SIDE > height + 2 * padding[0]
            or (out_w - 1) * stride[1] + SIDE > width + 2 * padding[1]):
        raise ValueError("lane_weight.conv_weight: the shapes of x, grad and dw do not fit a 5x5 kernel")
    lanes = _vector_bytes(n_out, x.itemsize) // x.itemsize
    padded = -(-n_out // lanes) * lanes
    sums = _zeros((threads, channels * SIDE * SIDE, padded), x)
    share = -(-n_batch // threads)
    for t in prange(threads):
        _image_sums(x, grad, stride, padding, t * share, min(n_batch, (t + 1) * share), sums[t])
    _add_threads(sums, dw.reshape(n_out, channels * SIDE * SIDE))


@cpu_kernel(parallel=False)
def _zeros(shape, like):
    return np.zeros(shape, dtype=like.dtype)


@cpu_kernel(parallel=False)
def _image_sums(x, grad, stride, padding, first, last, sums):
    """sums (C * 25, padded) += the weight gradient of images [first, last), with the output channels in
    its rows' lanes (padded to whole vectors). With padding, a few images at a time are copied into a
    zero-bordered buffer."""
    _, channels, height, width = x.shape
    out_w, positions, padded = grad.shape[3], grad.shape[2] * grad.shape[3], sums.shape[1]
    rows, columns = height + 2 * padding[0], width + 2 * padding[1]  # of the padded input
    corners = np.empty(positions, dtype=np.int64)  # per position: its tap (0, 0) in a channel of x
    vectors = np.empty(positions, dtype=np.int64)  # and its vector of channels in an image of gt
    for p in range(positions):
        corners[p] = p // out_w * stride[0] * columns + p % out_w * stride[1]
        vectors[p] = p * padded
    group = max(1, BUFFER_BYTES // (positions * padded * x.itemsize))
    gt = np.zeros(group * positions * padded, dtype=x.dtype)  # (images, positions, padded)
    framed = np.zeros(group * channels * rows * columns if padding[0] or padding[1] else 0, dtype=x.dtype)
    sums_flat = sums.reshape(sums.size)
    for n0 in range(first, last, group):
        count = min(group, last - n0)
        _channels_last(grad, n0, count, padded, gt)
        source, at = x.reshape(x.size), n0 * channels * height * width
        if framed.size:
            _frame(x, n0, count, padding, framed)
            source, at = framed, 0
        steps = (count, channels * rows * columns, positions * padded, columns)
        for c in range(channels):
            if padded * x.itemsize < TILE_BYTES:  # the vector's width a compile-time constant: one call each
                outer_accumulate(source, at + c * rows * columns, corners, steps, gt, 0, vectors, sums_flat,
                                 c * SIDE * SIDE * padded, padded, SIDE, SIDE, 1, HALF_VECTOR)
                continue
            for o0 in range(0, padded, TILE_BYTES // x.itemsize):
                outer_accumulate(source, at + c * rows * columns, corners, steps, gt, o0, vectors, sums_flat,
                                 c * SIDE * SIDE * padded + o0, padded, SIDE, SIDE, 1, TILE_BYTES)


@cpu_kernel(parallel=False)
def _vector_bytes(n_out, itemsize):
    """Half vectors (32 bytes: 8 float32 lanes) for up to that many output channels, else whole ones."""
    return HALF_VECTOR if n_out * itemsize <= HALF_VECTOR else TILE_BYTES


@cpu_kernel(parallel=False)
def _frame(x, n0, count, padding, framed):
    """The images [n0, n0 + count) of x (N, C, H, W) into the middle of framed (count, C, H + 2 ph,
    W + 2 pw) flat, whose border stays zero."""
    _, channels, height, width = x.shape
    columns = width + 2 * padding[1]
    for m in range(count):
        for c in range(channels):
            for y in range(height):
                at = uint64(((m * channels + c) * (height + 2 * padding[0]) + y + padding[0]) * columns + padding[1])
                row = x[n0 + m, c, y]
                for k in range(uint64(width)):
                    framed[at + k] = row[k]


@cpu_kernel(parallel=False)
def _add_threads(sums, flat):
    """flat (O, C * 25) = the sum over threads of sums (threads, C * 25, padded), transposed."""
    for o in range(flat.shape[0]):
        for k in range(flat.shape[1]):
            flat[o, k] = 0.0
            for t in range(sums.shape[0]):
                flat[o, k] += sums[t, k, o]


@cpu_kernel(parallel=False)
def _channels_last(grad, n0, count, padded, gt):
    """gt[m, p, o] = grad[n0 + m, o, p] for m < count and o < O (grad (N, O, Ho, Wo), gt flat (images,
    positions, padded)): L x L blocks (L lanes of gt's vectors) transposed in registers, the edges one by
    one. With half vectors (fewer than L channels) a block reads L rows anyway, past the image's channels
    into the next image's, which land in lanes >= O (no sum is read from them), unless that would read past
    the end of grad."""
    n_out, positions = grad.shape[1], grad.shape[2] * grad.shape[3]
    half = padded * grad.itemsize < TILE_BYTES
    lanes = (HALF_VECTOR if half else TILE_BYTES) // grad.itemsize
    source = grad.reshape(grad.size)
    whole_p = positions - positions % lanes
    for m in range(count):
        image, at = (n0 + m) * n_out * positions, m * positions * padded
        whole_o = n_out - n_out % lanes
        if half:
            whole_o = lanes if image + lanes * positions <= grad.size else 0
        for o0 in range(0, whole_o, lanes):
            for p0 in range(0, whole_p, lanes):
                if half:
                    half_transpose_store(source, image + p0, positions, gt, at + p0 * padded, padded, lanes)
                else:
                    transpose_store(source, image + o0 * positions + p0, positions, gt, at + p0 * padded + o0,
                                    padded, lanes)
        for o in range(n_out):
            first = uint64(whole_p if o < whole_o else 0)
            row, column = uint64(image + o * positions), uint64(at + o)
            for p in range(first, uint64(positions)):
                gt[column + p * uint64(padded)] = source[row + p]
