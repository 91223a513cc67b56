"""The exception types for mistakes a user can fix (bad path, unknown name, ...)."""

from __future__ import annotations

__all__ = ["InputError", "NotFittedError", "UserError"]  # noqa: F822  NotFittedError: made on first use (below)


class UserError(Exception):
    """A problem with the user's input; the CLI prints the message (which names the fix) and exits 2."""


class InputError(UserError, ValueError):
    """Bad data passed to the Python API (images, labels, class names): a ValueError too, as code
    written for scikit-learn expects."""


def __getattr__(name: str) -> type:
    """`NotFittedError`, made on first use: scikit-learn's `NotFittedError` (itself a ValueError and
    an AttributeError) when scikit-learn is installed, so `except NotFittedError` in sklearn code
    catches it, without importing scikit-learn (over a second) for every command; also a UserError."""
    if name != "NotFittedError":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from sklearn.exceptions import NotFittedError as base
    except ImportError:
        base = type("NotFittedError", (ValueError, AttributeError), {})
    error = type("NotFittedError", (UserError, base), {
        "__module__": __name__,
        "__doc__": "A method that needs a fitted estimator was called before `fit`."})
    globals()[name] = error
    return error
