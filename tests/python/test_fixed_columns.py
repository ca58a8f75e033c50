"""Per-customer columns a journey fixes for everyone are not stored: one
segment, everyone starting in the first stage, no value stage. The engines
leave them out of memory and the result shows a constant read-only column, so
every reader sees the same numbers as before (a fifth of the per-customer memory
at 10 M customers, benchmarks/RESULTS.md)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import journeysim as js
from journeysim import _core

P = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.0, 0.0, 1.0]])


def plain() -> js.Journey:
    # one segment, everyone starts in "trial", no value stage
    return js.Journey.from_matrix(P, stages=["trial", "active", "churned"])


def memory(journey: js.Journey, capacity_rules: int = 0) -> float:
    need = dict(
        _core.simulation_memory(
            journey.core,
            1_000_000,
            12,
            1,
            1,
            _core.Method.individual,
            True,
            capacity_rules,
        )
    )
    return need["per-customer arrays"]


@pytest.mark.parametrize("engine", ["sojourn", "period"])
def test_fixed_columns_are_constant_views_not_stored(engine):
    sim = plain().simulate(5_000, 12, seed=3, progress=False, engine=engine)
    for name, value in (("start_stage", 0), ("first_value", -1), ("segment", 0)):
        col = getattr(sim, name)
        assert col.shape == (5_000,)
        assert col.strides == (0,)  # one value, no memory per customer
        assert not col.flags.writeable
        assert (col == value).all()
    assert sim.lifetime.strides != (0,)  # the others are stored
    # readers build from them as before (a journey without value streams
    # included: its customer table has no value columns)
    table = sim.customers_table
    assert len(table) == 5_000
    assert (table["first_value"] == -1).all()


def test_a_journey_that_varies_them_stores_them():
    j = js.Journey.from_matrix(
        P,
        stages=["trial", "active", "churned"],
        start={"trial": 0.5, "active": 0.5},
        value_stages=["active"],
    )
    sim = j.simulate(5_000, 12, seed=3, progress=False)
    assert sim.start_stage.strides != (0,)
    assert set(np.unique(sim.start_stage)) == {0, 1}
    assert sim.first_value.strides != (0,)
    assert (sim.first_value == 0).sum() == (sim.start_stage == 1).sum()
    assert (sim.segment == 0).all()  # one segment: still fixed
    assert sim.segment.strides == (0,)


def test_fixed_columns_survive_pickling():
    sim = plain().simulate(2_000, 12, seed=5, progress=False)
    back = pickle.loads(pickle.dumps(sim))
    for name in ("start_stage", "first_value", "segment", "lifetime", "outcome"):
        np.testing.assert_array_equal(getattr(back, name), getattr(sim, name))


def test_the_memory_check_counts_only_stored_columns():
    # lifetime 4, outcome 2, value per stream 8 (no stream here): 6 bytes a
    # customer instead of 13 when the start stage, first value and segment are
    # fixed; the capacity engine stores every column.
    assert memory(plain()) == pytest.approx(1_000_000 * 6)
    assert memory(plain(), capacity_rules=1) == pytest.approx(1_000_000 * 13)
