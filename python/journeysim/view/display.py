"""Compact HTML for notebooks (``_repr_html_``). Plain string building, so the
output does not change with the pandas version (golden-file tests lock it)."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .._base.units import Units
from .numbers import number

__all__ = ["fmt", "table"]

STYLE = (
    "border-collapse:collapse;font-size:0.9em;margin:0.2em 0;"
    "font-family:system-ui,-apple-system,sans-serif"
)
#: Numbers with no unit, in the default locale.
PLAIN = Units()

CELL = "padding:0.15em 0.6em;border-bottom:1px solid #ddd;text-align:{}"


def fmt(x: Any, units: Units = PLAIN) -> str:
    """A value for people: None and False give "", True "yes"; a number is
    written by :func:`~journeysim.view.numbers.number` (separators, 4
    significant figures, never scientific notation); anything else as ``str``."""
    if x is None:
        return ""
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else ""
    return number(x, units)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "") -> str:
    """An HTML table: the first column left-aligned, the others right-aligned."""
    out = [f'<table style="{STYLE}">']
    if title:
        out.append(
            f'<caption style="text-align:left;font-weight:bold">{html.escape(title)}'
            "</caption>"
        )
    out.append("<tr>")
    for k, h in enumerate(header):
        align = "left" if k == 0 else "right"
        out.append(f'<th style="{CELL.format(align)}">{html.escape(str(h))}</th>')
    out.append("</tr>")
    for row in rows:
        out.append("<tr>")
        for k, v in enumerate(row):
            align = "left" if k == 0 else "right"
            out.append(f'<td style="{CELL.format(align)}">{html.escape(fmt(v))}</td>')
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)
