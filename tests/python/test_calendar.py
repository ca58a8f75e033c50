"""Calendar time: arrivals by signup period, outcomes on a PeriodIndex, and
cohort tables (observed from an event log, projected by a journey).

Dated arrivals give the integer arrivals' numbers exactly; cohort retention
equals counts made by hand; a simulated log's cohort retention is the journey's
retention curve within Monte Carlo error."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import journeysim as js

approx = pytest.approx


def _journey(**kwargs) -> js.Journey:
    kw = {
        "stages": ["active", "churned"],
        "transitions": {"active": {"churned": 0.1}},
        "values": {"revenue": {"active": 100.0}},
        "time_unit": "month",
        "currency": "USD",
        "cohort_size": 100,
        **kwargs,
    }
    return js.Journey(**kw)


ARRIVALS = [10.0, 20.0, 30.0, 0.0, 5.0]


def _dated(freq: str = "M", start: str = "2026-01") -> pd.Series:
    return pd.Series(
        ARRIVALS, index=pd.period_range(start, periods=len(ARRIVALS), freq=freq)
    )


def test_dated_arrivals_are_the_integer_arrivals_on_a_period_index():
    plain = _journey(arrivals=ARRIVALS).analyze(12)
    dated = _journey(arrivals=_dated()).analyze(12)
    for name in (
        "occupancy",
        "population",
        "value_by_period",
        "population_value_by_period",
        "population_entries",
        "entries",
    ):
        a, b = getattr(plain, name), getattr(dated, name)
        np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
        assert isinstance(b.index, pd.PeriodIndex)
    for name in ("retention", "hazard", "value_reached"):
        np.testing.assert_array_equal(
            getattr(plain, name).to_numpy(), getattr(dated, name).to_numpy()
        )
    assert dated.clv == plain.clv
    # t = 0 is the first signup period; period k = 1.. is labelled by the
    # calendar period it happens in, the same as the state it starts from.
    assert str(dated.occupancy.index[0]) == "2026-01"
    assert str(dated.occupancy.index[-1]) == "2027-01"
    assert str(dated.value_by_period.index[0]) == "2026-01"
    assert len(dated.value_by_period) == 12
    # January's 10 signups are counted from the start of February.
    assert dated.population.loc[pd.Period("2026-02", "M")].sum() == approx(110)


def test_the_integer_default_is_unchanged():
    a = _journey(arrivals=ARRIVALS).analyze(6)
    assert isinstance(a.occupancy.index, pd.RangeIndex)
    assert list(a.retention.index) == list(range(7))
    assert a.start is None


@pytest.mark.parametrize(
    ("unit", "freq", "start"),
    [
        ("day", "D", "2026-01-30"),
        ("week", "W", "2026-01-05"),
        ("quarter", "Q", "2026Q1"),
        ("year", "Y", "2026"),
    ],
)
def test_start_in_each_time_unit(unit, freq, start):
    a = _journey(time_unit=unit).analyze(3, start=start)
    assert list(a.retention.index) == list(pd.period_range(start, periods=4, freq=freq))
    b = _journey(time_unit=unit, arrivals=_dated(freq, start)).analyze(3)
    assert b.retention.index.equals(a.retention.index)


def test_segments_and_plots_carry_the_calendar():
    j = _journey(segments={"a": {"share": 0.5}, "b": {"share": 0.5}}, arrivals=_dated())
    a = j.analyze(6)
    assert isinstance(a.segments["a"].occupancy.index, pd.PeriodIndex)
    assert a.plot_retention() is not None
    assert a.plot_occupancy() is not None
    assert float(a.summary()["retention at 3 months"]) == approx(0.9**3)


def _error(match: str):
    return pytest.raises(js.InputError, match=re.escape(match))


@pytest.mark.parametrize(
    ("arrivals", "message"),
    [
        (_dated("W"), "indexed by 'W-SUN' periods but the journey counts in months"),
        (
            pd.Series([1, 2], index=pd.PeriodIndex(["2026-01", "2026-03"], freq="M")),
            "no entry between 2026-01 and 2026-03",
        ),
        (
            pd.Series([1, 2], index=pd.PeriodIndex(["2026-02", "2026-01"], freq="M")),
            "not in order (at 2026-01)",
        ),
        (
            pd.Series([1, 2], index=pd.PeriodIndex(["2026-01", "2026-01"], freq="M")),
            "2026-01 appears more than once",
        ),
        (
            pd.Series([1, 2], index=pd.date_range("2026-01-01", periods=2, freq="MS")),
            "need a PeriodIndex of signup periods",
        ),
        (
            pd.Series([], index=pd.PeriodIndex([], freq="M"), dtype=float),
            "the Series is empty",
        ),
    ],
)
def test_bad_dated_arrivals_are_named(arrivals, message):
    with _error(message):
        _journey(arrivals=arrivals)


def test_bad_starts_are_named():
    with _error("needs a calendar time unit"):
        _journey(time_unit="period", arrivals=_dated())
    with _error("start must be a date or period such as '2026-01', got 'soon'"):
        _journey().analyze(3, start="soon")
    with _error("start must be a date or period"):
        _journey().analyze(3, start=5)
    with _error("is a 'D' period but the journey counts in months"):
        _journey().analyze(3, start=pd.Period("2026-01-01", "D"))
    with _error("differs from the first signup period"):
        _journey(arrivals=_dated()).analyze(3, start="2026-02")
    with _error("start needs a calendar time unit"):
        _journey(time_unit="period").analyze(3, start="2026-01")


# -- cohort tables ---------------------------------------------------------------

LOG = pd.DataFrame(
    {
        "account": ["a", "a", "b", "b", "c", "d", "d", "e"],
        "date": [
            "2026-01-05",
            "2026-03-02",
            "2026-01-20",
            "2026-02-11",
            "2026-02-03",
            "2026-02-14",
            "2026-04-01",
            "2026-03-09",
        ],
        "state": [
            "active",
            "churned",
            "active",
            "churned",
            "active",
            "active",
            "churned",
            "active",
        ],
    }
)


def test_cohort_retention_equals_hand_counts():
    t = js.cohort_table(
        LOG,
        customer="account",
        time="date",
        stage="state",
        period="M",
        absorbing=["churned"],
    )
    # January: a (lost in March, age 2) and b (lost in February, age 1).
    # February: c (never lost), d (lost in April, age 2). March: e.
    # The log ends in April: January is seen to age 3, February to 2, March 1.
    nan = np.nan
    expected = [[2, 1, 0, 0], [2, 2, 1, nan], [1, 1, nan, nan]]
    np.testing.assert_array_equal(t.customers.to_numpy(), expected)
    np.testing.assert_array_equal(
        t.retention.to_numpy(),
        [[1, 0.5, 0, 0], [1, 1, 0.5, nan], [1, 1, nan, nan]],
    )
    assert list(t.sizes) == [2, 2, 1]
    assert [str(p) for p in t.retention.index] == ["2026-01", "2026-02", "2026-03"]
    assert t.retention.index.name == "signup month"
    assert t.retention.columns.name == "months since signup"
    ax = t.plot()
    assert ax.get_xlabel() == "months since signup"
    assert "Observed retention" in t._repr_html_()


def test_snapshot_logs_count_only_customers_still_seen():
    # Integer periods; x seen at 0, 1 then nothing (censored after 1); y lost
    # at 2; z joins at 1 and is seen to 3.
    log = pd.DataFrame(
        {
            "customer": ["x", "x", "y", "y", "y", "z", "z", "z"],
            "period": [0, 1, 0, 1, 2, 1, 2, 3],
            "stage": ["on", "on", "on", "on", "lost", "on", "on", "on"],
        }
    )
    t = js.cohort_table(log, kind="snapshots", absorbing=["lost"])
    nan = np.nan
    np.testing.assert_array_equal(t.observed.to_numpy(), [[2, 2, 1, 1], [1, 1, 1, nan]])
    np.testing.assert_array_equal(
        t.retention.to_numpy(), [[1, 1, 0, 0], [1, 1, 1, nan]]
    )
    changes = js.cohort_table(log, absorbing=["lost"])  # x stays "on" to 3
    np.testing.assert_array_equal(
        changes.retention.to_numpy(), [[1, 1, 0.5, 0.5], [1, 1, 1, nan]]
    )


def test_a_simulated_log_has_the_journeys_retention():
    j = _journey()
    log = j.simulate(20_000, 12, seed=3, record="events").stage_log()
    t = js.cohort_table(log, absorbing=["churned"], end=12)
    r = t.retention.iloc[0].to_numpy()
    exact = 0.9 ** np.arange(13)
    se = np.sqrt(exact * (1 - exact) / 20_000)
    assert np.all(np.abs(r - exact) <= 4 * se + 1e-12)


def test_projected_cohort_table_by_hand():
    j = _journey(
        arrivals=pd.Series(
            [10.0, 20.0], index=pd.period_range("2026-01", periods=2, freq="M")
        )
    )
    t = js.cohort_table(j, periods=3)
    nan = np.nan
    # The starting cohort (100, t = 0) signed up before January; January's 10
    # join at t = 1, February's 20 at t = 2; each retains 0.9 a month.
    np.testing.assert_allclose(
        t.customers.to_numpy(),
        [[100, 90, 81, 72.9], [10, 9, 8.1, nan], [20, 18, nan, nan]],
    )
    assert [str(p) for p in t.retention.index] == ["2025-12", "2026-01", "2026-02"]
    assert t.kind == "projected"
    plain = js.cohort_table(_journey(arrivals=[10.0, 20.0]), periods=3)
    assert list(plain.retention.index) == [0, 1, 2]
    np.testing.assert_array_equal(plain.customers.to_numpy(), t.customers.to_numpy())


def test_bad_cohort_inputs_are_named():
    with pytest.raises(js.FitError, match="needs absorbing="):
        js.cohort_table(LOG, customer="account", time="date", stage="state")
    with pytest.raises(js.FitError, match=r"unknown stage\(s\) \['churn'\]"):
        js.cohort_table(
            LOG, customer="account", time="date", stage="state", absorbing=["churn"]
        )
    with pytest.raises(js.FitError, match="kind must be"):
        js.cohort_table(LOG, absorbing=["churned"], kind="rows")
    with pytest.raises(js.FitError, match=r"no column\(s\) \['customer'\]"):
        js.cohort_table(LOG, time="date", stage="state", absorbing=["churned"])
    with pytest.raises(js.FitError, match="end is before"):
        js.cohort_table(
            LOG,
            customer="account",
            time="date",
            stage="state",
            period="M",
            absorbing=["churned"],
            end="2026-02-01",
        )
    with pytest.raises(js.InputError, match="needs a journey with arrivals"):
        js.cohort_table(_journey())
    with pytest.raises(js.InputError, match="periods must be"):
        js.cohort_table(_journey(arrivals=[1.0]), periods=0)


def test_model_files_keep_the_signup_dates():
    j = _journey(arrivals=_dated())
    text = js.dumps(j)
    assert "  arrivals:\n    2026-01: 10.0\n    2026-02: 20.0\n" in text
    back = js.loads(text).journey
    assert back == j
    assert str(back.resolved.arrivals.start) == "2026-01"
    assert isinstance(back.analyze(3).occupancy.index, pd.PeriodIndex)


@pytest.mark.parametrize(
    ("arrivals", "message"),
    [
        ("{2026-xx: 3}", "'2026-xx' is not a month such as '2026-01'"),
        ("{2026-01: -3}", "expected a number of customers >= 0"),
        ("{2026-01: 3, 2026-03: 4}", "no entry between 2026-01 and 2026-03"),
    ],
)
def test_bad_dated_arrivals_in_a_model_file_are_named(arrivals, message):
    text = (
        "format: journeysim/1\njourney:\n  stages: [active, churned]\n"
        "  transitions:\n    active: {churned: 0.1}\n  time_unit: month\n"
        f"  arrivals: {arrivals}\n"
    )
    with _error(message):
        js.loads(text)
    with _error("arrivals by date need a calendar time_unit"):
        js.loads(text.replace("time_unit: month", "time_unit: period"))


def test_comparisons_and_their_charts_read_dated_journeys():
    from journeysim.apps.report import _retention

    j = _journey(arrivals=_dated())
    save = js.Intervention("save", ("active", "churned"), relative_risk=0.5)
    c = js.compare(j, [js.Plan("save", [save])], periods=12)
    assert isinstance(c.results["save"].retention.index, pd.PeriodIndex)
    assert c.population.loc["baseline", "customers"] == approx(100 + sum(ARRIVALS))
    assert _retention(c).lstrip().startswith("<")  # an SVG, by tenure
