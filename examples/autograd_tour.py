"""A tour of minigrad's autograd: reverse mode, forward mode, higher order, a tiny fit, and a picture of the
tape of a small conv net (needs `pip install minigrad[viz]` and Graphviz's dot program; without dot it writes
the graph's DOT source instead).

    python examples/autograd_tour.py [--graph autograd_tour_tape.png]
"""
import argparse

import minigrad as torch
from minigrad import nn, viz


def draw_tape(path):
    """Draw the tape of one loss of a small conv net into `path` (.png, .svg, ...); returns what was written."""
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 10))
    loss = nn.functional.cross_entropy(net(torch.randn(2, 1, 8, 8)), torch.tensor([1, 7]))
    graph = viz.draw_graph(loss, params=dict(net.named_parameters()), show_saved=True)
    try:
        return viz.save_graph(graph, path)
    except RuntimeError as no_dot:
        source = path.rsplit(".", 1)[0] + ".gv"
        with open(source, "w", encoding="utf-8") as file:
            file.write(graph.source)
        print(no_dot)
        return source


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", default="autograd_tour_tape.png", help="where to draw the conv net's tape")
    args = parser.parse_args()

    # Reverse mode: backward() fills .grad of every leaf.
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x ** 2).sum()
    y.backward()
    print("d/dx sum(x^2) at x = [1, 2, 3]:", x.grad.tolist())

    # Forward mode: one pass pushes a tangent through every op's JVP rule.
    value, tangent = torch.func.jvp(lambda t: t.sin() * t, (x.detach(),), (torch.ones(3),))
    print("J v of x*sin(x) with v = 1:", [round(v, 4) for v in tangent.tolist()])

    # Higher order: d2/dx2 of x^3 is 6x.
    s = torch.tensor(2.0, requires_grad=True)
    (first,) = torch.autograd.grad(s ** 3, s, create_graph=True)
    (second,) = torch.autograd.grad(first, s)
    print(f"d/dx x^3 at 2 = {first.item():.1f}, d2/dx2 = {second.item():.1f}")

    # A least-squares fit of y = 3x - 1 by gradient descent, as in d2l's linear regression.
    torch.manual_seed(0)
    features = torch.randn(200, 1)
    labels = 3 * features - 1 + 0.01 * torch.randn(200, 1)
    w = torch.zeros(1, 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for step in range(200):
        loss = ((features @ w + b - labels) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= 0.1 * w.grad
            b -= 0.1 * b.grad
        w.grad = None
        b.grad = None
    print(f"fitted w = {w.item():.3f}, b = {b.item():.3f}, loss = {loss.item():.5f}")

    # A picture of the tape: one box per backward node, parameters by name, saved tensors in orange.
    try:
        print("the tape of a small conv net:", draw_tape(args.graph))
    except ImportError as no_graphviz:
        print(no_graphviz)


if __name__ == "__main__":
    main()
