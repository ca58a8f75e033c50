"""Where customers go: the expected flows between stages over a horizon, as a
tidy DataFrame and as a Sankey diagram (plotly, the ``journeysim[plotly]``
extra).

Flows are exact expectations, from the same time line as
:meth:`Journey.analyze`: in period ``k = 1..T`` a customer in stage ``i`` at
``t = k - 1`` moves to ``j`` with the probability of the matrix for tenure
``k - 1``. A *move* is ``i != j``; a *stay* (``i == j``) is a customer-period
spent in the same stage.
"""

from __future__ import annotations

import itertools
import math
import numbers
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._base.errors import InputError
from .._base.native import _core
from ..view.sankey import (
    COLORS,
    MOMENT_OUTLINE,
    PLAIN_OUTLINE,
    figure,
    number,
    plotly_objects,
    rgba,
)

if TYPE_CHECKING:
    import plotly.graph_objects

__all__ = ["flows", "sankey"]

#: Columns of the time-unrolled Sankey when ``step`` is not given, and at most.
DEFAULT_COLUMNS = 6
MAX_COLUMNS = 60


# -- flows --------------------------------------------------------------------


def _analysis(obj: Any, periods: int | None) -> Any:
    # A Journey (it analyses itself) or an Analysis, told apart by what they
    # do: this module sits below both (Analysis.sankey calls it).
    if callable(getattr(obj, "analyze", None)):
        return obj.analyze(36 if periods is None else periods)
    if isinstance(getattr(obj, "raw", None), _core.Analysis):
        if periods is not None and periods != obj.periods:
            raise InputError(
                f"this analysis covers {obj.periods} periods, not {periods!r}: "
                "leave periods out, or pass the journey"
            )
        return obj
    raise InputError(f"expected a Journey or an Analysis, got {obj!r}")


class _Parts:
    """The segments that make up the flows asked for: core results, weights,
    tenure pieces, and the population scale."""

    def __init__(self, a: Any, segment: str | None) -> None:
        j = a.journey
        core = j.core
        n_seg = len(j.segments)
        results = list(a.raw.segments) if n_seg > 1 else [a.raw]
        if segment is None:
            self.index = list(range(n_seg))
            self.weights = [core.share(i) for i in self.index]
            self.result = a.raw
            self.scale = 1.0  # population share of what is shown
        else:
            if not isinstance(segment, str):
                raise InputError(f"segment must be a segment name, got {segment!r}")
            i = j.segment_position(segment)
            self.index, self.weights = [i], [1.0]
            self.result = results[i]
            self.scale = core.share(i)
        self.results = [results[i] for i in self.index]
        self.pieces = [
            (
                list(core.transition_starts(i)),
                [np.asarray(m) for m in core.transitions(i)],
            )
            for i in self.index
        ]
        self.journey = j
        self.periods = a.periods
        self.n = len(j.stages)

    def _spans(self, starts: list[int], T: int):
        for k, t0 in enumerate(starts):
            t1 = starts[k + 1] if k + 1 < len(starts) else T
            lo, hi = min(t0, T), min(t1, T)
            if hi > lo:
                yield lo, hi, k

    def weighted(self, c: np.ndarray) -> np.ndarray:
        """``sum_k c_k f_k`` over periods k = 1..T, where ``f_k[i, j]`` is the
        expected customers (per customer of the cohort) in ``i`` at ``k - 1`` and
        in ``j`` at ``k``. O(T n) memory."""
        T, n = self.periods, self.n
        out = np.zeros((n, n))
        for w, r, (starts, mats) in zip(self.weights, self.results, self.pieces):
            occ = np.asarray(r.occupancy)
            for lo, hi, k in self._spans(starts, T):
                x = (c[lo:hi, None] * occ[lo:hi]).sum(axis=0)
                out += w * x[:, None] * mats[k]
        return out

    def per_period(self) -> np.ndarray:
        """``f_k`` for k = 1..T, shape (T, n, n)."""
        T, n = self.periods, self.n
        out = np.zeros((T, n, n))
        for w, r, (starts, mats) in zip(self.weights, self.results, self.pieces):
            occ = np.asarray(r.occupancy)
            for lo, hi, k in self._spans(starts, T):
                out[lo:hi] += w * occ[lo:hi, :, None] * mats[k][None]
        return out

    def joining(self) -> np.ndarray | None:
        """Customers joining at t = 0..T-1 (the cohort, then arrivals), or None
        without arrivals."""
        r = self.journey.resolved
        if not r.arrivals:
            return None
        arr = r.arrivals.per_period(self.periods)
        n0 = r.cohort_size
        return np.concatenate([[n0], arr[: self.periods - 1]]) * self.scale

    def snapshots(self, times: list[int]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Occupancy at ``times`` (per customer) and, between consecutive times
        a < b, the expected customers in ``i`` at ``a`` and in ``j`` at ``b``."""
        n = self.n
        occ = np.zeros((len(times), n))
        joints = [np.zeros((n, n)) for _ in times[1:]]
        for w, r, (starts, mats) in zip(self.weights, self.results, self.pieces):
            o = np.asarray(r.occupancy)
            occ += w * o[times]
            for m, (a, b) in enumerate(itertools.pairwise(times)):
                M = np.eye(n)
                for k, t0 in enumerate(starts):
                    t1 = starts[k + 1] if k + 1 < len(starts) else b
                    lo, hi = max(a, t0), min(b, t1)
                    if hi > lo:
                        M = M @ np.linalg.matrix_power(mats[k], hi - lo)
                joints[m] += w * o[a][:, None] * M
        return occ, joints


def _check_by(by: Any) -> str:
    if not isinstance(by, str) or by not in ("stage", "period"):
        raise InputError(f"by must be 'stage' or 'period', got {by!r}")
    return by


def _check_bool(x: Any, what: str) -> bool:
    if not isinstance(x, (bool, np.bool_)):
        raise InputError(f"{what} must be True or False, got {x!r}")
    return bool(x)


def _stage_totals(p: _Parts) -> tuple[np.ndarray, np.ndarray]:
    """Per customer and population expected moves (off the diagonal) and stays
    (on it) over the horizon."""
    T = p.periods
    share = p.weighted(np.ones(T))
    # Moves as the core counts them; stays from the matrices' diagonals.
    moves = np.asarray(p.result.flows, dtype=float).copy()
    np.fill_diagonal(moves, np.diag(share))
    share = moves
    w = p.joining()
    if w is None:
        customers = share * p.journey.resolved.cohort_size * p.scale
    else:
        # A cohort joining at s moves in periods s+1..T: weight of tenure
        # period k is the customers who joined by T - k.
        customers = p.weighted(np.cumsum(w)[::-1])
    return share, customers


def _period_flows(p: _Parts) -> tuple[np.ndarray, np.ndarray]:
    f = p.per_period()
    w = p.joining()
    if w is None:
        return f, f * (p.journey.resolved.cohort_size * p.scale)
    T = p.periods
    pop = np.zeros_like(f)
    for i, j in zip(*np.nonzero(f.any(axis=0))):
        # Calendar period k: the cohort joined at s is in its tenure period k - s.
        pop[:, i, j] = np.convolve(w, f[:, i, j])[:T]
    return f, pop


def flows(
    journey_or_analysis: Any,
    periods: int | None = None,
    *,
    segment: str | None = None,
    by: str = "stage",
    stay: bool = False,
) -> pd.DataFrame:
    """Expected customer moves between stages over the horizon, exactly.

    Parameters
    ----------
    journey_or_analysis : Journey or Analysis
        A journey (analysed over ``periods``) or an exact analysis.
    periods : int, optional
        Horizon for a journey (default 36); for an analysis, its own (leave it
        out or pass the same).
    segment : str, optional
        One segment's flows (per customer of that segment, and its share of
        the population); default: all customers.
    by : {"stage", "period"}
        ``"stage"``: one row per ``(from, to)``, summed over periods
        1..periods. ``"period"``: one row per ``(period, from, to)``, the moves
        in each period (calendar period for ``customers``, which for the
        starting cohort is its tenure period + 1).
    stay : bool, default False
        Also list stays (``from == to``): customer-periods that start and end
        in the same stage, absorbing stages included. With stays, the rows of a
        stage sum to the periods spent in it, ``occupancy[0:periods].sum()``.

    Returns
    -------
    DataFrame
        Columns ``from``, ``to``, ``customers`` and ``share`` (with
        ``by="period"``, ``period`` first); only rows with a positive flow, in
        stage order. ``share`` is the expected number of such moves per
        customer of the starting cohort (the share of the cohort that makes the
        move, when no one makes it twice): ``Analysis.flows`` in long form.
        ``customers`` is the expected number of moves in the population: the
        cohort size times ``share``, plus the journey's arrivals, each cohort on
        its own tenure clock (``Analysis.population_entries`` summed over
        ``from``).

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["a", "b", "c"], {"a": {"b": 0.5}, "b": {"c": 0.25}})
    >>> js.flows(j, periods=3)
      from to  customers    share
    0    a  b    0.87500  0.87500
    1    b  c    0.28125  0.28125
    >>> f = js.flows(j, periods=3, stay=True)
    >>> f.groupby("from")["share"].sum().round(6).to_dict()
    {'a': 1.75, 'b': 1.125, 'c': 0.125}
    """
    a = _analysis(journey_or_analysis, periods)
    by = _check_by(by)
    stay = _check_bool(stay, "stay")
    p = _Parts(a, segment)
    stages = np.asarray(p.journey.stages, dtype=object)
    n = p.n
    keep_diag = np.ones((n, n), dtype=bool) if stay else ~np.eye(n, dtype=bool)
    if by == "stage":
        share, customers = _stage_totals(p)
        i, j = np.nonzero(keep_diag & ((share > 0) | (customers > 0)))
        return pd.DataFrame(
            {
                "from": stages[i],
                "to": stages[j],
                "customers": customers[i, j],
                "share": share[i, j],
            }
        )
    share, customers = _period_flows(p)
    k, i, j = np.nonzero(keep_diag[None] & ((share > 0) | (customers > 0)))
    return pd.DataFrame(
        {
            "period": k + 1,
            "from": stages[i],
            "to": stages[j],
            "customers": customers[k, i, j],
            "share": share[k, i, j],
        }
    )


# -- Sankey -------------------------------------------------------------------


def _layers(journey) -> dict[str, int]:
    """Columns of a journey map: distance (in moves) from the start stages over
    every move possible in some tenure piece of some segment; absorbing stages
    in a last column, stages never reached in the first."""
    stages = journey.stages
    n = len(stages)
    core = journey.core
    possible = np.zeros((n, n), dtype=bool)
    start = np.zeros(n)
    for i in range(len(journey.segments)):
        start += np.asarray(core.start(i))
        for m in core.transitions(i):
            possible |= np.asarray(m) > 0
    np.fill_diagonal(possible, False)
    absorbing = np.asarray(core.absorbing, dtype=bool)
    dist = np.full(n, -1)
    frontier = [k for k in range(n) if start[k] > 0]
    dist[frontier] = 0
    d = 0
    while frontier:
        d += 1
        nxt = [j for i in frontier for j in np.nonzero(possible[i])[0] if dist[j] < 0]
        nxt = list(dict.fromkeys(int(j) for j in nxt))
        dist[nxt] = d
        frontier = nxt
    dist[dist < 0] = 0
    last = int(dist[~absorbing].max()) + 1 if (~absorbing).any() else 0
    dist[absorbing] = last
    return {s: int(dist[k]) for k, s in enumerate(stages)}


def _stage_style(journey) -> dict[str, tuple[str, str, float]]:
    """Per stage: fill colour, outline colour and outline width."""
    absorbing = set(journey.absorbing)
    value = set(journey.value_stages)
    moments = {m for m in journey.flagged_moments if isinstance(m, str)}
    out = {}
    for s in journey.stages:
        if s in absorbing:
            fill = COLORS["absorbing"]
        elif s in value:
            fill = COLORS["value"]
        elif s in moments:
            fill = COLORS["moment"]
        else:
            fill = COLORS["transient"]
        line = MOMENT_OUTLINE if s in moments else PLAIN_OUTLINE
        out[s] = (fill, *line)
    return out


def _link_color(journey, frm: str, to: str, style, moments: bool = True) -> str:
    if moments and (frm, to) in journey.flagged_moments:
        return rgba(COLORS["moment"], 0.65)
    if to in journey.absorbing and frm != to:
        return rgba(COLORS["absorbing"], 0.4)
    return rgba(style[frm][0], 0.3)


def sankey(
    journey_or_analysis: Any,
    periods: int | None = None,
    *,
    segment: str | None = None,
    by: str = "stage",
    step: int | None = None,
    min_share: float = 0.005,
    stay: bool | None = None,
    title: str | None = None,
) -> plotly.graph_objects.Figure:
    """A Sankey diagram of where customers go over the horizon.

    Stages are nodes, laid out left to right like a journey map (columns by
    distance in moves from the start stages, absorbing stages last) and
    coloured: absorbing stages red, value stages green, stages flagged as
    moments of truth orange with a dark outline (the outline also marks a
    moment-of-truth stage that is a value or absorbing stage), others blue.
    Links are the exact expected flows (:func:`flows`); moves into absorbing
    stages are red, flagged ``(from, to)`` moments of truth orange (in the
    time-unrolled view only with ``step=1``, where a link is one move).
    Hovering a link shows its customers and the share of the cohort.

    Parameters
    ----------
    journey_or_analysis : Journey or Analysis
    periods : int, optional
        Horizon for a journey (default 36); for an analysis, its own.
    segment : str, optional
        One segment only (default: all customers).
    by : {"stage", "period"}
        ``"stage"``: one node per stage, links are the moves summed over the
        horizon (cycles such as at_risk -> adopting are drawn as loops back).
        ``"period"``: the starting cohort unrolled in time, one column per
        time ``t = 0, step, 2 step, ..., periods``; node ``(stage, t)`` is the
        customers in the stage at ``t`` and a link is the customers in one
        stage at ``t`` and in another (or the same) at the next column's
        time. Arrivals are not shown in this view.
    step : int, optional
        Periods between columns with ``by="period"`` (default: the horizon in
        about six steps; at most 60 columns).
    min_share : float, default 0.005
        Links carrying less than this share of the cohort are left out (and
        stages left without links).
    stay : bool, optional
        Draw stays: with ``by="stage"`` as loops on transient stages (their
        customer-periods, in the units of :func:`flows`; off by default), with
        ``by="period"`` as customers in the same stage in consecutive columns
        (on by default: without them the columns do not add up).
    title : str, optional
        Default: the journey's name and the horizon.

    Returns
    -------
    plotly.graph_objects.Figure
        Not shown: display it in a notebook, ``fig.show()``, or embed it in a
        page with ``fig.to_html(include_plotlyjs="cdn", full_html=False)``
        (``include_plotlyjs=True`` inlines plotly.js for a self-contained file).

    Raises
    ------
    ImportError
        Without plotly (``pip install 'journeysim[plotly]'``).

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["a", "b", "c"], {"a": {"b": 0.5}, "b": {"c": 0.25}})
    >>> fig = js.sankey(j, periods=3)
    >>> list(fig.data[0].node.label)
    ['a', 'b', 'c']
    >>> [round(v, 5) for v in fig.data[0].link.value]
    [0.875, 0.28125]
    >>> html = fig.to_html(include_plotlyjs="cdn", full_html=False)
    >>> fig = js.sankey(j, periods=4, by="period", step=2)
    >>> list(fig.data[0].node.label)
    ['a', 'a', 'b', 'c', 'a', 'b', 'c']
    """
    go = plotly_objects()
    a = _analysis(journey_or_analysis, periods)
    by = _check_by(by)
    if stay is not None:
        stay = _check_bool(stay, "stay")
    if (
        isinstance(min_share, bool)
        or not isinstance(min_share, numbers.Real)
        or not (math.isfinite(min_share) and min_share >= 0)
    ):
        raise InputError(f"min_share must be a number >= 0, got {min_share!r}")
    if title is not None and not isinstance(title, str):
        raise InputError(f"title must be a string, got {title!r}")
    j = a.journey
    p = _Parts(a, segment)
    style = _stage_style(j)
    layer = _layers(j)
    order = sorted(j.stages, key=lambda s: (layer[s], j.stages.index(s)))
    name = j.name or "Journey"
    seg = f" (segment {segment})" if segment is not None else ""
    if by == "stage":
        if step is not None:
            raise InputError("step is for by='period'")
        title = title or f"{name}{seg}: customer flows over {a.periods} periods"
        return _by_stage(go, p, order, layer, style, min_share, bool(stay), title)
    T = a.periods
    if step is None:
        step = max(1, math.ceil(T / DEFAULT_COLUMNS))
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 1:
        raise InputError(f"step must be an integer >= 1, got {step!r}")
    if T == 0:
        raise InputError("by='period' needs a horizon of at least one period")
    times = [*range(0, T, int(step)), T]
    if len(times) > MAX_COLUMNS:
        raise InputError(
            f"{len(times)} columns with step={step} over {T} periods: at most "
            f"{MAX_COLUMNS}, take a larger step"
        )
    title = title or f"{name}{seg}: the cohort over {T} periods"
    return _by_period(go, p, order, style, times, min_share, stay is not False, title)


def _by_stage(go, p: _Parts, order, layer, style, min_share, stay, title):
    j = p.journey
    share, customers = _stage_totals(p)
    idx = {s: k for k, s in enumerate(j.stages)}
    absorbing = set(j.absorbing)
    raw = []
    for frm in order:
        for to in order:
            i, k = idx[frm], idx[to]
            if frm == to and (not stay or frm in absorbing):
                continue
            if share[i, k] <= 0 or share[i, k] < min_share:
                continue
            raw.append((frm, to, customers[i, k], share[i, k]))
    used = [s for s in order if any(s in (f, t) for f, t, _, _ in raw)]
    node = {s: k for k, s in enumerate(used)}
    links = []
    for frm, to, c, sh in raw:
        if frm == to:
            hover = (
                f"{frm} stays<br>{number(c)} customer-periods<br>"
                f"{sh:.3g} periods per customer of the cohort"
            )
        else:
            hover = f"{frm} → {to}<br>{number(c)} customers<br>{sh:.2%} of the cohort"
        links.append((node[frm], node[to], c, _link_color(j, frm, to, style), hover))
    moves = customers * ~np.eye(p.n, dtype=bool)
    node_text = []
    for s in used:
        k = idx[s]
        kind = "absorbing" if s in absorbing else "stage"
        node_text.append(
            f"{s} ({kind})<br>{number(moves[:, k].sum())} customers in, "
            f"{number(moves[k].sum())} out over the horizon"
        )
    n_columns = max((layer[s] for s in used), default=0) + 1
    columns = [layer[s] for s in used]
    # Columns without a stage left (filtered out) close up.
    present = sorted(set(columns))
    columns = [present.index(c) for c in columns]
    return figure(
        go,
        used,
        columns,
        [style[s] for s in used],
        node_text,
        links,
        title,
        len(present) or n_columns,
        [],
    )


def _by_period(go, p: _Parts, order, style, times, min_share, stay, title):
    j = p.journey
    occ, joints = p.snapshots(times)
    n0 = j.resolved.cohort_size * p.scale
    idx = {s: k for k, s in enumerate(j.stages)}
    raw = []
    for m in range(len(joints)):
        for frm in order:
            for to in order:
                sh = joints[m][idx[frm], idx[to]]
                if frm == to and not stay:
                    continue
                if sh <= 0 or sh < min_share:
                    continue
                raw.append((m, frm, to, sh))
    keys = sorted(
        {(m, f) for m, f, _, _ in raw} | {(m + 1, t) for m, _, t, _ in raw},
        key=lambda ms: (ms[0], order.index(ms[1])),
    )
    node = {key: k for k, key in enumerate(keys)}
    links = []
    for m, frm, to, sh in raw:
        a, b = times[m], times[m + 1]
        what = f"{frm} at t={a}, {to} at t={b}"
        if frm == to:
            what = f"{frm} at t={a} and t={b}"
        hover = f"{what}<br>{number(sh * n0)} customers<br>{sh:.2%} of the cohort"
        links.append(
            (
                node[(m, frm)],
                node[(m + 1, to)],
                sh * n0,
                # A flagged move is a one-period move: only then is a link one.
                _link_color(j, frm, to, style, moments=b - a == 1),
                hover,
            )
        )
    node_text = [
        f"{s} at t={times[m]}<br>{number(occ[m, idx[s]] * n0)} customers<br>"
        f"{occ[m, idx[s]]:.2%} of the cohort"
        for m, s in keys
    ]
    n_columns = len(times)
    notes = [
        (0.001 + 0.998 * m / (n_columns - 1), f"t = {t}") for m, t in enumerate(times)
    ]
    return figure(
        go,
        [s for _, s in keys],
        [m for m, _ in keys],
        [style[s] for _, s in keys],
        node_text,
        links,
        title,
        n_columns,
        notes,
    )
