"""Warnings journeysim emits, so that users can filter them by category."""

from __future__ import annotations

__all__ = ["IllConditionedWarning", "InfiniteLifetimeWarning", "JourneyWarning"]


class JourneyWarning(UserWarning):
    """Base class of journeysim's warnings."""


class InfiniteLifetimeWarning(JourneyWarning):
    """Some customers can never reach an absorbing stage: lifetimes (and
    undiscounted lifetime values) are infinite for them."""


class IllConditionedWarning(JourneyWarning):
    """The fundamental matrix (I - Q) behind the whole-lifetime results is
    ill-conditioned (condition number above 1e12, named in the message):
    customers can circulate for a very long time before being absorbed, and
    results that rest on it may have lost precision (docs/reliability.md)."""
