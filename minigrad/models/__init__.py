"""The CNNs of d2l 1.0.3 (chapters "Convolutional Neural Networks" and "Modern Convolutional Neural
Networks"), written as the book writes them: every layer lazy, so any input channel count works.

Classes carry d2l's names and arguments (`AlexNet(num_classes=10)`, `VGG(arch)`, `NiN`, `GoogLeNet`,
`LeNet`, `BNLeNet`, `ResNet(arch)`, `ResNet18`, `DenseNet(num_channels, growth_rate, arch)`); builders
carry torchvision's (`alexnet`, `vgg11` ... `vgg19`, `googlenet`, `resnet18`, `resnet34`, `densenet121`
... `densenet201`, each with `num_classes=1000` by default and `weights=None`). They are the book's
architectures, not torchvision's: VGG and AlexNet end in the book's 4096-wide heads on the flattened
feature map (no adaptive pooling, so they need the book's input size or a head sized for yours),
GoogLeNet has no auxiliary classifiers or BatchNorm, ResNets use the book's basic blocks with a 1x1
shortcut, and DenseNets the book's dense blocks (BN-ReLU-3x3 conv, no bottleneck) with its transition
layers. Parameters are materialized by the first forward; `model.apply_init(inputs)` runs one and then
applies d2l's `init_cnn` (Xavier-uniform weights for every Linear and Conv2d), as d2l's trainer does.
`model.layer_summary(X_shape)` prints what the book prints."""
from minigrad import creation
from minigrad import toplevel as _toplevel
from minigrad import nn
from minigrad.nn import functional as F

__all__ = ["init_cnn", "Classifier", "LeNet", "BNLeNet", "AlexNet", "vgg_block", "VGG", "nin_block", "NiN",
           "Inception", "GoogLeNet", "Residual", "ResNet", "ResNet18", "conv_block", "DenseBlock",
           "transition_block", "DenseNet", "alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "googlenet", "resnet18",
           "resnet34", "densenet121", "densenet161", "densenet169", "densenet201"]


def init_cnn(module):
    """d2l's init_cnn: Xavier-uniform weights for Linear and Conv2d layers (once they are materialized)."""
    if type(module) in (nn.Linear, nn.Conv2d):
        nn.init.xavier_uniform_(module.weight)


class Classifier(nn.Module):
    """What the book's models share: `self.net`, forward through it, layer_summary and apply_init."""

    def forward(self, X):
        return self.net(X)

    def layer_summary(self, X_shape, file=None):
        """d2l's layer_summary: each top-level layer's class name and output shape, on a random input."""
        X = creation.randn(*X_shape)
        for layer in self.net:
            X = layer(X)
            print(layer.__class__.__name__, "output shape:\t", X.shape, file=file)
        return X.shape

    def apply_init(self, inputs, init=None):
        """d2l's apply_init: one forward to materialize the lazy layers, then `init` on every module."""
        from minigrad.autograd import no_grad
        with no_grad():
            self.forward(*inputs)
        if init is not None:
            self.net.apply(init)
        return self


class LeNet(Classifier):
    """d2l 7.6: LeNet-5 with sigmoids and average pooling, for 28x28 inputs."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(
            nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(), nn.LazyLinear(120), nn.Sigmoid(), nn.LazyLinear(84), nn.Sigmoid(),
            nn.LazyLinear(num_classes))


class BNLeNet(Classifier):
    """d2l 8.5: LeNet with batch normalization after every convolution and hidden linear layer."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(
            nn.LazyConv2d(6, kernel_size=5), nn.LazyBatchNorm2d(), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.LazyConv2d(16, kernel_size=5), nn.LazyBatchNorm2d(), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(), nn.LazyLinear(120), nn.LazyBatchNorm1d(),
            nn.Sigmoid(), nn.LazyLinear(84), nn.LazyBatchNorm1d(), nn.Sigmoid(), nn.LazyLinear(num_classes))


class AlexNet(Classifier):
    """d2l 8.1 (224x224 inputs; any size from 65 up runs)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(
            nn.LazyConv2d(96, kernel_size=11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.LazyConv2d(256, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.LazyConv2d(384, kernel_size=3, padding=1), nn.ReLU(),
            nn.LazyConv2d(384, kernel_size=3, padding=1), nn.ReLU(),
            nn.LazyConv2d(256, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
            nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(p=0.5),
            nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(p=0.5),
            nn.LazyLinear(num_classes))
        self.net.apply(init_cnn)


def vgg_block(num_convs, out_channels):
    """d2l 8.2: num_convs 3x3 convolutions (padding 1) with ReLUs, then 2x2 max pooling."""
    layers = []
    for _ in range(num_convs):
        layers.append(nn.LazyConv2d(out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


class VGG(Classifier):
    """d2l 8.2: VGG blocks per `arch` ((num_convs, out_channels), ...), then the 4096-4096 head."""

    def __init__(self, arch, num_classes=10):
        super().__init__()
        conv_blks = []
        for (num_convs, out_channels) in arch:
            conv_blks.append(vgg_block(num_convs, out_channels))
        self.net = nn.Sequential(
            *conv_blks, nn.Flatten(),
            nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(0.5),
            nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(0.5),
            nn.LazyLinear(num_classes))
        self.net.apply(init_cnn)


def nin_block(out_channels, kernel_size, strides, padding):
    """d2l 8.3: a convolution followed by two 1x1 convolutions, each with a ReLU."""
    return nn.Sequential(
        nn.LazyConv2d(out_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU(),
        nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU())


class NiN(Classifier):
    """d2l 8.3: network in network, ending in global average pooling over num_classes channels
    (224x224 inputs; any size from 67 up runs)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(
            nin_block(96, kernel_size=11, strides=4, padding=0),
            nn.MaxPool2d(3, stride=2),
            nin_block(256, kernel_size=5, strides=1, padding=2),
            nn.MaxPool2d(3, stride=2),
            nin_block(384, kernel_size=3, strides=1, padding=1),
            nn.MaxPool2d(3, stride=2),
            nn.Dropout(0.5),
            nin_block(num_classes, kernel_size=3, strides=1, padding=1),
            nn.AdaptiveAvgPool2d((1, 1)),
            nn.Flatten())
        self.net.apply(init_cnn)


class Inception(nn.Module):
    """d2l 8.4: four parallel branches (1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max pool then 1x1),
    concatenated on the channel dimension. c1--c4 are the output channels of each branch."""

    def __init__(self, c1, c2, c3, c4, **kwargs):
        super().__init__(**kwargs)
        self.b1_1 = nn.LazyConv2d(c1, kernel_size=1)
        self.b2_1 = nn.LazyConv2d(c2[0], kernel_size=1)
        self.b2_2 = nn.LazyConv2d(c2[1], kernel_size=3, padding=1)
        self.b3_1 = nn.LazyConv2d(c3[0], kernel_size=1)
        self.b3_2 = nn.LazyConv2d(c3[1], kernel_size=5, padding=2)
        self.b4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.b4_2 = nn.LazyConv2d(c4, kernel_size=1)

    def forward(self, x):
        b1 = F.relu(self.b1_1(x))
        b2 = F.relu(self.b2_2(F.relu(self.b2_1(x))))
        b3 = F.relu(self.b3_2(F.relu(self.b3_1(x))))
        b4 = F.relu(self.b4_2(self.b4_1(x)))
        return _toplevel.cat((b1, b2, b3, b4), dim=1)


class GoogLeNet(Classifier):
    """d2l 8.4: five stages b1..b5 (nine Inception blocks), global average pooling, a linear layer
    (96x96 inputs in the book; any size from 32 up runs)."""

    def b1(self):
        return nn.Sequential(
            nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

    def b2(self):
        return nn.Sequential(
            nn.LazyConv2d(64, kernel_size=1), nn.ReLU(),
            nn.LazyConv2d(192, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

    def b3(self):
        return nn.Sequential(Inception(64, (96, 128), (16, 32), 32),
                             Inception(128, (128, 192), (32, 96), 64),
                             nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

    def b4(self):
        return nn.Sequential(Inception(192, (96, 208), (16, 48), 64),
                             Inception(160, (112, 224), (24, 64), 64),
                             Inception(128, (128, 256), (24, 64), 64),
                             Inception(112, (144, 288), (32, 64), 64),
                             Inception(256, (160, 320), (32, 128), 128),
                             nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

    def b5(self):
        return nn.Sequential(Inception(256, (160, 320), (32, 128), 128),
                             Inception(384, (192, 384), (48, 128), 128),
                             nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())

    def __init__(self, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(self.b1(), self.b2(), self.b3(), self.b4(), self.b5(), nn.LazyLinear(num_classes))
        self.net.apply(init_cnn)


class Residual(nn.Module):
    """d2l 8.6: the residual block of ResNet (two 3x3 convolutions with BatchNorm; a 1x1 convolution
    on the shortcut when use_1x1conv, to match channels and stride)."""

    def __init__(self, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1)
        if use_1x1conv:
            self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=strides)
        else:
            self.conv3 = None
        self.bn1 = nn.LazyBatchNorm2d()
        self.bn2 = nn.LazyBatchNorm2d()

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)


class ResNet(Classifier):
    """d2l 8.6: b1 (7x7 convolution, BatchNorm, max pooling), one stage of Residual blocks per
    (num_residuals, num_channels) in `arch`, then global average pooling and a linear layer."""

    def b1(self):
        return nn.Sequential(
            nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3),
            nn.LazyBatchNorm2d(), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

    def block(self, num_residuals, num_channels, first_block=False):
        blk = []
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.append(Residual(num_channels, use_1x1conv=True, strides=2))
            else:
                blk.append(Residual(num_channels))
        return nn.Sequential(*blk)

    def __init__(self, arch, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(self.b1())
        for i, b in enumerate(arch):
            self.net.add_module(f"b{i + 2}", self.block(*b, first_block=(i == 0)))
        self.net.add_module("last", nn.Sequential(
            nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.LazyLinear(num_classes)))
        self.net.apply(init_cnn)


class ResNet18(ResNet):
    def __init__(self, num_classes=10):
        super().__init__(((2, 64), (2, 128), (2, 256), (2, 512)), num_classes)


def conv_block(num_channels):
    """d2l 8.7: DenseNet's BatchNorm, ReLU, 3x3 convolution."""
    return nn.Sequential(
        nn.LazyBatchNorm2d(), nn.ReLU(),
        nn.LazyConv2d(num_channels, kernel_size=3, padding=1))


class DenseBlock(nn.Module):
    """d2l 8.7: num_convs conv_blocks, each one's output concatenated to its input on channels."""

    def __init__(self, num_convs, num_channels):
        super().__init__()
        layer = []
        for _ in range(num_convs):
            layer.append(conv_block(num_channels))
        self.net = nn.Sequential(*layer)

    def forward(self, X):
        for blk in self.net:
            Y = blk(X)
            # Concatenate input and output of each block along the channels
            X = _toplevel.cat((X, Y), dim=1)
        return X


def transition_block(num_channels):
    """d2l 8.7: BatchNorm, ReLU, 1x1 convolution to num_channels, 2x2 average pooling."""
    return nn.Sequential(
        nn.LazyBatchNorm2d(), nn.ReLU(),
        nn.LazyConv2d(num_channels, kernel_size=1),
        nn.AvgPool2d(kernel_size=2, stride=2))


class DenseNet(Classifier):
    """d2l 8.7: ResNet's b1, dense blocks of `arch[i]` conv_blocks (growth_rate channels each) with
    transition blocks halving channels and size between them, then BatchNorm, ReLU, global average
    pooling and a linear layer."""

    def b1(self):
        return ResNet.b1(self)

    def __init__(self, num_channels=64, growth_rate=32, arch=(4, 4, 4, 4), num_classes=10):
        super().__init__()
        self.net = nn.Sequential(self.b1())
        for i, num_convs in enumerate(arch):
            self.net.add_module(f"dense_blk{i + 1}", DenseBlock(num_convs, growth_rate))
            # The number of output channels in the previous dense block
            num_channels += num_convs * growth_rate
            # A transition layer that halves the number of channels is added between the dense blocks
            if i != len(arch) - 1:
                num_channels //= 2
                self.net.add_module(f"tran_blk{i + 1}", transition_block(num_channels))
        self.net.add_module("last", nn.Sequential(
            nn.LazyBatchNorm2d(), nn.ReLU(),
            nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
            nn.LazyLinear(num_classes)))
        self.net.apply(init_cnn)


# --- torchvision's builder names and arguments ------------------------------------------------------

VGG_ARCHS = {
    "vgg11": ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)),
    "vgg13": ((2, 64), (2, 128), (2, 256), (2, 512), (2, 512)),
    "vgg16": ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)),
    "vgg19": ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512)),
}
DENSENET_ARCHS = {  # torchvision's (num_init_features, growth_rate, block_config), in the book's blocks
    "densenet121": (64, 32, (6, 12, 24, 16)), "densenet161": (96, 48, (6, 12, 36, 24)),
    "densenet169": (64, 32, (6, 12, 32, 32)), "densenet201": (64, 32, (6, 12, 48, 32)),
}


def _no_weights(name, weights, kwargs):
    if weights is not None:
        raise ValueError(f"{name}: pretrained weights are not available in minigrad (got weights={weights!r})")
    unknown = set(kwargs) - {"num_classes"}
    if unknown:
        raise TypeError(f"{name}() got unexpected keyword argument(s) {sorted(unknown)}")
    return kwargs.get("num_classes", 1000)


def alexnet(*, weights=None, progress=True, **kwargs):
    return AlexNet(num_classes=_no_weights("alexnet", weights, kwargs))


def _vgg(name):
    def build(*, weights=None, progress=True, **kwargs):
        return VGG(VGG_ARCHS[name], num_classes=_no_weights(name, weights, kwargs))
    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"d2l's VGG with torchvision's {name} configuration {VGG_ARCHS[name]}."
    return build


vgg11, vgg13, vgg16, vgg19 = (_vgg(name) for name in ("vgg11", "vgg13", "vgg16", "vgg19"))


def googlenet(*, weights=None, progress=True, **kwargs):
    return GoogLeNet(num_classes=_no_weights("googlenet", weights, kwargs))


def resnet18(*, weights=None, progress=True, **kwargs):
    return ResNet18(num_classes=_no_weights("resnet18", weights, kwargs))


def resnet34(*, weights=None, progress=True, **kwargs):
    return ResNet(((3, 64), (4, 128), (6, 256), (3, 512)), num_classes=_no_weights("resnet34", weights, kwargs))


def _densenet(name):
    def build(*, weights=None, progress=True, **kwargs):
        num_channels, growth_rate, arch = DENSENET_ARCHS[name]
        return DenseNet(num_channels, growth_rate, arch, num_classes=_no_weights(name, weights, kwargs))
    build.__name__ = build.__qualname__ = name
    build.__doc__ = (f"d2l's DenseNet with torchvision's {name} configuration "
                     f"(num_channels, growth_rate, arch) = {DENSENET_ARCHS[name]}, without bottleneck layers.")
    return build


densenet121, densenet161, densenet169, densenet201 = (
    _densenet(name) for name in ("densenet121", "densenet161", "densenet169", "densenet201"))
