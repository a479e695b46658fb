"""max/min with indices along a dim: the Numba kernel against numpy's argmax + take_along_axis,
and PyTorch's max(dim) when installed. Medians of repeated calls; ratio = numpy time / kernel time.
A header gives the machine, versions and the other load before the run, the last line the load during it.

    python benchmarks/reductions.py
"""
import os
import statistics
import timeit

import numpy as np

import _common
from minigrad_kernels.cpu.reduce import max_along_middle

try:
    import torch
except ImportError:
    torch = None

CASES = [((256, 10), 0), ((64, 128, 128), 1), ((1000, 4096), 0), ((32, 16, 28, 28), 1)]


def median_us(fn, number=20, repeat=7):
    return statistics.median(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main():
    load = _common.print_header("benchmarks/reductions.py", [os.cpu_count()], "Numba's default pool; PyTorch's "
                                "default")
    print(f"{'shape':<18}{'dim':>4}{'numpy us':>11}{'kernel us':>11}{'torch us':>10}{'numpy/kernel':>14}")
    for shape, axis in CASES:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        outer = int(np.prod(shape[:axis]))
        x3 = x.reshape(outer, shape[axis], -1)
        max_along_middle(x3, True)  # compile or load from cache

        def with_numpy():
            index = np.argmax(x, axis=axis)
            np.take_along_axis(x, np.expand_dims(index, axis), axis)

        numpy_us = median_us(with_numpy)
        kernel_us = median_us(lambda: max_along_middle(x3, True))
        torch_us = float("nan")
        if torch:
            tx = torch.from_numpy(x)
            torch_us = median_us(lambda: tx.max(axis))
        print(f"{str(shape):<18}{axis:>4}{numpy_us:>11.1f}{kernel_us:>11.1f}{torch_us:>10.1f}"
              f"{numpy_us / kernel_us:>14.2f}")
    print(load.report())


if __name__ == "__main__":
    main()
