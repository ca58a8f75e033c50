"""Warnings journeysim emits, so that users can filter them by category."""

from __future__ import annotations

__all__ = ["InfiniteLifetimeWarning", "JourneyWarning"]


class JourneyWarning(UserWarning):
    """Base class of journeysim's warnings."""


class InfiniteLifetimeWarning(JourneyWarning):
    """Some customers can never reach an absorbing stage: lifetimes (and
    undiscounted lifetime values) are infinite for them."""
