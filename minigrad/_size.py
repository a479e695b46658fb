"""Size: the tuple subclass that `Tensor.shape` returns."""


class Size(tuple):
    """A tensor shape: a tuple of ints that prints as ``minigrad.Size([2, 3])``."""

    def numel(self):
        count = 1
        for extent in self:
            count *= extent
        return count

    def __getitem__(self, key):
        item = tuple.__getitem__(self, key)
        return Size(item) if isinstance(key, slice) else item

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))

    def __repr__(self):
        return f"minigrad.Size({list(self)})"
