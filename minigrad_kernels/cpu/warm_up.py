"""On a cold kernel cache, a second process compiles kernels while this one compiles the rest.

Numba compiles one kernel at a time, on one core. When this process compiles its first kernel, it starts a
second Python process, which compiles for float32, into the same cache, the kernels of a LeNet training
step but its convolution (_AHEAD) from the step's end backwards (the optimizer, lane_weight.conv_weight,
the backward pass's kernels, then the forward's) while this process compiles from the start forwards
(the convolution first, about 7 s): the two meet past the middle, and a classic LeNet's cold first step
took 11-12 s instead of 17-19 s. The warm-up process then compiles conv_gemm.conv_pass (about 12 s:
im2col convolutions, which LeNet at 16 or more images does not use). The first im2col convolution asks it
for conv_pass next (a line on its stdin) and waits until it is cached (a line on its stdout), compiling
_WHILE_WAITING's kernels meanwhile, then loads it from the cache. If the process fails, conv_pass compiles
here, as it would without it. Not started on one core (nothing to gain), off POSIX, or from the warm-up
process itself. A process that never needs conv_pass does not wait: the warm-up process may outlive it,
to finish the cache.
"""
import importlib
import os
import select
import subprocess
import sys

from numba.core import sigutils

_CHILD = "MINIGRAD_WARM_UP_CHILD"  # set in the warm-up process's environment
_REQUEST = b"conv_pass\n"  # on the warm-up process's stdin: compile conv_pass next; on its stdout: it is cached
_process = None
_conv_pass_ready = False

# (module, kernel, float32 signature as the CPU backend calls it)
_SGD = ("optim", "sgd", "(float32[::1], float32[::1], float32[::1], float32, float32, float32, float32, boolean, "
                        "boolean, boolean)")
_ADAM = ("optim", "adam", "(float32[::1], float32[::1], float32[::1], float32[::1], float32[::1], boolean, "
                          "boolean, float32, float32, float32, float32, float32, float32, float32, float32)")
_CONV_WEIGHT = ("lane_weight", "conv_weight", "(float32[:, :, :, ::1], float32[:, :, :, ::1], UniTuple(int64, 2), "
                                              "UniTuple(int64, 2), int64, float32[:, :, :, ::1])")
_MATMUL = ("linalg", "matmul_rows", "(float32[:, ::1], float32[:, ::1], float32[:, ::1], int64)")
_MATMUL_BT = ("linalg", "matmul_rows", "(float32[:, ::1], float32[::1, :], float32[:, ::1], int64)")  # b.T
_SIGMOID = ("elementwise", "float32_pass", "(float32[::1], boolean)")
_SIGMOID_BACKWARD = ("elementwise", "sigmoid_backward", "(float32[::1], float32[::1])")
_RELU = ("elementwise", "relu_flat", "(float32[::1],)")
_RELU_BACKWARD = ("elementwise", "relu_backward", "(float32[::1], float32[::1])")
_MEAN_POOL = ("pool", "mean_pool_2x2", "(float32[:, :, :, ::1], UniTuple(int64, 2), float32)")
_MEAN_POOL_ADJOINT = ("pool", "mean_pool_2x2_adjoint", "(float32[:, :, :, ::1], float32, int64, int64)")
_MAX_POOL = ("pool", "max_pool_2x2", "(float32[:, :, :, ::1], UniTuple(int64, 2))")
_MAX_POOL_ADJOINT = ("pool", "scatter_add_rows", "(float32[:, ::1], int64[:, ::1], int64)")
_CONV_PASS = ("conv_gemm", "conv_pass", "(int64, float32[:, :, :, :, ::1], float32[:, :, ::1], float32[:, :, ::1], "
                                        "float32[::1], UniTuple(int64, 3), UniTuple(int64, 3), UniTuple(int64, 3), "
                                        "UniTuple(int64, 3), UniTuple(int64, 3), int64, int64, int64)")
KERNEL = f"{__package__}.{_CONV_PASS[0]}.{_CONV_PASS[1]}"  # as start() is told it

# the kernels of a classic LeNet's training step (sigmoid, mean pooling, SGD: the default model) but its
# convolution, the last it needs first, then those a modern LeNet (ReLU, max pooling, Adam) adds, likewise
_AHEAD = (_SGD, _CONV_WEIGHT, _MEAN_POOL_ADJOINT, _MATMUL, _SIGMOID_BACKWARD, _SIGMOID, _MATMUL_BT, _MEAN_POOL,
          _ADAM, _MAX_POOL_ADJOINT, _RELU_BACKWARD, _RELU, _MAX_POOL)

# what the first training step of a LeNet with an im2col layer, with SGD or Adam, compiles after that layer
# (about 6 s), in the order it needs them
_WHILE_WAITING = (_MATMUL_BT, _SIGMOID_BACKWARD, _RELU_BACKWARD, _MATMUL, _MEAN_POOL_ADJOINT, _MAX_POOL_ADJOINT,
                  _SGD, _ADAM)


def start(compiling):
    """Starts the warm-up process, once per process; `compiling` is the kernel this process compiles now
    (module.name): when it is conv_pass, nothing is left to warm up."""
    global _process
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    # (select() on pipes, which the two processes talk over, is POSIX's)
    if _process is not None or os.environ.get(_CHILD) or cores < 2 or compiling == KERNEL or os.name != "posix":
        _process = False
        return
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, **{_CHILD: "1", "PYTHONPATH": path})
    try:
        _process = subprocess.Popen([sys.executable, "-c", f"import {__name__}; {__name__}.child()"], env=env,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except OSError:  # no process to be had: compile here
        _process = False


def compile_kernel(module, kernel, signature):
    """Compiles (or loads from the cache) one of the kernels above."""
    # as a tuple of types, the cache's key for calls (a string would be its own key, never found again)
    argument_types, _ = sigutils.normalize_signature(signature)
    getattr(importlib.import_module(f"{__package__}.{module}"), kernel).compile(tuple(argument_types))


def child():
    """The warm-up process: compiles _AHEAD's kernels, then conv_pass, which moves to the front when the
    parent asks for it on stdin; says on stdout when it is cached."""
    pending = [*_AHEAD, _CONV_PASS]
    while pending:
        if _CONV_PASS in pending and select.select([sys.stdin], [], [], 0)[0] and os.read(0, 64) == _REQUEST:
            pending.remove(_CONV_PASS)
            pending.insert(0, _CONV_PASS)
        item = pending.pop(0)
        compile_kernel(*item)
        if item == _CONV_PASS:
            os.write(1, _REQUEST)


def wait():
    """Until conv_pass is cached or the warm-up process, if one runs, has ended: asks it for conv_pass next,
    and compiles _WHILE_WAITING's kernels here meanwhile."""
    global _conv_pass_ready
    if not _process or _conv_pass_ready:
        return
    _conv_pass_ready = True
    try:
        _process.stdin.write(_REQUEST)
        _process.stdin.flush()
    except OSError:  # it has ended
        return
    for item in _WHILE_WAITING:
        if _process.poll() is not None or select.select([_process.stdout], [], [], 0)[0]:
            break
        compile_kernel(*item)
    _process.stdout.readline()  # the line that says so, or nothing when it ends
