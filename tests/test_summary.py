"""summary(): the returned object, the batch-dim rule for input_size, printing, and the README's table."""
import io
import pathlib
import re
import subprocess
import sys

import minigrad
from minigrad import nn

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


def rows(table):
    return [line for line in table.splitlines() if re.match(r"\s+\w+-\d+\s", line)]


def test_returns_the_table_as_its_repr_with_the_counts_as_attributes():
    stats = minigrad.summary(lenet(), (1, 28, 28), verbose=0)
    assert repr(stats) == str(stats) and str(stats).startswith("input_size (1, 28, 28)")
    assert stats.total_params == stats.trainable_params == 61706 and stats.non_trainable_params == 0
    assert stats.input_size == (1, 1, 28, 28) and not stats.batch_dim_included
    assert stats.layers[0] == ("Conv2d-1", [1, 6, 28, 28], 156, 156) and len(stats.layers) == 12


def test_input_size_may_include_the_batch_dim_when_the_first_layer_makes_it_unambiguous():
    without = minigrad.summary(lenet(), (1, 28, 28), verbose=0)
    assert "input_size (1, 28, 28) excludes the batch dim; a batch of 1 is added" in without
    batch_of_one = minigrad.summary(lenet(), (1, 1, 28, 28), verbose=0)
    assert "input_size (1, 1, 28, 28) includes the batch dim (torchinfo's convention)" in batch_of_one
    assert rows(batch_of_one) == rows(without)
    eight = minigrad.summary(lenet(), (8, 1, 28, 28), verbose=0)
    assert eight.batch_dim_included and eight.layers[0].output_shape == [8, 6, 28, 28]
    assert eight.layers[-1].output_shape == [8, 10] and eight.total_params == 61706
    conv1d = minigrad.summary(nn.Sequential(nn.Conv1d(2, 3, 3)), (4, 2, 10), verbose=0)
    assert conv1d.batch_dim_included and conv1d.layers[0].output_shape == [4, 3, 8]
    # a Linear first layer takes any number of leading dims: ambiguous, so the batch dim is always added
    linear = minigrad.summary(nn.Sequential(nn.Linear(784, 10)), (1, 784), verbose=0)
    assert not linear.batch_dim_included and linear.layers[0].output_shape == [1, 1, 10]


def test_the_first_layer_is_the_first_one_called_not_the_first_registered():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(6 * 6 * 6, 10)
            self.conv = nn.Conv2d(1, 6, 3)

        def forward(self, x):
            return self.head(self.conv(x).flatten(1))

    stats = minigrad.summary(Net(), (2, 1, 8, 8), verbose=0)
    assert stats.batch_dim_included and stats.layers[-1].output_shape == [2, 10]


def test_prints_once_in_a_script_and_not_when_asked_not_to():
    out = io.StringIO()
    stats = minigrad.summary(lenet(), (1, 28, 28), file=out)
    assert out.getvalue() == str(stats) + "\n"
    quiet = io.StringIO()
    minigrad.summary(lenet(), (1, 28, 28), file=quiet, verbose=0)
    assert quiet.getvalue() == ""


def test_an_interactive_prompt_shows_the_table_once():
    session = ("import minigrad\nfrom minigrad import nn\n"
               "minigrad.summary(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), (1, 8, 8))\n")
    result = subprocess.run([sys.executable, "-i"], input=session, capture_output=True, text=True, timeout=120)
    assert result.stdout.count("Total params: 20") == 1, result.stdout


def test_the_readme_table_is_what_summary_prints():
    text = README.read_text()
    block = re.search(r"`torch\.summary\(net, \(1, 28, 28\)\)`.*?```\n(.*?)```", text, re.S).group(1)
    assert block.rstrip("\n") == str(minigrad.summary(lenet(), (1, 28, 28), verbose=0))
