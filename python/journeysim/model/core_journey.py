"""The one place Python hands a journey to the core: a resolved journey becomes
the core's validated journey object, and comes back with the matrices, starts
and shares the core holds (normalised when asked); capacity rules become the
core's."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .._base.errors import InputError
from .._base.native import _core
from .._base.resolved import CapacityRule, Piece, ResolvedJourney

__all__ = ["build_core", "core_capacity", "normalised"]


def build_core(r: ResolvedJourney) -> _core.Journey:
    """The core's journey; its validation errors are InputErrors."""
    segments = []
    for seg in r.segments:
        streams = [
            (
                s,
                r.rates[s],
                [p.start for p in seg.values[s]],
                [p.value for p in seg.values[s]],
                seg.moves[s],
            )
            for s in r.streams
        ]
        segments.append(
            (
                seg.name,
                seg.share,
                [p.start for p in seg.transitions],
                [p.value for p in seg.transitions],
                streams,
                seg.start,
            )
        )
    absorbing = [-1] if r.absorbing == () else list(r.absorbing or [])
    try:
        return _core.Journey(
            list(r.stages),
            segments,
            absorbing,
            list(r.value_stages),
            list(r.weights),
            r.cohort_size,
            list(r.arrivals.amounts),
            r.arrivals.constant,
            r.normalize,
            r.tolerance,
        )
    except ValueError as err:
        raise InputError(str(err)) from None


def normalised(r: ResolvedJourney, core: _core.Journey) -> ResolvedJourney:
    """``r`` with the transitions, starts and shares the core holds."""
    segments = tuple(
        dataclasses.replace(
            seg,
            share=core.share(i),
            transitions=[
                Piece(t, np.array(m))
                for t, m in zip(core.transition_starts(i), core.transitions(i))
            ],
            start=np.array(core.start(i)),
        )
        for i, seg in enumerate(r.segments)
    )
    return dataclasses.replace(r, segments=segments, normalize=False)


def core_capacity(rules: Sequence[CapacityRule]) -> list:
    """The core's form of the capacity rules."""

    def end(b: int | None) -> int:
        return -1 if b is None else b

    return [
        (
            2**62 if rule.capacity is None else rule.capacity,
            [-1 if k is None else k for k in rule.rank],
            rule.window[0],
            end(rule.window[1]),
            rule.calendar[0],
            end(rule.calendar[1]),
            list(rule.touched),
            list(rule.fallback),
        )
        for rule in rules
    ]
