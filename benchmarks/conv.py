"""Convolution, pooling and unfold: minigrad against PyTorch CPU and a numpy im2col baseline.

    python benchmarks/conv.py [--threads 1 2] [--repeats 7]

Rows: LeNet's two convolutions (batch 256), 3x3 stride-1 convolutions with padding 1 at the sizes of
ResNet's stages (64->64 at 56x56 and 128->128 at 28x28, each at batch 8 and 64), 2x2 pooling and unfold.
"fwd" is the forward alone, "f+b" forward, sum and backward (gradients for input and weight).

Each thread count runs in its own process (the BLAS and Numba thread pools are fixed at start-up),
all from one invocation. Times are medians in ms; "torch/mg" is PyTorch's time over minigrad's
(above 1: minigrad is faster). The header gives the machine, versions and the other load before the
run, the last lines the load during it and the JIT cost: a fresh process until its first LeNet conv
step, with a cold and with a warm Numba cache.
"""
import argparse
import json
import os
import tempfile

import numpy as np

import _common
from _common import median_ms

# (name, batch, c_in, c_out, size, kernel, padding)
CONVS = [("lenet conv1 1->6 28x28 k5 p2", 256, 1, 6, 28, 5, 2),
         ("lenet conv2 6->16 14x14 k5", 256, 6, 16, 14, 5, 0),
         ("3x3 64->64 56x56 p1 (B=8)", 8, 64, 64, 56, 3, 1),
         ("3x3 64->64 56x56 p1 (B=64)", 64, 64, 64, 56, 3, 1),
         ("3x3 128->128 28x28 p1 (B=8)", 8, 128, 128, 28, 3, 1),
         ("3x3 128->128 28x28 p1 (B=64)", 64, 128, 128, 28, 3, 1)]
POOLS = [("max_pool2d 2x2 (256,6,28,28)", "max"), ("avg_pool2d 2x2 (256,6,28,28)", "avg")]


def numpy_im2col(x, k, pad):
    """The numpy baseline: sliding_window_view + one GEMM per layer."""
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))  # N, C, oh, ow, k, k
    n, c, oh, ow = windows.shape[:4]
    return windows.transpose(1, 4, 5, 0, 2, 3).reshape(c * k * k, n * oh * ow), (n, oh, ow)


def numpy_conv(x, w, pad):
    cols, (n, oh, ow) = numpy_im2col(x, w.shape[-1], pad)
    return (w.reshape(w.shape[0], -1) @ cols).reshape(w.shape[0], n, oh, ow).transpose(1, 0, 2, 3).copy()


def numpy_conv_step(x, w, pad):
    """Forward and backward (grad_w by GEMM, grad_x by GEMM then col2im with slice adds)."""
    cols, (n, oh, ow) = numpy_im2col(x, w.shape[-1], pad)
    c_out, c_in, k, _ = w.shape
    y = (w.reshape(c_out, -1) @ cols).reshape(c_out, n, oh, ow)
    g = np.ones_like(y).reshape(c_out, -1)
    grad_w = (g @ cols.T).reshape(w.shape)
    grad_cols = (w.reshape(c_out, -1).T @ g).reshape(c_in, k, k, n, oh, ow)
    grad_x = np.zeros((n, c_in, x.shape[2] + 2 * pad, x.shape[3] + 2 * pad), dtype=x.dtype)
    for a in range(k):
        for b in range(k):
            grad_x[:, :, a:a + oh, b:b + ow] += grad_cols[:, a, b].transpose(1, 0, 2, 3)
    return grad_w, grad_x


def measure(repeats):
    """One process, one thread count: {row name: {column: ms}}."""
    import torch
    import minigrad
    import minigrad.nn.functional as F

    torch.set_num_threads(int(os.environ["NUMBA_NUM_THREADS"]))
    rng = np.random.default_rng(0)
    rows = {}
    for name, batch, c_in, c_out, size, k, pad in CONVS:
        x = rng.standard_normal((batch, c_in, size, size)).astype(np.float32)
        w = rng.standard_normal((c_out, c_in, k, k)).astype(np.float32)
        mx, mw = minigrad.tensor(x, requires_grad=True), minigrad.tensor(w, requires_grad=True)
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        rows[name] = {
            "mg fwd": median_ms(lambda: F.conv2d(mx, mw, padding=pad), repeats),
            "torch fwd": median_ms(lambda: torch.nn.functional.conv2d(tx, tw, padding=pad), repeats),
            "numpy fwd": median_ms(lambda: numpy_conv(x, w, pad), repeats),
            "mg fwd+bwd": median_ms(lambda: F.conv2d(mx, mw, padding=pad).sum().backward(), repeats),
            "torch fwd+bwd": median_ms(lambda: torch.nn.functional.conv2d(tx, tw, padding=pad).sum().backward(),
                                       repeats),
            "numpy fwd+bwd": median_ms(lambda: numpy_conv_step(x, w, pad), repeats),
        }
    x = rng.standard_normal((256, 6, 28, 28)).astype(np.float32)
    mx, tx = minigrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    for name, kind in POOLS:
        ours = F.max_pool2d if kind == "max" else F.avg_pool2d
        theirs = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
        blocks = x.reshape(256, 6, 14, 2, 14, 2)
        rows[name] = {
            "mg fwd": median_ms(lambda: ours(mx, 2), repeats),
            "torch fwd": median_ms(lambda: theirs(tx, 2), repeats),
            "numpy fwd": median_ms(lambda: blocks.max((3, 5)) if kind == "max" else blocks.mean((3, 5)), repeats),
            "mg fwd+bwd": median_ms(lambda: ours(mx, 2).sum().backward(), repeats),
            "torch fwd+bwd": median_ms(lambda: theirs(tx, 2).sum().backward(), repeats),
        }
    x = rng.standard_normal((256, 6, 14, 14)).astype(np.float32)
    mx, tx = minigrad.tensor(x), torch.tensor(x)
    rows["unfold k5 (256,6,14,14)"] = {
        "mg fwd": median_ms(lambda: F.unfold(mx, 5), repeats),
        "torch fwd": median_ms(lambda: torch.nn.functional.unfold(tx, 5), repeats),
        "numpy fwd": median_ms(lambda: numpy_im2col(x, 5, 0), repeats),
    }
    return rows


# A fresh process: import minigrad and run one LeNet conv2 forward + backward.
FIRST_STEP = ("import time; t = time.perf_counter(); import minigrad, minigrad.nn.functional as F; "
              "x = minigrad.randn(256, 6, 14, 14, requires_grad=True); w = minigrad.randn(16, 6, 5, 5, "
              "requires_grad=True); F.max_pool2d(F.conv2d(x, w), 2).sum().backward(); "
              "print(time.perf_counter() - t)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.repeats)))
        return
    load = _common.print_header("benchmarks/conv.py", args.threads, "one process per thread count")
    for threads in args.threads:
        rows = _common.run_child(__file__, ["--measure", "--repeats", args.repeats], _common.thread_env(threads),
                                 f"{threads} thread(s)")
        if rows is None:
            continue
        print(f"\n{threads} thread(s), median ms of {args.repeats}")
        print(f"{'':<31}{'mg fwd':>9}{'torch':>9}{'numpy':>9}{'torch/mg':>9}"
              f"{'mg f+b':>10}{'torch':>9}{'numpy':>9}{'torch/mg':>9}")
        for name, r in rows.items():
            line = f"{name:<31}{r['mg fwd']:>9.2f}{r['torch fwd']:>9.2f}{r['numpy fwd']:>9.2f}" \
                   f"{r['torch fwd'] / r['mg fwd']:>9.2f}"
            if "mg fwd+bwd" in r:
                line += f"{r['mg fwd+bwd']:>10.2f}{r['torch fwd+bwd']:>9.2f}{r.get('numpy fwd+bwd', float('nan')):>9.2f}" \
                        f"{r['torch fwd+bwd'] / r['mg fwd+bwd']:>9.2f}"
            print(line)
        lenet = [n for n in rows if n.startswith("lenet")]
        ours, theirs = (sum(rows[n][c] for n in lenet) for c in ("mg fwd+bwd", "torch fwd+bwd"))
        print(f"LeNet conv layers, forward + backward: minigrad {ours:.2f} ms, PyTorch {theirs:.2f} ms, "
              f"torch/mg {theirs / ours:.2f}")
    print("\n" + load.report())
    with tempfile.TemporaryDirectory() as cache:
        cold, warm = (_common.fresh_process_seconds(FIRST_STEP, cache) for _ in range(2))
    print(f"first conv step in a fresh process (import included): cold Numba cache {cold:.1f} s, "
          f"warm cache {warm:.1f} s")


if __name__ == "__main__":
    main()
