"""compare(): plans side by side, exactly or by Monte Carlo with common random
numbers.

The exact mixture over reach agrees with simulation; common random numbers make
the interval of a paired difference far narrower than two independent runs would;
the Monte Carlo summary carries paired 95 % intervals that cover the exact
differences; workload and hand-offs per owner team agree with sums worked by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeysim as js
from conftest import geometric

approx = pytest.approx
Z95 = 1.959963984540054


def save(**kwargs) -> js.Intervention:
    """Halves the churn of the geometric chain (0.2 -> 0.1)."""
    return js.Intervention("save", ("active", "churned"), relative_risk=0.5, **kwargs)


def onboarding_call(reach: float = 0.8) -> js.Plan:
    """The design's example on the default journey: a call in the first three
    months cuts onboarding churn by 40 %, the saved accounts go on adopting."""
    call = js.Intervention(
        "onboarding call",
        at=("onboarding", "churned"),
        relative_risk=0.6,
        reassign_to="adopting",
        reach=reach,
        cost_per_customer=50,
        window=(0, 3),
    )
    return js.Plan("proactive onboarding", [call])


def at_risk_outreach() -> js.Plan:
    """A save desk for accounts at risk: their churn down by a quarter, half of
    them reached, 20 per account-month at risk, 10 000 to set up."""
    desk = js.Intervention(
        "save desk",
        at=("at_risk", "churned"),
        relative_risk=0.75,
        reach=0.5,
        cost_per_period=20.0,
        cost_fixed=10_000.0,
    )
    return js.Plan("save desk", [desk])


@pytest.fixture
def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


# -- the exact mixture over reach is what simulation sees ---------------------------


def test_exact_reach_mixture_equals_the_simulated_mean():
    # Churn 0.1 for the half that is touched, 0.2 for the rest: the exact CLV
    # over 12 periods is 0.5 * 100 (1 - 0.9^12) / 0.1 + 0.5 * 100 (1 - 0.8^12) / 0.2.
    T, n = 12, 40_000
    j = geometric(0.2, value=100.0)
    plan = js.Plan("half reached", [save(reach=0.5)])
    exact = js.compare(j, [plan], T).summary.loc["half reached"]
    clv = 0.5 * 100 * (1 - 0.9**T) / 0.1 + 0.5 * 100 * (1 - 0.8**T) / 0.2
    assert exact["CLV"] == approx(clv, rel=1e-12)
    # Monte Carlo through compare: a draw per customer decides who is touched.
    c = js.compare(j, [plan], T, customers=n, seed=2024)
    sim = c.results["half reached"]
    se = sim.standard_errors
    assert abs(c.summary.loc["half reached", "CLV"] - clv) < 4 * se["net"]
    r = 0.5 * 0.9**T + 0.5 * 0.8**T
    assert abs(sim.retention.iloc[-1] - r) < 4 * se["retention"]
    touched = (sim.segment == 0).mean()
    assert abs(touched - 0.5) < 4 * np.sqrt(0.25 / n)
    # ... and the plan's journey simulated on its own, on a richer journey with a
    # window and a reach of 0.3.
    j = js.default_journey("small_business")
    plan = js.Plan(
        "p",
        [
            js.Intervention(
                "rescue",
                ("at_risk", "churned"),
                relative_risk=0.3,
                reassign_to="adopting",
                reach=0.3,
                window=(2, 12),
            )
        ],
    )
    c = js.compare(j, [plan], 24)
    s = c.journeys["p"].simulate(n, 24, seed=99)
    for col in ("revenue", "cost_to_serve", "net"):
        exact_v = c.results["p"].value[col]
        assert abs(s.value[col] - exact_v) < 4 * s.standard_errors[col], col
    assert abs(s.clv - c.summary.loc["p", "CLV"]) < 4 * s.standard_errors["net"]


# -- common random numbers ----------------------------------------------------------


def test_common_random_numbers_narrow_the_paired_interval():
    # Every plan is simulated with the same seed, so a customer meets the same
    # random numbers under the baseline and under the plan, and the paired
    # difference of CLV varies far less than the difference of two independent
    # runs (baseline with seed s, plan with seed s + 1), whose standard error is
    # sqrt(var_a / n + var_b / n).
    n, T, s = 20_000, 36, 11
    j = js.default_journey("small_business")
    plan = onboarding_call()
    c = js.compare(j, [plan], T, customers=n, seed=s)
    row = c.summary.loc[plan.name]
    paired = row["CLV diff high"] - row["CLV diff low"]
    a = c.results["baseline"].customer_value[:n, -1]
    b = c.journeys[plan.name].simulate(n, T, seed=s + 1).customer_value[:n, -1]
    independent = 2 * Z95 * np.sqrt(a.var(ddof=1) / n + b.var(ddof=1) / n)
    ratio = paired / independent
    print(f"CRN: paired 95% width {paired:.1f} / independent {independent:.1f}")
    print(f"CRN width ratio = {ratio:.3f}")
    assert 0 < ratio <= 1 / 3
    # The paired interval is the mean difference +- 1.96 SE of the per-customer
    # differences.
    d = c.results[plan.name].customer_value[:n, -1] - a
    half = Z95 * d.std(ddof=1) / np.sqrt(n)
    assert row["CLV diff"] == approx(d.mean(), rel=1e-9)
    assert row["CLV diff low"] == approx(d.mean() - half, rel=1e-9)
    assert row["CLV diff high"] == approx(d.mean() + half, rel=1e-9)


def test_the_same_seed_gives_the_same_comparison():
    j = js.default_journey("small_business")
    one = js.compare(j, [onboarding_call()], 12, customers=2000, seed=5, threads=1)
    two = js.compare(j, [onboarding_call()], 12, customers=2000, seed=5, threads=2)
    assert one.summary.equals(two.summary)


# -- the Monte Carlo summary --------------------------------------------------------


@pytest.fixture(scope="module")
def both():
    """The default journey with two plans, exact and by Monte Carlo."""
    j = js.default_journey("small_business")
    plans = [onboarding_call(), at_risk_outreach()]
    exact = js.compare(j, plans, 24)
    mc = js.compare(j, plans, 24, customers=20_000, seed=77, horizons=[6, 24])
    return exact, mc


def test_monte_carlo_summary_has_paired_interval_columns(both):
    _, mc = both
    assert mc.method == "monte carlo"
    assert list(mc.summary.index) == ["baseline", "proactive onboarding", "save desk"]
    cols = set(mc.summary.columns)
    for name in (
        "CLV diff",
        "CLV diff low",
        "CLV diff high",
        "retention at 6 diff",
        "retention at 24 diff low",
        "retention at 24 diff high",
        "lifetime diff",
        "revenue diff low",
        "incremental net value",
        "incremental net value low",
        "incremental net value high",
    ):
        assert name in cols, name
    base = mc.summary.loc["baseline"]
    diffs = [c for c in mc.summary.columns if " diff" in c or "incremental" in c]
    assert (base[diffs] == 0).all()
    for plan in ("proactive onboarding", "save desk"):
        row = mc.summary.loc[plan]
        # every interval is centred on its estimate: estimate +- 1.96 SE
        for est in ("CLV diff", "retention at 24 diff", "lifetime diff"):
            lo, hi = row[f"{est} low"], row[f"{est} high"]
            assert lo < row[est] < hi, (plan, est)
            assert row[est] - lo == approx(hi - row[est], rel=1e-9)
        est = "incremental net value"
        lo, hi = row[f"{est} low"], row[f"{est} high"]
        assert lo < row[est] < hi, plan
        assert row[est] - lo == approx(hi - row[est], rel=1e-9)
        # the CLV difference is the difference of the CLV columns
        assert row["CLV diff"] == approx(row["CLV"] - base["CLV"], rel=1e-9)


def test_exact_differences_lie_within_the_monte_carlo_intervals(both):
    exact, mc = both
    e, m = exact.summary, mc.summary
    for plan in ("proactive onboarding", "save desk"):
        d = e.loc[plan, "CLV"] - e.loc["baseline", "CLV"]
        lo, hi = m.loc[plan, "CLV diff low"], m.loc[plan, "CLV diff high"]
        print(f"{plan}: exact CLV diff {d:.2f}, MC [{lo:.2f}, {hi:.2f}]")
        assert lo <= d <= hi, plan
        # Both are for the journey's population (a cohort of 1): the Monte Carlo
        # totals are scaled from the 20 000 customers simulated to it.
        inc = e.loc[plan, "incremental net value"]
        lo = m.loc[plan, "incremental net value low"]
        hi = m.loc[plan, "incremental net value high"]
        print(f"{plan}: exact incremental {inc:.2f}, MC [{lo:.2f}, {hi:.2f}]")
        assert lo <= inc <= hi, plan


def test_monte_carlo_costs_agree_with_the_exact_costs(both):
    exact, mc = both
    e, m = exact.summary, mc.summary
    # The once-per-customer charge is the exact expectation in both (onboarding
    # call: 0.8 of the cohort at tenure 0, 50 each).
    assert e.loc["proactive onboarding", "intervention cost"] == approx(0.8 * 50)
    assert m.loc["proactive onboarding", "intervention cost"] == approx(0.8 * 50)
    assert m.loc["proactive onboarding", "customers reached"] == approx(0.8)
    # The per customer-period charge is simulated: within a few per cent.
    fixed = 10_000.0
    per_period_exact = e.loc["save desk", "intervention cost"] - fixed
    per_period_mc = m.loc["save desk", "intervention cost"] - fixed
    assert per_period_mc == approx(per_period_exact, rel=0.05)
    # incremental net value = change in population net value - change in cost
    for s in (e, m):
        row, base = s.loc["save desk"], s.loc["baseline"]
        assert row["incremental net value"] == approx(
            row["population net value"]
            - base["population net value"]
            - (row["intervention cost"] - base["intervention cost"])
        )
        assert row["ROI"] == approx(
            row["incremental net value"] / row["intervention cost"]
        )


# Intervention costs under each accrual, by hand: r = 0.25 (d = 0.8), churn 0.1
# in window (0, 2), a cohort of 1000. The "active" occupancy is 1, 0.9, 0.81 at
# tenures 0, 1, 2. Once per customer (50): everyone is reached in period 1, so
# 50,000 discounted like period 1's values. Per customer-period (10): counted on
# the occupancy each accrual uses in periods 1 and 2, discounted like values.
# Fixed (100): paid up front in period 1 under every accrual (documented).
_D = 0.8
_HAND = {
    "start": 50_000 + 10_000 * (1.0 + 0.9 * _D),
    "end": 50_000 * _D + 10_000 * (0.9 * _D + 0.81 * _D**2),
    "half-cycle": 50_000 * _D**0.5
    + 10_000 * ((1.0 + 0.9) / 2 * _D**0.5 + (0.9 + 0.81) / 2 * _D**1.5),
    "life-table": 50_000 + 10_000 * ((1.0 + 0.9) / 2 + (0.9 + 0.81) / 2 * _D),
}


@pytest.mark.parametrize("accrual", sorted(_HAND))
def test_intervention_costs_follow_the_accrual_and_its_discounting(accrual):
    j = geometric(0.2, value=100.0, cohort_size=1000.0)
    iv = save(window=(0, 2), cost_per_period=10.0, cost_per_customer=50.0)
    iv = iv.replace(cost_fixed=100.0)
    c = js.compare(j, [js.Plan("p", [iv])], 12, accrual=accrual, discount_rate=0.25)
    assert c.summary.loc["p", "intervention cost"] == approx(_HAND[accrual] + 100.0)
    # Per customer: the same charges for one customer, without the fixed cost.
    assert c.summary.loc["p", "intervention cost per customer"] == approx(
        _HAND[accrual] / 1000.0
    )
    # The intervention's own cost (reach table) is the plan's.
    assert c.reach.loc["p", "cost"].sum() == approx(_HAND[accrual] + 100.0)


def test_simulated_intervention_costs_follow_the_accrual():
    # Monte Carlo under "end": the cost stream is simulated with the accrual,
    # the once-per-customer charges are exact; within 4 SE of the hand figure.
    j = geometric(0.2, value=100.0, cohort_size=1000.0)
    iv = save(window=(0, 2), cost_per_period=10.0, cost_per_customer=50.0)
    c = js.compare(
        j,
        [js.Plan("p", [iv])],
        12,
        accrual="end",
        discount_rate=0.25,
        customers=20_000,
        seed=7,
    )
    got = c.summary.loc["p", "intervention cost"]
    # SE of the per-period part: 10,000 x d x sd(alive at 1) / sqrt(n), roughly
    # 10,000 x 0.8 x 0.3 / 141 = 17; generous.
    assert got == approx(_HAND["end"], abs=4 * 30.0)
    assert got != approx(_HAND["start"], abs=1000.0)


# -- workload and hand-offs per owner team -----------------------------------------


def owned(cohort_size: float = 10.0) -> js.Journey:
    """lead (Sales) -> trial (Success) 0.5; trial -> won (Sales) 0.25 or lost
    (no owner) 0.25. A cohort of 10 in lead and 2 arrivals a period."""
    return js.Journey(
        ["lead", "trial", "won", "lost"],
        {"lead": {"trial": 0.5}, "trial": {"won": 0.25, "lost": 0.25}},
        values={"revenue": {"trial": 1.0, "won": 10.0}},
        metadata={
            "lead": {"owner": "Sales"},
            "trial": {"owner": "Success"},
            "won": {"owner": "Sales"},
        },
        cohort_size=cohort_size,
        arrivals=2.0,
    )


def test_workload_and_hand_offs_by_hand():
    # Per cohort customer (start in lead), x_t = (lead, trial, won, lost):
    #   x0 = (1, 0, 0, 0)
    #   period 1: lead -> trial 0.5               x1 = (.5, .5, 0, 0)
    #   period 2: lead -> trial .25, trial -> won .125, -> lost .125
    #                                             x2 = (.25, .5, .125, .125)
    #   period 3: lead -> trial .125, trial -> won .125, -> lost .125
    # Moves into trial, calendar periods 1..3:
    #   cohort of 10: 5, 2.5, 1.25; arrival at t=1 (2): -, 1, .5; at t=2: -, -, 1
    #   -> 5, 3.5, 2.75: workload Success = 11.25 / 3 = 3.75
    # Sales owns lead and won. Starting in lead: the cohort in period 1, the
    # arrivals at t = 1, 2 in periods 2, 3: 10, 2, 2. Moves into won: cohort 0,
    # 1.25, 1.25; arrival at t=1: -, -, .25 -> 0, 1.25, 1.5.
    #   workload Sales = (10 + 3.25 + 3.5) / 3 = 16.75 / 3
    # Hand-offs per customer over 3 periods: lead -> trial .875 (Sales ->
    # Success) + trial -> won .25 (Success -> Sales); trial -> lost has no owner
    # at one end: 1.125.
    # Under the plan, nothing is lost from trial (probability 0, to won): trial
    # row won .5, stay .5. Moves into won: cohort 0, 2.5, 2.5; arrival at t=1:
    # -, -, .5 -> Sales = (10 + 4.5 + 5) / 3 = 6.5; hand-offs .875 + .5 = 1.375.
    plan = js.Plan(
        "no losses",
        [js.Intervention("close", ("trial", "lost"), probability=0, reassign_to="won")],
    )
    c = js.compare(owned(), [plan], periods=3)
    base, row = c.summary.loc["baseline"], c.summary.loc["no losses"]
    teams = [col for col in c.summary.columns if col.startswith("workload")]
    assert teams == ["workload Sales", "workload Success"]
    assert base["workload Success"] == approx(3.75, rel=1e-12)
    assert base["workload Sales"] == approx(16.75 / 3, rel=1e-12)
    assert base["hand-offs"] == approx(1.125, rel=1e-12)
    assert row["workload Success"] == approx(3.75, rel=1e-12)
    assert row["workload Sales"] == approx(6.5, rel=1e-12)
    assert row["hand-offs"] == approx(1.375, rel=1e-12)


def test_no_owners_no_team_columns():
    c = js.compare(geometric(0.2, value=1.0), [js.Plan("p", [save()])], 6)
    assert not [col for col in c.summary.columns if "workload" in col or "hand" in col]


def test_monte_carlo_workload_is_the_exact_one_for_the_population():
    # Workload is a population figure: by Monte Carlo too it is the exact
    # expected workload of the journey's population (its cohort of 10 and
    # arrivals), whatever the number of customers simulated.
    plan = js.Plan(
        "p", [js.Intervention("nudge", ("lead", "trial"), relative_risk=1.2)]
    )
    mc = js.compare(owned(), [plan], 3, customers=100, seed=1).summary
    exact = js.compare(owned(), [plan], 3)
    cols = ["workload Sales", "workload Success", "hand-offs"]
    for p in ("baseline", "p"):
        assert mc.loc[p, cols].tolist() == approx(exact.summary.loc[p, cols].tolist())


# -- the picture --------------------------------------------------------------------


def test_plot_returns_the_axes(both, pyplot):
    from matplotlib.axes import Axes

    exact, mc = both
    ax = exact.plot()
    assert isinstance(ax, Axes)
    assert ax.get_xlabel() == "incremental net value, population of 1 customer (USD)"
    assert [t.get_text() for t in ax.get_yticklabels()] == list(exact.summary.index)
    ax = mc.plot(metric="CLV diff")
    assert isinstance(ax, Axes)
    assert "monte carlo" in ax.get_title()
    _, mine = pyplot.subplots()
    assert exact.plot(ax=mine, metric="CLV") is mine


@pytest.mark.parametrize("metric", ["bogus", "CLV diff"])
def test_plot_rejects_an_unknown_metric(metric, pyplot):
    c = js.compare(geometric(0.2, value=1.0), [js.Plan("p", [save()])], 6)
    with pytest.raises(ValueError, match=f"metric.*'{metric}'"):
        c.plot(metric=metric)


# -- compare's own arguments --------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"periods": 0}, r"periods must be >= 1"),
        ({"periods": 2.5}, r"periods must be an integer"),
        ({"horizons": [13]}, r"horizons must be integers in \[0, 12\]"),
        ({"accrual": "middle"}, r"accrual must be one of"),
        ({"discount_rate": -1.0}, r"discount_rate must be a number > -1"),
    ],
)
def test_compare_rejects_bad_arguments(kwargs, message):
    kwargs = {"periods": 12, **kwargs}
    with pytest.raises(ValueError, match=message):
        js.compare(geometric(0.2, value=1.0), [js.Plan("p", [save()])], **kwargs)


def test_compare_takes_a_single_plan_and_puts_the_baseline_first():
    c = js.compare(geometric(0.2, value=1.0), js.Plan("p", [save()]), 6)
    assert list(c.summary.index) == ["baseline", "p"]
    assert c.method == "exact"
    assert "<Comparison of 2 plans (exact)>" in repr(c)
    with pytest.raises(ValueError, match="plans must be Plan objects"):
        js.compare(geometric(0.2), [save()], 6)


def test_calendar_windows_with_arrivals_exact_equals_simulated():
    # Each arriving cohort meets the calendar window at other tenures: the exact
    # cohort-by-cohort figures and the period-by-period simulation agree.
    j = js.Journey(
        ["active", "at_risk", "churned"],
        {
            "active": {"at_risk": 0.2, "churned": 0.05},
            "at_risk": {"active": 0.3, "churned": 0.3},
        },
        values={"revenue": {"active": 100, "at_risk": 80}},
        discount_rate=0.01,
        cohort_size=1000,
        arrivals=200,
    )
    iv = js.Intervention(
        "campaign",
        at=("at_risk", "churned"),
        relative_risk=0.5,
        reach=0.7,
        calendar=(3, 8),
        cost_per_period=5,
        cost_per_customer=10,
    )
    plan = [js.Plan("c", [iv])]
    cols = ["population net value", "intervention cost", "customers reached"]
    exact = js.compare(j, plan, periods=12).summary.loc["c", cols]
    runs = pd.DataFrame(
        [
            js.compare(j, plan, periods=12, customers=1000, seed=s).summary.loc[
                "c", cols
            ]
            for s in range(20)
        ]
    )
    se = runs.std(ddof=1) / np.sqrt(len(runs))
    for c in cols:
        assert abs(runs[c].mean() - exact[c]) < 4 * se[c], c


# -- per customer and population, never mixed (issue 14, item 2) -------------------


def b2b(cohort_size: float = 1000.0, arrivals: float | None = None) -> js.Journey:
    """The small-business demo journey (its onboarding can churn, as these plans
    need) with a cohort of 1 000 accounts (and arrivals), in months and US
    dollars."""
    spec = js.default_journey("small_business").to_spec()
    spec.update(cohort_size=cohort_size, time_unit="month", currency="USD")
    if arrivals is not None:
        spec["arrivals"] = arrivals
    return js.Journey.from_spec(spec)


def demo_plans() -> list[js.Plan]:
    """An onboarding call (reach 0.8 in the first three months), a rescue desk
    for accounts at risk, and both: customers at risk after the call meet both."""
    call = js.Intervention(
        "onboarding call",
        at=("onboarding", "churned"),
        relative_risk=0.6,
        reassign_to="adopting",
        reach=0.8,
        window=(0, 3),
        cost_per_customer=50,
    )
    rescue = js.Intervention(
        "rescue desk",
        at=("at_risk", "churned"),
        relative_risk=0.7,
        reassign_to="adopting",
        cost_per_period=40,
        cost_fixed=5_000,
    )
    return [
        js.Plan("onboarding call", [call]),
        js.Plan("rescue desk", [rescue]),
        js.Plan("call and rescue", [call, rescue]),
    ]


@pytest.fixture(scope="module")
def thousand():
    """A cohort of 1 000, exactly and by Monte Carlo with 5 000 customers."""
    j = b2b()
    exact = js.compare(j, demo_plans(), 36)
    mc = js.compare(j, demo_plans(), 36, customers=5_000, seed=14)
    return exact, mc


def test_per_customer_and_population_are_separate_tables(thousand):
    for c in thousand:
        per, pop = c.per_customer, c.population
        assert list(per.index) == list(pop.index) == list(c.summary.index)
        # One customer of the starting cohort ...
        for col in ("retention at 36", "CLV", "intervention cost", "share reached"):
            assert col in per.columns, (c.method, col)
        assert "incremental net value" in per.columns
        # ... and the modelled population; no column in both but the money
        # figures each table states for its own scale.
        for col in ("customers", "net value", "intervention cost", "ROI", "payback"):
            assert col in pop.columns, (c.method, col)
        assert "customers reached" in pop.columns
        assert "customers reached" not in per.columns
        assert "net value" not in per.columns and "CLV" not in pop.columns
        assert set(per.columns) & set(pop.columns) <= {
            "intervention cost",
            "incremental net value",
            "incremental net value low",
            "incremental net value high",
        }
        assert (pop["customers"] == 1000).all()
        # The summary keeps its former names: population money, per-customer CLV.
        s = c.summary
        assert s["incremental net value"].equals(pop["incremental net value"])
        assert s["population net value"].equals(pop["net value"])
        assert s["CLV"].equals(per["CLV"])
        assert s["incremental net value per customer"].equals(
            per["incremental net value"]
        )
    exact, _ = thousand
    per, pop = exact.per_customer, exact.population
    # Without arrivals: population = 1 000 x per customer, plus the fixed cost.
    fixed = pd.Series([0, 0, 5_000, 5_000], index=pop.index, dtype=float)
    assert (pop["intervention cost"] - fixed).tolist() == approx(
        (1000 * per["intervention cost"]).tolist(), rel=1e-12
    )
    assert (pop["incremental net value"] + fixed).tolist() == approx(
        (1000 * per["incremental net value"]).tolist(), rel=1e-12
    )
    # The figure: exact 323,900 for the onboarding call.
    assert pop.loc["onboarding call", "incremental net value"] == approx(323_900, abs=1)


def test_exact_and_monte_carlo_population_figures_agree_within_4_se(thousand):
    # Before: exact 323,900 and Monte Carlo 1,476,412 for the onboarding call,
    # because Monte Carlo covered the 5 000 customers simulated, not the cohort
    # of 1 000. Now both are the cohort's.
    exact, mc = thousand
    for plan in ("onboarding call", "rescue desk", "call and rescue"):
        e = exact.population.loc[plan, "incremental net value"]
        row = mc.population.loc[plan]
        se = (row["incremental net value high"] - row["incremental net value low"]) / (
            2 * Z95
        )
        print(
            f"{plan}: exact {e:,.0f}, MC {row['incremental net value']:,.0f} "
            f"+- {se:,.0f}"
        )
        assert abs(row["incremental net value"] - e) < 4 * se, plan
        # the interval is about a 1/1000 of the population's scale, not 5x it
        assert se < 0.5 * abs(e), plan
        # per customer, too
        ep = exact.per_customer.loc[plan, "incremental net value"]
        mp = mc.per_customer.loc[plan]
        se_p = (mp["incremental net value high"] - mp["incremental net value low"]) / (
            2 * Z95
        )
        assert abs(mp["incremental net value"] - ep) < 4 * se_p, plan
        assert mc.population.loc[plan, "intervention cost"] == approx(
            exact.population.loc[plan, "intervention cost"], rel=0.05
        )
    assert mc.population["customers"].tolist() == [1000.0] * 4


def test_population_scales_with_cohort_size_and_arrivals():
    # Geometric chain, churn 0.2, value 100 a period (start accrual, r = 0), a
    # cohort of 10 and 5 arrivals a period, over 3 periods. A customer who has
    # k periods left is worth 100 (1 + 0.8 + ...) over them: 244, 180, 100.
    # Population net value = 10 * 244 + 5 * 180 + 5 * 100 = 3 840 (arrivals at
    # t = 1, 2), customers = 10 + 5 * 3 = 25 (arrivals at t = 1..3).
    j = geometric(0.2, value=100.0, cohort_size=10.0, arrivals=5.0)
    plan = js.Plan("p", [save(cost_per_customer=1.0)])
    c = js.compare(j, [plan], 3)
    base = c.population.loc["baseline"]
    assert base["net value"] == approx(3840.0, rel=1e-12)
    assert base["customers"] == 25.0
    assert c.per_customer.loc["baseline", "CLV"] == approx(244.0, rel=1e-12)
    # Every customer pays 1 at its start (arrivals at t = 3 start after the
    # horizon): 10 + 5 + 5 = 20, the plan's customers reached.
    assert c.population.loc["p", "intervention cost"] == approx(20.0)
    assert c.population.loc["p", "customers reached"] == approx(20.0)
    # Monte Carlo with 1 000 customers standing for the cohort of 10: arrivals
    # simulated 100 times over, every total scaled back by 10 / 1 000.
    mc = js.compare(j, [plan], 3, customers=1_000, seed=3)
    sim = mc.results["p"]
    assert sim.arrivals.tolist() == [500, 500, 500]
    assert mc.population.loc["p", "customers"] == 25.0
    assert mc.population.loc["baseline", "net value"] == approx(3840.0, rel=0.02)
    e = c.population.loc["p", "incremental net value"]
    row = mc.population.loc["p"]
    se = (row["incremental net value high"] - row["incremental net value low"]) / (
        2 * Z95
    )
    assert abs(row["incremental net value"] - e) < 4 * se


def test_distinct_reach_counts_each_customer_once_by_hand():
    # a -> b 0.5, a -> churned 0.2 (stay 0.3); b -> churned 0.5. Over 2 periods
    # (tenures 0 and 1), a cohort of 100 starting in a, r = 0.
    #   "call" at a in tenure 0, reach 0.5, 10 a customer: its half is all in
    #   a at tenure 0 -> 50 reached, 500. Touched customers move a -> b 0.6
    #   (churn 0.2 halved, the saved 0.1 sent to b).
    #   "desk" at b, reach 1, 20 a customer: first in b at tenure 1 with
    #   probability 0.6 (touched) or 0.5 -> 100 (0.5 * 0.6 + 0.5 * 0.5) = 55
    #   reached, 1 100.
    # Distinct: the touched half is all reached by the call; of the other half,
    # those in b at tenure 1 (0.5) -> 100 (0.5 + 0.5 * 0.5) = 75, not 50 + 55.
    j = js.Journey(
        ["a", "b", "churned"],
        {"a": {"b": 0.5, "churned": 0.2}, "b": {"churned": 0.5}},
        values={"revenue": {"a": 1.0, "b": 2.0}},
        cohort_size=100.0,
    )
    call = js.Intervention(
        "call",
        at=("a", "churned"),
        relative_risk=0.5,
        reassign_to="b",
        reach=0.5,
        window=(0, 1),
        cost_per_customer=10.0,
    )
    desk = js.Intervention(
        "desk", at=("b", "churned"), relative_risk=0.8, cost_per_customer=20.0
    )
    plan = js.Plan("both", [call, desk])
    for c in (
        js.compare(j, [plan], 2),
        js.compare(j, [plan], 2, customers=1_000, seed=1),
    ):
        assert c.population.loc["both", "customers reached"] == approx(75.0)
        assert c.per_customer.loc["both", "share reached"] == approx(0.75)
        assert c.reach.loc[("both", "call"), "customers reached"] == approx(50.0)
        assert c.reach.loc[("both", "desk"), "customers reached"] == approx(55.0)
        assert c.reach.loc[("both", "call"), "cost"] == approx(500.0)
        assert c.reach.loc[("both", "desk"), "cost"] == approx(1100.0)
        assert c.population.loc["both", "intervention cost"] == approx(1600.0)
        assert c.summary.loc["both", "reached call"] == approx(50.0)


def test_reach_table_costs_add_up_to_the_plan_cost(thousand):
    exact, mc = thousand
    for c in (exact, mc):
        by_plan = c.reach.groupby(level="plan")["cost"].sum()
        for plan in by_plan.index:
            assert by_plan[plan] == approx(
                c.population.loc[plan, "intervention cost"], rel=1e-9
            ), (c.method, plan)
    # The onboarding call and the rescue desk overlap: fewer distinct
    # customers than the sum over interventions.
    both = exact.reach.loc["call and rescue", "customers reached"]
    distinct = exact.population.loc["call and rescue", "customers reached"]
    assert max(both) < distinct < both.sum()


# -- payback (issue 14, item 4) -----------------------------------------------------


def test_payback_by_hand():
    # Churn 0.1 halved to 0.05 for 20 a customer at t = 0; 100 a period, start
    # accrual, r = 0. Incremental net value per customer by period:
    #   1: -20                         cumulative -20
    #   2: 100 (0.95 - 0.9) = 5                    -15
    #   3: 100 (0.9025 - 0.81) = 9.25              -5.75
    #   4: 100 (0.857375 - 0.729) = 12.84          +7.09  -> pays back in 4
    j = js.Journey(
        ["active", "churned"],
        {"active": {"churned": 0.1}},
        values={"revenue": {"active": 100.0}},
        cohort_size=1000,
        time_unit="month",
        currency="USD",
    )
    save_ = js.Intervention(
        "save", at=("active", "churned"), relative_risk=0.5, cost_per_customer=20
    )
    slow = js.Intervention(
        "slow", at=("active", "churned"), relative_risk=0.5, cost_fixed=1e9
    )
    plans = [js.Plan("save", [save_]), js.Plan("costly", [slow])]
    exact = js.compare(j, plans, 12)
    assert exact.population.loc["save", "payback"] == 4.0
    # never within the horizon: nan, and said so
    assert np.isnan(exact.population.loc["costly", "payback"])
    assert np.isnan(exact.population.loc["baseline", "payback"])
    assert "not within 12 months" in repr(exact)
    mc = js.compare(j, plans, 12, customers=20_000, seed=4)
    assert mc.population.loc["save", "payback"] == 4.0
    # three periods: it has not paid back yet
    assert np.isnan(js.compare(j, plans, 3).population.loc["save", "payback"])


@pytest.mark.parametrize(
    ("gain", "expected"),
    [
        ([-20, 5, 9.25, 12.84], 4.0),
        ([1.0, 2.0], 1.0),
        ([-5, 10, -8, 10], 4.0),  # positive in 2, below again in 3: pays in 4
        ([1.0, -1.0], np.nan),  # back to zero at the horizon
        ([0.0, 0.0], np.nan),
        ([], np.nan),
    ],
)
def test_payback_is_the_first_period_from_which_it_stays_positive(gain, expected):
    from journeysim.plans.payback import payback

    got = payback(np.array(gain, dtype=float))
    assert got == expected or (np.isnan(expected) and np.isnan(got))


# -- labels and numbers for people --------------------------------------------------


def test_chart_axes_say_per_customer_or_population_with_the_unit(thousand, pyplot):
    exact, mc = thousand
    ax = exact.plot()
    assert ax.get_xlabel() == (
        "incremental net value, population of 1,000 customers (USD)"
    )
    assert "36 months" in ax.get_title()
    ax = mc.plot(metric="CLV diff")
    assert ax.get_xlabel() == "CLV diff per customer (USD)"
    ax = exact.plot(metric="retention at 36")
    assert ax.get_xlabel() == "retention at 36 (%)"
    ax = exact.plot(metric="incremental net value per customer")
    assert ax.get_xlabel() == "incremental net value per customer (USD)"
    pyplot.gcf().canvas.draw()
    ticks = [t.get_text() for t in exact.plot().get_xticklabels()]
    assert any("$" in t for t in ticks) and not any("e+" in t for t in ticks)


def test_repr_writes_money_and_shares_without_scientific_notation(thousand):
    for c in thousand:
        for text in (repr(c), c._repr_html_()):
            assert "e+" not in text and "e-0" not in text
            assert "$" in text and "%" in text
            assert "months" in text
            assert "Per customer of the starting cohort" in text
            assert "Population of 1,000 customers" in text


def test_reached_value_is_a_per_customer_share(both):
    for c in both:
        assert "reached value" in c.per_customer.columns
        assert "reached value" not in c.population.columns
