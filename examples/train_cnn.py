"""Train one of d2l's modern CNNs (minigrad.models) on small images, as d2l's chapter 8 does.

    python examples/train_cnn.py --model resnet18 --dataset digits --optimizer adam --epochs 3  # offline
    python examples/train_cnn.py --model googlenet --dataset digits --epochs 5 --plot curves.png
    python examples/train_cnn.py --model vgg11 --dataset fashion-mnist        # downloads ~30 MB

Models (the book's architectures, every layer lazy, so the one-channel images need no change):
resnet18, vgg11, nin, googlenet, densenet121 (the book's dense blocks in torchvision's 6-12-24-16
configuration), and alexnet. Images are resized (nearest neighbour) from 28x28 to --image-size: by
default 32 (the smallest VGG's five halvings accept) and 68 for NiN and AlexNet (their stride-4 11x11
convolution and three 3x3/2 poolings need at least 67 and 65); d2l
trains them at 224 (AlexNet, VGG, NiN) or 96 (the others), which is far slower on a CPU. The
optimizer is d2l's: SGD, lr 0.01 (NiN 0.05), with d2l's init_cnn (Xavier-uniform weights) applied
after a first forward materializes the lazy layers; --optimizer adam uses Adam, lr 0.001 (the short
digits runs measured for the README used it). Every epoch prints loss, train accuracy, test accuracy
and examples/sec.
"""
import argparse
import itertools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_lenet import DATASETS, OneLineParser, evaluate_accuracy, load_data, plot_curves  # noqa: E402

MODELS = ("resnet18", "vgg11", "nin", "googlenet", "densenet121", "alexnet")
IMAGE_SIZE = {"nin": 68, "alexnet": 68}  # the others: 32
MIN_SIZE = {"vgg11": 32, "nin": 67, "alexnet": 65, "densenet121": 29}  # smaller images end in an empty map
SGD_LR = {"nin": 0.05}  # the others: 0.01, as d2l


def parse_args(argv):
    parser = OneLineParser(prog="train_cnn.py", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=MODELS, default="resnet18")
    parser.add_argument("--dataset", choices=DATASETS, default="fashion-mnist")
    parser.add_argument("--data-dir", default=None, help="dataset cache (default: $MINIGRAD_DATA or "
                                                          "~/.cache/minigrad/datasets)")
    parser.add_argument("--image-size", type=int, default=None, help="resize the 28x28 images to this size "
                                                                      "(default: 32; 68 for nin and alexnet)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    parser.add_argument("--lr", type=float, default=None, help="default: sgd 0.01 (nin 0.05), adam 0.001")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--max-batches", type=int, default=None,
                        help="stop each epoch (and the test pass) after this many batches: a quick smoke run")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for kernels and BLAS")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default=None, help="save model and optimizer here after every epoch")
    parser.add_argument("--resume", default=None, help="continue from a checkpoint written by --checkpoint")
    parser.add_argument("--plot", default=None, help="write the training curves to this PNG")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    args = parser.parse_args(argv)
    if args.epochs < 0 or args.batch_size <= 0 or (args.threads is not None and args.threads <= 0) or (
            args.max_batches is not None and args.max_batches <= 0):
        parser.error("--epochs must be >= 0, --batch-size, --threads and --max-batches > 0")
    if args.image_size is None:
        args.image_size = IMAGE_SIZE.get(args.model, 32)
    minimum = MIN_SIZE.get(args.model, 1)
    if args.image_size < minimum:
        parser.error(f"--image-size must be at least {minimum} for {args.model}")
    return args


def resized(dataset, size):
    """The dataset with its images resized to size x size by nearest-neighbour sampling."""
    import numpy as np

    from minigrad.data.datasets import ImageDataset

    if dataset.data.shape[1:] == (size, size):
        return dataset
    rows = (np.arange(size) * dataset.data.shape[1]) // size
    cols = (np.arange(size) * dataset.data.shape[2]) // size
    result = ImageDataset(dataset.data[:, rows[:, None], cols[None, :]], dataset.targets)
    result.scale, result.classes = dataset.scale, dataset.classes
    return result


def build_model(models, name):
    return {"resnet18": models.resnet18, "vgg11": models.vgg11, "nin": lambda num_classes: models.NiN(num_classes),
            "googlenet": models.googlenet, "densenet121": models.densenet121,
            "alexnet": models.alexnet}[name](num_classes=10)


def train(args):
    import numpy as np

    import minigrad as torch
    from minigrad import models, nn
    from minigrad.data import DataLoader, datasets
    from tqdm import tqdm

    if args.threads is not None:
        import numba
        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    if args.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: no CUDA device or CUDA backend is available; use --device cpu")
    torch.manual_seed(args.seed)
    root = args.data_dir or datasets.default_root()
    train_set = resized(load_data(datasets, args.dataset, root, True), args.image_size)
    test_set = resized(load_data(datasets, args.dataset, root, False), args.image_size)
    generator = torch.Generator().manual_seed(args.seed)
    train_iter = DataLoader(train_set, args.batch_size, shuffle=True, generator=generator)
    test_iter = DataLoader(test_set, args.batch_size)

    net = build_model(models, args.model)
    # d2l's apply_init: a forward materializes the lazy layers, then init_cnn
    net.apply_init([train_set.get_batch(np.arange(min(2, len(train_set))))[0]], models.init_cnn)
    net.to(args.device)
    lr = args.lr if args.lr is not None else 0.001 if args.optimizer == "adam" else SGD_LR.get(args.model, 0.01)
    optimizer = (torch.optim.Adam if args.optimizer == "adam" else torch.optim.SGD)(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    first_epoch, history = 1, []
    if args.resume:
        state = torch.load(args.resume)
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["rng"]["loader"])
        torch.set_rng_state(state["rng"]["default"])
        first_epoch, history = state["epoch"] + 1, state["history"]
        print(f"resumed from {args.resume} after epoch {state['epoch']}")

    params = sum(p.numel() for p in net.parameters())
    print(f"training {args.model} ({params:,} parameters) on {args.dataset} resized to {args.image_size}x"
          f"{args.image_size} ({len(train_set)} train / {len(test_set)} test images), {args.epochs} epochs, "
          f"batch {args.batch_size}, {args.optimizer} lr {lr}, on {args.device}")
    for epoch in range(first_epoch, args.epochs + 1):
        net.train()
        loss_sum = correct = seen = 0
        seconds = 0.0
        batches = tqdm(itertools.islice(train_iter, args.max_batches), desc=f"epoch {epoch}/{args.epochs}",
                       total=min(len(train_iter), args.max_batches or len(train_iter)), leave=False,
                       disable=args.no_progress, file=sys.stderr)
        for X, y in batches:
            start = time.perf_counter()
            X, y = X.to(args.device), y.to(args.device)
            optimizer.zero_grad()
            y_hat = net(X)
            loss = loss_fn(y_hat, y)
            loss.backward()
            optimizer.step()
            if args.device == "cuda":
                torch.cuda.synchronize()
            seconds += time.perf_counter() - start
            with torch.no_grad():
                loss_sum += loss.item() * y.numel()
                correct += (y_hat.argmax(axis=1) == y).sum().item()
                seen += y.numel()
            batches.set_postfix(loss=f"{loss_sum / seen:.3f}")
        test_acc = evaluate_accuracy(torch, net, test_iter, args.device, args.max_batches)
        record = dict(epoch=epoch, loss=loss_sum / seen, train_acc=correct / seen, test_acc=test_acc,
                      examples_per_sec=seen / seconds)
        history.append(record)
        print(f"epoch {epoch}: loss {record['loss']:.3f}, train acc {record['train_acc']:.3f}, "
              f"test acc {test_acc:.3f}, {record['examples_per_sec']:.1f} examples/sec on {args.device}", flush=True)
        if args.checkpoint:
            rng = {"loader": generator.get_state(), "default": torch.get_rng_state()}
            torch.save({"model": net.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                        "history": history, "rng": rng}, args.checkpoint)
    if args.plot and history:
        # plot_curves titles "<model> LeNet on <dataset>" when given a model, so the model goes into the dataset
        plot_curves(args.plot, history, dataset=f"{args.dataset} ({args.model})")
        print(f"wrote {args.plot}")
    return history


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.threads is not None:  # BLAS reads these when numpy is first imported
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(args.threads)
    try:
        return train(args)
    except (RuntimeError, OSError, ValueError) as error:
        message = " ".join(str(error).split())
        sys.exit(f"train_cnn.py: error: {message}")
    except KeyboardInterrupt:
        sys.exit("train_cnn.py: interrupted")

if __name__ == "__main__":
    main()
