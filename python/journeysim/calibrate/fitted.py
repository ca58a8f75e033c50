"""The results of a calibration: estimated transition probabilities with
their uncertainty (:class:`Fit`, :class:`GeneratorFit`), how well they describe
a log (:class:`FitCheck`), and the estimate itself from transition counts."""

from __future__ import annotations

import dataclasses
import numbers
import warnings
from typing import Any

import numpy as np
import pandas as pd

from .._base.errors import FitError
from .._base.native import _core, core_errors
from .._base.warnings import InfiniteLifetimeWarning
from ..model.journey import Journey
from ..view.display import table
from .counting import Counted, FitData, FitOptions, count_log, read_log

__all__ = ["DAYS", "Fit", "FitCheck", "GeneratorFit", "estimate"]


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

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}})
    >>> log = j.simulate(5_000, 24, seed=3, record="events").stage_log()
    >>> f = js.fit(log, stages=j.stages, absorbing=["churned"], end=24)
    >>> round(float(f.journey.transition_matrix.loc["active", "churned"]), 3)
    0.097
    >>> f.customers
    5000
    """

    def __init__(
        self,
        stages,
        counts,
        starts,
        alpha,
        pieces,
        segments,
        absorbing,
        customers,
        *,
        options: FitOptions,
        prior: np.ndarray,
        data: FitData | None = None,
    ):
        #: How the log was read (for check(holdout): the holdout is read alike).
        self.options = options
        #: The Dirichlet prior per transition (0 where impossible).
        self.prior = prior
        # The event arrays, for bootstrap intervals and check(); None when the
        # fit was computed on a cluster (they stay on the workers).
        self._data = data
        self.stages = list(stages)
        self._counts = counts  # G x P x S x S
        self._starts = starts  # G x S
        self._alpha = alpha  # G x P x S x S posterior Dirichlet parameters
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
        self.__dict__.update(state)
        self.journey = self._journey(self._mean())

    def _mean(self) -> np.ndarray:
        a = self._alpha
        tot = a.sum(axis=-1, keepdims=True)
        eye = np.broadcast_to(np.eye(len(self.stages)), a.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(tot > 0, a / np.where(tot > 0, tot, 1), eye)

    def _journey(self, P: np.ndarray) -> Journey:
        stages = self.stages
        start = self._starts.sum(axis=0)
        kwargs: dict[str, Any] = {
            "start": start / start.sum(),
            "absorbing": list(self.absorbing),  # [] means none (censored stays)
        }

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
        first = pieces(0)
        return Journey.from_matrix(
            first, stages=stages, segments=segs, absorbing=kwargs["absorbing"]
        )

    @property
    def counts(self) -> pd.DataFrame:
        idx = pd.Index(self.stages)
        frames = {}
        for g, seg in enumerate(self.segments):
            for p, t in enumerate(self.pieces):
                frames[(seg, t)] = pd.DataFrame(
                    self._counts[g, p],
                    index=idx.rename("from"),
                    columns=idx.rename("to"),
                )
        if len(frames) == 1:
            return next(iter(frames.values()))
        return pd.concat(frames, names=["segment", "tenure", "from"])

    def interval(
        self, level: float = 0.95, bootstrap: int | None = None, seed: int | None = None
    ) -> pd.DataFrame:
        """Equal-tailed interval of every transition probability: the Beta
        marginals of the Dirichlet posterior, or with ``bootstrap=B`` the
        quantiles of the estimates over B resamples of customers (with
        replacement, each with its whole history). Columns ``estimate``,
        ``low``, ``high``; rows (segment, tenure, from, to) where several."""
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
            alpha = _posterior(np.asarray(counts, dtype=float), self.prior, absorbing)
            tot = alpha.sum(axis=-1, keepdims=True)
            eye = np.broadcast_to(np.eye(S), alpha.shape)
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(np.where(tot > 0, alpha / np.where(tot > 0, tot, 1), eye))
        return np.array(out)

    def sample(self, n: int, seed: int | None = None) -> list[Journey]:
        """``n`` journeys drawn from the posterior (rows drawn independently
        from their Dirichlet distributions)."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise FitError(f"n must be a positive integer, got {n!r}")
        rng = np.random.default_rng(seed)
        out = []
        a = self._alpha
        for _ in range(int(n)):
            P = self._mean().copy()
            for idx in np.ndindex(a.shape[:3]):
                row = a[idx]
                pos = row > 0
                if pos.sum() > 1:
                    P[idx] = 0.0
                    P[idx][pos] = rng.dirichlet(row[pos])
            out.append(self._journey(P))
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
        iv = self.interval(0.95)
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
                    r["low"],
                    r["high"],
                ]
            )
        title = (
            f"Fit: {self.customers:,} customers, "
            f"{int(self._counts.sum()):,} transitions counted"
        )
        return table(["move", "estimate", "95% low", "95% high"], rows, title)

    def __repr__(self) -> str:
        n = int(self._counts.sum())
        return (
            f"<Fit: {len(self.stages)} stages, {self.customers:,} customers, "
            f"{n:,} transitions counted>"
        )


def _posterior(counts: np.ndarray, prior: np.ndarray, absorbing: list[int]):
    """Dirichlet parameters: counts plus the prior, a row never observed in a
    tenure piece borrowing its counts pooled over the pieces, absorbing rows
    fixed to stay."""
    pooled = counts.sum(axis=1, keepdims=True)
    empty = counts.sum(axis=-1, keepdims=True) == 0
    used = np.where(empty, np.broadcast_to(pooled, counts.shape), counts)
    alpha = used + prior
    # A row never observed in any piece stays put: the prior alone is no data.
    never = pooled.sum(axis=-1)[:, 0, :] == 0  # segments x stages
    for g, i in zip(*np.nonzero(never), strict=True):
        alpha[g, :, i, :] = 0.0
        alpha[g, :, i, i] = 1.0
    for i in absorbing:
        alpha[..., i, :] = 0.0
        alpha[..., i, i] = 1.0
    return alpha


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
    [0.81, 0.815]
    """

    def __init__(self, f: Fit, data: FitData, counts: np.ndarray) -> None:
        from scipy.stats import chi2

        S = len(f.stages)
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
        ax.set_xlabel("tenure (periods)")
        ax.set_ylabel("retention")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend()
        return ax


DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}


class GeneratorFit:
    """A continuous-time fit: transition rates from exact transition times, and
    the period matrix ``expm(Q * period)``.

    Attributes
    ----------
    generator : DataFrame
        Estimated rates Q (per unit of time): moves i -> j over the time at
        risk in i; rows sum to zero.
    exposure : Series
        Time at risk in each stage.
    counts : DataFrame
        Observed moves.
    journey : Journey
        The journey with the period matrix ``expm(Q * period)``.
    """

    def __init__(self, stages, counts, exposure, starts, absorbing, length, prior):
        self.stages = list(stages)
        self._n = counts
        self._r = exposure
        self._starts = starts
        self.absorbing = list(absorbing)
        self.length = float(length)
        self._prior = float(prior)
        idx = pd.Index(self.stages)
        self.counts = pd.DataFrame(
            counts, index=idx.rename("from"), columns=idx.rename("to")
        )
        self.exposure = pd.Series(exposure, index=idx.rename("stage"), name="exposure")
        Q = self._generator(counts.astype(float))
        self.generator = pd.DataFrame(
            Q, index=idx.rename("from"), columns=idx.rename("to")
        )
        self.journey = self._journey(Q)

    def __getstate__(self) -> dict:
        # The journey is rebuilt from the counts, as on construction.
        return {k: v for k, v in self.__dict__.items() if k != "journey"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.journey = self._journey(self._generator(self._n.astype(float)))

    def _generator(self, n: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            Q = np.where(self._r[:, None] > 0, n / self._r[:, None], 0.0)
        np.fill_diagonal(Q, 0.0)
        np.fill_diagonal(Q, -Q.sum(axis=1))
        return Q

    def _journey(self, Q: np.ndarray) -> Journey:
        from scipy.linalg import expm

        P = np.clip(expm(Q * self.length), 0.0, 1.0)
        P /= P.sum(axis=1, keepdims=True)
        start = self._starts / self._starts.sum()
        return Journey.from_matrix(
            P,
            stages=self.stages,
            start=start,
            absorbing=self.absorbing or None,
            normalize=True,
        )

    def _draw_generators(self, n: int, seed) -> list[np.ndarray]:
        # Gamma posterior of each rate: shape moves + prior, rate time at risk.
        rng = np.random.default_rng(seed)
        shape = self._n + self._prior
        np.fill_diagonal(shape, 0.0)
        out = []
        for _ in range(n):
            with np.errstate(invalid="ignore", divide="ignore"):
                rates = np.where(
                    (shape > 0) & (self._r[:, None] > 0),
                    rng.gamma(np.where(shape > 0, shape, 1.0))
                    / np.where(self._r[:, None] > 0, self._r[:, None], 1.0),
                    0.0,
                )
            np.fill_diagonal(rates, 0.0)
            np.fill_diagonal(rates, -rates.sum(axis=1))
            out.append(rates)
        return out

    def sample(self, n: int, seed: int | None = None) -> list[Journey]:
        """``n`` journeys from the posterior of the rates (Gamma, with the
        fit's prior pseudo-count on every move)."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise FitError(f"n must be a positive integer, got {n!r}")
        return [self._journey(Q) for Q in self._draw_generators(int(n), seed)]

    def interval(
        self, level: float = 0.95, draws: int = 2000, seed: int | None = 0
    ) -> pd.DataFrame:
        """Posterior interval of each period probability, from ``draws``
        posterior generators."""
        from scipy.linalg import expm

        if not (isinstance(level, numbers.Real) and 0 < level < 1):
            raise FitError(f"level must be in (0, 1), got {level!r}")
        mats = np.array(
            [expm(Q * self.length) for Q in self._draw_generators(draws, seed)]
        )
        lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
        index = pd.MultiIndex.from_product(
            [self.stages, self.stages], names=["from", "to"]
        )
        return pd.DataFrame(
            {
                "estimate": self.journey.transition_matrix.to_numpy().ravel(),
                "low": np.quantile(mats, lo, axis=0).ravel(),
                "high": np.quantile(mats, hi, axis=0).ravel(),
            },
            index=index,
        )

    def __repr__(self) -> str:
        return (
            f"<GeneratorFit: {len(self.stages)} stages, "
            f"{int(self._n.sum()):,} moves over {self._r.sum():,.1f} time at risk>"
        )


def estimate(
    counted: Counted,
    options: FitOptions,
    prior: Any,
    impossible: Any,
    *,
    keep_data: bool = True,
) -> Fit:
    """The Fit from transition counts (segments x pieces x stages x stages) and
    start counts: structural zeros, the prior, the posterior."""
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
        if not (np.isfinite(prior) and prior >= 0):
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
    alpha = _posterior(counts, prior_matrix, [stages.index(a) for a in absorbing])
    return Fit(
        stages,
        counts.astype(np.int64),
        np.asarray(counted.starts),
        alpha,
        counted.pieces,
        counted.segments,
        absorbing,
        counted.customers,
        options=dataclasses.replace(
            options, stages=tuple(stages), absorbing=tuple(absorbing) or None
        ),
        prior=prior_matrix,
        data=counted.data if keep_data else None,
    )
