"""minigrad.viz: the graph of a known expression node for node and edge for edge, saved tensors, the nodes that
forward mode marks, rendering, the errors, and examples/autograd_tour.py's picture."""
import builtins
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

import minigrad
from minigrad import nn, viz

graphviz = pytest.importorskip("graphviz")
ROOT = pathlib.Path(__file__).resolve().parent.parent
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")


def parse(graph):
    """({node id: label}, {(from label, to label)}) of a Digraph's source; labels' newlines as spaces."""
    source = graph.source
    labels = {ident.strip('"'): label.replace("\n", " ")
              for ident, label in re.findall(r'^\t(\S+) \[label="?(.*?)"? fillcolor', source, re.S | re.M)}
    edges = {(labels[a.strip('"')], labels[b.strip('"')]) for a, b in re.findall(r"^\t(\S+) -> (\S+)", source, re.M)}
    return labels, edges


def test_a_known_expression_has_exactly_its_nodes_and_edges():
    a = minigrad.randn(2, 3, requires_grad=True)
    b = minigrad.randn(2, 3, requires_grad=True)
    out = (a * b + a).sum()
    labels, edges = parse(viz.draw_graph(out, params={"a": a, "b": b}))
    assert sorted(labels.values()) == sorted(["a (2, 3)", "b (2, 3)", "MulBackward", "AddBackward", "SumBackward",
                                              "output ()"])
    assert edges == {("a (2, 3)", "MulBackward"), ("b (2, 3)", "MulBackward"), ("MulBackward", "AddBackward"),
                     ("a (2, 3)", "AddBackward"), ("AddBackward", "SumBackward"), ("SumBackward", "output ()")}
    assert labels[str(id(out.grad_fn))] == "SumBackward"  # one node per grad_fn, named by it


def test_unnamed_leaves_show_their_shape_and_parameters_their_names():
    net = nn.Linear(3, 2)
    out = net(minigrad.randn(4, 3, requires_grad=True))
    labels, _ = parse(viz.draw_graph(out, params=dict(net.named_parameters())))
    assert {"weight (2, 3)", "bias (2)", "(4, 3)", "output (4, 2)"} <= set(labels.values())


def test_saved_tensors_appear_with_their_names_and_shapes_only_when_asked():
    a = minigrad.randn(2, 3, requires_grad=True)
    out = (a * a.exp()).sum()
    plain, _ = parse(viz.draw_graph(out))
    labels, edges = parse(viz.draw_graph(out, show_saved=True))
    assert set(labels.values()) - set(plain.values()) == {"a (2, 3)", "b (2, 3)", "out (2, 3)"}
    assert {("a (2, 3)", "MulBackward"), ("b (2, 3)", "MulBackward"), ("out (2, 3)", "ExpBackward")} <= edges
    out.backward()  # frees them
    assert set(parse(viz.draw_graph(out, show_saved=True))[0].values()) == set(plain.values())


def test_forward_mode_marks_exactly_the_nodes_that_carried_tangents():
    w = minigrad.randn(3, requires_grad=True)
    carried = {}

    def f(x):
        scaled = x * w                # from the primal: a tangent
        offset = (w * 2).exp()        # from the weight alone: none
        for name, t in (("scaled", scaled), ("offset", offset)):
            carried[name] = (t.grad_fn, t._tangent is not None)
        return (scaled + offset).sum()

    graph = viz.draw_forward(f, (minigrad.randn(3),), (minigrad.ones(3),), params={"w": w})
    labels, _ = parse(graph)
    for node, has_tangent in carried.values():
        assert ("tangent" in labels[str(id(node))]) == has_tangent
    assert carried["scaled"][1] and not carried["offset"][1]
    marked = sorted(label for label in labels.values() if "tangent" in label)
    assert marked == ["AddBackward tangent (3)", "MulBackward tangent (3)", "SumBackward tangent ()",
                      "output () tangent", "primals[0] (3) tangent"]
    assert "w (3)" in labels.values()


def test_the_errors_say_what_was_expected():
    with pytest.raises(ValueError, match="output 0 does not require grad"):
        viz.draw_graph(minigrad.ones(2))
    with pytest.raises(TypeError, match="output: expected a Tensor or a sequence of Tensors, got 3"):
        viz.draw_graph(3)
    with pytest.raises(TypeError, match=r"params: expected a dict of names to tensors .* got list"):
        viz.draw_graph(minigrad.ones(2, requires_grad=True) * 2, params=[])
    with pytest.raises(ValueError, match="path: expected a file name with a suffix"):
        viz.save_graph(viz.draw_graph(minigrad.ones(2, requires_grad=True) * 2), "tape")


def test_without_graphviz_it_says_what_to_install(monkeypatch):
    real_import = builtins.__import__

    def no_graphviz(name, *args, **kwargs):
        if name == "graphviz":
            raise ImportError("No module named 'graphviz'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_graphviz)
    with pytest.raises(ImportError, match=r"pip install minigrad\[viz\]"):
        viz.draw_graph(minigrad.ones(2, requires_grad=True) * 2)


def test_without_dot_rendering_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on it
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        viz.save_graph(viz.draw_graph(minigrad.ones(2, requires_grad=True) * 2), tmp_path / "tape.png")


@needs_dot
def test_it_renders_to_the_format_the_suffix_names(tmp_path):
    graph = viz.draw_graph((minigrad.ones(2, requires_grad=True) * 2).sum())
    assert viz.save_graph(graph, tmp_path / "tape.svg") == str(tmp_path / "tape.svg")
    assert (tmp_path / "tape.svg").read_text().lstrip().startswith("<?xml")
    viz.save_graph(graph, tmp_path / "tape.png")
    assert (tmp_path / "tape.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_autograd_tour_draws_the_tape_of_a_conv_net(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "autograd_tour.py"), "--graph", "tape.png"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    written = result.stdout.splitlines()[-1].removeprefix("the tape of a small conv net: ")
    assert written == ("tape.png" if shutil.which("dot") else "tape.gv") and (tmp_path / written).stat().st_size
