"""Numba CPU kernels. Every function takes and returns numpy arrays and ints."""
