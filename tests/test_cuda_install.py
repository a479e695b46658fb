"""The CUDA backend is an extra (`pip install -e ".[cuda]"`): CPU work never imports numba.cuda, and without
numba-cuda installed, asking for the cuda device says what to install. Each check runs in a fresh interpreter;
"not installed" is simulated there by blocking the import (this environment may have numba-cuda installed)."""
import os
import subprocess
import sys
import textwrap

# In the child: numba-cuda looks uninstalled (find_spec("numba_cuda") is None), and importing numba.cuda
# fails loudly with an AssertionError, which no `except ImportError` can swallow. BLOCK_NUMBA_CUDA=missing
# makes it a plain ImportError instead: a numba without its own numba.cuda.
BLOCK = textwrap.dedent("""
    import importlib.abc
    import os
    import sys

    sys.modules["numba_cuda"] = None

    class BlockNumbaCuda(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "numba.cuda" or name.startswith("numba.cuda."):
                if os.environ.get("BLOCK_NUMBA_CUDA") == "missing":
                    raise ImportError(f"No module named {name!r} (blocked by the test)")
                raise AssertionError(f"{name} was imported")
            return None

    sys.meta_path.insert(0, BlockNumbaCuda())
""")

CUDA_MODULES = textwrap.dedent("""
    def cuda_modules():
        return sorted(m for m, module in sys.modules.items() if module is not None and (
            m.split(".")[0] in ("numba_cuda", "cuda") or m == "numba.cuda"
            or m.startswith(("numba.cuda.", "minigrad_kernels.cuda", "minigrad.backends.cuda"))))
""")


def run_child(code, simulator=False, block_numba_cuda="assert"):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["BLOCK_NUMBA_CUDA"] = block_numba_cuda
    if simulator:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_cpu_work_imports_no_cuda_module():
    run_child("import sys\n" + CUDA_MODULES + """
import minigrad
from minigrad import nn, optim
from minigrad.utils.data import DataLoader, TensorDataset

assert cuda_modules() == [], cuda_modules()
net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
opt = optim.SGD(net.parameters(), lr=0.1)
for X, y in DataLoader(TensorDataset(minigrad.randn(4, 1, 6, 6), minigrad.randint(0, 3, (4,))), batch_size=2):
    opt.zero_grad()
    nn.functional.cross_entropy(net(X), y).backward()
    nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    opt.step()
net.to("cpu")
assert minigrad.cuda.memory_allocated() == 0 and minigrad.cuda.allocation_count() == 0
assert cuda_modules() == [], cuda_modules()
""")


WITHOUT_NUMBA_CUDA = BLOCK + CUDA_MODULES + """
import pytest

import minigrad
from minigrad import nn

assert not minigrad.cuda.is_available()
assert minigrad.cuda.device_count() == 0
assert minigrad.cuda.memory_allocated() == 0
x = minigrad.ones(2)
for make in (x.cuda, lambda: x.to("cuda"), lambda: x.to(minigrad.device("cuda:0")), nn.Linear(2, 2).cuda,
             lambda: minigrad.zeros(2, device="cuda"), minigrad.cuda.synchronize):
    with pytest.raises(RuntimeError) as info:
        make()
    print(info.value)
assert cuda_modules() == [], cuda_modules()
"""


def test_without_numba_cuda_cuda_says_what_to_install():
    messages = run_child(WITHOUT_NUMBA_CUDA).splitlines()
    assert len(messages) == 6
    for message in messages:
        assert "numba-cuda" in message and "is not installed" in message, message
        assert 'pip install -e ".[cuda]"' in message and 'pip install "numba-cuda[cu12]"' in message, message
        assert "NUMBA_ENABLE_CUDASIM=1" in message, message


def test_without_any_numba_cuda_the_same():
    # a numba with no numba.cuda of its own (numba-cuda not installed either): the same message
    messages = run_child(WITHOUT_NUMBA_CUDA, block_numba_cuda="missing").splitlines()
    assert len(messages) == 6 and all('pip install -e ".[cuda]"' in m for m in messages), messages


def test_simulator_without_numba_cuda_says_what_to_install():
    # NUMBA_ENABLE_CUDASIM=1 runs on numba's own numba.cuda too; with neither, the error says so
    out = run_child(BLOCK + """
import pytest

import minigrad

assert not minigrad.cuda.is_available()
with pytest.raises(RuntimeError) as info:
    minigrad.ones(2).cuda()
print(info.value)
""", simulator=True, block_numba_cuda="missing")
    assert "NUMBA_ENABLE_CUDASIM=1 is set" in out and "pip install numba-cuda" in out, out
