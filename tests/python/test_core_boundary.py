"""The compiled core's boundary: the journey specification, capacity rules and
the simulation result are bound classes with named, read-only fields (numpy
views that keep their owner alive), no positional tuples and no -1 for "none"."""

from __future__ import annotations

import gc
import pickle

import numpy as np
import pytest

from journeysim import _core

START = _core.Accrual.start
INDIVIDUAL = _core.Method.individual


def stream(**kw) -> _core.ValueStream:
    args = dict(
        name="revenue",
        discount_rate=0.01,
        value_starts=[0, 2],
        values=[np.array([10.0, 0.0, 0.0]), np.array([12.0, 0.0, 0.0])],
    )
    return _core.ValueStream(**{**args, **kw})


def segment(**kw) -> _core.Segment:
    P = np.array([[0.7, 0.1, 0.2], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    args = dict(
        name="all",
        share=1.0,
        transition_starts=[0],
        transitions=[P],
        streams=[stream()],
        start=np.array([1.0, 0.0, 0.0]),
    )
    return _core.Segment(**{**args, **kw})


def spec(**kw) -> _core.JourneySpec:
    args = dict(stages=["active", "won", "churned"], segments=[segment()])
    return _core.JourneySpec(**{**args, **kw})


def test_absorbing_none_detects_them_and_an_empty_list_means_none():
    detected = _core.Journey(spec())
    assert detected.absorbing == [False, True, True]
    assert detected.spec.absorbing is None
    declared = _core.Journey(spec(absorbing=[2]))
    assert declared.absorbing == [False, False, True]
    assert declared.spec.absorbing == [2]
    none = _core.Journey(spec(absorbing=[]))
    assert none.absorbing == [False, False, False]
    assert none.spec.absorbing == []
    with pytest.raises(ValueError, match="absorbing stage index -1 is out of range"):
        _core.Journey(spec(absorbing=[-1]))


def test_the_spec_classes_take_keywords_and_read_back():
    with pytest.raises(TypeError):
        _core.ValueStream("revenue", 0.0, [0], [np.zeros(3)])  # keywords only
    s = spec(
        value_stages=[1], cohort_size=100.0, arrivals=[5.0], arrivals_constant=True
    )
    assert s.stages == ["active", "won", "churned"]
    assert (s.value_stages, s.cohort_size) == ([1], 100.0)
    assert (s.arrivals, s.arrivals_constant, s.normalize) == ([5.0], True, False)
    assert s.tolerance == 1e-9 and s.net_weights == []
    (g,) = s.segments
    assert (g.name, g.share, g.transition_starts) == ("all", 1.0, [0])
    (vs,) = g.streams
    assert (vs.name, vs.discount_rate, vs.value_starts) == ("revenue", 0.01, [0, 2])
    assert vs.transition_values is None
    np.testing.assert_array_equal(vs.values[1], [12.0, 0.0, 0.0])
    moves = stream(transition_values=np.ones((3, 3)))
    np.testing.assert_array_equal(moves.transition_values, np.ones((3, 3)))
    with pytest.raises(AttributeError):
        s.cohort_size = 2.0


def test_arrays_are_read_only_views_that_keep_their_owner_alive():
    g = segment()
    P = g.transitions[0]
    start = g.start
    assert not P.flags.writeable and not start.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        P[0, 0] = 0.5
    assert np.shares_memory(P, g.transitions[0])  # a view, not a copy
    del g
    gc.collect()
    np.testing.assert_array_equal(P[0], [0.7, 0.1, 0.2])  # the owner is still there
    # Through a journey's spec: the view keeps the segment, the spec and the journey.
    v = _core.Journey(spec()).spec.segments[0].streams[0].values[1]
    gc.collect()
    np.testing.assert_array_equal(v, [12.0, 0.0, 0.0])


def test_the_journey_spec_is_the_validated_one():
    P = np.array([[0.7, 0.1, 0.2], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    j = _core.Journey(
        spec(segments=[segment(transitions=[P], share=3.0)], normalize=True)
    )
    (g,) = j.spec.segments
    assert g.share == 1.0
    np.testing.assert_array_equal(g.transitions[0][2], [0.0, 0.0, 1.0])
    assert j.spec.net_weights == [1.0]  # one per stream, filled in


@pytest.mark.parametrize("absorbing", [None, [], [2]])
def test_journeys_and_specs_pickle_through_the_spec_classes(absorbing):
    j = _core.Journey(spec(absorbing=absorbing, value_stages=[1], arrivals=[1.0, 2.0]))
    assert pickle.loads(pickle.dumps(j.spec)).absorbing == absorbing
    back = pickle.loads(pickle.dumps(j))
    assert back.spec.absorbing == absorbing and back.absorbing == j.absorbing
    a, b = _core.analyze(j, 12, START), _core.analyze(back, 12, START)
    for name in ("occupancy", "value", "population_value", "value_reached"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_sensitivities_take_none_for_the_whole_lifetime():
    j = _core.Journey(spec())
    metric = _core.Sensitivity.lifetime
    whole = _core.sensitivities(j, None, START, metric, [0, 1, 2])
    assert np.isfinite(whole).all() and whole[0, 2] < 0  # more churn, shorter life
    with pytest.raises(ValueError, match="periods must be >= 0"):
        _core.sensitivities(j, -1, START, metric, [0, 1, 2])


def rule(**kw) -> _core.CapacityRule:
    args = dict(capacity=10, rank=[0, None, None], touched=[True], fallback=[0])
    return _core.CapacityRule(**{**args, **kw})


def test_a_capacity_rule_has_open_ends_as_none():
    r = rule(window=(1, None), calendar=(0, 5))
    assert (r.capacity, r.rank, r.window, r.calendar) == (
        10,
        [0, None, None],
        (1, None),
        (0, 5),
    )
    assert (r.touched, r.fallback) == ([True], [0])
    assert rule().window == (0, None) and rule().calendar == (0, None)
    back = pickle.loads(pickle.dumps(r))
    assert (back.rank, back.window, back.calendar) == (r.rank, r.window, r.calendar)


def simulate(j, capacity=(), **kw):
    args = dict(
        customers=2_000,
        periods=6,
        seed=3,
        replications=2,
        threads=1,
        accrual=START,
        method=INDIVIDUAL,
        per_customer=True,
        record_events=True,
    )
    return _core.simulate(j, **{**args, **kw}, capacity=list(capacity))


def test_a_capacity_rule_counts_within_its_window():
    j = _core.Journey(spec())
    r = simulate(j, [rule(window=(1, 3))])
    eligible = r.capacity_eligible[0, :, 0]
    assert eligible[0] == 0 and eligible[1] > 0 and eligible[2] > 0
    assert (eligible[3:] == 0).all()
    assert (r.capacity_treated[0, :, 0] <= 10).all()


def test_a_simulation_result_has_named_read_only_arrays():
    j = _core.Journey(spec(arrivals=[4.0], arrivals_constant=True))
    r = simulate(j)
    assert (r.replications, r.periods, r.stages, r.streams) == (2, 6, 3, 1)
    assert r.occupancy.shape == r.cohort_occupancy.shape == (2, 7, 3)
    assert r.value_by_period.shape == (2, 6, 1) and r.cohort_value_sq.shape == (2, 2)
    assert r.arrivals.shape == (2, 6) and r.capacity_treated.shape == (2, 6, 0)
    customers = 2_000 + int(r.arrivals[0].sum())
    assert r.lifetime.shape == r.outcome.shape == (customers,)
    assert r.customer_value.shape == (customers, 1)
    assert r.event_customer.shape == r.event_to.shape and r.event_to.size > 0
    assert (r.occupancy.sum(axis=2)[:, 0] == 2_000).all()
    occ = r.occupancy
    assert not occ.flags.writeable and occ.base is not None
    with pytest.raises(ValueError, match="read-only"):
        occ[0, 0, 0] = 1
    assert np.shares_memory(occ, r.occupancy)  # views of one buffer, not copies
    del r
    gc.collect()
    assert occ.sum(axis=2)[0, 0] == 2_000  # the view keeps the result alive


def test_a_simulation_result_pickles():
    r = simulate(_core.Journey(spec()))
    back = pickle.loads(pickle.dumps(r))
    assert (back.replications, back.periods) == (r.replications, r.periods)
    for name in ("occupancy", "value_by_period", "lifetime", "outcome", "event_to"):
        np.testing.assert_array_equal(getattr(back, name), getattr(r, name))
        assert getattr(back, name).dtype == getattr(r, name).dtype
