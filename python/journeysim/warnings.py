"""Warnings journeysim emits, so that users can filter them by category
(``journeysim.warnings.IllConditionedWarning``, ...). Defined in
:mod:`journeysim._base.warnings`, the bottom layer, where every layer can
raise them."""

from __future__ import annotations

from ._base.warnings import (
    IllConditionedWarning,
    InfiniteLifetimeWarning,
    JourneyWarning,
)

__all__ = ["IllConditionedWarning", "InfiniteLifetimeWarning", "JourneyWarning"]
