"""The command line, through subprocess as a user runs it: ``run``, ``compare``,
``fit`` and ``report`` on model files, and exit code 2 with one line (never a
traceback) for every user error."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import journeysim as js
from conftest import JOURNEYSIM
from journeysim.apps.cli import main as cli_main

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
    assert "24 months (exact)" in out
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
    assert "2 plan(s) against the baseline, 36 months (exact)" in out
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
    assert page.count("<svg") == 7  # six charts and the timeline


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


# -- outputs: checked before any work, never overwritten without --force ---------


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("journeysim: error: "), lines
    return lines[0]


def test_a_plot_with_a_suffix_matplotlib_cannot_write_fails_before_the_results(
    files, tmp_path
):
    # Before: every table was printed, then savefig failed on "txt".
    result = cli("run", files / "model.yaml", "--plot", "out.txt", cwd=tmp_path)
    message = one_line_error(result)
    assert "--plot out.txt" in message and ".png" in message and ".svg" in message
    assert result.stdout == ""
    assert not (tmp_path / "out.txt").exists()


def test_a_report_must_be_an_html_file(files, tmp_path):
    # Before: HTML was written into out.pdf.
    result = cli("report", files / "model.yaml", "--html", "out.pdf", cwd=tmp_path)
    assert "--html out.pdf" in one_line_error(result)
    assert not (tmp_path / "out.pdf").exists()
    ok(cli("report", files / "model.yaml", "--html", "out.htm", cwd=tmp_path))


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> Path:
    truth = js.Journey(["trial", "paying", "churned"], {"trial": {"paying": 0.3}})
    log = truth.simulate(2_000, periods=6, seed=4, record="events").stage_log()
    path = tmp_path_factory.mktemp("events") / "events.csv"
    log.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "plot, message",
    [
        ("taken.png", "is a folder"),  # a folder of that name: savefig failed last
        ("no/such/x.png", "does not exist"),
        ("notes.txt/x.png", "notes.txt is a file, not a folder"),
        ("m.txt", "--plot m.txt"),
    ],
)
def test_fit_writes_nothing_when_an_output_cannot_be_written(
    events, tmp_path, plot, message
):
    # Before: m.yaml was written, then the plot failed and the exit code was 2.
    (tmp_path / "taken.png").mkdir()
    (tmp_path / "notes.txt").write_text("a file where a folder is named\n")
    result = cli("fit", events, "--out", "m.yaml", "--plot", plot, cwd=tmp_path)
    assert message in one_line_error(result)
    assert result.stdout == ""
    assert not (tmp_path / "m.yaml").exists()


def test_an_output_folder_that_is_not_writable_is_refused_before_any_work(
    events, tmp_path, monkeypatch, capsys
):
    """A read-only folder. For root every folder is writable whatever its
    mode (and these tests may run as root), so the folder is made read-only
    and the operating system's answer to the check's question (os.access) is
    the one a user other than root gets. Before: m.yaml was written, then the
    plot failed."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    access = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda p, mode, **kw: False if Path(p) == locked else access(p, mode, **kw),
    )
    argv = ["fit", str(events), "--out", str(tmp_path / "m.yaml")]
    code = cli_main([*argv, "--plot", str(locked / "x.png")])
    err = capsys.readouterr().err
    assert code == 2
    plot = locked / "x.png"
    assert err == f"journeysim: error: {plot}: the folder {locked} is not writable\n"
    assert not (tmp_path / "m.yaml").exists()


def existing(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("the user's own file\n")
    return path


@pytest.mark.parametrize(
    "args, target",
    [
        (["fit", "{events}", "--out", "m.yaml"], "m.yaml"),
        (["fit", "{events}", "--out", "m.yaml", "--plot", "p.png"], "p.png"),
        (["report", "{model}", "--html", "r.html"], "r.html"),
        (["compare", "{model}", "--csv", "c.csv"], "c.csv"),
        (["compare", "{model}", "--plot", "c.svg"], "c.svg"),
        (["run", "{model}", "--csv", "tables"], "tables/retention.csv"),
        (["run", "{model}", "--plot", "r.pdf"], "r.pdf"),
        (["demo", "--save", "saas.yaml"], "saas.yaml"),
        (["demo", "--out", "d.png"], "d.png"),
    ],
)
def test_an_existing_output_is_replaced_only_with_force(
    files, events, tmp_path, args, target
):
    path = existing(tmp_path, target)
    args = [a.format(model=files / "model.yaml", events=events) for a in args]
    result = cli(*args, "--periods" if args[0] != "fit" else "--prior", 1, cwd=tmp_path)
    message = one_line_error(result)
    assert (
        message == f"journeysim: error: {target} exists; pass --force to overwrite it"
    )
    assert result.stdout == ""  # refused before any work
    assert path.read_bytes() == b"the user's own file\n"
    # The other outputs of the command were not written either.
    assert sorted(p.name for p in tmp_path.iterdir()) == [Path(target).parts[0]]
    ok(cli(*args, "--force", cwd=tmp_path))
    assert path.read_bytes() != b"the user's own file\n"


def test_two_outputs_of_one_command_may_not_be_one_file(files, tmp_path):
    result = cli(
        "compare",
        files / "model.yaml",
        "--csv",
        "c.csv",
        "--plot",
        "c.csv",
        cwd=tmp_path,
    )
    assert "--csv and --plot name the same file" in one_line_error(result)


# -- what users see -----------------------------------------------------------------


def test_version_and_bare_journeysim(tmp_path):
    out = ok(cli("--version", cwd=tmp_path))
    assert out == f"journeysim {js.__version__}\n"
    out = ok(cli(cwd=tmp_path))  # before: "the following arguments are required"
    assert out.startswith("usage: journeysim")
    for command in ("demo", "run", "compare", "fit", "report"):
        assert command in out


def test_a_closed_pipe_ends_quietly(files, tmp_path):
    """``journeysim run m.yaml | head -1``: the reader goes away. Before: the
    error "[Errno 32] Broken pipe" and exit code 2. Now, as the Python
    documentation recommends, nothing on stderr and exit code 1. The reader
    here is gone before the first write, so the test does not depend on
    timing."""
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(
            [str(JOURNEYSIM), "run", str(files / "model.yaml")],
            cwd=tmp_path,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
    finally:
        os.close(write)
    assert result.stderr == ""
    assert result.returncode == 1


@pytest.mark.parametrize(
    "args, message",
    [
        # Before: a pybind11 TypeError with the full signature, a 20-line
        # traceback and exit code 1.
        (
            ["--customers", "100", "--replications", "3e9"],
            "--replications must be in [1, 2,147,483,647], got 3,000,000,000",
        ),
        (["--customers", "100", "--seed", "-1"], "--seed must be >= 0, got -1"),
        (["--customers", "100", "--seed", "2e30"], "--seed must be in [0, "),
        (["--customers", "100", "--threads", "1e6"], "--threads must be in [1, 4,096]"),
        (["--customers", "1e30"], "--customers must be in [1, "),
        (["--periods", "2e6"], "--periods must be in [1, 1,000,000]"),
        (["--customers", "10", "--periods", "2e7"], "--periods must be in [1, 10,0"),
        (["--tenure", "0,3000000000"], "--tenure must be in [0, 1,000,000]"),
        (["--period", "99999999999999999999"], "period must be a positive integer"),
    ],
)
def test_numbers_out_of_range_name_the_option(files, events, tmp_path, args, message):
    if args[0] in ("--tenure", "--period"):
        args = ["fit", events, "--out", "m.yaml", *args]
    else:
        args = ["run", files / "model.yaml", *args]
    result = cli(*args, cwd=tmp_path)
    assert message in one_line_error(result)


def test_replications_beyond_the_core_s_integers_name_replications():
    j = js.default_journey()
    with pytest.raises(js.InputError, match=r"replications must be in \[1, 2,147"):
        j.simulate(100, 3, seed=1, replications=2**31)
    with pytest.raises(js.InputError, match="replications must be in"):
        js.compare(j, js.default_plans()[:1], 3, customers=10, replications=2**63)
    with pytest.raises(js.InputError, match=r"tenure must be in \[0, 1,000,000\]"):
        js.fit(
            pd.DataFrame({"customer": [1, 1], "period": [0, 1], "stage": ["a", "b"]}),
            tenure=[0, 2**31],
        )


def test_a_parquet_log_without_pyarrow_says_what_to_install(
    tmp_path, monkeypatch, capsys
):
    pd.DataFrame(
        {"customer": [1, 1], "period": [0, 1], "stage": ["a", "b"]}
    ).to_parquet(tmp_path / "x.parquet")
    for name in ("pyarrow", "pyarrow.parquet"):  # import pyarrow now fails
        monkeypatch.setitem(sys.modules, name, None)
    hint = "pip install 'journeysim[files]'"
    with pytest.raises(ImportError, match=re.escape(hint)):
        js.fit(tmp_path / "x.parquet")
    code = cli_main(
        ["fit", str(tmp_path / "x.parquet"), "--out", str(tmp_path / "m.yaml")]
    )
    assert code == 2
    assert capsys.readouterr().err == (
        "journeysim: error: reading Parquet event logs needs pyarrow, an optional "
        f"extra: {hint}\n"
    )
