"""Train LeNet with minigrad, as in d2l's chapter on LeNet (train_ch6).

    python examples/train_lenet.py                                  # classic LeNet, Fashion-MNIST (downloads ~30 MB)
    python examples/train_lenet.py --dataset digits --model modern  # offline: scikit-learn's bundled digits
    python examples/train_lenet.py --dataset digits --model modern --epochs 5 --plot curves.png
    mpiexec -n 2 python examples/train_lenet.py --dataset digits --model modern --distributed  # 2 MPI ranks

Offline, the first command cannot download Fashion-MNIST; its error names the cache directory and the
files to place there by hand. Offline, use the modern (or bn) LeNet: the classic one stays at chance on
the small digits set (d2l trains it for many more steps, on Fashion-MNIST).

Models: classic (sigmoid, average pooling, Xavier init, SGD lr 0.9), modern (ReLU, max pooling, Adam
lr 0.001) and bn (classic with BatchNorm, SGD lr 1.0). Every epoch prints loss, train accuracy, test
accuracy and examples/sec.
"""
import argparse
import itertools
import os
import sys
import time

DATASETS = ("fashion-mnist", "mnist", "digits", "synthetic")
MODELS = ("classic", "modern", "bn")


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments end with one line on stderr, not a usage block or a traceback."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def training_parser(prog, doc, models, batch_size, lr_help):
    """The options train_lenet.py and train_cnn.py share (--model's choices: models, the first the default);
    each adds its own."""
    parser = OneLineParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=models, default=models[0])
    parser.add_argument("--dataset", choices=DATASETS, default="fashion-mnist")
    parser.add_argument("--data-dir", default=None, help="dataset cache (default: $MINIGRAD_DATA or "
                                                          "~/.cache/minigrad/datasets)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--lr", type=float, default=None, help=lr_help)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--max-batches", type=int, default=None,
                        help="stop each epoch (and the test pass) after this many batches: a quick smoke run")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for kernels and BLAS")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default=None, help="save model and optimizer here after every epoch")
    parser.add_argument("--resume", default=None, help="continue from a checkpoint written by --checkpoint")
    parser.add_argument("--plot", default=None, help="write the training curves to this PNG")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    return parser


def check_counts(parser, args):
    if args.epochs < 0 or args.batch_size <= 0 or (args.threads is not None and args.threads <= 0) or (
            args.max_batches is not None and args.max_batches <= 0):
        parser.error("--epochs must be >= 0, --batch-size, --threads and --max-batches > 0")
    return args


def parse_args(argv):
    parser = training_parser("train_lenet.py", __doc__, MODELS, 256, "default: 0.9 classic, 0.001 modern, 1.0 bn")
    parser.add_argument("--distributed", action="store_true",
                        help="data-parallel over the ranks of an MPI launch (mpiexec -n N python ...): each rank "
                             "trains on batch-size / N images per step, so the global batch stays --batch-size")
    return check_counts(parser, parser.parse_args(argv))


def build_model(nn, kind):
    """d2l's LeNet-5 (classic), its ReLU/max-pooling variant (modern), and its BatchNorm version (bn)."""
    if kind == "bn":
        return nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(), nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
            nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(), nn.Linear(84, 10))
    act, pool = (nn.ReLU, nn.MaxPool2d) if kind == "modern" else (nn.Sigmoid, nn.AvgPool2d)
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), act(), pool(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), act(), pool(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), act(), nn.Linear(120, 84), act(), nn.Linear(84, 10))


def load_data(datasets, name, root, train):
    cls = {"fashion-mnist": datasets.FashionMNIST, "mnist": datasets.MNIST, "digits": datasets.Digits,
           "synthetic": datasets.Synthetic}[name]
    if name in ("fashion-mnist", "mnist"):
        return cls(root, train=train, download=True)
    return cls(root, train=train)


def evaluate_accuracy(torch, net, loader, device="cpu", max_batches=None):
    net.eval()
    correct = total = 0
    with torch.no_grad():
        for X, y in itertools.islice(loader, max_batches):
            X, y = X.to(device), y.to(device)
            correct += (net(X).argmax(axis=1) == y).sum().item()
            total += y.numel()
    return correct / max(total, 1)


def plot_curves(path, history, model=None, dataset=None, title=None):
    """Loss and accuracy per epoch, side by side, titled with the model, dataset and final test accuracy."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    epochs = [h["epoch"] for h in history]
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(8, 3.4), layout="constrained")
    loss_ax.plot(epochs, [h["loss"] for h in history], marker="o", label="train loss")
    loss_ax.set_ylabel("cross-entropy loss")
    loss_ax.set_ylim(bottom=0)
    for key, label in (("train_acc", "train accuracy"), ("test_acc", "test accuracy")):
        acc_ax.plot(epochs, [h[key] for h in history], marker="o", label=label)
    acc_ax.set_ylabel("accuracy")
    acc_ax.set_ylim(0, 1)
    for ax in (loss_ax, acc_ax):
        ax.set_xlabel("epoch")
        ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title is None:
        title = " ".join(part for part in (model, "LeNet" if model else None, "on " + dataset if dataset else None)
                         if part)
    fig.suptitle(f"{title or 'training'}: final test accuracy {history[-1]['test_acc']:.3f}")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def prepare(torch, args):
    """Threads, the device check and the seed, before anything is drawn."""
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: no CUDA device or CUDA backend is available; use --device cpu")
    torch.manual_seed(args.seed)


def resume(torch, args, net, optimizer, generator, say=print):
    """(first epoch, history): from --resume's checkpoint, with the generators' states, or a fresh start."""
    if not args.resume:
        return 1, []
    state = torch.load(args.resume)
    net.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["rng"]["loader"])  # the next epoch's shuffle, as if never interrupted
    torch.set_rng_state(state["rng"]["default"])
    say(f"resumed from {args.resume} after epoch {state['epoch']}")
    return state["epoch"] + 1, state["history"]


def fit(torch, args, net, optimizer, train_iter, test_iter, generator, first_epoch, history, say=print,
        sampler=None, rank=0, all_reduce=None):
    """d2l's train_ch6: the epochs from first_epoch on, each printed, checkpointed (by rank 0) and appended to
    history. With all_reduce (distributed), the epoch's figures are summed over the ranks."""
    from tqdm import tqdm

    loss_fn = torch.nn.CrossEntropyLoss()
    for epoch in range(first_epoch, args.epochs + 1):
        net.train()
        if sampler is not None:
            sampler.set_epoch(epoch)
        loss_sum = correct = seen = 0
        seconds = 0.0
        batches = tqdm(itertools.islice(train_iter, args.max_batches), desc=f"epoch {epoch}/{args.epochs}",
                       total=min(len(train_iter), args.max_batches or len(train_iter)), leave=False,
                       disable=args.no_progress or rank > 0, file=sys.stderr)
        for X, y in batches:
            start = time.perf_counter()
            X, y = X.to(args.device), y.to(args.device)
            optimizer.zero_grad()
            y_hat = net(X)
            loss = loss_fn(y_hat, y)
            loss.backward()
            optimizer.step()
            if args.device == "cuda":
                torch.cuda.synchronize()  # kernels run asynchronously: time them, not their launches
            seconds += time.perf_counter() - start
            with torch.no_grad():
                loss_sum += loss.item() * y.numel()
                correct += (y_hat.argmax(axis=1) == y).sum().item()
                seen += y.numel()
            batches.set_postfix(loss=f"{loss_sum / seen:.3f}")
        if all_reduce is not None:  # every rank's share: the epoch's figures cover the whole training set
            totals = torch.tensor([loss_sum, correct, seen], dtype=torch.float64)
            all_reduce(totals)
            loss_sum, correct, seen = totals.tolist()
        test_acc = evaluate_accuracy(torch, net, test_iter, args.device, args.max_batches)
        record = dict(epoch=epoch, loss=loss_sum / seen, train_acc=correct / seen, test_acc=test_acc,
                      examples_per_sec=seen / seconds)
        history.append(record)
        say(f"epoch {epoch}: loss {record['loss']:.3f}, train acc {record['train_acc']:.3f}, "
            f"test acc {test_acc:.3f}, {record['examples_per_sec']:.1f} examples/sec on {args.device}", flush=True)
        if args.checkpoint and rank == 0:
            rng = {"loader": generator.get_state(), "default": torch.get_rng_state()}
            torch.save({"model": net.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                        "history": history, "rng": rng}, args.checkpoint)
    return history


def train(args):
    import minigrad as torch
    from minigrad import nn
    from minigrad.data import DataLoader, DistributedSampler, datasets

    prepare(torch, args)
    root = args.data_dir or datasets.default_root()
    train_set, test_set = load_data(datasets, args.dataset, root, True), load_data(datasets, args.dataset, root, False)
    generator = torch.Generator().manual_seed(args.seed)
    rank, world, sampler, all_reduce = 0, 1, None, None
    if args.distributed:
        import minigrad.distributed as dist
        dist.init_process_group("mpi")
        rank, world, all_reduce = dist.get_rank(), dist.get_world_size(), dist.all_reduce
        if args.batch_size % world:
            raise ValueError(f"--batch-size {args.batch_size} must be divisible by the number of ranks ({world})")
        sampler = DistributedSampler(train_set, shuffle=True, seed=args.seed)
    train_iter = DataLoader(train_set, args.batch_size // world, shuffle=sampler is None, sampler=sampler,
                            generator=generator)
    test_iter = DataLoader(test_set, args.batch_size)
    say = print if rank == 0 else (lambda *a, **k: None)  # one rank reports and saves

    net = build_model(nn, args.model)
    if args.model != "modern":  # d2l's init_cnn
        net.apply(lambda m: nn.init.xavier_uniform_(m.weight) if type(m) in (nn.Linear, nn.Conv2d) else None)
    lr = args.lr if args.lr is not None else {"classic": 0.9, "modern": 0.001, "bn": 1.0}[args.model]
    net.to(args.device)
    if args.distributed:
        net = nn.parallel.DistributedDataParallel(net)  # copies rank 0's weights to every rank
    optimizer = (torch.optim.Adam if args.model == "modern" else torch.optim.SGD)(net.parameters(), lr=lr)
    first_epoch, history = resume(torch, args, net, optimizer, generator, say)
    say(f"training {args.model} LeNet on {args.dataset} ({len(train_set)} train / {len(test_set)} test images), "
        f"{args.epochs} epochs, batch {args.batch_size}, lr {lr}, on {args.device}"
        + (f", {world} ranks of batch {args.batch_size // world}" if args.distributed else ""))
    fit(torch, args, net, optimizer, train_iter, test_iter, generator, first_epoch, history, say, sampler, rank,
        all_reduce)
    if args.plot and history and rank == 0:
        plot_curves(args.plot, history, model=args.model, dataset=args.dataset)
        say(f"wrote {args.plot}")
    return history


def run(train_function, args, prog):
    """Run a training; errors end it with one line on stderr, not a traceback."""
    if args.threads is not None:  # BLAS reads these when numpy is first imported
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.threads)
    try:
        return train_function(args)
    except (RuntimeError, OSError, ValueError) as error:
        message = " ".join(str(error).split())
        sys.exit(f"{prog}: error: {message}")
    except KeyboardInterrupt:
        sys.exit(f"{prog}: interrupted")


def main(argv=None):
    return run(train, parse_args(sys.argv[1:] if argv is None else argv), "train_lenet.py")


if __name__ == "__main__":
    main()
