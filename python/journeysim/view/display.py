"""Compact HTML for notebooks (``_repr_html_``). Plain string building, so the
output does not change with the pandas version (golden-file tests lock it)."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["fmt", "table"]

STYLE = (
    "border-collapse:collapse;font-size:0.9em;margin:0.2em 0;"
    "font-family:system-ui,-apple-system,sans-serif"
)
CELL = "padding:0.15em 0.6em;border-bottom:1px solid #ddd;text-align:{}"


def fmt(x: Any) -> str:
    """A number for people: thousands separators, 4 significant figures."""
    if isinstance(x, bool) or x is None:
        return "" if x is None else ("yes" if x else "")
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if math.isnan(x):
            return "–"
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        if x != 0 and (abs(x) >= 1e7 or abs(x) < 1e-3):
            return f"{x:.3e}"
        if abs(x) >= 100:
            return f"{x:,.0f}"
        return f"{x:.4g}"
    return str(x)


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
