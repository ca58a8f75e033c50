"""Resources (docs/reliability.md, "Concurrency and resources"): a request
whose memory need exceeds what is available fails at once, before allocating
anything, with a MemoryError that states the need and what to do instead
(aggregate mode, totals only, chunks of customers, fewer periods); nothing is
left for the operating system to kill."""

from __future__ import annotations

import re

import numpy as np
import pytest

import journeysim as js
from conftest import fails_at_once
from journeysim import _core
from journeysim._base.system import available_memory

GiB = 2**30


@pytest.fixture(scope="module")
def churn() -> js.Journey:
    return js.Journey(
        ["active", "churned"],
        {"active": {"churned": 0.01}},
        values={"revenue": {"active": 1.0}, "cost": {"active": 0.2}},
    )


@pytest.fixture(scope="module")
def wide() -> js.Journey:
    """2,000 stages: the per-period tables of an analysis are 64 kB a period."""
    n = 2000
    P = np.zeros((n, n))
    for k in range(n - 2):
        P[k, k + 1], P[k, n - 1] = 0.9, 0.1
    P[n - 2, n - 2], P[n - 2, n - 1] = 0.9, 0.1
    P[n - 1, n - 1] = 1.0
    return js.Journey.from_matrix(P, stages=[f"s{k}" for k in range(n)])


def test_per_customer_arrays_beyond_memory_fail_at_once(churn):
    msg = fails_at_once(
        lambda: churn.simulate(10**12, 120, seed=1), r"per-customer arrays .* GiB"
    )
    # The need, what is available, and the ways out.
    assert "GiB of memory available" in msg
    assert "record='totals'" in msg and "method='aggregate'" in msg
    assert "chunks of at most" in msg
    # The advice works: totals only need no per-customer memory.
    need = dict(
        _core.simulation_memory(
            churn._core, 10**12, 120, 1, 2, _core.Method.individual, False, 0
        )
    )
    assert "per-customer arrays" not in need
    assert sum(need.values()) < GiB


def test_an_event_log_beyond_memory_fails_at_once(churn):
    msg = fails_at_once(
        lambda: churn.simulate(10**10, 120, seed=1, record="events"),
        r"an event log of about [\d,]+ events .* GiB",
    )
    assert "record=None or 'totals'" in msg


def test_per_period_tables_beyond_memory_fail_at_once(churn):
    # Aggregate mode needs no memory per customer, but per period and replication.
    msg = fails_at_once(
        lambda: churn.simulate(
            100, 10_000_000, seed=1, replications=1000, method="aggregate"
        ),
        r"per-period tables",
    )
    assert "fewer periods or replications" in msg


def test_a_capacity_limited_plan_beyond_memory_fails_at_once(churn):
    from journeysim.model.apply_plan import apply_plan

    call = js.Intervention(
        "call", at=("active", "churned"), relative_risk=0.5, capacity=10
    )
    limited = apply_plan(
        churn, js.Plan("team", [call]), cost_rate=0.0, simulate=True
    ).journey
    msg = fails_at_once(
        lambda: limited.simulate(10**10, 120, seed=1, record="totals"),
        r"the capacity engine's customers .* GiB",
    )
    assert "method='aggregate'" not in msg  # capacity needs individual customers
    assert "chunks of at most" in msg


def test_the_engine_memory_does_not_grow_with_customers(churn):
    # Totals only: per-thread counters and a bounded wave of block sums.
    def need(customers, method):
        return sum(
            v
            for _, v in _core.simulation_memory(
                churn._core, customers, 120, 1, 2, method, False, 0
            )
        )

    for method in (_core.Method.individual, _core.Method.aggregate):
        assert need(10**6, method) == need(10**15, method)


def test_an_analysis_beyond_memory_fails_at_once(wide):
    periods = 1_000_000
    need = _core.analysis_memory(wide._core, periods)
    if need < 1.25 * available_memory():  # pragma: no cover - a very big machine
        pytest.skip("this machine has the memory for it")
    msg = fails_at_once(lambda: wide.analyze(periods=periods), r"exact analysis over")
    assert "use fewer periods" in msg and "do not depend on them" in msg


def test_sensitivities_beyond_memory_fail_at_once(wide):
    fails_at_once(
        lambda: wide.moments_of_truth("lifetime", horizon=1_000_000),
        r"sensitivities over 1000000 periods",
    )


def test_a_comparison_sizes_its_own_peak_before_allocating(churn, monkeypatch):
    # Issue 13: 6 plans x 2 million customers. Each simulation alone needs
    # 0.07 GiB and passed its own check; the comparison keeps all six and pairs
    # their per-customer figures (about 1.1 GiB): with 1 GiB available it used
    # to fail after the work with numpy's "Unable to allocate".
    from journeysim._base import system
    from journeysim.model.journey import Journey

    monkeypatch.setattr(system, "available_memory", lambda: GiB)
    ran = []
    monkeypatch.setattr(Journey, "simulate", lambda *a, **k: ran.append(1))
    save = js.Intervention("save", ("active", "churned"), relative_risk=0.5)
    plans = [js.Plan(f"p{k}", [save.replace(relative_risk=0.1 * k)]) for k in range(5)]
    msg = fails_at_once(
        lambda: js.compare(churn, plans, 120, customers=2_000_000, seed=1),
        r"compare: 2,000,000 customers x 6 plans \(baseline included\) would need "
        r"about 1\.\d GiB .* than the 1\.0 GiB of memory available",
    )
    assert re.search(r"at most [\d,]+ customers per call", msg) and "exact" in msg
    assert ran == []  # refused before the first simulation
    # Within memory: the same comparison runs (smaller here).
    monkeypatch.undo()
    js.compare(churn, plans[1:2], 12, customers=2000, seed=1, progress=False)
