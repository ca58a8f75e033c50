"""The command line, through subprocess as a user runs it: ``run``, ``compare``,
``fit`` and ``report`` on model files, and exit code 2 with one line (never a
traceback) for every user error."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import journeysim as js
from conftest import JOURNEYSIM

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(
        [str(JOURNEYSIM), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def plans() -> list[js.Plan]:
    return js.default_plans()[:2]  # "onboarding call" and "rescue desk"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    js.save(js.default_journey(), d / "model.yaml", plans=plans())
    js.save(js.default_journey(), d / "journey.json")
    js.save(plans(), d / "plans.yaml")
    return d


def test_run_exact_tables_csv_and_plot(files, tmp_path):
    out = ok(
        cli(
            "run",
            files / "model.yaml",
            "--periods",
            24,
            "--csv",
            tmp_path / "tables",
            "--plot",
            tmp_path / "r.png",
            cwd=tmp_path,
        )
    )
    a = js.default_journey().analyze(periods=24)
    assert "24 periods (exact)" in out
    assert "Per-stage health" in out
    ret = pd.read_csv(tmp_path / "tables" / "retention.csv", index_col=0)
    np.testing.assert_allclose(ret.iloc[:, 0].to_numpy(), a.retention.to_numpy())
    stages = pd.read_csv(tmp_path / "tables" / "stages.csv", index_col=0)
    np.testing.assert_allclose(stages["clv"].to_numpy(), a.stages["clv"].to_numpy())
    for name in ("summary", "occupancy", "value_by_period", "absorption"):
        assert (tmp_path / "tables" / f"{name}.csv").stat().st_size > 0
    assert (tmp_path / "r.png").read_bytes()[:8] == PNG_SIGNATURE


def test_run_simulated_same_seed_same_numbers(files, tmp_path):
    args = ("run", files / "journey.json", "--customers", "20_000", "--seed", 5)
    first = ok(cli(*args, "--no-progress", cwd=tmp_path))
    second = ok(cli(*args, "--threads", 1, "--no-progress", cwd=tmp_path))
    assert "Monte Carlo, 20,000 customers, seed 5" in first
    assert first == second


def test_compare_plans_from_the_model_and_from_a_file(files, tmp_path):
    out = ok(
        cli(
            "compare",
            files / "model.yaml",
            "--csv",
            tmp_path / "c.csv",
            "--plot",
            tmp_path / "c.png",
            cwd=tmp_path,
        )
    )
    assert "2 plan(s) against the baseline, 36 periods (exact)" in out
    got = pd.read_csv(tmp_path / "c.csv", index_col=0)
    want = js.compare(js.default_journey(), plans(), 36).summary
    assert list(got.index) == ["baseline", "onboarding call", "rescue desk"]
    np.testing.assert_allclose(
        got["incremental net value"].to_numpy(),
        want["incremental net value"].to_numpy(),
        rtol=1e-12,
    )
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG_SIGNATURE
    out2 = ok(
        cli(
            "compare",
            files / "journey.json",
            "--plans",
            files / "plans.yaml",
            cwd=tmp_path,
        )
    )
    assert out2.strip() == out.split("Comparison table written")[0].strip()


def test_compare_monte_carlo_shows_progress_unless_told(files, tmp_path):
    args = ("compare", files / "model.yaml", "--customers", 20_000, "--seed", 1)
    quiet = cli(*args, "--no-progress", cwd=tmp_path)
    ok(quiet)
    assert quiet.stderr == ""
    assert "(monte carlo)" in quiet.stdout


def test_fit_writes_a_model_and_diagnostics(tmp_path):
    truth = js.Journey(
        ["trial", "paying", "churned"],
        {"trial": {"paying": 0.3, "churned": 0.2}, "paying": {"churned": 0.05}},
        values={"revenue": {"paying": 50.0}},
    )
    log = truth.simulate(20_000, periods=24, seed=4, record="events").stage_log()
    log.to_csv(tmp_path / "events.csv", index=False)
    out = ok(
        cli(
            "fit",
            tmp_path / "events.csv",
            "--out",
            tmp_path / "fitted.yaml",
            "--absorbing",
            "churned",
            "--plot",
            tmp_path / "check.png",
            cwd=tmp_path,
        )
    )
    assert "log-likelihood" in out and "second-order Markov test" in out
    fitted = js.load(tmp_path / "fitted.yaml")
    P = fitted.transition_matrix.loc[truth.stages, truth.stages].to_numpy()
    np.testing.assert_allclose(P, truth.transition_matrix.to_numpy(), atol=0.01)
    assert (tmp_path / "check.png").read_bytes()[:8] == PNG_SIGNATURE

    # --like keeps the model's values and metadata, replaces the transitions.
    js.save(truth, tmp_path / "like.yaml")
    ok(
        cli(
            "fit",
            tmp_path / "events.csv",
            "--out",
            tmp_path / "refit.json",
            "--like",
            tmp_path / "like.yaml",
            cwd=tmp_path,
        )
    )
    refit = js.load(tmp_path / "refit.json")
    assert refit.streams == ["revenue"]
    np.testing.assert_array_equal(refit.transition_matrix.to_numpy(), P)


def test_report_writes_self_contained_html(files, tmp_path):
    out = ok(
        cli(
            "report",
            files / "journey.json",
            "--plans",
            files / "plans.yaml",
            "--html",
            tmp_path / "report.html",
            "--title",
            "Q3 plans",
            cwd=tmp_path,
        )
    )
    assert "Report written to" in out
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<title>Q3 plans</title>" in page
    assert page.count("<svg") == 6


def test_demo_saves_a_model_a_newcomer_can_report_on(tmp_path):
    out = ok(cli("demo", "--save", "saas.yaml", "--out", "r.png", cwd=tmp_path))
    assert "Journey and plans written to" in out
    model = js.load_model(tmp_path / "saas.yaml")
    assert model.journey == js.default_journey()
    assert model.plans == js.default_plans()
    ok(cli("report", "saas.yaml", "--html", "saas.html", cwd=tmp_path))
    assert "call and rescue" in (tmp_path / "saas.html").read_text(encoding="utf-8")


BAD_YAML = "format: journeysim/1\njourney:\n  stages: [a, b\n"
WRONG_VERSION = "format: journeysim/9\njourney:\n  stages: [a, b]\n"
BAD_PROBABILITY = (
    "format: journeysim/1\n"
    "journey:\n"
    "  stages: [a, b]\n"
    "  transitions:\n"
    "    a: {b: 1.5}\n"
)


@pytest.mark.parametrize(
    "args, files_to_write, message",
    [
        (["run", "missing.yaml"], {}, "missing.yaml"),
        (["run", "bad.yaml"], {"bad.yaml": BAD_YAML}, "bad.yaml"),
        (["run", "v9.yaml"], {"v9.yaml": WRONG_VERSION}, "journeysim/9"),
        (["run", "p.yaml"], {"p.yaml": BAD_PROBABILITY}, "journey.transitions"),
        (["run", "{model}", "--periods", "-3"], {}, "--periods"),
        (["run", "{model}", "--periods", "abc"], {}, "--periods"),
        (["run", "{model}", "--seed", "3"], {}, "--customers"),
        (["run", "{model}", "--customers", "0"], {}, "--customers"),
        (["run", "{model}", "--plot", "no/such/dir/r.png"], {}, "does not exist"),
        (["compare", "{journey}"], {}, "no plans"),
        (["compare", "{model}", "--plans", "{journey}"], {}, "plan"),
        (["report", "{model}"], {}, "--html"),
        (["fit", "nothing.csv", "--out", "m.yaml"], {}, "nothing.csv"),
        (["fit", "e.csv", "--out", "m.txt"], {"e.csv": "a,b\n1,2\n"}, "--out"),
        (["fit", "e.csv", "--out", "m.yaml"], {"e.csv": "a,b\n1,2\n"}, "column"),
        (["fit", "e.csv", "--out", "m.yaml", "--tenure", "0,x"], {}, "--tenure"),
        (["frobnicate"], {}, "invalid choice"),
    ],
)
def test_user_errors_exit_2_with_one_line(
    files, tmp_path, args, files_to_write, message
):
    for name, text in files_to_write.items():
        (tmp_path / name).write_text(text)
    if not (tmp_path / "e.csv").exists():
        (tmp_path / "e.csv").write_text("customer,period,stage\n1,0,a\n1,1,b\n")
    args = [
        a.format(model=files / "model.yaml", journey=files / "journey.json")
        for a in args
    ]
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("journeysim: error:"), lines
    assert message in lines[0]
    assert not lines[0].startswith("journeysim: error: '")  # the text, not a repr
