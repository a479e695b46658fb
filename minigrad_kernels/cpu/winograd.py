"""3x3 stride-1 convolution by Winograd's minimal filtering, F(2x2, 3x3) (Lavin and Gray, 2015).

Each 2x2 block of outputs ("tile") reads a 4x4 patch d of the input. With the constant matrices

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]

the tile is A^T [ sum_c (G w_c G^T) * (B^T d_c B) ] A: 16 products per channel pair where the direct
sum has 36. Summed over channels, the 16 elementwise products become 16 GEMMs of the transformed
weights U (16, C_out, C_in) with the transformed patches V (16, C_in, tiles): 2.25x fewer
multiply-adds than im2col + GEMM, and the GEMMs still run at BLAS speed.

The weight gradient is the adjoint in U: dU[k] = sum over tiles of (A dy A^T)[k] (V[k])^T, then
dw = G^T dU G. The input gradient is a transposed convolution, which for stride 1 is this forward
pass again with the kernel turned 180 degrees and its channel axes swapped (backends/cpu.py).

x is (N, C, H, W); a thread takes blocks of `block` tiles (in image, tile row, tile column order),
transforms their patches into its own buffer, runs the 16 GEMMs (BLAS on one thread) and writes its
block of the output: both cores busy, and the transformed input of the whole batch never exists.

Float32 layers whose channel counts are multiples of 16 run both passes channels-last: x (and the output
gradient) are transposed once to (N, H, W, C) (16 x 16 blocks in registers), so a tile's 4x4 patch is 16
runs of contiguous channels, and B^T d B, A^T M A and A g A^T are written as LLVM vector code over 16
channels at a time (_input_tile, _output_tile, _output_adjoint_tile); in NCHW the transforms read rows at
a stride of 2 and took about half of the forward pass (2.3 and 1.4 of 7.6 ms for 64->64 on 8 images of
56x56, two threads).
"""
import numpy as np
from numba import prange, uint64

from minigrad_kernels._jit import cpu_kernel
from minigrad_kernels.cpu.conv_gemm import _add
from minigrad_kernels.cpu.register_tile import grid_intrinsic, half_transpose_store, lanes, transpose_store

LANES = lanes(4)  # float32 channels per vector in the channels-last pass
HALF = LANES // 2  # and per half vector (the 8 columns past a map's last 16)


@cpu_kernel
def _weight_transform(w, u):
    """u[4k + l, o, i] = (G w[o, i] G^T)[k, l]. G's rows take (f0, f1, f2) to f0, (f0 + f1 + f2) / 2,
    (f0 - f1 + f2) / 2 and f2."""
    for o in prange(w.shape[0]):
        half = np.empty((4, 3), dtype=w.dtype)
        for i in range(w.shape[1]):
            f = w[o, i]
            for b in range(3):  # G f
                f0, f1, f2 = f[0, b], f[1, b], f[2, b]
                half[0, b], half[1, b], half[2, b], half[3, b] = f0, 0.5 * (f0 + f1 + f2), 0.5 * (f0 - f1 + f2), f2
            for k in range(4):  # (G f) G^T
                f0, f1, f2 = half[k, 0], half[k, 1], half[k, 2]
                u[4 * k, o, i], u[4 * k + 1, o, i] = f0, 0.5 * (f0 + f1 + f2)
                u[4 * k + 2, o, i], u[4 * k + 3, o, i] = 0.5 * (f0 - f1 + f2), f2


@cpu_kernel
def _weight_transform_adjoint(du, dw):
    """dw[o, i] = G^T dU[:, o, i] G, the adjoint of _weight_transform. G^T's rows take (m0, m1, m2, m3)
    to m0 + (m1 + m2) / 2, (m1 - m2) / 2 and (m1 + m2) / 2 + m3."""
    for o in prange(dw.shape[0]):
        half = np.empty((3, 4), dtype=dw.dtype)
        for i in range(dw.shape[1]):
            for q in range(4):  # G^T dU
                m0, m1, m2, m3 = du[q, o, i], du[4 + q, o, i], du[8 + q, o, i], du[12 + q, o, i]
                half[0, q], half[1, q], half[2, q] = m0 + 0.5 * (m1 + m2), 0.5 * (m1 - m2), 0.5 * (m1 + m2) + m3
            for a in range(3):  # (G^T dU) G
                m0, m1, m2, m3 = half[a, 0], half[a, 1], half[a, 2], half[a, 3]
                dw[o, i, a, 0], dw[o, i, a, 1] = m0 + 0.5 * (m1 + m2), 0.5 * (m1 - m2)
                dw[o, i, a, 2] = 0.5 * (m1 + m2) + m3


def weight_transform(w):
    """U (16, C_out, C_in) = G w G^T for w (C_out, C_in, 3, 3)."""
    u = np.empty((16,) + w.shape[:2], dtype=w.dtype)
    _weight_transform(w, u)
    return u


def weight_transform_adjoint(du):
    """dw (C_out, C_in, 3, 3) = G^T dU G, the adjoint of weight_transform."""
    dw = np.empty(du.shape[1:] + (3, 3), dtype=du.dtype)
    _weight_transform_adjoint(du, dw)
    return dw


@cpu_kernel(parallel=False)
def _tile_runs(first, count, tiles_h, tiles_w, runs):
    """Splits tiles [first, first + count) into runs along tile rows: runs[r] = (image, top output row,
    first tile column, length); returns the count of runs."""
    t, n_runs = first, 0
    while t < first + count:
        row, column = t // tiles_w, t % tiles_w
        length = min(tiles_w - column, first + count - t)
        runs[n_runs, 0], runs[n_runs, 1] = row // tiles_h, 2 * (row % tiles_h)
        runs[n_runs, 2], runs[n_runs, 3] = column, length
        n_runs += 1
        t += length
    return n_runs


# A block's transformed tiles live in a (16, stride) buffer: entry (k, channel c, tile j) at
# [k, c * count + j], so that [k, :channels * count] is the k-th GEMM operand. The stride is padded
# past a multiple of 4 KB: 16 rows 32 KB apart would share one L1 cache set (measured 4x slower).
PAD = 16


@cpu_kernel(parallel=False)
def _patches(x, runs, n_runs, pad_h, pad_w, rows, v, count):
    """v[k, c * count + j] = (B^T d B)[k] for the 4x4 patch d of channel c under the block's j-th tile
    (zero outside the image). Per run: its 4 input rows are copied into `rows` (zero-padded), turned
    into B^T d in place (contiguous, so vectorized), then each tile takes its 4 columns times B."""
    height, width = x.shape[2], x.shape[3]
    flat, plane, two = v.reshape(v.size), uint64(v.shape[1]), uint64(2)
    for c in range(x.shape[1]):
        j0 = 0
        for r in range(n_runs):
            n, oy, column, length = runs[r, 0], runs[r, 1], runs[r, 2], runs[r, 3]
            x0, span = 2 * column - pad_w, 2 * length + 2
            lo, hi = max(0, -x0), min(span, width - x0)
            for q in range(4):
                yy = oy - pad_h + q
                line = rows[q]
                line[:span] = 0.0
                if 0 <= yy < height and lo < hi:
                    line[lo:hi] = x[n, c, yy, x0 + lo:x0 + hi]
            d0, d1, d2, d3 = rows[0], rows[1], rows[2], rows[3]
            for i in range(uint64(span)):  # B^T d
                a0, a1, a2, a3 = d0[i], d1[i], d2[i], d3[i]
                d0[i], d1[i], d2[i], d3[i] = a0 - a2, a1 + a2, a2 - a1, a1 - a3
            for q in range(4):  # (B^T d) B
                line = rows[q]
                at = uint64(4 * q) * plane + uint64(c * count + j0)
                for j in range(uint64(length)):
                    a0, a1 = line[two * j], line[two * j + uint64(1)]
                    a2, a3 = line[two * j + two], line[two * j + uint64(3)]
                    k = at + j
                    flat[k], flat[k + plane], flat[k + two * plane], flat[k + uint64(3) * plane] = \
                        a0 - a2, a1 + a2, a2 - a1, a1 - a3
            j0 += length


@cpu_kernel(parallel=False)
def _outputs(m, runs, n_runs, count, out):
    """out's 2x2 block under the block's j-th tile, channel o, = A^T M A for M[a, e] = m[4a + e,
    o * count + j] (its part inside out). Row q of A^T M is M[q] + sign (M[q + 1] + M[q + 2]), sign
    = 1 - 2q, and the same for the columns."""
    height, width, c_out = out.shape[2], out.shape[3], out.shape[1]
    flat, plane, two, three = m.reshape(m.size), uint64(m.shape[1]), uint64(2), uint64(3)
    for o in range(c_out):
        j0 = 0
        for r in range(n_runs):
            n, oy, column, length = runs[r, 0], runs[r, 1], runs[r, 2], runs[r, 3]
            x0 = 2 * column
            pairs = uint64(min(length, (width - x0) // 2))  # tiles with both output columns inside
            for q in range(min(2, height - oy)):
                line = out[n, o, oy + q, x0:]
                sign = 1.0 - 2.0 * q
                top = uint64(4 * q) * plane + uint64(o * count + j0)
                middle, bottom = top + uint64(4) * plane, top + uint64(8) * plane
                for j in range(uint64(length)):
                    s0 = flat[top + j] + sign * (flat[middle + j] + flat[bottom + j])
                    s1 = flat[top + plane + j] + sign * (flat[middle + plane + j] + flat[bottom + plane + j])
                    s2 = flat[top + two * plane + j] + sign * (flat[middle + two * plane + j] +
                                                                flat[bottom + two * plane + j])
                    line[two * j] = s0 + s1 + s2
                    if j < pairs:
                        s3 = flat[top + three * plane + j] + sign * (flat[middle + three * plane + j] +
                                                                     flat[bottom + three * plane + j])
                        line[two * j + uint64(1)] = s1 - s2 - s3
            j0 += length


@cpu_kernel(parallel=False)
def _output_adjoints(grad, runs, n_runs, rows, m, count):
    """m[4a + e, o * count + j] = (A g A^T)[a, e] for the 2x2 block g of grad under the block's j-th
    tile (zero outside grad): the adjoint of _outputs. Row a of A g is g[0], g[0] + g[1], g[0] - g[1]
    or -g[1]; each row times A^T is (p0, p0 + p1, p0 - p1, -p1)."""
    height, width, c_out = grad.shape[2], grad.shape[3], grad.shape[1]
    flat, plane, two = m.reshape(m.size), uint64(m.shape[1]), uint64(2)
    for o in range(c_out):
        j0 = 0
        for r in range(n_runs):
            n, oy, column, length = runs[r, 0], runs[r, 1], runs[r, 2], runs[r, 3]
            x0, span = 2 * column, 2 * length
            inside = min(span, width - x0)
            for q in range(2):
                line = rows[q]
                line[:span] = 0.0
                if oy + q < height:
                    line[:inside] = grad[n, o, oy + q, x0:x0 + inside]
            g0, g1 = rows[0], rows[1]
            at = uint64(o * count + j0)
            for j in range(uint64(length)):
                g00, g01, g10, g11 = g0[two * j], g0[two * j + uint64(1)], g1[two * j], g1[two * j + uint64(1)]
                _store_row(flat, at + j, plane, uint64(0), g00, g01)
                _store_row(flat, at + j, plane, uint64(4), g00 + g10, g01 + g11)
                _store_row(flat, at + j, plane, uint64(8), g00 - g10, g01 - g11)
                _store_row(flat, at + j, plane, uint64(12), -g10, -g11)
            j0 += length


@cpu_kernel(parallel=False)
def _store_row(flat, at, plane, k, p0, p1):
    """Entries k..k+3 of a tile's column at flat[at + k * plane]: (p0, p1) A^T."""
    i = at + k * plane
    flat[i], flat[i + plane], flat[i + uint64(2) * plane], flat[i + uint64(3) * plane] = p0, p0 + p1, p0 - p1, -p1


FORWARD, WEIGHT = 0, 1  # what winograd_pass computes


@cpu_kernel
def winograd_pass(mode, x, u, grad, padding, block, threads):
    """FORWARD: grad (N, C_out, Ho, Wo) = conv(x, w) with U = weight_transform(w) in u; WEIGHT: u =
    the gradient in U of <conv(x, w), grad> (each thread sums its blocks, then the threads' sums are
    added). padding = (top, left); the output size is grad's."""
    n_batch, c_in = x.shape[0], x.shape[1]
    c_out = u.shape[1]
    tiles_h, tiles_w = (grad.shape[2] + 1) // 2, (grad.shape[3] + 1) // 2
    n_tiles = n_batch * tiles_h * tiles_w
    n_blocks = (n_tiles + block - 1) // block
    partial = np.zeros((threads if mode == WEIGHT else 0, 16, c_out, c_in), dtype=x.dtype)
    for t in prange(threads):
        v = np.empty((16, c_in * block + PAD), dtype=x.dtype)
        m = np.empty((16, c_out * block + PAD), dtype=x.dtype)
        product = np.empty((c_out, c_in), dtype=x.dtype)
        runs = np.empty((block + 1, 4), dtype=np.int64)
        rows = np.empty((4, 2 * block + 2), dtype=x.dtype)
        for b in range(t, n_blocks, threads):
            first = b * block
            count = min(block, n_tiles - first)
            n_runs = _tile_runs(first, count, tiles_h, tiles_w, runs)
            _patches(x, runs, n_runs, padding[0], padding[1], rows, v, count)
            if mode == FORWARD:
                for k in range(16):
                    np.dot(u[k], v[k, :c_in * count].reshape((c_in, count)),
                           m[k, :c_out * count].reshape((c_out, count)))
                _outputs(m, runs, n_runs, count, grad)
            else:
                _output_adjoints(grad, runs, n_runs, rows, m, count)
                for k in range(16):
                    np.dot(m[k, :c_out * count].reshape((c_out, count)),
                           v[k, :c_in * count].reshape((c_in, count)).T, product)
                    _add(partial[t, k], product)
    if mode == WEIGHT:
        u[...] = 0.0
        for t in range(threads):
            _add(u, partial[t])


def conv3x3(x, u, padding, block, threads, out):
    """out (N, C_out, Ho, Wo) = the stride-1 cross-correlation of x (N, C_in, H, W) with the 3x3
    kernel whose transform is u, padded by `padding` = (top, left) (zero reads past the far edges)."""
    c_out, c_in = u.shape[1], u.shape[2]
    if x.dtype != np.float32 or c_in % LANES or c_out % LANES:
        winograd_pass(FORWARD, x, u, out, padding, block, threads)
        return
    tiles_h, tiles_w = (out.shape[2] + 1) // 2, (out.shape[3] + 1) // 2
    xt = _channels_last(x, padding, tiles_h, tiles_w, 2)
    yt = np.empty((x.shape[0], 2 * tiles_h, 2 * tiles_w, c_out), dtype=x.dtype)
    _channels_last_pass(FORWARD, xt, np.ascontiguousarray(u.transpose(0, 2, 1)), yt, tiles_h, tiles_w, block, threads,
                        np.empty((0, 16, 0, 0), dtype=x.dtype))
    _from_channels_last(yt, out)


def conv3x3_weight(x, grad, padding, block, threads):
    """The gradient (C_out, C_in, 3, 3) in w of <conv3x3(x, w), grad>; channels-last as conv3x3."""
    c_out, c_in = grad.shape[1], x.shape[1]
    if x.dtype != np.float32 or c_in % LANES or c_out % LANES:
        du = np.empty((16, c_out, c_in), dtype=x.dtype)
        winograd_pass(WEIGHT, x, du, grad, padding, block, threads)
        return weight_transform_adjoint(du)
    tiles_h, tiles_w = (grad.shape[2] + 1) // 2, (grad.shape[3] + 1) // 2
    sums = np.zeros((threads, 16, c_out, c_in), dtype=x.dtype)
    _channels_last_pass(WEIGHT, _channels_last(x, padding, tiles_h, tiles_w, 2), np.empty((16, 0, 0), dtype=x.dtype),
                        _channels_last(grad, (0, 0), tiles_h, tiles_w, 0), tiles_h, tiles_w, block, threads, sums)
    return weight_transform_adjoint(sums.sum(axis=0))


def _channels_last(x, padding, tiles_h, tiles_w, halo):
    """x (N, C, H, W) as (N, 2 tiles_h + halo, 2 tiles_w + halo, C), shifted by `padding` (top, left),
    zero outside x."""
    out = np.empty((x.shape[0], 2 * tiles_h + halo, 2 * tiles_w + halo, x.shape[1]), dtype=x.dtype)
    _to_channels_last(x, padding[0], padding[1], out)
    return out


# --- the channels-last passes (float32, channel counts divisible by 16) ------------------------------

def _both_sides(combine, grid):
    """combine applied to each column of grid, then to each row of the result: M grid M^T for the matrix
    M whose rows combine writes out."""
    columns = [combine(list(column)) for column in zip(*grid)]
    return [combine(list(row)) for row in zip(*columns)]


def _input_transform(builder, d):
    """B^T d B: B^T takes (r0, r1, r2, r3) to (r0 - r2, r1 + r2, r2 - r1, r1 - r3)."""
    return _both_sides(lambda r: [builder.fsub(r[0], r[2]), builder.fadd(r[1], r[2]), builder.fsub(r[2], r[1]),
                                  builder.fsub(r[1], r[3])], d)


def _output_transform(builder, m):
    """A^T M A: A^T takes (r0, r1, r2, r3) to (r0 + r1 + r2, r1 - r2 - r3)."""
    return _both_sides(lambda r: [builder.fadd(builder.fadd(r[0], r[1]), r[2]),
                                  builder.fsub(builder.fsub(r[1], r[2]), r[3])], m)


def _output_adjoint(builder, g):
    """A g A^T, the adjoint of _output_transform: A takes (r0, r1) to (r0, r0 + r1, r0 - r1, -r1)."""
    return _both_sides(lambda r: [r[0], builder.fadd(r[0], r[1]), builder.fsub(r[0], r[1]), builder.fneg(r[1])], g)


_input_tile = grid_intrinsic("_input_tile", (4, 4), _input_transform)
_output_tile = grid_intrinsic("_output_tile", (4, 4), _output_transform)
_output_adjoint_tile = grid_intrinsic("_output_adjoint_tile", (2, 2), _output_adjoint)


@cpu_kernel
def _to_channels_last(x, pad_top, pad_left, xt):
    """xt (N, Hp, Wp, C)[n, y + pad_top, x + pad_left] = x (N, C, H, W)[n, :, y, x], zero where that
    reads outside x (pads may be negative); 16 channels x 16 columns a register transpose."""
    n_batch, channels, height, width = x.shape
    hp, wp = xt.shape[1], xt.shape[2]
    source, target = x.reshape(x.size), xt.reshape(xt.size)
    first, last = max(0, -pad_left), min(width, wp - pad_left)  # the columns of x that xt holds
    for task in prange(n_batch * hp):
        n, yp = task // hp, task % hp
        row = xt[n, yp]
        y = yp - pad_top
        for xp in range(wp):
            if y < 0 or y >= height or not first <= xp - pad_left < last:
                for c in range(channels):
                    row[xp, c] = 0.0
        if y < 0 or y >= height:
            continue
        whole = first + max(0, last - first) // LANES * LANES
        halves = whole + (last - whole) // HALF * HALF
        for c0 in range(0, channels, LANES):
            for x0 in range(first, whole, LANES):
                transpose_store(source, ((n * channels + c0) * height + y) * width + x0, height * width, target,
                                ((n * hp + yp) * wp + x0 + pad_left) * channels + c0, channels, LANES)
            if halves > whole:
                for h0 in range(c0, c0 + LANES, HALF):
                    half_transpose_store(source, ((n * channels + h0) * height + y) * width + whole, height * width,
                                         target, ((n * hp + yp) * wp + whole + pad_left) * channels + h0, channels,
                                         HALF)
            for c in range(c0, c0 + LANES):
                line = x[n, c, y]
                for xx in range(halves, last):
                    row[xx + pad_left, c] = line[xx]


@cpu_kernel
def _from_channels_last(yt, out):
    """out (N, C, Ho, Wo)[n, c, y, x] = yt (N, >= Ho, >= Wo, C)[n, y, x, c]."""
    n_batch, channels, height, width = out.shape
    hq, wq = yt.shape[1], yt.shape[2]
    source, target = yt.reshape(yt.size), out.reshape(out.size)
    whole = width // LANES * LANES
    halves = whole + (width - whole) // HALF * HALF
    for task in prange(n_batch * height):
        n, y = task // height, task % height
        for x0 in range(0, whole, LANES):
            for c0 in range(0, channels, LANES):
                transpose_store(source, ((n * hq + y) * wq + x0) * channels + c0, channels, target,
                                ((n * channels + c0) * height + y) * width + x0, height * width, LANES)
        if halves > whole:
            for c0 in range(0, channels, HALF):
                half_transpose_store(source, ((n * hq + y) * wq + whole) * channels + c0, channels, target,
                                     ((n * channels + c0) * height + y) * width + whole, height * width, HALF)
        row = yt[n, y]
        for c in range(channels):
            line = out[n, c, y]
            for xx in range(halves, width):
                line[xx] = row[xx, c]


@cpu_kernel(parallel=False)
def _tile_at(tile, tiles_h, tiles_w, height, width, channels):
    """The flat offset of tile `tile`'s corner (image, 2 ty, 2 tx) in a (N, height, width, channels) array."""
    n, rest = tile // (tiles_h * tiles_w), tile % (tiles_h * tiles_w)
    return ((n * height + 2 * (rest // tiles_w)) * width + 2 * (rest % tiles_w)) * channels


@cpu_kernel
def _channels_last_pass(mode, xt, ut, yt, tiles_h, tiles_w, block, threads, sums):
    """On xt (N, 2 tiles_h + 2, 2 tiles_w + 2, C_in), per block of tiles: V (16, tiles, C_in), then
    FORWARD: the 16 GEMMs V[k] @ ut[k] (ut[k] = U[k]^T, (16, C_in, C_out)) and the outputs into yt (N,
    2 tiles_h, 2 tiles_w, C_out); WEIGHT: M (16, tiles, C_out) = A g A^T from the output gradient yt and
    the 16 GEMMs M[k]^T V[k], added to sums[t] (threads, 16, C_out, C_in) for thread t (ut unused)."""
    n_batch, hp, wp, c_in = xt.shape
    hq, wq, c_out = yt.shape[1], yt.shape[2], yt.shape[3]
    n_tiles = n_batch * tiles_h * tiles_w
    n_blocks = -(-n_tiles // block)
    source, other = xt.reshape(xt.size), yt.reshape(yt.size)
    for t in prange(threads):
        v = np.empty((16, block, c_in), dtype=xt.dtype)
        m = np.empty((16, block, c_out), dtype=xt.dtype)
        product = np.empty((c_out, c_in), dtype=xt.dtype)
        v_flat, m_flat = v.reshape(v.size), m.reshape(m.size)
        for b in range(t, n_blocks, threads):
            first = b * block
            count = min(block, n_tiles - first)
            for j in range(count):
                _input_tile(source, _tile_at(first + j, tiles_h, tiles_w, hp, wp, c_in), wp * c_in, c_in, v_flat,
                            j * c_in, 4 * block * c_in, block * c_in, c_in // LANES)
            if mode == FORWARD:
                for k in range(16):
                    np.dot(v[k, :count], ut[k], m[k, :count])
            for j in range(count):
                at = _tile_at(first + j, tiles_h, tiles_w, hq, wq, c_out)
                if mode == FORWARD:
                    _output_tile(m_flat, j * c_out, 4 * block * c_out, block * c_out, other, at, wq * c_out, c_out,
                                 c_out // LANES)
                else:
                    _output_adjoint_tile(other, at, wq * c_out, c_out, m_flat, j * c_out, 4 * block * c_out,
                                         block * c_out, c_out // LANES)
            if mode == WEIGHT:
                for k in range(16):
                    np.dot(m[k, :count].T, v[k, :count], product)
                    _add(sums[t, k], product)
