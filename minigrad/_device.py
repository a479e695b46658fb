"""device: where a tensor's storage lives."""


class device:
    """``device("cpu")``, ``device("cuda")`` or ``device("cuda:0")``, as in PyTorch."""

    __slots__ = ("type", "index")

    def __init__(self, spec, index=None):
        if isinstance(spec, device):
            spec, index = spec.type, spec.index if index is None else index
        if not isinstance(spec, str):
            raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0', got {spec!r}")
        kind, _, number = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise RuntimeError(f"device: expected a device type 'cpu' or 'cuda', got {spec!r}")
        if number:
            if not number.isdigit() or index is not None:
                raise RuntimeError(f"device: invalid device string {spec!r}")
            index = int(number)
        self.type = kind
        self.index = index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index or 0) == (other.type, other.index or 0)

    def __hash__(self):
        return hash((self.type, self.index or 0))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"


CPU = device("cpu")


def placement(spec):
    """The device a tensor put on `spec` reports: plain "cuda" means the current GPU, cuda:0, and any CPU
    is the CPU (the one object CPU, so that ops compare devices by identity), as in PyTorch."""
    placed = device(spec)
    if placed.type == "cpu":
        return CPU
    return device("cuda", 0) if placed.index is None else placed
