"""minigrad: a small, fast, PyTorch-shaped deep-learning framework.

`import minigrad as torch` gives tensors with autograd (reverse and forward mode)
under PyTorch's names.
"""
import builtins as _builtins

from minigrad import accelerator, autograd, cuda, data, distributed, func, linalg, models, nn, optim, utils, viz
from minigrad._device import device
from minigrad._dtype import ALIASES as _DTYPE_ALIASES
from minigrad._dtype import (dtype, float16, float32, float64, get_default_dtype, int8, int16, int32, int64,
                             set_default_dtype, uint8)
from minigrad._size import Size
from minigrad._threads import get_num_threads, set_num_threads
from minigrad.autograd import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                               set_grad_enabled)
from minigrad.creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, linspace,
                               normal, ones, ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor,
                               zeros, zeros_like)
from minigrad.toplevel import METHOD_FUNCTIONS as _METHOD_FUNCTIONS
from minigrad.toplevel import bmm, cat, concat, einsum, is_tensor, mm, repeat_interleave, stack
from minigrad.promotion import can_cast, promote_types, result_type
from minigrad.random import (Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed,
                             set_rng_state)
from minigrad.serialization import load, save
from minigrad.summary import summary
from minigrad.receptive_field import receptive_field, receptive_field_for_unit  # after summary, which imports the module
from minigrad.tensor import Tensor, matmul, where
from minigrad.autograd import functional as _autograd_functional  # binds minigrad.autograd.functional, as torch's

del _autograd_functional

__version__ = "0.1.0"

# minigrad.exp(x), minigrad.mean(x, dim) ...: module functions for Tensor methods. Those whose
# names are Python builtins (sum, max, abs, float, bool ...) are served by __getattr__ below,
# so that this module never shadows a builtin.
globals().update({name: fn for name, fn in _METHOD_FUNCTIONS.items() if not hasattr(_builtins, name)})


def __getattr__(name):
    if name in _DTYPE_ALIASES:
        return _DTYPE_ALIASES[name]
    if name in _METHOD_FUNCTIONS:
        return _METHOD_FUNCTIONS[name]
    raise AttributeError(f"module 'minigrad' has no attribute '{name}'")


__all__ = ["accelerator", "autograd", "cuda", "data", "distributed", "utils", "func", "linalg", "models", "nn", "optim", "load", "save", "summary", "receptive_field", "receptive_field_for_unit", "viz", "device", "dtype", "float16", "float32", "float64", "uint8", "int8", "int16", "int32", "int64", "can_cast", "promote_types", "result_type", "Size", "get_num_threads", "set_num_threads", "get_default_dtype", "set_default_dtype", "inference_mode",
           "is_inference_mode_enabled", "enable_grad",
           "is_grad_enabled", "no_grad", "set_grad_enabled", "arange", "as_tensor", "empty", "empty_like", "eye",
           "from_numpy", "full", "full_like", "linspace", "normal", "ones", "ones_like", "rand", "randint",
           "randn", "randperm", "tensor", "zeros", "zeros_like", "rand_like", "randn_like", "bmm", "cat", "concat",
           "einsum", "is_tensor", "mm", "repeat_interleave", "stack", "Generator", "default_generator", "get_rng_state", "set_rng_state", "initial_seed",
           "manual_seed", "seed", "Tensor", "matmul", "where"] + sorted(_METHOD_FUNCTIONS) + sorted(_DTYPE_ALIASES)
