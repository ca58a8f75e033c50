"""Headline figures that know what they measure (a share, a time, money or a
plain number), so that a summary stays a Series of floats while its display
writes each one for people in the journey's units."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from .._base.units import Units
from ..view.numbers import duration, money, number, percent

__all__ = ["Figure", "Kind", "as_series", "as_text", "as_texts", "lines", "text_label"]


class Kind(enum.Enum):
    SHARE = "share"
    TIME = "time"
    MONEY = "money"
    NUMBER = "number"


@dataclass(frozen=True)
class Figure:
    """One headline figure: its label (with units), value and kind."""

    label: str
    value: float
    kind: Kind


def as_text(f: Figure, units: Units) -> str:
    """The value written for people: "86.2%", "30.2 months", "$16,516"."""
    if f.kind is Kind.SHARE:
        return percent(f.value, units)
    if f.kind is Kind.TIME:
        return duration(f.value, units)
    if f.kind is Kind.MONEY:
        return money(f.value, units)
    return number(f.value, units)


def as_series(figures: Iterable[Figure], name: str) -> pd.Series:
    return pd.Series({f.label: float(f.value) for f in figures}, name=name, dtype=float)


def text_label(f: Figure, units: Units) -> str:
    """The label for a written figure: a time's text carries its unit, so the
    label's "(months)" goes ("expected lifetime  126 months")."""
    return f.label.replace(f" ({units.plural})", "") if f.kind is Kind.TIME else f.label


def as_texts(figures: Iterable[Figure], units: Units, name: str) -> pd.Series:
    """The figures written for people, by label (for printing a summary)."""
    return pd.Series(
        {text_label(f, units): as_text(f, units) for f in figures},
        name=name,
        dtype=object,
    )


def lines(figures: Sequence[Figure], units: Units, indent: str = "  ") -> list[str]:
    """One aligned line per figure: label, then its value written for people."""
    width = max((len(text_label(f, units)) for f in figures), default=0)
    return [
        f"{indent}{text_label(f, units):<{width}}  {as_text(f, units)}" for f in figures
    ]
