"""save / load in the safetensors format: no pickle, so loading a file never runs code.

A flat dict of tensors (a model's state_dict) is stored as is, so `safetensors.torch.load_file` reads it
into PyTorch. Anything else (an optimizer's state_dict, nested dicts and lists, numbers, strings) is
flattened: each tensor is stored under the dotted path of keys and list indices that leads to it
("state.0.exp_avg"), and the structure around the tensors is kept as JSON in the file's metadata
under "minigrad.structure". Writes go to a temporary file that is renamed into place.
"""
import json
import os
import tempfile

from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from minigrad.creation import from_numpy
from minigrad.tensor import Tensor

_STRUCTURE = "minigrad.structure"
_ORDER = "minigrad.order"  # safetensors sorts its keys; this keeps a state dict's order


def _is_flat_tensor_dict(obj):
    return isinstance(obj, dict) and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())


def _host_array(tensor):
    """A C-contiguous host copy of the tensor's values, of the same shape (0-d stays 0-d, which
    np.ascontiguousarray would turn into shape [1])."""
    array = tensor.detach().cpu().numpy()
    return array if array.flags.c_contiguous else array.copy(order="C")


def _flatten(obj, path, tensors):
    """JSON-able skeleton of obj; tensors are replaced by {"tensor": key} and collected."""
    if isinstance(obj, Tensor):
        key = ".".join(path) or "tensor"
        if key in tensors:
            raise ValueError(f"save: two tensors would be stored under the same key '{key}' (keys that contain "
                             "'.', or an int and a str key that print alike); rename one of them")
        tensors[key] = _host_array(obj)
        return {"tensor": key}
    if isinstance(obj, dict):
        return {"dict": [[_key(k), _flatten(v, path + [str(k)], tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"tuple" if isinstance(obj, tuple) else "list":
                [_flatten(v, path + [str(i)], tensors) for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    raise TypeError(f"save: cannot store an object of type {type(obj).__name__} at '{'.'.join(path)}'; "
                    "expected tensors, dicts, lists, tuples, numbers, strings or None")


def _key(key):
    if isinstance(key, (str, int)) and not isinstance(key, bool):
        return key
    raise TypeError(f"save: dict keys must be str or int, got {type(key).__name__}")


def _unflatten(node, tensors):
    (kind, value), = node.items()
    if kind == "tensor":
        return from_numpy(tensors[value])
    if kind == "dict":
        return {k: _unflatten(v, tensors) for k, v in value}
    if kind in ("list", "tuple"):
        items = [_unflatten(v, tensors) for v in value]
        return items if kind == "list" else tuple(items)
    return value


def save(obj, f):
    """Write a state dict (or nested dicts/lists of tensors and plain values) to the path f."""
    if _is_flat_tensor_dict(obj):
        tensors = {k: _host_array(v) for k, v in obj.items()}
        metadata = {"format": "pt", _ORDER: json.dumps(list(obj))}
    else:
        tensors = {}
        metadata = {"format": "pt", _STRUCTURE: json.dumps(_flatten(obj, [], tensors))}
    path = os.fspath(f)
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".minigrad-save-", suffix=".tmp")
    os.close(handle)
    try:
        save_file(tensors, temporary, metadata=metadata)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def load(f, map_location=None, weights_only=True):
    """Read what save() wrote (or any safetensors file of tensors of minigrad's dtypes: float16-float64,
    uint8, int8-int64, bool)."""
    path = os.fspath(f)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file: '{path}'")
    try:
        tensors = load_file(path)
        with open(path, "rb") as stream:
            header_size = int.from_bytes(stream.read(8), "little")
            metadata = json.loads(stream.read(header_size)).get("__metadata__", {}) or {}
    except (SafetensorError, ValueError, OSError) as error:
        raise RuntimeError(f"load: {path} is not a readable safetensors file (truncated, corrupt or of another "
                           f"format): {error}") from None
    structure = metadata.get(_STRUCTURE)
    if structure is None:
        order = json.loads(metadata.get(_ORDER, "[]"))
        keys = order if sorted(order) == sorted(tensors) else list(tensors)
        result = {k: from_numpy(tensors[k]) for k in keys}
    else:
        result = _unflatten(json.loads(structure), tensors)
    if map_location is not None:
        result = _move(result, map_location)
    return result


def _move(obj, device):
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _move(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_move(v, device) for v in obj)
    return obj
