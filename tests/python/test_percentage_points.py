"""A difference of two rates is written in percentage points ("+0.7 pts"),
never "+0.7%", which a reader takes for a relative change: in the comparison
tables (text and HTML), compare_journeys' difference row, attributions and
their waterfall, removal effects, the HTML report and the command line.
Relative changes stay percentages and money differences stay money."""

from __future__ import annotations

import re

import matplotlib
import pytest

import journeysim as js
from journeysim.apps.cli import main
from journeysim.view.numbers import percent, points
from test_compare_journeys import optimised_demo

matplotlib.use("Agg")

#: A share written as a percentage with a sign: the old way of writing a
#: difference of rates ("+0.7%", "-0.3%").
SIGNED_PERCENT = re.compile(r"[+\-−]\d[\d,.]*%")


@pytest.fixture(scope="module")
def pair():
    return js.compare_journeys(js.default_journey(), optimised_demo(), periods=36)


@pytest.fixture(scope="module")
def simulated():
    j = js.default_journey()
    return js.compare(
        j, js.default_plans()[1:2], periods=12, customers=4_000, seed=3, progress=False
    )


def test_difference_row_of_two_journeys_is_in_points(pair):
    per = pair.per_customer
    d = per.at["optimised", "retention at 36"] - per.at["current", "retention at 36"]
    nrr = per.at["optimised", "first-year NRR"] - per.at["current", "first-year NRR"]
    text = pair.to_text()
    row = next(r for r in text.splitlines() if r.startswith("retention at 36 months"))
    # 67.5% -> 71.1%: a difference of 3.7 points, by hand from the two rows.
    assert round(100 * d, 1) == 3.7
    cells = ["67.5%", "71.1%", "+3.7", "pts"]
    assert row.split() == ["retention", "at", "36", "months", *cells]
    assert points(nrr, pair.units) in text and points(nrr, pair.units) == "+3.6 pts"
    assert "3.7%" not in text and "3.6%" not in text
    # Levels stay percentages, money differences stay money.
    assert "67.5%" in text and "$1,818" in text
    html = pair._repr_html_()
    assert ">+3.7 pts<" in html and ">3.7%<" not in html


def test_paired_differences_of_a_simulation_are_in_points(simulated):
    s = simulated.summary.loc["rescue desk"]
    u = simulated.units
    text = simulated.to_text()
    row = next(r for r in text.splitlines() if r.startswith("retention at 12 months:"))
    assert row.startswith("retention at 12 months: difference, pts")
    lo, hi = s["retention at 12 diff low"], s["retention at 12 diff high"]
    want = (
        f"{points(s['retention at 12 diff'], u)} ({points(lo, u)} to {points(hi, u)})"
    )
    assert row.endswith(want)
    assert "pts" in want and not SIGNED_PERCENT.search(row) and "%" not in row
    # Money differences stay money, durations stay durations.
    assert next(r for r in text.splitlines() if r.startswith("CLV: difference"))
    assert "$" in next(r for r in text.splitlines() if r.startswith("CLV: diff"))
    html = simulated._repr_html_()
    assert "retention at 12 months: difference, pts" in html
    assert f">{want}<" in html


def test_a_plot_of_a_difference_of_rates_says_percentage_points(simulated):
    ax = simulated.plot(metric="retention at 12 diff")
    assert ax.get_xlabel() == "retention at 12 diff (percentage points)"
    ax.figure.canvas.draw()
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all(t.endswith(" pts") for t in ticks)
    level = simulated.plot(metric="retention at 12")
    assert level.get_xlabel().endswith("(%)")


def test_attribution_of_a_rate_is_in_points_its_shares_in_percent(pair):
    groups = {
        "faster onboarding": [c for c in pair.changes.index if "onboarding" in c],
        "renewal playbook": [c for c in pair.changes.index if "at_risk" in c],
    }
    a = pair.attribution("retention at 36", groups=groups)
    rows = {r.split("  ")[0].strip(): r for r in a.to_text().splitlines()[2:]}
    c = a.contributions
    assert points(c["renewal playbook"], a.units, decimals=2) == "+3.03 pts"
    assert "+3.03 pts" in rows["renewal playbook"]
    assert "+0.64 pts" in rows["faster onboarding"]
    assert "+3.67 pts" in rows["difference"]
    assert "67.46%" in rows["current journey"]  # a level: a percentage
    assert percent(c["renewal playbook"] / a.total, a.units) in rows["renewal playbook"]
    assert not SIGNED_PERCENT.search(a.to_text())
    ax = a.plot()
    labels = [t.get_text() for t in ax.texts]
    assert labels[0] == "67.46%" or labels[0] == "67.5%"
    assert labels[1:-1] == [points(v, a.units) for v in c]
    assert all(t.endswith(" pts") for t in labels[1:-1])
    # CLV: money steps, signed.
    clv = pair.attribution("clv", groups=groups).to_text()
    assert "+$948" in clv and "pts" not in clv


def test_removal_effects_on_retention_change_in_points():
    j = js.default_journey()
    r = j.removal_effects(metric="retention at 24", periods=24, redirect="churned")
    text = r.to_text()
    first = text.splitlines()[2]
    assert first.split()[:6] == [
        "onboarding",
        "without:",
        "0.0%",
        "change:",
        points(r.table["change"].iloc[0], j.units).split()[0],
        "pts",
    ]
    assert "change: -74.9 pts" in text  # all of the 74.9% retained
    assert "removal effect: 100.0%" in text  # relative: a percentage
    ax = r.plot(value="change")
    assert ax.get_xlabel().endswith("(percentage points)")


def test_a_locale_writes_points_its_way():
    spec = js.default_journey().to_spec()
    spec["locale"] = "de_DE"
    cur = js.Journey.from_spec(spec)
    opt = optimised_demo().to_spec()
    opt["locale"] = "de_DE"
    d = js.compare_journeys(cur, js.Journey.from_spec(opt), periods=36)
    assert "+3,7 pts" in d.to_text()


def test_report_findings_and_versus_section_are_in_points(tmp_path):
    j = js.default_journey()
    c = js.compare(j, js.default_plans()[1:2], periods=36)
    page = js.report(
        j,
        js.default_plans()[1:2],
        tmp_path / "r.html",
        periods=36,
        versus=optimised_demo(),
    )
    s = c.summary
    d = s.at["rescue desk", "retention at 36"] - s.at["baseline", "retention at 36"]
    want = f"({points(d, j.units)} against the baseline)"
    assert want in page and " points)" not in page
    versus = page[page.index('id="versus-per-customer"') :]
    versus = versus[: versus.index("</div>")]
    assert ">+3.7 pts<" in versus and ">3.7%<" not in versus


def test_cli_compare_prints_differences_of_rates_in_points(tmp_path, capsys):
    path = tmp_path / "model.yaml"
    js.save(js.default_journey(), path, plans=js.default_plans()[1:2])
    args = ["compare", str(path), "--periods", "12", "--customers", "4000"]
    assert main([*args, "--seed", "3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    row = next(r for r in out.splitlines() if r.startswith("retention at 12 months:"))
    assert row.startswith("retention at 12 months: difference, pts")
    assert row.count(" pts") == 5 and "%" not in row
