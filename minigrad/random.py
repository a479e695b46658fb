"""The generator behind every random draw: `manual_seed(n)` makes them reproducible."""
import numpy as np


class Generator:
    """Wraps a numpy PCG64 generator; pass one as `generator=` or use the default."""

    def __init__(self, device="cpu"):
        self._seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed):
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"manual_seed: expected seed to be an int, got {type(seed).__name__}")
        self._seed = int(seed)
        self._rng = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def initial_seed(self):
        return self._seed

    def get_state(self):
        return self._rng.bit_generator.state

    def set_state(self, state):
        self._rng.bit_generator.state = state

    @property
    def numpy(self):
        """The numpy generator (for data loaders and kernels that draw on the host)."""
        return self._rng


default_generator = Generator()


def manual_seed(seed):
    """Seed the default generator; returns it."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.manual_seed(int(np.random.SeedSequence().entropy % (2 ** 63))).initial_seed()


def initial_seed():
    return default_generator.initial_seed()


def generator_or_default(generator):
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"generator: expected a minigrad.Generator, got {type(generator).__name__}")
    return generator
