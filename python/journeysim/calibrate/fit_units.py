"""What a fitted journey counts in: the time unit of the log's periods (a
calendar period of dates says it: "M" is a month) or the one given, and the
currency and locale given, so that a fitted journey's summaries say "12
months" and "$16,516" rather than "12 periods" and "16516"."""

from __future__ import annotations

from typing import Any

from .._base.errors import InputError
from .._base.units import Units, check_units
from .windows import period_unit

__all__ = ["fit_units"]


def fit_units(
    period: Any, time_unit: Any = None, currency: Any = None, locale: Any = None
) -> Units:
    """The units of a journey fitted with ``period``.

    ``time_unit`` None: the unit of a calendar period of dates ("M" month, "W"
    week, "D" day), else "period" (integer times say nothing of the
    calendar). A ``time_unit`` given for a calendar period must be that
    period's unit: monthly rates called weekly would be wrong by a factor,
    silently. Bad values are an InputError naming the key (``time_unit``,
    ``currency``, ``locale``), checked as :class:`~journeysim.Journey` checks
    them.

    Examples
    --------
    >>> from journeysim.calibrate.fit_units import fit_units
    >>> fit_units("M")
    Units(time_unit='month', currency=None, locale='en_US')
    >>> fit_units(1, "quarter", "eur", "de_DE")
    Units(time_unit='quarter', currency='EUR', locale='de_DE')
    """
    calendar = period_unit(period)
    if time_unit is None:
        time_unit = calendar
    units = check_units(time_unit, currency, "en_US" if locale is None else locale)
    if calendar != "period" and units.time_unit != calendar:
        raise InputError(
            f"time_unit={time_unit!r} contradicts period={period!r}: the periods "
            f"are calendar {calendar}s, so the fitted rates are per {calendar}. "
            f"Leave time_unit out (it is {calendar!r}) or change period=",
            key=("time_unit",),
        )
    return units
