"""The demo: ``journeysim demo`` and the embedded default journey."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest

import journeysim as js
from conftest import JOURNEYSIM, PYTHON
from journeysim.apps.cli import main
from journeysim.apps.demo import run_demo

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

STAGES = [
    "onboarding",
    "adopting",
    "first_value",
    "renewal_decision",
    "renewed",
    "expanded",
    "advocate",
    "at_risk",
    "churned",
]
OWNERS = {
    "onboarding": "Onboarding",
    "adopting": "Customer Success",
    "first_value": "Customer Success",
    "renewal_decision": "Account Management",
    "renewed": "Account Management",
    "expanded": "Sales",
    "advocate": "Marketing",
    "at_risk": "Customer Success",
    "churned": None,
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
    assert "B2B SaaS customer success, 9 stages, monthly, 36-month horizon" in text
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
        "Churn outcome: churned 100.0%",
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
    assert lines["expected lifetime"] == f"{a.expected_lifetime:.1f} months"
    assert lines["time to first value"] == (
        f"{a.time_to_value['mean_periods']:.1f} months (of those who do)"
    )
    assert lines["CLV over 36 months"] == f"{a.clv:,.0f}"
    assert lines["CLV over the lifetime"] == f"{a.lifetime_clv:,.0f}"


def test_demo_prints_the_per_stage_table(demo_run):
    proc, _ = demo_run
    text = proc.stdout
    assert "Per-stage health" in text
    header = next(line for line in text.splitlines() if "lifetime (months)" in line)
    for column in ("owner", "lifetime (months)", "CLV 36m", "CLV lifetime"):
        assert column in header
    rows = {line.split()[0]: line for line in text.splitlines() if line.split()}
    for stage, owner in OWNERS.items():
        assert stage in rows, stage
        assert (owner or "-") in rows[stage]
    # the churned row: owner "-", nothing left
    assert rows["churned"].split()[1:] == ["-", "0.0", "0.0", "0.0"]


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
    assert j.absorbing == ["churned"]
    assert j.value_stages == ["first_value"]
    assert j.streams == ["revenue", "cost_to_serve"]
    assert j.start.to_dict() == {s: float(s == "onboarding") for s in STAGES}
    assert j.flagged_moments == [
        "first_value",
        ("renewal_decision", "churned"),
        ("onboarding", "at_risk"),
    ]
    assert j.stage_info.loc["churned", "description"] == "cancelled the subscription"


def test_default_journey_toughens_onboarding_from_month_3():
    m = js.default_journey().transition_matrices()
    assert list(m) == [0, 3]
    first, later = m[0].loc["onboarding"], m[3].loc["onboarding"]
    assert first[["adopting", "at_risk", "churned"]].tolist() == [0.55, 0.10, 0.05]
    assert first["onboarding"] == pytest.approx(0.30)
    assert later[["adopting", "at_risk", "churned"]].tolist() == [0.35, 0.25, 0.15]
    assert later["onboarding"] == pytest.approx(0.25)
    # the other rows carry over
    assert m[3].drop(index="onboarding").equals(m[0].drop(index="onboarding"))


def test_default_journey_analysis_is_consistent():
    a = js.default_journey().analyze(periods=36)
    # everybody churns eventually, starting in onboarding
    assert a.absorption.to_dict() == {"churned": pytest.approx(1.0)}
    assert a.expected_lifetime == pytest.approx(
        a.stages.loc["onboarding", "remaining_lifetime"], rel=1e-12
    )
    assert 0 < a.retention_at(36) < a.retention_at(12) < a.retention_at(3) < 1
    assert 0 < a.time_to_value["reached"] < 1
    # net = revenue - cost_to_serve
    assert a.clv == pytest.approx(a.value["revenue"] - a.value["cost_to_serve"])
