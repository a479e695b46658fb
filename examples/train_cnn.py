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
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_lenet import check_counts, fit, load_data, plot_curves, prepare, resume, run, training_parser  # noqa: E402

MODELS = ("resnet18", "vgg11", "nin", "googlenet", "densenet121", "alexnet")
IMAGE_SIZE = {"nin": 68, "alexnet": 68}  # the others: 32
MIN_SIZE = {"vgg11": 32, "nin": 67, "alexnet": 65, "densenet121": 29}  # smaller images end in an empty map
SGD_LR = {"nin": 0.05}  # the others: 0.01, as d2l


def parse_args(argv):
    parser = training_parser("train_cnn.py", __doc__, MODELS, 128, "default: sgd 0.01 (nin 0.05), adam 0.001")
    parser.add_argument("--image-size", type=int, default=None, help="resize the 28x28 images to this size "
                                                                      "(default: 32; 68 for nin and alexnet)")
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    args = check_counts(parser, parser.parse_args(argv))
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
    from minigrad import models
    from minigrad.data import DataLoader, datasets

    prepare(torch, args)
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
    first_epoch, history = resume(torch, args, net, optimizer, generator)
    params = sum(p.numel() for p in net.parameters())
    print(f"training {args.model} ({params:,} parameters) on {args.dataset} resized to {args.image_size}x"
          f"{args.image_size} ({len(train_set)} train / {len(test_set)} test images), {args.epochs} epochs, "
          f"batch {args.batch_size}, {args.optimizer} lr {lr}, on {args.device}")
    fit(torch, args, net, optimizer, train_iter, test_iter, generator, first_epoch, history)
    if args.plot and history:
        plot_curves(args.plot, history, title=f"{args.model} on {args.dataset}")
        print(f"wrote {args.plot}")
    return history


def main(argv=None):
    return run(train, parse_args(sys.argv[1:] if argv is None else argv), "train_cnn.py")


if __name__ == "__main__":
    main()
