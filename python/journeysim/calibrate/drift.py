"""Drift: which transition rates moved over calendar time, by how much, how
sure we are, when the change started, and what it does to CLV and NRR.

Method (docs/monitoring.md). In every window each rate out of a
non-absorbing stage has a Beta posterior (the marginal of its row's
Dirichlet). Against a reference (a window, a period range, a fit, or a
journey taken as known), the change ``d = p_window - p_reference`` is drawn
by Monte Carlo; a transition is *flagged* in a window when
``P(|d| > threshold) >= probability``. When the change started is read from
Bayesian online change-point detection (Adams & MacKay 2007) on the
transition's per-period counts, with a Beta-Binomial model and a constant
hazard: the start of the most probable current run.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._base.errors import FitError
from .._base.warnings import InfiniteLifetimeWarning
from ..model.journey import Journey
from ..view.display import table
from ..view.numbers import money, percent, points
from . import dirichlet
from .fitted import Fit
from .windows import WindowCounts, labels, period_of

__all__ = ["Drift", "change_point", "drift"]


def change_point(
    k: np.ndarray, n: np.ndarray, hazard: float, a0: float = 0.5, b0: float = 0.5
) -> tuple[int | None, np.ndarray]:
    """Bayesian online change-point detection (Adams & MacKay 2007) on
    ``k[t]`` successes out of ``n[t]`` trials per period, with a
    Beta(a0, b0)-Binomial model within each run and a constant ``hazard``.

    Returns the index of the first period of the most probable current run
    at the last period (None when that run started with the data: no change),
    and the posterior of the run length at the last period."""
    # Loaded when used, like the rest of calibrate's scipy: not at import.
    from scipy.special import betaln

    T = len(k)
    log_r = np.array([0.0])  # log P(run length | data so far)
    a = np.array([a0])
    b = np.array([b0])
    lh, l1h = np.log(hazard), np.log1p(-hazard)
    for t in range(T):
        # Predictive of k[t] under each run length; the binomial coefficient is
        # the same for all of them and cancels.
        pred = betaln(a + k[t], b + n[t] - k[t]) - betaln(a, b)
        joint = log_r + pred
        grow = joint + l1h
        cp = np.logaddexp.reduce(joint + lh)
        log_r = np.r_[cp, grow]
        log_r -= np.logaddexp.reduce(log_r)
        a = np.r_[a0, a + k[t]]
        b = np.r_[b0, b + n[t] - k[t]]
    post = np.exp(log_r)
    # Run length r at the end: the current run holds the last r periods. Run
    # length T means no change within the data.
    r = int(np.argmax(post))
    if r >= T - 1:  # the run (near) spans the data: no change found
        return None, post
    return T - r, post


@dataclass(frozen=True)
class _Reference:
    """The reference rates: a Dirichlet posterior per row (``alpha``), or
    rates taken as known (``known``), and a name for people."""

    alpha: np.ndarray | None
    known: np.ndarray | None
    name: str


def _reference(wc: WindowCounts, reference: Any, model: Journey | None) -> _Reference:
    if reference is None:
        reference = 0
    if isinstance(reference, Journey):
        if reference.stages != wc.stages:
            raise FitError(
                f"reference has stages {reference.stages}, the log {wc.stages}"
            )
        segs = reference.resolved.segments
        if len(segs) != 1 or len(segs[0].transitions) != 1:
            raise FitError(
                "reference: a journey with one segment and one transition matrix "
                "(no tenure pieces) is needed"
            )
        return _Reference(None, reference.transition_matrix.to_numpy(), "the model")
    if isinstance(reference, Fit):
        if reference.stages != wc.stages:
            raise FitError(
                f"reference has stages {reference.stages}, the log {wc.stages}"
            )
        if reference._alpha.shape[:2] != (1, 1):
            raise FitError("reference: a fit with one segment and one tenure piece")
        return _Reference(reference._alpha[0, 0], None, "the reference fit")
    if isinstance(reference, numbers.Integral) and not isinstance(reference, bool):
        W = len(wc.counts)
        if not -W <= reference < W:
            raise FitError(f"reference window must be in 0 .. {W - 1}, got {reference}")
        w = int(reference) % W
        name = f"the window {_day(wc.windows.start[w])} – {_day(wc.windows.end[w])}"
        return _Reference(wc.posterior.alpha[w, 0], None, name)
    if isinstance(reference, tuple) and len(reference) == 2:
        a = period_of(reference[0], wc.period, "reference start")
        b = period_of(reference[1], wc.period, "reference end")
        a = max(a, wc.origin + 1)
        if b < a or b > wc.end:
            raise FitError(
                f"reference {reference!r} holds no period of the data "
                "(or ends after it)"
            )
        counts = wc.window_sum(a, b).astype(float)
        post = dirichlet.posterior(
            counts[None, None],
            wc.prior,
            wc.allowed,
            [wc.stages.index(s) for s in wc.absorbing],
            wc.unobserved,
            wc.stages,
            ["reference"],
        )
        name = (
            f"{_day(labels(np.array([a]), wc.period, False)[0])} – "
            f"{_day(labels(np.array([b]), wc.period, True)[0])}"
        )
        return _Reference(post.alpha[0, 0], None, name)
    raise FitError(
        "reference must be None (the first window), a window number, a Journey, a "
        f"Fit or a (start, end) pair, got {type(reference).__name__}"
    )


def _day(x: Any) -> str:
    return str(x.date()) if isinstance(x, pd.Timestamp) else f"{x:,.0f}"


def _beta_draws(alpha: np.ndarray, D: int, rng) -> np.ndarray:
    """Draws of every Beta marginal (D x ... x S): the rows' Dirichlet
    marginals; a move with no parameter is 0, a row's only move 1."""
    b = alpha.sum(axis=-1, keepdims=True) - alpha
    ok = (alpha > 0) & (b > 0)
    x = rng.beta(np.where(ok, alpha, 1.0), np.where(ok, b, 1.0), (D, *alpha.shape))
    return np.where(ok, x, np.where(alpha > 0, 1.0, 0.0))


class Drift:
    """Transitions whose rate moved (see :meth:`Monitor.drift`).

    Attributes
    ----------
    table : DataFrame
        One row per monitored move (from, to; staying excluded), most likely
        moved first: ``reference`` and ``current`` rate (posterior means),
        ``change`` (mean of current - reference), ``low``, ``high`` (its
        interval), ``probability`` (that it moved by more than the
        threshold), ``moved`` (flagged in the latest window),
        ``first_flagged`` (end of the first window it was flagged in, or
        NaT), ``started`` (first day of the change found by change-point
        detection, or NaT), and with a model ``clv_change`` and
        ``nrr_change`` (that move's current rate put into the model alone).
    by_window : DataFrame
        The probability of a change beyond the threshold for every window
        (rows) and move (columns "from → to").
    effect : Series or None
        With a model: CLV per customer and the first year's NRR of the
        model, and of the model with every flagged rate moved.
    moved : list of (from, to)
        The moves flagged in the latest window.
    """

    def __init__(self, table_, by_window, effect, sentences, threshold, units, ref):
        self.table = table_
        self.by_window = by_window
        self.effect = effect
        self.threshold = threshold
        self.units = units
        self.reference = ref
        self._sentences = sentences
        self.moved = [
            (r["from"], r["to"]) for _, r in table_[table_["moved"]].iterrows()
        ]

    def alerts(self) -> list[str]:
        """The flagged moves in words (an empty list: nothing moved)."""
        return list(self._sentences)

    def _repr_html_(self) -> str:
        t = self.table.head(10)
        rows = [
            [
                f"{r['from']} → {r['to']}",
                percent(r["reference"], self.units),
                percent(r["current"], self.units),
                percent(r["probability"], self.units),
                "yes" if r["moved"] else "",
            ]
            for _, r in t.iterrows()
        ]
        return table(
            ["move", "reference", "current", "P(moved)", "flagged"],
            rows,
            f"Drift against {self.reference}: {len(self.moved)} move(s) flagged",
        )

    def __repr__(self) -> str:
        return f"<Drift: {len(self.moved)} move(s) flagged against {self.reference}>"


def drift(
    wc: WindowCounts,
    model: Journey | None,
    *,
    reference: Any,
    threshold: float,
    probability: float,
    draws: int,
    seed: int,
    run_length: float,
    periods: int,
    level: float,
) -> Drift:
    """Which rates moved against the reference, window by window (see
    :meth:`Monitor.drift` for the arguments)."""
    for name, v, lo, hi in (
        ("threshold", threshold, 0.0, 1.0),
        ("probability", probability, 0.0, 1.0),
    ):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not lo < v < hi:
            raise FitError(f"{name} must be in ({lo:g}, {hi:g}), got {v!r}")
    if (
        isinstance(draws, bool)
        or not isinstance(draws, numbers.Integral)
        or draws < 100
    ):
        raise FitError(f"draws must be an integer >= 100, got {draws!r}")
    if not (isinstance(run_length, numbers.Real) and run_length > 1):
        raise FitError(f"run_length must be a number > 1, got {run_length!r}")
    ref = _reference(wc, reference, model)
    S = len(wc.stages)
    rng = np.random.default_rng(seed)
    alpha = wc.posterior.alpha[:, 0]  # W x S x S
    fixed = wc.posterior.fixed[:, 0]  # W x S
    now = _beta_draws(alpha, int(draws), rng)  # D x W x S x S
    if ref.known is not None:
        before = ref.known[None, None]
        ref_mean = ref.known
    else:
        before = _beta_draws(ref.alpha, int(draws), rng)[:, None]
        ref_mean = dirichlet.mean(ref.alpha)
    d = now - before
    prob = (np.abs(d) > threshold).mean(axis=0)  # W x S x S
    prob = np.where(fixed[..., None], 0.0, prob)  # a fixed row is no estimate
    transient = [i for i, s in enumerate(wc.stages) if s not in wc.absorbing]
    pairs = [
        (i, j)
        for i in transient
        for j in range(S)
        if j != i
        and wc.allowed[i, j]
        and (wc.counts[:, i, j].any() or (ref.known is not None and ref.known[i, j]))
    ]
    flagged = prob >= probability
    hazard = 1.0 / float(run_length)
    if ref.known is None:
        # Against data, a flag also needs a change point in the transition's
        # per-period counts up to the window's end: a difference between two
        # stretches of the same steady process is noise (few false alarms).
        for w, i, j in zip(*np.nonzero(flagged), strict=True):
            flagged[w, i, j] = _start(wc, i, j, wc.windows.last[w], hazard) is not None
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    last = len(alpha) - 1
    mean_now = dirichlet.mean(alpha[last])
    rows = []
    for i, j in pairs:
        series = flagged[:, i, j]
        first = int(np.argmax(series)) if series.any() else None
        none = pd.NaT if isinstance(wc.period, str) else np.nan
        started = none
        if flagged[last, i, j]:
            code = _start(wc, i, j, wc.end, hazard)
            if code is not None:
                started = labels(np.array([code]), wc.period, False)[0]
        dd = d[:, last, i, j]
        rows.append(
            {
                "from": wc.stages[i],
                "to": wc.stages[j],
                "reference": float(ref_mean[i, j]),
                "current": float(mean_now[i, j]),
                "change": float(dd.mean()),
                "low": float(np.quantile(dd, lo_q)),
                "high": float(np.quantile(dd, hi_q)),
                "probability": float(prob[last, i, j]),
                "moved": bool(flagged[last, i, j]),
                "first_flagged": none if first is None else wc.windows.end[first],
                "started": started,
            }
        )
    out = pd.DataFrame(rows)
    if not len(out):
        out = pd.DataFrame(
            columns=[
                "from",
                "to",
                "reference",
                "current",
                "change",
                "low",
                "high",
                "probability",
                "moved",
                "first_flagged",
                "started",
            ]
        )
    by_window = pd.DataFrame(
        {f"{wc.stages[i]} → {wc.stages[j]}": prob[:, i, j] for i, j in pairs},
        index=pd.Index(wc.windows.end, name="end"),
    )
    units = model.units if model is not None else wc.units
    effect = None
    if model is not None and len(out):
        out, effect = _effects(out, model, ref_mean, mean_now, wc.stages, periods)
    out = out.sort_values(
        ["moved", "probability"], ascending=[False, False], kind="stable"
    ).reset_index(drop=True)
    sentences = [
        _sentence(r, threshold, units, ref.name)
        for _, r in out[out["moved"]].iterrows()
    ]
    return Drift(out, by_window, effect, sentences, threshold, units, ref.name)


def _start(wc: WindowCounts, i: int, j: int, until: int, hazard: float) -> int | None:
    """The period the current run of rate i -> j started in (change-point
    detection on the moves into periods up to ``until``), None for none."""
    k = wc.by_period[: until - wc.origin, i, j]
    n = wc.by_period[: until - wc.origin, i].sum(axis=-1)
    seen = np.flatnonzero(n > 0)
    if len(seen) < 3:
        return None
    at, _ = change_point(k[seen[0] :], n[seen[0] :], hazard)
    # bin t holds the moves into period origin + t + 1
    return None if at is None else int(wc.origin + seen[0] + at + 1)


def _moved_matrix(P: np.ndarray, changes: list[tuple[int, int, float]]) -> np.ndarray:
    """``P`` with some rates set to new values, each row balanced on staying
    put (or, when that is not enough, on its other moves in proportion)."""
    Q = P.copy()
    for i, j, p in changes:
        Q[i, j] = p
    for i in {i for i, _, _ in changes}:
        others = [k for k in range(len(Q)) if k != i]
        excess = Q[i, others].sum() - 1.0
        Q[i, i] = -excess
        if Q[i, i] < 0:  # scale the other moves down to fit
            Q[i, others] /= Q[i, others].sum()
            Q[i, i] = 0.0
    return Q


def _figures(model: Journey, periods: int) -> tuple[float, float]:
    """CLV per customer and NRR over the first year-long span with revenue at
    its start (nan without revenue)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InfiniteLifetimeWarning)
        a = model.analyze(periods)
    stream = a.headline_stream()
    nrr = float("nan")
    if stream is not None and periods >= model.units.year:
        # The first year-long span with revenue at its start (a cohort that
        # starts in an unpaid onboarding stage has none at month 0).
        rr = a.revenue_retention(stream=stream, every=model.units.year)["nrr"]
        rr = rr[np.isfinite(rr.to_numpy(dtype=float))]
        nrr = float(rr.iloc[0]) if len(rr) else float("nan")
    return float(a.clv), nrr


def _effects(out, model, ref_mean, mean_now, stages, periods):
    """Each move's current rate put into the model alone, and all flagged
    ones together: the change in CLV per customer and first-year NRR."""
    segs = model.resolved.segments
    if len(segs) != 1 or len(segs[0].transitions) != 1 or model.stages != stages:
        return out, None  # a segmented or tenure-dependent model: not attempted
    P = model.transition_matrix.to_numpy()
    clv0, nrr0 = _figures(model, periods)
    clv, nrr = [], []
    index = {s: k for k, s in enumerate(stages)}
    for _, r in out.iterrows():
        i, j = index[r["from"]], index[r["to"]]
        m = _journey(model, _moved_matrix(P, [(i, j, r["current"])]), stages)
        c, n = _figures(m, periods)
        clv.append(c - clv0)
        nrr.append(n - nrr0)
    out = out.assign(clv_change=clv, nrr_change=nrr)
    moved = [
        (index[r["from"]], index[r["to"]], r["current"])
        for _, r in out[out["moved"]].iterrows()
    ]
    m = _journey(model, _moved_matrix(P, moved), stages) if moved else model
    c, n = _figures(m, periods)
    effect = pd.Series(
        {"clv": clv0, "clv_moved": c, "nrr": nrr0, "nrr_moved": n}, name="effect"
    )
    return out, effect


def _journey(model: Journey, P: np.ndarray, stages) -> Journey:
    return model.with_transitions(Journey.from_matrix(P, stages=stages))


def _sentence(r, threshold, units, ref_name) -> str:
    up = r["change"] > 0
    text = (
        f"{r['from']} → {r['to']} {'rose' if up else 'fell'} from "
        f"{percent(r['reference'], units)} to {percent(r['current'], units)} a "
        f"{units.time_unit} against {ref_name} ({points(r['change'], units)}; "
        f"interval {points(r['low'], units)} to {points(r['high'], units)}); "
        f"probability it moved by more than {points(threshold, units).lstrip('+')}: "
        f"{percent(r['probability'], units)}."
    )
    if not pd.isna(r["started"]):
        text += f" The change started around {_day(r['started'])}."
    if "clv_change" in r and not pd.isna(r["clv_change"]):
        text += (
            f" Alone, it changes CLV per customer by {money(r['clv_change'], units)}"
        )
        if not pd.isna(r["nrr_change"]):
            span = f"{units.year}-{units.time_unit}"  # "12-month" NRR
            text += f" and {span} NRR by {points(r['nrr_change'], units)}"
        text += "."
    return text
