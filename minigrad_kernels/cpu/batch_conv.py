"""Direct convolution with the batch as the vector dimension, its sums held in registers.

The input is laid out batch-minor, (C, D, H, W, Np): the batch last, padded with zeros to Np, a multiple
of the tile's lanes. Then one input position of a block of images is a contiguous vector, and every
kernel tap (c, a, b, e) of an output position is the vector at a fixed offset from the position's
corner. A task computes `rows` output channels x one block of images at one output position:
register_tile.multiply_accumulate runs the whole reduction over channels and taps with the sums in
registers, and stores them once into a small buffer, from which runs of positions go to the
(N, O, Do, Ho, Wo) output through in-register transposes. No column matrix is built, and only the input
is copied (transposed). Each position sums only over its taps that read inside the input: the padding's
are skipped, not multiplied by zeros (on ResNet-18's 2x2 maps 5 of a 3x3 kernel's 9 taps read padding),
so the padding is never stored either.

The gradient in x at stride 1 is the same kernel: the output gradient convolved with padding
dilation * (kernel - 1) - padding and the weight turned (taps reversed, in and out swapped), which the
weight offsets address in place.

Geometry arguments are (depth, height, width) triples. Inner loops index with unsigned ints.
"""
import numpy as np
from numba import prange, types, uint64
from numba.extending import overload

from minigrad_kernels._jit import cpu_kernel
from minigrad_kernels.cpu.pool import power_of_two_inverse
from minigrad_kernels.cpu.register_tile import TILE_BYTES, multiply_accumulate, transpose_store
from minigrad_kernels.cpu.vector_math import LANES, sigmoid_vectors


@cpu_kernel(parallel=False)
def tile(channels, n_batch, lanes):
    """(rows, vectors) of the register tile for a convolution into this many output channels of n_batch
    images, `lanes` to a vector: 12 to 24 sums in registers (AVX-512 has 32), as few padded rows as that
    allows, and more vectors than rows' broadcasts where the batch fills them (a step's loads, one a vector
    and one a row, then feed more multiply-adds: LeNet's layers, batch 256, two threads, 16 x 1 -> 8 x 2
    0.82 -> 0.60 ms, 6 x 2 -> 6 x 4 0.75 -> 0.62 ms)."""
    if channels >= 7:
        return (16, 1) if channels >= 16 and n_batch <= lanes else (8, 2)
    if channels >= 5:
        return (6, 4) if n_batch > 2 * lanes else (6, 2)
    return 4, 4


@cpu_kernel
def to_batch_minor(x, out):
    """out (C, D, H, W, Np) = x (N, C, D, H, W) C-contiguous, transposed, zero for images n >= N: blocks
    of L images x L elements (L lanes) transposed in registers, the edges one by one."""
    n_batch = x.shape[0]
    size, n_pad = out.size // max(1, out.shape[-1]), out.shape[-1]  # elements per image
    lanes = TILE_BYTES // x.itemsize
    source, target = x.reshape(x.size), out.reshape(out.size)
    whole_images = n_batch - n_batch % lanes
    for block in prange(-(-size // lanes)):
        first = block * lanes
        count = min(lanes, size - first)
        for n0 in range(0, whole_images if count == lanes else 0, lanes):
            transpose_store(source, n0 * size + first, size, target, first * n_pad + n0, n_pad, lanes)
        for m in range(first, first + count):
            at = uint64(m * n_pad)
            for n in range(whole_images if count == lanes else 0, n_batch):
                target[at + n] = source[n * size + m]
            for n in range(n_batch, n_pad):
                target[at + n] = 0.0


STAGE_BYTES = 1 << 15  # a task's tiles, staged before they go to the output: L1's size


RELU, SIGMOID = 1, 2  # conv's activation codes (0: none)


@cpu_kernel
def conv(xt, x_offsets, w, w_offsets, starts, w_step, w_stride, bias, stride, padding, activation, divisor, out):
    """out (N, O, Do, Ho, Wo) = bias[o] + the convolution of xt (C, D, H, W, Np): output channel o at
    position q is the sum over channels c and q's taps t in [starts[q], starts[q + 1]) of
    w[o * w_stride + c * w_step + w_offsets[t]] * xt[c, q * stride - padding + x_offsets[t]] (flat offsets
    into one channel of xt, and into w; only taps that read inside xt). w and bias hold whole tiles of
    rows (O rounded up), xt whole blocks of images. A task computes one block of rows and images at a run
    of positions into a buffer in L1, then writes it to out transposed (_write_run): stored straight from
    the registers, the lanes of one vector (images 4 KB apart on ResNet's maps) fell into one cache set.

    The epilogue, on that buffer: activation RELU or SIGMOID (float32 only) of every sum, and with a
    divisor > 0, out (N, O, 1, Ho / 2, Wo / 2) gets the 2x2 stride-2 window means of those (each task
    then has whole pairs of rows). Both as the separate kernels compute them, bit for bit."""
    _, in_d, in_h, in_w, n_pad = xt.shape
    n_batch, channels, depth, height, width = out.shape
    pooled = divisor > 0
    if pooled:
        height, width = 2 * height, 2 * width
    lanes = TILE_BYTES // xt.itemsize
    rows, vectors = tile(channels, n_batch, lanes)
    block = lanes * vectors
    n_blocks, row_blocks, volume = -(-n_batch // block), -(-channels // rows), depth * height * width
    run = max(1, min(volume, STAGE_BYTES // (rows * block * xt.itemsize)))
    run -= run % lanes if run > lanes else 0  # whole L x L transposes in _write_run
    if pooled:  # whole pairs of rows
        run = 2 * width * max(1, run // (2 * width))
    runs = -(-volume // run)
    x_flat, w_flat, out_flat = xt.reshape(xt.size), w.reshape(w.size), out.reshape(out.size)
    channel_steps = (xt.shape[0], xt.size // max(1, xt.shape[0]), w_step)
    # the intrinsic reads raw memory: every task's ranges are checked here, once (its writes go to a buffer
    # sized for them, and then inside out)
    _check_ranges(xt, x_offsets, w, w_offsets, starts, w_step, w_stride, bias, stride, padding,
                  (depth, height, width), row_blocks * rows, n_blocks * block)
    # tasks: the image block outermost (a thread's share of the input stays in cache), then rows, then runs
    for task in prange(n_blocks * row_blocks * runs):
        first, rest = task % runs * run, task // runs
        ob, nb = rest % row_blocks, rest // row_blocks
        count = min(run, volume - first)
        stage = np.empty(rows * count * block, dtype=out.dtype)  # (rows, count, block)
        for i in range(count):
            p = first + i
            x_at = _corner(p // (height * width), p // width % height, p % width, stride, padding, xt) + nb * block
            x_taps, w_taps = x_offsets[starts[p]:starts[p + 1]], w_offsets[starts[p]:starts[p + 1]]
            at, row = i * block, ob * rows  # the tile's shape must be a constant: one call per shape
            if rows == 16:
                multiply_accumulate(x_flat, x_at, x_taps, w_flat, w_taps, channel_steps, w_stride, bias, row, stage, at,
                                    count * block, 16, 1)
            elif rows == 8:
                multiply_accumulate(x_flat, x_at, x_taps, w_flat, w_taps, channel_steps, w_stride, bias, row, stage, at,
                                    count * block, 8, 2)
            elif vectors == 4 and rows == 6:
                multiply_accumulate(x_flat, x_at, x_taps, w_flat, w_taps, channel_steps, w_stride, bias, row, stage, at,
                                    count * block, 6, 4)
            elif rows == 6:
                multiply_accumulate(x_flat, x_at, x_taps, w_flat, w_taps, channel_steps, w_stride, bias, row, stage, at,
                                    count * block, 6, 2)
            else:
                multiply_accumulate(x_flat, x_at, x_taps, w_flat, w_taps, channel_steps, w_stride, bias, row, stage, at,
                                    count * block, 4, 4)
        if activation == RELU:
            for i in range(stage.size):
                stage[i] = 0 if stage[i] <= 0 else stage[i]
        elif activation == SIGMOID:
            _sigmoid_in_place(stage)
        if pooled:
            _write_run(_mean_pool(stage, rows, count, block, width, divisor), count // 4, block, nb * block,
                       ob * rows, first // 4, out)
        else:
            _write_run(stage, count, block, nb * block, ob * rows, first, out)


def _sigmoid_in_place(a):
    """a = sigmoid(a), a float32 buffer of whole vectors, as elementwise.float32_pass computes it."""


@overload(_sigmoid_in_place)
def _sigmoid_in_place_float32(a):
    if a.dtype == types.float32:
        return lambda a: sigmoid_vectors(a, 0, 0, 0, a, 0, 0, 0, a.size // LANES)
    return lambda a: None  # conv's SIGMOID is float32's (the caller's to check)


@cpu_kernel(parallel=False)
def _mean_pool(stage, rows, count, block, width, divisor):
    """The (rows, count / 4, block) 2x2 stride-2 window means of stage (rows, count, block), count positions
    being whole pairs of rows of `width`: pool.mean_pool_2x2's sums, in float64 and in its order, divided
    (by a power of two: times its inverse, the same exactly)."""
    pooled = np.empty(rows * (count // 4) * block, dtype=stage.dtype)
    inverse = power_of_two_inverse(divisor)
    half, step = width // 2, uint64(block)
    for r in range(rows):
        for q in range(count // 4):
            top = uint64((r * count + q // half * 2 * width + q % half * 2) * block)
            bottom, at = top + uint64(width * block), uint64((r * (count // 4) + q) * block)
            for j in range(step):
                total = ((np.float64(stage[top + j]) + np.float64(stage[bottom + j]))
                         + (np.float64(stage[top + step + j]) + np.float64(stage[bottom + step + j])))
                pooled[at + j] = total * inverse if inverse else total / divisor
    return pooled


@cpu_kernel(parallel=False)
def _write_run(stage, count, block, n0, o0, first, out):
    """out[n0 + j, o0 + r, first + i] = stage[r, i, j] (stage (rows, count, block) flat) for the images and
    channels out has: L x L blocks (L lanes) transposed in registers, the rest one by one."""
    n_batch, channels = out.shape[:2]
    volume = out.size // max(1, n_batch * channels)
    width = TILE_BYTES // stage.itemsize
    flat = out.reshape(out.size)
    images, whole = min(block, n_batch - n0), count - count % width
    for r in range(min(stage.size // (count * block), channels - o0)):
        row = ((n0 * channels + o0 + r) * volume + first)
        for j0 in range(0, images, width):
            i0 = 0
            if j0 + width <= images:
                for i0 in range(0, whole, width):
                    transpose_store(stage, (r * count + i0) * block + j0, block, flat,
                                    row + j0 * channels * volume + i0, channels * volume, width)
                i0 = whole
            for j in range(j0, min(j0 + width, images)):
                at, source = uint64(row + j * channels * volume), uint64(r * count * block + j)
                for i in range(uint64(i0), uint64(count)):
                    flat[at + i] = stage[source + i * uint64(block)]


@cpu_kernel(parallel=False)
def _corner(zo, yo, xo, stride, padding, xt):
    """The flat offset in one channel of xt (C, D, H, W, Np) of output position (zo, yo, xo)'s tap
    (0, 0, 0), which may lie outside xt (in the padding: its taps there are skipped)."""
    return (((zo * stride[0] - padding[0]) * xt.shape[2] + yo * stride[1] - padding[1]) * xt.shape[3]
            + xo * stride[2] - padding[2]) * xt.shape[4]


@cpu_kernel(parallel=False)
def _check_ranges(xt, x_offsets, w, w_offsets, starts, w_step, w_stride, bias, stride, padding, out_size,
                  padded_rows, padded_batch):
    """Raises IndexError unless every read of conv's tasks is inside its array."""
    channels, n_pad = xt.shape[0], xt.shape[4]
    depth, height, width = out_size
    volume = depth * height * width
    if x_offsets.size != w_offsets.size or n_pad < padded_batch or bias.size < padded_rows:
        raise IndexError("batch_conv.conv: offsets of two lengths, a partial block of images, or a short bias")
    if starts.size != volume + 1 or starts[0] < 0 or starts[-1] > x_offsets.size or (
            starts.size > 1 and (starts[1:] - starts[:-1]).min() < 0):
        raise IndexError("batch_conv.conv: the positions' tap ranges are not in order inside the offsets")
    channel_size = xt.size // max(1, channels)
    # a read at offset i in channel 0 must have 0 <= i <= last; as unsigned, one comparison (a negative i
    # wraps past it). Nested loops: with a division of each position into (zo, yo, xo) and two comparisons
    # a tap, this check took 23 us a call for LeNet's first layer (784 positions, 19,600 taps)
    last = uint64(xt.size - (channels - 1) * channel_size - n_pad)
    p = 0
    for zo in range(depth):
        for yo in range(height):
            for xo in range(width):
                corner = _corner(zo, yo, xo, stride, padding, xt)
                for t in range(starts[p], starts[p + 1]):
                    if uint64(corner + x_offsets[t]) > last:
                        raise IndexError("batch_conv.conv: an input offset outside xt")
                p += 1
    if w_offsets.size and (w_offsets.min() < 0 or
                           (padded_rows - 1) * w_stride + (channels - 1) * w_step + w_offsets.max() >= w.size):
        raise IndexError("batch_conv.conv: a weight offset outside w")
