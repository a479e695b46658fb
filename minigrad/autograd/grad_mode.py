"""Grad mode: whether ops record on the tape (and whether tangents flow forward)."""
import functools


class _State:
    __slots__ = ("grad_enabled", "forward_ad_enabled")

    def __init__(self):
        self.grad_enabled = True
        self.forward_ad_enabled = False  # True only while jvp() runs its function


STATE = _State()


def is_grad_enabled():
    """True when new ops are recorded for backward."""
    return STATE.grad_enabled


class set_grad_enabled:
    """Turn recording on or off: a function call, a context manager and a decorator."""

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled: expected mode to be a bool, got {type(mode).__name__}")
        self.prev = STATE.grad_enabled
        self.mode = mode
        STATE.grad_enabled = mode

    def __enter__(self):
        STATE.grad_enabled = self.mode
        return self

    def __exit__(self, *exc):
        STATE.grad_enabled = self.prev
        return False

    def __call__(self, fn):
        STATE.grad_enabled = self.prev  # used as a decorator: undo the switch made in __init__
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


class _GradModeGuard:
    mode = True

    def __enter__(self):
        self.prev = STATE.grad_enabled
        STATE.grad_enabled = self.mode
        return self

    def __exit__(self, *exc):
        STATE.grad_enabled = self.prev
        return False

    def __call__(self, fn):
        guard_type = type(self)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with guard_type():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeGuard):
    """Context manager and decorator that stops recording."""
    mode = False


class enable_grad(_GradModeGuard):
    """Context manager and decorator that turns recording back on (e.g. inside no_grad)."""
    mode = True
