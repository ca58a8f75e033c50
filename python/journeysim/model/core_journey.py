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

__all__ = ["build_core", "core_capacity", "normalised", "rule_teams"]


def build_core(r: ResolvedJourney) -> _core.Journey:
    """The core's journey; its validation errors are InputErrors."""
    segments = [
        _core.Segment(
            name=seg.name,
            share=seg.share,
            transition_starts=[p.start for p in seg.transitions],
            transitions=[p.value for p in seg.transitions],
            streams=[
                _core.ValueStream(
                    name=s,
                    discount_rate=r.rates[s],
                    value_starts=[p.start for p in seg.values[s]],
                    values=[p.value for p in seg.values[s]],
                    transition_values=seg.moves[s],
                )
                for s in r.streams
            ],
            start=seg.start,
        )
        for seg in r.segments
    ]
    spec = _core.JourneySpec(
        stages=list(r.stages),
        segments=segments,
        absorbing=None if r.absorbing is None else list(r.absorbing),
        value_stages=list(r.value_stages),
        net_weights=list(r.weights),
        cohort_size=r.cohort_size,
        arrivals=list(r.arrivals.amounts),
        arrivals_constant=r.arrivals.constant,
        normalize=r.normalize,
        tolerance=r.tolerance,
    )
    try:
        return _core.Journey(spec)
    except _core.JourneyError as err:
        raise InputError(str(err), key=_key(err)) from None


def _key(err: _core.JourneyError) -> tuple:
    """Where in a journey spec (a model file's ``journey:``) the core's error is:
    the segment it names, else the part (with the stream for values)."""
    if err.segment:
        return ("segments", err.segment)
    if err.stream and err.part in ("values", "transition_values"):
        return (err.part, err.stream)
    return () if err.part == "tolerance" else (err.part,)


def normalised(r: ResolvedJourney, core: _core.Journey) -> ResolvedJourney:
    """``r`` with the transitions, starts and shares the core holds (only
    ``normalize=True`` makes them differ from the ones it was given: then they
    are read back; a plan's or a fit's journey skips the copies)."""
    if not r.normalize:
        return r
    segments = tuple(
        dataclasses.replace(
            seg,
            share=held.share,
            transitions=[
                Piece(t, np.array(m))
                for t, m in zip(held.transition_starts, held.transitions, strict=True)
            ],
            start=np.array(held.start),
        )
        for seg, held in zip(r.segments, core.spec.segments, strict=True)
    )
    return dataclasses.replace(r, segments=segments, normalize=False)


def core_capacity(rules: Sequence[CapacityRule]) -> list[_core.CapacityRule]:
    """The core's form of the capacity rules (capacity None: a calendar window
    alone, no limit on customers); teams are numbered in the order they first
    appear (:func:`rule_teams`)."""
    teams = rule_teams(rules)
    return [
        _core.CapacityRule(
            capacity=rule.capacity,
            rank=list(rule.rank),
            window=rule.window,
            calendar=rule.calendar,
            touched=list(rule.touched),
            fallback=list(rule.fallback),
            team=-1 if rule.team is None else teams.index(rule.team),
            team_capacity=rule.team_capacity,
        )
        for rule in rules
    ]


def rule_teams(rules: Sequence[CapacityRule]) -> list[str]:
    """The teams of the capacity rules, in the order they first appear: the
    last axis of a simulation's ``team_handled``."""
    return list(dict.fromkeys(r.team for r in rules if r.team is not None))
