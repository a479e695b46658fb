"""numba.cuda kernels. They take numba device arrays (every operand as an 8-d strided view, see
arrays.py) and plain ints, never Tensors. Under NUMBA_ENABLE_CUDASIM=1 they run in Numba's simulator.

Module-level kernels are compiled with cache=True; the ones built per op by a factory (elementwise
ops, reductions, matmul per dtype) close over device functions and compile on first use per process.
"""
