"""What a journey counts in: its time unit, currency and locale, and its
per-stage scores (NPS, CSAT, ...). Labels, tables, reports and the command line
read these so that every figure says "months" and "$", not "periods"."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import babel
import babel.numbers

from .errors import InputError

__all__ = ["TIME_UNITS", "Score", "Units", "check_scores", "check_units"]

#: The time units a journey may count in (singular, as the user writes them).
TIME_UNITS = ("period", "day", "week", "month", "quarter", "year")
#: Periods in a year by unit: the span of "annual" figures (NRR, GRR). A bare
#: "period" is read as a month, the common case.
_YEAR = {"period": 12, "day": 365, "week": 52, "month": 12, "quarter": 4, "year": 1}


@dataclass(frozen=True)
class Units:
    """A journey's time unit (one period of the chain), its currency (an ISO
    4217 code, or None for plain numbers) and the locale numbers are written
    in."""

    time_unit: str = "period"
    currency: str | None = None
    locale: str = "en_US"

    @property
    def year(self) -> int:
        """Periods in one year (12 for "period")."""
        return _YEAR[self.time_unit]

    @property
    def plural(self) -> str:
        return self.time_unit + "s"

    def periods(self, n: float) -> str:
        """``n`` with the unit: "1 month", "12 months"."""
        if isinstance(n, numbers.Integral) or float(n).is_integer():
            k = int(n)
            return f"{k:,} {self.time_unit if k == 1 else self.plural}"
        return f"{n:,.1f} {self.plural}"


@dataclass(frozen=True)
class Score:
    """A per-stage number (an NPS, a CSAT, an effort score) averaged over the
    customers present: ``values`` has one entry per stage, ``nan`` where the
    stage has no score (its customers are left out of the average)."""

    name: str
    values: tuple[float, ...]


def check_units(time_unit: object, currency: object, locale: object) -> Units:
    if time_unit not in TIME_UNITS:
        raise InputError(
            f"time_unit must be one of {', '.join(TIME_UNITS)}, got {time_unit!r}",
            key=("time_unit",),
        )
    if currency is not None:
        if not isinstance(currency, str) or not babel.numbers.is_currency(
            currency.upper()
        ):
            raise InputError(
                f"currency must be an ISO 4217 code such as 'USD' or 'EUR', got "
                f"{currency!r}",
                key=("currency",),
            )
        currency = currency.upper()
    if not isinstance(locale, str):
        raise InputError(
            f"locale must be a name such as 'en_US', got {locale!r}", key=("locale",)
        )
    try:
        babel.Locale.parse(locale)
    except (ValueError, babel.UnknownLocaleError):
        raise InputError(
            f"unknown locale {locale!r} (expected a name such as 'en_US' or 'de_DE')",
            key=("locale",),
        ) from None
    return Units(str(time_unit), currency, locale)


def check_scores(scores: object, stages: Sequence[str]) -> tuple[Score, ...]:
    """``{score: {stage: number}}`` as scores by stage index."""
    if scores is None:
        return ()
    if not isinstance(scores, Mapping):
        raise InputError(
            f"scores must be a dict {{score: {{stage: number}}}}, got {scores!r}",
            key=("scores",),
        )
    out = []
    for name, by_stage in scores.items():
        if not isinstance(name, str) or not name:
            raise InputError(
                f"a score's name must be a string, got {name!r}", key=("scores",)
            )
        if not isinstance(by_stage, Mapping) or not by_stage:
            raise InputError(
                f"score {name!r} must be a dict {{stage: number}} naming one or more "
                f"stages, got {by_stage!r}",
                key=("scores", name),
            )
        values = [math.nan] * len(stages)
        for stage, v in by_stage.items():
            if stage not in stages:
                raise InputError(
                    f"score {name!r}: unknown stage {stage!r}; the stages are "
                    f"{list(stages)}",
                    key=("scores", name, stage),
                )
            if (
                isinstance(v, bool)
                or not isinstance(v, numbers.Real)
                or not math.isfinite(v)
            ):
                raise InputError(
                    f"score {name!r} of stage {stage!r} must be a finite number, "
                    f"got {v!r}",
                    key=("scores", name, stage),
                )
            values[list(stages).index(stage)] = float(v)
        out.append(Score(name, tuple(values)))
    return tuple(out)
