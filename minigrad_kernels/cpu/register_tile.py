"""Register-blocked loops written as LLVM vector code (Numba intrinsics): the inner loops of batch_conv.

LLVM's loop vectorizer keeps a loop's running sums in memory (a load and a store per multiply-add), and
its unit is one innermost loop. multiply_accumulate instead holds a tile of `rows` x `vectors` running
sums of 64 bytes each (16 float32 or 8 float64 lanes) in vector registers for a whole reduction: per
step one load of each input vector and one broadcast weight per row feed rows x vectors fused
multiply-adds. Two threads ran LeNet's and ResNet-18's convolutions through it at 110-116 GFMA/s
(float32), where OpenBLAS's GEMM on im2col columns ran at 50-60 per thread before the columns were built.
transpose_store transposes a square block of vectors with shuffles, in registers. grid_intrinsic makes
intrinsics that map a small grid of float32 vectors to another in registers (vector_math's exp and
sigmoid, winograd's tile transforms).

All read and write raw memory (no bounds checks, in the debug build either): their callers check every
range first (batch_conv.conv's _check_ranges) or derive it from array shapes.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

TILE_BYTES = 64  # one vector register of AVX-512, two of AVX2 / NEON: LLVM splits what the machine lacks


def lanes(itemsize):
    """Elements per vector for an item size in bytes."""
    return TILE_BYTES // itemsize


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
        element = context.get_data_type(sig.args[0].dtype)
        itemsize = context.get_abi_sizeof(element)
        width = lanes(itemsize)
        vector = ir.VectorType(element, width)
        index, lane_index = ir.IntType(64), ir.IntType(32)
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vector, [vector] * 3),
                                             f"llvm.fma.v{width}f{8 * itemsize}")

        def data(position):
            return context.make_array(sig.args[position])(context, builder, args[position]).data

        def vector_at(base, at):
            return builder.bitcast(builder.gep(base, [at]), vector.as_pointer())

        def constant(value):
            return ir.Constant(index, value)

        def broadcast(value):
            first = builder.insert_element(ir.Constant(vector, ir.Undefined), value, ir.Constant(lane_index, 0))
            return builder.shuffle_vector(first, ir.Constant(vector, ir.Undefined),
                                          ir.Constant(ir.VectorType(lane_index, width), None))

        x_data, x_offsets, w_data, w_offsets, bias, out = data(0), data(2), data(3), data(4), data(7), data(9)
        n_taps = cgutils.unpack_tuple(builder, context.make_array(sig.args[2])(context, builder, args[2]).shape, 1)[0]
        sums = []
        for r in range(n_rows):
            start = broadcast(builder.load(builder.gep(bias, [builder.add(first_row, constant(r))])))
            sums += [cgutils.alloca_once_value(builder, start) for _ in range(n_vectors)]
        first_weight = builder.mul(first_row, w_stride)
        with cgutils.for_range(builder, n_channels) as channel:  # the reduction, its sums in registers
            x_channel = builder.add(x_at, builder.mul(channel.index, x_step))
            w_channel = builder.add(first_weight, builder.mul(channel.index, w_step))
            with cgutils.for_range(builder, n_taps) as tap:
                at = builder.add(x_channel, builder.load(builder.gep(x_offsets, [tap.index])))
                inputs = [builder.load(vector_at(x_data, builder.add(at, constant(b * width))), align=itemsize)
                          for b in range(n_vectors)]
                weight_at = builder.add(w_channel, builder.load(builder.gep(w_offsets, [tap.index])))
                for r in range(n_rows):
                    weight = broadcast(builder.load(builder.gep(w_data, [weight_at])))
                    weight_at = builder.add(weight_at, w_stride)
                    for b in range(n_vectors):
                        total = sums[r * n_vectors + b]
                        builder.store(builder.call(fma, [weight, inputs[b], builder.load(total)]), total)
        for r in range(n_rows):
            row_at = builder.add(out_at, builder.mul(out_stride, constant(r)))
            for b in range(n_vectors):
                builder.store(builder.load(sums[r * n_vectors + b]),
                              vector_at(out, builder.add(row_at, constant(b * width))), align=itemsize)
        return context.get_dummy_value()

    return signature, codegen


@intrinsic
def transpose_store(typingctx, source, source_at, source_stride, out, out_at, out_stride, count):
    """out[out_at + j * out_stride + i] = source[source_at + i * source_stride + j] for i < L and j < count
    (L = 64 bytes / itemsize, count <= L): an L x L block transposed in registers (log2(L) rounds of
    two-vector shuffles), read as L vectors and written as `count`. source and out are 1-d arrays of one
    float dtype."""
    signature = types.void(source, source_at, source_stride, out, out_at, out_stride, count)

    def codegen(context, builder, sig, args):
        source_v, source_at_v, source_stride_v, out_v, out_at_v, out_stride_v, count_v = args
        element = context.get_data_type(sig.args[0].dtype)
        itemsize = context.get_abi_sizeof(element)
        width = lanes(itemsize)
        vector = ir.VectorType(element, width)
        source_data = context.make_array(sig.args[0])(context, builder, source_v).data
        out_data = context.make_array(sig.args[3])(context, builder, out_v).data

        def vector_at(base, at):
            return builder.bitcast(builder.gep(base, [at]), vector.as_pointer())

        mask = ir.VectorType(ir.IntType(32), width)
        rows = [builder.load(vector_at(source_data, builder.add(
            source_at_v, builder.mul(source_stride_v, ir.Constant(ir.IntType(64), i)))), align=itemsize)
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
            with builder.if_then(builder.icmp_signed("<", ir.Constant(ir.IntType(64), j), count_v), likely=True):
                builder.store(rows[j], vector_at(out_data, builder.add(
                    out_at_v, builder.mul(out_stride_v, ir.Constant(ir.IntType(64), j)))), align=itemsize)
        return context.get_dummy_value()

    return signature, codegen


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
