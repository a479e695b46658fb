"""The one decorator every Numba CPU kernel goes through.

`MINIGRAD_KERNEL_DEBUG=1` compiles every kernel serial (so a bounds error inside
a `prange` is not dropped, numba issue #4600) and with `boundscheck=True`, into
a separate cache directory (Numba's cache key ignores the bounds-check flag, so
a shared cache would hand back unchecked machine code).

Numba's cache checks a kernel against its own source file only, but a kernel compiles in the functions,
kernels and intrinsics it calls from other modules (batch_conv inlines register_tile's): each kernel's
cache stamp also covers the sources of the modules its module imports from its package, transitively,
so that editing one recompiles the kernels built on it instead of loading stale machine code.
"""
import functools
import hashlib
import importlib.util
import inspect
import os
import pathlib
import re

import numba

DEBUG = os.environ.get("MINIGRAD_KERNEL_DEBUG", "0") not in ("", "0")

if DEBUG:
    _base = numba.config.CACHE_DIR or os.path.join(os.path.expanduser("~"), ".cache", "minigrad")
    numba.config.CACHE_DIR = os.path.join(_base, "numba-debug-kernels")


def cpu_kernel(fn=None, *, parallel=True, fastmath=False):
    """`numba.njit(cache=True)`, parallel unless the debug switch is on. fastmath=True lets LLVM
    reorder a float reduction so that it vectorizes."""
    options = dict(cache=True, nogil=True, parallel=parallel and not DEBUG, boundscheck=DEBUG,
                   fastmath=fastmath)

    def decorate(f):
        kernel = numba.njit(**options)(f)
        _cover_imports(kernel)
        return kernel

    return decorate if fn is None else decorate(fn)


def _cover_imports(kernel):
    """Adds the digest of the sources kernel's module imports (see the module's docstring) to the stamp
    its cache index is checked against. A Numba without these attributes keeps its own stamp."""
    index = getattr(getattr(kernel, "_cache", None), "_cache_file", None)
    if hasattr(index, "_source_stamp"):
        index._source_stamp = (index._source_stamp,
                               _digest(inspect.getfile(kernel.py_func), kernel.py_func.__module__.split(".")[0]))


@functools.lru_cache(maxsize=None)
def _digest(path, package):
    return hashlib.sha256(b"".join(pathlib.Path(p).read_bytes() for p in imported_sources(path, package))).hexdigest()


def imported_sources(path, package):
    """The .py files of the modules of `package` that the source at `path` imports (`import package...`
    or `from package... import name`, a module or a name in one), transitively, sorted; `path` first."""
    pattern = re.compile(rf"^(?:from ({package}[\w.]*) import (?:\(([^)]*)\)|([\w, ]+))|import ({package}[\w.]*))",
                         re.M)
    found, todo = [path], [path]
    while todo:
        with open(todo.pop(), encoding="utf-8") as source:
            text = source.read()
        for origin, bracketed, names, module in pattern.findall(text):
            names = (bracketed or names).split(",")
            for name in [module] if module else [origin] + [f"{origin}.{n.strip()}" for n in names]:
                try:
                    spec = importlib.util.find_spec(name)
                except ModuleNotFoundError:  # a name in a module, not a module
                    continue
                if spec is not None and spec.origin and spec.origin.endswith(".py") and spec.origin not in found:
                    found.append(spec.origin)
                    todo.append(spec.origin)
    return tuple(found[:1] + sorted(found[1:]))
