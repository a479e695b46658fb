"""On a cold kernel cache, the slowest kernels compile in a second process while this one compiles the rest.

Numba compiles one kernel at a time, on one core. When this process compiles its first kernel, it starts a
second Python process, which compiles for float32, into the same cache, lane_weight.conv_weight (about
4 s: the weight gradients of LeNet's layers, needed at the end of its first step's backward pass, by when
it is in the cache; were it not, it would compile here too) and then conv_gemm.conv_pass (about 12 s:
im2col convolutions, which LeNet at 16 or more images does not use). The first im2col convolution waits
for that process (`wait`), and meanwhile compiles here what a training step needs after it
(_WHILE_WAITING), then loads conv_pass from the cache. If the process fails, conv_pass compiles here, as
it would without it. Not started on one core (nothing to gain) or from the warm-up process itself. A
process that never needs conv_pass does not wait: the warm-up process may outlive it, to finish the cache.
"""
import importlib
import os
import subprocess
import sys

from numba.core import sigutils

_CHILD = "MINIGRAD_WARM_UP_CHILD"  # set in the warm-up process's environment
KERNEL = "minigrad_kernels.cpu.conv_gemm.conv_pass"
_COMMAND = ("from minigrad_kernels.cpu import conv_gemm, lane_weight; lane_weight.compile_float32(); "
            "conv_gemm.compile_float32()")
_process = None


def start(compiling):
    """Starts the warm-up process, once per process; `compiling` is the kernel this process compiles now
    (module.name): when it is conv_pass, nothing is left to warm up."""
    global _process
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if _process is not None or os.environ.get(_CHILD) or cores < 2 or compiling == KERNEL:
        _process = False
        return
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, **{_CHILD: "1", "PYTHONPATH": path})
    try:
        _process = subprocess.Popen([sys.executable, "-c", _COMMAND], env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:  # no process to be had: compile here
        _process = False


# (module, kernel, float32 signature as the CPU backend calls it): what the first training step of a LeNet
# with an im2col layer, with SGD or Adam, compiles after that layer (about 6 s), in the order it needs them
_WHILE_WAITING = (
    ("linalg", "matmul_rows", "(float32[:, ::1], float32[::1, :], float32[:, ::1], int64)"),
    ("elementwise", "sigmoid_backward", "(float32[::1], float32[::1])"),
    ("elementwise", "relu_backward", "(float32[::1], float32[::1])"),
    ("linalg", "matmul_rows", "(float32[:, ::1], float32[:, ::1], float32[:, ::1], int64)"),
    ("pool", "mean_pool_2x2_adjoint", "(float32[:, :, :, ::1], float32, int64, int64)"),
    ("pool", "scatter_add_rows", "(float32[:, ::1], int64[:, ::1], int64)"),
    ("optim", "sgd", "(float32[::1], float32[::1], float32[::1], float32, float32, float32, float32, boolean, "
                     "boolean, boolean)"),
    ("optim", "adam", "(float32[::1], float32[::1], float32[::1], float32[::1], float32[::1], boolean, boolean, "
                      "float32, float32, float32, float32, float32, float32, float32, float32)"),
)


def wait():
    """Waits until the warm-up process, if one runs, has finished; compiles _WHILE_WAITING's kernels here
    meanwhile, as long as it runs."""
    global _process
    if _process:
        for module, kernel, signature in _WHILE_WAITING:
            if _process.poll() is not None:
                break
            # as a tuple of types, the cache's key for calls (a string would be its own key, never found again)
            argument_types, _ = sigutils.normalize_signature(signature)
            getattr(importlib.import_module(f"{__package__}.{module}"), kernel).compile(tuple(argument_types))
        _process.wait()
        _process = False
