"""Numba kernels against numpy, and the debug switch that compiles them serial and bounds-checked."""
import os
import subprocess
import sys
import textwrap

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from minigrad_kernels.cpu.reduce import max_along_middle


@given(st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 5)), st.integers(0, 1000),
       st.booleans(), st.booleans())
def test_max_along_middle_matches_numpy(shape, seed, take_max, with_nan):
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 3, shape).astype(np.float64)  # small integers: many ties
    if with_nan:
        x.flat[rng.integers(0, x.size)] = np.nan
    values, indices = max_along_middle(x, take_max)
    arg = np.argmax(x, axis=1) if take_max else np.argmin(x, axis=1)  # numpy: first extreme, NaN first
    np.testing.assert_array_equal(indices, arg)
    np.testing.assert_array_equal(values, np.take_along_axis(x, arg[:, None, :], 1)[:, 0, :])


def test_debug_switch_compiles_bounds_checked_kernels_in_their_own_cache(tmp_path):
    module = tmp_path / "overrun.py"
    module.write_text(textwrap.dedent("""
        from numba import prange
        from minigrad_kernels._jit import cpu_kernel

        @cpu_kernel
        def read_past_end(x):
            total = 0.0
            for i in prange(x.shape[0] + 1):
                total += x[i]
            return total
    """))
    script = ("import sys, numpy, numba; sys.path.insert(0, sys.argv[1]); import overrun; "
              "print(numba.config.CACHE_DIR); overrun.read_past_end(numpy.zeros(4))")
    env = dict(os.environ, MINIGRAD_KERNEL_DEBUG="1", NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "IndexError" in result.stderr and "out of bounds" in result.stderr
    assert result.stdout.strip().endswith("numba-debug-kernels")
