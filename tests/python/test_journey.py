"""The Journey: its forms (sparse dicts, matrices, DataFrames, tenure pieces,
segments) and what it reports about itself."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import journeysim as js
from conftest import random_chain

S3 = ["a", "b", "c"]


def matrices(j: js.Journey, segment: str | None = None) -> dict[int, np.ndarray]:
    return {t: m.to_numpy() for t, m in j.transition_matrices(segment).items()}


def assert_same_matrices(j1: js.Journey, j2: js.Journey, segment=None) -> None:
    m1, m2 = matrices(j1, segment), matrices(j2, segment)
    assert list(m1) == list(m2)
    for t in m1:
        # Bit for bit, not approximately.
        np.testing.assert_array_equal(m1[t], m2[t])


# -- dict <-> matrix ------------------------------------------------------------


def test_a_sparse_row_leaves_the_rest_in_its_stage():
    j = js.Journey(S3, {"a": {"b": 0.3}})
    assert j.transition_matrix.to_numpy().tolist() == [
        [0.7, 0.3, 0.0],
        [0.0, 1.0, 0.0],  # rows not named stay put entirely
        [0.0, 0.0, 1.0],
    ]


def test_the_stay_probability_is_one_minus_the_exact_sum_of_the_exits():
    # fsum(0.1, 0.2) = 0.30000000000000004; what stays is 1 - that.
    j = js.Journey(S3, {"a": {"b": 0.1, "c": 0.2}})
    row = j.transition_matrix.loc["a"]
    assert row["a"] == 1.0 - math.fsum([0.1, 0.2])
    assert (row["b"], row["c"]) == (0.1, 0.2)


def test_a_row_naming_its_own_stage_is_taken_as_given():
    j = js.Journey(S3, {"a": {"a": 0.25, "b": 0.75}})
    assert j.transition_matrix.loc["a"].tolist() == [0.25, 0.75, 0.0]


def test_a_row_can_name_every_target_and_leave_nothing():
    j = js.Journey(S3, {"a": {"b": 0.5, "c": 0.5}})
    assert j.transition_matrix.loc["a"].tolist() == [0.0, 0.5, 0.5]


def test_transition_matrix_is_labelled_from_and_to():
    m = js.Journey(S3, {"a": {"b": 0.5}}).transition_matrix
    assert m.index.name == "from"
    assert m.columns.name == "to"
    assert list(m.index) == S3
    assert list(m.columns) == S3


def test_to_dict_lists_moves_only():
    j = js.Journey(S3, {"a": {"b": 0.5}, "b": {"b": 0.75, "c": 0.25}})
    # b's stay 0.75 is exactly 1 - 0.25, so it is left implicit.
    assert j.to_dict() == {"a": {"b": 0.5}, "b": {"c": 0.25}}


@pytest.mark.parametrize(
    "rows",
    [
        {"a": {"b": 0.1, "c": 0.2}},
        {"a": {"b": 0.3}, "b": {"a": 0.1, "c": 0.7}},
        {"a": {"a": 0.1, "b": 0.2, "c": 0.7}},
        {"a": {"b": 1 / 3, "c": 1 / 7}, "b": {"c": 0.1 + 0.2}},
    ],
)
def test_dict_to_matrix_to_dict_and_back_is_bit_identical(rows):
    j = js.Journey(S3, rows)
    j2 = js.Journey(S3, j.to_dict())
    assert_same_matrices(j, j2)
    assert j2.to_dict() == j.to_dict()


def test_matrix_to_dict_to_matrix_is_bit_identical_on_random_matrices(rng):
    n = 7
    stages = [f"s{i}" for i in range(n)]
    for _ in range(50):
        P = rng.random((n, n)) * (rng.random((n, n)) < 0.5)
        P[np.arange(n), np.arange(n)] += rng.random(n) * (rng.random(n) < 0.7)
        P[P.sum(axis=1) == 0, 0] = 1.0
        P /= P.sum(axis=1, keepdims=True)
        j = js.Journey.from_matrix(P, stages=stages)
        np.testing.assert_array_equal(j.transition_matrix.to_numpy(), P)
        assert_same_matrices(j, js.Journey(stages, j.to_dict()))


def test_a_stay_just_short_of_1_survives_the_round_trip():
    # Row a stays with 1 - 1e-12 and has no exits (the row is within tolerance).
    P = np.array([[1 - 1e-12, 0, 0], [0, 1, 0], [0.1, 0.2, 0.7]])
    j = js.Journey.from_matrix(P, stages=S3)
    j2 = js.Journey(S3, j.to_dict())
    assert j2.transition_matrix.loc["a", "a"] == 1 - 1e-12
    assert_same_matrices(j, j2)


def test_from_matrix_with_numpy():
    P = np.array([[0.5, 0.5, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]])
    j = js.Journey.from_matrix(P, stages=S3)
    assert j.stages == S3
    np.testing.assert_array_equal(j.transition_matrix.to_numpy(), P)
    assert j.to_dict() == {"a": {"b": 0.5}, "b": {"c": 0.1}}
    assert j.absorbing == ["c"]


def test_from_matrix_with_nested_lists():
    j = js.Journey.from_matrix([[0.5, 0.5], [0, 1]], stages=["a", "b"])
    assert j.transition_matrix.to_numpy().tolist() == [[0.5, 0.5], [0.0, 1.0]]


def test_from_matrix_with_a_shuffled_labelled_dataframe():
    P = np.array([[0.5, 0.5, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]])
    df = pd.DataFrame(P, index=S3, columns=S3)
    shuffled = df.loc[["c", "a", "b"], ["b", "c", "a"]]
    # stages given: the matrix is read by label, in the order of stages
    j = js.Journey.from_matrix(shuffled, stages=S3)
    assert j.stages == S3
    np.testing.assert_array_equal(j.transition_matrix.to_numpy(), P)
    # no stages: the order of the index, columns read by label
    j2 = js.Journey.from_matrix(shuffled)
    assert j2.stages == ["c", "a", "b"]
    np.testing.assert_array_equal(
        j2.transition_matrix.to_numpy(), df.loc[["c", "a", "b"], ["c", "a", "b"]]
    )
    assert j2.to_dict() == {"a": {"b": 0.5}, "b": {"c": 0.1}}


def test_from_matrix_passes_keyword_arguments_on():
    j = js.Journey.from_matrix(
        np.array([[0.5, 0.5], [0.0, 1.0]]),
        stages=["active", "churned"],
        values={"revenue": {"active": 10.0}},
        name="m",
    )
    assert j.streams == ["revenue"]
    assert j.name == "m"


def test_dataframe_transitions_go_through_journey_too():
    df = pd.DataFrame([[0.0, 1.0], [0.5, 0.5]], index=["b", "a"], columns=["a", "b"])
    # the first row is b's (a: 0, b: 1), the second a's (a: 0.5, b: 0.5)
    j = js.Journey(["a", "b"], df)
    assert j.transition_matrix.to_numpy().tolist() == [[0.5, 0.5], [0.0, 1.0]]


# -- tenure pieces --------------------------------------------------------------


def test_a_later_tenure_piece_replaces_only_the_rows_it_names():
    j = js.Journey(
        S3,
        {0: {"a": {"b": 0.5}, "b": {"c": 0.25}}, 3: {"a": {"c": 0.1}}},
    )
    m = matrices(j)
    assert list(m) == [0, 3]
    assert m[0].tolist() == [[0.5, 0.5, 0.0], [0.0, 0.75, 0.25], [0.0, 0.0, 1.0]]
    # row a replaced (its move to b is gone), row b carried over from tenure 0
    assert m[3].tolist() == [[0.9, 0.0, 0.1], [0.0, 0.75, 0.25], [0.0, 0.0, 1.0]]


def test_tenure_pieces_apply_in_order_whatever_the_dict_order():
    rows0 = {"a": {"b": 0.5}}
    j1 = js.Journey(S3, {0: rows0, 2: {"b": {"c": 0.5}}, 5: {"a": {"b": 0.1}}})
    j2 = js.Journey(S3, {5: {"a": {"b": 0.1}}, 0: rows0, 2: {"b": {"c": 0.5}}})
    assert_same_matrices(j1, j2)
    m = matrices(j1)
    assert list(m) == [0, 2, 5]
    assert m[2][0].tolist() == [0.5, 0.5, 0.0]  # tenure-0 row a still in force
    assert m[5][1].tolist() == [0.0, 0.5, 0.5]  # tenure-2 row b still in force


def test_a_full_matrix_piece_replaces_every_row():
    later = np.array([[1.0, 0, 0], [0, 0.5, 0.5], [0, 0, 1]])
    j = js.Journey(S3, {0: {"a": {"b": 0.5}}, 4: later})
    np.testing.assert_array_equal(matrices(j)[4], later)


def test_equal_neighbouring_pieces_are_merged():
    rows = {"a": {"b": 0.5}}
    j = js.Journey(S3, {0: rows, 2: rows, 6: {"a": {"b": 0.5}}})
    assert list(matrices(j)) == [0]
    assert "tenure-dependent" not in repr(j)


def test_from_matrix_with_tenure_pieces():
    P0 = np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    P3 = np.array([[0.5, 0.0, 0.5], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]])
    j = js.Journey.from_matrix({0: P0, 3: P3}, stages=S3)
    m = matrices(j)
    np.testing.assert_array_equal(m[0], P0)
    np.testing.assert_array_equal(m[3], P3)


def test_tenure_dependent_to_dict_round_trip():
    j = js.Journey(S3, {0: {"a": {"b": 0.5}}, 3: {"a": {"b": 0.1}, "b": {"c": 0.3}}})
    d = j.to_dict()
    assert d == {0: {"a": {"b": 0.5}}, 3: {"a": {"b": 0.1}, "b": {"c": 0.3}}}
    assert_same_matrices(j, js.Journey(S3, d))


def test_tenure_dependent_to_dict_round_trip_when_a_row_goes_back_to_staying_put():
    # From tenure 3 on, a no longer moves: its tenure-3 row is "stay put", which
    # a sparse piece must still say, or the tenure-0 row carries over.
    j = js.Journey(S3, {0: {"a": {"b": 0.5}}, 3: {"a": {"a": 1.0}}})
    assert matrices(j)[3][0].tolist() == [1.0, 0.0, 0.0]
    j2 = js.Journey(S3, j.to_dict())
    assert_same_matrices(j, j2)


def test_tenure_dependent_values():
    j = js.Journey(
        S3,
        {"a": {"b": 0.5}},
        values={"revenue": {0: {"a": 10.0, "b": 1.0}, 2: {"a": 20.0}}},
    )
    # The tenure-2 piece replaces a's value only; b keeps 1.0.
    v = j.analyze(periods=3).value_by_period_nominal["revenue"]
    # period k earns on x_{k-1} with the values for tenure k-1:
    # x_0 = (1, 0, 0), x_1 = (.5, .5, 0), x_2 = (.25, .75, 0)
    assert v.tolist() == pytest.approx([10.0, 5.0 + 0.5, 0.25 * 20.0 + 0.75 * 1.0])


# -- segments -------------------------------------------------------------------


def test_segment_rows_override_the_journeys_named_rows_only():
    j = js.Journey(
        S3,
        {"a": {"b": 0.5}, "b": {"c": 0.25}},
        segments={
            "smb": {"share": 0.25, "transitions": {"a": {"c": 0.5}}},
            "ent": {"share": 0.75},
        },
    )
    assert j.segments == ["smb", "ent"]
    assert matrices(j, "smb")[0].tolist() == [
        [0.5, 0.0, 0.5],  # the segment's row a replaces the journey's whole row a
        [0.0, 0.75, 0.25],  # the journey's row b
        [0.0, 0.0, 1.0],
    ]
    assert matrices(j, "ent")[0].tolist() == [
        [0.5, 0.5, 0.0],
        [0.0, 0.75, 0.25],
        [0.0, 0.0, 1.0],
    ]
    assert j.to_dict("smb") == {"a": {"c": 0.5}, "b": {"c": 0.25}}


def test_segment_rows_apply_on_top_of_every_tenure_piece_of_the_journey():
    j = js.Journey(
        S3,
        {0: {"a": {"b": 0.5}}, 3: {"a": {"b": 0.25}, "b": {"c": 0.5}}},
        segments={
            "x": {"share": 0.5, "transitions": {"b": {"c": 0.1}}},
            "y": {"share": 0.5},
        },
    )
    m = matrices(j, "x")
    assert list(m) == [0, 3]
    assert m[0][:2].tolist() == [[0.5, 0.5, 0.0], [0.0, 0.9, 0.1]]
    assert m[3][:2].tolist() == [[0.75, 0.25, 0.0], [0.0, 0.9, 0.1]]


def test_segment_tenure_piece_on_top_of_the_journey():
    j = js.Journey(
        S3,
        {"a": {"b": 0.5}},
        segments={"x": {"share": 1.0, "transitions": {2: {"a": {"c": 0.5}}}}},
    )
    m = matrices(j)
    assert list(m) == [0, 2]
    assert m[0][0].tolist() == [0.5, 0.5, 0.0]
    assert m[2][0].tolist() == [0.5, 0.0, 0.5]


def test_segment_matrix_replaces_every_row():
    P = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    j = js.Journey(
        S3, {"a": {"b": 0.5}}, segments={"x": {"share": 1.0, "transitions": P}}
    )
    np.testing.assert_array_equal(matrices(j)[0], P)


def test_segment_values_and_start_override_the_journeys():
    j = js.Journey(
        S3,
        {"a": {"b": 0.5}, "b": {"c": 0.5}},
        values={"revenue": {"a": 10.0, "b": 20.0}},
        start="a",
        segments={
            "x": {"share": 0.25, "values": {"revenue": {"b": 40.0}}, "start": "b"},
            "y": {"share": 0.75},
        },
    )
    a = j.analyze(periods=1)
    # one period, "start" accrual: x earns b's overridden 40, y earns a's 10.
    assert a.segments["x"].clv == 40.0
    assert a.segments["y"].clv == 10.0
    assert a.clv == pytest.approx(0.25 * 40.0 + 0.75 * 10.0)
    # x keeps the journey's value of a
    assert a.segments["x"].stages.loc["a", "revenue"] == 10.0


def test_segmented_transition_matrix_is_indexed_by_segment_and_from():
    j = js.Journey(
        S3,
        {"a": {"b": 0.5}},
        segments={
            "x": {"share": 0.5, "transitions": {"a": {"c": 0.5}}},
            "y": {"share": 0.5},
        },
    )
    m = j.transition_matrix
    assert m.index.names == ["segment", "from"]
    assert m.loc[("x", "a")].tolist() == [0.5, 0.0, 0.5]
    assert m.loc[("y", "a")].tolist() == [0.5, 0.5, 0.0]


# -- absorbing --------------------------------------------------------------------


def test_absorbing_stages_are_those_that_never_leave():
    j = js.Journey(["a", "won", "lost"], {"a": {"won": 0.25, "lost": 0.25}})
    assert j.absorbing == ["won", "lost"]
    assert j.transient == ["a"]


def test_a_stage_that_leaves_at_a_later_tenure_is_not_absorbing():
    j = js.Journey(S3, {0: {"a": {"b": 0.5}}, 2: {"b": {"c": 0.5}}})
    assert j.absorbing == ["c"]


def test_a_stage_that_leaves_in_one_segment_is_not_absorbing():
    j = js.Journey(
        S3,
        {"a": {"b": 0.5}},
        segments={
            "x": {"share": 0.5, "transitions": {"b": {"c": 0.1}}},
            "y": {"share": 0.5},
        },
    )
    assert j.absorbing == ["c"]


def test_declared_absorbing_stages_replace_detection():
    # b stays put, but only c is declared: b is a transient stage (customers
    # parked there forever) and a declared absorbing stage may have no exits.
    j = js.Journey(S3, {"a": {"c": 0.5}}, absorbing=["c"])
    assert j.absorbing == ["c"]
    assert j.transient == ["a", "b"]
    assert js.Journey(S3, {"a": {"c": 0.5}}, absorbing="c").absorbing == ["c"]


def test_a_journey_without_absorbing_stages():
    j = js.Journey(["a", "b"], {"a": {"b": 0.5}, "b": {"a": 0.5}})
    assert j.absorbing == []
    assert j.transient == ["a", "b"]


# -- what it reports about itself ---------------------------------------------------


def test_stage_info_is_the_journey_map_table():
    j = js.Journey(
        S3,
        {"a": {"b": 0.5}, "b": {"c": 0.25}},
        metadata={
            "a": {"owner": "Onboarding", "channels": ["email", "call"]},
            "b": {"description": "using it", "kpis": ["WAU"], "touchpoints": ["app"]},
        },
        moments_of_truth=["b", ("a", "c")],
    )
    info = j.stage_info
    assert list(info.columns) == [
        "description",
        "owner",
        "channels",
        "touchpoints",
        "kpis",
        "absorbing",
        "moment_of_truth",
    ]
    assert info.index.name == "stage"
    assert list(info.index) == S3
    assert info.loc["a", "owner"] == "Onboarding"
    assert info.loc["a", "channels"] == ["email", "call"]
    assert info.loc["b", "description"] == "using it"
    assert info.loc["b", "kpis"] == ["WAU"]
    assert pd.isna(info.loc["c", "owner"])  # missing, not a string
    assert info["absorbing"].tolist() == [False, False, True]
    # Only stages are flagged in the table; the (a, c) transition is listed below.
    assert info["moment_of_truth"].tolist() == [False, True, False]
    assert j.flagged_moments == ["b", ("a", "c")]
    assert j.owner("a") == "Onboarding"
    assert j.owner("c") is None


def test_moments_of_truth_given_as_lists_become_pairs():
    j = js.Journey(S3, {"a": {"b": 0.5}}, moments_of_truth=[["a", "b"]])
    assert j.flagged_moments == [("a", "b")]


def test_streams_value_stages_and_name():
    j = js.Journey(
        S3,
        {"a": {"b": 0.5}},
        values={"revenue": {"a": 1.0}},
        transition_values={"fee": {("a", "b"): 2.0}, "revenue": {("a", "b"): 1.0}},
        value_stages="b",
        name="trial",
    )
    # values' streams first, then those only in transition_values
    assert j.streams == ["revenue", "fee"]
    assert j.value_stages == ["b"]
    assert j.name == "trial"


def test_shares_and_start_properties():
    j = js.Journey(
        S3,
        {"a": {"b": 0.5}},
        start={"a": 0.5, "b": 0.5},
        segments={"x": {"share": 0.25, "start": "c"}, "y": {"share": 0.75}},
    )
    assert j.shares.to_dict() == {"x": 0.25, "y": 0.75}
    assert j.shares.index.name == "segment"
    assert j.shares.name == "share"
    # start is share-weighted: 0.25 * (0, 0, 1) + 0.75 * (0.5, 0.5, 0)
    assert j.start.to_dict() == {"a": 0.375, "b": 0.375, "c": 0.25}
    assert j.start.index.name == "stage"


def test_default_start_is_the_first_stage_and_default_segment_is_all():
    j = js.Journey(S3, {"a": {"b": 0.5}})
    assert j.start.tolist() == [1.0, 0.0, 0.0]
    assert j.segments == ["all"]
    assert j.shares.to_dict() == {"all": 1.0}


def test_start_forms():
    for start in (
        "b",
        {"b": 1.0},
        [0, 1, 0],
        np.array([0.0, 1.0, 0.0]),
        pd.Series({"b": 1.0}),
    ):
        assert js.Journey(S3, {}, start=start).start.tolist() == [0.0, 1.0, 0.0]


def test_repr():
    assert repr(js.Journey(S3, {"a": {"b": 0.5}})) == (
        "<Journey: 3 stages, absorbing=['b', 'c']>"
    )
    j = js.Journey(
        S3,
        {0: {"a": {"b": 0.5}}, 3: {"a": {"b": 0.25}}},
        values={"revenue": {"a": 1.0}},
        segments={"x": {"share": 0.5}, "y": {"share": 0.5}},
        name="trial",
    )
    assert repr(j) == (
        "<Journey 'trial': 3 stages, absorbing=['b', 'c'], streams=['revenue'], "
        "segments=['x', 'y'], tenure-dependent until 3>"
    )


def test_a_journey_is_independent_of_the_inputs_it_was_built_from():
    rows = {"a": {"b": 0.5}}
    P = np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    j1 = js.Journey(S3, rows)
    j2 = js.Journey.from_matrix(P, stages=S3)
    rows["a"]["b"] = 0.9
    P[0] = [1.0, 0.0, 0.0]
    assert j1.transition_matrix.loc["a", "b"] == 0.5
    assert j2.transition_matrix.loc["a", "b"] == 0.5
    m = j2.transition_matrix
    m.loc["a", "b"] = 0.0
    assert j2.transition_matrix.loc["a", "b"] == 0.5


def test_a_large_random_journey_builds_from_a_matrix(rng):
    P = random_chain(40, 3, rng)
    stages = [f"s{i}" for i in range(40)]
    j = js.Journey.from_matrix(P, stages=stages)
    assert j.absorbing == stages[-3:]
    np.testing.assert_array_equal(j.transition_matrix.to_numpy(), P)
