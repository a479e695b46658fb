"""The layers of README.md's Layout section: imports only point down, and nothing imports in a cycle."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent

# layer of each package prefix, lowest first; a module may import only its own layer or lower ones
LAYERS = [
    ("minigrad_kernels", 0),
    ("minigrad._dtype", 1), ("minigrad._size", 1), ("minigrad._device", 1), ("minigrad.random", 1),
    ("minigrad._threads", 1), ("minigrad.arguments", 1),
    ("minigrad.backends", 2),
    ("minigrad.autograd.functional", 5),  # above minigrad.func, whose vmap it uses (listed first: first match wins)
    ("minigrad.autograd", 3),
    ("minigrad.ops", 4), ("minigrad.promotion", 4),
    ("minigrad.tensor", 5), ("minigrad.creation", 5), ("minigrad.toplevel", 5), ("minigrad.linalg", 5),
    ("minigrad.func", 5),
    ("minigrad._vmap", 5),
    ("minigrad.nn", 6), ("minigrad.optim", 6), ("minigrad.data", 6), ("minigrad.serialization", 6),
    ("minigrad.distributed", 6),
    ("minigrad.summary", 7), ("minigrad.receptive_field", 7), ("minigrad.viz", 7), ("minigrad.utils", 7),
    ("minigrad.cuda", 7), ("minigrad.accelerator", 7),
    ("minigrad.models", 7), ("minigrad", 8),
]


def layer_of(module):
    return next(level for prefix, level in LAYERS if module == prefix or module.startswith(prefix + "."))


def imports():
    for path in sorted(list((ROOT / "minigrad").rglob("*.py")) + list((ROOT / "minigrad_kernels").rglob("*.py"))):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name.split(".")[0] in ("minigrad", "minigrad_kernels"):
                    yield module, name


def test_imports_point_down_the_layers():
    wrong = [(m, n) for m, n in imports()
             if not (m == "minigrad" or n.startswith(m + ".")) and layer_of(n) > layer_of(m)]
    assert wrong == []


def test_kernels_never_import_minigrad():
    assert [(m, n) for m, n in imports() if m.startswith("minigrad_kernels") and n.split(".")[0] == "minigrad"] == []


def module_graph():
    """{module: modules it imports}, every import statement counted (function-level ones too), each name
    resolved to the module it lives in."""
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
               for p in list((ROOT / "minigrad").rglob("*.py")) + list((ROOT / "minigrad_kernels").rglob("*.py"))}
    graph = {m: set() for m in modules}
    for module, name in imports():
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        if name in modules and name != module:
            graph[module].add(name)
    return graph


def test_no_import_cycles():
    graph, cycles = module_graph(), []
    state = {}

    def visit(module, path):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []
