"""Compiled code for minigrad: the Cython tape and the Numba kernels.

This package knows arrays, never Tensors, and never imports `minigrad`.
"""
