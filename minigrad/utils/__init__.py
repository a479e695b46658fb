"""torch.utils's layout: minigrad.utils.data holds minigrad.data's objects under torch.utils.data's names."""
from minigrad.utils import data

__all__ = ["data"]
