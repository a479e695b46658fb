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
        """The generator's state, a dict of ints that minigrad.save can store; set_state restores it."""
        return self._rng.bit_generator.state

    def set_state(self, new_state):
        if not isinstance(new_state, dict) or new_state.get("bit_generator") != "PCG64":
            raise TypeError(f"set_state: expected new_state to be a state from Generator.get_state() (a dict "
                            f"with bit_generator 'PCG64'), got {type(new_state).__name__}")
        self._rng.bit_generator.state = new_state
        return self

    @property
    def numpy(self):
        """The numpy generator (for data loaders and kernels that draw on the host)."""
        return self._rng


default_generator = Generator()


def manual_seed(seed):
    """Seed the default generator; returns it."""
    return default_generator.manual_seed(seed)


def get_rng_state():
    """The default generator's state (see Generator.get_state)."""
    return default_generator.get_state()


def set_rng_state(new_state):
    default_generator.set_state(new_state)


def seed():
    return default_generator.manual_seed(int(np.random.SeedSequence().entropy % (2 ** 63))).initial_seed()


def initial_seed():
    return default_generator.initial_seed()


DRAW_CHECKS = []  # called before every draw: vmap refuses one under randomness="error" (minigrad/_vmap.py)


def generator_or_default(generator):
    for check in DRAW_CHECKS:
        check()
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"generator: expected a minigrad.Generator, got {type(generator).__name__}")
    return generator
