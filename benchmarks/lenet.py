"""LeNet training and inference throughput: minigrad against PyTorch CPU and JAX (`jax.jit`, when installed),
side by side, from one invocation.

    python benchmarks/lenet.py [--threads 1 2] [--batch-sizes 64 256] [--rounds 5] [--steps 5] [--device cuda]

The models are examples/train_lenet.py's: "classic" (sigmoid, average pooling, SGD lr 0.9) and "modern"
(ReLU, max pooling, Adam lr 0.001), cross-entropy loss, on synthetic 28x28 data (the same arrays for every
framework). JAX runs the same layers written by hand with jax.lax (conv_general_dilated, reduce_window) and
hand-written SGD and Adam updates (PyTorch's formulas); its train step and its inference are each one
`jax.jit`-compiled function, and every timed round ends with block_until_ready.

For each thread count, each framework runs in its own process (thread pools are fixed at start-up, and
peak RSS is per process): Numba, OpenMP, MKL and OpenBLAS get the thread count through their variables;
XLA reads none of them, so the JAX process is pinned to that many cores (sched_setaffinity) when it is
fewer than the machine has. Images/sec are medians over timed rounds; "torch/mg" and "jax/mg" are
PyTorch's and JAX's time over minigrad's (above 1: minigrad is faster). The header gives the machine,
versions and the other load before the run, the last lines the load during it and the time to the first
minigrad training step in a fresh process, with a cold and with a warm Numba cache.

With --device cuda minigrad and PyTorch train on the GPU (PyTorch only if its build has CUDA; JAX is left
out), and every timed round ends with a device synchronize, so kernels are timed, not just launched.
"""
import argparse
import functools
import json
import os
import pathlib
import resource
import sys
import tempfile

import _common

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
MODELS = ("classic", "modern")


def measure(framework, batch_sizes, rounds, steps, device):
    """images/sec for {model: {batch: (train, inference)}} and the peak RSS, in this process."""
    if framework == "jax":
        return measure_jax(batch_sizes, rounds, steps)
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
    for model in MODELS:
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

            results[model][str(batch)] = _common.median_rates((train_step, infer_step), batch, rounds, steps, sync)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rates": results, "peak_rss_mb": peak_mb}


def jax_lenet(kind):
    """train_lenet.py's build_model(nn, kind) in jax.lax, PyTorch's layouts (NCHW, OIHW, Linear (out, in)) and
    its default initialisation (uniform in +-1/sqrt(fan_in) for weights and biases). Returns (init(rng),
    forward(params, X))."""
    import numpy as np
    import jax
    import jax.numpy as jnp
    from jax import lax

    shapes = [((6, 1, 5, 5), 25), ((16, 6, 5, 5), 150), ((120, 400), 400), ((84, 120), 120), ((10, 84), 84)]
    act = jax.nn.relu if kind == "modern" else jax.nn.sigmoid

    def init(rng):
        params = []
        for shape, fan_in in shapes:
            bound = 1 / np.sqrt(fan_in)
            params.append((jnp.asarray(rng.uniform(-bound, bound, shape).astype(np.float32)),
                           jnp.asarray(rng.uniform(-bound, bound, shape[0]).astype(np.float32))))
        return params

    def conv(X, w, b, pad):
        out = lax.conv_general_dilated(X, w, (1, 1), ((pad, pad), (pad, pad)),
                                       dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return out + b[None, :, None, None]

    def pool(X):  # 2x2, stride 2
        if kind == "modern":
            return lax.reduce_window(X, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        return lax.reduce_window(X, 0.0, lax.add, (1, 1, 2, 2), (1, 1, 2, 2), "VALID") * 0.25

    def forward(params, X):
        (w1, b1), (w2, b2), (w3, b3), (w4, b4), (w5, b5) = params
        X = pool(act(conv(X, w1, b1, 2)))
        X = pool(act(conv(X, w2, b2, 0)))
        X = X.reshape(X.shape[0], -1)
        X = act(X @ w3.T + b3)
        X = act(X @ w4.T + b4)
        return X @ w5.T + b5

    return init, forward


def cross_entropy(logits, y):
    import jax
    import jax.numpy as jnp
    return -jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1).mean()


def jax_optimizer(name, lr, params, momentum=0.0, betas=(0.9, 0.999), eps=1e-8):
    """PyTorch's SGD (with momentum when given) or Adam as pure functions: (state, update(params, grads,
    state) -> (params, state))."""
    import jax
    import jax.numpy as jnp

    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    if name == "sgd":
        def update(params, grads, buf):
            if not momentum:
                return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), buf
            buf = jax.tree_util.tree_map(lambda b, g: momentum * b + g, buf, grads)
            return jax.tree_util.tree_map(lambda p, b: p - lr * b, params, buf), buf
        return zeros, update
    beta1, beta2 = betas

    def update(params, grads, state):
        t, m, v = state
        t = t + 1
        m = jax.tree_util.tree_map(lambda m, g: beta1 * m + (1 - beta1) * g, m, grads)
        v = jax.tree_util.tree_map(lambda v, g: beta2 * v + (1 - beta2) * g * g, v, grads)
        step_size = lr / (1 - beta1 ** t)
        correction2 = jnp.sqrt(1 - beta2 ** t)
        params = jax.tree_util.tree_map(lambda p, m, v: p - step_size * m / (jnp.sqrt(v) / correction2 + eps),
                                        params, m, v)
        return params, (t, m, v)
    return (jnp.zeros((), jnp.float32), zeros, jax.tree_util.tree_map(jnp.zeros_like, params)), update


def measure_jax(batch_sizes, rounds, steps):
    _common.pin_to_cores(int(os.environ["NUMBA_NUM_THREADS"]))
    import numpy as np
    import jax
    import jax.numpy as jnp

    results = {}
    rng = np.random.default_rng(0)  # the same data as the other frameworks
    for model in MODELS:
        results[model] = {}
        for batch in batch_sizes:
            init, forward = jax_lenet(model)
            params = init(np.random.default_rng(1))
            opt_state, update = (jax_optimizer("adam", 1e-3, params) if model == "modern"
                                 else jax_optimizer("sgd", 0.9, params))
            X = jnp.asarray(rng.random((batch, 1, 28, 28), dtype=np.float32))
            y = jnp.asarray(rng.integers(0, 10, batch))

            @functools.partial(jax.jit, donate_argnums=(0, 1))
            def train(params, opt_state, X, y):
                grads = jax.grad(lambda p: cross_entropy(forward(p, X), y))(params)
                return update(params, grads, opt_state)

            infer = jax.jit(lambda params, X: forward(params, X).argmax(1))
            state = [params, opt_state, None]

            def train_step():
                state[0], state[1] = train(state[0], state[1], X, y)

            def infer_step():
                state[2] = infer(state[0], X)

            def sync():
                jax.block_until_ready(state)

            results[model][str(batch)] = _common.median_rates((train_step, infer_step), batch, rounds, steps, sync)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rates": results, "peak_rss_mb": peak_mb}


FIRST_STEP = ("import time, sys; t = time.perf_counter(); import minigrad; from minigrad import nn; "
              f"sys.path.insert(0, {str(EXAMPLES)!r}); from train_lenet import build_model; "
              "net = build_model(nn, 'classic'); opt = minigrad.optim.SGD(net.parameters(), lr=0.9); "
              "X = minigrad.rand(256, 1, 28, 28); y = minigrad.randint(0, 10, (256,)); "
              "nn.functional.cross_entropy(net(X), y).backward(); opt.step(); print(time.perf_counter() - t)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5, help="steps per timed round")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--measure", choices=["minigrad", "torch", "jax"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.batch_sizes, args.rounds, args.steps, args.device)))
        return
    frameworks = ["minigrad"]
    if _common.installed("torch"):
        if args.device == "cpu":
            frameworks.append("torch")
        else:
            import torch  # (only to know whether the comparison can run)
            if torch.cuda.is_available():
                frameworks.append("torch")
    if args.device == "cpu" and _common.installed("jax"):
        frameworks.append("jax")
    if args.device == "cuda":
        args.threads = args.threads[:1]  # the host threads hardly matter to GPU kernels
    load = _common.print_header("benchmarks/lenet.py", args.threads,
                                "one process per framework and thread count; JAX pinned to that many cores")
    peers = frameworks[1:]
    for threads in args.threads:
        env = _common.thread_env(threads)
        results = {}
        for framework in frameworks:
            results[framework] = _common.run_child(
                __file__, ["--measure", framework, "--rounds", args.rounds, "--steps", args.steps, "--device",
                           args.device, "--batch-sizes", *args.batch_sizes], env, f"{framework}, {threads} thread(s)")
        print(f"\n{args.device}, {threads} thread(s): images/sec, median of {args.rounds} rounds of {args.steps} steps")
        columns = "".join(f"{name:>9}{name + '/mg':>9}" for name in peers)
        print(f"{'model':<9}{'batch':>6}{'mg train':>10}{columns}{'mg infer':>10}{columns}")
        for model in MODELS:
            for batch in map(str, args.batch_sizes):
                line = f"{model:<9}{batch:>6}"
                for phase in (0, 1):  # train, inference
                    ours = results["minigrad"]["rates"][model][batch][phase] if results["minigrad"] else float("nan")
                    line += f"{ours:>10.0f}"
                    for name in peers:
                        theirs = results[name]["rates"][model][batch][phase] if results[name] else float("nan")
                        line += f"{theirs:>9.0f}{ours / theirs:>9.2f}"
                print(line)
        print("peak RSS: " + ", ".join(f"{name} {r['peak_rss_mb']:.0f} MB" for name, r in results.items() if r))
    print("\n" + load.report())
    if args.device == "cuda":
        return
    with tempfile.TemporaryDirectory() as cache:
        cold, warm = (_common.fresh_process_seconds(FIRST_STEP, cache) for _ in range(2))
    print(f"time to the first training step in a fresh process (import included): cold Numba cache {cold:.1f} s, "
          f"warm cache {warm:.1f} s")


if __name__ == "__main__":
    main()
