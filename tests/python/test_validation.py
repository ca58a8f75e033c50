"""Validation: every bad input is a ValueError whose message says what is wrong.

Each case is (keyword arguments of Journey on top of a valid base journey, a regex
fragment the message must contain). The C++ core's checks surface as ValueError
too, so the table does not care which layer catches a mistake.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import journeysim as js
from journeysim._base.checks import check_real

STAGES = ["a", "b", "c"]
ROWS = {"a": {"b": 0.5}, "b": {"c": 0.25}}  # c never leaves: absorbing
NAN = float("nan")
INF = float("inf")


def make(**overrides):
    """A valid journey with a revenue stream, with some arguments replaced."""
    kwargs = {
        "stages": STAGES,
        "transitions": ROWS,
        "values": {"revenue": {"a": 10.0, "b": 20.0}},
    }
    kwargs.update(overrides)
    return js.Journey(**kwargs)


# (id, overrides, message regex)
BAD = [
    # -- probabilities ---------------------------------------------------------
    (
        "nan-prob",
        {"transitions": {"a": {"b": NAN}}},
        r"'a' -> 'b' is not finite \(nan\)",
    ),
    (
        "inf-prob",
        {"transitions": {"a": {"b": INF}}},
        r"'a' -> 'b' is not finite \(inf\)",
    ),
    (
        "nan-in-matrix",
        {"transitions": [[NAN, 0, 0], [0, 1, 0], [0, 0, 1]]},
        r"'a' -> 'a' is not finite",
    ),
    ("negative-prob", {"transitions": {"a": {"b": -0.1}}}, r"'a' -> 'b' is negative"),
    (
        "negative-in-matrix",
        {"transitions": [[1, 0, 0], [0.5, 0.6, -0.1], [0, 0, 1]]},
        r"'b' -> 'c' is negative",
    ),
    (
        "prob-above-1-in-matrix",
        {"transitions": [[1, 0, 0], [0, 1, 0], [0, 1.5, -0.5]]},
        r"'c' -> 'b' is greater than 1",
    ),
    (
        "row-not-1-dict",
        {"transitions": {"a": {"a": 0.5, "b": 0.4}}},
        r"row 'a' sums to 0\.9, not 1 \(pass normalize=True to rescale\)",
    ),
    (
        "row-not-1-matrix",
        {"transitions": [[0.5, 0.3, 0], [0, 1, 0], [0, 0, 1]]},
        r"row 'a' sums to 0\.8, not 1",
    ),
    (
        "sparse-exits-above-1",
        {"transitions": {"a": {"b": 0.7, "c": 0.6}}},
        r"exits from 'a' sum to 1\.3, more than 1",
    ),
    (
        "zero-row-normalize",
        {"transitions": [[0, 0, 0], [0, 1, 0], [0, 0, 1]], "normalize": True},
        r"row 'a' sums to 0, not 1",
    ),
    # -- unknown stage names ---------------------------------------------------
    (
        "unknown-row",
        {"transitions": {"x": {"b": 0.5}}},
        r"transitions: unknown stage 'x'",
    ),
    (
        "unknown-target",
        {"transitions": {"a": {"x": 0.5}}},
        r"transitions, row 'a': unknown stage 'x'",
    ),
    (
        "unknown-target-tenure",
        {"transitions": {0: ROWS, 3: {"a": {"x": 0.5}}}},
        r"unknown stage 'x'",
    ),
    (
        "unknown-values-stage",
        {"values": {"revenue": {"x": 1.0}}},
        r"values\['revenue'\]: unknown stage 'x'",
    ),
    ("unknown-start", {"start": {"x": 1.0}}, r"start: unknown stage 'x'"),
    ("unknown-start-name", {"start": "x"}, r"start: unknown stage 'x'"),
    ("unknown-absorbing", {"absorbing": ["x"]}, r"absorbing: unknown stage 'x'"),
    ("unknown-value-stage", {"value_stages": "x"}, r"value_stages: unknown stage 'x'"),
    (
        "unknown-metadata-stage",
        {"metadata": {"x": {"owner": "Sales"}}},
        r"metadata: unknown stage 'x'",
    ),
    (
        "unknown-moment-stage",
        {"moments_of_truth": ["x"]},
        r"moments_of_truth: unknown stage 'x'",
    ),
    (
        "unknown-moment-transition",
        {"moments_of_truth": [("a", "x")]},
        r"moments_of_truth: unknown stage 'x'",
    ),
    (
        "unknown-transition-value-from",
        {"transition_values": {"fee": {("x", "b"): 1.0}}},
        r"transition_values\['fee'\]: unknown stage 'x'",
    ),
    (
        "unknown-transition-value-to",
        {"transition_values": {"fee": {("*", "x"): 1.0}}},
        r"transition_values\['fee'\]: unknown stage 'x'",
    ),
    (
        "unknown-segment-row",
        {"segments": {"s": {"share": 1.0, "transitions": {"x": {"a": 0.1}}}}},
        r"segment 's' transitions: unknown stage 'x'",
    ),
    # -- stages ----------------------------------------------------------------
    (
        "duplicate-stage",
        {"stages": ["a", "b", "a"], "transitions": {"a": {"b": 0.5}}, "values": None},
        r"duplicate stage name 'a'",
    ),
    (
        "duplicate-stage-matrix",
        {"stages": ["a", "a"], "transitions": np.eye(2), "values": None},
        r"duplicate stage name 'a'",
    ),
    ("empty-journey", {"stages": [], "transitions": {}}, r"at least one stage"),
    (
        "empty-stage-name",
        {"stages": ["a", ""], "transitions": {}, "values": None},
        r"stage names must not be empty",
    ),
    (
        "non-str-stage",
        {"stages": ["a", 1], "transitions": {}},
        r"stage names must be strings",
    ),
    ("stages-is-a-string", {"stages": "abc"}, r"stages must be a list of names"),
    # -- shapes ----------------------------------------------------------------
    ("matrix-2x2", {"transitions": np.eye(2)}, r"shape \(2, 2\), expected \(3, 3\)"),
    (
        "matrix-3x2",
        {"transitions": np.ones((3, 2))},
        r"shape \(3, 2\), expected \(3, 3\)",
    ),
    ("matrix-1d", {"transitions": np.ones(3)}, r"shape \(3,\), expected \(3, 3\)"),
    (
        "ragged-matrix",
        {"transitions": [[1, 0], [0, 1, 0]]},
        r"cannot be read as numbers",
    ),
    (
        "dataframe-foreign-label",
        {
            "transitions": pd.DataFrame(
                np.eye(3), index=["a", "b", "x"], columns=["a", "b", "x"]
            )
        },
        r"DataFrame labels must be the stages; unknown \['x'\], missing \['c'\]",
    ),
    (
        "start-wrong-length",
        {"start": [1.0, 0.0]},
        r"start: has shape \(2,\), expected \(3,\)",
    ),
    (
        "values-wrong-length",
        {"values": {"revenue": [1.0, 2.0]}},
        r"values\['revenue'\]: has shape \(2,\), expected \(3,\)",
    ),
    # -- start -----------------------------------------------------------------
    (
        "start-not-1",
        {"start": {"a": 0.5, "b": 0.4}},
        r"start distribution sums to 0\.9, not 1 \(pass normalize=True",
    ),
    (
        "start-negative",
        {"start": {"a": 1.5, "b": -0.5}},
        r"start share of stage 'b' must be finite and >= 0",
    ),
    ("start-nan", {"start": {"a": NAN, "b": 1.0}}, r"start share of stage 'a'"),
    (
        "start-all-zero-normalize",
        {"start": {"a": 0.0}, "normalize": True},
        r"start distribution sums to 0",
    ),
    # -- arrivals and cohort ---------------------------------------------------
    (
        "negative-arrivals",
        {"arrivals": -1.0},
        r"arrivals at period 1 must be finite and >= 0, got -1",
    ),
    (
        "negative-arrivals-sequence",
        {"arrivals": [1.0, -2.0]},
        r"arrivals at period 2 must be finite and >= 0, got -2",
    ),
    ("nan-arrivals", {"arrivals": NAN}, r"arrivals at period 1 must be finite"),
    ("2d-arrivals", {"arrivals": [[1.0]]}, r"arrivals must be one-dimensional"),
    (
        "text-arrivals",
        {"arrivals": ["many"]},
        r"arrivals must be a number or a sequence",
    ),
    ("negative-cohort", {"cohort_size": -1.0}, r"cohort size must be finite and >= 0"),
    ("text-cohort", {"cohort_size": "10"}, r"cohort_size must be a number"),
    # -- segments --------------------------------------------------------------
    (
        "negative-share",
        {"segments": {"x": {"share": -0.5}, "y": {"share": 1.5}}},
        r"segment 'x': share must be finite and >= 0, got -0\.5",
    ),
    (
        "shares-not-1",
        {"segments": {"x": {"share": 0.5}, "y": {"share": 0.4}}},
        r"segment shares sum to 0\.9, not 1 \(pass normalize=True",
    ),
    (
        "shares-zero",
        {"segments": {"x": {"share": 0.0}}, "normalize": True},
        r"segment shares sum to 0",
    ),
    (
        "nan-share",
        {"segments": {"x": {"share": NAN}}},
        r"segment 'x': share must be finite",
    ),
    (
        "text-share",
        {"segments": {"x": {"share": "1"}}},
        r"segment 'x': share must be a number",
    ),
    (
        "segment-unknown-key",
        {"segments": {"x": {"share": 1.0, "colour": "red"}}},
        r"segment 'x': unknown keys \['colour'\]",
    ),
    (
        "segment-without-share",
        {"segments": {"x": {"start": "a"}}},
        r"segment 'x' needs a share",
    ),
    ("segment-not-a-dict", {"segments": {"x": 1.0}}, r"segment 'x' must be a dict"),
    ("segments-empty", {"segments": {}}, r"segments must be a non-empty dict"),
    (
        "segment-unknown-stream",
        {"segments": {"x": {"share": 1.0, "values": {"cost": {"a": 1.0}}}}},
        r"segment 'x' values: unknown stream 'cost'",
    ),
    # -- tenure pieces ---------------------------------------------------------
    (
        "tenure-not-from-0",
        {"transitions": {2: ROWS}},
        r"transitions: the first tenure piece must start at 0, not 2",
    ),
    (
        "values-tenure-not-from-0",
        {"values": {"revenue": {1: {"a": 1.0}}}},
        r"values\['revenue'\]: the first tenure piece must start at 0, not 1",
    ),
    ("negative-tenure", {"transitions": {-1: ROWS, 0: ROWS}}, r"tenure -1 is negative"),
    (
        "mixed-tenure-and-stage-keys",
        {"transitions": {0: ROWS, "a": {"b": 0.1}}},
        r"a dict mixes tenure keys \(integers\) and stage keys",
    ),
    (
        "mixed-keys-in-values",
        {"values": {"revenue": {0: {"a": 1.0}, "b": 2.0}}},
        r"mixes tenure keys",
    ),
    # -- discounting and net ---------------------------------------------------
    ("rate-minus-1", {"discount_rate": -1}, r"discount_rate must be > -1, got -1"),
    ("rate-below-minus-1", {"discount_rate": -2.5}, r"discount_rate must be > -1"),
    ("rate-nan", {"discount_rate": NAN}, r"discount_rate must be > -1, got nan"),
    ("rate-text", {"discount_rate": "1%"}, r"discount_rate must be a number or a dict"),
    (
        "stream-rate-minus-1",
        {"discount_rate": {"revenue": -1.0}},
        r"stream 'revenue': discount rate must be finite and > -1, got -1",
    ),
    (
        "stream-rate-inf",
        {"discount_rate": {"revenue": INF}},
        r"stream 'revenue': discount rate must be finite and > -1, got inf",
    ),
    (
        "unknown-stream-rate",
        {"discount_rate": {"cost": 0.1}},
        r"discount_rate: unknown stream 'cost'; the streams are \['revenue'\]",
    ),
    (
        "unknown-stream-net",
        {"net": {"revenue": 1, "cost": -1}},
        r"net: unknown stream 'cost'; the streams are \['revenue'\]",
    ),
    (
        "text-net-weight",
        {"net": {"revenue": "one"}},
        r"net\['revenue'\] must be a number",
    ),
    ("nan-net-weight", {"net": {"revenue": NAN}}, r"net weight of stream 'revenue'"),
    # -- absorbing -------------------------------------------------------------
    (
        "absorbing-with-exits",
        {"absorbing": ["a"]},
        r"absorbing stage 'a' has an exit to 'b' \(0\.5\); absorbing stages stay put",
    ),
    (
        "absorbing-twice",
        {"absorbing": ["c", "c"]},
        r"absorbing stage 'c' is listed twice",
    ),
    # -- metadata and moments of truth -----------------------------------------
    (
        "unknown-metadata-key",
        {"metadata": {"a": {"owner": "CS", "colour": "red"}}},
        r"metadata\['a'\]: unknown keys \['colour'\]",
    ),
    ("metadata-not-dict", {"metadata": ["a"]}, r"metadata must be a dict"),
    (
        "metadata-entry-not-dict",
        {"metadata": {"a": "CS"}},
        r"metadata\['a'\] must be a dict",
    ),
    (
        "moment-triple",
        {"moments_of_truth": [("a", "b", "c")]},
        r"expected a stage or a \(from, to\) pair",
    ),
    # -- values ----------------------------------------------------------------
    (
        "text-value",
        {"values": {"revenue": {"a": "ten"}}},
        r"values\['revenue'\]\['a'\]: expected a number, got 'ten'",
    ),
    (
        "text-value-array",
        {"values": {"revenue": ["ten", 1, 2]}},
        r"values\['revenue'\]: cannot be read as numbers",
    ),
    (
        "bool-value",
        {"values": {"revenue": {"a": True}}},
        r"expected a number, got True",
    ),
    (
        "nan-value",
        {"values": {"revenue": {"a": NAN}}},
        r"value in stage 'a' is not finite \(nan\)",
    ),
    (
        "text-probability",
        {"transitions": {"a": {"b": "half"}}},
        r"transitions\['a'\]\['b'\]: expected a number",
    ),
    (
        "bool-probability",
        {"transitions": {"a": {"b": True}}},
        r"expected a number, got True",
    ),
    (
        "text-transition-value",
        {"transition_values": {"fee": {("a", "b"): "x"}}},
        r"transition_values\['fee'\]\[\('a', 'b'\)\] must be a number",
    ),
    (
        "nan-transition-value",
        {"transition_values": {"fee": {("a", "b"): NAN}}},
        r"value on move 'a' -> 'b' is not finite",
    ),
    (
        "transition-value-key-not-pair",
        {"transition_values": {"fee": {"a": 1.0}}},
        r"keys must be \(from, to\) pairs",
    ),
    (
        "transition-value-star-star",
        {"transition_values": {"fee": {("*", "*"): 1.0}}},
        r"\('\*', '\*'\) names no stage",
    ),
    (
        "values-not-dict",
        {"values": [1, 2, 3]},
        r"values must be a dict \{stream: \.\.\.\}",
    ),
    ("empty-stream-name", {"values": {"": {"a": 1.0}}}, r"value stream names must be"),
]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [pytest.param(o, m, id=i) for i, o, m in BAD],
)
def test_bad_input_is_a_value_error_saying_what_is_wrong(overrides, message):
    with pytest.raises(ValueError, match=message):
        make(**overrides)


def test_the_base_journey_of_the_table_is_valid():
    j = make()
    assert j.stages == STAGES
    assert j.absorbing == ["c"]


# -- normalize ----------------------------------------------------------------


def test_normalize_rescales_a_row_that_does_not_sum_to_1():
    # Row a = {a: 0.5, b: 0.3} sums to 0.8 -> (0.625, 0.375, 0).
    j = make(transitions={"a": {"a": 0.5, "b": 0.3}}, normalize=True)
    assert j.transition_matrix.loc["a"].tolist() == pytest.approx([0.625, 0.375, 0])


def test_normalize_rescales_a_full_matrix_row():
    j = make(transitions=[[0.5, 0.3, 0], [0, 1, 0], [0, 0, 1]], normalize=True)
    assert j.transition_matrix.loc["a"].tolist() == pytest.approx([0.625, 0.375, 0])


def test_normalize_rescales_sparse_exits_summing_to_more_than_1():
    # The docstring: normalize "rescales rows ... that do not sum to 1 instead of
    # failing"; exits {b: 0.7, c: 0.6} sum to 1.3 -> (0, 0.7/1.3, 0.6/1.3), the
    # same as the dense row [0, 0.7, 0.6] with normalize=True.
    dense = make(transitions=[[0, 0.7, 0.6], [0, 1, 0], [0, 0, 1]], normalize=True)
    sparse = make(transitions={"a": {"b": 0.7, "c": 0.6}}, normalize=True)
    np.testing.assert_allclose(
        sparse.transition_matrix.loc["a"], [0.0, 0.7 / 1.3, 0.6 / 1.3], rtol=1e-15
    )
    np.testing.assert_allclose(
        sparse.transition_matrix, dense.transition_matrix, rtol=1e-15
    )


def test_normalize_rescales_start_and_shares():
    j = make(
        start={"a": 0.5, "b": 0.3},
        segments={"x": {"share": 0.5}, "y": {"share": 0.3}},
        normalize=True,
    )
    assert j.start.tolist() == pytest.approx([0.625, 0.375, 0.0])
    assert j.shares.tolist() == pytest.approx([0.625, 0.375])


def test_rows_within_tolerance_are_accepted_as_they_are():
    # 1e-12 off is rounding, not a mistake: accepted, and not rescaled.
    j = make(transitions=[[0.5, 0.5 - 1e-12, 0], [0, 1, 0], [0, 0, 1]])
    assert j.transition_matrix.loc["a", "b"] == 0.5 - 1e-12


# -- from_matrix ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("matrix", "stages", "message"),
    [
        pytest.param(np.eye(2), STAGES, r"shape \(2, 2\), expected \(3, 3\)", id="2x2"),
        pytest.param(np.eye(4), STAGES, r"shape \(4, 4\), expected \(3, 3\)", id="4x4"),
        pytest.param(np.ones((3, 2)) / 2, STAGES, r"shape \(3, 2\)", id="3x2"),
        pytest.param(
            np.eye(3), None, r"pass stages=\[\.\.\.\] for an unlabelled", id="np"
        ),
        pytest.param(
            pd.DataFrame(np.eye(3), index=STAGES, columns=["a", "b", "z"]),
            STAGES,
            r"unknown \['z'\], missing \[\]",
            id="bad-columns",
        ),
        pytest.param(
            pd.DataFrame(np.eye(2), index=["a", "b"], columns=["a", "b"]),
            STAGES,
            r"missing \['c'\]",
            id="missing-stage",
        ),
        pytest.param(
            {0: np.eye(3), 2: np.eye(2)}, STAGES, r"shape \(2, 2\)", id="tenure"
        ),
    ],
)
def test_from_matrix_rejects_wrong_shapes_and_labels(matrix, stages, message):
    with pytest.raises(ValueError, match=message):
        js.Journey.from_matrix(matrix, stages=stages)


# -- analyze ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"periods": -1}, r"periods must be >= 0, got -1"),
        ({"periods": 1.5}, r"periods must be an integer, got 1\.5"),
        ({"periods": 12.0}, r"periods must be an integer, got 12\.0"),
        ({"periods": "12"}, r"periods must be an integer, got '12'"),
        ({"periods": True}, r"periods must be an integer, got True"),
        ({"periods": None}, r"periods must be an integer, got None"),
        (
            {"accrual": "middle"},
            r"accrual must be one of \['end', 'half-cycle', 'life-table', 'start'\]",
        ),
        ({"accrual": "half_cycle"}, r"accrual must be one of"),
        ({"accrual": None}, r"accrual must be one of"),
    ],
)
def test_analyze_rejects_bad_periods_and_accruals(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make().analyze(**kwargs)


def test_analyze_accepts_numpy_integers():
    assert make().analyze(periods=np.int64(3)).periods == 3


@pytest.mark.parametrize("t", [-1, 6])
def test_retention_at_outside_the_horizon(t):
    with pytest.raises(ValueError, match=r"t must be in \[0, 5\]"):
        make().analyze(periods=5).retention_at(t)


def test_unknown_segment_and_owner_stage():
    j = make(segments={"x": {"share": 0.5}, "y": {"share": 0.5}})
    with pytest.raises(ValueError, match=r"this journey has segments \['x', 'y'\]"):
        j.to_dict()
    with pytest.raises(ValueError, match=r"unknown segment 'z'"):
        j.transition_matrices(segment="z")
    with pytest.raises(ValueError, match=r"owner: unknown stage 'x'"):
        j.owner("x")


# -- garbage never crashes -------------------------------------------------------

GARBAGE = [
    None,
    "",
    "junk",
    b"bytes",
    3,
    1.5,
    NAN,
    True,
    object(),
    [None],
    [[1, 2], [3]],
    {"a": None},
    {"a": [1, 2]},
    {"a": {"b": None}},
    {"a": {"b": {"c": [{}]}}},
    {None: 1},
    {0: None},
    {0: "x"},
    {(1, 2): 3},
    {0.5: {}},
    {"a"},
    np.array([]),
    pd.DataFrame(),
    pd.Series([1, 2, 3]),
]

PARAMETERS = [
    "stages",
    "transitions",
    "values",
    "transition_values",
    "start",
    "discount_rate",
    "absorbing",
    "value_stages",
    "net",
    "segments",
    "arrivals",
    "cohort_size",
    "metadata",
    "moments_of_truth",
]


def other_errors(build, junks=GARBAGE) -> list[str]:
    """What ``build(junk)`` raised other than a ValueError, for each junk."""
    failures = []
    for junk in junks:
        try:
            build(junk)
        except ValueError:
            pass
        except Exception as err:  # the point of the test
            failures.append(f"{junk!r}: {type(err).__name__}: {err}")
    return failures


@pytest.mark.parametrize("parameter", PARAMETERS)
def test_garbage_in_any_parameter_is_a_value_error_or_accepted(parameter):
    # Either the garbage is meaningful (None is "not given") or it is a
    # ValueError: never a TypeError, KeyError, AttributeError or a crash.
    failures = other_errors(lambda junk: make(**{parameter: junk}))
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "key", ["share", "transitions", "values", "transition_values", "start"]
)
def test_garbage_inside_a_segment_is_a_value_error(key):
    failures = other_errors(
        lambda junk: make(
            transition_values={"revenue": {("a", "b"): 1.0}},
            segments={"s": {"share": 1.0, key: junk}},
        )
    )
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda junk: js.Journey.from_matrix(junk), id="matrix"),
        pytest.param(
            lambda junk: js.Journey.from_matrix(junk, stages=STAGES),
            id="matrix-with-stages",
        ),
        pytest.param(
            lambda junk: js.Journey.from_matrix(np.eye(3), stages=junk), id="stages"
        ),
        pytest.param(
            lambda junk: make(transitions={0: ROWS, 3: junk}), id="tenure-piece"
        ),
        pytest.param(lambda junk: make(transitions={"a": junk}), id="row"),
        pytest.param(lambda junk: make(transitions={"a": {"b": junk}}), id="cell"),
        pytest.param(lambda junk: make(values={"revenue": junk}), id="stream"),
        pytest.param(lambda junk: make(net={"revenue": junk}), id="net-weight"),
        pytest.param(
            lambda junk: make(discount_rate={"revenue": junk}), id="stream-rate"
        ),
        pytest.param(lambda junk: make(moments_of_truth=[junk]), id="moment"),
        pytest.param(lambda junk: make(metadata={"a": junk}), id="metadata-entry"),
        pytest.param(lambda junk: make().analyze(periods=junk), id="periods"),
        pytest.param(lambda junk: make().analyze(accrual=junk), id="accrual"),
        pytest.param(
            lambda junk: make().analyze(periods=5).retention_at(junk), id="retention_at"
        ),
    ],
)
def test_garbage_in_nested_places_is_a_value_error(build):
    failures = other_errors(build)
    assert not failures, "\n".join(failures)


def test_a_dataframe_with_non_string_labels_is_a_value_error():
    # Integer labels are turned into the stage names "0", "1", which are then
    # looked up in the integer-labelled frame.
    df = pd.DataFrame([[0.5, 0.5], [0.0, 1.0]], index=[0, 1], columns=[0, 1])
    try:
        j = js.Journey.from_matrix(df)
    except ValueError:
        return
    assert j.stages == ["0", "1"]
    assert j.transition_matrix.to_numpy().tolist() == [[0.5, 0.5], [0.0, 1.0]]


def test_validation_errors_are_not_silently_swallowed_by_normalize():
    # normalize rescales sums; it does not make negative or non-finite numbers OK.
    with pytest.raises(ValueError, match=r"is negative"):
        make(transitions={"a": {"b": -0.5}}, normalize=True)
    with pytest.raises(ValueError, match=r"not finite"):
        make(transitions=[[math.inf, 0, 0], [0, 1, 0], [0, 0, 1]], normalize=True)


def test_the_cost_stream_name_is_reserved():
    with pytest.raises(ValueError, match="reserved"):
        js.Journey(
            ["a", "b"], {"a": {"b": 0.5}}, values={"intervention_cost": {"a": 1.0}}
        )


@pytest.mark.parametrize("periods", [2**31, 10**7])
def test_huge_horizons_are_value_errors(periods):
    j = js.Journey(["a", "b"], {"a": {"b": 0.5}})
    with pytest.raises(ValueError, match="at most 1,000,000"):
        j.analyze(periods)


def test_an_empty_absorbing_list_means_none():
    # "c" stays put but is not absorbing: customers there are retained.
    j = js.Journey(["a", "b", "c"], {"a": {"b": 0.5}, "b": {"c": 1.0}}, absorbing=[])
    assert j.absorbing == []
    with pytest.warns(js.InfiniteLifetimeWarning):  # nobody ever leaves
        a = j.analyze(3)
    assert a.retention_at(3) == 1.0


def test_a_stage_cannot_be_named_star():
    # "*" is the wildcard of interventions and transition values.
    with pytest.raises(ValueError, match=r"'\*' cannot be a stage name"):
        js.Journey(["a", "*"], {"a": {"*": 0.1}})


def test_the_core_s_own_refusals_are_journeysim_errors():
    # Refused by the C++ core (std::invalid_argument), reported as journeysim's
    # InputError: still a ValueError, and a JourneySimError.
    j = js.Journey(
        ["active", "churned"],
        {"active": {"churned": 0.1}},
        values={"revenue": {"active": 1.0}},
        discount_rate=-0.999,
    )
    for call in (lambda: j.analyze(periods=120), lambda: j.simulate(100, 120, seed=1)):
        with pytest.raises(js.InputError, match="beyond double precision") as err:
            call()
        assert isinstance(err.value, ValueError)
        assert isinstance(err.value, js.JourneySimError)


# -- issue 13: bad inputs found by the red-team pass after the first fixes ------------


def test_a_priority_that_is_not_names_is_an_input_error():
    with pytest.raises(ValueError, match="priority must be a segment name or a list"):
        js.Intervention("x", at=("a", "b"), relative_risk=0.5, capacity=5, priority=5)


def test_a_huge_prior_or_sample_is_a_clear_error():
    events = pd.DataFrame(
        {
            "customer": [1, 1, 2, 2],
            "period": [0, 1, 0, 1],
            "stage": ["a", "b", "a", "a"],
        }
    )
    with pytest.raises(ValueError, match="prior must be finite"):
        js.fit(events, prior=10**400)  # np.isfinite raised a TypeError on it
    assert js.fit(events, prior=2**64).counts.to_numpy().sum() == 2
    with pytest.raises(ValueError, match="n must be at most 100,000 journeys"):
        js.fit(events).sample(2**31)  # looped for hours before


def test_a_real_number_too_large_for_a_double_is_an_input_error():
    # math.isfinite(10**400) raises OverflowError; check_real must answer.
    with pytest.raises(ValueError, match="x must be a finite number"):
        check_real(10**400, "x")
    assert check_real(2**64, "x") == float(2**64)
