"""Two checkouts of minigrad against each other on convolution layers, in alternated pairs of processes.

    python benchmarks/ab.py OLD_DIR NEW_DIR [--cases conv1 conv2 ...] [--rounds 15] [--threads 2]

A change to a kernel moves a layer by 5-30%, while this shared machine moves everything by up to 1.7x for
minutes at a time (a slow phase): two runs of conv.py minutes apart cannot tell such a change from the
host. So each checkout (a directory with its own `minigrad` and `minigrad_kernels`, e.g. from
`git worktree add /tmp/old COMMIT` with the Cython extension built or copied in) gets one long-lived
worker process, and the two take turns on each case, round after round, the order swapped every round:
whatever phase the host is in falls on both. Each turn is the median of 12 timed forward passes
(no_grad, after 3 untimed); the script prints, per case, both checkouts' medians over the rounds and the
median of the rounds' paired ratios new/old (below 1: NEW is faster).
"""
import argparse
import os
import statistics
import subprocess
import sys

import _common

# name: (input shape, weight shape, padding): LeNet's two layers at batch 256 and ResNet-18's 3x3 layers
# at batch 64 (64 channels at 8x8 to 512 at 4x4, the batch-minor kernel) and at 56x56, batch 8 (Winograd)
CASES = {"conv1": ((256, 1, 28, 28), (6, 1, 5, 5), 2), "conv2": ((256, 6, 14, 14), (16, 6, 5, 5), 0),
         "resnet64": ((64, 64, 8, 8), (64, 64, 3, 3), 1), "resnet128": ((64, 128, 4, 4), (128, 128, 3, 3), 1),
         "resnet256": ((64, 256, 8, 8), (256, 256, 3, 3), 1), "resnet512": ((64, 512, 4, 4), (512, 512, 3, 3), 1),
         "winograd64": ((8, 64, 56, 56), (64, 64, 3, 3), 1)}


def worker():
    """Reads case names from stdin, answers each with its median forward time in ms on stdout."""
    import numpy as np
    import minigrad
    import minigrad.nn.functional as F

    rng = np.random.default_rng(0)
    layers = {name: (minigrad.tensor(rng.random(x, dtype=np.float32)),
                     minigrad.tensor(rng.random(w, dtype=np.float32)), padding)
              for name, (x, w, padding) in CASES.items()}
    print(minigrad.__file__, flush=True)
    for line in sys.stdin:
        x, w, padding = layers[line.strip()]
        with minigrad.no_grad():
            print(_common.median_ms(lambda: F.conv2d(x, w, padding=padding), 12, warmup=3), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=["conv1", "conv2"])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    load = _common.print_header("benchmarks/ab.py", [args.threads])
    workers = {}
    for side in ("old", "new"):
        directory = os.path.abspath(getattr(args, side))
        env = _common.thread_env(args.threads, PYTHONPATH=directory + os.pathsep + os.path.dirname(__file__))
        workers[side] = subprocess.Popen([sys.executable, "-c", "import ab; ab.worker()"], env=env, cwd="/",
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        started = workers[side].stdout.readline().strip()  # the worker's minigrad/__init__.py
        if not started:
            sys.exit(f"the {side} worker ({directory}) ended before it was ready: see its error above")
        print(f"{side}: {started}", flush=True)
    times = {(case, side): [] for case in args.cases for side in workers}
    for round_ in range(args.rounds):
        for case in args.cases:
            for side in ("old", "new") if round_ % 2 else ("new", "old"):
                workers[side].stdin.write(case + "\n")
                workers[side].stdin.flush()
                times[case, side].append(float(workers[side].stdout.readline()))
    for process in workers.values():
        process.stdin.close()
        process.wait()
    print(f"\nforward ms, median of {args.rounds} rounds (each the median of 12 passes)")
    print(f"{'case':12s} {'old':>9s} {'new':>9s} {'new/old':>8s}")
    for case in args.cases:
        old, new = times[case, "old"], times[case, "new"]
        ratio = statistics.median(b / a for a, b in zip(old, new))
        print(f"{case:12s} {statistics.median(old):9.3f} {statistics.median(new):9.3f} {ratio:8.3f}")
    print("\n" + load.report())


if __name__ == "__main__":
    main()
