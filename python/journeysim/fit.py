"""Calibrating a journey from an event log: transition counts (in the core),
maximum likelihood and Dirichlet posterior estimates with their uncertainty."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import _core
from .journey import Journey
from .warnings import InfiniteLifetimeWarning

__all__ = ["Fit", "FitCheck", "GeneratorFit", "fit"]

PERIODS = {"M": "M", "W": "W", "D": "D"}


def _read(events: Any, columns: list[str]) -> pd.DataFrame:
    if isinstance(events, pd.DataFrame):
        return events
    from .partitions import is_dask_frame, partition_paths

    if is_dask_frame(events):
        return events[columns].compute()
    paths = partition_paths(events)
    if paths is not None:  # several files: one log, in the files' sorted order
        frames = [_read(path, columns) for path in paths]
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if isinstance(events, str | Path):
        path = Path(events)
        if not path.exists():
            raise ValueError(f"events file {str(path)!r} does not exist")
        # Checked as read (_eventlog): each problem named with file and location.
        from . import _eventlog

        time = columns[1] if len(columns) > 1 else None
        if path.suffix.lower() in (".parquet", ".pq"):
            return _eventlog.read_parquet(path, columns, time)
        if path.suffix.lower() == ".csv":
            return _eventlog.read_csv(path, columns, time)
        raise ValueError(f"events file {str(path)!r}: expected .csv or .parquet")
    try:
        import pyarrow as pa

        if isinstance(events, pa.Table):
            return events.select(columns).to_pandas()
    except ImportError:  # pragma: no cover - pyarrow is optional
        pass
    raise ValueError(
        f"events must be a DataFrame, a pyarrow Table or a CSV/Parquet path, got "
        f"{type(events).__name__}"
    )


def _bucket(times: pd.Series, period: Any, column: str) -> np.ndarray:
    """Period index of each timestamp."""
    if isinstance(period, bool):
        raise ValueError(f"period must be 'M', 'W', 'D' or an integer, got {period!r}")
    if isinstance(period, numbers.Integral):
        if period <= 0:
            raise ValueError(f"period must be a positive integer, got {period}")
        if not pd.api.types.is_numeric_dtype(times):
            raise ValueError(
                f"column {column!r} must be numeric for period={period} "
                f"(got {times.dtype}); use 'M', 'W' or 'D' for dates"
            )
        return np.floor_divide(times.to_numpy(dtype=np.int64), int(period))
    if period not in PERIODS:
        raise ValueError(f"period must be 'M', 'W', 'D' or an integer, got {period!r}")
    if pd.api.types.is_numeric_dtype(times):
        raise ValueError(
            f"column {column!r} is numeric: period={period!r} needs dates "
            "(use an integer period for numeric times)"
        )
    try:
        stamps = pd.to_datetime(times)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"column {column!r} has values that are not dates: {err}"
        ) from None
    return stamps.dt.to_period(PERIODS[period]).array.asi8.astype(np.int64)


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
        self, stages, counts, starts, alpha, pieces, segments, absorbing, customers
    ):
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
            raise ValueError(f"level must be in (0, 1), got {level!r}")
        lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
        a = self._alpha
        if bootstrap is not None:
            if (
                isinstance(bootstrap, bool)
                or not isinstance(bootstrap, numbers.Integral)
                or bootstrap < 10
            ):
                raise ValueError(
                    f"bootstrap must be an integer >= 10, got {bootstrap!r}"
                )
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
        cust = d["customer"]
        first = np.flatnonzero(np.r_[True, cust[1:] != cust[:-1]])
        lengths = np.diff(np.r_[first, len(cust)])
        n = len(first)
        rng = np.random.default_rng(seed)
        S, G = len(self.stages), len(self.segments)
        flags = [i in d["absorbing"] for i in range(S)]
        out = []
        for _ in range(B):
            pick = rng.integers(0, n, n)
            size = lengths[pick]
            rows = np.repeat(first[pick], size) + (
                np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
            )
            new_ids = np.repeat(np.arange(n, dtype=np.int64), size)
            seg = None if d["segment"] is None else d["segment"][rows]
            counts, _ = _core.count_transitions(
                new_ids,
                d["period"][rows],
                d["stage"][rows],
                seg,
                S,
                G,
                self.pieces,
                flags,
                d["changes"],
                d["end"],
            )
            alpha = _posterior(
                np.asarray(counts, dtype=float), d["prior"], d["absorbing"]
            )
            tot = alpha.sum(axis=-1, keepdims=True)
            eye = np.broadcast_to(np.eye(S), alpha.shape)
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(np.where(tot > 0, alpha / np.where(tot > 0, tot, 1), eye))
        return np.array(out)

    def sample(self, n: int, seed: int | None = None) -> list[Journey]:
        """``n`` journeys drawn from the posterior (rows drawn independently
        from their Dirichlet distributions)."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
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

    def _needs_data(self, what: str) -> dict:
        if getattr(self, "_data", None) is None:
            raise ValueError(
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
            raise ValueError("tenure_test needs a fit with tenure pieces (tenure=...)")
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
            options = dict(self._options, end=None)  # the holdout's own end
            other = fit(holdout, **options)
            if other.stages != self.stages:
                raise ValueError("the holdout log has other stages than the fit")
            unknown = [g for g in other.segments if g not in self.segments]
            if unknown:
                raise ValueError(
                    f"the holdout log has segments {unknown} the fit has not"
                )
            # Counts in the fit's segment order (segments missing there: zero).
            counts = np.zeros(self._counts.shape, dtype=np.int64)
            for k, g in enumerate(other.segments):
                counts[self.segments.index(g)] = other._counts[k]
            data = other._data
        return FitCheck(self, data, counts)

    def _repr_html_(self) -> str:
        from .display import table

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


def _sequences(data: dict, n_stages: int):
    """Each customer's stage at each tenure it is observed: (customer, tenure,
    stage) arrays. Stage changes hold until the next change (or the end of the
    data); snapshots stand for their period only."""
    cust, period, stage = data["customer"], data["period"], data["stage"]
    first_row = np.ones(len(cust), dtype=bool)
    first_row[1:] = cust[1:] != cust[:-1]
    first = np.maximum.accumulate(np.where(first_row, np.arange(len(cust)), 0))
    tenure0 = period - period[first]
    if not data["changes"]:
        return cust, tenure0, stage
    nxt = np.empty_like(period)
    nxt[:-1] = period[1:]
    last_row = np.ones(len(cust), dtype=bool)
    last_row[:-1] = cust[1:] != cust[:-1]
    nxt[last_row] = data["end"] + 1
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

    def __init__(self, f: Fit, data: dict, counts: np.ndarray) -> None:
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
            raise ValueError(f"n must be a positive integer, got {n!r}")
        return [self._journey(Q) for Q in self._draw_generators(int(n), seed)]

    def interval(
        self, level: float = 0.95, draws: int = 2000, seed: int | None = 0
    ) -> pd.DataFrame:
        """Posterior interval of each period probability, from ``draws``
        posterior generators."""
        from scipy.linalg import expm

        if not (isinstance(level, numbers.Real) and 0 < level < 1):
            raise ValueError(f"level must be in (0, 1), got {level!r}")
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


def _fit_continuous(df, customer, time, stage, period, stages, absorbing, end, prior):
    times = df[time]
    if pd.api.types.is_numeric_dtype(times):
        t = times.to_numpy(dtype=float)
        if (
            isinstance(period, bool)
            or not isinstance(period, numbers.Real)
            or (period <= 0)
        ):
            raise ValueError(
                f"with numeric times, period must be a positive length, got {period!r}"
            )
        length = float(period)
        end_t = None if end is None else float(end)
    else:
        try:
            stamps = pd.to_datetime(times)
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"column {time!r} has values that are not dates: {err}"
            ) from None
        if period not in DAYS:
            raise ValueError(
                f"with dates, period must be 'M', 'W' or 'D', got {period!r}"
            )
        origin = stamps.min()
        t = ((stamps - origin).dt.total_seconds() / 86400.0).to_numpy()
        length = DAYS[period]
        end_t = (
            None
            if end is None
            else (pd.Timestamp(end) - origin).total_seconds() / 86400
        )
    S = len(stages)
    code = pd.Categorical(df[stage].astype(str), categories=stages).codes.astype(
        np.int64
    )
    cust = pd.factorize(df[customer])[0]
    order = np.lexsort((np.arange(len(df)), t, cust))
    cust, t, code = cust[order], t[order], code[order]
    end_t = float(t.max()) if end_t is None else end_t
    if end_t < t.max():
        raise ValueError("end is before the last time in the log")
    same = cust[1:] == cust[:-1]
    dt = (t[1:] - t[:-1])[same]
    frm, to = code[:-1][same], code[1:][same]
    absorbing_idx = [stages.index(a) for a in absorbing]
    at_risk = ~np.isin(frm, absorbing_idx)
    exposure = np.bincount(frm[at_risk], weights=dt[at_risk], minlength=S)
    moved = at_risk & (frm != to)
    counts = np.bincount(frm[moved] * S + to[moved], minlength=S * S).reshape(S, S)
    last = np.ones(len(cust), dtype=bool)
    last[:-1] = ~same
    tail = last & ~np.isin(code, absorbing_idx)
    exposure += np.bincount(code[tail], weights=end_t - t[tail], minlength=S)
    first = np.ones(len(cust), dtype=bool)
    first[1:] = ~same
    starts = np.bincount(code[first], minlength=S).astype(float)
    return GeneratorFit(stages, counts, exposure, starts, absorbing, length, prior)


def _estimate(
    counts, starts, stages, pieces, seg_names, absorbing, prior, impossible, customers
):
    """The Fit from transition counts (segments x pieces x stages x stages) and
    start counts: structural zeros, the prior, the posterior. Returns the Fit,
    the prior matrix and the absorbing stages' indices."""
    S = len(stages)
    counts = np.asarray(counts, dtype=float)
    allowed = np.ones((S, S), dtype=bool)
    for frm, to in impossible:
        if frm not in stages or to not in stages:
            raise ValueError(f"impossible: unknown stage in {(frm, to)!r}")
        allowed[stages.index(frm), stages.index(to)] = False
    if (counts[..., ~allowed] > 0).any():
        i, j = np.argwhere((counts > 0)[..., :, :].any(axis=(0, 1)) & ~allowed)[0]
        raise ValueError(
            f"impossible transition {stages[i]!r} -> {stages[j]!r} is in the log"
        )
    if isinstance(prior, numbers.Real) and not isinstance(prior, bool):
        if not (np.isfinite(prior) and prior >= 0):
            raise ValueError(f"prior must be finite and >= 0, got {prior}")
        alpha_prior = np.full((S, S), float(prior))
    else:
        alpha_prior = np.asarray(prior, dtype=float)
        if (
            alpha_prior.shape != (S, S)
            or not np.isfinite(alpha_prior).all()
            or (alpha_prior < 0).any()
        ):
            raise ValueError(f"prior must be a number or a ({S}, {S}) array >= 0")
    prior_matrix = np.where(allowed, alpha_prior, 0.0)
    absorbing_idx = [stages.index(a) for a in absorbing]
    alpha = _posterior(counts, prior_matrix, absorbing_idx)
    result = Fit(
        stages,
        counts.astype(np.int64),
        np.asarray(starts),
        alpha,
        pieces,
        seg_names,
        absorbing,
        customers,
    )
    return result, prior_matrix, absorbing_idx


def fit(
    events: Any,
    *,
    customer: str = "customer",
    time: str = "period",
    stage: str = "stage",
    period: str | int = 1,
    kind: str = "changes",
    stages: Sequence[str] | None = None,
    absorbing: Iterable[str] | None = None,
    segment: str | None = None,
    tenure: Sequence[int] | None = None,
    prior: float | np.ndarray = 0.0,
    impossible: Iterable[tuple[str, str]] = (),
    end: Any = None,
    model: str = "discrete",
    client: Any = None,
) -> Fit | GeneratorFit:
    """Estimate a journey's transition probabilities from an event log.

    Parameters
    ----------
    events : DataFrame, pyarrow Table, path(s) to CSV or Parquet files
        One row per observation: a customer, a time and a stage. Several files
        (a list of paths, a glob such as ``"events/*.parquet"`` or a
        directory) are one log, read in sorted order; so are the partitions
        of a dask DataFrame.
    customer, time, stage : str
        Column names.
    period : {"M", "W", "D"} or int
        How times are bucketed into periods: calendar months, weeks or days of
        dates, or integer times divided by this number.
    kind : {"changes", "snapshots"}
        "changes": each row says the customer moved to a stage at that time; the
        stage holds until the next row. "snapshots": each row is the stage
        observed in that period; only consecutive periods count (gaps are
        skipped). Several rows of a customer in one period: the last one, in
        time order then row order, is the stage of that period.
    stages : list of str, optional
        The stages, in order (default: as they appear, sorted). A stage in the
        log that is not in it is a ValueError.
    absorbing : list of str, optional
        Stages nobody leaves: their rows are not estimated.
    segment : str, optional
        A column with each customer's segment: one journey segment each.
    tenure : list of int, optional
        Tenure pieces to estimate separately, e.g. ``[0, 3]``.
    prior : float or array
        Dirichlet pseudo-counts added to every allowed transition (or a stages
        x stages array); 0 gives maximum likelihood. A row never observed in a
        tenure piece borrows its counts pooled over the pieces; a row never
        observed at all stays put.
    impossible : list of (from, to)
        Structural zeros: transitions that stay at probability zero.
    end : optional
        The time the data ends (default: the last time in the log). Customers
        still in a non-absorbing stage then are right-censored: they count as
        staying until ``end``, and no churn is invented.
    model : {"discrete", "continuous"}
        "continuous": times are exact (numbers, or dates in days); moves out of
        each stage over the time at risk there estimate a generator Q, and the
        period matrix is expm(Q * period), with ``period`` a length in the
        times' unit (or "M", "W", "D" for dates). Returns a
        :class:`GeneratorFit` (``kind`` must be "changes").
    client : dask.distributed.Client, optional
        Count on the cluster: every file (or dask partition) is read and its
        transitions counted in the core on a worker, and the counts are summed
        (they are additive). Customers whose events span partitions are found
        (by 64-bit hashes of their ids) and only their rows are shuffled, by
        customer, before counting. The result is identical to a fit in one
        process; partitioning by customer avoids the shuffle. The event
        arrays stay on the workers, so such a fit has no bootstrap intervals
        and no ``check()`` of its own log. The paths must be readable on the
        workers. Discrete model only.


    Examples
    --------
    >>> import journeysim as js
    >>> import pandas as pd
    >>> log = pd.DataFrame({
    ...     "account_id": [1, 1, 2, 2, 3],
    ...     "date": pd.to_datetime(["2025-01-05", "2025-02-10", "2025-01-20",
    ...                             "2025-03-02", "2025-01-11"]),
    ...     "stage": ["trial", "paying", "trial", "churned", "trial"],
    ... })
    >>> f = js.fit(log, customer="account_id", time="date", stage="stage",
    ...            period="M", absorbing=["churned"])
    >>> f.stages
    ['churned', 'paying', 'trial']
    >>> f.counts.loc["trial"].to_dict()
    {'churned': 1, 'paying': 1, 'trial': 3}
    """
    if kind not in ("changes", "snapshots"):
        raise ValueError(f"kind must be 'changes' or 'snapshots', got {kind!r}")
    if model not in ("discrete", "continuous"):
        raise ValueError(f"model must be 'discrete' or 'continuous', got {model!r}")
    if model == "continuous" and kind != "changes":
        raise ValueError("model='continuous' needs exact change times (kind='changes')")
    options = {
        "customer": customer,
        "time": time,
        "stage": stage,
        "period": period,
        "kind": kind,
        "stages": stages,
        "absorbing": absorbing,
        "segment": segment,
        "tenure": tenure,
        "end": end,
    }
    if client is not None:
        if model != "discrete":
            raise ValueError("client= fits the discrete model only")
        from .partitions import fit_partitions

        return fit_partitions(events, client, options, prior, impossible)
    cols = [customer, time, stage] + ([segment] if segment else [])
    df = _read(events, cols)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(
            f"the events have no column(s) {missing}; columns are {list(df.columns)}"
        )
    df = df[cols]
    if len(df) == 0:
        raise ValueError("the event log is empty")
    nulls = df.isna()
    if nulls.any().any():
        bad = df[nulls.any(axis=1)]
        raise ValueError(
            f"{len(bad)} rows have missing values, e.g. row {bad.index[0]!r}: "
            f"{bad.iloc[0].to_dict()}"
        )
    # Factorise once (hashing each value), then work with the few distinct names.
    raw, uniques = pd.factorize(df[stage])
    seen = [str(u) for u in uniques]
    if stages is None:
        stages = sorted(set(seen))
    else:
        stages = list(stages)
        bad_names = [u for u in seen if u not in stages]
        if bad_names:
            unknown = np.isin(raw, [seen.index(u) for u in bad_names])
            raise ValueError(
                f"{int(unknown.sum())} rows have stages not in stages=: "
                f"{sorted(bad_names)[:5]}, e.g. row {df.index[np.argmax(unknown)]!r}"
            )
    S = len(stages)
    code = np.array([stages.index(u) for u in seen], dtype=np.int32)[raw]
    if model == "continuous":
        absorbing = [] if absorbing is None else list(absorbing)
        for a in absorbing:
            if a not in stages:
                raise ValueError(
                    f"absorbing: unknown stage {a!r}; the stages are {stages}"
                )
        if (
            isinstance(prior, bool)
            or not isinstance(prior, numbers.Real)
            or not (np.isfinite(prior) and prior >= 0)
        ):
            raise ValueError(f"prior must be a finite number >= 0, got {prior!r}")
        for name, given in (
            ("segment", segment),
            ("tenure", tenure),
            ("impossible", list(impossible)),
        ):
            if given:
                raise ValueError(f"model='continuous' does not support {name}= yet")
        return _fit_continuous(
            df, customer, time, stage, period, stages, absorbing, end, prior
        )
    periods = _bucket(df[time], period, time)
    cust = pd.factorize(df[customer])[0].astype(np.int64)
    absorbing = [] if absorbing is None else list(absorbing)
    for a in absorbing:
        if a not in stages:
            raise ValueError(f"absorbing: unknown stage {a!r}; the stages are {stages}")
    if segment:
        seg_codes, seg_names = pd.factorize(df[segment], sort=True)
        seg_codes = seg_codes.astype(np.int32)
        seg_names = [str(s) for s in seg_names]
    else:
        seg_codes, seg_names = None, ["all"]
    pieces = [0] if tenure is None else sorted({0, *(int(t) for t in tenure)})
    # Sort by customer and period (stable: row order breaks ties), keep the last
    # row of each customer and period.
    # Within a period, rows in time order (then row order): the last one wins.
    raw_time = (
        df[time].to_numpy(dtype=float)
        if pd.api.types.is_numeric_dtype(df[time])
        else pd.to_datetime(df[time]).to_numpy("datetime64[ns]").view(np.int64)
    )
    order = np.lexsort((np.arange(len(df)), raw_time, periods, cust))
    cust, periods, code = cust[order], periods[order], code[order]
    if seg_codes is not None:
        seg_codes = seg_codes[order]
    last = np.ones(len(cust), dtype=bool)
    last[:-1] = (cust[1:] != cust[:-1]) | (periods[1:] != periods[:-1])
    cust, periods, code = cust[last], periods[last], code[last]
    if seg_codes is not None:
        seg_codes = seg_codes[last]
        change = (cust[1:] == cust[:-1]) & (seg_codes[1:] != seg_codes[:-1])
        if change.any():
            raise ValueError(
                f"{int(change.sum())} customers change segment within the log"
            )
    end_period = (
        int(periods.max())
        if end is None
        else int(_bucket(pd.Series([end]), period, "end")[0])
    )
    if end_period < int(periods.max()):
        raise ValueError("end is before the last time in the log")
    counts, starts = _core.count_transitions(
        cust,
        periods,
        code,
        seg_codes,
        S,
        len(seg_names),
        pieces,
        [s in absorbing for s in stages],
        kind == "changes",
        end_period,
    )
    result, prior_matrix, absorbing_idx = _estimate(
        counts,
        starts,
        stages,
        pieces,
        seg_names,
        absorbing,
        prior,
        impossible,
        int(cust.max()) + 1,  # factorised codes are 0 .. customers - 1
    )
    result._data = {
        "customer": cust,
        "period": periods,
        "stage": code,
        "segment": seg_codes,
        "changes": kind == "changes",
        "end": end_period,
        "prior": prior_matrix,
        "absorbing": absorbing_idx,
    }
    result._options = {
        "customer": customer,
        "time": time,
        "stage": stage,
        "period": period,
        "kind": kind,
        "stages": stages,
        "absorbing": absorbing or None,
        "segment": segment,
        "tenure": tenure,
        "end": end,
    }
    return result
