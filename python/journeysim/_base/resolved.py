"""The resolved journey: the validated, index-based form of a journey that the
model builds once and every layer above the core reads by attribute.

A :class:`~journeysim.Journey` holds one :class:`ResolvedJourney` (with the
matrices, starts and shares as the core normalised them) next to its core
object; a plan's journey, a journey with other discount rates or with fitted
matrices is a new one made by :meth:`~journeysim.Journey.derive`. Nothing here
is mutated after it is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

from .conventions import TOLERANCE
from .units import Score, Units

if TYPE_CHECKING:
    from .native import _core

__all__ = [
    "Arrivals",
    "CapacityRule",
    "JourneyLike",
    "Piece",
    "ResolvedJourney",
    "Segment",
    "TeamBudget",
    "piece_at",
    "recut",
]


class Piece(NamedTuple):
    """One piece of a piecewise-in-tenure quantity: ``value`` applies from
    tenure ``start`` until the next piece's start."""

    start: int
    value: np.ndarray


def piece_at(pieces: Sequence[Piece], tenure: int) -> np.ndarray:
    """The value that applies at ``tenure`` (pieces in start order, the first
    from 0)."""
    for p in reversed(pieces):
        if p.start <= tenure:
            return p.value
    raise ValueError(f"no piece applies at tenure {tenure}")


def recut(pieces: Sequence[Piece], breaks: set[int]) -> list[Piece]:
    """The same pieces cut again at extra tenure ``breaks`` (copies, so that
    each new piece can be changed on its own)."""
    starts = sorted({p.start for p in pieces} | set(breaks))
    return [Piece(t, piece_at(pieces, t).copy()) for t in starts]


@dataclass(frozen=True)
class Arrivals:
    """New customers joining at t = 1, 2, ...: ``amounts[0]`` every period when
    ``constant``, else ``amounts`` for periods 1..len (none after). ``start``
    is the calendar period of t = 0 when they were given by signup date (a
    ``pandas.Period``: the first signup period), else None."""

    amounts: tuple[float, ...] = ()
    constant: bool = False
    start: Any = None

    def __bool__(self) -> bool:
        return bool(self.amounts)

    def per_period(self, periods: int) -> np.ndarray:
        """Expected customers joining at t = 1..periods."""
        a = np.zeros(periods)
        if self.amounts:
            if self.constant:
                a[:] = self.amounts[0]
            else:
                m = min(len(self.amounts), periods)
                a[:m] = self.amounts[:m]
        return a

    def total(self, periods: int) -> int:
        """Customers a simulation over ``periods`` may hold at most (fractional
        arrivals round up)."""
        if not self.amounts:
            return 0
        return int(np.ceil(self.per_period(periods)).sum())


@dataclass(frozen=True)
class Segment:
    """A sub-population: its share, transition pieces, value pieces per stream,
    amounts on moves per stream (None for none) and start distribution."""

    name: str
    share: float
    transitions: list[Piece]
    values: dict[str, list[Piece]]
    moves: dict[str, np.ndarray | None]
    start: np.ndarray


@dataclass(frozen=True)
class CapacityRule:
    """An intervention the simulation engine applies period by period, because
    it has a capacity (customers per period) or a calendar window.

    ``rank`` orders the from-stages (lower first; None for stages where the
    intervention does not act); ``window`` and ``calendar`` are half-open
    (a, b) with None for open-ended; per sub-population segment, ``touched``
    says whether it carries the intervention and ``fallback`` is the segment
    its customers move as when they are not treated."""

    intervention: str
    capacity: int | None
    rank: tuple[int | None, ...]
    window: tuple[int, int | None]
    calendar: tuple[int, int | None]
    touched: tuple[bool, ...]
    fallback: tuple[int, ...]
    #: The team that runs it, and that team's budget: customers it handles per
    #: period over all its rules, each customer once (None: no budget).
    team: str | None = None
    team_capacity: int | None = None


@dataclass(frozen=True)
class TeamBudget:
    """Customers a team can handle per period, shared by every intervention it
    runs (a journey's ``team_capacity``)."""

    team: str
    capacity: int


@dataclass(frozen=True)
class ResolvedJourney:
    """Everything the core needs to build a journey, by stage index.

    ``absorbing`` is None when the absorbing stages are detected (those that
    never leave), else the declared ones (empty: none at all). ``base`` is the
    journey's own transitions, values, moves and start before segments apply
    (what a model file writes segments against), when known."""

    stages: tuple[str, ...]
    streams: tuple[str, ...]
    segments: tuple[Segment, ...]
    rates: dict[str, float]
    weights: tuple[float, ...]
    absorbing: tuple[int, ...] | None
    value_stages: tuple[int, ...]
    arrivals: Arrivals
    cohort_size: float
    tolerance: float = TOLERANCE
    normalize: bool = False
    capacity: tuple[CapacityRule, ...] = ()
    #: Per team, customers it can handle per period (the journey's default for
    #: every plan; a plan's own ``capacity`` overrides it).
    team_capacity: tuple[TeamBudget, ...] = ()
    base: Segment | None = field(default=None, compare=False)
    #: Journey-map labels the math does not use: ``{stage: {owner, ...}}`` and
    #: the flagged moments of truth (stages and (from, to) pairs).
    metadata: dict[str, dict] = field(default_factory=dict)
    moments: tuple = ()
    #: What the journey counts in (time unit, currency, locale) and its
    #: per-stage scores: labels and averages, not part of the chain.
    units: Units = field(default_factory=Units)
    scores: tuple[Score, ...] = ()

    @property
    def segment_names(self) -> list[str]:
        return [s.name for s in self.segments]

    def owners(self) -> list[str | None]:
        """The team that owns each stage (None where the map names none)."""
        return [self.metadata.get(s, {}).get("owner") for s in self.stages]

    def start_distribution(self) -> np.ndarray:
        """The start distribution over stages, share-weighted over segments."""
        return sum(seg.share * seg.start for seg in self.segments)

    def freeze_arrays(self) -> None:
        """Make every array it holds read-only (they may be shared with the
        journeys derived from it)."""
        for seg in (*self.segments, *([self.base] if self.base is not None else [])):
            arrays = [p.value for p in seg.transitions]
            arrays += [p.value for pieces in seg.values.values() for p in pieces]
            arrays += [m for m in seg.moves.values() if m is not None]
            arrays.append(seg.start)
            for a in arrays:
                a.flags.writeable = False


class JourneyLike(Protocol):
    """What the results layer reads of a journey (a
    :class:`~journeysim.Journey`, passed in: results do not import the model)."""

    @property
    def stages(self) -> list[str]: ...
    @property
    def streams(self) -> list[str]: ...
    @property
    def segments(self) -> list[str]: ...
    @property
    def absorbing(self) -> list[str]: ...
    @property
    def value_stages(self) -> list[str]: ...
    @property
    def flagged_moments(self) -> list: ...
    @property
    def resolved(self) -> ResolvedJourney: ...
    @property
    def core(self) -> _core.Journey: ...
    def segment_position(self, segment: str | None) -> int: ...
    def owner(self, stage: str) -> str | None: ...
    def transition_matrices(self, segment: str | None = None) -> dict: ...
    def analyze(self, periods: int = 36, *, accrual: str = "start") -> Any: ...
