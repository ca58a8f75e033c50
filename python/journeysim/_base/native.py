"""The compiled core, ``journeysim._core`` (bindings/), imported here for every
layer: one place where Python reaches the C++ library, and one import that the
layer contract treats as what it is (an import of a compiled module, not of
the package above).

The core reports bad input as ``ValueError`` (its ``std::invalid_argument``):
:func:`core_errors` turns those into journeysim's own
:class:`~journeysim._base.errors.InputError` (a ValueError too), so that every
deliberate error of the package is a ``JourneySimError``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .. import _core
from .errors import InputError

__all__ = ["_core", "core_errors"]


@contextmanager
def core_errors() -> Iterator[None]:
    """Core calls in the block raise InputErrors for bad input."""
    try:
        yield
    except InputError:
        raise
    except ValueError as err:
        raise InputError(str(err)) from None
