"""The results of a discrete calibration: estimated transition probabilities
with their uncertainty (:class:`Fit`), how well they describe a log
(:class:`FitCheck`), and the estimate itself from transition counts (the
Dirichlet side in :mod:`.dirichlet`)."""

from __future__ import annotations

import dataclasses
import numbers
import warnings
from typing import Any

import numpy as np
import pandas as pd

from .._base.checks import check_sample_size, finite_number
from .._base.errors import FitError
from .._base.native import _core, core_errors
from .._base.units import Units
from .._base.warnings import InfiniteLifetimeWarning
from ..model.journey import Journey
from ..view.display import table
from . import dirichlet
from .counting import Counted, FitData, FitOptions, count_log, read_log
from .dirichlet import UNOBSERVED, Posterior
from .values import ValueEstimates, value_table

__all__ = ["Fit", "FitCheck", "estimate"]


class Fit:
    """Estimated transition probabilities with their uncertainty.

    Attributes
    ----------
    journey : Journey
        The estimated journey (posterior means; maximum likelihood when
        ``prior=0``), with the observed start distribution and, with a segment
        column, segments whose shares are their customers' shares.
    counts : DataFrame
        Observed transitions, labelled (from, to); by tenure piece and segment
        in a MultiIndex when there are several.
    standard_errors : DataFrame
        The standard error of each probability, laid out as ``counts``.
    unobserved : str
        What a row with no observed transition became ("stay", "uniform",
        "prior"; see :func:`journeysim.fit`).
    value_streams, score_names : tuple of str
        The value streams and scores estimated from the data
        (``fit(values=...)``); the journey carries them, and
        :meth:`value_summary` gives their intervals.

    Point estimates: :meth:`estimate` (``kind="mean"`` or ``"map"``); all of
    them with counts, standard errors and intervals: :meth:`summary`.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}})
    >>> log = j.simulate(5_000, 24, seed=3, record="events").stage_log()
    >>> f = js.fit(log, stages=j.stages, absorbing=["churned"], end=24)
    >>> round(float(f.journey.transition_matrix.loc["active", "churned"]), 3)
    0.098
    >>> f.customers
    5000
    """

    def __init__(
        self,
        stages,
        counts,
        starts,
        posterior: Posterior,
        pieces,
        segments,
        absorbing,
        customers,
        *,
        options: FitOptions,
        prior: np.ndarray,
        allowed: np.ndarray,
        unobserved: str = "stay",
        data: FitData | None = None,
        values: ValueEstimates | None = None,
        units: Units | None = None,
    ):
        #: How the log was read (for check(holdout): the holdout is read alike).
        self.options = options
        #: The Dirichlet prior per transition (0 where impossible).
        self.prior = prior
        self._allowed = allowed  # S x S: False where impossible
        self.unobserved = unobserved
        # The event arrays, for bootstrap intervals and check(); None when the
        # fit was computed on a cluster (they stay on the workers).
        self._data = data
        # Value streams and scores per stage measured on the same accounts
        # (fit(values=...)), or None.
        self._values = values
        # What the fitted journey counts in (fit(time_unit=, currency=, ...)).
        self._units = Units() if units is None else units
        self.stages = list(stages)
        self._counts = counts  # G x P x S x S
        self._starts = starts  # G x S
        self._alpha = posterior.alpha  # G x P x S x S Dirichlet parameters
        self._fixed = posterior.fixed  # G x P x S rows set, not estimated
        self.pieces = list(pieces)
        self.segments = list(segments)
        self.absorbing = list(absorbing)
        self.customers = int(customers)
        self.journey = self._journey(self._mean())

    def __getstate__(self) -> dict:
        # The journey is rebuilt from the estimates: the same computation as
        # on construction, so the same journey, and a smaller pickle.
        return {k: v for k, v in self.__dict__.items() if k != "journey"}

    def __setstate__(self, state: dict) -> None:
        if "_fixed" not in state:  # pickled before fixed rows were recorded
            a = state["_alpha"]
            state["_fixed"] = (a > 0).sum(axis=-1) == 1
            state["_allowed"] = np.ones(a.shape[-2:], dtype=bool)
            state["unobserved"] = "stay"
        state.setdefault("_values", None)  # pickled before values were fitted
        state.setdefault("_units", Units())  # pickled before fits had units
        self.__dict__.update(state)
        self.journey = self._journey(self._mean())

    @property
    def _posterior(self) -> Posterior:
        return Posterior(self._alpha, self._fixed)

    def _mean(self) -> np.ndarray:
        return dirichlet.mean(self._alpha)

    def _layout(self, values: np.ndarray) -> pd.DataFrame:
        """Segments x pieces x stages x stages values laid out as ``counts``."""
        idx = pd.Index(self.stages)
        frames = {
            (seg, t): pd.DataFrame(
                values[g, p], index=idx.rename("from"), columns=idx.rename("to")
            )
            for g, seg in enumerate(self.segments)
            for p, t in enumerate(self.pieces)
        }
        if len(frames) == 1:
            return next(iter(frames.values()))
        return pd.concat(frames, names=["segment", "tenure", "from"])

    def estimate(self, kind: str = "mean") -> pd.DataFrame:
        """The estimated transition probabilities, laid out as ``counts``.

        ``kind="mean"``: posterior means (the journey's matrices; maximum
        likelihood with ``prior=0``). ``kind="map"``: the maximum a posteriori
        estimate, the mode of each row's posterior Dirichlet(counts + prior):
        ``(n_ij + a_ij - 1) / (n_i + sum_j a_ij - K)`` when every parameter is
        at least 1, so with ``prior=1`` (a uniform prior) it is the maximum
        likelihood estimate. Moves whose parameter is at most 1 get 0 when
        others exceed 1 (the boundary where the density peaks); a row whose
        mode is not unique (no parameter above 1, e.g. one move of each of two
        kinds with ``prior=0``) is NaN. Fixed rows (absorbing, never observed)
        are the same in both.

        Examples
        --------
        >>> import journeysim as js, pandas as pd
        >>> log = pd.DataFrame({"customer": [1, 1, 2, 2, 3, 3],
        ...                     "period": [0, 1, 0, 1, 0, 1],
        ...                     "stage": ["a", "b", "a", "b", "a", "c"]})
        >>> f = js.fit(log, absorbing=["b", "c"], prior=1.0)
        >>> f.estimate("mean").loc["a"].round(3).tolist()
        [0.167, 0.5, 0.333]
        >>> f.estimate("map").loc["a"].round(3).tolist()
        [0.0, 0.667, 0.333]
        """
        if kind == "mean":
            return self._layout(self._mean())
        if kind == "map":
            return self._layout(dirichlet.mode(self._posterior))
        raise FitError(f"kind must be 'mean' or 'map', got {kind!r}")

    @property
    def standard_errors(self) -> pd.DataFrame:
        """The standard error of each transition probability, laid out as
        ``counts``: with ``prior=0`` the binomial ``sqrt(p (1 - p) / n)`` of the
        maximum likelihood estimate ``p`` from the row's ``n`` transitions;
        with a prior, the posterior standard deviation of the probability (the
        Beta marginal of the row's Dirichlet), ``sqrt(p (1 - p) / (A + 1))``
        with ``A`` the row's counts plus pseudo-counts. Fixed rows (absorbing,
        or never observed with ``unobserved="stay"`` or ``"uniform"``) are
        assumptions, not estimates: 0."""
        return self._layout(dirichlet.std_error(self._posterior, self.prior))

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Every transition with its count, the transitions counted from its
        stage (``row_count``), the posterior mean (``estimate``), the MAP
        (``map``), the standard error (``std_error``), the equal-tailed
        interval at ``level`` (``low``, ``high``) and whether the row is fixed
        rather than estimated (``fixed``). Rows (segment, tenure, from, to)
        where several, else (from, to)."""
        out = self.interval(level)
        n = self._counts
        flat = np.broadcast_to(n.sum(axis=-1, keepdims=True), n.shape)
        out.insert(0, "count", n.ravel())
        out.insert(1, "row_count", flat.ravel())
        post = self._posterior
        out.insert(3, "map", dirichlet.mode(post).ravel())
        out.insert(4, "std_error", dirichlet.std_error(post, self.prior).ravel())
        out["fixed"] = np.broadcast_to(post.fixed[..., None], n.shape).ravel()
        return out

    @property
    def value_streams(self) -> tuple[str, ...]:
        return (
            () if self._values is None else tuple(v.name for v in self._values.values)
        )

    @property
    def score_names(self) -> tuple[str, ...]:
        return (
            () if self._values is None else tuple(v.name for v in self._values.scores)
        )

    def value_summary(self, level: float = 0.95) -> pd.DataFrame:
        """Each value stream and score per stage, as estimated from the data
        (``fit(values=...)``): rows (name, stage); ``kind`` ("value" or
        "score"), ``column``, ``estimate`` (the mean per account-period),
        ``std_error`` (accounts as clusters), the Student t interval at
        ``level`` (``low``, ``high``; accounts - 1 degrees of freedom),
        ``accounts`` and ``periods`` (account-periods) it rests on, and
        ``fixed`` (set, not estimated: absorbing stages without rows, or
        ``unvalued="zero"``). See docs/fit_values.md.

        Examples
        --------
        >>> import journeysim as js, pandas as pd
        >>> log = pd.DataFrame({"customer": [1, 1, 2, 2], "period": [0, 1, 0, 1],
        ...                     "stage": ["a", "b", "a", "a"],
        ...                     "mrr": [100.0, 50.0, 120.0, 140.0]})
        >>> f = js.fit(log, kind="snapshots", value_columns={"revenue": "mrr"})
        >>> f.value_summary()["estimate"].tolist()
        [120.0, 50.0]
        """
        if self._values is None:
            raise FitError(
                "this fit has no values: fit with value_columns= (and values=) "
                "to estimate them"
            )
        return value_table(self._values, self.stages, level)

    def _journey(self, P: np.ndarray, values: ValueEstimates | None = None) -> Journey:
        stages = self.stages
        start = self._starts.sum(axis=0)
        units = self._units
        kwargs: dict[str, Any] = {
            "start": start / start.sum(),
            "absorbing": list(self.absorbing),  # [] means none (censored stays)
            "time_unit": units.time_unit,
            "currency": units.currency,
            "locale": units.locale,
        }
        values = self._values if values is None else values
        if values is not None:  # over all segments; each segment's own below
            kwargs.update(values.journey_kwargs(stages))

        def pieces(g: int):
            if len(self.pieces) == 1:
                return P[g, 0]
            return {t: P[g, p] for p, t in enumerate(self.pieces)}

        if len(self.segments) == 1:
            return Journey.from_matrix(pieces(0), stages=stages, **kwargs)
        shares = self._starts.sum(axis=1)
        segs = {
            name: {
                "share": float(shares[g] / shares.sum()),
                "transitions": pieces(g),
                "start": self._starts[g] / max(self._starts[g].sum(), 1),
            }
            for g, name in enumerate(self.segments)
        }
        for name, seg in segs.items():  # values measured per segment
            own = None if values is None else values.segment_values(name, stages)
            if own:
                seg["values"] = own
        first = pieces(0)
        kwargs.pop("start")
        return Journey.from_matrix(first, stages=stages, segments=segs, **kwargs)

    @property
    def counts(self) -> pd.DataFrame:
        return self._layout(self._counts)

    def interval(
        self, level: float = 0.95, bootstrap: int | None = None, seed: int | None = None
    ) -> pd.DataFrame:
        """Equal-tailed interval of every transition probability: the Beta
        marginals of the Dirichlet posterior, or with ``bootstrap=B`` the
        quantiles of the estimates over B resamples of customers (with
        replacement, each with its whole history). Columns ``estimate``,
        ``low``, ``high``; rows (segment, tenure, from, to) where several.
        A fixed row (absorbing, or never observed and set by ``unobserved``)
        is its value at both ends."""
        from scipy.special import betaincinv

        if not (isinstance(level, numbers.Real) and 0 < level < 1):
            raise FitError(f"level must be in (0, 1), got {level!r}")
        lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
        a = self._alpha
        if bootstrap is not None:
            if (
                isinstance(bootstrap, bool)
                or not isinstance(bootstrap, numbers.Integral)
                or bootstrap < 10
            ):
                raise FitError(f"bootstrap must be an integer >= 10, got {bootstrap!r}")
            boots = self._bootstrap(int(bootstrap), seed)
            low = np.quantile(boots, lo_q, axis=0)
            high = np.quantile(boots, hi_q, axis=0)
        else:
            b = a.sum(axis=-1, keepdims=True) - a
            with np.errstate(invalid="ignore"):
                low = np.where(a > 0, betaincinv(a, np.where(b > 0, b, 1), lo_q), 0.0)
                high = np.where(a > 0, betaincinv(a, np.where(b > 0, b, 1), hi_q), 0.0)
            low = np.where((a > 0) & (b == 0), 1.0, low)
            high = np.where((a > 0) & (b == 0), 1.0, high)
        mean = self._mean()
        fixed = np.broadcast_to(self._fixed[..., None], mean.shape)
        low, high = np.where(fixed, mean, low), np.where(fixed, mean, high)
        G, P = a.shape[:2]
        index = pd.MultiIndex.from_product(
            [self.segments, self.pieces, self.stages, self.stages],
            names=["segment", "tenure", "from", "to"],
        )
        out = pd.DataFrame(
            {"estimate": mean.ravel(), "low": low.ravel(), "high": high.ravel()},
            index=index,
        )
        if G == 1 and P == 1:
            out = out.droplevel(["segment", "tenure"])
        return out

    def _bootstrap(self, B: int, seed) -> np.ndarray:
        """Estimates (B x G x P x S x S) over resamples of whole customers."""
        d = self._needs_data("bootstrap intervals")
        cust = d.customer
        first = np.flatnonzero(np.r_[True, cust[1:] != cust[:-1]])
        lengths = np.diff(np.r_[first, len(cust)])
        n = len(first)
        rng = np.random.default_rng(seed)
        S, G = len(self.stages), len(self.segments)
        absorbing = [self.stages.index(a) for a in self.absorbing]
        flags = [i in absorbing for i in range(S)]
        out = []
        for _ in range(B):
            pick = rng.integers(0, n, n)
            size = lengths[pick]
            rows = np.repeat(first[pick], size) + (
                np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
            )
            new_ids = np.repeat(np.arange(n, dtype=np.int64), size)
            seg = None if d.segment is None else d.segment[rows]
            with core_errors():
                counts, _ = _core.count_transitions(
                    new_ids,
                    d.period[rows],
                    d.stage[rows],
                    seg,
                    S,
                    G,
                    self.pieces,
                    flags,
                    d.changes,
                    d.end,
                )
            post = self._estimate_rows(np.asarray(counts, dtype=float), absorbing)
            out.append(dirichlet.mean(post.alpha))
        return np.array(out)

    def _estimate_rows(self, counts: np.ndarray, absorbing: list[int]) -> Posterior:
        return dirichlet.posterior(
            counts,
            self.prior,
            self._allowed,
            absorbing,
            self.unobserved,
            self.stages,
            self.segments,
        )

    def sample(self, n: int, seed: int | None = None) -> list[Journey]:
        """``n`` journeys drawn from the posterior (rows drawn independently
        from their Dirichlet distributions). With values estimated from the
        data, each draw also draws every stage's value and score (estimate +
        standard error x Student t, stages and streams independently, from a
        stream of its own: the transitions drawn are those of the same fit
        without values)."""
        n = check_sample_size(n)
        rng = np.random.default_rng(seed)
        value_rng = rng.spawn(1)[0] if self._values is not None else None
        out = []
        a = self._alpha
        for _ in range(int(n)):
            P = self._mean().copy()
            for idx in np.ndindex(a.shape[:3]):
                if self._fixed[idx]:
                    continue  # an assumption, not an estimate: never drawn
                row = a[idx]
                pos = row > 0
                if pos.sum() > 1:
                    P[idx] = 0.0
                    P[idx][pos] = rng.dirichlet(row[pos])
            drawn = None if value_rng is None else self._values.draw(value_rng)
            out.append(self._journey(P, drawn))
        return out

    def _needs_data(self, what: str) -> FitData:
        if self._data is None:
            raise FitError(
                f"{what} needs the event arrays, which a fit computed on a cluster "
                "(client=) leaves on the workers: fit without client= for it"
            )
        return self._data

    def _free(self, alpha: np.ndarray) -> int:
        """Free parameters: per observed row, its possible moves less one."""
        possible = alpha > 0
        rows = possible.sum(axis=-1)
        return int(np.clip(rows - 1, 0, None)[self._counts.sum(axis=-1) > 0].sum())

    @property
    def log_likelihood(self) -> float:
        """Log-likelihood of the counted transitions under the estimates."""
        P = self._mean()
        n = self._counts
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(n > 0, n * np.log(np.where(P > 0, P, 1.0)), 0.0)
        if ((n > 0) & (P <= 0)).any():
            return float("-inf")
        return float(terms.sum())

    @property
    def aic(self) -> float:
        """Akaike information criterion: 2 free parameters - 2 log-likelihood."""
        return 2 * self._free(self._alpha) - 2 * self.log_likelihood

    def tenure_test(self) -> pd.Series:
        """Likelihood-ratio test of whether transitions differ across the tenure
        pieces (against one matrix for all tenures): statistic G2, degrees of
        freedom and p-value (chi-square)."""
        from scipy.stats import chi2

        if len(self.pieces) < 2:
            raise FitError("tenure_test needs a fit with tenure pieces (tenure=...)")
        n = self._counts.astype(float)
        pooled = n.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            p_piece = n / n.sum(axis=-1, keepdims=True)
            p_pool = pooled / pooled.sum(axis=-1, keepdims=True)
            g2 = 2 * np.where(n > 0, n * np.log(p_piece / p_pool), 0.0).sum()
        observed = n.sum(axis=-1) > 0  # G x P x S rows seen
        possible = (pooled > 0).sum(axis=-1)[:, 0, :]  # G x S
        df = int(
            sum(
                max(int(possible[g, i]) - 1, 0)
                * max(int(observed[g, :, i].sum()) - 1, 0)
                for g in range(n.shape[0])
                for i in range(n.shape[2])
            )
        )
        p = float(chi2.sf(g2, df)) if df > 0 else float("nan")
        return pd.Series({"G2": float(g2), "df": df, "p_value": p}, name="tenure test")

    def check(self, holdout: Any = None) -> FitCheck:
        """How well the fitted journey describes a log: its own, or ``holdout``
        (read with the same options as the fit).

        Returns a :class:`FitCheck` with observed against predicted occupancy
        and retention by tenure (customers observed at each tenure; censored
        customers drop out), the log-likelihood and AIC of the log's transitions
        under the fit, and a likelihood-ratio test of first-order against
        second-order Markov dynamics.
        """
        data = self._needs_data("check()") if holdout is None else None
        counts = self._counts
        if holdout is not None:
            options = dataclasses.replace(self.options, end=None)  # its own end
            other = count_log(read_log(holdout, options), options)
            if other.stages != self.stages:
                raise FitError("the holdout log has other stages than the fit")
            unknown = [g for g in other.segments if g not in self.segments]
            if unknown:
                raise FitError(
                    f"the holdout log has segments {unknown} the fit has not"
                )
            # Counts in the fit's segment order (segments missing there: zero).
            counts = np.zeros(self._counts.shape, dtype=np.int64)
            for k, g in enumerate(other.segments):
                counts[self.segments.index(g)] = other.counts[k]
            data = other.data
        return FitCheck(self, data, counts)

    def _repr_html_(self) -> str:
        iv = self.summary(0.95)
        rows = []
        for key, r in iv.iterrows():
            key = key if isinstance(key, tuple) else (key,)
            frm, to = key[-2], key[-1]
            if frm == to or r["estimate"] <= 0:
                continue
            rows.append(
                [
                    " ".join(str(k) for k in (*key[:-2], frm)) + f" → {to}",
                    r["estimate"],
                    r["map"],
                    r["std_error"],
                    r["low"],
                    r["high"],
                ]
            )
        title = (
            f"Fit: {self.customers:,} customers, "
            f"{int(self._counts.sum()):,} transitions counted"
        )
        return table(
            ["move", "estimate", "MAP", "std. error", "95% low", "95% high"],
            rows,
            title,
        )

    def __repr__(self) -> str:
        n = int(self._counts.sum())
        return (
            f"<Fit: {len(self.stages)} stages, {self.customers:,} customers, "
            f"{n:,} transitions counted>"
        )


def _sequences(data: FitData, n_stages: int):
    """Each customer's stage at each tenure it is observed: (customer, tenure,
    stage) arrays. Stage changes hold until the next change (or the end of the
    data); snapshots stand for their period only."""
    cust, period, stage = data.customer, data.period, data.stage
    first_row = np.ones(len(cust), dtype=bool)
    first_row[1:] = cust[1:] != cust[:-1]
    first = np.maximum.accumulate(np.where(first_row, np.arange(len(cust)), 0))
    tenure0 = period - period[first]
    if not data.changes:
        return cust, tenure0, stage
    nxt = np.empty_like(period)
    nxt[:-1] = period[1:]
    last_row = np.ones(len(cust), dtype=bool)
    last_row[:-1] = cust[1:] != cust[:-1]
    nxt[last_row] = data.end + 1
    span = nxt - period
    c = np.repeat(cust, span)
    st = np.repeat(stage, span)
    offsets = np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
    return c, np.repeat(tenure0, span) + offsets, st


class FitCheck:
    """Diagnostics of a :class:`Fit` against a log (see :meth:`Fit.check`).

    Attributes
    ----------
    occupancy : DataFrame
        By tenure: the observed share of customers in each stage (among those
        observed at that tenure) and the fitted journey's prediction.
    retention : DataFrame
        Observed and predicted share not in an absorbing stage, by tenure.
    log_likelihood, aic : float
        Of the log's transitions under the fitted probabilities.
    second_order : Series
        Likelihood-ratio test of first-order against second-order Markov: G2,
        degrees of freedom, p-value. A small p-value says the next stage depends
        on where the customer came from, not only on the current stage.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}})
    >>> log = j.simulate(5_000, 24, seed=3, record="events").stage_log()
    >>> check = js.fit(log, stages=j.stages, absorbing=["churned"], end=24).check()
    >>> check.retention.loc[2, ["observed", "predicted"]].round(3).tolist()
    [0.82, 0.814]
    """

    def __init__(self, f: Fit, data: FitData, counts: np.ndarray) -> None:
        from scipy.stats import chi2

        S = len(f.stages)
        #: What the fitted journey counts in (for labels).
        self.units = f.journey.units
        c, tau, st = _sequences(data, S)
        T = int(tau.max()) + 1
        observed = np.zeros((T, S))
        np.add.at(observed, (tau, st), 1.0)
        n_at = observed.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = observed / n_at[:, None]
        with warnings.catch_warnings():  # only occupancy is needed here
            warnings.simplefilter("ignore", InfiniteLifetimeWarning)
            a = f.journey.analyze(T - 1)
        predicted = a.occupancy.to_numpy()
        idx = pd.RangeIndex(T, name="tenure")
        self.occupancy = pd.concat(
            {
                "observed": pd.DataFrame(shares, index=idx, columns=f.stages),
                "predicted": pd.DataFrame(predicted, index=idx, columns=f.stages),
            },
            axis=1,
        )
        absorbing = [f.stages.index(s) for s in f.journey.absorbing]
        transient = [i for i in range(S) if i not in absorbing]
        self.retention = pd.DataFrame(
            {
                "observed": shares[:, transient].sum(axis=1),
                "predicted": predicted[:, transient].sum(axis=1),
                "customers": n_at,
            },
            index=idx,
        )
        P = f._mean()
        with np.errstate(divide="ignore"):
            logp = np.where(P > 0, np.log(np.where(P > 0, P, 1.0)), -np.inf)
        n = counts.astype(float)
        with np.errstate(invalid="ignore"):
            self.log_likelihood = float(np.where(n > 0, n * logp, 0.0).sum())
        self.aic = 2 * f._free(f._alpha) - 2 * self.log_likelihood
        # Second order: counts of (i, j, k) in consecutive tenures.
        ok = (c[2:] == c[:-2]) & (tau[2:] == tau[:-2] + 2) & (c[1:-1] == c[:-2])
        i, j, k = st[:-2][ok], st[1:-1][ok], st[2:][ok]
        keep = ~np.isin(j, absorbing)
        triples = (
            np.bincount((i[keep] * S + j[keep]) * S + k[keep], minlength=S**3)
            .reshape(S, S, S)
            .astype(float)
        )
        pairs = triples.sum(axis=0)  # j -> k, first order
        with np.errstate(invalid="ignore", divide="ignore"):
            p2 = triples / triples.sum(axis=2, keepdims=True)
            p1 = pairs / pairs.sum(axis=1, keepdims=True)
            g2 = 2 * np.where(triples > 0, triples * np.log(p2 / p1[None]), 0.0).sum()
        r = (pairs > 0).sum(axis=1)  # possible next stages from j
        seen = triples.sum(axis=2) > 0  # (i, j) observed
        df = int(
            sum(
                max(r[jj] - 1, 0) * max(int(seen[:, jj].sum()) - 1, 0)
                for jj in range(S)
            )
        )
        self.second_order = pd.Series(
            {
                "G2": float(g2),
                "df": df,
                "p_value": float(chi2.sf(g2, df)) if df > 0 else float("nan"),
            },
            name="first against second order",
        )

    def plot(self, ax=None):
        """Observed against predicted retention by tenure; returns the Axes."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(7, 4))
        r = self.retention
        ax.plot(r.index, r["observed"], "o", ms=4, label="observed")
        ax.plot(r.index, r["predicted"], "-", lw=2, label="fitted journey")
        ax.set_xlabel(f"tenure ({self.units.plural})")
        ax.set_ylabel("retention")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend()
        return ax


def estimate(
    counted: Counted,
    options: FitOptions,
    prior: Any,
    impossible: Any,
    *,
    unobserved: str = "stay",
    keep_data: bool = True,
    values: ValueEstimates | None = None,
    units: Units | None = None,
) -> Fit:
    """The Fit from transition counts (segments x pieces x stages x stages) and
    start counts: structural zeros, the prior, the posterior (rows never
    observed as ``unobserved`` says)."""
    if unobserved not in UNOBSERVED:
        raise FitError(
            f"unobserved must be one of {list(UNOBSERVED)}, got {unobserved!r}"
        )
    stages = counted.stages
    S = len(stages)
    counts = np.asarray(counted.counts, dtype=float)
    allowed = np.ones((S, S), dtype=bool)
    for frm, to in impossible:
        if frm not in stages or to not in stages:
            raise FitError(f"impossible: unknown stage in {(frm, to)!r}")
        allowed[stages.index(frm), stages.index(to)] = False
    if (counts[..., ~allowed] > 0).any():
        i, j = np.argwhere((counts > 0)[..., :, :].any(axis=(0, 1)) & ~allowed)[0]
        raise FitError(
            f"impossible transition {stages[i]!r} -> {stages[j]!r} is in the log"
        )
    if isinstance(prior, numbers.Real) and not isinstance(prior, bool):
        if not (finite_number(prior) and prior >= 0):
            raise FitError(f"prior must be finite and >= 0, got {prior}")
        alpha_prior = np.full((S, S), float(prior))
    else:
        alpha_prior = np.asarray(prior, dtype=float)
        if (
            alpha_prior.shape != (S, S)
            or not np.isfinite(alpha_prior).all()
            or (alpha_prior < 0).any()
        ):
            raise FitError(f"prior must be a number or a ({S}, {S}) array >= 0")
    prior_matrix = np.where(allowed, alpha_prior, 0.0)
    absorbing = counted.absorbing
    post = dirichlet.posterior(
        counts,
        prior_matrix,
        allowed,
        [stages.index(a) for a in absorbing],
        unobserved,
        stages,
        counted.segments,
    )
    return Fit(
        stages,
        counts.astype(np.int64),
        np.asarray(counted.starts),
        post,
        counted.pieces,
        counted.segments,
        absorbing,
        counted.customers,
        options=dataclasses.replace(
            options, stages=tuple(stages), absorbing=tuple(absorbing) or None
        ),
        prior=prior_matrix,
        allowed=allowed,
        unobserved=unobserved,
        data=counted.data if keep_data else None,
        values=values,
        units=units,
    )
