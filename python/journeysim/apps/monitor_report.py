"""The monitoring report: one self-contained HTML page with the rates over
time and their bands, the drift alerts in words, and the forecast checks."""

from __future__ import annotations

import html
import io
import os
from typing import Any

from .._base.atomic import write_text
from ..calibrate.backtest import Backtest
from ..calibrate.drift import Drift
from ..calibrate.monitor import Monitor
from ..view.numbers import money, number, percent

__all__ = ["monitor_report"]

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.9rem}
td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}
.alert{background:#fff4e5;border-left:4px solid #e8590c;padding:.5rem 1rem;
margin:.5rem 0}
.ok{background:#ebfbee;border-left:4px solid #2b8a3e;padding:.5rem 1rem}
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _signed(text: str, x: float) -> str:
    """A change with its sign: "+$120", "−$1,050"."""
    return f"+{text}" if x > 0 else text


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _rates_chart(m: Monitor) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.2))
    m.plot(ax=ax)
    return _svg(fig)


def _backtest_section(b: Backtest | None, m: Monitor) -> str:
    if b is None:
        return "<p>Not enough data after the windows for a forecast check.</p>"
    import matplotlib.pyplot as plt

    units = m.units
    cov = b.coverage.reset_index()
    cov = cov[cov["quantity"] == "retention"]
    rows = "".join(
        f"<tr><td>{_e(units.periods(int(r['horizon'])))} ahead</td>"
        f"<td>{_e(percent(r['coverage'], units))}</td>"
        f"<td>{_e(number(r['mean_abs_error'] * 100, units, digits=2))} points</td>"
        f"<td>{int(r['forecasts']):,}</td></tr>"
        for _, r in cov.iterrows()
    )
    fig, ax = plt.subplots(figsize=(8, 3.6))
    b.plot(ax=ax)
    return (
        f"<p>At the end of each window, the window's journey forecast the "
        f"retention of the customers then active; {percent(b.level, units)} "
        "intervals should hold the outcome about that often.</p>"
        "<table><tr><th>forecast</th><th>intervals that held</th>"
        f"<th>mean error</th><th>forecasts</th></tr>{rows}</table>{_svg(fig)}"
    )


def monitor_report(
    m: Monitor,
    d: Drift,
    b: Backtest | None,
    out: str | os.PathLike,
    title: str = "Journey monitoring",
) -> str:
    """Write the monitoring page to ``out`` (atomically: an existing file
    survives a failure) and return its HTML."""
    units = m.units
    w = m.windows
    if d.moved:
        alerts = "".join(f'<div class="alert">{_e(s)}</div>' for s in d.alerts())
    else:
        alerts = (
            f'<div class="ok">No rate moved by more than '
            f"{_e(number(d.threshold * 100, units, digits=2))} points against "
            f"{_e(d.reference)}.</div>"
        )
    effect = ""
    if d.effect is not None and d.moved:
        e = d.effect
        moved = e["clv_moved"] - e["clv"]
        effect = (
            "<p>With every flagged rate moved, the model's CLV per customer goes "
            f"from {_e(money(e['clv'], units))} to "
            f"{_e(money(e['clv_moved'], units))} "
            f"({_e(_signed(money(moved, units), moved))})"
            + (
                f" and NRR from {_e(percent(e['nrr'], units))} to "
                f"{_e(percent(e['nrr_moved'], units))}"
                if e["nrr"] == e["nrr"]
                else ""
            )
            + ".</p>"
        )
    table = d.table.head(12)
    clv = "clv_change" in table.columns
    rows = "".join(
        f"<tr><td>{_e(r['from'])} → {_e(r['to'])}</td>"
        f"<td>{_e(percent(r['reference'], units))}</td>"
        f"<td>{_e(percent(r['current'], units))}</td>"
        f"<td>{_e(percent(r['probability'], units))}</td>"
        + (
            f"<td>{_e(_signed(money(r['clv_change'], units), r['clv_change']))}</td>"
            if clv
            else ""
        )
        + f"<td>{'yes' if r['moved'] else ''}</td></tr>"
        for _, r in table.iterrows()
    )
    clv_head = "<th>CLV per customer if it holds</th>" if clv else ""
    page = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{_e(title)}</title><style>{_STYLE}</style></head><body>
<h1>{_e(title)}</h1>
<p>{len(w)} windows from {_e(w["start"].iloc[0])} to {_e(w["end"].iloc[-1])};
rates are probabilities per {_e(units.time_unit)} with
{_e(percent(m.level, units))} posterior bands.</p>
<h2>Drift alerts</h2>{alerts}{effect}
<table><tr><th>move</th><th>reference</th><th>latest window</th>
<th>P(moved)</th>{clv_head}<th>flagged</th></tr>{rows}</table>
<h2>Rates over time</h2>{_rates_chart(m)}
<h2>Did the forecasts hold?</h2>{_backtest_section(b, m)}
</body></html>"""
    write_text(out, page)
    return page
