"""Grad mode: whether ops record on the tape (and whether tangents flow forward)."""
import functools


class _State:
    __slots__ = ("grad_enabled", "forward_ad_enabled", "inference_mode")

    def __init__(self):
        self.grad_enabled = True
        self.forward_ad_enabled = False  # True only while jvp() runs its function
        self.inference_mode = False


STATE = _State()


def is_grad_enabled():
    """True when new ops are recorded for backward."""
    return STATE.grad_enabled


class _GradModeGuard:
    """Sets grad mode to `mode` inside a with-block or a decorated function, then restores it."""

    def __init__(self, mode):
        self.mode = mode

    def __enter__(self):
        self.prev = STATE.grad_enabled
        STATE.grad_enabled = self.mode
        return self

    def __exit__(self, *exc):
        STATE.grad_enabled = self.prev
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _GradModeGuard(mode):
                return fn(*args, **kwargs)
        return wrapper


class _BareDecorator:
    """Lets a guard without arguments decorate a function with or without parentheses, as PyTorch's do."""

    def __new__(cls, function=None):
        if function is None:
            return super().__new__(cls)
        return cls()(function)


class no_grad(_BareDecorator, _GradModeGuard):
    """Context manager and decorator that stops recording."""

    def __init__(self):
        super().__init__(False)


class enable_grad(_BareDecorator, _GradModeGuard):
    """Context manager and decorator that turns recording back on (e.g. inside no_grad)."""

    def __init__(self):
        super().__init__(True)


class inference_mode(_GradModeGuard):
    """no_grad for inference (minigrad has no separate inference tensors): with mode=True nothing records and
    is_inference_mode_enabled() is True; with mode=False the grad mode is left as it is."""

    def __new__(cls, mode=True):
        if callable(mode):  # @inference_mode, without parentheses
            return cls(True)(mode)
        return super().__new__(cls)

    def __init__(self, mode=True):
        if not isinstance(mode, bool):
            raise TypeError(f"inference_mode: expected mode to be a bool, got {type(mode).__name__}")
        super().__init__(False if mode else None)

    def __enter__(self):
        self.prev = (STATE.grad_enabled, STATE.inference_mode)
        if self.mode is not None:
            STATE.grad_enabled, STATE.inference_mode = False, True
        return self

    def __exit__(self, *exc):
        STATE.grad_enabled, STATE.inference_mode = self.prev
        return False

    def __call__(self, fn):
        guard = self

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(guard)(guard.mode is not None):
                return fn(*args, **kwargs)
        return wrapper


def is_inference_mode_enabled():
    return STATE.inference_mode


class set_grad_enabled(_GradModeGuard):
    """Turn recording on or off: a plain call (it takes effect at once), a context manager and a decorator."""

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled: expected mode to be a bool, got {type(mode).__name__}")
        super().__init__(mode)
        self.prev = STATE.grad_enabled
        STATE.grad_enabled = mode

    def __enter__(self):
        STATE.grad_enabled = self.mode  # self.prev was saved by the call, before it switched
        return self

    def __call__(self, fn):
        STATE.grad_enabled = self.prev  # used as a decorator: undo the switch made by the call
        return super().__call__(fn)
