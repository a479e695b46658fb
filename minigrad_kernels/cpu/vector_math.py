"""float32 exp and sigmoid written as LLVM vector code (Numba intrinsics): elementwise.float32_pass's loop.

This Numba has no SVML, so math.exp in a loop is a scalar libm call. exp is written out on 64-byte
vectors (16 float32 lanes): x = n ln2 + r with n = round(x / ln2) and |r| <= ln2 / 2 (ln2 split in two so
that n ln2 is exact), exp(r) by its Taylor polynomial to r**7 (truncation under 5e-9 relative on that range,
below float32's half ulp), times 2**n as two factors built from exponent bits (each normal, so a denormal
result is rounded once). Inputs are clamped to [-110, 90] first, where float32's exp is already 0 or inf,
which keeps n and both factors in range. sigmoid is 1 / (1 + e) for x >= 0 and e / (1 + e) below, from
e = exp(-|x|): no overflow, and full relative precision for large negative x. nan gives nan.

One pass of registers: given the same formulas as a Numba loop, LLVM's vectorizer kept 2**n's exponent
bits and the division in passes of their own through scratch memory.

exp_vectors and sigmoid_vectors are register_tile.grid_intrinsic's on a 1 x 1 grid: f(x, start, 0, 0, out,
start, 0, 0, count) maps x[start:start + 16 * count] into out, raw memory the caller keeps inside both.
"""
import math

import numpy as np
from llvmlite import ir
from numba.core import cgutils

from minigrad_kernels.cpu.register_tile import grid_intrinsic, lanes

LANES = lanes(4)  # float32 lanes per vector
_LN2 = math.log(2.0)
_LN2_HI = float((np.array([_LN2], np.float32).view(np.int32) & np.int32(~0xFFF)).view(np.float32)[0])  # n * it exact
_LN2_LO = float(np.float32(_LN2 - _LN2_HI))
_ROUNDER = 1.5 * 2.0 ** 23  # (v + _ROUNDER) - _ROUNDER is v rounded to an integer, |v| < 2**22
_TAYLOR = [float(np.float32(1.0 / math.factorial(k))) for k in range(7, -1, -1)]  # 1/7!, ..., 1/1!, 1/0!

_FLOAT = ir.FloatType()
_VECTOR = ir.VectorType(_FLOAT, LANES)
_BITS = ir.VectorType(ir.IntType(32), LANES)


def _splat(value, vector=_VECTOR):
    return ir.Constant(vector, [value] * LANES)


def _call(builder, name, *operands):
    function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VECTOR, [_VECTOR] * len(operands)),
                                              f"llvm.{name}.v{LANES}f32")
    return builder.call(function, operands)


def _exp(builder, v):
    """exp(v), lane by lane, as float32's exp: inf above 88.72, denormals down to -103.97, 0 below, nan
    for nan."""
    high = builder.select(builder.fcmp_ordered(">", v, _splat(90.0)), _splat(90.0), v)
    clamped = builder.select(builder.fcmp_ordered("<", high, _splat(-110.0)), _splat(-110.0), high)
    is_number = builder.fcmp_ordered("ord", v, v)
    clamped = builder.select(is_number, clamped, _splat(0.0))  # nan: any finite n; the result is v
    n_float = builder.fsub(_call(builder, "fma", clamped, _splat(1.0 / _LN2), _splat(_ROUNDER)), _splat(_ROUNDER))
    minus_n = builder.fneg(n_float)
    r = _call(builder, "fma", minus_n, _splat(_LN2_LO), _call(builder, "fma", minus_n, _splat(_LN2_HI), clamped))
    p = _splat(_TAYLOR[0])
    for coefficient in _TAYLOR[1:]:
        p = _call(builder, "fma", p, r, _splat(coefficient))
    n = builder.fptosi(n_float, _BITS)
    half = builder.ashr(n, _splat(1, _BITS))

    def power_of_two(exponent):
        biased = builder.add(exponent, _splat(127, _BITS))
        return builder.bitcast(builder.shl(biased, _splat(23, _BITS)), _VECTOR)

    e = builder.fmul(builder.fmul(p, power_of_two(half)), power_of_two(builder.sub(n, half)))
    return builder.select(is_number, e, v)


def _sigmoid(builder, v):
    """1 / (1 + exp(-v)) lane by lane, from e = exp(-|v|); nan for nan."""
    e = _exp(builder, builder.fneg(_call(builder, "fabs", v)))
    numerator = builder.select(builder.fcmp_ordered(">=", v, _splat(0.0)), _splat(1.0), e)
    return builder.fdiv(numerator, builder.fadd(_splat(1.0), e))


exp_vectors = grid_intrinsic("exp_vectors", (1, 1), lambda builder, grid: [[_exp(builder, grid[0][0])]])
sigmoid_vectors = grid_intrinsic("sigmoid_vectors", (1, 1), lambda builder, grid: [[_sigmoid(builder, grid[0][0])]])
