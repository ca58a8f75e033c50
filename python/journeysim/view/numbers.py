"""Numbers for people: plain numbers, money, percentages, percentage points and
durations, written by Babel in the journey's locale and currency. Never
scientific notation: very large numbers are written out (or compactly,
"$32.3M", for chart labels), very small ones as "≈0"."""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

import babel
import babel.numbers as bn
import numpy as np

from .._base.units import Units

__all__ = [
    "duration",
    "money",
    "number",
    "percent",
    "plain",
    "points",
    "superscript",
]

_DEFAULT = Units()
#: Below this size a number is written "≈0": a person reads it as nothing.
TINY = 1e-6
#: From this size whole numbers stop being written out digit by digit.
HUGE = 1e15
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def plain(x: Any) -> float | int | None:
    """``x`` as a Python int or float (numpy scalars included), or None when it
    is not a number. Booleans, numpy's included, are not numbers here."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        return None
    if isinstance(x, numbers.Integral):
        return int(x)
    return float(x)


def superscript(x: float, locale: str) -> str:
    """A number too large to write out: "1.235×10³⁰⁰"."""
    exp = math.floor(math.log10(abs(x)))
    mant = x / 10.0**exp
    power = str(exp).translate(_SUPERSCRIPT)
    return f"{bn.format_decimal(mant, '0.###', locale=locale)}×10{power}"


def _special(x: float) -> str | None:
    """NaN, the infinities and zero, written; None for any other number."""
    if not math.isfinite(x):
        return _not_finite(x, "∞")
    if x == 0:
        return "0"
    return None


def number(x: Any, units: Units = _DEFAULT, *, digits: int = 4) -> str:
    """A count or measure: thousands separators; whole numbers from 100 up,
    ``digits`` significant figures below; "≈0" below 1e-6."""
    v = plain(x)
    if v is None:
        return str(x)
    loc = units.locale
    if isinstance(v, int):
        return bn.format_decimal(v, "#,##0", locale=loc)
    s = _special(v)
    if s is not None:
        return s
    a = abs(v)
    if a >= HUGE:
        return superscript(v, loc)
    if a >= 100:
        return bn.format_decimal(round(v), "#,##0", locale=loc)
    if a < TINY:
        return "≈0"
    # `digits` significant figures, trailing zeros dropped.
    decimals = max(0, digits - 1 - math.floor(math.log10(a)))
    r = round(v, decimals)
    if r == 0:
        return "≈0"
    return bn.format_decimal(
        r, "#,##0." + "#" * decimals if decimals else "#,##0", locale=loc
    )


def money(
    x: Any, units: Units = _DEFAULT, *, compact: bool = False, cents: bool | None = None
) -> str:
    """An amount in the journey's currency ("$16,516", "−$1,250.50"); a plain
    number when it has none. ``compact`` for chart labels ("$32.3M").
    ``cents``: show two decimals (default: only below 100 in size)."""
    v = plain(x)
    if v is None:
        return str(x)
    v = float(v) + 0.0  # -0.0 is 0
    s = _special(v)
    if s is not None:
        return s if units.currency is None or s == "–" else _with_symbol(s, units)
    if units.currency is None:
        if compact and abs(v) >= 1e4:
            return bn.format_compact_decimal(v, locale=units.locale, fraction_digits=1)
        return number(v, units)
    if abs(v) >= HUGE:
        return _with_symbol(superscript(v, units.locale), units)
    if compact and abs(v) >= 1e4:
        return bn.format_compact_currency(
            v, units.currency, locale=units.locale, fraction_digits=1
        )
    show_cents = abs(v) < 100 if cents is None else cents
    if show_cents:
        return bn.format_currency(v, units.currency, locale=units.locale)
    # The locale's own pattern ("¤#,##0.00", "#,##0.00 ¤"), without decimals.
    pattern = babel.Locale.parse(units.locale).currency_formats["standard"].pattern
    whole = re.sub(r"\.0+", "", pattern.split(";")[0])
    return bn.format_currency(
        round(v), units.currency, whole, locale=units.locale, currency_digits=False
    )


def _with_symbol(text: str, units: Units) -> str:
    sym = bn.get_currency_symbol(units.currency, locale=units.locale)
    return f"−{sym}{text[1:]}" if text.startswith("−") else f"{sym}{text}"


def _not_finite(v: float, infinite: str) -> str:
    """NaN as "–", +inf as ``infinite``, -inf as "−∞"."""
    if math.isnan(v):
        return "–"
    return infinite if v > 0 else "−∞"


def percent(x: Any, units: Units = _DEFAULT, *, decimals: int = 1) -> str:
    """A share as a percentage: "86.2%"; "≈0%" for a positive share that rounds
    to nothing, "–" for NaN."""
    v = plain(x)
    if v is None:
        return str(x)
    v = float(v) + 0.0  # -0.0 is 0
    if not math.isfinite(v):
        return _not_finite(v, "∞")
    if abs(v) * 100 >= HUGE:
        return superscript(v * 100, units.locale) + "%"
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "") + "%"
    text = bn.format_percent(v, pattern, locale=units.locale)
    if v != 0 and round(abs(v) * 100, decimals) == 0:
        return "≈0%"
    return text


def points(x: Any, units: Units = _DEFAULT, *, decimals: int = 1) -> str:
    """A difference of two shares in percentage points, signed: "+0.7 pts",
    "-3.2 pts", "0.0 pts"; "≈0 pts" for a difference that rounds to nothing,
    "–" for NaN.

    Retention of 61.2% against 60.5% differs by 0.7 points; written "+0.7%" it
    reads as a relative change (0.7% of 60.5%), so differences of rates (and
    of any figure that is itself a share: NRR, GRR, probabilities) are written
    with this, and relative changes with :func:`percent`.

    Parameters
    ----------
    x : float
        The difference as a fraction (0.007 for 0.7 points).
    units : Units
        Whose locale writes the digits and the signs.
    decimals : int
        Decimals of a point (1 by default).

    Examples
    --------
    >>> from journeysim._base.units import Units
    >>> points(0.612 - 0.605)
    '+0.7 pts'
    >>> points(-0.0325, Units(locale="de_DE"))
    '-3,2 pts'
    """
    v = plain(x)
    if v is None:
        return str(x)
    v = float(v) + 0.0  # -0.0 is 0
    if math.isnan(v):
        return "–"
    loc = units.locale
    sign = bn.get_plus_sign_symbol(loc) if v > 0 else bn.get_minus_sign_symbol(loc)
    a = abs(v) * 100
    if math.isinf(a):
        return f"{sign}∞ pts"
    if a >= HUGE:
        return f"{sign}{superscript(a, loc)} pts"
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    r = round(a, decimals)
    if r == 0:  # no sign on nothing
        return "≈0 pts" if v else f"{bn.format_decimal(0, pattern, locale=loc)} pts"
    return f"{sign}{bn.format_decimal(r, pattern, locale=loc)} pts"


def duration(x: Any, units: Units = _DEFAULT, *, decimals: int = 1) -> str:
    """A length of time in the journey's unit: "30.2 months", "1 month",
    "never" for an infinite one."""
    v = plain(x)
    if v is None:
        return str(x)
    v = float(v) + 0.0  # -0.0 is 0
    if not math.isfinite(v):
        return _not_finite(v, "never")
    if abs(v) >= HUGE:
        return f"{superscript(v, units.locale)} {units.plural}"
    text = bn.format_decimal(
        round(v, decimals), "#,##0." + "#" * decimals, locale=units.locale
    )
    return f"{text} {units.time_unit if text == '1' else units.plural}"
