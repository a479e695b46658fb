"""The import lines PyTorch tutorials start with, with minigrad for torch: each line runs as written (exec in a
clean namespace) and must bind the canonical object, not a copy. A fresh interpreter runs them as well, each
as the first import of minigrad, so that no import done earlier can make one work."""
import importlib
import subprocess
import sys

import pytest

# (line, {name the line binds, dotted through attributes: canonical "module" or "module:attribute"})
IMPORTS = [
    ("import minigrad as torch", {"torch": "minigrad"}),
    ("import minigrad.nn as nn", {"nn": "minigrad.nn"}),
    ("import minigrad.nn.functional as F", {"F": "minigrad.nn.functional"}),
    ("import minigrad.optim as optim", {"optim": "minigrad.optim"}),
    ("from minigrad import nn, optim", {"nn": "minigrad.nn", "optim": "minigrad.optim"}),
    ("from minigrad.nn import functional as F", {"F": "minigrad.nn.functional"}),
    ("from minigrad.nn.functional import conv2d, cross_entropy, relu",
     {"conv2d": "minigrad.nn.functional:conv2d", "cross_entropy": "minigrad.nn.functional:cross_entropy",
      "relu": "minigrad.nn.functional:relu"}),
    ("from minigrad.nn import init", {"init": "minigrad.nn.init"}),
    ("import minigrad.nn.init as init", {"init": "minigrad.nn.init"}),
    ("from minigrad.nn.init import kaiming_uniform_, xavier_uniform_, zeros_",
     {"kaiming_uniform_": "minigrad.nn.init:kaiming_uniform_", "xavier_uniform_": "minigrad.nn.init:xavier_uniform_",
      "zeros_": "minigrad.nn.init:zeros_"}),
    ("from minigrad.nn.parameter import Parameter", {"Parameter": "minigrad.nn:Parameter"}),
    ("from minigrad.nn.utils import clip_grad_norm_, clip_grad_value_",
     {"clip_grad_norm_": "minigrad.nn.utils.clip_grad:clip_grad_norm_",
      "clip_grad_value_": "minigrad.nn.utils.clip_grad:clip_grad_value_"}),
    ("from minigrad.nn.utils.clip_grad import clip_grad_norm_",
     {"clip_grad_norm_": "minigrad.nn.utils:clip_grad_norm_"}),
    ("import minigrad.nn.utils", {"minigrad.nn.utils.clip_grad_norm_": "minigrad.nn.utils.clip_grad:clip_grad_norm_"}),
    ("from minigrad.optim import SGD, Adam, lr_scheduler",
     {"SGD": "minigrad.optim.sgd:SGD", "Adam": "minigrad.optim.adam:Adam",
      "lr_scheduler": "minigrad.optim.lr_scheduler"}),
    ("from minigrad.optim.lr_scheduler import StepLR, CosineAnnealingLR, OneCycleLR",
     {"StepLR": "minigrad.optim.lr_scheduler:StepLR",
      "CosineAnnealingLR": "minigrad.optim.lr_scheduler:CosineAnnealingLR",
      "OneCycleLR": "minigrad.optim.lr_scheduler:OneCycleLR"}),
    ("import minigrad.optim.lr_scheduler as lr_scheduler", {"lr_scheduler": "minigrad.optim:lr_scheduler"}),
    ("from minigrad.autograd import Function, grad",
     {"Function": "minigrad.autograd.function:Function", "grad": "minigrad.autograd.engine:grad"}),
    ("from minigrad.autograd.function import Function", {"Function": "minigrad.autograd:Function"}),
    ("from minigrad.func import grad, jvp, vjp",
     {"grad": "minigrad:func.grad", "jvp": "minigrad:func.jvp", "vjp": "minigrad:func.vjp"}),
    ("from minigrad.func import jacrev, jacfwd, hessian, vmap, functional_call",
     {"jacrev": "minigrad:func.jacrev", "jacfwd": "minigrad:func.jacfwd", "hessian": "minigrad:func.hessian",
      "vmap": "minigrad._vmap:vmap", "functional_call": "minigrad:func.functional_call"}),
    ("import minigrad", {"minigrad.autograd.functional.jacobian": "minigrad.autograd.functional:jacobian"}),
    ("from minigrad.autograd.functional import jacobian, hessian, vjp, jvp, hvp, vhp",
     {"jacobian": "minigrad:autograd.functional.jacobian", "hessian": "minigrad:autograd.functional.hessian",
      "vjp": "minigrad:autograd.functional.vjp", "jvp": "minigrad:autograd.functional.jvp",
      "hvp": "minigrad:autograd.functional.hvp", "vhp": "minigrad:autograd.functional.vhp"}),
    ("from minigrad.utils.data import DataLoader", {"DataLoader": "minigrad.data.dataloader:DataLoader"}),
    ("from minigrad.utils.data import DataLoader, Dataset, TensorDataset",
     {"DataLoader": "minigrad.data:DataLoader", "Dataset": "minigrad.data:Dataset",
      "TensorDataset": "minigrad.data:TensorDataset"}),
    ("from minigrad.utils import data", {"data.DataLoader": "minigrad.data:DataLoader",
                                         "data.TensorDataset": "minigrad.data:TensorDataset"}),
    ("import minigrad.utils.data", {"minigrad.utils.data.DataLoader": "minigrad.data:DataLoader"}),
    ("import minigrad.utils.data as data", {"data": "minigrad.utils:data", "data.Dataset": "minigrad.data:Dataset"}),
    ("from minigrad.utils.data.distributed import DistributedSampler",
     {"DistributedSampler": "minigrad.data.distributed:DistributedSampler"}),
    ("from minigrad.utils.data import DistributedSampler", {"DistributedSampler": "minigrad.data:DistributedSampler"}),
    ("from minigrad.utils.data import ConcatDataset, Subset, random_split",
     {"ConcatDataset": "minigrad.data.dataloader:ConcatDataset", "Subset": "minigrad.data.dataloader:Subset",
      "random_split": "minigrad.data.dataloader:random_split"}),
    ("from minigrad.data import DataLoader, Dataset, TensorDataset, datasets",
     {"DataLoader": "minigrad.data.dataloader:DataLoader", "Dataset": "minigrad.data.dataloader:Dataset",
      "TensorDataset": "minigrad.data.dataloader:TensorDataset", "datasets": "minigrad.data.datasets"}),
    ("from minigrad.cuda import is_available", {"is_available": "minigrad:cuda.is_available"}),
    ("import minigrad.distributed as dist", {"dist": "minigrad:distributed"}),
    ("from minigrad.nn.parallel import DistributedDataParallel as DDP",
     {"DDP": "minigrad.nn.parallel.distributed:DistributedDataParallel"}),
    ("from minigrad.nn.parallel import DistributedDataParallel",
     {"DistributedDataParallel": "minigrad.nn:parallel.DistributedDataParallel"}),
]


def canonical(spec):
    """The object `spec` names: "module" or "module:attribute.attribute"."""
    module, _, attributes = spec.partition(":")
    found = importlib.import_module(module)
    for name in filter(None, attributes.split(".")):
        found = getattr(found, name)
    return found


def bound(namespace, dotted):
    first, *rest = dotted.split(".")
    found = namespace[first]
    for name in rest:
        found = getattr(found, name)
    return found


@pytest.mark.parametrize("line, names", IMPORTS, ids=[line for line, _ in IMPORTS])
def test_import_line_binds_the_canonical_objects(line, names):
    namespace = {}
    exec(line, namespace)  # noqa: S102 (the line is the test's own constant)
    for dotted, spec in names.items():
        assert bound(namespace, dotted) is canonical(spec), (line, dotted, spec)


FIRST_IMPORT = """
import sys
for line in sys.argv[1:]:
    for name in [m for m in sys.modules if m == "minigrad" or m.startswith("minigrad.")]:
        del sys.modules[name]
    exec(line, {})
"""


def test_each_line_works_as_the_first_minigrad_import():
    # in a fresh interpreter, each line runs with no module of minigrad imported before it (an interpreter
    # per line would cost a second each)
    lines = [line for line, _ in IMPORTS]
    result = subprocess.run([sys.executable, "-c", FIRST_IMPORT, *lines], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


def test_utils_data_holds_minigrad_data_objects():
    import minigrad.data
    import minigrad.utils.data
    # every name of minigrad.data is in minigrad.utils.data, as the same object
    assert set(minigrad.data.__all__) <= set(minigrad.utils.data.__all__)
    for name in minigrad.data.__all__:
        assert getattr(minigrad.utils.data, name) is getattr(minigrad.data, name), name
    assert minigrad.utils.data.distributed.DistributedSampler is minigrad.data.DistributedSampler


@pytest.mark.parametrize("module", ["minigrad", "minigrad.nn", "minigrad.nn.utils", "minigrad.nn.utils.clip_grad",
                                    "minigrad.utils", "minigrad.utils.data", "minigrad.utils.data.distributed",
                                    "minigrad.optim", "minigrad.autograd", "minigrad.func", "minigrad.data"])
def test_star_import_names_exist(module):
    imported = importlib.import_module(module)
    missing = [name for name in imported.__all__ if not hasattr(imported, name)]
    assert missing == []
