"""The course's Fashion-MNIST CNN (reported there at about 93.5% test accuracy):

    [Conv(32, 3, same), ReLU, BatchNorm] x 2, MaxPool 2, Dropout
    [Conv(64, 3, same), ReLU, BatchNorm] x 2, MaxPool 2, Dropout
    Flatten, Dense 512, ReLU, BatchNorm, Dropout, Dense 10

    python examples/fmnist_cnn.py --epochs 10
    python examples/fmnist_cnn.py --dataset digits --epochs 3     # offline

Each epoch shows a progress bar on stderr (--no-progress hides it) and prints one line.
"""
import argparse
import itertools
import sys
import time

from tqdm import tqdm

import minigrad as torch
from minigrad import nn
from minigrad.data import DataLoader, datasets

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import train_lenet  # noqa: E402  (dataset choices and loading)


def block(c_in, c_out):
    return [nn.Conv2d(c_in, c_out, 3, padding="same"), nn.ReLU(), nn.BatchNorm2d(c_out),
            nn.Conv2d(c_out, c_out, 3, padding="same"), nn.ReLU(), nn.BatchNorm2d(c_out),
            nn.MaxPool2d(2), nn.Dropout(0.25)]


def build():
    return nn.Sequential(*block(1, 32), *block(32, 64), nn.Flatten(), nn.Linear(64 * 7 * 7, 512), nn.ReLU(),
                         nn.BatchNorm1d(512), nn.Dropout(0.5), nn.Linear(512, 10))


def main(argv=None):
    parser = train_lenet.OneLineParser(prog="fmnist_cnn.py", description=__doc__,
                                       formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=train_lenet.DATASETS, default="fashion-mnist")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-batches", type=int, default=None,
                        help="stop each epoch (and the test pass) after this many batches: a quick smoke run")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    args = parser.parse_args(argv)
    if args.max_batches is not None and args.max_batches <= 0:
        parser.error("--max-batches must be > 0")
    torch.manual_seed(args.seed)
    root = args.data_dir or datasets.default_root()
    try:
        train_set = train_lenet.load_data(datasets, args.dataset, root, True)
        test_set = train_lenet.load_data(datasets, args.dataset, root, False)
    except (RuntimeError, OSError) as error:
        sys.exit(f"fmnist_cnn.py: error: {' '.join(str(error).split())}")
    net = build()
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    for epoch in range(1, args.epochs + 1):
        net.train()
        start, seen, loss_sum = time.perf_counter(), 0, 0.0
        loader = DataLoader(train_set, args.batch_size, shuffle=True)
        batches = tqdm(itertools.islice(loader, args.max_batches), desc=f"epoch {epoch}/{args.epochs}",
                       total=min(len(loader), args.max_batches or len(loader)), leave=False,
                       disable=args.no_progress, file=sys.stderr)
        for X, y in batches:
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(net(X), y)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * y.numel()
            seen += y.numel()
            batches.set_postfix(loss=f"{loss_sum / seen:.3f}")
        accuracy = train_lenet.evaluate_accuracy(torch, net, DataLoader(test_set, 512), max_batches=args.max_batches)
        print(f"epoch {epoch}: loss {loss_sum / seen:.3f}, test acc {accuracy:.3f}, "
              f"{seen / (time.perf_counter() - start):.1f} examples/sec", flush=True)


if __name__ == "__main__":
    main()
