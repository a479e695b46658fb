"""Neural-network building blocks. `minigrad.nn.functional` holds the stateless functions."""
from minigrad.nn import functional

__all__ = ["functional"]
