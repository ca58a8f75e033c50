"""Stage rules: from an account export to the stage log ``fit`` reads.

Hand-made rows with the stage each must get written beside them (first-match
order, history windows, dates, terminal stages, censoring); bad rules refused
with errors that name the rule; an export generated from a known journey, whose
signals follow its stages, gives back its stages and, through ``fit``, its
rates within their intervals; the command line ``fit --rules``."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pandas as pd
import pytest

import journeysim as js
from conftest import JOURNEYSIM
from journeysim.apps.cli import main as cli_main
from journeysim.calibrate.expressions import parse
from journeysim.io.rules_file import read_rules


def months(*labels: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(m) for m in labels]


# -- hand-made rows -----------------------------------------------------------------


def test_first_match_wins_in_rule_order():
    export = pd.DataFrame(
        {
            "account_id": ["a", "a", "a", "b"],
            "month": months("2025-01-01", "2025-02-01", "2025-03-01", "2025-01-01"),
            "health": [90, 30, 30, 10],
            "logins": [10, 10, 0, 0],
        }
    )
    # a/Jan: health 90 -> active; a/Feb: health 30 but logins 10: at_risk (rule 2
    # before rule 3); a/Mar: dormant matches rule 1 first; b/Jan: dormant.
    expected = ["active", "at_risk", "dormant", "dormant"]
    r = js.stages_from(
        export,
        rules=[
            js.Rule("dormant", "logins == 0"),
            js.Rule("at_risk", "health < 40"),
            js.Rule("active", "logins > 0"),
        ],
    )
    assert r.log["stage"].tolist() == expected
    assert list(r.log.columns) == ["account_id", "month", "stage"]
    cov = r.coverage.set_index("stage")
    assert cov["account_periods"].to_dict() == {"dormant": 2, "at_risk": 1, "active": 1}
    assert cov["share"].sum() == pytest.approx(1.0)


def test_unsorted_rows_are_sorted_by_account_and_time():
    export = pd.DataFrame(
        {"account_id": [2, 1, 1, 2], "month": [2, 3, 1, 1], "x": [4, 9, 1, 1]}
    )
    r = js.stages_from(
        export,
        period=1,
        rules=[js.Rule("up", "change(x) > 0"), js.Rule("flat", "True")],
    )
    # account 1: months 1, 3 (x 1, 9): flat, up; account 2: 1, 2 (x 1, 4): flat, up
    assert r.log.values.tolist() == [
        [2, 1, "flat"],
        [2, 2, "up"],
        [1, 1, "flat"],
        [1, 3, "up"],
    ]


def test_history_functions_by_hand():
    x = [10.0, 20.0, 5.0, 40.0, 1.0, 3.0]
    export = pd.DataFrame(
        {
            "account_id": [1, 1, 1, 1, 2, 2],
            "month": [1, 2, 3, 4, 1, 2],
            "x": x,
            "renewed": [False, True, False, False, True, False],
        }
    )
    rows = js.stages_from(export, period=1, rules=[js.Rule("any", "True")])
    assert len(rows.log) == 6

    def values(expr: str) -> list[float]:
        r = js.stages_from(
            export,
            period=1,
            rules=[js.Rule("hit", expr)],
            catch_all="miss",
        )
        return [s == "hit" for s in r.log["stage"]]

    # rolling_mean(x, 2): 10, 15, 12.5, 22.5 | 1, 2
    assert values("rolling_mean(x, 2) > 12") == [False, True, True, True, False, False]
    # rolling_mean(x, 3): 10, 15, 11.67, 21.67 | 1, 2
    assert (
        values("rolling_mean(x, 3) == 15") == [False, True, False, False] + [False] * 2
    )
    # change: -, 10, -15, 35 | -, 2
    assert values("change(x) > 0") == [False, True, False, True, False, True]
    # previous(x, 2): -, -, 10, 20 | -, -
    assert values("previous(x, 2) == 10") == [False, False, True, False, False, False]
    # pct_change: -, 1.0, -0.75, 7 | -, 2
    assert values("pct_change(x) <= -0.5") == [False, False, True, False, False, False]
    # change_since_start: 0, 10, -5, 30 | 0, 2
    assert values("change_since_start(x) < 0") == [False, False, True] + [False] * 3
    assert values("first(x) == 10") == [True] * 4 + [False] * 2
    # periods_since(renewed): -, 0, 1, 2 | 0, 1
    since = [False, False, True, True, False, True]
    assert values("periods_since(renewed) >= 1") == since
    assert values("tenure == 1") == [False, True, False, False, False, True]
    assert values("missing(previous(x))") == [True, False, False, False, True, False]
    assert values("x in (5, 1)") == [False, False, True, False, True, False]
    assert values("not x > 5 and x > 2") == [False, False, True, False, False, True]
    assert values("(x > 30) | (x < 2)") == [False, False, False, True, True, False]


def test_dates_terminal_stages_and_censoring():
    export = pd.DataFrame(
        {
            "account_id": [1, 1, 1, 1, 2, 2, 2, 2],
            "month": months(
                *["2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30"] * 2
            ),
            "signup": months(*["2024-12-15"] * 4, *["2025-01-10"] * 4),
            # account 1 cancels on 10 March: March is its terminal period; April
            # (a row the export still has) is dropped. Account 2 never cancels.
            "cancelled_at": ["", "", "2025-03-10", "2025-03-10"] + [""] * 4,
        }
    )
    export["cancelled_at"] = pd.to_datetime(export["cancelled_at"])
    rules = [
        js.Rule("cancelled", "cancelled_at <= period_end", terminal=True),
        js.Rule("new", "periods_since(signup) <= 1"),
        js.Rule("established", "True"),
    ]
    r = js.stages_from(export, rules=rules)
    # account 1: signup Dec: Jan is 1 period since (new), Feb 2 (established)
    # account 2: signup Jan: Jan 0, Feb 1 (new), Mar, Apr established
    assert r.log["stage"].tolist() == [
        "new",
        "established",
        "cancelled",
        "new",
        "new",
        "established",
        "established",
    ]
    assert r.after_terminal == 1
    assert r.terminal == ("cancelled",)
    assert r.fit_kwargs["absorbing"] == ["cancelled"]
    # The export is taken on 15 March: April rows are dropped; account 2's
    # last period (March) is censored, not churn.
    c = js.stages_from(export, rules=rules, export_date="2025-03-15")
    assert c.censored == 2
    kept = ["new", "established", "cancelled", "new", "new", "established"]
    assert c.log["stage"].tolist() == kept
    f = js.fit(c.log, **c.fit_kwargs)
    assert f.counts.loc["established", "cancelled"] == 1
    assert f.counts.loc["new", "cancelled"] == 0
    # Dates in a text column (as a CSV file has them) compare as dates.
    text = export.assign(cancelled_at=export["cancelled_at"].dt.strftime("%Y-%m-%d"))
    t = js.stages_from(text, rules=rules)
    assert t.log["stage"].tolist() == r.log["stage"].tolist()
    assert js.stages_from(
        export,
        rules=[js.Rule("late", "period_start >= date('2025-04-01')")],
        catch_all="early",
    ).log["stage"].tolist() == ["early"] * 3 + ["late"] + ["early"] * 3 + ["late"]


def test_signals_callables_and_catch_all():
    export = pd.DataFrame(
        {"account_id": [1, 1, 1, 2], "month": [1, 2, 3, 1], "logins": [9, 3, 2, 6]}
    )
    r = js.stages_from(
        export,
        period=1,
        signals={"engaged": "rolling_mean(logins, 2) > 5", "drop": "not engaged"},
        rules=[
            js.Rule("engaged", "engaged"),
            js.Rule("fading", lambda df: df["drop"] & (df["logins"] > 2)),
        ],
        catch_all="quiet",
    )
    # rolling means: 9, 6, 2.5 | 6
    assert r.log["stage"].tolist() == ["engaged", "engaged", "quiet", "engaged"]
    assert r.unmatched.values.tolist() == [[1, 3]]
    assert r.coverage["account_periods"].tolist() == [3, 0, 1]
    assert r.coverage["rule"].iloc[-1] == "(no rule matched)"


# -- bad rules and bad exports --------------------------------------------------


EXPORT = pd.DataFrame(
    {"account_id": [1, 1, 2], "month": [1, 2, 1], "health": [50, 20, 70]}
)


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("helth < 40", "unknown column 'helth'"),
        ("__import__('os').system('x')", "attribute access"),
        ("__import__('os')", "calling '__import__' is not allowed"),
        ("().__class__", "attribute access"),
        ("lambda: 1", "lambda is not allowed"),
        ("[x for x in health]", "comprehensions are not allowed"),
        ("health[0] > 1", "subscripts"),
        ("open('f')", "calling 'open' is not allowed"),
        ("rolling_mean(health, k=3) > 1", "keyword arguments"),
        ("rolling_mean(health) > 1", "takes 2 argument(s)"),
        ("rolling_mean(health, 0) > 1", "whole number from 1"),
        ("health <", "not a valid expression"),
        ("health + 1", "not a condition"),
        ("date('soon') < period_end", "not a date"),
        ("(y := 1)", "assignment"),
        ("f'{health}'", "f-strings"),
        ("health > 10 ** 10 ** 10 ** 10", None),  # inf at once, no big integer
        ("not " * 60 + "health > 1", "nests more than 50"),
        ("health > 1" + " and health > 1" * 400, "longer than 2000"),
        ("health.real > 1", "attribute access"),
        ("'a' * 10 ** 9 == health", "arithmetic needs numbers"),
        ("health is None", "'is' is not allowed"),
        ("{1: 2}", "dicts are not allowed"),
        ("health in {1, 2}", "'in' takes a list"),
    ],
)
def test_bad_rules_name_the_rule(when, message):
    if message is None:  # allowed, and quick
        js.stages_from(EXPORT, period=1, rules=[js.Rule("x", when)], catch_all="y")
        return
    with pytest.raises(js.InputError, match="rule 2 \\(at_risk\\)") as info:
        js.stages_from(
            EXPORT,
            period=1,
            rules=[
                js.Rule("cancelled", "health < 0", terminal=True),
                js.Rule("at_risk", when),
            ],
            catch_all="ok",
        )
    assert message in str(info.value)
    assert info.value.key == ("rules", 1, "when")


def test_signal_cycles_are_refused():
    with pytest.raises(js.InputError, match="circle: a -> b -> c -> a") as info:
        js.stages_from(
            EXPORT,
            period=1,
            signals={"a": "b and health > 1", "b": "c", "c": "a"},
            rules=[js.Rule("x", "a")],
        )
    assert info.value.key == ("signals", "a")
    with pytest.raises(js.InputError, match=r"signal 'health'.*already a column"):
        js.stages_from(
            EXPORT, period=1, signals={"health": "1 > 0"}, rules=[js.Rule("x", "True")]
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rules": [js.Rule("ok", "health > 60")]}, "2 account-periods match no rule"),
        ({"rules": []}, "rules is empty"),
        ({"rules": "health > 1"}, "rules is a list"),
        ({"rules": [{"stage": "x"}]}, "rule 1: a rule has stage:, when:"),
        ({"rules": [js.Rule("x", "True")], "account": "id"}, "no column 'id'"),
        (
            {"rules": [js.Rule("x", lambda df: 1 / 0)]},
            "rule 1 \\(x\\): the function raised ZeroDivisionError",
        ),
        (
            {"rules": [js.Rule("x", lambda df: [True])]},
            "returned \\(1,\\) values for 3 rows",
        ),
        (
            {"rules": [js.Rule("x", "True", terminal=True), js.Rule("x", "False")]},
            "terminal in another rule",
        ),
        ({"rules": [js.Rule("x", "period_end > date('2025-01-01')")]}, "need dates"),
        ({"rules": [js.Rule("x", "True")], "export_date": "2025-01-01"}, "a time"),
    ],
)
def test_bad_inputs(kwargs, message):
    with pytest.raises(js.InputError, match=message):
        js.stages_from(EXPORT, period=1, **kwargs)


def test_duplicate_account_periods_are_refused():
    dup = pd.DataFrame(
        {"account_id": [1, 1], "month": months("2025-01-03", "2025-01-20"), "x": [1, 2]}
    )
    with pytest.raises(js.InputError, match="1 account-periods have more than one row"):
        js.stages_from(dup, rules=[js.Rule("a", "True")])


def test_rule_arguments_are_checked():
    with pytest.raises(js.InputError, match="when is an expression"):
        js.Rule("a", 3)
    with pytest.raises(js.InputError, match="terminal is true or false"):
        js.Rule("a", "True", terminal="yes")
    assert parse("x > 1 and y < 2").names == frozenset({"x", "y"})


# -- recovering a known journey --------------------------------------------------

STAGES = ["onboarding", "active", "at_risk", "cancelled"]
P = np.array(
    [
        [0.60, 0.30, 0.07, 0.03],
        [0.00, 0.85, 0.12, 0.03],
        [0.00, 0.35, 0.50, 0.15],
        [0.00, 0.00, 0.00, 1.00],
    ]
)


def generated_export(accounts: int = 2000, span: int = 18, seed: int = 3):
    """An export whose signals follow a known monthly journey: set-up complete
    once out of onboarding, health above 40 when active and below when at risk
    (uniform noise inside each band), a cancellation date within the month an
    account cancels, and rows for two months after it (exports keep them).
    Accounts sign up over the first six months. Column ``truth``: the stage."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, 6, accounts)
    state = np.zeros((accounts, span), dtype=np.int64)
    cum = np.cumsum(P, axis=1)
    for t in range(1, span):
        u = rng.random(accounts)
        state[:, t] = (u[:, None] > cum[state[:, t - 1]]).sum(axis=1)
    # Shift each account's path to its signup month.
    tenure = np.arange(span)[None, :] - start[:, None]
    path = np.take_along_axis(state, np.clip(tenure, 0, None), axis=1)
    ended = np.cumsum(path == 3, axis=1)  # periods in cancelled so far
    seen = (tenure >= 0) & (ended <= 3)  # two rows after the cancelled month
    a, t = np.nonzero(seen)
    s = path[a, t]
    prev = np.where(t > 0, path[a, np.maximum(t - 1, 0)], 0)
    before = np.where(s == 3, np.where(ended[a, t] == 1, prev, 3), s)
    first_cancel = np.argmax(path == 3, axis=1)
    month = pd.Period("2024-01", "M")
    month_end = pd.PeriodIndex.from_ordinals(month.ordinal + np.arange(span), freq="M")
    cancel_day = pd.Series(
        month_end.start_time[first_cancel]
        + pd.to_timedelta(rng.integers(0, 28, accounts), unit="D")
    ).where((path == 3).any(axis=1))
    # A cancelled account's rows keep the health of its last stage.
    last = np.where(before == 3, 1, before)
    health = np.where(
        np.isin(last, (0, 1)),
        rng.uniform(40, 100, len(a)),
        rng.uniform(0, 39.9, len(a)),
    )
    return pd.DataFrame(
        {
            "account_id": a,
            "month": month_end.end_time.normalize()[t],
            "setup_complete": s != 0,
            "health": health,
            "cancelled_at": cancel_day.to_numpy()[a],
            "truth": s,
        }
    )


RULES = [
    js.Rule("cancelled", "cancelled_at <= period_end", terminal=True),
    js.Rule("onboarding", "not setup_complete"),
    js.Rule("at_risk", "health < 40"),
    js.Rule("active", "health >= 40"),
]


def test_rules_recover_a_known_journey_and_fit_its_rates():
    export = generated_export()
    r = js.stages_from(export, rules=RULES, export_date="2025-06-30")
    # Every kept row gets its true stage.
    kept = export.merge(r.log, on=["account_id", "month"])
    assert len(kept) == len(r.log)
    assert (kept["stage"].astype(str) == kept["truth"].map(STAGES.__getitem__)).all()
    assert r.after_terminal > 0  # the rows after cancellation went
    f = js.fit(r.log, **r.fit_kwargs)
    assert sorted(f.stages) == sorted(STAGES)
    iv = f.interval(0.999)
    for i, a in enumerate(STAGES[:3]):
        for j, b in enumerate(STAGES):
            low, high = iv.loc[(a, b), ["low", "high"]]
            assert low - 1e-12 <= P[i, j] <= high + 1e-12, (a, b, low, P[i, j], high)


def test_export_date_censors_instead_of_inventing_churn():
    export = generated_export(accounts=300, span=12, seed=5)
    r = js.stages_from(export, rules=RULES, export_date="2024-06-30")
    assert r.censored == int((export["month"] > "2024-06-30").sum())
    f = js.fit(r.log, **r.fit_kwargs)
    cancelled = export[export["cancelled_at"] <= "2024-06-30"]["account_id"].nunique()
    assert int(f.counts["cancelled"].drop("cancelled").sum()) == cancelled


# -- the rules file and the command line ------------------------------------------


STAGES_YAML = """\
account: account_id
time: month
period: M
export_date: 2025-06-30
signals:
  troubled: health < 40
rules:
  - stage: cancelled
    when: cancelled_at <= period_end
    terminal: true
  - stage: onboarding
    when: not setup_complete
  - stage: at_risk
    when: troubled
    description: health below 40
  - stage: active
    when: health >= 40
"""


@pytest.fixture
def files(tmp_path):
    export = generated_export(accounts=300, span=12, seed=2)
    export.drop(columns="truth").to_csv(tmp_path / "accounts.csv", index=False)
    (tmp_path / "stages.yaml").write_text(STAGES_YAML)
    return tmp_path


def test_rules_file_reads_with_lines(files):
    spec = read_rules(files / "stages.yaml")
    assert [r.stage for r in spec.rules] == [
        "cancelled",
        "onboarding",
        "at_risk",
        "active",
    ]
    assert spec.rules[0].terminal and spec.signals == {"troubled": "health < 40"}
    bad = files / "bad.yaml"
    bad.write_text("rules:\n  - stage: a\n    when: x > 1\n    termnal: true\n")
    with pytest.raises(js.InputError, match=r"bad.yaml:4: rules\[0\].termnal: unknown"):
        read_rules(bad)


def test_cli_fit_with_rules(files, capsys):
    out, html = files / "journey.yaml", files / "fit.html"
    code = cli_main(
        [
            "fit",
            str(files / "accounts.csv"),
            "--rules",
            str(files / "stages.yaml"),
            "--out",
            str(out),
            "--html",
            str(html),
        ]
    )
    assert code == 0, capsys.readouterr().err
    j = js.load(out)
    assert j.stages == ["onboarding", "at_risk", "active", "cancelled"]
    assert j.absorbing == ["cancelled"]
    page = html.read_text()
    for part in (
        'id="coverage"',
        "health below 40",
        'id="rates"',
        "95% interval",
        'id="chart-journey-map"',
        "<svg",
    ):
        assert part in page
    assert "<script" not in page
    # --force semantics: an existing model is kept without it.
    before = out.read_bytes()
    code = cli_main(
        [
            "fit",
            str(files / "accounts.csv"),
            "--rules",
            str(files / "stages.yaml"),
            "--out",
            str(out),
        ]
    )
    assert code == 2 and out.read_bytes() == before


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        (
            STAGES_YAML.replace("health >= 40", "helth >= 40"),
            r"stages.yaml:17: rules\[3\].when: rule 4 \(active\): "
            "unknown column 'helth'",
        ),
        (
            STAGES_YAML.replace("not setup_complete", "__import__('os').system('x')"),
            r"stages.yaml:12: rules\[1\].when: rule 2 \(onboarding\): attribute access",
        ),
        (
            STAGES_YAML.replace("health < 40", "troubled"),
            r"stages.yaml:6: signals.troubled: signal 'troubled'.*circle",
        ),
        (
            STAGES_YAML.replace("  - stage: active\n    when: health >= 40\n", ""),
            "match no rule",
        ),
        ("rules: 3\n", r"stages.yaml:1: rules: rules: is a list"),
    ],
)
def test_cli_fit_with_bad_rules_exits_2_with_one_line(files, capsys, yaml, message):
    (files / "stages.yaml").write_text(yaml)
    code = cli_main(
        [
            "fit",
            str(files / "accounts.csv"),
            "--rules",
            str(files / "stages.yaml"),
            "--out",
            str(files / "j.yaml"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err), err
    assert not (files / "j.yaml").exists()


def test_cli_fit_with_rules_as_a_user_runs_it(files):
    result = subprocess.run(
        [
            str(JOURNEYSIM),
            "fit",
            "accounts.csv",
            "--rules",
            "stages.yaml",
            "--out",
            "journey.yaml",
        ],
        cwd=files,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Stage rules:" in result.stdout and (files / "journey.yaml").exists()
    missing = subprocess.run(
        [
            str(JOURNEYSIM),
            "fit",
            "accounts.csv",
            "--rules",
            "nope.yaml",
            "--out",
            "j2.yaml",
        ],
        cwd=files,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode == 2
    assert missing.stderr.strip() == "journeysim: error: nope.yaml: no such file"
