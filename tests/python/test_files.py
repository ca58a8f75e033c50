"""Model files: Journey.to_spec/from_spec, Intervention/Plan dicts, YAML and
JSON load/save, the errors a bad file gives, and atomic writes (a failure or a
kill during a write leaves the previous file)."""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.figure import Figure

import journeysim as js
from conftest import python_child, random_chain
from journeysim.apps.outputs import write_csv, write_plot
from journeysim.io import files
from journeysim.model.apply_plan import apply_plan

STAGES = ["a", "b", "c", "churned"]


# -- helpers --------------------------------------------------------------------


def bits(x: np.ndarray) -> tuple:
    x = np.asarray(x, dtype=float)
    return x.shape, x.tobytes()


def assert_same_journey(j1: js.Journey, j2: js.Journey) -> None:
    """The same journey, bit for bit: spec, matrices, values, starts, shares,
    rates, metadata."""
    assert j1.to_spec() == j2.to_spec()
    assert j1.stages == j2.stages and j1.streams == j2.streams
    assert j1.name == j2.name and j1.absorbing == j2.absorbing
    assert j1.value_stages == j2.value_stages
    assert set(j1.flagged_moments) == set(j2.flagged_moments)
    pd.testing.assert_frame_equal(j1.stage_info, j2.stage_info)
    s1, s2 = j1.resolved.segments, j2.resolved.segments
    assert len(s1) == len(s2)
    for g1, g2 in zip(s1, s2):
        n1, sh1, p1, v1, m1, st1 = (
            g1.name,
            g1.share,
            g1.transitions,
            g1.values,
            g1.moves,
            g1.start,
        )
        n2, sh2, p2, v2, m2, st2 = (
            g2.name,
            g2.share,
            g2.transitions,
            g2.values,
            g2.moves,
            g2.start,
        )
        assert n1 == n2 and sh1 == sh2
        assert [t for t, _ in p1] == [t for t, _ in p2]
        assert [bits(m) for _, m in p1] == [bits(m) for _, m in p2]
        assert bits(st1) == bits(st2)
        for s in j1.streams:
            assert [(t, bits(v)) for t, v in v1[s]] == [(t, bits(v)) for t, v in v2[s]]
            assert (m1[s] is None) == (m2[s] is None)
            if m1[s] is not None:
                assert bits(m1[s]) == bits(m2[s])
    r1, r2 = j1.resolved, j2.resolved
    for key in ("rates", "weights", "arrivals", "cohort_size", "absorbing"):
        assert getattr(r1, key) == getattr(r2, key), key


def same(x, y) -> bool:
    return np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True)


def assert_same_analysis(j1: js.Journey, j2: js.Journey, periods: int = 24) -> None:
    """analyze() gives the same numbers, bit for bit, under every accrual."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", js.JourneyWarning)  # same warnings, too
        for accrual in ("start", "end", "half-cycle", "life-table"):
            a = j1.analyze(periods, accrual=accrual)
            b = j2.analyze(periods, accrual=accrual)
            for name in ("occupancy", "value_by_period", "stages", "population"):
                pd.testing.assert_frame_equal(
                    getattr(a, name), getattr(b, name), check_exact=True
                )
            for name in ("retention", "absorption", "time_to_value", "value"):
                pd.testing.assert_series_equal(
                    getattr(a, name), getattr(b, name), check_exact=True
                )
            for name in ("clv", "lifetime_clv", "expected_lifetime"):
                assert same(getattr(a, name), getattr(b, name)), name


def validate(path) -> None:
    """The file validates against the shipped JSON Schema."""
    text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    data = json.loads(json.dumps(data))  # YAML's integer keys as JSON's strings
    jsonschema.Draft202012Validator(files.schema()).validate(data)


def roundtrip(j: js.Journey, tmp_path, suffix: str) -> js.Journey:
    path = tmp_path / f"journey{suffix}"
    js.save(j, path)
    validate(path)
    back = js.load(path)
    assert_same_journey(j, back)
    assert back == j
    # Saving what was read gives the same text.
    again = tmp_path / f"again{suffix}"
    js.save(back, again)
    assert again.read_text() == path.read_text()
    return back


def line_of(text: str, marker: str) -> int:
    """1-based line of the first line containing ``marker``."""
    lines = text.splitlines()
    return next(i for i, s in enumerate(lines, 1) if marker in s)


def error_of(tmp_path, text: str, name: str = "model.yaml", mode: str = "w") -> str:
    path = tmp_path / name
    if mode == "wb":
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as info:
        js.load_model(path)
    msg = str(info.value)
    assert name in msg
    return msg


# -- journeys to round-trip -------------------------------------------------------


def tenure_journey() -> js.Journey:
    return js.Journey(
        STAGES,
        {
            0: {"a": {"b": 0.3, "churned": 0.1}, "b": {"c": 0.2}, "c": {"b": 0.05}},
            2: {"a": {"b": 0.1, "churned": 0.3}},
            5: {"b": {"c": 0.4, "churned": 0.1}, "a": {"a": 1.0}},
        },
        values={
            "revenue": {0: {"a": 10, "b": 20, "c": 30}, 4: {"a": 0.0, "c": 35.5}},
            "cost": {"a": 3, "b": 1},
        },
        discount_rate=0.02,
        name="tenure",
    )


def segmented_journey() -> js.Journey:
    return js.Journey(
        STAGES,
        {"a": {"b": 0.3, "churned": 0.1}, "b": {"c": 0.2, "churned": 0.05}},
        values={"revenue": {"a": 10, "b": 20, "c": 30}, "cost": {"c": 4}},
        transition_values={"fee": {("a", "b"): 7.5, ("*", "churned"): -2.0}},
        segments={
            "smb": {
                "share": 0.6,
                "transitions": {"a": {"churned": 0.25}},
                "values": {"revenue": {"a": 5.0}},
            },
            "mid": {"share": 0.3},
            "enterprise": {
                "share": 0.1,
                "start": {"b": 0.5, "a": 0.5},
                "transitions": {3: {"b": {"c": 0.5}}},
                "values": {"cost": {2: {"c": 9.0}}},
                "transition_values": {"fee": {("b", "c"): 100.0}},
            },
        },
        discount_rate={"revenue": 0.01, "cost": 0.02, "fee": 0.0},
        net={"revenue": 1, "cost": -1, "fee": 0.5},
    )


def awkward_journey(rng) -> js.Journey:
    """A random matrix whose stays "the rest" would not give bit for bit, a
    transition value on a stay, arrivals, explicit absorbing stages, floats that
    need every digit."""
    P = random_chain(6, 2, rng)
    stages = [f"s{i}" for i in range(6)]
    moves = np.zeros((6, 6))
    moves[0, 0] = 1.5  # a value on staying put: only a matrix can carry it
    moves[1, 4] = 1 / 3
    return js.Journey.from_matrix(
        P,
        stages,
        values={"revenue": {"s0": 0.1 + 0.2, "s1": 1e-300, "s2": 5e-324}},
        transition_values={"revenue": moves},
        start={"s0": 1 / 3, "s1": 2 / 3},
        absorbing=["s5", "s4"],
        arrivals=[10.0, 0.1, 1e6],
        cohort_size=1234.5,
    )


def metadata_journey() -> js.Journey:
    return js.Journey(
        ["onboarding", "using", "at risk", "churned"],
        {
            "onboarding": {"using": 0.5, "churned": 0.1},
            "using": {"at risk": 0.1},
            "at risk": {"using": 0.3, "churned": 0.3},
        },
        metadata={
            "onboarding": {
                "owner": "Onboarding team",
                "touchpoints": ["kickoff call", "welcome email"],
                "channels": ("phone",),
                "kpis": ["days to go-live"],
                "description": "from signature to go-live\nsecond line: ünïcode",
            },
            "at risk": {"owner": "CS"},
        },
        moments_of_truth=["onboarding", ("at risk", "churned")],
        value_stages=["using"],
        absorbing=[],
        arrivals=25.0,
        name="méta: 'quoted' # not a comment",
    )


def journeys(rng) -> dict[str, js.Journey]:
    return {
        "default": js.default_journey(),
        "small_business": js.default_journey("small_business"),
        "tenure": tenure_journey(),
        "segments": segmented_journey(),
        "awkward": awkward_journey(rng),
        "metadata": metadata_journey(),
        "absorbing_none": js.Journey(
            ["x", "y"], {"x": {"y": 0.5}}, absorbing=[], values={"v": {"y": 1}}
        ),
        "absorbing_list": js.Journey(
            ["x", "y", "z"], {"x": {"y": 0.5}}, absorbing=["z", "y"]
        ),
        "normalized": js.Journey(
            ["x", "y", "z"],
            {"x": {"x": 2.0, "y": 1.0, "z": 1.0}, "y": {"y": 3, "z": 1}},
            start={"x": 3, "y": 1},
            segments={"p": {"share": 2}, "q": {"share": 1, "start": "y"}},
            normalize=True,
        ),
        "single_stage": js.Journey(["only"], {}),
    }


NAMES = [
    "default",
    "tenure",
    "segments",
    "awkward",
    "metadata",
    "absorbing_none",
    "absorbing_list",
    "normalized",
    "single_stage",
]


# -- to_spec / from_spec ----------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_spec_round_trip_is_exact(name, rng):
    j = journeys(rng)[name]
    spec = j.to_spec()
    back = js.Journey.from_spec(spec)
    assert_same_journey(j, back)
    assert back.to_spec() == spec
    assert_same_analysis(j, back)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_file_round_trip_is_exact(name, suffix, rng, tmp_path):
    j = journeys(rng)[name]
    back = roundtrip(j, tmp_path, suffix)
    assert_same_analysis(j, back)


def test_spec_numbers_are_python_floats():
    j = js.Journey(
        ["a", "b"],
        {"a": {"b": np.float32(0.25)}},
        values={"v": {"a": np.float64(1.1), "b": np.int64(3)}},
        discount_rate=np.float64(0.01),
        arrivals=np.array([1.0, 2.0]),
        cohort_size=np.float64(10),
    )

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                assert type(k) in (str, int)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
        else:
            assert type(x) in (str, float, int, bool), (x, type(x))

    spec = j.to_spec()
    walk(spec)
    assert spec["transitions"] == {"a": {"b": 0.25}}
    assert spec["arrivals"] == [1.0, 2.0] and spec["cohort_size"] == 10.0


def test_spec_keeps_detected_explicit_and_no_absorbing_apart():
    detected = js.Journey(["a", "b"], {"a": {"b": 0.5}})
    explicit = js.Journey(["a", "b"], {"a": {"b": 0.5}}, absorbing=["b"])
    none = js.Journey(["a", "b"], {"a": {"b": 0.5}}, absorbing=[])
    assert "absorbing" not in detected.to_spec()
    assert explicit.to_spec()["absorbing"] == ["b"]
    assert none.to_spec()["absorbing"] == []
    assert detected.absorbing == explicit.absorbing == ["b"]
    assert js.Journey.from_spec(none.to_spec()).absorbing == []
    assert detected != none and detected != explicit


def test_spec_of_segments_lists_only_what_differs():
    spec = segmented_journey().to_spec()
    segs = spec["segments"]
    assert segs["mid"] == {"share": 0.3}
    assert segs["smb"] == {
        "share": 0.6,
        "transitions": {"a": {"churned": 0.25}},  # a named row is all of it
        "values": {"revenue": {"a": 5.0}},
    }
    assert segs["enterprise"]["transitions"] == {3: {"b": {"c": 0.5}}}
    assert segs["enterprise"]["values"] == {"cost": {2: {"c": 9.0}}}
    assert segs["enterprise"]["start"] == {"a": 0.5, "b": 0.5}
    assert segs["enterprise"]["transition_values"] == {"fee": {"b": {"c": 100.0}}}
    assert spec["discount_rate"] == {"revenue": 0.01, "cost": 0.02, "fee": 0.0}
    assert spec["net"] == {"revenue": 1.0, "cost": -1.0, "fee": 0.5}
    # The wildcard became the moves it stands for.
    assert spec["transition_values"]["fee"]["c"] == {"churned": -2.0}


def test_spec_of_moments_and_metadata():
    spec = metadata_journey().to_spec()
    first = spec["stages"][0]
    assert first["name"] == "onboarding" and first["moment_of_truth"] is True
    assert first["channels"] == ["phone"]  # a tuple written as a list
    assert spec["stages"][1] == "using"
    assert spec["stages"][2] == {"name": "at risk", "owner": "CS"}
    assert spec["moments_of_truth"] == [["at risk", "churned"]]
    assert spec["arrivals"] == 25.0 and spec["absorbing"] == []


def test_a_stay_is_named_only_when_needed():
    j = js.Journey(["a", "b", "c"], {"a": {"b": 0.1, "c": 0.2}})
    assert j.to_spec()["transitions"] == {"a": {"b": 0.1, "c": 0.2}}
    P = np.array([[0.7, 0.1, 0.2], [0, 1, 0], [0, 0, 1]])
    if 1.0 - math.fsum([0.1, 0.2]) != 0.7:
        spec = js.Journey.from_matrix(P, ["a", "b", "c"]).to_spec()
        assert spec["transitions"]["a"]["a"] == 0.7


def test_yaml_reads_exponent_floats_and_keeps_odd_stage_names(tmp_path):
    m = js.loads(
        """
format: journeysim/1
journey:
  stages: [a, b]
  transitions: {a: {b: 1e-3}}
  values: {v: {a: 2E+3, b: .5e1}}
"""
    )
    assert m.journey.transition_matrix.loc["a", "b"] == 0.001
    assert m.journey.to_spec()["values"] == {"v": {"a": 2000.0, "b": 5.0}}
    odd = js.Journey(["no", "1e5", "0.5", "null", "3"], {"no": {"1e5": 0.5}})
    back = roundtrip(odd, tmp_path, ".yaml")
    assert back.stages == ["no", "1e5", "0.5", "null", "3"]
    roundtrip(odd, tmp_path, ".json")


def test_json_tenure_keys_are_strings_and_both_are_read(tmp_path):
    j = tenure_journey()
    path = tmp_path / "t.json"
    js.save(j, path)
    data = json.loads(path.read_text())
    assert list(data["journey"]["transitions"]) == ["0", "2", "5"]
    assert list(yaml.safe_load(js.dumps(j))["journey"]["transitions"]) == [0, 2, 5]
    assert js.Journey.from_spec(data["journey"]) == j


def test_derived_journeys_spec_and_plan_journeys_refuse():
    j = segmented_journey()
    draw = j.derive()
    assert js.Journey.from_spec(draw.to_spec()) == j
    plan = js.Plan("p", [js.Intervention("x", at=("a", "b"), change=0.05)])
    pj = apply_plan(j, plan, cost_rate=0.0).journey
    with pytest.raises(ValueError, match="save the journey and the plan"):
        pj.to_spec()
    with pytest.raises(ValueError, match="save the journey and the plan"):
        js.dumps(pj)


def test_equality():
    j = js.default_journey()
    assert j == js.default_journey() and hash(j) == hash(js.default_journey())
    assert {j: 1}[js.default_journey()] == 1
    other = js.Journey.from_spec({**j.to_spec(), "name": "other"})
    assert other != j
    assert (j == "a journey") is False


# -- interventions and plans -------------------------------------------------------


def full_intervention() -> js.Intervention:
    return js.Intervention(
        "save desk",
        at=("at_risk", ["churned", "renewal_decision"]),
        probability=0.1,
        reassign_to="adopting",
        reach=0.75,
        window=(1, None),
        calendar=(2, 30),
        segments=["all"],
        cost_fixed=1000,
        cost_per_customer=25.5,
        cost_per_period=0.1 + 0.2,
        capacity=40,
        priority=["at_risk"],
    )


INTERVENTIONS = {
    "full": full_intervention,
    "stage": lambda: js.Intervention("all exits", at="adopting", change=-0.01),
    "into": lambda: js.Intervention(
        "into churn",
        at=("*", "churned"),
        relative_risk=0.9,
        reassign_to="adopting",
        window=(0, 1),
    ),
}


@pytest.mark.parametrize("name", list(INTERVENTIONS))
def test_intervention_dict_round_trip(name):
    iv = INTERVENTIONS[name]()
    d = iv.to_dict()
    back = js.Intervention.from_dict(d)
    assert back == iv and back.to_dict() == d
    for attr in (
        "name",
        "source",
        "targets",
        "effect",
        "amount",
        "reassign_to",
        "reach",
        "window",
        "calendar",
        "segments",
        "cost_fixed",
        "cost_per_customer",
        "cost_per_period",
        "capacity",
        "priority",
    ):
        assert getattr(back, attr) == getattr(iv, attr), attr


def test_intervention_dict_has_every_field():
    d = full_intervention().to_dict()
    assert d == {
        "name": "save desk",
        "at": ["at_risk", ["churned", "renewal_decision"]],
        "probability": 0.1,
        "reassign_to": "adopting",
        "reach": 0.75,
        "window": [1, None],
        "calendar": [2, 30],
        "segments": ["all"],
        "cost_fixed": 1000.0,
        "cost_per_customer": 25.5,
        "cost_per_period": 0.1 + 0.2,
        "capacity": 40,
        "priority": ["at_risk"],
    }
    assert list(d) == [k for k in js.model.intervention.INTERVENTION_KEYS if k in d]


def plans() -> list[js.Plan]:
    call = js.Intervention(
        "onboarding call",
        at=("onboarding", "churned"),
        relative_risk=0.6,
        reassign_to="adopting",
        reach=0.8,
        cost_per_customer=50,
        window=(0, 3),
    )
    return [
        js.Plan("proactive", [call, INTERVENTIONS["stage"]()]),
        js.Plan("rescue", [call, full_intervention(), INTERVENTIONS["into"]()]),
        js.Plan("baseline"),
    ]


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_a_file_with_a_journey_and_plans(suffix, tmp_path):
    j, ps = js.default_journey("small_business"), plans()
    path = tmp_path / f"model{suffix}"
    js.save(j, path, plans=ps)
    validate(path)
    m = js.load_model(path)
    assert m.path == str(path)
    assert_same_journey(m.journey, j)
    assert m.plans == ps
    assert [p.name for p in m.plans] == ["proactive", "rescue", "baseline"]
    # The shared intervention is written once and named in both plans.
    assert list(m.interventions) == ["onboarding call"]
    assert js.load_plans(path) == ps and js.load(path) == j
    for before, after in zip(ps[:1], m.plans[:1]):
        pj1 = apply_plan(j, before, cost_rate=0.01).journey
        pj2 = apply_plan(m.journey, after, cost_rate=0.01).journey
        assert_same_analysis(pj1, pj2, periods=12)


def test_save_and_load_plans_interventions_and_lists(tmp_path):
    ps = plans()
    for obj in (ps, ps[0], [full_intervention()], full_intervention()):
        for suffix in (".yaml", ".json"):
            path = tmp_path / f"x{suffix}"
            js.save(obj, path)
            validate(path)
            m = js.load_model(path)
            assert m.journey is None
            if isinstance(obj, js.Intervention) or obj == [full_intervention()]:
                assert m.interventions == {"save desk": full_intervention()}
                assert m.plans == []
            else:
                assert m.plans == (obj if isinstance(obj, list) else [obj])
    with pytest.raises(ValueError, match="no journey"):
        js.load(tmp_path / "x.json")
    js.save(js.default_journey(), tmp_path / "j.yaml")
    with pytest.raises(ValueError, match="no plans"):
        js.load_plans(tmp_path / "j.yaml")


def test_hand_written_file_with_a_library(tmp_path):
    text = """\
format: journeysim/1
journey:
  name: B2B SaaS
  stages:
    - name: onboarding
      owner: Onboarding team
      touchpoints: [kickoff call]
      moment_of_truth: true
    - adopting
    - churned            # a plain name is fine
  transitions:
    onboarding: {adopting: 0.55, churned: 0.05}
    adopting: {churned: 0.02}
  values:
    revenue: {adopting: 800}
  discount_rate: 0.01
  moments_of_truth: [[adopting, churned]]
interventions:
  - name: onboarding call
    at: [onboarding, churned]
    relative_risk: 0.6
    reach: 0.8
    cost_per_customer: 50
plans:
  - name: proactive
    interventions:
      - onboarding call
      - {name: nudge, at: adopting, change: -0.005, window: [0, null]}
  - name: calls only
    interventions: [onboarding call]
"""
    path = tmp_path / "m.yaml"
    path.write_text(text)
    validate(path)
    m = js.load_model(path)
    j = m.journey
    assert j.name == "B2B SaaS" and j.owner("onboarding") == "Onboarding team"
    assert set(j.flagged_moments) == {"onboarding", ("adopting", "churned")}
    stay = 1 - math.fsum([0.55, 0.05])
    assert j.transition_matrix.loc["onboarding", "onboarding"] == stay
    assert m.plans[0].interventions[0] is m.interventions["onboarding call"]
    assert m.plans[0].interventions[1].window == (0, None)
    assert m.plans[1].interventions == [m.interventions["onboarding call"]]


def test_the_example_in_the_module_docs_loads():
    block = files.__doc__.split("::\n\n", 1)[1].split("\n\nTenure", 1)[0]
    m = js.loads(textwrap.dedent(block), name="doc.yaml")
    assert m.journey.stages == ["onboarding", "adopting", "churned"]
    assert [i.name for i in m.plans[0].interventions] == ["onboarding call", "gift"]


def test_tenure_keys_in_json_beside_a_stage_named_like_a_number():
    j = js.Journey(["a", "3", "c"], {0: {"a": {"3": 0.5}}, 3: {"3": {"c": 0.2}}})
    assert js.loads(js.dumps(j, "json"), "json").journey == j
    assert js.loads(js.dumps(j)).journey == j


def test_saved_yaml_is_readable(tmp_path):
    text = js.dumps(js.default_journey("small_business"), plans=plans())
    lines = text.splitlines()
    assert lines[0] == "format: journeysim/1"
    assert lines[1:4] == ["journey:", "  name: Small-business SaaS", "  stages:"]
    assert "!!" not in text and "&id" not in text and "*id" not in text
    top = [k for k in yaml.safe_load(text)["journey"]]
    assert top[:4] == ["name", "stages", "transitions", "values"]
    assert "      onboarding: {adopting: 0.55, at_risk: 0.1, churned: 0.05}" in lines
    assert "interventions:" in lines and "plans:" in lines


def test_unknown_suffix_and_wrong_objects(tmp_path):
    with pytest.raises(ValueError, match=r"unknown model file type '\.txt'"):
        js.save(js.default_journey(), tmp_path / "m.txt")
    with pytest.raises(ValueError, match="unknown model file type"):
        js.load(tmp_path / "m")
    with pytest.raises(ValueError, match="expected a Journey"):
        js.save({"not": "a journey"}, tmp_path / "m.yaml")
    with pytest.raises(ValueError, match="plan names repeat"):
        js.save([js.Plan("p"), js.Plan("p")], tmp_path / "m.yaml")


# -- bad files -------------------------------------------------------------------

GOOD = """\
format: journeysim/1
journey:
  stages: [onboarding, adopting, churned]
  transitions:
    onboarding: {adopting: 0.55, churned: 0.05}
    adopting:
      churned: 0.02
  values:
    revenue: {adopting: 800}
  discount_rate: 0.01
plans:
  - name: proactive
    interventions:
      - name: call
        at: [onboarding, churned]
        relative_risk: 0.6
"""


def bad(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_the_good_file_loads(tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD)
    assert js.load_model(tmp_path / "good.yaml").journey.stages[0] == "onboarding"


@pytest.mark.parametrize(
    ("old", "new", "marker", "expected"),
    [
        (
            "churned: 0.02",
            "churned: 1.3",
            "churned: 1.3",
            "journey.transitions.adopting.churned: probability 1.3 is outside [0, 1]",
        ),
        (
            "{adopting: 0.55, churned: 0.05}",
            "{adopting: 0.55, churnd: 0.05}",
            "churnd",
            "journey.transitions.onboarding.churnd: unknown stage 'churnd'; "
            "did you mean 'churned'?",
        ),
        (
            "revenue: {adopting: 800}",
            "revenue: {adopting: lots}",
            "lots",
            "journey.values.revenue.adopting: expected a number, got the string 'lots'",
        ),
        (
            "discount_rate: 0.01",
            "discount_rate: true",
            "discount_rate",
            "journey.discount_rate: expected a discount rate (or {stream: rate}), "
            "got True (a boolean)",
        ),
        (
            "discount_rate: 0.01",
            "discount_rate: -1",
            "discount_rate",
            "journey.discount_rate: expected a discount rate (or {stream: rate}) > -1",
        ),
        (
            "  values:",
            "  value:",
            "value:",
            "journey.value: unknown key 'value' in a journey; did you mean 'values'?",
        ),
        (
            "{adopting: 0.55, churned: 0.05}",
            "{adopting: 0.75, churned: 0.35}",
            "adopting: 0.75",
            "journey.transitions.onboarding: the moves sum to 1.1, more than 1",
        ),
        (
            "relative_risk: 0.6",
            "relative_risk: 0.6\n        reach: most",
            "reach: most",
            "plans[0].interventions[0].reach: expected a share in [0, 1], got the "
            "string 'most'",
        ),
        (
            "relative_risk: 0.6",
            "relative_risk: 0.6\n        reach: 1.5",
            "reach: 1.5",
            "plans[0].interventions[0].reach: intervention 'call': reach must be in "
            "[0, 1], got 1.5",
        ),
        (
            "relative_risk: 0.6",
            "relative_risk: 0.6\n        window: [0, 2.5]",
            "window",
            "plans[0].interventions[0].window[1]: expected a whole number of periods",
        ),
        (
            "relative_risk: 0.6",
            "relative_risk: 0.6\n        capacity: true",
            "capacity",
            "plans[0].interventions[0].capacity: expected a whole number of "
            "customers, got True (a boolean)",
        ),
        (
            "relative_risk: 0.6",
            "relative_risk: 0.6\n        change: 0.1",
            "change: 0.1",
            "plans[0].interventions[0].change: give one effect only",
        ),
        (
            "at: [onboarding, churned]",
            "at: [onboarding, lost]",
            "lost",
            "plans[0].interventions[0].at: unknown stage 'lost'",
        ),
        (
            "at: [onboarding, churned]",
            "at: [churned, onboarding]",
            "at: [churned",
            "plans[0].interventions[0].at: 'churned' is absorbing",
        ),
        (
            "      - name: call",
            "      - unheard of\n      - name: call",
            "unheard of",
            "plans[0].interventions[0]: unknown intervention 'unheard of'",
        ),
        (
            "  stages: [onboarding, adopting, churned]",
            "  stages: [onboarding, adopting, churned, adopting]",
            "stages:",
            "journey.stages[3]: stage 'adopting' is listed twice (also stages[1])",
        ),
        (
            "  discount_rate: 0.01",
            "  discount_rate: 0.01\n  absorbing: [onboarding]",
            "absorbing:",
            "journey.absorbing: absorbing stage 'onboarding' has an exit",
        ),
        (
            "  discount_rate: 0.01",
            "  discount_rate: 0.01\n  segments: {a: {share: 0.5}, b: {share: 0.4}}",
            "segments:",
            "journey.segments: the segment shares sum to 0.9, not 1",
        ),
        (
            "  discount_rate: 0.01",
            "  discount_rate: 0.01\n  arrivals: [1, 2, -3]",
            "arrivals:",
            "journey.arrivals[2]: expected a number of customers >= 0, got -3.0",
        ),
        (
            "  transitions:",
            "  transitions:\n    0: {}\n    churned: {}",
            "churned: {}",
            "journey.transitions.churned: a mapping keyed by tenures",
        ),
        (
            "    onboarding: {adopting: 0.55, churned: 0.05}\n    adopting:\n",
            "    2:\n      adopting:\n",
            "    2:",
            "journey.transitions[2]: the first tenure piece must start at 0, not 2",
        ),
        (
            "format: journeysim/1",
            "format: journeysim/2",
            "format:",
            "format: unknown format 'journeysim/2'; this version reads journeysim/1",
        ),
        (
            "plans:",
            "plan:",
            "plan:",
            "plan: unknown key 'plan' in a model file",
        ),
    ],
)
def test_errors_name_file_line_and_key(tmp_path, old, new, marker, expected):
    text = bad(GOOD, old, new)
    msg = error_of(tmp_path, text)
    line = line_of(text, marker)
    assert msg.startswith(f"{tmp_path / 'model.yaml'}:{line}: "), msg
    assert expected in msg, msg


def test_missing_format_and_not_a_mapping(tmp_path):
    msg = error_of(tmp_path, GOOD.replace("format: journeysim/1\n", ""))
    assert "missing 'format: journeysim/1'" in msg
    assert "a model file is a mapping" in error_of(tmp_path, "- 1\n- 2\n")
    assert "the file is empty" in error_of(tmp_path, "# nothing\n")
    assert "the file is empty" in error_of(tmp_path, "", name="m.json")


def test_duplicate_keys_name_the_key_and_both_lines(tmp_path):
    text = bad(
        GOOD, "    adopting:\n", "    onboarding: {adopting: 0.1}\n    adopting:\n"
    )
    msg = error_of(tmp_path, text)
    first = line_of(text, "onboarding: {adopting: 0.55")
    again = line_of(text, "onboarding: {adopting: 0.1}")
    assert f"model.yaml:{again}: journey.transitions.onboarding: duplicate key " in msg
    assert f"'onboarding' (first at line {first}, again at line {again})" in msg


def json_text() -> str:
    return json.dumps(yaml.safe_load(GOOD), indent=2)


def test_json_errors_carry_lines_too(tmp_path):
    text = bad(json_text(), '"churned": 0.02', '"churned": 1.3')
    msg = error_of(tmp_path, text, name="model.json")
    line = line_of(text, '"churned": 1.3')
    assert msg.startswith(f"{tmp_path / 'model.json'}:{line}: "), msg
    assert "journey.transitions.adopting.churned: probability 1.3 is outside" in msg
    text = bad(json_text(), '"adopting": {', '"adopting": {"churned": 0.5, ')
    msg = error_of(tmp_path, text, name="model.json")
    assert "journey.transitions.adopting.churned: duplicate key 'churned'" in msg
    text = bad(json_text(), '"discount_rate": 0.01', '"discount_rate": 0.01,')
    msg = error_of(tmp_path, text, name="model.json")
    assert f"model.json:{line_of(text, 'discount_rate') + 1}: invalid JSON" in msg
    msg = error_of(tmp_path, "[" * 200 + "]" * 200, name="model.json")
    assert "model.json:1: arrays and objects nested over 64 deep" in msg
    msg = error_of(tmp_path, '{"format": "journeysim/1"} x', name="model.json")
    assert "extra text after the document" in msg


def test_alias_bombs_are_refused(tmp_path):
    lines = ["format: journeysim/1", 'a0: &a0 ["lol", "lol", "lol", "lol", "lol"]']
    for k in range(1, 9):
        refs = ", ".join([f"*a{k - 1}"] * 9)
        lines.append(f"a{k}: &a{k} [{refs}]")
    msg = error_of(tmp_path, "\n".join(lines) + "\n")
    assert "expands to more than 1,000,000 values" in msg
    many = "format: journeysim/1\nx: &x 1\ny: [" + ", ".join(["*x"] * 101) + "]\n"
    msg = error_of(tmp_path, many)
    assert "model.yaml:3: more than 100 aliases" in msg


def test_deep_nesting_is_refused(tmp_path):
    msg = error_of(tmp_path, "format: journeysim/1\nx: " + "[" * 100 + "]" * 100)
    assert "model.yaml:2: mappings and lists nested more than 64 deep" in msg
    block = "format: journeysim/1\n" + "".join(" " * k + f"k{k}:\n" for k in range(100))
    assert "nested more than 64 deep" in error_of(tmp_path, block)


def test_bytes_that_are_not_utf8_are_refused(tmp_path):
    raw = GOOD.encode().replace(b"B2B", b"B2B").replace(b"800", b"8\xff0")
    msg = error_of(tmp_path, raw, mode="wb")
    offset = raw.index(b"\xff")
    assert f"not UTF-8 text: byte 0xff at offset {offset}" in msg
    assert msg.startswith(f"{tmp_path / 'model.yaml'}:{line_of(GOOD, '800')}:")
    # A UTF-8 byte order mark is fine.
    (tmp_path / "bom.yaml").write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert js.load_model(tmp_path / "bom.yaml").journey is not None


def test_huge_files_are_refused(tmp_path):
    path = tmp_path / "huge.yaml"
    with open(path, "wb") as f:
        f.truncate(files.MAX_BYTES + 1)  # sparse: no 50 MB written
    with pytest.raises(ValueError, match=r"huge\.yaml: the file has 52,428,801 bytes"):
        js.load(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "format: journeysim/1\njourney: !!python/object/apply:os.system [ls]\n",
            "model.yaml:2: invalid YAML: could not determine a constructor",
        ),
        ("format: journeysim/1\nx: [1, 2\n", "model.yaml:3: invalid YAML"),
        (
            "format: journeysim/1\nx: \x07\n",
            "model.yaml:2: invalid YAML: character 0x07 is not allowed",
        ),
        ("format: journeysim/1\n? [a, b]\n: 1\n", "model.yaml:2: the file: keys must"),
        ("format: journeysim/1\n---\nformat: journeysim/1\n", "model.yaml:2: invalid"),
    ],
)
def test_unsafe_or_broken_yaml_is_a_value_error(tmp_path, text, expected):
    assert expected in error_of(tmp_path, text)


def leaves(x, path=()):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from leaves(v, (*path, k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from leaves(v, (*path, i))
    yield path


def replaced(x, path, value):
    if not path:
        return value
    x = list(x) if isinstance(x, list) else dict(x)
    x[path[0]] = replaced(x[path[0]], path[1:], value)
    return x


def test_wrong_types_anywhere_are_value_errors():
    """Every part of a spec replaced by a value of the wrong kind gives a
    ValueError (or a journey), never a TypeError or anything else."""
    spec = segmented_journey().to_spec()
    spec["stages"][0] = {"name": "a", "owner": "x", "moment_of_truth": True}
    spec["moments_of_truth"] = [["a", "b"]]
    wrong = ["text", True, None, [], {}, [1, "x"], {"a": None}, -1.5, 10**400]
    count = 0
    for path in set(leaves(spec)):
        for value in wrong:
            try:
                js.Journey.from_spec(replaced(spec, path, value))
            except ValueError as err:
                count += 1
                assert isinstance(err, js.SpecError), (path, value, err)
    assert count > 500
    iv = full_intervention().to_dict()
    for path in set(leaves(iv)):
        for value in wrong:
            try:
                js.Intervention.from_dict(replaced(iv, path, value))
            except ValueError:
                pass


def test_errors_without_a_file_name_the_key_path():
    spec = js.default_journey("small_business").to_spec()
    spec["values"]["revenue"]["onboarding"] = "1000"
    with pytest.raises(ValueError) as info:
        js.Journey.from_spec(spec)
    assert str(info.value) == (
        "values.revenue.onboarding: expected a number, got the string '1000'"
    )
    with pytest.raises(ValueError, match=r"^transitions\[3\]\.onboarding\.churned"):
        js.Journey.from_spec(
            replaced(spec, ("transitions", 3, "onboarding", "churned"), 2.0)
        )
    with pytest.raises(ValueError, match=r"^interventions\[1\]: unknown intervention"):
        js.Plan.from_dict(
            {
                "name": "p",
                "interventions": [{"name": "x", "at": "a", "change": 0.1}, "y"],
            }
        )


def test_the_schema_is_valid_and_rejects_bad_files():
    schema = files.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    good = json.loads(
        js.dumps(js.default_journey("small_business"), "json", plans=plans())
    )
    v.validate(good)
    for broken in (
        {**good, "format": "journeysim/2"},
        {**good, "extra": 1},
        replaced(good, ("journey", "transitions", "0", "onboarding", "churned"), 1.3),
        replaced(good, ("plans", 0, "interventions", 1, "change"), "x"),
        replaced(good, ("journey", "stages", 2, "moment_of_truth"), "yes"),
    ):
        assert not v.is_valid(broken)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"absorbing": ["a"]}, ("absorbing",)),
        # In one segment of several: the segment is the place.
        (
            {"absorbing": ["a"], "segments": {"x": {"share": 1.0}}},
            ("absorbing",),
        ),
        (
            {
                "absorbing": ["a"],
                "segments": {"x": {"share": 0.5}, "y": {"share": 0.5}},
            },
            ("segments", "x"),
        ),
    ],
)
def test_core_errors_name_their_key_path_without_reading_the_message(change, path):
    # The core checks absorbing stages; its error says which part of the spec
    # (and which segment) it is about, and the file's key path comes from that.
    spec = {"stages": ["a", "b"], "transitions": {"a": {"b": 0.5}}, **change}
    with pytest.raises(js.SpecError, match="absorbing stage 'a' has an exit") as err:
        js.Journey.from_spec(spec)
    assert err.value.path == path


def test_the_core_error_carries_part_segment_and_stream():
    j = js.Journey(
        ["a", "b"],
        {"a": {"b": 0.5}},
        segments={"x": {"share": 0.5}, "y": {"share": 0.5}},
    )
    seg = j.core.spec.segments[1]
    bad = js._core.Segment(
        name=seg.name,
        share=seg.share,
        transition_starts=list(seg.transition_starts),
        transitions=[np.array([[0.2, 0.5], [0.0, 1.0]])],
        streams=[],
        start=np.array(seg.start),
    )
    spec = js._core.JourneySpec(
        stages=["a", "b"], segments=[j.core.spec.segments[0], bad]
    )
    with pytest.raises(js._core.JourneyError) as err:
        js._core.Journey(spec)
    assert isinstance(err.value, ValueError)
    assert (err.value.part, err.value.segment, err.value.stream) == (
        "transitions",
        "y",
        "",
    )
    assert "segment 'y', row 'a' sums to 0.7" in str(err.value)


# -- writing is atomic ---------------------------------------------------------------


def big_journey(n: int, seed: int) -> js.Journey:
    """A dense journey of ``n`` stages: a model file of about n**2 / 2
    numbers (a few MB at 300 stages), long enough to be cut by a failure."""
    P = random_chain(n, 2, np.random.default_rng(seed))
    return js.Journey.from_matrix(P, stages=[f"s{i}" for i in range(n)])


class DiskFull:
    """A file whose every write puts half the data on disk, then fails as a
    full disk does."""

    def __init__(self, f):
        self.f = f

    def write(self, data):
        self.f.write(data[: max(1, len(data) // 2)])
        self.f.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def fill_the_disk(monkeypatch) -> None:
    """Every file opened from now on for writing fails half-way."""
    real = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *a, **k: DiskFull(real(*a, **k)))


def write_model(path: Path) -> None:
    js.save(js.default_journey(), path, plans=js.default_plans())


def write_report(path: Path) -> None:
    j, plans = js.default_journey(), js.default_plans()[:1]
    js.report(j, plans, path, comparison=js.compare(j, plans, 12))


def write_csv_table(path: Path) -> None:
    write_csv(js.default_journey().analyze(12).occupancy, path)


def write_figure(path: Path) -> None:
    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    write_plot(fig, path)


@pytest.mark.parametrize(
    "name, write",
    [
        ("model.yaml", write_model),
        ("model.json", write_model),
        ("report.html", write_report),
        ("table.csv", write_csv_table),
        ("chart.png", write_figure),
        ("chart.svg", write_figure),
    ],
)
def test_a_failing_write_leaves_the_previous_file_intact(
    tmp_path, monkeypatch, name, write
):
    path = tmp_path / name
    write(path)  # a good file, as the user has it
    before = path.read_bytes()
    fill_the_disk(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        write(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [name]  # the temporary file is gone
    if name.startswith("model"):
        assert js.load(path) == js.default_journey()
    # Written again, it is the same file: the format follows the suffix.
    write(path)
    if not name.endswith((".html", ".svg")):  # these carry a time stamp or ids
        assert path.read_bytes() == before


def test_a_full_disk_during_save_keeps_the_good_model(tmp_path):
    """A real failure of the operating system, not a patched one: a limit on
    the size of files (RLIMIT_FSIZE) makes the write fail with EFBIG
    half-way, as a full disk makes it fail with ENOSPC. Before the fix the
    good model was truncated and no longer loaded."""
    folder, elsewhere = tmp_path / "models", tmp_path / "big"
    folder.mkdir()
    elsewhere.mkdir()
    path = folder / "model.yaml"
    js.save(js.default_journey(), path)
    before = path.read_bytes()
    js.save(big_journey(120, 1), elsewhere / "big.yaml")
    limit = (elsewhere / "big.yaml").stat().st_size // 2
    assert limit > len(before)
    child = python_child(
        textwrap.dedent(
            f"""
            import resource, signal, journeysim as js
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead
            j = js.load({str(elsewhere / "big.yaml")!r})
            resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
            try:
                js.save(j, {str(path)!r})
            except OSError as err:
                print("failed", err.errno)
            """
        )
    )
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert out.split() == ["failed", str(errno.EFBIG)]
    assert path.read_bytes() == before
    assert js.load(path) == js.default_journey()
    assert os.listdir(folder) == ["model.yaml"]


KILLED_SAVER = """
import itertools, sys
import journeysim as js
from journeysim.io import files

path, a, b = sys.argv[1:4]
texts = [open(a, encoding="utf-8").read(), open(b, encoding="utf-8").read()]
# The texts are made once: the loop spends its time writing, where a kill hurts.
turns = itertools.cycle(texts)
files.dumps = lambda obj, fmt="yaml", plans=None: next(turns)
stub = js.Journey(["x", "y"], {})
js.save(stub, path)
print("saving", flush=True)
while True:
    js.save(stub, path)
"""


def test_a_kill_during_save_leaves_the_old_or_the_new_file(tmp_path):
    """SIGKILL at a random moment of a process that saves a large model over
    and over (two versions in turn): the file is always one of the two
    versions, complete. Before the fix it was cut (or empty) every time."""
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    js.save(big_journey(300, 1), a)
    js.save(big_journey(300, 2), b)
    versions = {a.read_bytes(), b.read_bytes()}
    package = str(Path(js.__file__).parent.parent)
    env = {**os.environ, "PYTHONPATH": package}
    rng = np.random.default_rng(5)
    for trial in range(5):
        path = tmp_path / f"model{trial}.yaml"
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED_SAVER, str(path), str(a), str(b)],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout.readline() == "saving\n"
        time.sleep(rng.uniform(0.05, 0.3))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        assert path.read_bytes() in versions, f"trial {trial}: a cut file"
    js.load(path)  # and it loads


def test_saving_over_a_link_or_a_private_file_keeps_them(tmp_path):
    """The file is replaced by a rename, which must not turn a symbolic link
    into a file or a private file (mode 0o600) into a readable one."""
    real, link = tmp_path / "real.yaml", tmp_path / "link.yaml"
    js.save(js.default_journey(), real)
    real.chmod(0o600)
    link.symlink_to(real)
    small = js.Journey(["active", "churned"], {"active": {"churned": 0.1}})
    js.save(small, link)
    assert link.is_symlink() and js.load(real) == small
    assert real.stat().st_mode & 0o777 == 0o600
    # A new file gets the usual permissions (0o666 less the umask), as open
    # gives, not the 0o600 of a temporary file.
    umask = os.umask(0)
    os.umask(umask)
    js.save(small, tmp_path / "new.yaml")
    assert (tmp_path / "new.yaml").stat().st_mode & 0o777 == 0o666 & ~umask
