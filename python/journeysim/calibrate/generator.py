"""A continuous-time fit (:class:`GeneratorFit`): transition rates from exact
change times, and the period matrix ``expm(Q * period)``."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from .._base.checks import check_sample_size
from .._base.errors import FitError
from .._base.units import Units
from ..model.journey import Journey

__all__ = ["DAYS", "GeneratorFit"]

#: Days in a period of dates ("M" is a mean month).
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

    def __init__(
        self,
        stages,
        counts,
        exposure,
        starts,
        absorbing,
        length,
        prior,
        *,
        units: Units | None = None,
    ):
        self.stages = list(stages)
        # What the journey counts in (fit(time_unit=, currency=, ...)).
        self._units = Units() if units is None else units
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
        state.setdefault("_units", Units())  # pickled before fits had units
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
            time_unit=self._units.time_unit,
            currency=self._units.currency,
            locale=self._units.locale,
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
        n = check_sample_size(n)
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
