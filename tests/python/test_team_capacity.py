"""Team capacity: a team's customers per period shared by its interventions
(Plan(capacity=), Journey(team_capacity=)), the workload and hand-off tables
of compare, and best_plan(per_team_capacity=)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import journeysim as js
from journeysim._base.errors import InputError
from journeysim.model.apply_plan import apply_plan

CS = "Customer Success"


def journey(**kw) -> js.Journey:
    return js.Journey(
        ["new", "active", "churned"],
        {"new": {"active": 0.5, "churned": 0.1}, "active": {"churned": 0.1}},
        values={"revenue": {"active": 100.0}},
        start={"new": 0.5, "active": 0.5},
        arrivals=40,
        cohort_size=400,
        metadata={"new": {"owner": "Onboarding"}, "active": {"owner": CS}},
        time_unit="month",
        currency="USD",
        **kw,
    )


WELCOME = js.Intervention(
    "welcome call", at=("new", "churned"), relative_risk=0.5, owner=CS
)
HEALTH = js.Intervention(
    "health check", at=("active", "churned"), relative_risk=0.5, capacity=30, owner=CS
)


def simulate(plan, j=None, **kw):
    pj = apply_plan(j or journey(), plan, cost_rate=0.0, simulate=True).journey
    return pj.simulate(400, 12, seed=3, progress=False, **kw)


def at_start(log, stage: str, periods: int) -> np.ndarray:
    """Customers in ``stage`` at the start of periods 1..T, from the event log."""
    out = np.zeros(periods, dtype=int)
    for _, g in log.groupby("customer"):
        p, s = g["period"].to_numpy(), g["stage"].astype(str).to_numpy()
        for t in range(periods):
            before = np.nonzero(p <= t)[0]
            if len(before) and s[before[-1]] == stage:
                out[t] += 1
    return out


def test_team_capacity_never_exceeded_in_the_event_log():
    plan = js.Plan("cs", [WELCOME, HEALTH], capacity={CS: 50})
    s = simulate(plan, record="events")
    log = s.stage_log()
    e_new, e_active = at_start(log, "new", 12), at_start(log, "active", 12)
    handled = s.raw.team_handled[0, :, 0]
    cap = s.capacity
    welcome = cap["welcome call"]["treated"].to_numpy()
    health = cap["health check"]["treated"].to_numpy()
    # The plan's order: the welcome call first, the health check (its own
    # capacity 30) takes what is left of the 50.
    assert (welcome == np.minimum(e_new, 50)).all()
    assert (health == np.minimum(np.minimum(e_active, 30), 50 - welcome)).all()
    assert (handled == welcome + health).all()
    assert handled.max() == 50 and (handled <= 50).all()
    assert (health <= 30).all()  # the intervention's own capacity holds inside


def test_same_seed_same_numbers_for_any_thread_count():
    plan = js.Plan("cs", [WELCOME, HEALTH], capacity={CS: 50})
    a = simulate(plan, threads=1, replications=2)
    b = simulate(plan, threads=2, replications=2)
    assert np.array_equal(a.raw.occupancy, b.raw.occupancy)
    assert np.array_equal(a.raw.team_handled, b.raw.team_handled)
    assert np.array_equal(a.raw.value_by_period, b.raw.value_by_period)


def test_a_capacity_large_enough_equals_none_exactly():
    big = [WELCOME.replace(capacity=10**9), HEALTH.replace(capacity=10**9)]
    a = simulate(js.Plan("own only", big))
    b = simulate(js.Plan("team", big, capacity={CS: 10**12}))
    assert np.array_equal(a.raw.occupancy, b.raw.occupancy)
    assert np.array_equal(a.raw.value_by_period, b.raw.value_by_period)
    assert np.array_equal(a.raw.capacity_treated, b.raw.capacity_treated)


def test_the_journey_budget_applies_and_a_plan_overrides_it():
    j = journey(team_capacity={CS: 40})
    s = simulate(js.Plan("cs", [WELCOME, HEALTH]), j)
    assert s.raw.team_handled.max() == 40
    s = simulate(js.Plan("cs", [WELCOME, HEALTH], capacity={CS: 20}), j)
    assert s.raw.team_handled.max() == 20


@pytest.mark.parametrize(
    ("capacity", "words"),
    [
        ({CS: -5}, "whole number"),
        ({CS: 2.5}, "whole number"),
        ({CS: True}, "whole number"),
        ({CS: 0}, "whole number"),
        ({"": 5}, "names teams"),
        ([50], "team: customers per period"),
    ],
)
def test_bad_plan_capacities_are_named(capacity, words):
    with pytest.raises(InputError, match=words):
        js.Plan("cs", [WELCOME], capacity=capacity)


def test_a_team_without_an_intervention_in_the_plan_is_named():
    plan = js.Plan("cs", [WELCOME], capacity={"Sales": 5})
    with pytest.raises(InputError, match="'Sales', which runs none"):
        js.compare(journey(), [plan], periods=6, customers=100, seed=1, progress=False)


def test_unknown_journey_team_is_named():
    with pytest.raises(InputError, match="'Sales', which owns no stage"):
        journey(team_capacity={"Sales": 5})
    with pytest.raises(InputError, match="whole number"):
        journey(team_capacity={CS: -1})


def test_a_team_capacity_needs_simulation():
    with pytest.raises(InputError, match="only be simulated"):
        js.compare(journey(team_capacity={CS: 40}), [js.Plan("cs", [WELCOME])])


def test_round_trip_through_a_model_file(tmp_path):
    j = journey(team_capacity={CS: 40})
    plan = js.Plan("cs", [WELCOME, HEALTH], capacity={CS: 50}, start=1)
    path = tmp_path / "m.yaml"
    js.save(j, path, plans=[plan])
    assert js.load(path).resolved.team_capacity == j.resolved.team_capacity
    (back,) = js.load_plans(path)
    assert back == plan and back.capacity == {CS: 50}
    assert js.Plan.from_dict(plan.to_dict()) == plan


def test_workload_exact_by_hand_and_handoffs_exact_against_simulation():
    free = js.Plan("free", [WELCOME, HEALTH.replace(capacity=None)])
    c = js.compare(journey(), [free], periods=12)
    w = c.workload.loc[("free", CS), "handled"]
    # Period 1: the whole cohort of 400 starts in new or active, both met.
    assert w.loc[1] == pytest.approx(400.0, rel=1e-12)
    # Period 2: everyone still in, plus the 40 arrivals, under the plan.
    assert w.loc[2] == pytest.approx(400 * (0.5 * 0.95 + 0.5 * 0.95) + 40, rel=1e-12)
    exact = c.handoffs.loc[("free", "Onboarding", CS), "total"]
    # The same plan simulated through the capacity engine (a team budget
    # nobody reaches) counts its hand-offs.
    roomy = js.Plan("roomy", free.interventions, capacity={CS: 10**9})
    sims = [
        js.compare(
            journey(), [roomy], periods=12, customers=400, seed=s, progress=False
        )
        for s in range(20)
    ]
    counts = np.array(
        [x.handoffs.loc[("roomy", "Onboarding", CS), "total"] for x in sims]
    )
    se = counts.std(ddof=1) / np.sqrt(len(counts))
    assert abs(counts.mean() - exact) < 4 * se + 1e-9
    assert all(
        x.handoffs.loc[("roomy", "Onboarding", CS), "method"] == "simulated"
        for x in sims
    )


def test_compare_says_where_a_team_is_at_capacity():
    plan = js.Plan("cs", [WELCOME, HEALTH], capacity={CS: 50})
    c = js.compare(journey(), [plan], periods=12, customers=400, seed=1, progress=False)
    w = c.workload.loc[("cs", CS)]
    assert (w["handled"] <= 50).all() and w["at capacity"].any()
    assert "Customer Success is at capacity (50 customers a month)" in c.to_text()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_plan_per_team_capacity_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    cands = [
        js.Intervention(
            f"c{k}",
            at=(rng.choice(["new", "active"]), "churned"),
            relative_risk=float(rng.uniform(0.3, 0.9)),
            cost_per_customer=float(rng.uniform(1, 30)),
            owner=str(rng.choice([CS, "Onboarding"])),
        )
        for k in range(4)
    ]
    j = journey()
    teams = sorted({c.owner for c in cands})
    caps = {t: int(rng.integers(200, 600)) for t in teams}
    budget = float(rng.uniform(2e4, 8e4))
    best, best_key = None, None
    for r in range(len(cands) + 1):
        for sub in itertools.combinations(cands, r):
            c = js.compare(j, [js.Plan("p", list(sub))], periods=12)
            row = c.population.loc["p"]
            load = c.workload["handled"]
            load = load[load.index.get_level_values("plan") == "p"]
            peaks = load.groupby(level="team").max()
            if row["intervention cost"] > budget * (1 + 1e-9):
                continue
            if any(peaks.get(t, 0.0) > caps[t] for t in caps):
                continue
            key = (-row["incremental net value"], row["intervention cost"], len(sub))
            if best_key is None or key < best_key:
                best, best_key = {i.name for i in sub}, key
    for limit in (4096, 1):  # exact search, then the heuristic
        ch = js.best_plan(
            j, cands, budget, periods=12, per_team_capacity=caps, exact_limit=limit
        )
        chosen = js.Plan("chosen", ch.plan.interventions)
        c = js.compare(j, [chosen], periods=12)
        load = c.workload["handled"]
        load = load[load.index.get_level_values("plan") == "chosen"]
        peaks = load.groupby(level="team").max()
        assert all(peaks.get(t, 0.0) <= caps[t] * (1 + 1e-12) for t in caps)
        if limit > 1:
            assert {i.name for i in ch.plan.interventions} == best


def test_best_plan_unknown_team_is_named():
    with pytest.raises(InputError, match="'Sales', which runs none"):
        js.best_plan(journey(), [WELCOME], 100.0, per_team_capacity={"Sales": 5})
