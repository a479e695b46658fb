"""Data-parallel LeNet training on MPI: images/s with 1 and 2 ranks (one thread each) at the same global batch,
the time per step spent in the gradient allreduce, and the scaling efficiency, side by side from one invocation.

    python benchmarks/distributed.py [--ranks 1 2] [--batch 256] [--steps 20] [--rounds 5]

Each rank count runs under its own `mpiexec -n N` (this script re-launched with --worker). Per step, "comm"
is the time DistributedDataParallel spends starting reductions and waiting for them; it is measured with
several small buckets (reductions start while backward still runs) and with one bucket (all at the end).
Scaling efficiency is the N-rank throughput over N times the one-rank throughput. Last, one rank with all the
machine's cores as Numba threads: processes against threads on one machine. A header gives the machine,
versions and the other load before the run, the last line the load during it.
"""
import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import _common

ROOT = pathlib.Path(__file__).resolve().parent.parent


def worker(args):
    import numpy as np

    import minigrad as torch
    import minigrad.distributed as dist
    from minigrad import nn
    from minigrad.nn.parallel import DistributedDataParallel

    sys.path.insert(0, str(ROOT / "examples"))
    from train_lenet import build_model

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    local = args.batch // world
    rng = np.random.default_rng(rank)
    X = torch.tensor(rng.random((local, 1, 28, 28), dtype=np.float32))
    y = torch.tensor(rng.integers(0, 10, local))
    results = {}
    for label, cap in (("buckets", 0.05), ("one bucket", 25)):
        torch.manual_seed(0)
        net = DistributedDataParallel(build_model(nn, "modern"), bucket_cap_mb=cap)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
        comm, depth = [0.0], [0]
        for name in ("_launch_complete_buckets", "_finish"):  # _finish calls the other: count the outer only

            def timer(_timed=getattr(net, name)):
                depth[0] += 1
                start = time.perf_counter()
                try:
                    return _timed()
                finally:
                    depth[0] -= 1
                    if depth[0] == 0:
                        comm[0] += time.perf_counter() - start
            object.__setattr__(net, name, timer)

        def step():
            optimizer.zero_grad()
            nn.functional.cross_entropy(net(X), y).backward()
            optimizer.step()

        for _ in range(3):
            step()
        rounds = []
        for _ in range(args.rounds):
            dist.barrier()
            comm[0] = 0.0
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            rounds.append((time.perf_counter() - start, comm[0]))
        seconds, comm_seconds = sorted(rounds)[len(rounds) // 2]
        results[label] = dict(images_per_sec=args.batch * args.steps / seconds,
                              step_ms=1e3 * seconds / args.steps, comm_ms=1e3 * comm_seconds / args.steps,
                              buckets=len(net._buckets))
    if rank == 0:
        params = sum(p.numel() for p in net.parameters())
        print(json.dumps(dict(world=world, params=params, results=results)), flush=True)
    dist.destroy_process_group()


def launch(ranks, args, threads=1):
    mpiexec = pathlib.Path(sys.executable).parent / "mpiexec"
    mpiexec = str(mpiexec) if mpiexec.exists() else shutil.which("mpiexec")
    if mpiexec is None:
        sys.exit('benchmarks/distributed.py: mpiexec not found; pip install -e ".[mpi]"')
    env = dict(os.environ, MINIGRAD_THREADS_PER_RANK=str(threads))
    command = [mpiexec, "-n", str(ranks), sys.executable, __file__, "--worker", "--batch", str(args.batch),
               "--steps", str(args.steps), "--rounds", str(args.rounds)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=1800).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=256, help="global batch, split evenly over the ranks")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    cores = os.cpu_count() or 1
    load = _common.print_header("benchmarks/distributed.py", [1] + ([cores] if cores > 1 else []),
                                "one per rank; then one rank with all cores")
    runs = {ranks: launch(ranks, args) for ranks in args.ranks}
    threaded = launch(1, args, threads=cores) if cores > 1 else None
    params = next(iter(runs.values()))["params"]
    print(f"modern LeNet ({params:,} parameters, {4 * params / 1e3:.0f} kB of float32 gradients), Adam, global "
          f"batch {args.batch}, one thread per rank; median of {args.rounds} rounds of {args.steps} steps")
    print(f"{'ranks':>5} {'reduction':>11} {'buckets':>7} {'images/s':>9} {'step ms':>8} {'comm ms':>8} "
          f"{'comm %':>6} {'efficiency':>10}")
    base = runs[min(runs)]["results"]
    for ranks, run in runs.items():
        for label, r in run["results"].items():
            efficiency = r["images_per_sec"] / (ranks / min(runs) * base[label]["images_per_sec"])
            print(f"{ranks:>5} {label:>11} {r['buckets']:>7} {r['images_per_sec']:>9.0f} {r['step_ms']:>8.2f} "
                  f"{r['comm_ms']:>8.2f} {100 * r['comm_ms'] / r['step_ms']:>6.1f} {efficiency:>10.2f}")
    if threaded is not None:
        r = threaded["results"]["one bucket"]
        print(f"for comparison, one rank with {cores} threads: {r['images_per_sec']:.0f} images/s, "
              f"{r['step_ms']:.2f} ms per step")
    print(load.report())


if __name__ == "__main__":
    main()
