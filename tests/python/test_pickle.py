"""Pickling journeys, interventions and plans (what Dask sends to workers):
an unpickled object is equal and gives the same numbers bit for bit."""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import journeysim as js
from journeysim.model.apply_plan import apply_plan
from test_files import (
    INTERVENTIONS,
    NAMES,
    assert_same_analysis,
    assert_same_journey,
    journeys,
    plans,
)

PROTOCOLS = range(2, pickle.HIGHEST_PROTOCOL + 1)


@pytest.mark.parametrize("name", NAMES)
def test_journeys_pickle_exactly(name, rng):
    j = journeys(rng)[name]
    for protocol in PROTOCOLS:
        back = pickle.loads(pickle.dumps(j, protocol=protocol))
        assert type(back) is js.Journey
        assert back == j
        assert_same_journey(j, back)
    assert_same_analysis(j, back)


def test_a_journey_pickle_is_its_spec():
    j = js.default_journey("small_business")
    _, (cls, spec) = j.__reduce__()
    assert cls is js.Journey and spec == j.to_spec()
    # Plain data: no numpy or journeysim objects inside.
    assert b"numpy" not in pickle.dumps(spec)


def test_copies_are_equal_and_independent():
    j = js.default_journey("small_business")
    for c in (copy.copy(j), copy.deepcopy(j)):
        assert c == j and c is not j
        assert_same_analysis(j, c, periods=12)
    c.name = "renamed"
    assert j.name == "Small-business SaaS" and c != j


@pytest.mark.parametrize("name", list(INTERVENTIONS))
def test_interventions_pickle(name):
    iv = INTERVENTIONS[name]()
    for protocol in PROTOCOLS:
        back = pickle.loads(pickle.dumps(iv, protocol=protocol))
        assert back == iv and back.to_dict() == iv.to_dict()
        assert back.window == iv.window and back.calendar == iv.calendar
    # budget.py copies an intervention and changes its reach.
    c = copy.copy(iv)
    c.reach = 0.5
    assert c != iv or iv.reach == 0.5


def test_plans_pickle_and_still_apply():
    j = js.default_journey("small_business")
    for plan in plans():
        back = pickle.loads(pickle.dumps(plan))
        assert back == plan and back.name == plan.name
        assert [i.name for i in back.interventions] == [
            i.name for i in plan.interventions
        ]
    plan = plans()[0]
    a1 = apply_plan(j, plan, cost_rate=0.01)
    a2 = apply_plan(j, pickle.loads(pickle.dumps(plan)), cost_rate=0.01)
    pj1, once1, pj2, once2 = a1.journey, a1.once, a2.journey, a2.once
    assert once1 == once2
    assert_same_analysis(pj1, pj2, periods=12)


def test_equality_and_hashing():
    a, b = plans()[0], plans()[0]
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != plans()[1] and (a == "proactive") is False
    iv1, iv2 = INTERVENTIONS["full"](), INTERVENTIONS["full"]()
    assert iv1 == iv2 and hash(iv1) == hash(iv2)
    iv2.reach = 0.5
    assert iv1 != iv2
    assert js.Plan("x", [iv1]) != js.Plan("x", [iv2])


def test_a_plans_journey_pickles_with_its_capacity_rules():
    j = js.default_journey("small_business")
    plan = plans()[1]  # capacity and a calendar window: simulation rules
    pj = apply_plan(j, plan, cost_rate=0.01, simulate=True).journey
    back = pickle.loads(pickle.dumps(pj))
    assert back.resolved.capacity == pj.resolved.capacity
    names = [rule.intervention for rule in back.resolved.capacity]
    assert names == ["save desk"]
    assert back.streams == pj.streams and back.segments == pj.segments
    assert back == back and back != pj  # a plan's journey equals only itself
    s1 = pj.simulate(customers=2_000, periods=6, seed=11, threads=1)
    s2 = back.simulate(customers=2_000, periods=6, seed=11, threads=1)
    np.testing.assert_array_equal(s1.occupancy.to_numpy(), s2.occupancy.to_numpy())
    exact = apply_plan(j, plans()[0], cost_rate=0.01).journey
    assert_same_analysis(exact, pickle.loads(pickle.dumps(exact)), periods=12)


def test_a_pickle_unpickles_in_another_process(tmp_path):
    j = js.default_journey("small_business")
    path = tmp_path / "j.pickle"
    path.write_bytes(pickle.dumps((j, plans())))
    code = (
        "import pickle, sys; j, ps = pickle.load(open(sys.argv[1], 'rb')); "
        "a = j.analyze(periods=36); "
        "print(repr(a.clv), repr(a.lifetime_clv), [p.name for p in ps])"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(js.__file__).parent.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    a = j.analyze(periods=36)
    names = [p.name for p in plans()]
    assert out == f"{a.clv!r} {a.lifetime_clv!r} {names}"


def test_a_stay_a_hair_above_one_pickles():
    """Matrices from arithmetic can carry 1.0000000000000002 on the diagonal;
    the core accepts it (within its tolerance), and so must the spec."""
    P = np.array([[0.9, 0.1], [0.0, 1.0000000000000002]])
    j = js.Journey.from_matrix(P, ["a", "b"])
    back = pickle.loads(pickle.dumps(j))
    assert back.transition_matrix.loc["b", "b"] == 1.0000000000000002
    assert_same_journey(j, back)


@pytest.mark.parametrize("name", NAMES)
def test_derived_journeys_pickle_and_save(name, rng):
    """What sweeps and uncertainty draws make of a journey (its segments and
    rates replaced through Journey.derive) pickles and saves exactly."""
    j = journeys(rng)[name]
    d = j.derive(rates={s: 0.05 for s in j.streams})
    back = pickle.loads(pickle.dumps(d))
    assert_same_journey(d, back)
    assert_same_analysis(d, back, periods=12)
    assert_same_journey(d, js.loads(js.dumps(d)).journey)


def test_a_base_row_no_segment_uses_need_not_be_valid():
    j = js.Journey(
        ["a", "b"],
        {"a": {"a": 0.0}},  # every segment replaces this row
        segments={
            "x": {"share": 0.5, "transitions": {"a": {"b": 0.5}}},
            "y": {"share": 0.5, "transitions": {"a": {"b": 0.1}}},
        },
    )
    spec = j.to_spec()
    assert spec["transitions"] == {"a": {"b": 0.5}}  # written from segment x
    assert spec["segments"]["x"] == {"share": 0.5}
    assert_same_journey(j, pickle.loads(pickle.dumps(j)))
    assert_same_journey(j, js.loads(js.dumps(j)).journey)
