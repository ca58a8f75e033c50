"""The compiled core, ``journeysim._core`` (bindings/), imported here for every
layer: one place where Python reaches the C++ library, and one import that the
layer contract treats as what it is (an import of a compiled module, not of
the package above)."""

from __future__ import annotations

from .. import _core

__all__ = ["_core"]
