"""The primitives: one `Primitive` per op, with its compute, VJP (backward) and JVP side by side.

`compute` works on backend arrays and plain parameters; the VJP and JVP rules are written with
Tensor operations, so gradients and tangents are themselves differentiable. `Primitive.apply`
(minigrad/autograd/function.py) is the one door between the two: it checks devices and views,
unwraps and wraps once, records the op and pushes tangents. Where the JVP follows from the op, it
is declared (AUTO_LINEAR, AUTO_BILINEAR, AUTO_ELEMENT_WISE, AUTO_SYMMETRIC) instead of written.
Ops with no derivative (comparisons, indices) are primitives with `differentiable = False`.
"""
