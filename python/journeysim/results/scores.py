"""Scores by stage (NPS, CSAT, effort): what customers say, averaged over the
customers present, and the table that puts it beside what they do."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._base.errors import InputError
from .._base.units import Score, Units

__all__ = ["say_versus_do", "score_averages"]


def score_averages(occupancy: np.ndarray, scores: Sequence[Score]) -> np.ndarray:
    """Each score's average over the customers present in a stage that has
    it: ``occupancy`` (..., S) gives (..., len(scores)), nan where no one is in
    a scored stage. Neither discounted nor summed over time."""
    out = np.full((*occupancy.shape[:-1], len(scores)), np.nan)
    for k, sc in enumerate(scores):
        v = np.asarray(sc.values, dtype=float)
        has = ~np.isnan(v)
        weight = occupancy[..., has].sum(axis=-1)
        total = occupancy[..., has] @ v[has]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[..., k] = np.where(
                weight > 0, total / np.where(weight > 0, weight, 1), np.nan
            )
    return out


def say_versus_do(
    stages: Sequence[str],
    absorbing: np.ndarray,
    scores: Sequence[Score],
    leaving: np.ndarray,
    remaining: np.ndarray,
    units: Units,
) -> pd.DataFrame:
    """The table of :meth:`Analysis.say_versus_do` (see there)."""
    if not scores:
        raise InputError(
            "the journey has no scores to set beside what customers do: give it "
            "scores={'nps': {stage: number, ...}}",
            key=("scores",),
        )
    keep = np.flatnonzero(~absorbing)
    cols: dict[str, np.ndarray] = {
        sc.name: np.asarray(sc.values, dtype=float)[keep] for sc in scores
    }
    cols[f"chance of leaving per {units.time_unit}"] = leaving[keep]
    cols[f"expected remaining lifetime ({units.plural})"] = remaining[keep]
    return pd.DataFrame(cols, index=pd.Index([stages[i] for i in keep], name="stage"))


def mean_over_replications(a: np.ndarray) -> np.ndarray:
    """Mean over the first axis, leaving out replications where a score had
    no one to average (nan where none had)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=0)


def quantile_over_replications(a: np.ndarray, q: float) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanquantile(a, q, axis=0)
