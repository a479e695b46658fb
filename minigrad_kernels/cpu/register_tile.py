"""Register-blocked loops written as LLVM vector code (Numba intrinsics): the inner loops of batch_conv
and lane_weight.

LLVM's loop vectorizer keeps a loop's running sums in memory (a load and a store per multiply-add), and
its unit is one innermost loop. multiply_accumulate instead holds a tile of `rows` x `vectors` running
sums of 64 bytes each (16 float32 or 8 float64 lanes) in vector registers for a whole reduction: per step
one load of each input vector and one broadcast weight per row feed rows x vectors fused multiply-adds.
Two threads of the AMD EPYC ran LeNet's and ResNet-18's convolutions through it at 110-116 GFMA/s
(float32), where OpenBLAS's GEMM on im2col columns ran at 50-60 per thread before the columns were built.
outer_accumulate holds a grid of sums the same way, of outer products of broadcast elements and vectors
(a weight gradient with the output channels in the lanes: 99 GFMA/s on LeNet's second layer).
transpose_store (and half_transpose_store, on 32-byte vectors) transposes a square block of vectors with
shuffles, in registers. grid_intrinsic makes intrinsics that map a small grid of float32 vectors to
another in registers (vector_math's exp and sigmoid, winograd's tile transforms).

All read and write raw memory (no bounds checks, in the debug build either): their callers check every
range first (batch_conv.conv's _check_ranges, lane_weight.conv_weight's shapes) or derive it from array
shapes.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

TILE_BYTES = 64  # one vector register of AVX-512, two of AVX2 / NEON: LLVM splits what the machine lacks


def lanes(itemsize):
    """Elements per vector for an item size in bytes."""
    return TILE_BYTES // itemsize


class _VectorCode:
    """LLVM vector code for an intrinsic on arrays of one float dtype: vectors of it (64 bytes unless told),
    loads and stores at element offsets, broadcasts and fused multiply-adds."""

    def __init__(self, context, builder, dtype, vector_bytes=TILE_BYTES):
        self.builder = builder
        element = context.get_data_type(dtype)
        self.itemsize = context.get_abi_sizeof(element)
        self.width = vector_bytes // self.itemsize
        self.vector = ir.VectorType(element, self.width)
        self.fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(self.vector, [self.vector] * 3),
                                                  f"llvm.fma.v{self.width}f{8 * self.itemsize}")

    @staticmethod
    def constant(value):
        return ir.Constant(ir.IntType(64), value)

    def load(self, base, at):
        return self.builder.load(self.builder.bitcast(self.builder.gep(base, [at]), self.vector.as_pointer()),
                                 align=self.itemsize)

    def store(self, value, base, at):
        self.builder.store(value, self.builder.bitcast(self.builder.gep(base, [at]), self.vector.as_pointer()),
                           align=self.itemsize)

    def broadcast(self, base, at):
        """The element base[at] in every lane."""
        lane = ir.IntType(32)
        first = self.builder.insert_element(ir.Constant(self.vector, ir.Undefined),
                                            self.builder.load(self.builder.gep(base, [at])), ir.Constant(lane, 0))
        return self.builder.shuffle_vector(first, ir.Constant(self.vector, ir.Undefined),
                                           ir.Constant(ir.VectorType(lane, self.width), None))

    def multiply_add(self, a, b, total):
        """total (a stack slot, which LLVM keeps in a register) += a * b."""
        self.builder.store(self.builder.call(self.fma, [a, b, self.builder.load(total)]), total)


def _data(context, builder, sig, args, position):
    return context.make_array(sig.args[position])(context, builder, args[position]).data


def _length(context, builder, sig, args, position):
    array = context.make_array(sig.args[position])(context, builder, args[position])
    return cgutils.unpack_tuple(builder, array.shape, 1)[0]


@intrinsic(prefer_literal=True)
def multiply_accumulate(typingctx, x, x_at, x_offsets, w, w_offsets, channels, w_stride, bias, first_row, out, out_at,
                        out_stride, rows, vectors):
    """out[out_at + r * out_stride + j] = bias[o] + the sum over c < C and t < len(x_offsets) of
    w[o * w_stride + c * w_step + w_offsets[t]] * x[x_at + c * x_step + x_offsets[t] + j], for rows
    r < `rows` (o = first_row + r) and lanes j < vectors * L (L = 64 bytes / itemsize), where
    channels = (C, x_step, w_step). x, w, bias and out are 1-d arrays of one float dtype, the offsets int64
    arrays of one length; rows and vectors are compile-time constants."""
    if not (isinstance(rows, types.IntegerLiteral) and isinstance(vectors, types.IntegerLiteral)):
        return None
    n_rows, n_vectors = rows.literal_value, vectors.literal_value
    signature = types.void(x, x_at, x_offsets, w, w_offsets, channels, w_stride, bias, first_row, out, out_at,
                           out_stride, rows, vectors)

    def codegen(context, builder, sig, args):
        x_at, w_stride, first_row, out_at, out_stride = (args[i] for i in (1, 6, 8, 10, 11))
        n_channels, x_step, w_step = cgutils.unpack_tuple(builder, args[5], 3)
        code = _VectorCode(context, builder, sig.args[0].dtype)
        x_data, x_offsets, w_data, w_offsets, bias, out = (_data(context, builder, sig, args, i)
                                                           for i in (0, 2, 3, 4, 7, 9))
        sums = []
        for r in range(n_rows):
            start = code.broadcast(bias, builder.add(first_row, code.constant(r)))
            sums += [cgutils.alloca_once_value(builder, start) for _ in range(n_vectors)]
        first_weight, n_taps = builder.mul(first_row, w_stride), _length(context, builder, sig, args, 2)
        with cgutils.for_range(builder, n_channels) as channel:  # the reduction, its sums in registers
            x_channel = builder.add(x_at, builder.mul(channel.index, x_step))
            w_channel = builder.add(first_weight, builder.mul(channel.index, w_step))
            with cgutils.for_range(builder, n_taps) as tap:
                at = builder.add(x_channel, builder.load(builder.gep(x_offsets, [tap.index])))
                inputs = [code.load(x_data, builder.add(at, code.constant(b * code.width))) for b in range(n_vectors)]
                weight_at = builder.add(w_channel, builder.load(builder.gep(w_offsets, [tap.index])))
                for r in range(n_rows):
                    weight = code.broadcast(w_data, weight_at)
                    weight_at = builder.add(weight_at, w_stride)
                    for b in range(n_vectors):
                        code.multiply_add(weight, inputs[b], sums[r * n_vectors + b])
        for r in range(n_rows):
            row_at = builder.add(out_at, builder.mul(out_stride, code.constant(r)))
            for b in range(n_vectors):
                code.store(builder.load(sums[r * n_vectors + b]), out,
                           builder.add(row_at, code.constant(b * code.width)))
        return context.get_dummy_value()

    return signature, codegen


@intrinsic(prefer_literal=True)
def outer_accumulate(typingctx, a, a_at, a_offsets, images, v, v_at, v_offsets, out, out_at, out_stride,
                     grid_rows, grid_columns, vectors, vector_bytes):
    """out[out_at + (i * grid_columns + k) * out_stride + j] += the sum over images m < M and steps
    t < len(a_offsets) of a[a_at + m * a_step + a_offsets[t] + i * row_stride + k] *
    v[v_at + m * v_step + v_offsets[t] + j], for i < grid_rows, k < grid_columns and lanes
    j < vectors * L (L = vector_bytes / itemsize), where images = (M, a_step, v_step, row_stride): a sum
    of outer products of a grid of broadcast elements of `a` (a convolution's input under a kernel's taps)
    and vectors of `v` (its output gradient with the channels in the lanes), held in registers. a, v and
    out are 1-d arrays of one float dtype, the offsets int64 arrays of one length; grid_rows, grid_columns,
    vectors and vector_bytes (32 or 64) are compile-time constants."""
    shape = (grid_rows, grid_columns, vectors, vector_bytes)
    if not all(isinstance(n, types.IntegerLiteral) for n in shape):
        return None
    n_rows, n_columns, n_vectors, n_bytes = (n.literal_value for n in shape)
    signature = types.void(a, a_at, a_offsets, images, v, v_at, v_offsets, out, out_at, out_stride, *shape)

    def codegen(context, builder, sig, args):
        a_at, v_at, out_at, out_stride = (args[i] for i in (1, 5, 8, 9))
        n_images, a_step, v_step, row_stride = cgutils.unpack_tuple(builder, args[3], 4)
        code = _VectorCode(context, builder, sig.args[0].dtype, n_bytes)
        a_data, a_offsets, v_data, v_offsets, out = (_data(context, builder, sig, args, i) for i in (0, 2, 4, 6, 7))

        def out_at_(i, k, b):
            return builder.add(builder.add(out_at, builder.mul(out_stride, code.constant(i * n_columns + k))),
                               code.constant(b * code.width))
        sums = [cgutils.alloca_once_value(builder, code.load(out, out_at_(i, k, b)))
                for i in range(n_rows) for k in range(n_columns) for b in range(n_vectors)]
        n_steps = _length(context, builder, sig, args, 2)
        with cgutils.for_range(builder, n_images) as image:  # the reduction, its sums in registers
            a_image = builder.add(a_at, builder.mul(image.index, a_step))
            v_image = builder.add(v_at, builder.mul(image.index, v_step))
            with cgutils.for_range(builder, n_steps) as step:
                at = builder.add(v_image, builder.load(builder.gep(v_offsets, [step.index])))
                vectors_ = [code.load(v_data, builder.add(at, code.constant(b * code.width))) for b in range(n_vectors)]
                corner = builder.add(a_image, builder.load(builder.gep(a_offsets, [step.index])))
                for i in range(n_rows):
                    row = builder.add(corner, builder.mul(row_stride, code.constant(i)))
                    for k in range(n_columns):
                        element = code.broadcast(a_data, builder.add(row, code.constant(k)))
                        for b in range(n_vectors):
                            code.multiply_add(element, vectors_[b], sums[(i * n_columns + k) * n_vectors + b])
        for i in range(n_rows):
            for k in range(n_columns):
                for b in range(n_vectors):
                    code.store(builder.load(sums[(i * n_columns + k) * n_vectors + b]), out, out_at_(i, k, b))
        return context.get_dummy_value()

    return signature, codegen


def _transposer(name, vector_bytes):
    """An intrinsic name(source, source_at, source_stride, out, out_at, out_stride, count):
    out[out_at + j * out_stride + i] = source[source_at + i * source_stride + j] for i < L and j < count
    (L = vector_bytes / itemsize, count <= L): an L x L block transposed in registers (log2(L) rounds of
    two-vector shuffles), read as L vectors and written as `count`. source and out are 1-d arrays of one
    float dtype."""
    def typer(typingctx, source, source_at, source_stride, out, out_at, out_stride, count):
        return types.void(source, source_at, source_stride, out, out_at, out_stride, count), codegen

    def codegen(context, builder, sig, args):
        source_at, source_stride, out_at, out_stride, count = (args[i] for i in (1, 2, 4, 5, 6))
        code = _VectorCode(context, builder, sig.args[0].dtype, vector_bytes)
        source, out, width = _data(context, builder, sig, args, 0), _data(context, builder, sig, args, 3), code.width
        mask = ir.VectorType(ir.IntType(32), width)
        rows = [code.load(source, builder.add(source_at, builder.mul(source_stride, code.constant(i))))
                for i in range(width)]
        step = width // 2
        while step:  # swap bit `step` of the row index with bit `step` of the lane index
            for i in range(width):
                if i & step:
                    continue
                low = [width + k - step if k & step else k for k in range(width)]
                high = [width + k if k & step else k + step for k in range(width)]
                a, b = rows[i], rows[i | step]
                rows[i] = builder.shuffle_vector(a, b, ir.Constant(mask, low))
                rows[i | step] = builder.shuffle_vector(a, b, ir.Constant(mask, high))
            step //= 2
        for j in range(width):
            with builder.if_then(builder.icmp_signed("<", code.constant(j), count), likely=True):
                code.store(rows[j], out, builder.add(out_at, builder.mul(out_stride, code.constant(j))))
        return context.get_dummy_value()

    typer.__name__ = typer.__qualname__ = name
    return intrinsic(typer)


transpose_store = _transposer("transpose_store", TILE_BYTES)
half_transpose_store = _transposer("half_transpose_store", TILE_BYTES // 2)  # L x L for 32-byte vectors


def grid_intrinsic(name, in_shape, transform):
    """An intrinsic name(source, at, stride0, stride1, target, target_at, target_stride0, target_stride1,
    vectors) that, for i < 16 * vectors (16 float32 lanes a step), reads the in_shape grid of vectors
    source[at + a * stride0 + b * stride1 + i], maps it by transform(builder, grid) to another grid of
    <16 x float> values, and writes that to target the same way (a 1 x 1 grid is an elementwise pass; a
    plane-major buffer is a 4 x 4 grid with strides 4 * plane and plane). float32 arrays only."""
    def typer(typingctx, source, at, stride0, stride1, target, target_at, target_stride0, target_stride1,
              vectors):
        if not (source.dtype == target.dtype == types.float32):
            return None
        signature = types.void(source, *[types.intp] * 3, target, *[types.intp] * 4)

        def codegen(context, builder, sig, args):
            arrays = [context.make_array(sig.args[i])(context, builder, args[i]).data for i in (0, 4)]
            vector = ir.VectorType(ir.FloatType(), lanes(4)).as_pointer()
            with cgutils.for_range(builder, args[8]) as step:
                lane = builder.mul(step.index, ir.Constant(args[1].type, lanes(4)))

                def pointer(side, a, b):
                    base, first, second = args[4 * side + 1:4 * side + 4]
                    steps = builder.add(builder.mul(first, ir.Constant(first.type, a)),
                                        builder.mul(second, ir.Constant(second.type, b)))
                    at = builder.add(builder.add(base, lane), steps)
                    return builder.bitcast(builder.gep(arrays[side], [at]), vector)

                grid = [[builder.load(pointer(0, a, b), align=4) for b in range(in_shape[1])]
                        for a in range(in_shape[0])]
                for a, row in enumerate(transform(builder, grid)):
                    for b, value in enumerate(row):
                        builder.store(value, pointer(1, a, b), align=4)
            return context.get_dummy_value()

        return signature, codegen

    typer.__name__ = typer.__qualname__ = name
    return intrinsic(typer)
