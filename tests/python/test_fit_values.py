"""Value streams and scores per stage estimated by fit(values=...): hand-derived
means and cluster-robust standard errors, recovery of known per-stage amounts
from a simulated journey, interval coverage over seeds, draws, and every bad
input named."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

import journeysim as js

STAGES = ["new", "active", "churned"]
MRR = {"new": 400.0, "active": 1000.0}  # the truth per account-period
COST = {"new": 150.0, "active": 60.0}
MOVES = {"new": {"active": 0.4, "churned": 0.1}, "active": {"churned": 0.05}}


def _hand_log() -> pd.DataFrame:
    # Stage a: account 1 pays 10, 20; account 2 pays 30; account 3 pays 40, 60.
    # Stage b: accounts 1 and 2 pay 5 and 7 (one period each).
    return pd.DataFrame(
        {
            "customer": [1, 1, 1, 2, 2, 3, 3],
            "period": [0, 1, 2, 0, 1, 0, 1],
            "stage": ["a", "a", "b", "a", "b", "a", "a"],
            "mrr": [10.0, 20.0, 5.0, 30.0, 7.0, 40.0, 60.0],
            "nps": [np.nan, 8.0, np.nan, 6.0, 2.0, np.nan, 10.0],
        }
    )


def test_mean_and_cluster_standard_error_by_hand():
    f = js.fit(
        _hand_log(),
        kind="snapshots",
        value_columns={"revenue": "mrr"},
        score_columns={"nps": "nps"},
    )
    v = f.value_summary(0.95)
    a = v.loc[("revenue", "a")]
    # mean = 160 / 5 = 32; account totals 30, 30, 100 over 2, 1, 2 periods:
    # residuals -34, -2, 36; SE^2 = 3/2 x (34^2 + 2^2 + 36^2) / 5^2 = 147.36.
    assert a["estimate"] == pytest.approx(32.0)
    assert a["std_error"] == pytest.approx(np.sqrt(147.36))
    assert (a["accounts"], a["periods"]) == (3, 5)
    from scipy.stats import t

    half = t.ppf(0.975, 2) * np.sqrt(147.36)
    assert (a["low"], a["high"]) == pytest.approx((32 - half, 32 + half))
    b = v.loc[("revenue", "b")]
    # 6 = (5 + 7) / 2; residuals -1, 1: SE^2 = 2 x 2 / 4 = 1.
    assert (b["estimate"], b["std_error"]) == pytest.approx((6.0, 1.0))
    # NPS: answered account-periods only (8, 6, 10 in a; 2 in b).
    assert v.loc[("nps", "a"), "estimate"] == pytest.approx(8.0)
    assert v.loc[("nps", "b"), "accounts"] == 1
    assert np.isnan(v.loc[("nps", "b"), "std_error"])  # one account: no spread
    j = f.journey
    spec = j.to_spec()
    assert spec["values"]["revenue"] == {"a": 32.0, "b": 6.0}
    assert j.scores["nps"].tolist() == pytest.approx([8.0, 2.0])


def test_changes_with_a_separate_frame_holds_each_stage_until_the_next_change():
    log = pd.DataFrame(
        {"customer": [1, 1, 2], "period": [0, 2, 0], "stage": ["a", "b", "a"]}
    )
    values = pd.DataFrame(
        {
            "customer": [1, 1, 1, 1, 2, 2],
            "period": [0, 1, 2, 3, 0, 1],
            "mrr": [10.0, 10.0, 50.0, 70.0, 20.0, 20.0],
        }
    )
    f = js.fit(log, values=values, value_columns={"revenue": "mrr"}, end=3)
    v = f.value_summary()["estimate"]
    assert v[("revenue", "a")] == pytest.approx(15.0)  # 10, 10, 20, 20
    assert v[("revenue", "b")] == pytest.approx(60.0)  # 50, 70


def test_rows_in_one_period_add_up_and_answers_are_averaged():
    log = pd.DataFrame(
        {
            "customer": [1, 1, 2],
            "date": pd.to_datetime(["2025-01-03", "2025-01-20", "2025-01-09"]),
            "stage": ["a", "a", "a"],
            "invoice": [100.0, 50.0, 30.0],
            "csat": [4.0, 2.0, np.nan],
        }
    )
    f = js.fit(
        log,
        time="date",
        period="M",
        kind="snapshots",
        value_columns={"revenue": "invoice"},
        score_columns={"csat": "csat"},
    )
    v = f.value_summary()
    assert v.loc[("revenue", "a"), "estimate"] == pytest.approx(90.0)  # 150, 30
    assert v.loc[("revenue", "a"), "periods"] == 2
    assert v.loc[("csat", "a"), "estimate"] == pytest.approx(3.0)


def _simulated(seed: int, customers: int, periods: int):
    """A stage log from the journey and one value row per customer-period in a
    live stage: MRR = the stage's truth x an account factor (mean 1) x noise."""
    j = js.Journey(STAGES, MOVES)
    log = j.simulate(customers, periods, seed=seed, record="events").stage_log()
    cust = log["customer"].to_numpy()
    start = log["period"].to_numpy()
    code = log["stage"].cat.codes.to_numpy()
    nxt = np.r_[start[1:], 0]
    last = np.r_[cust[1:] != cust[:-1], True]
    nxt[last] = periods + 1
    live = code != STAGES.index("churned")
    span = np.where(live, nxt - start, 0)
    rows = np.repeat(np.arange(len(log)), span)
    offset = np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
    rng = np.random.default_rng(seed + 1000)
    factor = rng.lognormal(-0.045, 0.3, customers)  # mean 1
    stage = np.array(STAGES)[code[rows]]
    mu = np.array([MRR[s] for s in stage])
    cost = np.array([COST[s] for s in stage])
    frame = pd.DataFrame(
        {
            "customer": cust[rows],
            "period": start[rows] + offset,
            "stage": stage,
            "mrr": mu * factor[cust[rows]] * rng.normal(1, 0.05, len(rows)),
            "support": cost * rng.gamma(4.0, 0.25, len(rows)),
        }
    )
    return log, frame


@pytest.mark.parametrize("kind", ["changes", "snapshots"])
def test_recovers_known_per_stage_mrr_within_two_percent(kind):
    log, frame = _simulated(seed=5, customers=3000, periods=24)
    columns = {"revenue": "mrr", "cost_to_serve": "support"}
    common = dict(stages=STAGES, absorbing=["churned"], end=24)
    if kind == "changes":
        f = js.fit(log, values=frame, value_columns=columns, **common)
    else:
        f = js.fit(frame, kind="snapshots", value_columns=columns, **common)
    v = f.value_summary()["estimate"]
    for s in ("new", "active"):
        assert v[("revenue", s)] == pytest.approx(MRR[s], rel=0.02)
        assert v[("cost_to_serve", s)] == pytest.approx(COST[s], rel=0.02)
    assert v[("revenue", "churned")] == 0.0  # absorbing, no rows: earns nothing
    assert f.journey.streams == ["revenue", "cost_to_serve"]


def test_intervals_cover_the_truth_at_about_the_nominal_rate():
    hits = []
    for seed in range(40):
        log, frame = _simulated(seed=seed, customers=300, periods=12)
        f = js.fit(
            log,
            values=frame,
            value_columns={"revenue": "mrr", "cost_to_serve": "support"},
            stages=STAGES,
            absorbing=["churned"],
            end=12,
        )
        v = f.value_summary(0.90)
        for name, truth in (("revenue", MRR), ("cost_to_serve", COST)):
            for s, t in truth.items():
                r = v.loc[(name, s)]
                hits.append(r["low"] <= t <= r["high"])
    # 160 intervals at 90%: the rate's standard error is about 0.024.
    assert 0.83 <= np.mean(hits) <= 0.97


def test_sample_draws_values_and_keeps_the_transition_draws():
    log, frame = _simulated(seed=2, customers=400, periods=12)
    kw = dict(stages=STAGES, absorbing=["churned"], end=12)
    f = js.fit(log, values=frame, value_columns={"revenue": "mrr"}, **kw)
    plain = js.fit(log, **kw)
    draws = f.sample(400, seed=9)
    same = plain.sample(3, seed=9)
    for a, b in zip(draws[:3], same, strict=True):
        np.testing.assert_array_equal(a.transition_matrix, b.transition_matrix)
    drawn = np.array([d.to_spec()["values"]["revenue"]["active"] for d in draws])
    r = f.value_summary().loc[("revenue", "active")]
    assert drawn.mean() == pytest.approx(r["estimate"], abs=4 * r["std_error"] / 20)
    assert drawn.std() == pytest.approx(r["std_error"], rel=0.15)
    assert len(set(drawn)) == len(drawn)


def test_compare_with_fit_uncertainty_draws_the_values_too():
    # Precise rates (5,000 customers), revenue measured on 40 accounts only.
    log, frame = _simulated(seed=3, customers=5000, periods=12)
    few = frame[frame["customer"] < 40]
    kw = dict(stages=STAGES, absorbing=["churned"], end=12)
    f = js.fit(log, values=few, value_columns={"revenue": "mrr"}, **kw)
    plain = js.fit(log, **kw)
    plan = js.Plan(
        "nudge",
        [js.Intervention("nudge", at=("active", "churned"), relative_risk=0.8)],
    )
    kw = dict(periods=12, seed=4, draws=100)
    with_values = js.compare(f.journey, [plan], uncertainty=f, **kw)
    rates_only = js.compare(f.journey, [plan], uncertainty=plain, **kw)
    spread = with_values.uncertainty.loc["nudge", ["low", "high"]]
    narrow = rates_only.uncertainty.loc["nudge", ["low", "high"]]
    # The revenue's own uncertainty widens the incremental value's interval.
    assert spread["high"] - spread["low"] > 2 * (narrow["high"] - narrow["low"])


def test_pickled_fit_keeps_its_values():
    f = js.fit(_hand_log(), kind="snapshots", value_columns={"revenue": "mrr"})
    g = pickle.loads(pickle.dumps(f))
    pd.testing.assert_frame_equal(g.value_summary(), f.value_summary())
    assert g.journey.to_spec()["values"] == f.journey.to_spec()["values"]


def test_no_rows_in_a_stage_is_an_error_unless_asked_to_fall_back():
    log = pd.DataFrame(
        {"customer": [1, 1, 2], "period": [0, 1, 0], "stage": ["a", "b", "a"]}
    )
    values = pd.DataFrame({"customer": [1, 2], "period": [0, 0], "mrr": [5.0, 7.0]})
    with pytest.raises(js.FitError, match=r"no rows in stage\(s\) \['b'\]"):
        js.fit(log, kind="snapshots", values=values, value_columns={"r": "mrr"})
    f = js.fit(
        log,
        kind="snapshots",
        values=values,
        value_columns={"r": "mrr"},
        unvalued="zero",
    )
    v = f.value_summary().loc[("r", "b")]
    assert v["estimate"] == 0.0 and v["fixed"]


def _bad(**over):
    log = _hand_log().assign(text=list("abcdefg"), flag=True)
    kw = dict(kind="snapshots", value_columns={"revenue": "mrr"})
    kw.update(over)
    return js.fit(log, **kw)


@pytest.mark.parametrize(
    "over, message",
    [
        ({"value_columns": {"revenue": "arr"}}, r"no column\(s\) \['arr'\]"),
        ({"value_columns": {"revenue": "text"}}, r"'text' is not numeric.*'a'"),
        ({"value_columns": {"revenue": "flag"}}, r"'flag' is not numeric"),
        ({"value_columns": {"revenue": "nps"}}, r"3 missing value\(s\)"),
        ({"value_columns": ["mrr"]}, "must be a dict"),
        ({"value_columns": {"x": "mrr"}, "score_columns": {"x": "nps"}}, "both"),
        ({"unvalued": "guess"}, "unvalued must be one of"),
        ({"values": _hand_log(), "value_columns": None}, "needs value_columns"),
        ({"values": "values.csv"}, "must be a pandas DataFrame"),
        ({"model": "continuous", "kind": "changes"}, "discrete model"),
    ],
)
def test_bad_inputs_are_named(over, message):
    with pytest.raises(js.FitError, match=message):
        _bad(**over)


def test_infinite_values_and_rows_without_a_stage_are_refused():
    log = _hand_log()
    with pytest.raises(js.FitError, match="infinite"):
        js.fit(
            log.assign(mrr=[1, 2, 3, 4, np.inf, 6, 7.0]),
            kind="snapshots",
            value_columns={"r": "mrr"},
        )
    other = pd.DataFrame({"customer": [9], "period": [0], "mrr": [1.0]})
    with pytest.raises(js.FitError, match=r"accounts not in the stage log.*9"):
        js.fit(log, kind="snapshots", values=other, value_columns={"r": "mrr"})
    late = pd.DataFrame({"customer": [3], "period": [5], "mrr": [1.0]})
    with pytest.raises(js.FitError, match=r"no stage in the log.*kind=.snapshots."):
        js.fit(log, kind="snapshots", values=late, value_columns={"r": "mrr"})
    early = pd.DataFrame({"customer": [1], "period": [-1], "mrr": [1.0]})
    with pytest.raises(js.FitError, match="at or before it"):
        js.fit(log, values=early, value_columns={"r": "mrr"})


def test_a_fit_without_values_says_so():
    f = js.fit(_hand_log())
    assert f.value_streams == () and f.score_names == ()
    with pytest.raises(js.FitError, match="no values"):
        f.value_summary()


def test_net_weighs_the_fitted_streams():
    log, frame = _simulated(seed=4, customers=500, periods=12)
    kw = dict(stages=STAGES, absorbing=["churned"], end=12, values=frame)
    columns = {"revenue": "mrr", "cost_to_serve": "support"}
    plus = js.fit(log, value_columns=columns, **kw)
    net = js.fit(
        log, value_columns=columns, net={"revenue": 1, "cost_to_serve": -1}, **kw
    )
    a, b = plus.journey.analyze(12), net.journey.analyze(12)
    cost = a.value["cost_to_serve"]
    # CLV with costs counted against it: 2 x the cost less than with +1 each.
    assert b.clv == pytest.approx(a.clv - 2 * cost)
    assert net.sample(2, seed=1)[1].to_spec()["net"]["cost_to_serve"] == -1.0
    with pytest.raises(js.FitError, match=r"net: \['margin'\] are not value streams"):
        js.fit(log, value_columns=columns, net={"margin": 1}, **kw)
    with pytest.raises(js.FitError, match="give value_columns"):
        js.fit(log, stages=STAGES, absorbing=["churned"], net={"revenue": 1})
