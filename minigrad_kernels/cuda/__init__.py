"""numba.cuda kernels. They take numba device arrays (every operand as an 8-d strided view, see
arrays.py) and plain ints, never Tensors. Under NUMBA_ENABLE_CUDASIM=1 they run in Numba's simulator."""
