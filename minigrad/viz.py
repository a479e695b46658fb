"""Pictures of the tape, as graphviz Digraphs (torchviz's make_dot, for minigrad): draw_graph for the recorded
backward graph, draw_forward for the same graph with the nodes that forward mode pushed tangents through.

graphviz (the Python package) is the `viz` extra: `pip install minigrad[viz]`. Building a Digraph and its
`.source` needs only that; rendering it (save_graph, Digraph.render) also needs Graphviz's `dot` program.
"""
from minigrad.autograd.forward_ad import jvp
from minigrad.autograd.grad_mode import enable_grad
from minigrad.autograd.variable import TensorBase

_INSTALL = "draw_graph needs the graphviz package: pip install minigrad[viz] (or pip install graphviz)"
_DOT = ("rendering needs Graphviz's dot program, which pip cannot install: apt-get install graphviz, "
        "brew install graphviz or conda install -c conda-forge graphviz (the Digraph's .source needs none)")
# colours as torchviz's: leaves light blue, outputs green, saved tensors orange; tangents in forward mode red
_LEAF, _OUTPUT, _SAVED, _TANGENT = "lightblue", "darkolivegreen1", "orange", "lightcoral"


def _graphviz():
    try:
        import graphviz
    except ImportError as missing:
        raise ImportError(_INSTALL) from missing
    return graphviz


def _shape(tensor):
    return "(" + ", ".join(str(n) for n in tensor.shape) + ")"


def _tensors(value, argument):
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not values or not all(isinstance(v, TensorBase) for v in values):
        raise TypeError(f"{argument}: expected a Tensor or a sequence of Tensors, got {value!r}")
    return values


def _names(params):
    if params is None:
        return {}
    if not isinstance(params, dict) or not all(isinstance(k, str) and isinstance(v, TensorBase)
                                               for k, v in params.items()):
        raise TypeError("params: expected a dict of names to tensors (e.g. dict(model.named_parameters())), "
                        f"got {type(params).__name__}")
    return {id(tensor): name for name, tensor in params.items()}


def _nodes(roots):
    """Every node reachable from `roots`, each once, after all of its inputs' nodes."""
    order, seen = [], set()
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(root.next_functions))]
        while stack:
            node, edges = stack[-1]
            child = next((e[0] for e in edges if e is not None and e[0] not in seen), None)
            if child is None:
                order.append(stack.pop()[0])
            else:
                seen.add(child)
                stack.append((child, iter(child.next_functions)))
    return order


def _reaching(nodes, targets):
    """The nodes (listed inputs first) from which one of `targets` is reachable, the targets included."""
    reach = set()
    for node in nodes:
        if node in targets or any(e is not None and e[0] in reach for e in node.next_functions):
            reach.add(node)
    return reach


def _saved(node):
    """(name, shape) of each tensor a node saved for backward (none once backward has freed them)."""
    ctx = node.fn
    items = getattr(ctx, "_saved", ())
    names = getattr(getattr(ctx, "_function", None), "saves", ())
    result = []
    for i, item in enumerate(items):
        tensor = getattr(item, "like", item)  # an output is saved as a stand-in holding `like`
        if isinstance(tensor, TensorBase):
            result.append((names[i] if i < len(names) else f"saved[{i}]", _shape(tensor)))
    return result


def _build(outputs, params, show_saved, tangent_nodes=(), primal_names=None):
    graphviz = _graphviz()
    names = {**_names(params), **(primal_names or {})}
    roots = []
    for i, out in enumerate(outputs):
        if out.grad_fn is None and not out.requires_grad:
            raise ValueError(f"output: expected tensors with a recorded graph, but output {i} does not require "
                             "grad (compute it from tensors with requires_grad=True, outside no_grad())")
        roots.append(out._grad_edge()[0])
    dot = graphviz.Digraph(node_attr={"style": "filled", "shape": "box", "align": "left", "fontsize": "10",
                                      "ranksep": "0.1", "height": "0.2", "fontname": "monospace"},
                           graph_attr={"size": "12,12"})
    for node in _nodes(roots):
        ident = str(id(node))
        meta = getattr(node.fn, "_output_meta", ())  # (type, shape, dtype, device) per output of an op
        tangent = "" if node not in tangent_nodes else "\ntangent" if not meta else \
            "\ntangent (" + ", ".join(str(n) for n in meta[0][1]) + ")"
        leaf = getattr(node.fn, "leaf_ref", None)
        if leaf is not None:  # a leaf's accumulator stands for the leaf
            tensor = leaf()
            name = "" if tensor is None else names.get(id(tensor), "")
            label = f"{name}\n{_shape(tensor)}".strip() if tensor is not None else "leaf (freed)"
            dot.node(ident, label + tangent, fillcolor=_TANGENT if tangent else _LEAF)
        else:
            dot.node(ident, node.name() + tangent, fillcolor=_TANGENT if tangent else "lightgrey")
        for edge in node.next_functions:
            if edge is not None:
                dot.edge(str(id(edge[0])), ident)
        if show_saved:
            for k, (name, shape) in enumerate(_saved(node)):
                dot.node(f"{ident}_saved{k}", f"{name}\n{shape}", fillcolor=_SAVED)
                dot.edge(f"{ident}_saved{k}", ident, style="dotted", dir="none")
    for i, (out, root) in enumerate(zip(outputs, roots)):
        tangent = "\ntangent" if root in tangent_nodes else ""
        dot.node(f"output{i}", f"output{i if len(outputs) > 1 else ''}\n{_shape(out)}{tangent}", fillcolor=_OUTPUT)
        dot.edge(str(id(root)), f"output{i}")
    return dot


def draw_graph(output, params=None, show_saved=False):
    """The recorded backward graph of `output` (a tensor or a sequence of them) as a graphviz Digraph: one
    grey box per backward node (its grad_fn, named as `grad_fn.name()`), an edge from each node to the
    node that consumes it (forward order), leaf tensors in blue with their name from `params` (a dict of
    names to tensors, e.g. dict(model.named_parameters())) and shape, the output in green. show_saved=True
    adds an orange box per tensor a node saved for backward, with its name and shape (none after a backward
    that freed them). Render it with save_graph, or display it in a notebook."""
    return _build(_tensors(output, "output"), params, bool(show_saved))


def draw_forward(func, primals, tangents, params=None, show_saved=False):
    """Run `func(*primals)` in forward mode, as autograd.forward_ad.jvp does with these tangents, and draw its
    graph as draw_graph does, with every node that carried a tangent in red and marked "tangent".

    Forward mode records nothing of its own: an op pushes a tangent exactly when one of its inputs has one,
    so the nodes marked are those from which a primal is reachable; nodes computed from parameters alone
    (say, a weight's transpose) carry none. To draw the graph, primals that do not require grad are
    replaced by copies that do, labelled primals[i]; a primal that is a leaf requiring grad is used as it
    is (named from `params`, if there)."""
    primals, tangents = _tensors(primals, "primals"), _tensors(tangents, "tangents")
    _graphviz()  # without graphviz, fail before running func
    used = tuple(p if p.requires_grad and p.grad_fn is None else p.detach().requires_grad_() for p in primals)
    with enable_grad():
        outputs, _ = jvp(func, used, tangents)
    outputs = _tensors(outputs, "func's output")
    roots = [out._grad_edge()[0] for out in outputs if out.requires_grad]
    marked = _reaching(_nodes(roots), {p._grad_edge()[0] for p in used})
    primal_names = {id(p): f"primals[{i}]" for i, (p, given) in enumerate(zip(used, primals)) if p is not given}
    return _build(outputs, params, bool(show_saved), marked, primal_names)


def save_graph(graph, path):
    """Render `graph` to `path`, in the format its suffix names (.png, .svg, .pdf, ...); returns the path.
    Needs Graphviz's dot program; without it raises RuntimeError saying how to install it."""
    graphviz = _graphviz()
    if not isinstance(graph, graphviz.Digraph):
        raise TypeError(f"graph: expected a graphviz.Digraph (from draw_graph), got {type(graph).__name__}")
    path = str(path)
    if "." not in path.rsplit("/", 1)[-1]:
        raise ValueError(f"path: expected a file name with a suffix naming the format (e.g. tape.png), got {path!r}")
    try:
        return graph.render(outfile=path, cleanup=True)
    except graphviz.ExecutableNotFound as missing:
        raise RuntimeError(_DOT) from missing
