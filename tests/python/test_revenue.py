"""Customer-success metrics (issue 14, items 3-5): revenue retention (logo
retention, NRR, GRR, expansion, contraction, churned revenue), outcomes by
absorbing stage, the renewal rate, scores by stage, and units in the
summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pytest import approx

import journeysim as js
from journeysim._base.errors import InputError
from journeysim.warnings import InfiniteLifetimeWarning

STAGES = ["basic", "pro", "enterprise", "churned"]
PRICE = np.array([100.0, 200.0, 400.0, 0.0])
#   basic:      basic .7, pro .2,           churned .1
#   pro:        basic .1, pro .7, ent .1,   churned .1
#   enterprise:           pro .2, ent .8
ROWS = {
    "basic": {"pro": 0.2, "churned": 0.1},
    "pro": {"basic": 0.1, "enterprise": 0.1, "churned": 0.1},
    "enterprise": {"pro": 0.2},
}
START = {"basic": 0.5, "pro": 0.3, "enterprise": 0.2}
REVENUE = {"basic": 100.0, "pro": 200.0, "enterprise": 400.0}


def tiers(**kw) -> js.Journey:
    rows = kw.pop("transitions", ROWS)
    args = {"values": {"revenue": REVENUE}, "start": START, "time_unit": "month"}
    args.update(kw)
    return js.Journey(STAGES, rows, **args)


def brute_force(x, m, v0, v1, absorbing):
    """Sums over every (start i, end j) pair of the joint distribution
    J = diag(x) M, one pair at a time: an independent check of the
    level-grouped propagation in results/revenue.py."""
    s = dict.fromkeys(["ret0", "ret1", "v0", "v1", "cap", "exp", "con", "churn"], 0.0)
    for i in range(len(x)):
        if absorbing[i] or x[i] == 0:
            continue
        s["ret0"] += x[i]
        s["v0"] += x[i] * v0[i]
        for j in range(len(x)):
            p = x[i] * m[i, j]
            if absorbing[j]:
                s["churn"] += p * v0[i]
                continue
            s["ret1"] += p
            s["v1"] += p * v1[j]
            s["cap"] += p * min(v1[j], v0[i])
            s["exp"] += p * max(v1[j] - v0[i], 0.0)
            s["con"] += p * max(v0[i] - v1[j], 0.0)
    return s


def ratios(s) -> dict[str, float]:
    return {
        "logo_retention": s["ret1"] / s["ret0"],
        "nrr": s["v1"] / s["v0"],
        "grr": s["cap"] / s["v0"],
        "expansion": s["exp"] / s["v0"],
        "contraction": s["con"] / s["v0"],
        "churned": s["churn"] / s["v0"],
    }


COLUMNS = ["logo_retention", "nrr", "grr", "expansion", "contraction", "churned"]


def check_identities(r: pd.DataFrame) -> None:
    np.testing.assert_allclose(
        r["nrr"], 1 + r["expansion"] - r["contraction"] - r["churned"], atol=1e-13
    )
    np.testing.assert_allclose(
        r["grr"], 1 - r["contraction"] - r["churned"], atol=1e-13
    )


# -- revenue retention -----------------------------------------------------------------


def test_nrr_grr_by_hand_on_three_revenue_levels():
    # x0 = (.5, .3, .2, 0); starting revenue E[v0] = 50 + 60 + 80 = 190.
    # P² rows (basic, pro, enterprise, churned):
    #   basic: .49+.02 = .51, .14+.14 = .28, .2*.1 = .02,  .1+.07+.02 = .19
    #   pro:   .07+.07 = .14, .02+.49+.02 = .53, .07+.08 = .15, .01+.07+.1 = .18
    #   ent:   .2*.1 = .02,  .14+.16 = .30, .02+.64 = .66,  .2*.1 = .02
    # Revenue at t = 2 from each start:
    #   basic 51 + 56 + 8 = 115; pro 14 + 106 + 60 = 180; ent 2 + 60 + 264 = 326
    #   E[v1] = .5*115 + .3*180 + .2*326 = 57.5 + 54 + 65.2 = 176.7
    # Capped at the start level:
    #   basic (cap 100): (.51 + .28 + .02) * 100 = 81
    #   pro (cap 200): .14*100 + (.53 + .15) * 200 = 150
    #   ent (cap 400): 326
    #   E[min] = 40.5 + 45 + 65.2 = 150.7
    # expansion: basic .28*100 + .02*300 = 34; pro .15*200 = 30 -> 17 + 9 = 26
    # contraction: pro .14*100 = 14; ent .02*300 + .30*200 = 66 -> 4.2 + 13.2 = 17.4
    # churned: basic .19*100, pro .18*200, ent .02*400 -> 9.5 + 10.8 + 1.6 = 21.9
    # logo: 1 - (.5*.19 + .3*.18 + .2*.02) = 1 - .153 = .847
    a = tiers().analyze(periods=4)
    r = a.revenue_retention(every=2)
    assert list(r.index) == ["months 0–2", "months 2–4"]
    assert r.index.name == "span"
    assert r[["start", "end"]].values.tolist() == [[0, 2], [2, 4]]
    first = r.loc["months 0–2"]
    assert first["nrr"] == approx(176.7 / 190, rel=1e-12)
    assert first["grr"] == approx(150.7 / 190, rel=1e-12)
    assert first["expansion"] == approx(26 / 190, rel=1e-12)
    assert first["contraction"] == approx(17.4 / 190, rel=1e-12)
    assert first["churned"] == approx(21.9 / 190, rel=1e-12)
    assert first["logo_retention"] == approx(0.847, rel=1e-12)
    check_identities(r)


def test_a_later_span_is_the_joint_distribution_of_its_own_start():
    # months 2-4: x2 = x0 P², then J = diag(x2) P², every pair summed.
    j = tiers()
    r = j.analyze(periods=4).revenue_retention(every=2)
    P = j.transition_matrix.to_numpy()
    x2 = np.array([0.5, 0.3, 0.2, 0.0]) @ P @ P
    expect = ratios(brute_force(x2, P @ P, PRICE, PRICE, [0, 0, 0, 1]))
    assert r.loc["months 2–4", COLUMNS].to_dict() == approx(expect, rel=1e-12)


def test_tenure_dependent_values_and_transitions():
    # Prices rise 10% from tenure 2; the matrix changes from tenure 1, inside
    # the first span: M = P(0) P(1), v0 at tenure 0, v1 at tenure 2.
    later = {**ROWS, "basic": {"pro": 0.3, "churned": 0.05}}
    uplift = {k: 1.1 * v for k, v in REVENUE.items()}
    j = tiers(
        transitions={0: ROWS, 1: later},
        values={"revenue": {0: REVENUE, 2: uplift}},
    )
    r = j.analyze(periods=4).revenue_retention(every=2)
    P0, P1 = (m.to_numpy() for m in j.transition_matrices().values())
    x0 = np.array([0.5, 0.3, 0.2, 0.0])
    expect = ratios(brute_force(x0, P0 @ P1, PRICE, 1.1 * PRICE, [0, 0, 0, 1]))
    assert r.loc["months 0–2", COLUMNS].to_dict() == approx(expect, rel=1e-12)
    x2 = x0 @ P0 @ P1
    expect = ratios(brute_force(x2, P1 @ P1, 1.1 * PRICE, 1.1 * PRICE, [0, 0, 0, 1]))
    assert r.loc["months 2–4", COLUMNS].to_dict() == approx(expect, rel=1e-12)
    check_identities(r)


def test_tenure_dependent_price_by_hand():
    # The first example with prices 10% higher from tenure 2 and one matrix:
    # E[v1] = 1.1 * 176.7 = 194.37 (NRR above 1 from price alone)
    # capped: basic 81 (110 capped at 100); pro .14*110 + .68*200 = 151.4;
    #   ent .02*110 + .30*220 + .66*400 = 332.2 -> 40.5 + 45.42 + 66.44 = 152.36
    uplift = {k: 1.1 * v for k, v in REVENUE.items()}
    j = tiers(values={"revenue": {0: REVENUE, 2: uplift}})
    first = j.analyze(periods=2).revenue_retention(every=2).iloc[0]
    assert first["nrr"] == approx(194.37 / 190, rel=1e-12)
    assert first["grr"] == approx(152.36 / 190, rel=1e-12)


def test_segments_are_computed_apart_and_mixed_by_share():
    segs = {
        "smb": {"share": 0.6, "start": {"basic": 1.0}},
        "ent": {
            "share": 0.4,
            "start": {"enterprise": 1.0},
            "transitions": {"enterprise": {"pro": 0.05, "churned": 0.01}},
            "values": {"revenue": {"enterprise": 500.0}},
        },
    }
    j = tiers(segments=segs)
    a = j.analyze(periods=6)
    r = a.revenue_retention(every=3)
    total = dict.fromkeys(["ret0", "ret1", "v0", "v1", "cap", "exp", "con", "churn"], 0)
    for name, seg in zip(j.segments, j.resolved.segments):
        P = j.transition_matrices(segment=name)[0].to_numpy()
        v = np.array([100.0, 200.0, 500.0 if name == "ent" else 400.0, 0.0])
        x3 = seg.start @ np.linalg.matrix_power(P, 3)
        s = brute_force(x3, np.linalg.matrix_power(P, 3), v, v, [0, 0, 0, 1])
        alone = a.segments[name].revenue_retention(every=3).loc["months 3–6"]
        assert alone[COLUMNS].to_dict() == approx(ratios(s), rel=1e-12)
        for k in total:
            total[k] += seg.share * s[k]
    assert r.loc["months 3–6", COLUMNS].to_dict() == approx(ratios(total), rel=1e-12)
    check_identities(r)


def test_nrr_against_simulated_customer_paths():
    # Each simulated customer's stage at t = 0 and t = 3 from the event log;
    # NRR and GRR of those paths within 4 standard errors (delta method).
    j = tiers()
    exact = j.analyze(periods=3).revenue_retention(every=3).iloc[0]
    n = 40_000
    s = j.simulate(n, 3, seed=11, record="events", progress=False)
    log = s.stage_log()
    end = log.groupby("customer")["stage"].last().cat.codes.to_numpy()
    v0 = PRICE[s.start_stage]
    v1 = PRICE[end]
    for name, y in (("nrr", v1), ("grr", np.minimum(v1, v0))):
        est = y.mean() / v0.mean()
        se = (y - est * v0).std() / (np.sqrt(n) * v0.mean())
        assert abs(est - exact[name]) < 4 * se, (name, est, exact[name], se)


def test_a_journey_with_no_revenue_in_a_span_gives_nan_not_an_error():
    j = js.Journey(
        ["a", "b", "c"],
        {"a": {"b": 0.5}, "b": {"c": 0.1}},
        values={"revenue": {"b": 10.0}},
    )
    r = j.analyze(periods=2).revenue_retention(every=1)
    # t = 0: everyone in "a", which earns nothing: NRR 0/0 is nan.
    assert np.isnan(r.iloc[0]["nrr"]) and r.iloc[0]["logo_retention"] == 1.0
    # t = 1: a .5, b .5 -> E[v0] = 5; t = 2: b holds .25 (from a) + .45 -> 7.
    assert r.iloc[1]["nrr"] == approx(7 / 5, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"stream": "arr"},
            r"unknown stream 'arr'; the journey's streams are \['revenue'\]",
        ),
        ({"every": 0}, r"every must be at least 1 period, got 0"),
        ({"every": -3}, r"every must be at least 1 period"),
        ({"every": 13}, r"every \(13\) is longer than the horizon \(12 periods\)"),
        ({"every": 2.5}, r"every must be a whole number of periods, got 2.5"),
        ({"every": True}, r"every must be a whole number"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    a = tiers().analyze(periods=12)
    with pytest.raises(InputError, match=message):
        a.revenue_retention(**kwargs)


def test_a_journey_without_streams_says_so():
    a = js.Journey(["a", "b"], {"a": {"b": 0.1}}).analyze(periods=12)
    with pytest.raises(InputError, match="it has none"):
        a.revenue_retention()


def test_demo_journey_nrr_matches_the_issue():
    # The issue's reading of the demo: NRR "about 66%" over the first year.
    a = js.default_journey().analyze(periods=12)
    r = a.revenue_retention(every=12)
    check_identities(r)
    assert 0 < r.iloc[0]["grr"] <= r.iloc[0]["nrr"] + r.iloc[0]["contraction"]


# -- outcomes and renewals -------------------------------------------------------------


def two_exits() -> js.Journey:
    return js.Journey(
        ["active", "renewal", "renewed", "lost", "downgraded_out"],
        {
            "active": {"renewal": 0.2, "lost": 0.05},
            "renewal": {"renewed": 0.5, "lost": 0.2, "downgraded_out": 0.1},
            "renewed": {"active": 0.5, "lost": 0.02},
        },
        time_unit="month",
    )


def test_outcomes_sum_to_one_with_retention():
    a = two_exits().analyze(periods=24)
    o = a.outcomes
    assert list(o.index) == ["lost", "downgraded_out", "retained"]
    assert o.loc["retained", "horizon"] == approx(a.retention_at(24), rel=1e-12)
    assert o["horizon"].sum() == approx(1.0, abs=1e-12)
    assert o["lifetime"].sum() == approx(1.0, abs=1e-12)
    assert o.loc["lost", "horizon"] == approx(a.occupancy.loc[24, "lost"])
    assert o.loc["lost", "lifetime"] == approx(a.absorption["lost"])


def test_renewal_rate_is_the_next_stage_share():
    # One matrix: the eventual next stage from "renewal" is P_ij / (1 - P_ii):
    # .5/.8, .2/.8, .1/.8.
    r = two_exits().analyze(periods=36).renewal_rate("renewal")
    assert r.to_dict() == approx(
        {"renewed": 0.625, "lost": 0.25, "downgraded_out": 0.125}, rel=1e-12
    )


def test_renewal_rate_with_tenure_pieces_weights_by_who_leaves():
    # From tenure 2 the renewal sends everyone who leaves to "lost". Moves out
    # of renewal: in period k, x_{k-1}[renewal] * (row) -> the shares are the
    # flow-weighted mix of the two rows' next-stage shares.
    rows = {"renewal": {"renewed": 0.5, "lost": 0.3}}
    j = js.Journey(
        ["renewal", "renewed", "lost"],
        {0: rows, 2: {"renewal": {"lost": 0.8}}, 3: {"renewed": {"lost": 1.0}}},
    )
    r = j.analyze(periods=3).renewal_rate("renewal")
    # x_renewal at t = 0, 1, 2: 1, .2, .04; moves to renewed .5 + .1 = .6,
    # to lost .3 + .06 + .04 * .8 = .392
    assert r.to_dict() == approx({"renewed": 0.6 / 0.992, "lost": 0.392 / 0.992})


def test_renewal_rate_errors():
    a = two_exits().analyze(periods=12)
    with pytest.raises(InputError, match="unknown stage 'renew'"):
        a.renewal_rate("renew")
    with pytest.raises(InputError, match="'lost' is absorbing"):
        a.renewal_rate("lost")


# -- scores ----------------------------------------------------------------------------


def scored() -> js.Journey:
    return js.Journey(
        ["happy", "neutral", "unhappy", "churned"],
        {
            "happy": {"neutral": 0.5},
            "neutral": {"unhappy": 0.5},
            "unhappy": {"churned": 0.5},
        },
        scores={"nps": {"happy": 50, "unhappy": -50}, "csat": {"neutral": 3.0}},
        time_unit="month",
    )


def test_scores_averaged_by_hand():
    # occupancy (happy, neutral, unhappy, churned):
    #   t0 1, 0, 0, 0; t1 .5, .5, 0, 0; t2 .25, .5, .25, 0
    # nps over happy + unhappy only: t0 50; t1 50; t2 (12.5 - 12.5)/.5 = 0
    # csat over neutral only: t0 nan (no one there); t1 3; t2 3
    s = scored().analyze(periods=2).scores
    assert list(s.columns) == ["nps", "csat"]
    assert s["nps"].tolist() == approx([50.0, 50.0, 0.0])
    assert np.isnan(s.loc[0, "csat"])
    assert s["csat"].tolist()[1:] == approx([3.0, 3.0])


def test_simulated_scores_estimate_the_exact_ones():
    j = scored()
    exact = j.analyze(periods=6).scores
    sim = j.simulate(4_000, 6, seed=3, replications=8, progress=False)
    assert sim.scores.index.tolist() == list(range(7))
    np.testing.assert_allclose(sim.scores["nps"], exact["nps"], atol=2.5)
    band = sim.score_band("nps", 0.1, 0.9)
    assert list(band.columns) == ["mean", "q0.1", "q0.9"]
    assert (band["q0.1"] <= band["mean"] + 1e-12).all()
    assert (band["mean"] <= band["q0.9"] + 1e-12).all()
    with pytest.raises(InputError, match=r"unknown score 'ces'.*\['nps', 'csat'\]"):
        sim.score_band("ces")


def test_say_versus_do_puts_scores_beside_churn_and_lifetime():
    j = js.Journey(
        ["promoter", "passive", "churned"],
        {
            "promoter": {"passive": 0.1, "churned": 0.02},
            "passive": {"promoter": 0.05, "churned": 0.1},
        },
        scores={"nps": {"promoter": 80, "passive": 10}},
        time_unit="month",
    )
    t = j.analyze(periods=24).say_versus_do()
    assert list(t.index) == ["promoter", "passive"]
    assert list(t.columns) == [
        "nps",
        "chance of leaving per month",
        "expected remaining lifetime (months)",
    ]
    # One matrix: the chance is the row's churn probability exactly.
    assert t["chance of leaving per month"].tolist() == approx([0.02, 0.1], rel=1e-12)
    # N = (I - Q)^-1 with Q = [[.88, .1], [.05, .85]], det = .102 - .005 ... rows:
    # (.15 + .1) / .013 = 19.23, (.05 + .12) / .013 = 13.08
    assert t["expected remaining lifetime (months)"].tolist() == approx(
        [0.25 / 0.013, 0.17 / 0.013], rel=1e-12
    )
    with pytest.raises(InputError, match="no scores"):
        js.Journey(["a", "b"], {"a": {"b": 0.1}}).analyze(12).say_versus_do()


# -- units in the summaries ------------------------------------------------------------


def test_summary_labels_use_the_units_and_add_first_year_nrr():
    a = tiers(values={"revenue": REVENUE}).analyze(periods=24)
    s = a.summary()
    assert list(s.index) == [
        "retention at 3 months",
        "retention at 12 months",
        "retention at 24 months",
        "expected lifetime (months)",
        "lifetime within 24 months (months)",
        "CLV over 24 months",
        "CLV over the lifetime",
        "NRR over 12 months",
        "GRR over 12 months",
    ]
    assert s.dtype == float
    first = a.revenue_retention(every=12).iloc[0]
    assert s["NRR over 12 months"] == first["nrr"]
    assert s["GRR over 12 months"] == first["grr"]


@pytest.mark.parametrize(
    ("unit", "periods", "label"),
    [
        ("quarter", 4, "NRR over 4 quarters"),
        ("week", 52, "NRR over 52 weeks"),
        ("year", 1, "NRR over 1 year"),
        ("period", 12, "NRR over 12 periods"),
    ],
)
def test_a_year_in_each_unit(unit, periods, label):
    s = tiers(time_unit=unit).analyze(periods=periods).summary()
    assert label in s.index
    short = (
        tiers(time_unit=unit).analyze(periods=periods - 1).summary()
        if periods > 1
        else None
    )
    if short is not None:
        assert not any(k.startswith("NRR") for k in short.index)


def test_first_stream_when_there_is_no_revenue():
    j = js.Journey(["a", "b"], {"a": {"b": 0.1}}, values={"mrr": {"a": 5.0}})
    assert "NRR of mrr over 12 periods" in j.analyze(12).summary().index


def test_displays_write_money_shares_and_times():
    j = tiers(currency="USD")
    a = j.analyze(periods=36)
    text = repr(a)
    assert text.startswith("<Analysis over 36 months, accrual='start'>")
    assert "retention at 12 months" in text and "%" in text
    # A written time carries its unit, so its label does not repeat it.
    assert "expected lifetime " in text and "expected lifetime (months)" not in text
    assert " months\n" in text
    html = a._repr_html_()
    assert "$" in html and "months" in html and "e+" not in html
    clv = f"${round(a.clv):,}"
    assert clv in html and clv in text
    s = j.simulate(1_000, 12, seed=2, progress=False)
    out = s._repr_html_()
    assert "retention at 12 months" in out and "$" in out and "e+" not in out
    assert "standard error of CLV" in out
    assert "x 12 months x" in repr(s)


def test_summary_text_writes_the_same_figures_for_people():
    j = tiers(currency="EUR", locale="de_DE")
    a = j.analyze(periods=12)
    t = a.summary_text()
    # The same figures, in order; a time's label drops its "(months)".
    assert [x.replace(" (months)", "") for x in a.summary().index] == list(t.index)
    assert t["retention at 12 months"].endswith("%")
    assert t["CLV over 12 months"].endswith("€")
    assert t["expected lifetime"].endswith("months")
    s = j.simulate(500, 12, seed=1, progress=False).summary_text()
    assert "standard error of CLV" in s.index and s["CLV over 12 months"].endswith("€")


def test_outcomes_of_a_journey_some_never_leave():
    # "loyal" is closed but not absorbing (absorbing=["churned"]): half the
    # cohort starts there and is never absorbed.
    j = js.Journey(
        ["new", "loyal", "churned"],
        {"new": {"churned": 0.5}, "loyal": {}},
        start={"new": 0.5, "loyal": 0.5},
        absorbing=["churned"],
    )
    with pytest.warns(InfiniteLifetimeWarning):
        a = j.analyze(periods=2)
    o = a.outcomes
    assert o.loc["retained", "lifetime"] == approx(0.5)
    assert o.loc["churned", "lifetime"] == approx(0.5)
    assert o.loc["retained", "horizon"] == approx(0.5 + 0.5 * 0.25)


def test_no_rounding_dust_in_the_lifetime_outcomes():
    o = two_exits().analyze(periods=3).outcomes
    assert o.loc["retained", "lifetime"] == 0.0


def test_simulated_revenue_retention_agrees_with_the_exact_one():
    # Segments, tenure-dependent prices and a later span: every exact column
    # within 4 Monte Carlo standard errors (NRR and GRR), 0.01 for the rest.
    segs = {
        "smb": {"share": 0.6, "start": {"basic": 1.0}},
        "ent": {
            "share": 0.4,
            "start": {"enterprise": 1.0},
            "values": {"revenue": {"enterprise": 500.0, "pro": 150.0}},
        },
    }
    uplift = {k: 1.1 * v for k, v in REVENUE.items()}
    j = tiers(segments=segs, values={"revenue": {0: REVENUE, 3: uplift}})
    exact = j.analyze(periods=6).revenue_retention(every=3)
    s = j.simulate(30_000, 6, seed=5, record="events", progress=False)
    sim = s.revenue_retention(every=3)
    assert list(sim.index) == list(exact.index)
    for span in exact.index:
        for col in ("nrr", "grr"):
            se = sim.loc[span, f"{col}_se"]
            assert 0 < se < 0.02
            assert abs(sim.loc[span, col] - exact.loc[span, col]) < 4 * se
        for col in ("logo_retention", "expansion", "contraction", "churned"):
            assert sim.loc[span, col] == approx(exact.loc[span, col], abs=0.01)
    check_identities(sim)
    with pytest.raises(InputError, match="record='events'"):
        j.simulate(100, 6, seed=1, progress=False).revenue_retention(every=3)
