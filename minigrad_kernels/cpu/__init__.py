"""Numba CPU kernels. Every function takes and returns numpy arrays and ints.

The first time a kernel is compiled in a process (a cold Numba cache, or a signature not cached yet),
one line on stderr says so: a cold start otherwise waits 12-15 s in silence. A second process then
compiles kernels too (see warm_up.py).
"""
import sys

from numba.core import event

from minigrad_kernels.cpu import warm_up

_announced = False


class _CompileNotice(event.Listener):
    """Numba fires "numba:compile" only after a cache miss, just before it compiles."""

    def on_start(self, ev):
        global _announced
        dispatcher = (ev.data or {}).get("dispatcher")
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", None) or ""
        if _announced or not module.startswith(__name__ + "."):
            return
        _announced = True
        warm_up.start(f"{module}.{dispatcher.py_func.__name__}")
        message = (f"minigrad: compiling CPU kernels, once: about 12-15 s (later runs load them from "
                   f"{dispatcher.stats.cache_path})")
        if "tqdm" in sys.modules:  # a progress bar may be on the line: write above it
            sys.modules["tqdm"].tqdm.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr, flush=True)

    def on_end(self, ev):
        pass


event.register("numba:compile", _CompileNotice())
