"""The primitives: one Function per op, with its forward, VJP (backward) and JVP side by side.

Forward works on backend arrays; the VJP and JVP rules are written with Tensor
operations, so gradients and tangents are themselves differentiable.
"""
