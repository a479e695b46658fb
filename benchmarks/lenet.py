"""LeNet training and inference throughput: minigrad against PyTorch CPU, side by side, from one invocation.

For each thread count, each framework runs in its own process (thread pools are fixed at start-up, and
peak RSS is per process). Images/sec are medians over timed rounds; "torch/mg" is PyTorch's time over
minigrad's (above 1: minigrad is faster). Also: the time to the first training step in a fresh process,
with a cold and with a warm Numba cache.

    python benchmarks/lenet.py [--threads 1 2] [--batch-sizes 64 256] [--rounds 5] [--device cuda]

With --device cuda both frameworks train on the GPU (PyTorch only if its build has CUDA), and every timed
round ends with a device synchronize, so kernels are timed, not just launched.
"""
import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def measure(framework, batch_sizes, rounds, steps, device):
    """images/sec for {model: {batch: (train, inference)}} and the peak RSS, in this process."""
    import numpy as np

    threads = int(os.environ["NUMBA_NUM_THREADS"])
    if framework == "torch":
        import torch
        torch.set_num_threads(threads)
        nn = torch.nn
    else:
        import minigrad as torch
        from minigrad import nn
    sys.path.insert(0, str(EXAMPLES))
    from train_lenet import build_model

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    results = {}
    rng = np.random.default_rng(0)
    for model in ("classic", "modern"):
        results[model] = {}
        for batch in batch_sizes:
            torch.manual_seed(0)
            net = build_model(nn, model).to(device)
            optimizer = (torch.optim.Adam(net.parameters(), lr=1e-3) if model == "modern"
                         else torch.optim.SGD(net.parameters(), lr=0.9))
            X = torch.tensor(rng.random((batch, 1, 28, 28), dtype=np.float32)).to(device)
            y = torch.tensor(rng.integers(0, 10, batch)).to(device)

            def train_step():
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(net(X), y)
                loss.backward()
                optimizer.step()

            def infer_step():
                with torch.no_grad():
                    net(X).argmax(1)

            rates = []
            for step in (train_step, infer_step):
                step()
                sync()
                samples = []
                for _ in range(rounds):
                    start = time.perf_counter()
                    for _ in range(steps):
                        step()
                    sync()
                    samples.append(batch * steps / (time.perf_counter() - start))
                rates.append(statistics.median(samples))
            results[model][str(batch)] = rates
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rates": results, "peak_rss_mb": peak_mb}


def first_step_seconds(cache_dir):
    script = ("import time, sys; t = time.perf_counter(); import minigrad; from minigrad import nn; "
              f"sys.path.insert(0, {str(EXAMPLES)!r}); from train_lenet import build_model; "
              "net = build_model(nn, 'classic'); opt = minigrad.optim.SGD(net.parameters(), lr=0.9); "
              "X = minigrad.rand(256, 1, 28, 28); y = minigrad.randint(0, 10, (256,)); "
              "nn.functional.cross_entropy(net(X), y).backward(); opt.step(); print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", script], env=dict(os.environ, NUMBA_CACHE_DIR=cache_dir),
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed round")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--measure", choices=["minigrad", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.batch_sizes, args.rounds, args.steps, args.device)))
        return
    try:
        import torch  # (only to know whether the comparison can run)
        frameworks = ["minigrad", "torch"] if args.device == "cpu" or torch.cuda.is_available() else ["minigrad"]
    except ImportError:
        frameworks = ["minigrad"]
    if args.device == "cuda":
        args.threads = args.threads[:1]  # the host threads hardly matter to GPU kernels
    for threads in args.threads:
        env = dict(os.environ, NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                   MKL_NUM_THREADS=str(threads))
        results = {}
        for framework in frameworks:
            command = [sys.executable, __file__, "--measure", framework, "--rounds", str(args.rounds),
                       "--steps", str(args.steps), "--device", args.device,
                       "--batch-sizes", *map(str, args.batch_sizes)]
            results[framework] = json.loads(subprocess.run(command, env=env, capture_output=True, text=True,
                                                           check=True).stdout)
        print(f"\n{args.device}, {threads} thread(s): images/sec, median of {args.rounds} rounds of {args.steps} steps")
        print(f"{'model':<9}{'batch':>6}{'mg train':>10}{'torch':>9}{'torch/mg':>9}{'mg infer':>10}{'torch':>9}"
              f"{'torch/mg':>9}")
        for model in ("classic", "modern"):
            for batch in map(str, args.batch_sizes):
                ours = results["minigrad"]["rates"][model][batch]
                line = f"{model:<9}{batch:>6}{ours[0]:>10.0f}"
                if "torch" in results:
                    theirs = results["torch"]["rates"][model][batch]
                    line += f"{theirs[0]:>9.0f}{ours[0] / theirs[0]:>9.2f}{ours[1]:>10.0f}{theirs[1]:>9.0f}" \
                            f"{ours[1] / theirs[1]:>9.2f}"
                else:
                    line += f"{'':>18}{ours[1]:>10.0f}"
                print(line)
        print("peak RSS: " + ", ".join(f"{name} {r['peak_rss_mb']:.0f} MB" for name, r in results.items()))
    if args.device == "cuda":
        return
    with tempfile.TemporaryDirectory() as cache:
        cold, warm = first_step_seconds(cache), first_step_seconds(cache)
    print(f"\ntime to the first training step in a fresh process (import included): cold Numba cache {cold:.1f} s, "
          f"warm cache {warm:.1f} s")


if __name__ == "__main__":
    main()
