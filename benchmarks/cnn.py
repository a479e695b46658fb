"""ResNet-18 and a VGG block (and, with --models, d2l's other modern CNNs), training and inference
throughput: minigrad against PyTorch CPU and JAX (`jax.jit`, when installed), side by side, from one invocation.

    python benchmarks/cnn.py [--threads 1 2] [--rounds 5] [--steps 3] [--batch-size N] [--models resnet18 vgg]
    python benchmarks/cnn.py --models vgg11 nin googlenet densenet121 alexnet --threads 2

Models (the same initial weights in every framework: minigrad builds them once, in a process of their own,
and each framework loads that state dict):
  resnet18  minigrad.models.resnet18(num_classes=10), d2l's ResNet-18 (7x7 stride-2 stem with BatchNorm and
            3x3 max pooling, four stages of two basic blocks, 1x1 shortcut convolutions, global average
            pooling, Linear), on CIFAR-sized 3x32x32 inputs, batch 64; the same architecture is written here
            in torch.nn and in jax.lax (BatchNorm on batch statistics while training, running statistics
            for inference, updated with PyTorch's momentum 0.1 and unbiased variance).
  vgg       a VGG block: two 3x3 convolutions 64->64 with padding 1 and ReLU, 2x2 max pooling, then Flatten
            and Linear to 10 classes, on 64x56x56 inputs, batch 16.
  vgg11, nin, googlenet, densenet121, alexnet
            minigrad.models' builders (num_classes=10, d2l's init_cnn), on the 1-channel inputs
            examples/train_cnn.py trains them on (digits resized to 32x32; 68x68 for nin and alexnet), batch
            64. The PyTorch twin runs minigrad.models' own source with torch.nn in place of minigrad.nn, so
            the architecture and the state dict's names are the same by construction. No JAX twin is
            written for these (it would duplicate five architectures): their JAX columns read "-", and a
            run of only these has no JAX columns (a line under the table says so).
--batch-size replaces every model's batch. Training: cross entropy, SGD with momentum 0.9 and lr 0.01 (PyTorch's
update, written by hand for JAX); inference: eval mode, no gradients, argmax. JAX's train step and
inference are each one jax.jit-compiled function; every timed round ends with block_until_ready.

For each thread count and model, each framework runs in its own process, the frameworks one after the
other (so that on a shared machine a burst of other load falls on all of them, not on one framework's whole
run); Numba, OpenMP, MKL and OpenBLAS get the count through their variables; XLA reads none, so the JAX
process is pinned to that many cores when it is fewer than the machine has. Images/sec are medians over rounds of --steps steps; "torch/mg" and "jax/mg"
are PyTorch's and JAX's time over minigrad's (above 1: minigrad is faster). The header gives the machine,
versions and the other load before the run, the last line the load during it.
"""
import argparse
import functools
import json
import os
import resource
import sys
import tempfile

import numpy as np

import _common

MODELS = {"resnet18": (64, (3, 32, 32)), "vgg": (16, (64, 56, 56)),  # default batch, input shape
          "vgg11": (64, (1, 32, 32)), "nin": (64, (1, 68, 68)), "googlenet": (64, (1, 32, 32)),
          "densenet121": (64, (1, 32, 32)), "alexnet": (64, (1, 68, 68))}
DEFAULT_MODELS = ["resnet18", "vgg"]
JAX_MODELS = {"resnet18", "vgg"}  # the models with a jax.lax twin below
BUILDERS = {"nin": "NiN"}  # minigrad.models has no torchvision-named builder for NiN; the others are named so
MODELS_SOURCE_IMPORTS = {  # minigrad.models' imports, and what the PyTorch twin imports in their place
    "from minigrad import creation\n": "import torch as creation\n",
    "from minigrad import toplevel as _toplevel\n": "import torch as _toplevel\n",
    "from minigrad import nn\n": "from torch import nn\n",
    "from minigrad.nn import functional as F\n": "from torch.nn import functional as F\n",
}
LR, MOMENTUM = 0.01, 0.9


def torch_resnet18(nn, num_classes=10):
    """minigrad.models.resnet18 (d2l's ResNet-18) in torch.nn, with the same module names, so that
    state dicts map one to one."""

    class Residual(nn.Module):
        def __init__(self, in_channels, num_channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, num_channels, kernel_size=3, padding=1, stride=strides)
            self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
            self.conv3 = nn.Conv2d(in_channels, num_channels, kernel_size=1, stride=strides) if use_1x1conv else None
            self.bn1 = nn.BatchNorm2d(num_channels)
            self.bn2 = nn.BatchNorm2d(num_channels)

        def forward(self, X):
            Y = nn.functional.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3 is not None:
                X = self.conv3(X)
            Y += X
            return nn.functional.relu(Y)

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Sequential(
                nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(),
                nn.MaxPool2d(kernel_size=3, stride=2, padding=1)))
            in_channels = 64
            for i, channels in enumerate((64, 128, 256, 512)):
                first = Residual(in_channels, channels) if i == 0 else \
                    Residual(in_channels, channels, use_1x1conv=True, strides=2)
                self.net.add_module(f"b{i + 2}", nn.Sequential(first, Residual(channels, channels)))
                in_channels = channels
            self.net.add_module("last", nn.Sequential(
                nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, num_classes)))

        def forward(self, X):
            return self.net(X)

    return ResNet18()


def torch_models():
    """minigrad.models' source run with torch.nn, torch.nn.functional and torch.cat in place of minigrad's:
    d2l's architectures in PyTorch with the same module names (as a namespace of its builders)."""
    import minigrad.models
    with open(minigrad.models.__file__) as f:
        source = f.read()
    for ours, theirs in MODELS_SOURCE_IMPORTS.items():
        if ours not in source:
            raise RuntimeError(f"minigrad/models/__init__.py no longer has the line {ours.strip()!r}")
        source = source.replace(ours, theirs)
    namespace = {"__name__": "torch_twin_of_minigrad_models"}
    exec(compile(source, minigrad.models.__file__ + " (with torch.nn)", "exec"), namespace)  # noqa: S102
    return namespace


def vgg_block(nn, size):
    return nn.Sequential(
        nn.Conv2d(64, 64, kernel_size=3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, kernel_size=3, padding=1),
        nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2), nn.Flatten(), nn.Linear(64 * (size // 2) ** 2, 10))


def build(framework, name):
    """The model, untrained and with placeholder weights (the caller loads the shared ones)."""
    size = MODELS[name][1][-1]
    if framework == "torch":
        import torch
        if name not in JAX_MODELS:
            net = torch_models()[BUILDERS.get(name, name)](num_classes=10)
            with torch.no_grad():
                net(torch.zeros(2, *MODELS[name][1]))  # materialize the lazy layers
            return net
        return torch_resnet18(torch.nn) if name == "resnet18" else vgg_block(torch.nn, size)
    import minigrad
    if name == "vgg":
        return vgg_block(minigrad.nn, size)
    net = getattr(minigrad.models, BUILDERS.get(name, name))(num_classes=10)
    # materialize the lazy layers; the new models get d2l's init_cnn, as examples/train_cnn.py gives them
    net.apply_init([minigrad.randn(2, *MODELS[name][1])], None if name == "resnet18" else minigrad.models.init_cnn)
    return net


def write_initial_weights(folder, names):
    """minigrad's initial state dict of each model, as {name}.npz in folder."""
    import minigrad
    for name in names:
        minigrad.manual_seed(0)
        state = build("minigrad", name).state_dict()
        np.savez(os.path.join(folder, f"{name}.npz"), **{k: v.numpy() for k, v in state.items()})
    print(json.dumps({"written": names}))


def load_weights(folder, name):
    with np.load(os.path.join(folder, f"{name}.npz")) as f:
        return {k: f[k] for k in f.files}


def data(name, batch):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((batch, *MODELS[name][1])).astype(np.float32),
            rng.integers(0, 10, batch))


def measure(framework, names, batch_size, rounds, steps, weights):
    """{name: (train, inference) images/sec} and the peak RSS, in this process."""
    if framework == "jax":
        return measure_jax(names, batch_size, rounds, steps, weights)
    threads = int(os.environ["NUMBA_NUM_THREADS"])
    if framework == "torch":
        import torch
        torch.set_num_threads(threads)
    else:
        import minigrad as torch
    results = {}
    for name in names:
        batch = batch_size or MODELS[name][0]
        net = build(framework, name)
        net.load_state_dict({k: torch.tensor(v) for k, v in load_weights(weights, name).items()})
        optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
        X_np, y_np = data(name, batch)
        X, y = torch.tensor(X_np), torch.tensor(y_np)

        def train_step():
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(X), y).backward()
            optimizer.step()

        def infer_step():
            with torch.no_grad():
                net(X).argmax(1)

        net.train()
        rates = _common.median_rates([train_step], batch, rounds, steps)
        net.eval()
        results[name] = rates + _common.median_rates([infer_step], batch, rounds, steps)
    return {"rates": results, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def jax_forward(name):
    """forward(params, buffers, X, train) -> (logits, new buffers) for the model, in jax.lax on the state
    dict's names and layouts (NCHW, OIHW, Linear (out, in))."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    def conv(p, key, X, stride=1, pad=0):
        out = lax.conv_general_dilated(X, p[key + ".weight"], (stride, stride), ((pad, pad), (pad, pad)),
                                       dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return out + p[key + ".bias"][None, :, None, None]

    def max_pool(X, k, stride, pad):
        return lax.reduce_window(X, -jnp.inf, lax.max, (1, 1, k, k), (1, 1, stride, stride),
                                 ((0, 0), (0, 0), (pad, pad), (pad, pad)))

    def linear(p, key, X):
        return X @ p[key + ".weight"].T + p[key + ".bias"]

    def batch_norm(p, b, new, key, X, train, eps=1e-5, momentum=0.1):
        if train:
            mean, var = X.mean((0, 2, 3)), X.var((0, 2, 3))
            n = X.size // X.shape[1]
            new[key + ".running_mean"] = (1 - momentum) * b[key + ".running_mean"] + momentum * mean
            new[key + ".running_var"] = (1 - momentum) * b[key + ".running_var"] + momentum * var * n / (n - 1)
        else:
            mean, var = b[key + ".running_mean"], b[key + ".running_var"]
        scale = p[key + ".weight"] * lax.rsqrt(var + eps)
        return (X - mean[None, :, None, None]) * scale[None, :, None, None] + p[key + ".bias"][None, :, None, None]

    if name == "vgg":
        def forward(p, b, X, train):
            X = jax.nn.relu(conv(p, "0", X, pad=1))
            X = max_pool(jax.nn.relu(conv(p, "2", X, pad=1)), 2, 2, 0)
            return linear(p, "6", X.reshape(X.shape[0], -1)), b
        return forward

    def forward(p, b, X, train):
        new = dict(b)
        X = jax.nn.relu(batch_norm(p, b, new, "net.0.1", conv(p, "net.0.0", X, 2, 3), train))
        X = max_pool(X, 3, 2, 1)
        for stage in ("b2", "b3", "b4", "b5"):
            for i in (0, 1):
                key = f"net.{stage}.{i}"
                stride = 2 if (i == 0 and stage != "b2") else 1
                Y = jax.nn.relu(batch_norm(p, b, new, key + ".bn1", conv(p, key + ".conv1", X, stride, 1), train))
                Y = batch_norm(p, b, new, key + ".bn2", conv(p, key + ".conv2", Y, 1, 1), train)
                if key + ".conv3.weight" in p:
                    X = conv(p, key + ".conv3", X, stride, 0)
                X = jax.nn.relu(Y + X)
        return linear(p, "net.last.2", X.mean((2, 3))), new
    return forward


def measure_jax(names, batch_size, rounds, steps, weights):
    _common.pin_to_cores(int(os.environ["NUMBA_NUM_THREADS"]))
    import jax
    import jax.numpy as jnp

    from lenet import cross_entropy, jax_optimizer

    results = {}
    for name in (name for name in names if name in JAX_MODELS):
        batch = batch_size or MODELS[name][0]
        state = load_weights(weights, name)
        params = {k: jnp.asarray(v) for k, v in state.items() if not k.endswith(("running_mean", "running_var",
                                                                                   "num_batches_tracked"))}
        buffers = {k: jnp.asarray(v) for k, v in state.items() if k.endswith(("running_mean", "running_var"))}
        opt_state, update = jax_optimizer("sgd", LR, params, momentum=MOMENTUM)
        forward = jax_forward(name)
        X_np, y_np = data(name, batch)
        X, y = jnp.asarray(X_np), jnp.asarray(y_np)

        @functools.partial(jax.jit, donate_argnums=(0, 1, 2))
        def train(params, buffers, opt_state, X, y):
            def loss(params):
                logits, new = forward(params, buffers, X, True)
                return cross_entropy(logits, y), new
            grads, buffers = jax.grad(loss, has_aux=True)(params)
            params, opt_state = update(params, grads, opt_state)
            return params, buffers, opt_state

        infer = jax.jit(lambda params, buffers, X: forward(params, buffers, X, False)[0].argmax(1))
        live = [params, buffers, opt_state, None]

        def train_step():
            live[0], live[1], live[2] = train(live[0], live[1], live[2], X, y)

        def infer_step():
            live[3] = infer(live[0], live[1], X)

        def sync():
            jax.block_until_ready(live)

        results[name] = _common.median_rates([train_step, infer_step], batch, rounds, steps, sync)
    return {"rates": results, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="steps per timed round")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="batch for every model (default: 16 for vgg, 64 for the others)")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=DEFAULT_MODELS,
                        help="default: resnet18 vgg")
    parser.add_argument("--measure", choices=["minigrad", "torch", "jax"], help=argparse.SUPPRESS)
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    parser.add_argument("--write-weights", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_weights:
        return write_initial_weights(args.write_weights, args.models)
    if args.measure:
        print(json.dumps(measure(args.measure, args.models, args.batch_size, args.rounds, args.steps,
                                 args.weights)))
        return
    with_jax = JAX_MODELS.intersection(args.models)
    frameworks = ["minigrad"] + [name for name in ("torch", "jax") if _common.installed(name)
                                 and (name != "jax" or with_jax)]
    peers = frameworks[1:]
    load = _common.print_header("benchmarks/cnn.py", args.threads,
                                "one process per framework, model and thread count, the frameworks in turn; "
                                "JAX pinned to that many cores")
    with tempfile.TemporaryDirectory() as weights:
        if _common.run_child(__file__, ["--write-weights", weights, "--models", *args.models], dict(os.environ),
                             "building the initial weights with minigrad") is None:
            sys.exit(1)
        for threads in args.threads:
            rates, peak_rss = {framework: {} for framework in frameworks}, {framework: 0.0 for framework in frameworks}
            for name in args.models:
                for framework in frameworks:
                    if framework == "jax" and name not in JAX_MODELS:
                        continue
                    result = _common.run_child(
                        __file__, ["--measure", framework, "--weights", weights, "--rounds", args.rounds, "--steps",
                                   args.steps, "--models", name] + (
                            ["--batch-size", args.batch_size] if args.batch_size else []),
                        _common.thread_env(threads), f"{framework}, {name}, {threads} thread(s)")
                    if result is not None:
                        rates[framework][name] = result["rates"][name]
                        peak_rss[framework] = max(peak_rss[framework], result["peak_rss_mb"])
            print(f"\ncpu, {threads} thread(s): images/sec, median of {args.rounds} rounds of {args.steps} steps")
            columns = "".join(f"{name:>9}{name + '/mg':>9}" for name in peers)
            width = max(10, *(len(name) + 1 for name in args.models))
            print(f"{'model':<{width}}{'input':>10}{'batch':>6}{'mg train':>10}{columns}{'mg infer':>10}{columns}")
            for name in args.models:
                batch, shape = args.batch_size or MODELS[name][0], MODELS[name][1]
                line = f"{name:<{width}}{'x'.join(map(str, shape)):>10}{batch:>6}"
                for phase in (0, 1):  # train, inference
                    ours = rates["minigrad"].get(name, (float("nan"),) * 2)[phase]
                    line += f"{ours:>10.1f}"
                    for peer in peers:
                        if peer == "jax" and name not in JAX_MODELS:
                            line += f"{'-':>9}{'-':>9}"  # no JAX twin for this model
                            continue
                        theirs = rates[peer].get(name, (float("nan"),) * 2)[phase]
                        line += f"{theirs:>9.1f}{ours / theirs:>9.2f}"
                print(line)
            print("peak RSS: " + ", ".join(f"{framework} {peak:.0f} MB" for framework, peak in peak_rss.items()
                                           if rates[framework]))
            without_jax = [name for name in args.models if name not in JAX_MODELS]
            if _common.installed("jax") and without_jax:
                print(f"jax: not measured for {', '.join(without_jax)} (no JAX twin written)")
    print("\n" + load.report())


if __name__ == "__main__":
    main()
