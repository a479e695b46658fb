"""receptive_field and receptive_field_for_unit: the course's worked example exactly, residual models, errors, and
a property test: with positive weights, the input pixels that get a gradient from one output unit are the
computed region, for random stacks of convolutions, pools and residual blocks."""
import contextlib
import io
import pathlib
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad
from minigrad import nn
import minigrad.nn.functional as F


class CourseNet(nn.Module):
    """The course's example (EE541 unit 8, "receptive field as we go deeper")."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, x):
        return self.maxpool(self.relu(self.bn(self.conv(x))))


class Residual(nn.Module):
    """A residual block: two convolutions and a shortcut (a strided 1x1 convolution when it downsamples)."""

    def __init__(self, channels, kernel_size=3, dilation=1, stride=1):
        super().__init__()
        padding = (kernel_size - 1) * dilation // 2
        self.conv1 = nn.Conv2d(channels, channels, kernel_size, stride, padding, dilation)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size, 1, padding, dilation)
        self.shortcut = nn.Conv2d(channels, channels, 1, stride) if stride > 1 else nn.Identity()

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x)))) + self.shortcut(x)


def quietly(function, *args):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        result = function(*args)
    return result, out.getvalue()


def test_the_course_example_prints_the_tools_table_and_returns_its_dict():
    fields, printed = quietly(minigrad.receptive_field, CourseNet(), (3, 256, 256))
    rows = [line.split() for line in printed.splitlines()[3:8]]
    assert rows == [["0", "[256,", "256]", "0.5", "1.0", "1.0"], ["1", "[128,", "128]", "0.5", "2.0", "7.0"],
                    ["2", "[128,", "128]", "0.5", "2.0", "7.0"], ["3", "[128,", "128]", "0.5", "2.0", "7.0"],
                    ["4", "[64,", "64]", "0.5", "4.0", "11.0"]]
    assert printed.splitlines()[1].split() == ["Layer", "(type)", "map", "size", "start", "jump", "receptive_field"]
    assert list(fields) == ["0", "1", "2", "3", "4", "input_size"] and fields["input_size"] == (3, 256, 256)
    assert fields["0"]["conv_stage"] is True and fields["0"]["output_shape"] == [-1, 3, 256, 256]
    assert [(fields[k]["j"], fields[k]["r"], fields[k]["start"]) for k in "01234"] == [
        (1.0, 1.0, 0.5), (2.0, 7.0, 0.5), (2.0, 7.0, 0.5), (2.0, 7.0, 0.5), (4.0, 11.0, 0.5)]
    assert fields["4"]["output_shape"] == [-1, 64, 64, 64] and fields["1"]["input_shape"] == [-1, 3, 256, 256]
    assert [fields[k]["type"] for k in "1234"] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]

    region, printed = quietly(minigrad.receptive_field_for_unit, fields, "2", (1, 1))
    assert region == [(0, 6.0), (0, 6.0)] and repr(region) == "[(0, 6.0), (0, 6.0)]"
    assert printed == "Receptive field size for layer 2, unit_position (1, 1),  is \n [(0, 6.0), (0, 6.0)]\n"
    assert quietly(minigrad.receptive_field_for_unit, fields, "4", (10, 20))[0] == [(35.0, 46.0), (75.0, 86.0)]  # the tool's too


def test_the_readme_table_is_what_receptive_field_prints():
    readme = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = re.search(r"fields = torch\.receptive_field\(Net\(\), \(3, 256, 256\)\).*?```\n\n```\n(.*?)```", readme, re.S)
    assert block.group(1) == quietly(minigrad.receptive_field, CourseNet(), (3, 256, 256))[1]


def test_summary_shows_the_same_fields():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), Residual(4), Residual(4, stride=2), nn.AvgPool2d(2))
    fields, _ = quietly(minigrad.receptive_field, net, (1, 16, 16))
    table = minigrad.summary(net, (1, 16, 16), verbose=0)
    rows = [line.split()[-4:] for line in str(table).splitlines() if re.match(r"\s+\w+-\d+\s", line)]
    keys = [k for k in fields if k not in ("0", "input_size")]
    assert len(rows) == len(keys)
    for key, row in zip(keys, rows):
        entry = fields[key]
        assert [float(v) for v in row] == [entry["output_shape"][2], entry["start"], entry["j"], entry["r"]]


def test_a_residual_blocks_field_is_the_union_of_its_branches():
    fields, _ = quietly(minigrad.receptive_field, nn.Sequential(nn.Conv2d(1, 2, 3), Residual(2, 5)), (1, 20, 20))
    branch, shortcut, total = fields["3"], fields["4"], fields["5"]
    assert branch["type"] == "Conv2d" and branch["inputs"] == ["2"] and branch["r"] == 3 + 4 + 4
    assert shortcut["type"] == "Identity" and shortcut["inputs"] == ["1"] and shortcut["r"] == 3
    # the block's add comes after its last layer: a row for the model's output holds the union
    assert total["type"] == "output" and total["inputs"] == ["3", "4"] and total["r"] == 11.0
    assert quietly(minigrad.receptive_field_for_unit, fields, "5", (0, 15))[0] == [(0, 7.0), (11.0, 20)]


def test_a_field_with_holes_gives_its_bounding_box():
    net = nn.Sequential(nn.Conv2d(1, 1, 2, dilation=3))
    fields, _ = quietly(minigrad.receptive_field, net, (1, 10, 10))
    assert fields["1"]["r"] == 4.0 and fields["1"]["start"] == 2.0  # the tool says 1.0: it omits the dilation
    assert quietly(minigrad.receptive_field_for_unit, fields, "1", (2, 0))[0] == [(2.0, 6.0), (0, 4.0)]


def test_the_region_stops_at_a_maps_last_unit():
    # a 2x2 pool of 7 pixels has 3 units, over pixels 0-5; the tool's centre +- field / 2 would say (2, 7)
    net = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(1, 1, 3, padding=1))
    fields, _ = quietly(minigrad.receptive_field, net, (1, 7, 7))
    assert fields["2"]["start"] + 2 * fields["2"]["j"] + fields["2"]["r"] / 2 == 8.0  # the tool clips it to 7
    assert quietly(minigrad.receptive_field_for_unit, fields, "2", (2, 0))[0] == [(2.0, 6.0), (0, 4.0)]


def test_non_square_windows_and_1d_and_3d_maps():
    fields, _ = quietly(minigrad.receptive_field, nn.Sequential(nn.Conv2d(1, 1, (3, 1), stride=(1, 2))), (1, 8, 8))
    assert fields["1"]["r"] == (3.0, 1.0) and fields["1"]["j"] == (1.0, 2.0)
    assert quietly(minigrad.receptive_field_for_unit, fields, "1", (1, 2))[0] == [(1.0, 4.0), (4.0, 5.0)]
    fields, _ = quietly(minigrad.receptive_field, nn.Sequential(nn.Conv1d(2, 3, 5, stride=2), nn.MaxPool1d(2)),
                        (2, 32))
    assert fields["2"]["r"] == 7.0 and quietly(minigrad.receptive_field_for_unit, fields, "2", (3,))[0] == [(12.0, 19.0)]
    fields, _ = quietly(minigrad.receptive_field, nn.Sequential(nn.Conv3d(1, 1, 3, padding=1)), (1, 4, 4, 4))
    assert quietly(minigrad.receptive_field_for_unit, fields, "1", (0, 1, 3))[0] == [(0, 2.0), (0, 3.0), (2.0, 4)]


def test_layers_without_a_map_show_dashes_and_have_no_region():
    lenet = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(1176, 10))
    fields, printed = quietly(minigrad.receptive_field, lenet, (1, 28, 28))
    assert fields["4"]["j"] is None and printed.splitlines()[-2].split() == ["5", "-", "-", "-", "-"]
    with pytest.raises(ValueError, match=r"layer 4 \(Flatten\) has no spatial map"):
        minigrad.receptive_field_for_unit(fields, "4", (0,))


class ViewBetween(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3)

    def forward(self, x):
        return self.conv(x[:, :, 1:, 1:])


class DifferentJumps(nn.Module):
    def __init__(self):
        super().__init__()
        self.strided, self.wide = nn.Conv2d(1, 1, 1, stride=2), nn.Conv2d(1, 1, 5)

    def forward(self, x):
        return nn.functional.relu(self.strided(x) + self.wide(x))


@pytest.mark.parametrize("model, message", [
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.AdaptiveAvgPool2d(1)), r"layer 2 \(AdaptiveAvgPool2d\): AdaptiveAvgPool2d"),
    (nn.Sequential(nn.ConvTranspose2d(1, 1, 3)), r"layer 1 \(ConvTranspose2d\)"),
    (nn.Sequential(nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular")), r"layer 1 \(Conv2d\)"),
    (nn.Sequential(nn.GroupNorm(1, 1)), r"layer 1 \(GroupNorm\)"),
    (ViewBetween(), r"layer 1 \(Conv2d\): the op IndexBackward stands between it and layer 0"),
    (DifferentJumps(), r"the model's output\): the layers feeding it \(1, 2\) have different jumps"),
])
def test_a_model_it_cannot_analyse_raises_naming_the_layer(model, message):
    with pytest.raises(ValueError, match=message):
        quietly(minigrad.receptive_field, model, (1, 8, 8))


def test_bad_arguments_say_what_was_expected():
    fields, _ = quietly(minigrad.receptive_field, CourseNet(), (3, 32, 32))
    with pytest.raises(TypeError, match="model: expected an nn.Module, got str"):
        minigrad.receptive_field("net", (3, 32, 32))
    with pytest.raises(ValueError, match=r"input_size: expected \(channels, \*spatial size\).*got \(32,\)"):
        minigrad.receptive_field(CourseNet(), (32,))
    with pytest.raises(ValueError, match="device: expected 'cpu' or 'cuda', got 'tpu'"):
        minigrad.receptive_field(CourseNet(), (3, 32, 32), device="tpu")
    with pytest.raises(KeyError, match=r"layer: expected one of \['0', '1', '2', '3', '4'\], got '9'"):
        minigrad.receptive_field_for_unit(fields, "9", (0, 0))
    with pytest.raises(ValueError, match=r"unit_position \(16, 0\) is outside the feature map of layer 2"):
        minigrad.receptive_field_for_unit(fields, "2", (16, 0))
    with pytest.raises(ValueError, match="unit_position: expected 2 ints, one per spatial dim, got"):
        minigrad.receptive_field_for_unit(fields, "2", (1,))
    with pytest.raises(TypeError, match="receptive_field_dict: expected the dict receptive_field returns"):
        minigrad.receptive_field_for_unit([], "2", (1, 1))


# --- the property: the region is where the gradient of one output unit is non-zero -------------------------

def output_size(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


@st.composite
def architectures(draw):
    """(layers, input size, gap free): random convolutions (non-square kernels, strides, padding, dilation),
    average pools (a max pool's gradient reaches one pixel of its window), BatchNorm, ReLU and residual
    blocks. Gap free: every window is undilated with stride <= kernel, so the field has no holes."""
    image = size = [draw(st.integers(6, 14)), draw(st.integers(6, 14))]
    layers, gap_free = [], True
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "conv", "pool", "residual", "pointwise"]))
        if kind == "pointwise":
            layers.append(draw(st.sampled_from([nn.ReLU, lambda: nn.BatchNorm2d(2)]))())
            continue
        if kind == "residual":
            stride = draw(st.integers(1, 2))
            if min(output_size(n, 3, stride, 1, 1) for n in size) < 1:
                continue
            layers.append(Residual(2, 3, 1, stride))
            size = [output_size(n, 3, stride, 1, 1) for n in size]
            continue
        k = [draw(st.integers(1, 4)) for _ in size]
        s = [draw(st.integers(1, 3)) for _ in size]
        d = [draw(st.integers(1, 3)) for _ in size] if kind == "conv" else [1, 1]
        p = [draw(st.integers(0, kk // 2 if kind == "pool" else 3)) for kk in k]
        new = [output_size(n, *args) for n, *args in zip(size, k, s, p, d)]
        if min(new) < 1:
            continue
        layers.append(nn.Conv2d(2, 2, tuple(k), tuple(s), tuple(p), tuple(d)) if kind == "conv"
                      else nn.AvgPool2d(tuple(k), tuple(s), tuple(p)))
        gap_free &= all(dd == 1 and ss <= kk for kk, ss, dd in zip(k, s, d))
        size = new
    return layers, image, gap_free


@given(architectures(), st.data())
def test_the_region_is_where_one_units_gradient_reaches(architecture, data):
    layers, (height, width), gap_free = architecture
    net = nn.Sequential(nn.Conv2d(1, 2, 1), *layers).to(minigrad.float64)
    for name, parameter in net.named_parameters():
        with minigrad.no_grad():
            parameter.copy_(minigrad.rand(*parameter.shape, dtype=minigrad.float64) + 0.5
                            if name.endswith("weight") else minigrad.zeros(*parameter.shape, dtype=minigrad.float64))
    fields, _ = quietly(minigrad.receptive_field, net, (1, height, width))
    last = [k for k in fields if k != "input_size"][-1]
    out_size = fields[last]["output_shape"][2:]
    unit = tuple(data.draw(st.integers(0, n - 1)) for n in out_size)
    region, _ = quietly(minigrad.receptive_field_for_unit, fields, last, unit)

    net.eval()
    x = (minigrad.rand(1, 1, height, width, dtype=minigrad.float64) + 0.5).requires_grad_()
    net(x)[0, 0][unit].backward()
    seen = np.argwhere(x.grad.numpy()[0, 0] != 0)
    if len(seen) == 0:  # a unit whose window lies in the padding sees nothing
        assert region == [(0, 0), (0, 0)]
        return
    box = [(float(seen[:, i].min()), float(seen[:, i].max() + 1)) for i in range(2)]
    assert region == box
    if gap_free:
        assert len(seen) == (box[0][1] - box[0][0]) * (box[1][1] - box[1][0])
