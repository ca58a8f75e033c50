"""The streaming capacity engine (issue 18 item 2): who waits longest is served
first, the same numbers for any thread count, a capacity nobody reaches gives
the plan without capacity in distribution, memory that does not grow with
customers x periods."""

from __future__ import annotations

import numpy as np
import pytest

import journeysim as js
from journeysim import _core
from journeysim.model.apply_plan import apply_plan

CAP = 3


def desk_journey() -> js.Journey:
    # pre -> a (0.3 a period); at a a served customer moves to won (0.9) or
    # lost (0.1), an unserved one stays (0.9) or is lost (0.1): whoever moves
    # a -> won was served, whoever stays at a was not.
    return js.Journey(
        ["pre", "a", "won", "lost"],
        {"pre": {"a": 0.3}, "a": {"lost": 0.1}},
        start={"pre": 0.5, "a": 0.5},
    )


def desk_sim(threads: int = 1, customers: int = 60, periods: int = 12, **kw):
    iv = js.Intervention(
        "desk", at=("a", "won"), probability=0.9, reassign_to="a", capacity=CAP, **kw
    )
    pj = apply_plan(
        desk_journey(), js.Plan("p", [iv]), cost_rate=0.0, simulate=True
    ).journey
    return pj.simulate(
        customers, periods, seed=5, threads=threads, record="events", progress=False
    )


def paths(sim, periods: int) -> np.ndarray:
    """Stage index of every customer at t = 0..periods, from the event log."""
    stages = np.tile(np.asarray(sim.start_stage)[:, None], (1, periods + 1))
    log = sim.events
    codes = log["to"].cat.codes.to_numpy()
    for c, p, s in zip(log["customer"].to_numpy(), log["period"].to_numpy(), codes):
        stages[c, p:] = s
    return stages


def test_the_customer_who_waited_longest_is_served_first():
    periods = 12
    sim = desk_sim(periods=periods)
    at = paths(sim, periods)
    A, WON = 1, 2
    waited = np.zeros(at.shape[0], dtype=int)  # periods at a before t
    binding = 0
    for t in range(periods):
        here = np.flatnonzero(at[:, t] == A)
        # served first: longest wait, then customer number (one stage: no priority)
        order = sorted(here, key=lambda i: (-waited[i], i))
        served = set(order[:CAP])
        for i in here:
            if i in served:
                assert at[i, t + 1] != A  # served customers never stay
            else:
                assert at[i, t + 1] != WON  # only the served reach "won"
        binding += len(here) > CAP
        # Someone served ahead of a lower customer number: waiting time decided.
        waited[here] += 1
        waited[at[:, t] != A] = 0
    assert binding >= 5  # the capacity bound in most periods
    treated = sim.capacity["desk"]["treated"].to_numpy()
    assert (treated <= CAP).all()


def test_waiting_beats_customer_number_in_the_hand_built_case():
    # A higher-numbered customer who has waited longer is served before a
    # lower-numbered newcomer somewhere in this run (the order is not by number).
    periods = 12
    sim = desk_sim(periods=periods)
    at = paths(sim, periods)
    waited = np.zeros(at.shape[0], dtype=int)
    overtakes = 0
    for t in range(periods):
        here = np.flatnonzero(at[:, t] == 1)
        left = set(np.flatnonzero(at[:, t + 1] != 1)) & set(here)
        stayed = [i for i in here if i not in left]
        for i in left:
            if at[i, t + 1] == 2:  # served
                overtakes += sum(1 for k in stayed if k < i and waited[k] < waited[i])
        waited[here] += 1
        waited[at[:, t] != 1] = 0
    assert overtakes > 0


@pytest.mark.parametrize("threads", [2, 4])
def test_any_thread_count_gives_the_same_numbers(threads):
    # 20,000 customers: several chunks of the parallel pass.
    one = desk_sim(1, customers=20_000, periods=10)
    many = desk_sim(threads, customers=20_000, periods=10)
    np.testing.assert_array_equal(one.customer_value, many.customer_value)
    np.testing.assert_array_equal(one.lifetime, many.lifetime)
    np.testing.assert_array_equal(one.outcome, many.outcome)
    assert one.events.equals(many.events)
    assert one.capacity["desk"].equals(many.capacity["desk"])
    assert one.value_by_period.equals(many.value_by_period)


def test_a_capacity_nobody_reaches_gives_the_unlimited_plan_in_distribution():
    # Different draws (the capacity engine's own counter-based streams), the
    # same process: retention at every period and CLV within 4 standard errors.
    j = js.default_journey("small_business")
    n, T = 20_000, 24

    def sim(capacity):
        iv = js.Intervention(
            "outreach", at=("at_risk", "churned"), relative_risk=0.5, capacity=capacity
        )
        pj = apply_plan(j, js.Plan("p", [iv]), cost_rate=0.0, simulate=True).journey
        return pj.simulate(n, T, seed=9, progress=False)

    roomy, free = sim(10**9), sim(None)
    r1, r2 = roomy.retention.to_numpy(), free.retention.to_numpy()
    se = np.sqrt(r1 * (1 - r1) / n + r2 * (1 - r2) / n) + 1e-12
    assert (np.abs(r1 - r2) <= 4 * se).all()
    se_clv = np.hypot(roomy.standard_errors["net"], free.standard_errors["net"])
    assert abs(roomy.clv - free.clv) <= 4 * se_clv
    # Both agree with the exact analysis of the unlimited plan.
    exact = apply_plan(j, js.Plan("p", [_outreach()]), cost_rate=0.0).journey.analyze(T)
    assert abs(roomy.clv - exact.clv) <= 4 * roomy.standard_errors["net"]


def _outreach() -> js.Intervention:
    return js.Intervention("outreach", at=("at_risk", "churned"), relative_risk=0.5)


def test_memory_does_not_grow_with_customers_times_periods():
    # The engine's estimate per customer is the same at 12 and 1,200 periods:
    # nothing per customer x period (the old engine kept 8 bytes of each).
    j = js.default_journey("small_business")
    iv = js.Intervention(
        "outreach", at=("at_risk", "churned"), relative_risk=0.5, capacity=10
    )
    pj = apply_plan(j, js.Plan("p", [iv]), cost_rate=0.0, simulate=True).journey

    def engine(customers, periods):
        need = dict(
            _core.simulation_memory(
                pj.core, customers, periods, 1, 1, _core.Method.individual, False, 1
            )
        )
        return need["the capacity engine's customers"]

    per_customer = engine(10**6, 12) / 10**6
    assert engine(10**6, 1_200) / 10**6 == pytest.approx(per_customer)
    assert per_customer < 150  # bytes: 1 M customers x 120 periods in ~0.1 GB
    assert engine(2 * 10**6, 120) == pytest.approx(2 * engine(10**6, 120))


def test_a_capacity_plan_shares_random_numbers_with_the_other_plans():
    # The period engine reads each customer's draws by number (segment, start,
    # one per tenure) as the capacity engine does; compare runs every plan on
    # it when one has a capacity. With room for everyone, the capacity plan is
    # the same plan customer for customer, and its paired interval the same.
    j = js.default_journey("small_business")
    iv = js.Intervention(
        "rescue",
        at=("at_risk", "churned"),
        probability=0.12,
        reassign_to="adopting",
        reach=0.6,
        cost_per_period=120,
    )
    plans = [js.Plan("free", [iv]), js.Plan("room", [iv.replace(capacity=10**9)])]
    s = js.compare(j, plans, 24, customers=3_000, seed=3).summary
    cols = ["CLV", "CLV diff", "CLV diff low", "CLV diff high"]
    # Equal customer for customer; the sums differ only in their order.
    assert s.loc["room", cols].tolist() == pytest.approx(
        s.loc["free", cols].tolist(), rel=1e-12
    )
    assert s.loc["room", "CLV diff"] > 0
