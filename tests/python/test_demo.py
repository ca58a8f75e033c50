"""The demo: ``journeysim demo`` and the embedded default journey."""

from __future__ import annotations

import io
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

import journeysim as js
from conftest import JOURNEYSIM, PYTHON
from journeysim.apps.cli import main
from journeysim.apps.demo import RENEWAL_YEARS, run_demo
from journeysim.view.numbers import duration, money

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

STAGES = [
    "onboarding",
    "adopting",
    "active",
    "at_risk",
    "contracted",
    "expanded",
    "advocate",
    "churned",
    "closed",
]
OWNERS = {
    "onboarding": "Onboarding",
    "adopting": "Customer Success",
    "active": "Customer Success",
    "at_risk": "Customer Success",
    "contracted": "Account Management",
    "expanded": "Account Management",
    "advocate": "Marketing",
    "churned": None,
    "closed": None,
}


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 1000


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    out = tmp / "retention.png"
    return run([str(JOURNEYSIM), "demo", "--out", str(out)], cwd=tmp), out


# -- the command ---------------------------------------------------------------------


def test_demo_exits_0_and_writes_a_png(demo_run):
    proc, out = demo_run
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert_png(out)
    assert proc.stdout.rstrip().endswith(f"Retention curve written to {out}")


def test_demo_prints_the_headline_figures(demo_run):
    proc, _ = demo_run
    text = proc.stdout
    assert (
        "B2B SaaS customer success, 9 stages, in months and USD, over 36 months" in text
    )
    for label in (
        "retention at 3 months",
        "retention at 12 months",
        "retention at 24 months",
        "retention at 36 months",
        "expected lifetime",
        "reach first value",
        "time to first value",
        "CLV over 36 months",
        "CLV over the lifetime",
        "Churn outcome: churned 74.8%, closed 25.2%",
    ):
        assert label in text, label


def test_demo_figures_are_the_api_figures(demo_run):
    proc, _ = demo_run
    a = js.default_journey().analyze(periods=36)
    lines = {
        line.strip().split("  ")[0]: line.strip().split("  ")[-1].strip()
        for line in proc.stdout.splitlines()
        if line.startswith("  ")
    }
    for t in (3, 12, 24, 36):
        assert lines[f"retention at {t} months"] == f"{a.retention_at(t):.1%}"
    u = js.default_journey().units
    assert lines["expected lifetime"] == duration(a.expected_lifetime, u)
    assert lines["time to first value"] == (
        f"{a.time_to_value['mean_periods']:.1f} months (of those who do)"
    )
    assert lines["CLV over 36 months"] == f"{money(a.clv, u)} per customer"
    assert lines["CLV over the lifetime"] == f"{money(a.lifetime_clv, u)} per customer"
    assert lines["CLV over 36 months"] == f"${a.clv:,.0f} per customer"


def test_demo_prints_revenue_retention_and_the_plans(demo_run):
    proc, _ = demo_run
    text = proc.stdout
    year1 = next(line for line in text.splitlines() if line.startswith("months 0–12"))
    # logo retention, NRR, GRR of the first year, as the docstring states.
    assert year1.split()[2:5] == ["84.4%", "106.3%", "82.7%"]
    for plan in ("onboarding call", "rescue desk", "call and rescue"):
        line = next(x for x in text.splitlines() if x.strip().startswith(plan + ":"))
        assert "costs $" in line and "returns $" in line and "pays back" in line


def test_demo_prints_the_per_stage_table(demo_run):
    proc, _ = demo_run
    text = proc.stdout
    assert "Per-stage health" in text
    header = next(line for line in text.splitlines() if "remaining lifetime" in line)
    for column in (
        "owner",
        "remaining lifetime",
        "CLV 36 months",
        "CLV lifetime",
        "NPS",
    ):
        assert column in header
    rows = {line.split()[0]: line for line in text.splitlines() if line.split()}
    for stage, owner in OWNERS.items():
        assert stage in rows, stage
        assert (owner or "-") in rows[stage]
    # the outcome rows: owner "-", nothing left, no score
    for outcome in ("churned", "closed"):
        assert rows[outcome].split()[1:] == ["-", "0", "months", "$0", "$0", "–"]
    assert rows["advocate"].split()[-1] == "80"


def test_python_dash_m_journeysim_demo(tmp_path):
    out = tmp_path / "m.png"
    proc = run(
        [str(PYTHON), "-m", "journeysim", "demo", "--periods", "12", "--out", str(out)],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "retention at 12 months" in proc.stdout
    assert "retention at 24 months" not in proc.stdout  # beyond the horizon
    assert "CLV over 12 months" in proc.stdout
    assert_png(out)


def test_demo_writes_to_the_working_directory_by_default(tmp_path):
    proc = run([str(JOURNEYSIM), "demo", "--periods", "3"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert_png(tmp_path / "journeysim-demo-retention.png")


def test_demo_over_zero_periods_is_clean(tmp_path):
    # A zero horizon is allowed (--periods must be >= 0); it must not print
    # warnings (e.g. from matplotlib about an empty x range) on stderr.
    out = tmp_path / "zero.png"
    proc = run(
        [str(JOURNEYSIM), "demo", "--periods", "0", "--out", str(out)], cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "CLV over 0 months" in proc.stdout
    assert_png(out)
    assert proc.stderr == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--periods", "-1"], "--periods must be >= 0, got -1"),
        (["demo", "--periods", "abc"], "argument --periods: not a whole number: 'abc'"),
        (["demo", "--periods", "1.5"], "not a whole number: '1.5'"),
        (["report"], "the following arguments are required: model, --html"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["demo", "--colour"], "unrecognized arguments: --colour"),
        (  # checked before the demo runs
            ["demo", "--periods", "2", "--out", "/nonexistent-dir/x.png"],
            "the folder /nonexistent-dir does not exist",
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, message):
    proc = run([str(JOURNEYSIM), *args], cwd=tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("journeysim: error: ")
    assert message in lines[0]


# -- in-process ------------------------------------------------------------------------


def test_run_demo_in_process(tmp_path):
    buf = io.StringIO()
    out = tmp_path / "in-process.png"
    path = run_demo(periods=24, out=str(out), stream=buf)
    assert path == str(out)
    assert_png(out)
    text = buf.getvalue()
    assert "retention at 24 months" in text
    assert "retention at 36 months" not in text


def test_main_returns_2_for_a_negative_horizon(capsys):
    assert main(["demo", "--periods", "-3"]) == 2
    assert (
        capsys.readouterr().err == "journeysim: error: --periods must be >= 0, got -3\n"
    )


def test_main_exits_2_on_an_unparsable_argument(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--periods", "x"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


# -- the default journey ---------------------------------------------------------------


def test_default_journey_has_the_documented_stages_and_owners():
    j = js.default_journey()
    assert j.name == "B2B SaaS customer success"
    assert j.stages == STAGES
    assert {s: j.owner(s) for s in STAGES} == OWNERS
    assert j.absorbing == ["churned", "closed"]
    assert j.value_stages == ["active"]
    assert j.streams == ["revenue", "cost_to_serve"]
    assert (j.units.time_unit, j.units.currency) == ("month", "USD")
    assert j.start.to_dict() == {s: float(s == "onboarding") for s in STAGES}
    assert j.flagged_moments == [
        "active",
        ("onboarding", "at_risk"),
        ("at_risk", "churned"),
        ("active", "expanded"),
    ]
    assert j.stage_info.loc["closed", "description"] == (
        "the customer's business closed or was acquired"
    )
    nps = j.scores["nps"]
    assert nps["advocate"] == 80 and nps["at_risk"] == -40
    assert nps[["churned", "closed"]].isna().all()


def test_default_journey_renews_every_twelve_months():
    m = js.default_journey().transition_matrices()
    renewals = [12 * y - 1 for y in range(1, RENEWAL_YEARS + 1)]
    assert list(m) == sorted({0, 3, *renewals, *(t + 1 for t in renewals)})
    ordinary, renewal = m[3], m[11]
    # Mid-term, active accounts do not cancel; at renewal 6% do not renew.
    assert ordinary.loc["active", "churned"] == 0
    assert renewal.loc["active", "churned"] == pytest.approx(0.06)
    assert renewal.loc["at_risk", "churned"] == pytest.approx(0.40)
    # Every renewal month is the same, and the months between are ordinary.
    for t in renewals:
        assert m[t].equals(renewal)
        if t + 1 < 12 * RENEWAL_YEARS:
            assert m[t + 1].equals(ordinary)
    # Accounts still onboarding after three months slide to at_risk.
    assert m[0].loc["onboarding", "at_risk"] == pytest.approx(0.05)
    assert ordinary.loc["onboarding", "at_risk"] == pytest.approx(0.20)
    # From year ten on, a month carries a twelfth of a renewal.
    last = m[12 * RENEWAL_YEARS]
    assert last.loc["at_risk", "churned"] == pytest.approx((11 * 0.01 + 0.40) / 12)


def test_default_journey_analysis_is_consistent():
    a = js.default_journey().analyze(periods=36)
    # everybody leaves eventually, one way or the other, starting in onboarding
    assert a.absorption.sum() == pytest.approx(1.0)
    assert a.absorption["churned"] > a.absorption["closed"] > 0
    assert a.expected_lifetime == pytest.approx(
        a.stages.loc["onboarding", "remaining_lifetime"], rel=1e-12
    )
    assert 0 < a.retention_at(36) < a.retention_at(12) < a.retention_at(3) < 1
    # Logos leave mostly at renewals: the drop into month 12 is the big one.
    r = a.retention
    assert r[11] - r[12] > 5 * (r[10] - r[11])
    assert 0 < a.time_to_value["reached"] < 1
    # net = revenue - cost_to_serve
    assert a.clv == pytest.approx(a.value["revenue"] - a.value["cost_to_serve"])


# -- the demo's stated revenue retention, by an independent computation -----------


def year_of_cohort(j: js.Journey, year: int):
    """Logo churn, NRR and GRR of the starting cohort over contract year
    ``year``, straight from the matrices with numpy: J = diag(x) P(a)...P(b-1)
    is the joint distribution of the stage at the start a = 12 (year - 1) and
    the end b = 12 year; a customer's revenue rate at time t is the revenue of
    its stage at tenure t (the contract year starting then)."""
    spec = j.core.spec.segments[0]
    starts, mats = (
        list(spec.transition_starts),
        [np.asarray(m) for m in spec.transitions],
    )
    revenue = spec.streams[j.streams.index("revenue")]
    vstarts, values = (
        list(revenue.value_starts),
        [np.asarray(v) for v in revenue.values],
    )

    def piece(k, at, pieces):
        return pieces[max(i for i, s in enumerate(at) if s <= k)]

    a, b = 12 * (year - 1), 12 * year
    x = np.asarray(spec.start, dtype=float)
    for k in range(a):
        x = x @ piece(k, starts, mats)
    J = np.diag(x)
    for k in range(a, b):
        J = J @ piece(k, starts, mats)
    v0, v1 = piece(a, vstarts, values), piece(b, vstarts, values)
    alive = ~np.isin(j.stages, j.absorbing)
    churn = 1 - J[np.ix_(alive, alive)].sum() / x[alive].sum()
    nrr = (J @ v1).sum() / (x @ v0)
    grr = (J * np.minimum(v0[:, None], v1[None, :])).sum() / (x @ v0)
    return churn, nrr, grr


@pytest.mark.parametrize(
    ("year", "churn", "nrr", "grr"),
    [(1, 0.156, 1.063, 0.827), (2, 0.113, 1.073, 0.880), (3, 0.099, 1.023, 0.893)],
)
def test_the_demo_states_its_logo_churn_nrr_and_grr(year, churn, nrr, grr):
    j = js.default_journey()
    got = year_of_cohort(j, year)
    assert got == pytest.approx((churn, nrr, grr), abs=5e-4)
    # ... as its docstring's table says (year, churn, NRR, GRR)
    rows = re.findall(
        r"^\s*(\d)\s+([\d.]+)%\s+([\d.]+)%\s+([\d.]+)%\s*$",
        js.default_journey.__doc__,
        flags=re.M,
    )
    stated = {int(y): tuple(float(v) / 100 for v in vs) for y, *vs in rows}
    assert stated[year] == pytest.approx(got, abs=5e-4)


def test_the_demo_is_a_credible_b2b_saas():
    j = js.default_journey()
    churn, nrr, grr = year_of_cohort(j, 1)
    assert 0.10 <= churn <= 0.20  # first-year logo churn
    assert 1.00 <= nrr <= 1.15  # net revenue retention, with real expansion
    assert grr < 1 and nrr - grr > 0.15  # real contraction and churned revenue
    # The first-year logo churn is the analysis' retention at 12 months.
    assert 1 - j.analyze(periods=12).retention_at(12) == pytest.approx(churn)


def test_the_demo_plans_pay_at_moments_of_truth():
    j = js.default_journey()
    plans = js.default_plans()
    moments = {m for m in j.flagged_moments if not isinstance(m, str)}
    for plan in plans:
        for i in plan.interventions:
            assert tuple(i.to_dict()["at"]) in moments, i.name
    s = js.compare(j, plans, periods=36).summary
    roi = s["ROI"]
    # each pays for itself over three years: 1.5x and 2.5x their cost
    assert roi["onboarding call"] == pytest.approx(1.54, abs=0.01)
    assert roi["rescue desk"] == pytest.approx(2.55, abs=0.01)
    assert s["incremental net value"].idxmax() == "call and rescue"
