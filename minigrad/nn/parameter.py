"""Parameter: a leaf tensor that a Module registers as trainable."""
from minigrad.tensor import Tensor


class Parameter(Tensor):
    """A tensor that requires grad and registers itself when assigned to a Module attribute.

    It shares storage with `data`; the results of ops on it are plain Tensors.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = Tensor([])
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected data to be a Tensor, got {type(data).__name__}")
        self._share_storage_of(data)
        self.requires_grad_(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
