"""The journey as a Markov chain: classes, stationary distributions, first
passage, first returns, expected visits and absorption from every stage.

The analytics Markov-chain libraries (PyDTMC, R markovchain) offer, computed by
the core with subtraction-free eliminations (docs/algorithms.md). Hitting
probabilities and expected visits are for a customer at tenure 0 (they step
through a tenure-dependent journey's pieces) and mix the segments by their
shares; classes, stationary distributions and returns describe the long run
(the matrix in force from the last tenure break on) of one segment.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._base.checks import stage_index
from .._base.errors import InputError
from .._base.native import _core
from .._base.resolved import JourneyLike
from .._base.warnings import IllConditionedWarning

__all__ = [
    "CommunicatingClass",
    "classification",
    "communicating_classes",
    "expected_visits",
    "first_returns",
    "hitting_probabilities",
    "stationary_distribution",
]


@dataclass(frozen=True)
class CommunicatingClass:
    """Stages that can each reach the others.

    ``recurrent``: no way out (a finite chain's recurrent classes are its
    closed ones); otherwise every customer eventually leaves it for good.
    ``period``: the gcd of the cycle lengths through the class (1 aperiodic,
    0 for a stage on no cycle).
    """

    stages: tuple[str, ...]
    recurrent: bool
    period: int

    @property
    def name(self) -> str:
        return " + ".join(self.stages)


def communicating_classes(
    journey: JourneyLike, segment: str | None = None
) -> list[CommunicatingClass]:
    pos = journey.segment_position(segment)
    return [
        CommunicatingClass(
            tuple(journey.stages[i] for i in c.stages), bool(c.recurrent), int(c.period)
        )
        for c in _core.communicating_classes(journey.core, pos)
    ]


def classification(journey: JourneyLike, segment: str | None = None) -> pd.DataFrame:
    rows = []
    for k, c in enumerate(communicating_classes(journey, segment), start=1):
        for s in c.stages:
            rows.append((s, k, "recurrent" if c.recurrent else "transient", c.period))
    df = pd.DataFrame(rows, columns=["stage", "class", "kind", "period"])
    df["absorbing"] = df["stage"].isin(journey.absorbing)
    return df.set_index("stage").reindex(journey.stages)


def stationary_distribution(
    journey: JourneyLike, segment: str | None = None
) -> pd.DataFrame:
    pos = journey.segment_position(segment)
    names = [c.name for c in communicating_classes(journey, segment) if c.recurrent]
    pi = np.asarray(_core.stationary_distributions(journey.core, pos))
    return pd.DataFrame(
        pi,
        index=pd.Index(names, name="recurrent class"),
        columns=pd.Index(journey.stages, name="stage"),
    )


def _flags(journey: JourneyLike, names: Iterable[str], what: str) -> list[bool]:
    if isinstance(names, str):
        names = [names]
    flags = [False] * len(journey.stages)
    for n in names:
        flags[stage_index(journey.stages, n, what)] = True
    return flags


def _shares(journey: JourneyLike) -> list[tuple[int, float]]:
    return [(k, seg.share) for k, seg in enumerate(journey.resolved.segments)]


def hitting_probabilities(
    journey: JourneyLike, target: str | Iterable[str], avoid: str | Iterable[str] = ()
) -> pd.DataFrame:
    t = _flags(journey, target, "target")
    if not any(t):
        raise InputError("target: name at least one stage")
    a = _flags(journey, avoid, "avoid")
    both = [s for s, x, y in zip(journey.stages, t, a) if x and y]
    if both:
        raise InputError(f"stages {both} are both in target and in avoid")
    n = len(journey.stages)
    prob, missed, timed = np.zeros(n), np.zeros(n), np.zeros(n)
    for pos, share in _shares(journey):
        if share == 0:
            continue
        fp = _core.first_passage(journey.core, pos, t, a)
        if fp.warning:
            warnings.warn(fp.warning, IllConditionedWarning, stacklevel=3)
        h = np.asarray(fp.probability)
        prob += share * h
        missed += share * np.asarray(fp.missed)
        timed += share * np.where(h > 0, h * np.nan_to_num(fp.mean_time), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(prob > 0, timed / np.where(prob > 0, prob, 1), np.nan)
    return pd.DataFrame(
        {
            "probability": prob,
            "never": missed,
            "mean_periods": mean,
            "mean_periods_unconditional": np.where(missed > 0, np.inf, mean),
        },
        index=pd.Index(journey.stages, name="stage"),
    )


def first_returns(journey: JourneyLike, segment: str | None = None) -> pd.DataFrame:
    pos = journey.segment_position(segment)
    r = _core.first_returns(journey.core, pos)
    missed = np.asarray(r.missed)
    mean = np.asarray(r.mean_time)
    return pd.DataFrame(
        {
            "probability": np.asarray(r.probability),
            "never": missed,
            "mean_periods": mean,
            "mean_periods_unconditional": np.where(missed > 0, np.inf, mean),
        },
        index=pd.Index(journey.stages, name="stage"),
    )


def expected_visits(journey: JourneyLike) -> pd.DataFrame:
    keep = [i for i, s in enumerate(journey.stages) if s not in journey.absorbing]
    n = len(journey.stages)
    total = np.zeros((n, n))
    for pos, share in _shares(journey):
        if share > 0:
            w = np.asarray(_core.expected_visits(journey.core, pos))
            # 0 * inf is 0 here: a stage a segment cannot reach adds nothing.
            total += np.where(w == 0, 0.0, share * w)
    names = [journey.stages[i] for i in keep]
    return pd.DataFrame(
        total[np.ix_(keep, keep)],
        index=pd.Index(names, name="from"),
        columns=pd.Index(names, name="to"),
    )
