"""Per-op autograd overhead on tiny tensors, and backward through a long chain.

Prints minigrad, PyTorch CPU (when installed) and raw numpy side by side, from one run, after a header
(machine, versions, the other load before the run) and before a last line (the load during it).
Timings are medians over repeats; ratios are PyTorch time / minigrad time (> 1 means minigrad is faster).

    python benchmarks/overhead.py [--repeats 7] [--chain 10000]
"""
import argparse
import statistics
import time

import numpy as np

import _common
import minigrad

try:
    import torch
    torch.set_num_threads(1)
except ImportError:
    torch = None

OPS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "exp": (lambda a, b: a.exp(), lambda a, b: np.exp(a)),
    "tanh": (lambda a, b: a.tanh(), lambda a, b: np.tanh(a)),
    "relu": (lambda a, b: a.relu(), lambda a, b: np.maximum(a, 0)),
    "matmul": (lambda a, b: a @ b, lambda a, b: a @ b),
    "sum": (lambda a, b: a.sum(0), lambda a, b: a.sum(0)),
    "reshape": (lambda a, b: a.reshape(-1), lambda a, b: a.reshape(-1)),
    "getitem": (lambda a, b: a[1:3], lambda a, b: a[1:3]),
    "softmax": (lambda a, b: a.softmax(1), lambda a, b: np.exp(a) / np.exp(a).sum(1, keepdims=True)),
}


def median_us(fn, number, repeats):
    """Median over `repeats` of the mean time of `number` calls, in microseconds."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)


def op_case(module, op, a_np, b_np, backward):
    a = module.tensor(a_np, requires_grad=True)
    b = module.tensor(b_np, requires_grad=True)
    if not backward:
        return lambda: op(a, b)
    grad = module.ones_like(op(a, b))
    return lambda: op(a, b).backward(grad)


def chain_backward_ms(module, length, repeats):
    samples = []
    for _ in range(repeats):
        x = module.tensor(1.0, requires_grad=True)
        y = x
        for _ in range(length):
            y = y * 1.0
        start = time.perf_counter()
        y.backward()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--chain", type=int, default=10000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal((4, 4)).astype(np.float32), rng.standard_normal((4, 4)).astype(np.float32)
    frameworks = [("minigrad", minigrad)] + ([("torch", torch)] if torch else [])
    load = _common.print_header("benchmarks/overhead.py", [1], "PyTorch set to 1; minigrad's kernels are "
                                "not multithreaded at these sizes")

    print(f"Per-op time on 4x4 float32 tensors, median of {args.repeats} x {args.number} calls (us)")
    header = f"{'op':<9}{'numpy fwd':>10}" + "".join(
        f"{name + ' fwd':>14}{name + ' fwd+bwd':>18}" for name, _ in frameworks)
    print(header + (f"{'torch/minigrad fwd+bwd':>25}" if torch else ""))
    for name, (op, numpy_op) in OPS.items():
        row = f"{name:<9}{median_us(lambda: numpy_op(a_np, b_np), args.number, args.repeats):>10.2f}"
        totals = []
        for _, module in frameworks:
            fwd = median_us(op_case(module, op, a_np, b_np, False), args.number, args.repeats)
            both = median_us(op_case(module, op, a_np, b_np, True), args.number, args.repeats)
            totals.append(both)
            row += f"{fwd:>14.2f}{both:>18.2f}"
        if torch:
            row += f"{totals[1] / totals[0]:>25.2f}"
        print(row)

    print(f"\nbackward() through a chain of {args.chain} multiplications, median of {args.repeats} (ms)")
    times = {name: chain_backward_ms(module, args.chain, args.repeats) for name, module in frameworks}
    for name, ms in times.items():
        print(f"{name:<9}{ms:>10.2f} ms  ({ms / args.chain * 1e3:.2f} us per node)")
    if torch:
        print(f"torch/minigrad: {times['torch'] / times['minigrad']:.2f}")
    print("\n" + load.report())


if __name__ == "__main__":
    main()
