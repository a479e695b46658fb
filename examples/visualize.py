"""What a trained LeNet looks at: first-layer filters, feature maps of one image, and a Grad-CAM map.

    python examples/visualize.py --dataset digits --out-dir viz            # trains a modern LeNet briefly
    python examples/visualize.py --checkpoint lenet.safetensors --model classic --dataset fashion-mnist

Writes filters.png, feature_maps.png and gradcam.png into --out-dir (matplotlib needed).
"""
import argparse
import pathlib
import sys

import numpy as np

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
    parser.add_argument("--out-dir", default="visualizations")
    args = parser.parse_args(argv)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("visualize.py: error: matplotlib is needed: pip install 'minigrad[plot]'")

    torch.manual_seed(0)
    root = args.data_dir or datasets.default_root()
    test_set = train_lenet.load_data(datasets, args.dataset, root, False)
    net = train_lenet.build_model(nn, args.model)
    if args.checkpoint:
        net.load_state_dict(torch.load(args.checkpoint)["model"])
    else:
        train_set = train_lenet.load_data(datasets, args.dataset, root, True)
        optimizer = torch.optim.Adam(net.parameters(), lr=0.001) if args.model == "modern" else \
            torch.optim.SGD(net.parameters(), lr=0.9)
        for _ in range(args.epochs):
            for X, y in DataLoader(train_set, 64, shuffle=True):
                optimizer.zero_grad()
                nn.functional.cross_entropy(net(X), y).backward()
                optimizer.step()
    out = pathlib.Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]

    filters = convs[0].weight.detach().numpy()[:, 0]
    fig, axes = plt.subplots(1, len(filters), figsize=(1.5 * len(filters), 1.8))
    for ax, kernel in zip(axes, filters):
        ax.imshow(kernel, cmap="gray")
        ax.axis("off")
    fig.suptitle("first-layer filters")
    fig.savefig(out / "filters.png", dpi=120)
    plt.close(fig)

    image, label = test_set[args.index]
    maps = []
    handles = [conv.register_forward_hook(lambda m, i, o: maps.append(o[0].detach().numpy())) for conv in convs]
    net.eval()
    with torch.no_grad():
        prediction = int(net(image.unsqueeze(0)).argmax(1).item())
    for handle in handles:
        handle.remove()
    rows = len(maps)
    columns = max(m.shape[0] for m in maps)
    fig, axes = plt.subplots(rows, columns, figsize=(1.2 * columns, 1.4 * rows), squeeze=False)
    for r, layer_maps in enumerate(maps):
        for c in range(columns):
            axes[r][c].axis("off")
            if c < len(layer_maps):
                axes[r][c].imshow(layer_maps[c], cmap="viridis")
    fig.suptitle(f"feature maps of test image {args.index} (label {label}, predicted {prediction})")
    fig.savefig(out / "feature_maps.png", dpi=120)
    plt.close(fig)

    target = prediction if args.target is None else args.target
    layers = list(net)
    last_conv = max(i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d))
    activation = next(m for m in layers[last_conv:] if isinstance(m, (nn.ReLU, nn.Sigmoid)))
    cam = grad_cam(net, activation, image, target)
    fig, axes = plt.subplots(1, 2, figsize=(5, 2.6))
    axes[0].imshow(image[0].numpy(), cmap="gray")
    axes[1].imshow(image[0].numpy(), cmap="gray")
    axes[1].imshow(cam, cmap="jet", alpha=0.5)
    for ax, title in zip(axes, ("input", f"Grad-CAM for class {target}")):
        ax.set_title(title)
        ax.axis("off")
    fig.savefig(out / "gradcam.png", dpi=120)
    plt.close(fig)
    if not cam.any():
        print("note: the Grad-CAM map is zero everywhere: no feature map pushes this class's score up "
              "(train longer, or pick another --target)")
    print(f"wrote {out / 'filters.png'}, {out / 'feature_maps.png'} and {out / 'gradcam.png'} "
          f"(image {args.index}: label {label}, predicted {prediction})")


if __name__ == "__main__":
    main()
