"""Compiled code for minigrad: the Cython tape and the Numba kernels.

The Numba kernels know arrays, never Tensors; the tape's apply_primitive reads Tensors' fields. Nothing
here imports `minigrad`.
"""
import os

# Numba's parallel kernels run on GNU OpenMP's thread pool. Between two kernels its worker spins 300,000
# times (libgomp's default) and then sleeps, and waking it costs more than a small kernel: some processes
# then trained LeNet at two threads at 11,000 images/s instead of 15,000 (batch 256). 10 million spins
# bridge the gaps between the ops of a step (5 of 5 processes fast, against 2 of 3 with the default);
# libgomp still spins only 1,000 times when there are more threads than cores. Read when libgomp loads,
# so set before any kernel runs; a value the user set is kept.
os.environ.setdefault("GOMP_SPINCOUNT", "10000000")
