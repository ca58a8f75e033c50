"""Facts about the machine that sizes work: memory available now.

One implementation, the core's (``bindings/memory.hpp``), so that the Python
checks and the C++ ones judge a request the same way."""

from __future__ import annotations

from .native import _core

__all__ = ["available_memory"]


def available_memory() -> int:
    """Bytes the system can still give without swapping (MemAvailable on Linux)."""
    return int(_core.available_memory())
