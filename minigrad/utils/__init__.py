"""torch.utils-shaped aliases: minigrad.utils.data is minigrad.data."""
from minigrad import data

__all__ = ["data"]
