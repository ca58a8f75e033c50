"""Fitted journeys speak months and money: the time unit inferred from a
calendar period of dates, explicit units (arguments, the rules file's
``units:``, the CLI flags) winning, the model file keeping them, bad units
named; and value streams per segment against a hand computation."""

from __future__ import annotations

import pickle
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest

import journeysim as js
from journeysim.apps.cli import main as cli_main
from journeysim.apps.fit_report import fit_report
from journeysim.io.rules_file import read_rules

matplotlib.use("Agg")
# The hand-made logs are tiny: some stages are never left in them.
pytestmark = pytest.mark.filterwarnings("ignore::journeysim.InfiniteLifetimeWarning")


def _dated_log(freq: str = "MS") -> pd.DataFrame:
    dates = pd.date_range("2025-01-01", periods=3, freq=freq)
    return pd.DataFrame(
        {
            "account_id": [1, 1, 1, 2, 2, 3],
            "date": [dates[0], dates[1], dates[2], dates[0], dates[1], dates[0]],
            "stage": ["trial", "paying", "paying", "trial", "churned", "trial"],
            "mrr": [0.0, 100.0, 120.0, 0.0, 0.0, 0.0],
        }
    )


def _fit(log: pd.DataFrame, **kw):
    kw = {
        "customer": "account_id",
        "time": "date",
        "period": "M",
        "kind": "snapshots",
        "absorbing": ["churned"],
        **kw,
    }
    return js.fit(log, **kw)


@pytest.mark.parametrize(
    ("period", "freq", "unit"), [("M", "MS", "month"), ("W", "W-MON", "week")]
)
def test_the_time_unit_is_inferred_from_dated_periods(period, freq, unit):
    f = _fit(_dated_log(freq), period=period)
    assert f.journey.units == js.Journey(["a"], {}, time_unit=unit).units
    text = repr(f.journey.analyze(12))
    assert f"12 {unit}s" in text and "periods" not in text


def test_integer_periods_say_period_unless_told():
    log = _dated_log().assign(t=[0, 1, 2, 0, 1, 0])
    assert _fit(log, time="t", period=1).journey.units.time_unit == "period"
    f = _fit(log, time="t", period=1, time_unit="quarter", currency="eur")
    assert (f.journey.units.time_unit, f.journey.units.currency) == ("quarter", "EUR")


def test_explicit_currency_and_locale_reach_every_journey_of_the_fit(tmp_path):
    f = _fit(
        _dated_log(),
        currency="EUR",
        locale="de_DE",
        value_columns={"revenue": "mrr"},
        unvalued="zero",
    )
    units = f.journey.units
    assert (units.time_unit, units.currency, units.locale) == ("month", "EUR", "de_DE")
    assert all(j.units == units for j in f.sample(3, seed=1))
    assert pickle.loads(pickle.dumps(f)).journey.units == units
    # The CLV is written in euros, German style: "1.234,56 €".
    assert "€" in repr(f.journey.analyze(12))
    # The model file keeps them.
    js.save(f.journey, tmp_path / "fitted.yaml")
    text = (tmp_path / "fitted.yaml").read_text()
    assert "time_unit: month" in text and "currency: EUR" in text
    assert js.load(tmp_path / "fitted.yaml").units == units


def test_the_continuous_model_carries_units_too():
    log = _dated_log()
    g = js.fit(
        log,
        customer="account_id",
        time="date",
        period="M",
        absorbing=["churned"],
        model="continuous",
        currency="USD",
    )
    assert (g.journey.units.time_unit, g.journey.units.currency) == ("month", "USD")
    assert g.sample(1, seed=0)[0].units == g.journey.units
    assert pickle.loads(pickle.dumps(g)).journey.units == g.journey.units


@pytest.mark.parametrize(
    ("kw", "key", "message"),
    [
        ({"currency": "EURO"}, "currency", "ISO 4217"),
        ({"currency": 978}, "currency", "ISO 4217"),
        ({"locale": "xx_XX"}, "locale", "unknown locale"),
        ({"time_unit": "fortnight"}, "time_unit", "time_unit must be one of"),
        ({"time_unit": "week"}, "time_unit", "contradicts period='M'"),
    ],
)
def test_bad_units_are_an_input_error_naming_the_key(kw, key, message):
    with pytest.raises(js.InputError, match=message) as err:
        _fit(_dated_log(), **kw)
    assert err.value.key == (key,)


def test_report_and_check_speak_months_and_money():
    f = _fit(
        _dated_log(), currency="USD", value_columns={"revenue": "mrr"}, unvalued="zero"
    )
    page = fit_report(f)
    assert "one month later" in page and "per account per month" in page
    assert re.search(r"<td>\$110</td>", page)  # paying: (100 + 120) / 2
    ax = f.check().plot()
    assert ax.get_xlabel() == "tenure (months)"


# -- values per segment ------------------------------------------------------


def _segment_log() -> pd.DataFrame:
    # smb: account 1 pays 10, 20 in a, 5 in b; account 2 pays 30 in a, 7 in b.
    # ent: account 3 pays 40, 60 in a; account 4 pays 100, 120 in a (no b).
    return pd.DataFrame(
        {
            "customer": [1, 1, 1, 2, 2, 3, 3, 4, 4],
            "period": [0, 1, 2, 0, 1, 0, 1, 0, 1],
            "stage": ["a", "a", "b", "a", "b", "a", "a", "a", "a"],
            "plan": ["smb"] * 5 + ["ent"] * 4,
            "mrr": [10.0, 20.0, 5.0, 30.0, 7.0, 40.0, 60.0, 100.0, 120.0],
            "nps": [np.nan, 8.0, np.nan, 6.0, 2.0, np.nan, 10.0, 9.0, np.nan],
        }
    )


def test_values_per_segment_by_hand():
    f = js.fit(
        _segment_log(),
        kind="snapshots",
        segment="plan",
        absorbing=["b"],
        value_columns={"revenue": "mrr"},
        score_columns={"nps": "nps"},
    )
    v = f.value_summary()
    assert v.index.names == ["name", "segment", "stage"]
    # ent, stage a: mean (40 + 60 + 100 + 120) / 4 = 80; account totals 100
    # and 220 over 2 periods each: residuals -60, 60; SE^2 = 2/1 x 7200 / 16.
    ent = v.loc[("revenue", "ent", "a")]
    assert (ent["estimate"], ent["std_error"]) == pytest.approx((80.0, 30.0))
    assert (ent["accounts"], ent["periods"], ent["pooled"]) == (2, 4, False)
    # smb, stage a: (10 + 20 + 30) / 3 = 20; totals 30, 30 over 2, 1 periods:
    # residuals -10, 10; SE^2 = 2 x 200 / 9.
    smb = v.loc[("revenue", "smb", "a")]
    assert smb["estimate"] == pytest.approx(20.0)
    assert smb["std_error"] == pytest.approx(np.sqrt(400 / 9))
    from scipy.stats import t

    assert smb["high"] == pytest.approx(20 + t.ppf(0.975, 1) * np.sqrt(400 / 9))
    # ent was never in b: it takes the estimate over all accounts, (5 + 7) / 2.
    borrowed = v.loc[("revenue", "ent", "b")]
    assert borrowed["pooled"] and borrowed["estimate"] == pytest.approx(6.0)
    assert borrowed["accounts"] == 0
    # Over all accounts: 380 / 7 in a; scores only over all accounts.
    assert v.loc[("revenue", "all", "a"), "estimate"] == pytest.approx(380 / 7)
    # (8 + 6 + 10 + 9) / 4 answers in a.
    assert v.loc[("nps", "all", "a"), "estimate"] == pytest.approx(8.25)
    assert ("nps", "ent", "a") not in v.index
    # The journey's segments earn their own MRR.
    spec = f.journey.to_spec()
    assert spec["segments"]["ent"]["values"]["revenue"]["a"] == pytest.approx(80.0)
    assert spec["segments"]["smb"]["values"]["revenue"]["a"] == pytest.approx(20.0)
    # One period from stage a, value at the start of it: each segment's MRR.
    per = f.journey.analyze(1, accrual="start").segments
    assert per["ent"].clv == pytest.approx(80.0)
    assert per["smb"].clv == pytest.approx(20.0)


def test_segment_draws_share_the_borrowed_draw_over_all_accounts():
    f = js.fit(
        _segment_log(),
        kind="snapshots",
        segment="plan",
        absorbing=["b"],
        value_columns={"revenue": "mrr"},
    )
    ent_a, smb_b, all_b = [], [], []
    for j in f.sample(200, seed=2):
        per = j.analyze(1, accrual="start").segments
        ent = j.to_spec()["segments"]["ent"]["values"]["revenue"]
        # ent's b is the draw over all accounts: the journey's own (the
        # segment names only what differs from it).
        assert "b" not in ent
        ent_a.append(per["ent"].clv)
        smb_b.append(j.to_spec()["segments"]["smb"]["values"]["revenue"]["b"])
        all_b.append(j.to_spec()["values"]["revenue"]["b"])
    assert np.std(ent_a) > 10  # drawn: se 30, t with 1 degree of freedom
    assert np.std(smb_b) > 0.1 and np.std(all_b) > 0.1
    assert not np.allclose(smb_b, all_b)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"tenure": [0, 1]}, r"values with tenure=.*with_transitions"),
        ({"model": "continuous", "kind": "changes"}, r"model='continuous'.*discrete"),
        ({"client": object()}, r"values with client=.*without client="),
    ],
)
def test_unsupported_value_fits_say_what_to_do(kw, message):
    with pytest.raises(js.FitError, match=message):
        js.fit(
            _segment_log(),
            **{"kind": "snapshots", "value_columns": {"revenue": "mrr"}, **kw},
        )


# -- the rules file and the command line ---------------------------------------

STAGES_YAML = """\
account: account_id
time: month
period: M
catch_all: active
rules:
  - {stage: churned, when: cancelled_at <= period_end, terminal: true}
  - {stage: at_risk, when: health_score < 40}
values:
  revenue: mrr
units:
  currency: EUR
  locale: de_DE
"""


@pytest.fixture(scope="module")
def export_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "accounts.csv"
    js.datasets.saas_accounts(150, 12, seed=5).to_csv(path, index=False)
    return path


def _cli(export_csv, tmp_path, yaml: str, *extra: str) -> int:
    (tmp_path / "stages.yaml").write_text(yaml)
    return cli_main(
        [
            "fit",
            str(export_csv),
            "--rules",
            str(tmp_path / "stages.yaml"),
            "--out",
            str(tmp_path / "journey.yaml"),
            *extra,
        ]
    )


def test_rules_file_units_reach_the_model_file(export_csv, tmp_path, capsys):
    spec = read_rules(_write(tmp_path, STAGES_YAML))
    assert (spec.time_unit, spec.currency, spec.locale) == (None, "EUR", "de_DE")
    assert _cli(export_csv, tmp_path, STAGES_YAML) == 0, capsys.readouterr().err
    j = js.load(tmp_path / "journey.yaml")
    assert (j.units.time_unit, j.units.currency, j.units.locale) == (
        "month",
        "EUR",
        "de_DE",
    )


def test_cli_flags_win_over_the_rules_file(export_csv, tmp_path, capsys):
    code = _cli(export_csv, tmp_path, STAGES_YAML, "--currency", "GBP")
    assert code == 0, capsys.readouterr().err
    j = js.load(tmp_path / "journey.yaml")
    assert (j.units.currency, j.units.locale) == ("GBP", "de_DE")


def test_cli_flags_on_a_plain_log(tmp_path, capsys):
    log = _dated_log().drop(columns="mrr")
    log.to_csv(tmp_path / "log.csv", index=False)
    code = cli_main(
        [
            "fit",
            str(tmp_path / "log.csv"),
            "--customer",
            "account_id",
            "--time",
            "date",
            "--period",
            "M",
            "--absorbing",
            "churned",
            "--currency",
            "usd",
            "--out",
            str(tmp_path / "j.yaml"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    j = js.load(tmp_path / "j.yaml")
    assert (j.units.time_unit, j.units.currency) == ("month", "USD")


@pytest.mark.parametrize(
    ("yaml", "extra", "message"),
    [
        (STAGES_YAML, ("--currency", "EURO"), r"^journeysim: error: --currency: .*"),
        (STAGES_YAML, ("--locale", "xx"), r"--locale: unknown locale 'xx'"),
        (STAGES_YAML, ("--time-unit", "week"), r"time_unit='week' contradicts"),
        (
            STAGES_YAML.replace("currency: EUR", "currency: EURO"),
            (),
            r"stages.yaml:11: units.currency: currency must be an ISO 4217",
        ),
        (
            STAGES_YAML.replace("locale: de_DE", "time_unit: week"),
            (),
            r"stages.yaml:12: units.time_unit: time_unit='week' contradicts",
        ),
        (
            STAGES_YAML.replace("locale: de_DE", "money: EUR"),
            (),
            r"stages.yaml:12: units.money: unknown key 'money'",
        ),
        (
            STAGES_YAML.replace("  currency: EUR\n  locale: de_DE\n", "  - EUR\n"),
            (),
            r"stages.yaml:10: units: units: is a mapping",
        ),
    ],
)
def test_bad_units_exit_2_in_one_line(
    export_csv, tmp_path, capsys, yaml, extra, message
):
    code = _cli(export_csv, tmp_path, yaml, *extra)
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert re.search(message, err), err
    assert not (tmp_path / "journey.yaml").exists()


def _write(tmp_path, text: str):
    path = tmp_path / "stages.yaml"
    path.write_text(text)
    return path


def test_cohort_tables_take_the_time_unit_of_integer_periods():
    log = _dated_log().assign(t=[0, 1, 2, 0, 1, 0])
    kw = dict(customer="account_id", time="t", absorbing=["churned"])
    assert js.cohort_table(log, period=1, **kw).retention.columns.name == (
        "periods since signup"
    )
    t = js.cohort_table(log, period=1, time_unit="month", **kw)
    assert t.retention.columns.name == "months since signup"
    assert t.retention.index.name == "signup month"
    with pytest.raises(js.InputError, match="contradicts") as err:
        js.cohort_table(log, period="M", time_unit="week", **{**kw, "time": "date"})
    assert err.value.key == ("time_unit",)
