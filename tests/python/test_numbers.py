"""Numbers for people (issue 14): money, percentages, durations and plain
numbers in the journey's units and locale, by Babel, never in scientific
notation. Each expected text is written out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

import journeysim as js
from journeysim._base.units import Units
from journeysim.plans.tables import heading
from journeysim.view.numbers import duration, money, number, percent, points

USD = Units("month", "USD")
EUR_DE = Units("month", "EUR", "de_DE")
SEK_SV = Units("month", "SEK", "sv_SE")
PLAIN = Units()


@pytest.mark.parametrize(
    ("x", "units", "kwargs", "expected"),
    [
        (1e9, USD, {}, "$1,000,000,000"),
        (1e9, USD, {"compact": True}, "$1B"),
        (3.227e7, USD, {"compact": True}, "$32.3M"),
        (16516.3, USD, {}, "$16,516"),
        (-1234.4, USD, {}, "-$1,234"),
        (-1234.4, EUR_DE, {}, "-1.234\xa0€"),
        (0.5, USD, {}, "$0.50"),
        (1e-3, USD, {}, "$0.00"),
        (float("nan"), USD, {}, "–"),
        (np.float64(2500.0), USD, {}, "$2,500"),
        (16516.3, PLAIN, {}, "16,516"),  # no currency: a plain number
        (1e300, USD, {}, "$1×10³⁰⁰"),
    ],
)
def test_money(x, units, kwargs, expected):
    assert money(x, units, **kwargs) == expected


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (0.8615, "86.2%"),
        (1.063, "106.3%"),
        (0.0, "0.0%"),
        (1e-9, "≈0%"),
        (-0.0, "0.0%"),
        (float("nan"), "–"),
    ],
)
def test_percent(x, expected):
    assert percent(x, USD) == expected


@pytest.mark.parametrize(
    ("x", "units", "kwargs", "expected"),
    [
        # Retention 61.2% against 60.5%: 0.7 points, not "+0.7%".
        (0.612 - 0.605, USD, {}, "+0.7 pts"),
        (-0.0325, USD, {}, "-3.2 pts"),
        (0.0367, USD, {"decimals": 2}, "+3.67 pts"),
        (0.0, USD, {}, "0.0 pts"),
        (-0.0, USD, {}, "0.0 pts"),
        (np.float64(0.0), EUR_DE, {}, "0,0 pts"),
        (1e-9, USD, {}, "≈0 pts"),  # something, but less than a tenth of a point
        (-1e-9, USD, {}, "≈0 pts"),
        (0.0004, USD, {"decimals": 2}, "+0.04 pts"),
        (0.05, USD, {"decimals": 0}, "+5 pts"),
        (2.5, USD, {}, "+250.0 pts"),  # NRR 350% against 100%
        (12.345, USD, {}, "+1,234.5 pts"),
        (12.345, EUR_DE, {}, "+1.234,5 pts"),
        (-0.0325, EUR_DE, {}, "-3,2 pts"),
        (-0.0325, SEK_SV, {}, "\u22123,2 pts"),  # Swedish writes a true minus
        (12.345, SEK_SV, {}, "+1\xa0234,5 pts"),
        (1e20, USD, {}, "+1×10²² pts"),
        (float("nan"), USD, {}, "–"),
        (math.inf, USD, {}, "+∞ pts"),
        (-math.inf, USD, {}, "-∞ pts"),
    ],
)
def test_points(x, units, kwargs, expected):
    assert points(x, units, **kwargs) == expected


def test_points_are_not_percent():
    # The same difference, as a relative change and as points.
    assert percent(0.007, USD) == "0.7%"
    assert points(0.007, USD) == "+0.7 pts"
    assert points("n/a", USD) == "n/a" and points(True, USD) == "True"


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (30.235, "30.2 months"),
        (1.0, "1 month"),
        (12, "12 months"),
        (math.inf, "never"),
        (1e-3, "0 months"),
    ],
)
def test_duration(x, expected):
    assert duration(x, USD) == expected


def test_no_scientific_notation_anywhere_in_the_range():
    for e in range(-30, 300, 7):
        for f in (number, lambda v, u: money(v, USD), percent, points, duration):
            text = f(1.2345 * 10.0**e, USD)
            assert "e+" not in text and "e-" not in text, (e, text)


def test_headings_carry_the_unit():
    assert heading("retention at 36", USD) == "retention at 36 months"
    assert heading("nps at 12 diff", USD) == "nps at 12 months: difference"
    assert heading("CLV diff", USD) == "CLV: difference"
    # A paired difference of shares says it is in percentage points.
    pts = "retention at 24 months: difference, pts"
    assert heading("retention at 24 diff", USD) == pts
    assert heading("first-year NRR diff", USD) == "first-year NRR: difference, pts"
    assert heading("retention at 1", USD) == "retention at 1 month"
    assert heading("CLV", USD) == "CLV"


def test_units_are_checked_and_kept_by_model_files():
    j = js.Journey(
        ["a", "b"],
        {"a": {"b": 0.1}},
        time_unit="quarter",
        currency="eur",
        locale="de_DE",
        scores={"csat": {"a": 4.5}},
    )
    assert j.units == Units("quarter", "EUR", "de_DE")
    assert j.units.year == 4
    back = js.loads(js.dumps(j)).journey
    assert back.units == j.units
    assert back.scores.loc["a", "csat"] == 4.5 and math.isnan(
        back.scores.loc["b", "csat"]
    )
    for bad, match in [
        ({"currency": "XYZ"}, "ISO 4217"),
        ({"time_unit": "months"}, "time_unit must be one of"),
        ({"locale": "zz"}, "unknown locale"),
        ({"scores": {"nps": {"c": 1}}}, "unknown stage 'c'"),
        ({"scores": {"nps": {"a": float("inf")}}}, "finite number"),
    ]:
        with pytest.raises(ValueError, match=match):
            js.Journey(["a", "b"], {"a": {"b": 0.1}}, **bad)


def test_compare_gives_each_plans_score_at_the_horizons():
    j = js.default_journey()
    plans = js.default_plans()
    c = js.compare(j, plans, periods=24, horizons=[12, 24])
    for p in c.summary.index:
        a = c.results[p]
        assert c.summary.loc[p, "nps at 12"] == pytest.approx(a.scores["nps"].iloc[12])
        assert c.summary.loc[p, "nps at 24"] == pytest.approx(a.scores["nps"].iloc[24])
    m = js.compare(j, plans, periods=24, horizons=[12, 24], customers=20_000, seed=4)
    # A satisfaction average over 20,000 customers: within a point of exact.
    np.testing.assert_allclose(m.summary["nps at 24"], c.summary["nps at 24"], atol=1.0)
    assert "nps at 24 months" in repr(c)
