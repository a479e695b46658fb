"""Plain descriptions of op geometry that backends take as arguments."""


class ConvGeometry:
    """Sizes of a convolution, as (depth, height, width) triples: 1-d and 2-d put 1s in front.

    padding is the padding before each axis; the padding after it is implied by in_size/out_size
    (it differs from `padding` for padding='same' with an even kernel, and for output_padding).
    """
    __slots__ = ("kernel", "stride", "padding", "dilation", "groups", "in_size", "out_size")

    def __init__(self, kernel, stride, padding, dilation, groups, in_size, out_size):
        self.kernel, self.stride, self.padding, self.dilation = kernel, stride, padding, dilation
        self.groups, self.in_size, self.out_size = groups, in_size, out_size

    def __repr__(self):
        return "ConvGeometry(" + ", ".join(f"{k}={getattr(self, k)}" for k in self.__slots__) + ")"
