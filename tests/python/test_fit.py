"""fit(): transition counts from event logs, estimates and their uncertainty."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pytest import approx

import journeysim as js

STAGES = ["a", "b", "churned"]


def log(rows):
    return pd.DataFrame(rows, columns=["customer", "period", "stage"])


def test_a_small_log_counted_by_hand():
    # Customer 1: a at 0, b at 2, churned at 3. Stage changes hold until the
    # next: a->a (0->1), a->b (1->2), b->churned (2->3).
    # Customer 2: a at 0, still a at the end (4): censored, a->a four times.
    f = js.fit(
        log([(1, 0, "a"), (1, 2, "b"), (1, 3, "churned"), (2, 0, "a")]),
        stages=STAGES,
        absorbing=["churned"],
        end=4,
    )
    c = f.counts
    assert c.loc["a", "a"] == 1 + 4
    assert c.loc["a", "b"] == 1
    assert c.loc["b", "churned"] == 1
    assert c.to_numpy().sum() == 7
    P = f.journey.transition_matrix
    assert P.loc["a", "b"] == approx(1 / 6)
    assert P.loc["b", "churned"] == approx(1.0)
    assert f.journey.start["a"] == approx(1.0)


def test_snapshots_skip_gaps():
    # Snapshots at 0, 1 and 3: only 0->1 counts; the gap 1->3 is unknown.
    f = js.fit(
        log([(1, 0, "a"), (1, 1, "b"), (1, 3, "churned")]),
        kind="snapshots",
        stages=STAGES,
    )
    assert f.counts.to_numpy().sum() == 1
    assert f.counts.loc["a", "b"] == 1


def test_duplicates_and_unsorted_rows():
    # Rows out of order; two rows in period 2: the later row wins.
    rows = [(1, 2, "a"), (1, 0, "a"), (1, 2, "b"), (1, 3, "churned")]
    f = js.fit(log(rows), stages=STAGES, absorbing=["churned"])
    c = f.counts
    assert c.loc["a", "a"] == 1 and c.loc["a", "b"] == 1
    assert c.loc["b", "churned"] == 1


def test_dates_are_bucketed_into_months():
    df = pd.DataFrame(
        {
            "account": ["x", "x", "x"],
            "date": ["2024-01-05", "2024-01-20", "2024-03-02"],
            "stage": ["a", "b", "churned"],
        }
    )
    f = js.fit(
        df,
        customer="account",
        time="date",
        stage="stage",
        period="M",
        stages=STAGES,
        absorbing=["churned"],
    )
    # January: b (the later row); b holds in February; churned in March.
    assert f.counts.loc["b", "b"] == 1
    assert f.counts.loc["b", "churned"] == 1


def test_recovers_a_simulated_journey():
    j = js.default_journey("small_business")
    s = j.simulate(50_000, 36, seed=11, record="events")
    f = js.fit(
        s.stage_log(), stages=j.stages, absorbing=["churned"], tenure=[0, 3], end=36
    )
    true = j.transition_matrices()
    iv = f.interval(0.999)
    for t, P in true.items():
        for a in j.transient:
            for b in j.stages:
                r = iv.loc[("all", t, a, b)]
                if P.loc[a, b] > 0:
                    assert r.low <= P.loc[a, b] <= r.high, (t, a, b)


def test_intervals_cover_the_truth_at_about_their_level():
    j = js.default_journey("small_business")
    true = j.transition_matrices()[0]
    hits = []
    for seed in range(6):
        s = j.simulate(5_000, 24, seed=seed, record="events")
        f = js.fit(
            s.stage_log(), stages=j.stages, absorbing=["churned"], end=24, prior=0.5
        )
        iv = f.interval(0.9)
        for a in j.transient:
            for b in j.stages:
                if true.loc[a, b] > 0:
                    r = iv.loc[(a, b)]
                    hits.append(r.low <= true.loc[a, b] <= r.high)
    # 0.9 nominal; rows pooled over tenure pieces make it a little conservative.
    assert 0.82 <= np.mean(hits) <= 0.99


def test_sample_draws_journeys_from_the_posterior():
    f = js.fit(
        log([(1, 0, "a"), (1, 2, "b"), (2, 0, "a"), (2, 1, "churned")]),
        stages=STAGES,
        absorbing=["churned"],
        prior=1.0,
    )
    draws = f.sample(200, seed=3)
    assert len(draws) == 200
    pab = np.array([d.transition_matrix.loc["a", "b"] for d in draws])
    assert pab.mean() == approx(f.journey.transition_matrix.loc["a", "b"], abs=0.05)
    assert pab.std() > 0


def test_segments_and_files(tmp_path):
    df = pd.DataFrame(
        {
            "customer": [1, 1, 2, 2, 3],
            "period": [0, 1, 0, 1, 0],
            "stage": ["a", "churned", "a", "b", "b"],
            "tier": ["smb", "smb", "ent", "ent", "ent"],
        }
    )
    f = js.fit(df, stages=STAGES, absorbing=["churned"], segment="tier", end=1)
    assert f.journey.segments == ["ent", "smb"]
    assert f.journey.shares["ent"] == approx(2 / 3)
    path = tmp_path / "events.parquet"
    df.to_parquet(path)
    g = js.fit(path, stages=STAGES, absorbing=["churned"], segment="tier", end=1)
    np.testing.assert_array_equal(g.counts.to_numpy(), f.counts.to_numpy())
    csv = tmp_path / "events.csv"
    df.to_csv(csv, index=False)
    h = js.fit(csv, stages=STAGES, absorbing=["churned"], segment="tier", end=1)
    np.testing.assert_array_equal(h.counts.to_numpy(), f.counts.to_numpy())


@pytest.mark.parametrize(
    ("events", "kwargs", "message"),
    [
        (log([]), {}, "empty"),
        (log([(1, 0, "a"), (1, 1, "zzz")]), {"stages": STAGES}, "not in stages"),
        (log([(1, 0, "a"), (1, None, "b")]), {}, "missing values"),
        (log([(1, 0, "a")]), {"customer": "account"}, "no column"),
        (log([(1, 0, "a")]), {"period": 0}, "positive integer"),
        (log([(1, 0, "a")]), {"period": "Y"}, "period must be"),
        (log([(1, 0, "a")]), {"kind": "other"}, "kind must be"),
        (
            log([(1, 0, "a"), (1, 1, "b")]),
            {"stages": STAGES, "impossible": [("a", "b")]},
            "impossible transition",
        ),
        (log([(1, 0, "a")]), {"prior": -1.0}, "prior must be"),
        ("no/such/file.csv", {}, "does not exist"),
        (3, {}, "events must be"),
    ],
)
def test_bad_inputs_are_value_errors(events, kwargs, message):
    with pytest.raises(ValueError, match=message):
        js.fit(events, **kwargs)


def psa_plans():
    call = js.Intervention(
        "call",
        at=("onboarding", "churned"),
        relative_risk=0.6,
        reassign_to="adopting",
        cost_per_customer=50,
        window=(0, 3),
    )
    out = js.Intervention(
        "outreach", at=("at_risk", "churned"), relative_risk=0.7, cost_per_period=80
    )
    return [js.Plan("call", [call]), js.Plan("outreach", [out])]


def test_uncertainty_over_identical_draws_has_no_spread():
    j = js.default_journey("small_business")
    c = js.compare(j, psa_plans(), periods=24, uncertainty=[j, j, j])
    u = c.uncertainty
    for plan in ("call", "outreach"):
        point = c.summary.loc[plan, "incremental net value"]
        assert u.loc[plan, "incremental net value"] == approx(point)
        assert u.loc[plan, "low"] == approx(point)
        assert u.loc[plan, "high"] == approx(point)
        assert u.loc[plan, "P(beats baseline)"] == (1.0 if point > 0 else 0.0)
    assert c.beats.loc["outreach", "call"] in (0.0, 1.0)


def test_uncertainty_from_a_fit():
    j = js.default_journey("small_business")
    s = j.simulate(2_000, 24, seed=3, record="events")
    f = js.fit(s.stage_log(), stages=j.stages, absorbing=["churned"], end=24, prior=0.5)
    c = js.compare(j, psa_plans(), periods=24, uncertainty=f, draws=40, seed=1)
    u = c.uncertainty
    assert list(u.index) == ["baseline", "call", "outreach"]
    assert (u["low"] <= u["incremental net value"]).all()
    assert (u["incremental net value"] <= u["high"]).all()
    assert (u.loc["call", "high"] - u.loc["call", "low"]) > 0
    assert c.draws.shape == (40, 3)
    # P(a beats b) + P(b beats a) = 1 without ties.
    assert c.beats.loc["call", "outreach"] + c.beats.loc["outreach", "call"] == approx(
        1.0
    )


@pytest.mark.parametrize(
    ("uncertainty", "kwargs", "message"),
    [
        ("nope", {}, "must be a fit or a list"),
        ([js.Journey(["x", "y"], {"x": {"y": 0.1}})] * 2, {}, "has stages"),
        (None, {"customers": 100}, None),
    ],
)
def test_bad_uncertainty(uncertainty, kwargs, message):
    j = js.default_journey("small_business")
    if message is None:
        with pytest.raises(ValueError, match="leave customers out"):
            js.compare(j, psa_plans(), periods=12, uncertainty=[j, j], **kwargs)
        return
    with pytest.raises(ValueError, match=message):
        js.compare(j, psa_plans(), periods=12, uncertainty=uncertainty, **kwargs)


def test_log_likelihood_and_aic_by_hand():
    # a->a once, a->b once, b->churned once: MLE a row (1/2, 1/2), b row (0, 0, 1).
    f = js.fit(
        log([(1, 0, "a"), (1, 2, "b"), (1, 3, "churned")]),
        stages=STAGES,
        absorbing=["churned"],
    )
    assert f.log_likelihood == approx(2 * np.log(0.5))
    # Free parameters: row a has 2 possible moves (1), row b has 1 (0).
    assert f.aic == approx(2 * 1 - 2 * 2 * np.log(0.5))


def test_tenure_test_detects_tenure_dependence():
    j = js.default_journey("small_business")  # its onboarding row changes at tenure 3
    s = j.simulate(20_000, 24, seed=3, record="events")
    f = js.fit(
        s.stage_log(), stages=j.stages, absorbing=["churned"], tenure=[0, 3], end=24
    )
    assert f.tenure_test()["p_value"] < 1e-6
    flat = js.Journey(
        ["a", "b", "c"], {"a": {"b": 0.2, "c": 0.05}, "b": {"a": 0.1, "c": 0.1}}
    )
    s2 = flat.simulate(20_000, 24, seed=4, record="events")
    f2 = js.fit(
        s2.stage_log(), stages=flat.stages, absorbing=["c"], tenure=[0, 3], end=24
    )
    assert f2.tenure_test()["p_value"] > 1e-3
    with pytest.raises(ValueError, match="needs a fit with tenure pieces"):
        js.fit(s2.stage_log(), stages=flat.stages, end=24).tenure_test()


def test_check_against_the_fit_and_a_holdout():
    j = js.default_journey("small_business")
    s = j.simulate(20_000, 24, seed=3, record="events")
    f = js.fit(
        s.stage_log(), stages=j.stages, absorbing=["churned"], tenure=[0, 3], end=24
    )
    c = f.check()
    r = c.retention
    # 20,000 customers: observed retention within 4 binomial SE of the fit.
    se = np.sqrt(r["predicted"] * (1 - r["predicted"]) / r["customers"])
    assert (np.abs(r["observed"] - r["predicted"]) <= 4 * se + 1e-12).all()
    assert c.log_likelihood == approx(f.log_likelihood)
    assert c.second_order["p_value"] > 1e-3  # the simulated journey is Markov
    h = f.check(holdout=j.simulate(20_000, 24, seed=9, record="events").stage_log())
    assert np.abs(h.retention["observed"] - h.retention["predicted"]).max() < 0.03
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = c.plot()
    assert ax.get_ylabel() == "retention"
    plt.close("all")


def test_second_order_dynamics_are_detected():
    # From a, the chance of moving to b depends on whether the customer came
    # from b: not a first-order journey.
    rng = np.random.default_rng(1)
    rows = []
    for customer in range(3_000):
        prev, cur = None, "a"
        for t in range(20):
            rows.append((customer, t, cur))
            if cur == "a":
                go = rng.random() < (0.8 if prev == "b" else 0.1)
                nxt = "b" if go else "a"
            else:
                nxt = "a" if rng.random() < 0.5 else "b"
            prev, cur = cur, nxt
    f = js.fit(log(rows), kind="snapshots")
    assert f.check().second_order["p_value"] < 1e-6


def simulate_ctmc(Q, customers, end, seed):
    """Exact change times of a continuous-time chain started in stage 0."""
    rng = np.random.default_rng(seed)
    S = len(Q)
    rows = []
    for c in range(customers):
        t, s = 0.0, 0
        rows.append((c, t, STAGES[s]))
        while -Q[s, s] > 0:
            t += rng.exponential(1 / -Q[s, s])
            if t > end:
                break
            p = np.clip(Q[s], 0, None)
            s = int(rng.choice(S, p=p / p.sum()))
            rows.append((c, t, STAGES[s]))
    return log(rows)


def test_the_continuous_fit_recovers_a_generator():
    from scipy.linalg import expm

    Q = np.array([[-0.3, 0.2, 0.1], [0.1, -0.4, 0.3], [0.0, 0.0, 0.0]])
    events = simulate_ctmc(Q, 4_000, end=15.0, seed=0)
    g = js.fit(
        events,
        model="continuous",
        stages=STAGES,
        absorbing=["churned"],
        end=15.0,
        period=1.0,
        prior=0.0,
    )
    np.testing.assert_allclose(g.generator.to_numpy(), Q, atol=0.02)
    P = g.journey.transition_matrix.to_numpy()
    np.testing.assert_allclose(P, expm(Q), atol=0.02)
    iv = g.interval(0.999, draws=400)
    true = expm(Q)
    for (a, b), r in iv.iterrows():
        i, j = STAGES.index(a), STAGES.index(b)
        assert r.low - 1e-9 <= true[i, j] <= r.high + 1e-9, (a, b)
    assert len(g.sample(3, seed=1)) == 3


def test_continuous_needs_changes():
    with pytest.raises(ValueError, match="needs exact change times"):
        js.fit(log([(1, 0.0, "a")]), model="continuous", kind="snapshots")
    with pytest.raises(ValueError, match="model must be"):
        js.fit(log([(1, 0.0, "a")]), model="hazard")


def test_bootstrap_intervals_resample_customers():
    j = js.default_journey("small_business")
    s = j.simulate(5_000, 24, seed=3, record="events")
    f = js.fit(s.stage_log(), stages=j.stages, absorbing=["churned"], end=24)
    boot = f.interval(0.95, bootstrap=60, seed=1)
    beta = f.interval(0.95)
    # Same estimates; intervals of similar width where there is data.
    np.testing.assert_allclose(boot["estimate"], beta["estimate"])
    row = ("onboarding", "adopting")
    wb = boot.loc[row, "high"] - boot.loc[row, "low"]
    wd = beta.loc[row, "high"] - beta.loc[row, "low"]
    assert 0.5 < wb / wd < 2.0
    assert (boot["low"] <= boot["estimate"] + 1e-12).all()
    np.testing.assert_array_equal(
        f.interval(0.95, bootstrap=20, seed=4), f.interval(0.95, bootstrap=20, seed=4)
    )
    with pytest.raises(ValueError, match="bootstrap must be"):
        f.interval(0.95, bootstrap=3)


def test_review_cases():
    # The last row in time order wins within a period, whatever the row order.
    df = pd.DataFrame(
        {
            "customer": [1, 1, 1],
            "date": ["2024-01-01", "2024-02-20", "2024-02-05"],
            "stage": ["a", "b", "c"],
        }
    )
    f = js.fit(df, time="date", period="M", stages=["a", "b", "c"])
    assert f.counts.loc["a", "b"] == 1 and f.counts.loc["a", "c"] == 0
    # A stage never observed stays put, whatever the prior.
    g = js.fit(log([(1, 0, "a"), (1, 1, "b")]), stages=["a", "b", "d"], prior=0.5)
    assert g.journey.transition_matrix.loc["d", "d"] == 1.0
    r = g.interval(0.95).loc[("d", "d")]
    assert (r["estimate"], r["low"], r["high"]) == (1.0, 1.0, 1.0)
    # Stages only seen censored are not taken for absorbing ones.
    h = js.fit(log([(1, 0, "a"), (1, 1, "b"), (2, 0, "a"), (2, 1, "c")]))
    assert h.journey.absorbing == []
    # Numeric times need an integer period; a NaN prior is refused.
    with pytest.raises(ValueError, match="needs dates"):
        js.fit(log([(1, 0, "a")]), period="M")
    with pytest.raises(ValueError, match="prior must be finite"):
        js.fit(log([(1, 0, "a")]), prior=float("nan"))
    with pytest.raises(ValueError, match="does not support segment"):
        js.fit(log([(1, 0.0, "a")]).assign(seg="x"), model="continuous", segment="seg")


def test_uncertainty_segments_are_matched_by_name():
    # Segment z always churns, a always reaches "val"; the journey lists z first.
    rows = []
    for c in range(20):
        seg = "z" if c < 10 else "a"
        rows += [(c, 0, "on", seg), (c, 1, "churn" if seg == "z" else "val", seg)]
    events = pd.DataFrame(rows, columns=["customer", "period", "stage", "seg"])
    f = js.fit(
        events,
        stages=["on", "val", "churn"],
        absorbing=["churn"],
        segment="seg",
        prior=0.01,
    )
    j = js.Journey(
        ["on", "val", "churn"],
        {"on": {"val": 0.5, "churn": 0.5}},
        absorbing=["churn"],
        segments={"z": {"share": 0.5}, "a": {"share": 0.5}},
    )
    from journeysim.plans.evaluate import draw_journeys

    d = draw_journeys(j, f, 2, 0)[0]
    assert d.transition_matrices("z")[0].loc["on", "churn"] > 0.9
    assert d.transition_matrices("a")[0].loc["on", "val"] > 0.9


# -- returns from an absorbing stage (issue 13, item 3) ------------------------------

CHURN_AND_BACK = log([(1, 0, "a"), (1, 2, "churned"), (1, 5, "a")])


@pytest.mark.parametrize("model", ["discrete", "continuous"])
def test_a_return_from_an_absorbing_stage_is_refused(model):
    # Churned at 2, active again at 5: absorbing=["churned"] says impossible.
    # Before, the move was dropped without a word.
    with pytest.raises(
        ValueError,
        match=r"customer 1 is in absorbing stage 'churned' at time 2 and in 'a' "
        r"at time 5 \(1 such return\(s\).*returns='new_customer'",
    ):
        js.fit(CHURN_AND_BACK, absorbing=["churned"], end=15, model=model)
    # A move out of an "end" stage, by date, among other customers.
    dated = pd.DataFrame(
        {
            "customer": ["x", "y", "y", "y"],
            "date": pd.to_datetime(
                ["2024-01-03", "2024-01-04", "2024-02-10", "2024-04-01"]
            ),
            "stage": ["a", "a", "end", "b"],
        }
    )
    with pytest.raises(
        ValueError,
        match=r"customer 'y' is in absorbing stage 'end' at time 2024-02-10 and "
        r"in 'b' at time 2024-04-01",
    ):
        js.fit(dated, time="date", period="M", absorbing=["end"])
    with pytest.raises(ValueError, match=r"in 'b' at time 3"):
        js.fit(
            log([(1, 0, "a"), (1, 1, "end"), (1, 3, "b")]),
            kind="snapshots",
            absorbing=["end"],
        )
    with pytest.raises(ValueError, match="returns must be one of"):
        js.fit(CHURN_AND_BACK, returns="ignore")


def test_a_return_counted_as_a_new_customer_by_hand():
    # Journey 1: a at 0, churned at 2 (a->a, a->churned). Journey 2 (the
    # return): a at 5, censored at 15 (a->a ten times). Two customers start in a.
    f = js.fit(CHURN_AND_BACK, absorbing=["churned"], end=15, returns="new_customer")
    assert f.customers == 2
    assert f.counts.loc["a", "a"] == 11 and f.counts.loc["a", "churned"] == 1
    assert f.counts.loc["churned"].sum() == 0
    assert f.journey.start["a"] == 1.0
    # The second journey starts at tenure 0: with pieces [0, 3] its first three
    # stays count in piece 0, not at tenures 5-7 of the first journey.
    g = js.fit(
        CHURN_AND_BACK,
        absorbing=["churned"],
        end=15,
        tenure=[0, 3],
        returns="new_customer",
    )
    c = g.counts
    assert c.loc[("all", 0, "a"), "a"] == 1 + 3
    assert c.loc[("all", 0, "a"), "churned"] == 1
    assert c.loc[("all", 3, "a"), "a"] == 7
    # Bootstrap and check() see the two journeys as two customers.
    assert g.check().retention["customers"].iloc[0] == 2
    # The continuous model splits alike: exposure 2 + 10, one move.
    h = js.fit(
        CHURN_AND_BACK.astype({"period": float}),
        absorbing=["churned"],
        end=15,
        returns="new_customer",
        model="continuous",
    )
    assert h.exposure["a"] == 12.0
    assert h.generator.loc["a", "churned"] == approx(1 / 12)


def simulate_with_returns(n: int, seed: int) -> pd.DataFrame:
    """Customers whose churn is 0.3 a period in tenures 0-2 and 0.05 from 3 on;
    a third of those who churn come back under the same id 1-4 periods later,
    as a new journey (tenure 0 again), observed to period 30."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n):
        t = 0
        while t <= 30:
            rows.append((c, t, "a"))
            tenure = 0
            while t + 1 <= 30:
                t += 1
                if rng.random() < (0.3 if tenure < 3 else 0.05):
                    rows.append((c, t, "churned"))
                    break
                tenure += 1
            else:
                break
            if rng.random() >= 1 / 3:
                break
            t += int(rng.integers(1, 5))
    return log(rows)


def test_returns_as_new_customers_recover_the_truth():
    events = simulate_with_returns(4_000, seed=5)
    assert (
        js.fit(events, absorbing=["churned"], end=30, returns="new_customer").customers
        > 4_300
    )  # there are returns
    with pytest.raises(ValueError, match="absorbing stage 'churned'"):
        js.fit(events, absorbing=["churned"], end=30, tenure=[0, 3])
    f = js.fit(
        events, absorbing=["churned"], end=30, tenure=[0, 3], returns="new_customer"
    )
    est, se = f.estimate(), f.standard_errors
    for piece, truth in ((0, 0.3), (3, 0.05)):
        key = ("all", piece, "a")
        assert abs(est.loc[key, "churned"] - truth) < 4 * se.loc[key, "churned"], piece
    # Returns read as the first journey's later tenures (churned not taken as
    # absorbing) bias the late-tenure churn up by many standard errors.
    g = js.fit(events, end=30, tenure=[0, 3])
    assert (
        g.estimate().loc[("all", 3, "a"), "churned"]
        > 0.05 + 8 * se.loc[("all", 3, "a"), "churned"]
    )
