"""What a trained LeNet looks at: first-layer filters, feature maps of one image, and a Grad-CAM map.

    python examples/visualize.py --dataset digits --out-dir viz            # trains a modern LeNet briefly
    python examples/visualize.py --checkpoint lenet.safetensors --model classic --dataset fashion-mnist

Writes filters.png, feature_maps.png and gradcam.png into --out-dir (default ./visualizations;
matplotlib needed). Training shows a progress bar on stderr (--no-progress hides it).
"""
import argparse
import itertools
import pathlib
import sys

import numpy as np
from tqdm import tqdm

import minigrad as torch
from minigrad import nn
from minigrad.data import DataLoader, datasets

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import train_lenet  # noqa: E402  (shares the models and dataset choices)


def grad_cam(net, layer, image, target):
    """Grad-CAM: weight the feature maps that `layer` outputs (the activation after the last convolution)
    by the mean gradient of the class score, keep the positive part, and upsample to the image."""
    captured = {}

    def keep(module, inputs, output):
        captured["maps"] = output
        output.register_hook(lambda grad: captured.__setitem__("grad", grad))

    handle = layer.register_forward_hook(keep)
    try:
        net.eval()
        score = net(image.unsqueeze(0))[0, target]
        score.backward()
    finally:
        handle.remove()
    weights = captured["grad"].mean((2, 3), keepdim=True)
    cam = (weights * captured["maps"]).sum(1)[0].relu().detach().numpy()
    cam = cam / cam.max() if cam.max() > 0 else cam
    factor = image.shape[-1] // cam.shape[-1]
    upsampled = np.kron(cam, np.ones((factor, factor)))
    pad = image.shape[-1] - upsampled.shape[-1]
    return np.pad(upsampled, ((pad // 2, pad - pad // 2),) * 2)


def class_name(dataset, label):
    names = getattr(dataset, "classes", None)
    name = names[label] if names is not None and label < len(names) else str(label)
    return name if name == str(label) else f"{label} ({name})"


def plot_filters(plt, weight, path, scale="shared"):
    """The first layer's filters (input channel 0), on one shared colour scale or each on its own."""
    filters = weight[:, 0]
    fig, axes = plt.subplots(1, len(filters), figsize=(1.2 * len(filters) + 1.2, 2.2), squeeze=False,
                             layout="constrained")
    low, high = float(filters.min()), float(filters.max())
    for i, (ax, kernel) in enumerate(zip(axes[0], filters)):
        image = ax.imshow(kernel, cmap="gray", **({"vmin": low, "vmax": high} if scale == "shared" else {}))
        ax.set_title(f"filter {i}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if scale == "shared":
        fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="weight")
        note = f"one shared scale, {low:.2f} to {high:.2f} (black to white)"
    else:
        note = "each filter on its own scale (black = its lowest weight, white = its highest)"
    fig.suptitle(f"first-layer filters {filters.shape[1]}x{filters.shape[2]}: {note}", fontsize=10)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_feature_maps(plt, maps, path, title, columns=8):
    """One block of rows per layer, labelled with its name and output shape, on a colour scale per layer."""
    heights = [-(-len(layer_maps) // columns) for _, layer_maps in maps]
    fig = plt.figure(figsize=(1.1 * columns + 2.4, 1.15 * sum(heights) + 0.6), layout="constrained")
    for subfig, (name, layer_maps), rows in zip(fig.subfigures(len(maps), 1, height_ratios=heights), maps, heights):
        axes = subfig.subplots(rows, columns, squeeze=False)
        low, high = float(layer_maps.min()), float(layer_maps.max())
        for i, ax in enumerate(axes.flat):
            ax.axis("off")
            if i < len(layer_maps):
                image = ax.imshow(layer_maps[i], cmap="viridis", vmin=low, vmax=high)
        subfig.supylabel(f"{name}\n{' x '.join(map(str, layer_maps.shape))}", fontsize=10)
        subfig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.9, aspect=12 * rows)
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_gradcam(plt, image, cam, path, target, label, prediction):
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.4), layout="constrained")
    axes[0].imshow(image, cmap="gray")
    axes[0].set_title(f"input: true {label}", fontsize=10)
    axes[1].imshow(image, cmap="gray")
    overlay = axes[1].imshow(cam, cmap="jet", alpha=0.5, vmin=0, vmax=1)
    empty = "" if cam.any() else ": zero everywhere"
    axes[1].set_title(f"Grad-CAM for {target}{empty}\n(predicted {prediction})", fontsize=10)
    for ax in axes:
        ax.axis("off")
    fig.colorbar(overlay, ax=axes[1], shrink=0.85, label="importance (1 = the map's largest)")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = train_lenet.OneLineParser(prog="visualize.py", description=__doc__,
                                       formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=train_lenet.MODELS, default="modern")
    parser.add_argument("--dataset", choices=train_lenet.DATASETS, default="digits")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--checkpoint", default=None, help="a checkpoint written by train_lenet.py --checkpoint")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs when no checkpoint is given")
    parser.add_argument("--index", type=int, default=0, help="which test image to explain")
    parser.add_argument("--target", type=int, default=None, help="class for Grad-CAM (default: the prediction)")
    parser.add_argument("--max-batches", type=int, default=None, help="training batches per epoch (a quick run)")
    parser.add_argument("--filter-scale", choices=("shared", "each"), default="shared",
                        help="one colour scale for all first-layer filters, or one per filter")
    parser.add_argument("--out-dir", default="visualizations", help="where the PNGs go (default ./visualizations)")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    args = parser.parse_args(argv)
    if args.max_batches is not None and args.max_batches <= 0:
        parser.error("--max-batches must be > 0")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("visualize.py: error: matplotlib is needed: pip install 'minigrad[plot]'")

    torch.manual_seed(0)
    root = args.data_dir or datasets.default_root()
    try:
        test_set = train_lenet.load_data(datasets, args.dataset, root, False)
        train_set = None if args.checkpoint else train_lenet.load_data(datasets, args.dataset, root, True)
    except (RuntimeError, OSError) as error:
        sys.exit(f"visualize.py: error: {' '.join(str(error).split())}")
    net = train_lenet.build_model(nn, args.model)
    if args.checkpoint:
        net.load_state_dict(torch.load(args.checkpoint)["model"])
    else:
        optimizer = torch.optim.Adam(net.parameters(), lr=0.001) if args.model == "modern" else \
            torch.optim.SGD(net.parameters(), lr=0.9)
        loader = DataLoader(train_set, 64, shuffle=True)
        per_epoch = min(len(loader), args.max_batches or len(loader))
        with tqdm(total=args.epochs * per_epoch, desc=f"training {args.model} LeNet on {args.dataset}",
                  unit="batch", leave=False, disable=args.no_progress, file=sys.stderr) as bar:
            for _ in range(args.epochs):
                for X, y in itertools.islice(loader, per_epoch):
                    optimizer.zero_grad()
                    loss = nn.functional.cross_entropy(net(X), y)
                    loss.backward()
                    optimizer.step()
                    bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
                    bar.update()
    out = pathlib.Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    convs = [(name, m) for name, m in net.named_modules() if isinstance(m, nn.Conv2d)]

    plot_filters(plt, convs[0][1].weight.detach().numpy(), out / "filters.png", args.filter_scale)

    image, label = test_set[args.index]
    maps = []
    handles = [conv.register_forward_hook(lambda m, i, o, name=name: maps.append((name, o[0].detach().numpy())))
               for name, conv in convs]
    net.eval()
    with torch.no_grad():
        prediction = int(net(image.unsqueeze(0)).argmax(1).item())
    for handle in handles:
        handle.remove()
    maps = [(f"layer {name}: {type(dict(convs)[name]).__name__}", layer_maps) for name, layer_maps in maps]
    plot_feature_maps(plt, maps, out / "feature_maps.png",
                      f"what the convolutions output for test image {args.index} "
                      f"(true {class_name(test_set, label)}, predicted {class_name(test_set, prediction)})")

    target = prediction if args.target is None else args.target
    layers = list(net)
    last_conv = max(i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d))
    activation = next(m for m in layers[last_conv:] if isinstance(m, (nn.ReLU, nn.Sigmoid)))
    cam = grad_cam(net, activation, image, target)
    plot_gradcam(plt, image[0].numpy(), cam, out / "gradcam.png", f"class {class_name(test_set, target)}",
                 class_name(test_set, label), class_name(test_set, prediction))
    if not cam.any():
        print("note: the Grad-CAM map is zero everywhere: no feature map pushes this class's score up "
              "(train longer, or pick another --target)")
    print(f"wrote filters.png, feature_maps.png and gradcam.png in {out.resolve()} "
          f"(image {args.index}: label {label}, predicted {prediction})")


if __name__ == "__main__":
    main()
