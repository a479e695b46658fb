"""jacfwd against jacrev (minigrad.func, and torch.func when installed) for a tall Jacobian (R^8 -> R^2000)
and a wide one (R^2000 -> R^8), both a two-layer tanh network in float64. Median ms of repeated calls; the
last column is jacrev's time over jacfwd's in the same run (above 1: forward mode is faster). Then
per-sample gradients of a small conv net, vmap(grad(loss)) against a loop of grad over the examples.

    python benchmarks/jacobian.py [--repeats 7]
"""
import argparse
import os

import numpy as np

import _common
import minigrad
import minigrad.nn.functional as F
from minigrad import func, nn

try:
    import torch
except ImportError:
    torch = None

HIDDEN = 64
SHAPES = [("tall R^8 -> R^2000", 8, 2000), ("wide R^2000 -> R^8", 2000, 8)]


def network(module, n_in, n_out, rng):
    """x -> w2 @ tanh(w1 @ x) in `module` (minigrad or torch), and an input x."""
    w1, w2, x = (module.from_numpy(rng.standard_normal(shape) / np.sqrt(shape[-1]))
                 for shape in ((HIDDEN, n_in), (n_out, HIDDEN), (n_in,)))
    return (lambda t: w2 @ (w1 @ t).tanh()), x


def per_sample_gradients(repeats, examples=64):
    """(vmap ms, loop ms) for the gradients of each example's loss of a conv net."""
    minigrad.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 10))
    params = {name: p.detach() for name, p in net.named_parameters()}
    x, y = minigrad.randn(examples, 1, 8, 8), minigrad.randint(0, 10, (examples,))

    def loss(params, sample, target):
        return F.cross_entropy(func.functional_call(net, params, (sample.unsqueeze(0),)), target.unsqueeze(0))

    batched = _common.median_ms(lambda: func.vmap(func.grad(loss), in_dims=(None, 0, 0))(params, x, y), repeats)
    loop = _common.median_ms(lambda: [func.grad(loss)(params, x[i], y[i]) for i in range(examples)], repeats)
    return batched, loop


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    load = _common.print_header("benchmarks/jacobian.py", [os.cpu_count()], "Numba's default pool; PyTorch's "
                                "default")
    frameworks = [("minigrad", minigrad)] + ([("torch", torch)] if torch is not None else [])
    print(f"median ms of {args.repeats}, float64")
    print(f"{'Jacobian':<22}{'framework':>10}{'jacfwd':>10}{'jacrev':>10}{'rev/fwd':>9}")
    for label, n_in, n_out in SHAPES:
        for name, module in frameworks:
            fn, x = network(module, n_in, n_out, np.random.default_rng(0))
            forward = _common.median_ms(lambda: module.func.jacfwd(fn)(x), args.repeats)
            reverse = _common.median_ms(lambda: module.func.jacrev(fn)(x), args.repeats)
            print(f"{label:<22}{name:>10}{forward:>10.2f}{reverse:>10.2f}{reverse / forward:>9.2f}", flush=True)
    batched, loop = per_sample_gradients(args.repeats)
    print(f"per-sample gradients of a conv net, 64 examples: vmap(grad) {batched:.2f} ms, a loop of grad "
          f"{loop:.2f} ms, loop/vmap {loop / batched:.1f}")
    print(load.report())


if __name__ == "__main__":
    main()
