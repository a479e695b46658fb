"""One flat vector for all parameters, and back (torch.nn.utils.parameters_to_vector / vector_to_parameters)."""
from minigrad.toplevel import cat
from minigrad.tensor import Tensor


def parameters_to_vector(parameters):
    """The parameters flattened and concatenated, in order (the result takes part in autograd)."""
    return cat([p.reshape(-1) for p in _checked(parameters, "parameters_to_vector")])


def vector_to_parameters(vec, parameters):
    """Point each parameter's data at its slice of vec (a view, as in PyTorch)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, but got {type(vec).__name__}")
    parameters = _checked(parameters, "vector_to_parameters")
    needed = sum(p.numel() for p in parameters)
    if vec.ndim != 1 or vec.numel() != needed:
        raise RuntimeError(f"vector_to_parameters: expected vec of shape [{needed}] (the parameters' total size), "
                           f"got {list(vec.shape)}")
    offset = 0
    for p in parameters:
        p.data = vec[offset:offset + p.numel()].view_as(p).data
        offset += p.numel()


def _checked(parameters, caller):
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"{caller}: expected Tensors, but parameters[{i}] is {type(p).__name__}")
    return parameters
