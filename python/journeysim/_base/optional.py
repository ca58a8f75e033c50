"""Optional dependencies (the extras of pyproject.toml): imported when a
feature needs them, with one message when they are missing that says what to
install, instead of a bare ModuleNotFoundError from deep inside a call."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingExtra", "optional"]


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message says which extra
    to install. An ImportError, as a failed import is."""


def optional(module: str, purpose: str, extra: str) -> ModuleType:
    """``import module``, or a MissingExtra: "{purpose} needs {package}, an
    optional extra: pip install 'journeysim[{extra}]'"."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        package = module.split(".")[0]
        raise MissingExtra(
            f"{purpose} needs {package}, an optional extra: "
            f"pip install 'journeysim[{extra}]'",
            name=package,
        ) from err
