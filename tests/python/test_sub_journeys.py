"""Sub-journeys: Journey.expand / collapse, and model files that name a
sub-journey by reference."""

from __future__ import annotations

import numpy as np
import pytest

import journeysim as js

STAGES = ["onboarding", "adopting", "value", "churned"]


def parent(**kw):
    """A lifecycle with tenure pieces, two segments, transition values, scores,
    metadata and moments of truth: everything expand has to carry over."""
    return js.Journey(
        STAGES,
        {
            0: {
                "onboarding": {"adopting": 0.4, "churned": 0.1},
                "adopting": {"value": 0.3, "churned": 0.05, "onboarding": 0.02},
                "value": {"churned": 0.02},
            },
            6: {"adopting": {"value": 0.2, "churned": 0.08}},
        },
        values={
            "revenue": {0: {"onboarding": 50, "adopting": 800, "value": 1000}, 3: {}},
            "cost": {"onboarding": 300, "adopting": 100},
        },
        transition_values={
            "revenue": {("*", "onboarding"): 25.0, ("onboarding", "adopting"): 7.0}
        },
        net={"revenue": 1, "cost": -1},
        discount_rate=0.01,
        value_stages="value",
        segments={
            "smb": {"share": 0.6, "transitions": {"value": {"churned": 0.04}}},
            "ent": {"share": 0.4, "start": {"onboarding": 0.5, "adopting": 0.5}},
        },
        arrivals=10.0,
        metadata={"onboarding": {"owner": "Onboarding", "touchpoints": ["kickoff"]}},
        moments_of_truth=["onboarding", ("adopting", "onboarding")],
        scores={"nps": {"onboarding": 10, "value": 60}},
        time_unit="month",
        currency="USD",
        **kw,
    )


def one_stage(stay=0.5, exits=None):
    exits = exits or {"adopting": 0.4, "churned": 0.1}
    return js.Journey(["onboarding", "adopting", "churned"], {"onboarding": exits})


def test_a_sub_journey_equal_to_the_stage_gives_identical_results():
    j = parent()
    e = j.expand("onboarding", one_stage())
    assert e.stages == ["onboarding/onboarding", "adopting", "value", "churned"]
    for accrual in ("start", "end", "half-cycle"):
        a, b = j.analyze(36, accrual=accrual), e.analyze(36, accrual=accrual)
        assert b.clv == pytest.approx(a.clv, rel=1e-12, abs=1e-12)
        assert b.lifetime_clv == pytest.approx(a.lifetime_clv, rel=1e-12)
        np.testing.assert_allclose(b.value, a.value, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(b.population_value, a.population_value, rtol=1e-12)
        np.testing.assert_allclose(
            b.occupancy.to_numpy(), a.occupancy.to_numpy(), rtol=0, atol=1e-12
        )
        assert b.expected_lifetime == pytest.approx(a.expected_lifetime, rel=1e-12)
        assert b.time_to_value["mean_periods"] == pytest.approx(
            a.time_to_value["mean_periods"], rel=1e-12
        )
        np.testing.assert_allclose(b.scores.to_numpy(), a.scores.to_numpy(), atol=1e-12)
    # Carried over: owner, touchpoints, the stage's flag, the moves into it.
    assert e.owner("onboarding/onboarding") == "Onboarding"
    assert set(e.flagged_moments) == {
        "onboarding/onboarding",
        ("adopting", "onboarding/onboarding"),
    }
    # ...and collapsing gives the journey back.
    assert e.collapse("onboarding") == j


def flattened():
    """The 4-stage onboarding sub-journey written out by hand in the parent."""
    return js.Journey(
        [
            "onboarding/kickoff",
            "onboarding/setup",
            "onboarding/training",
            "onboarding/first_value",
            "adopting",
            "churned",
        ],
        {
            "onboarding/kickoff": {"onboarding/setup": 0.7, "churned": 0.1},
            "onboarding/setup": {"onboarding/training": 0.5, "churned": 0.05},
            "onboarding/training": {
                "onboarding/first_value": 0.6,
                "onboarding/setup": 0.1,
            },
            "onboarding/first_value": {"adopting": 0.8, "churned": 0.02},
            "adopting": {
                "churned": 0.03,
                "onboarding/kickoff": 0.0125,
                "onboarding/setup": 0.0075,
            },
        },
        values={
            "revenue": {
                "onboarding/first_value": 200,
                "adopting": 900,
            }
        },
        start={"onboarding/kickoff": 0.5, "onboarding/setup": 0.3, "adopting": 0.2},
        discount_rate=0.01,
        metadata={
            "onboarding/kickoff": {"owner": "CS", "touchpoints": ["call"]},
            "onboarding/setup": {"owner": "Onboarding"},
            "onboarding/training": {"owner": "Onboarding"},
            "onboarding/first_value": {"owner": "Onboarding"},
        },
    )


def onboarding_sub():
    return js.Journey(
        ["kickoff", "setup", "training", "first_value", "done", "lost"],
        {
            "kickoff": {"setup": 0.7, "lost": 0.1},
            "setup": {"training": 0.5, "lost": 0.05},
            "training": {"first_value": 0.6, "setup": 0.1},
            "first_value": {"done": 0.8, "lost": 0.02},
        },
        values={"revenue": {"first_value": 200}},
        start={"kickoff": 0.625, "setup": 0.375},
        metadata={"kickoff": {"owner": "CS", "touchpoints": ["call"]}},
    )


def small_parent():
    return js.Journey(
        ["onboarding", "adopting", "churned"],
        {
            "onboarding": {"adopting": 0.3, "churned": 0.2},
            "adopting": {"churned": 0.03, "onboarding": 0.02},
        },
        values={"revenue": {"onboarding": 40, "adopting": 900}},
        start={"onboarding": 0.8, "adopting": 0.2},
        discount_rate=0.01,
        metadata={"onboarding": {"owner": "Onboarding"}},
    )


def test_four_stage_onboarding_equals_the_hand_built_journey():
    e = small_parent().expand(
        "onboarding", onboarding_sub(), exits={"adopting": "done", "churned": "lost"}
    )
    f = flattened()
    assert e.stages == f.stages
    np.testing.assert_allclose(
        e.transition_matrix.to_numpy(), f.transition_matrix.to_numpy(), atol=1e-15
    )
    np.testing.assert_allclose(e.start.to_numpy(), f.start.to_numpy(), atol=1e-15)
    # The sub-journey's revenue where it has it (first_value 200; the others
    # its 0 too: the stream is the sub-journey's own), metadata likewise.
    a, b = e.analyze(60), f.analyze(60)
    assert e.stage_info["owner"].tolist() == f.stage_info["owner"].tolist()
    assert e.stage_info.loc["onboarding/kickoff", "touchpoints"] == ["call"]
    np.testing.assert_allclose(
        a.occupancy.to_numpy(), b.occupancy.to_numpy(), atol=1e-12
    )
    assert a.expected_lifetime == pytest.approx(b.expected_lifetime, rel=1e-12)


def test_a_stream_the_sub_journey_lacks_takes_the_stage_amount():
    sub = onboarding_sub()
    plain = js.Journey(sub.stages, sub.to_dict(), start=sub.start.to_dict())
    e = small_parent().expand(
        "onboarding", plain, exits={"adopting": "done", "churned": "lost"}
    )
    rev = e.resolved.segments[0].values["revenue"][0].value
    assert rev[:4].tolist() == [40.0] * 4
    f = flattened()
    b = js.Journey.from_spec(
        {
            **f.to_spec(),
            "values": {
                "revenue": {
                    "onboarding/kickoff": 40,
                    "onboarding/setup": 40,
                    "onboarding/training": 40,
                    "onboarding/first_value": 40,
                    "adopting": 900,
                }
            },
        }
    )
    assert e.analyze(60).clv == pytest.approx(b.analyze(60).clv, rel=1e-12)


def test_collapse_keeps_periods_per_visit_exits_and_lifetime_value():
    j = small_parent()
    e = j.expand(
        "onboarding", onboarding_sub(), exits={"adopting": "done", "churned": "lost"}
    )
    c = e.collapse("onboarding")
    assert c.stages == j.stages
    # Expected periods per visit N and exit split h from the sub-journey's
    # fundamental matrix: stay 1 - 1/N, exits h / N.
    sub = onboarding_sub()
    P = sub.transition_matrix.to_numpy()
    Q, R = P[:4, :4], P[:4, 4:]
    x = np.array([0.625, 0.375, 0, 0])
    visits = x @ np.linalg.inv(np.eye(4) - Q)
    N, h = visits.sum(), visits @ R
    row = c.transition_matrix.loc["onboarding"]
    assert row["onboarding"] == pytest.approx(1 - 1 / N, rel=1e-12)
    assert row["adopting"] == pytest.approx(h[0] / N, rel=1e-12)
    assert row["churned"] == pytest.approx(h[1] / N, rel=1e-12)
    # Undiscounted lifetime figures are exact; the timing is not.
    e0, c0 = (
        js.Journey.from_spec({**x.to_spec(), "discount_rate": 0.0}) for x in (e, c)
    )
    ae, ac = e0.analyze(24), c0.analyze(24)
    assert ac.expected_lifetime == pytest.approx(ae.expected_lifetime, rel=1e-12)
    assert ac.lifetime_clv == pytest.approx(ae.lifetime_clv, rel=1e-12)
    assert c.owner("onboarding") is None  # CS and Onboarding: no common owner
    assert c.stage_info.loc["onboarding", "touchpoints"] == ["call"]


def test_expand_by_name_nested_and_value_stages():
    lifecycle = js.Journey(
        ["onboarding", "value", "churned"],
        {"onboarding": {"value": 0.5, "churned": 0.1}, "value": {"churned": 0.02}},
        value_stages="onboarding",
    )
    sub = js.Journey(
        ["kickoff", "setup", "value", "churned"],
        {"kickoff": {"setup": 0.5}, "setup": {"value": 0.4, "churned": 0.1}},
    )
    e = lifecycle.expand("onboarding", sub)  # exits matched by name
    assert e.stages == ["onboarding/kickoff", "onboarding/setup", "value", "churned"]
    assert e.value_stages == ["onboarding/kickoff", "onboarding/setup"]
    inner = js.Journey(
        ["call", "setup", "churned"], {"call": {"setup": 0.9, "churned": 0.1}}
    )
    ee = e.expand(
        "onboarding/kickoff",
        inner,
        exits={"onboarding/setup": "setup", "churned": "churned"},
    )
    assert ee.stages[0] == "onboarding/kickoff/call"
    assert ee.collapse("onboarding").stages == ["onboarding", "value", "churned"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda j: j.expand("nope", one_stage()), "unknown stage 'nope'"),
        (lambda j: j.expand("churned", one_stage()), "'churned' is absorbing"),
        (lambda j: j.expand("onboarding", "x"), "sub_journey must be a Journey"),
        (
            lambda j: j.expand(
                "onboarding", one_stage(), exits={"adopting": "adopting"}
            ),
            "exit stage(s) ['churned'] are attached to no parent stage",
        ),
        (
            lambda j: j.expand("onboarding", one_stage(), exits={"zz": "adopting"}),
            "'zz' is not a stage of the parent",
        ),
        (
            lambda j: j.expand(
                "onboarding",
                one_stage(),
                exits={"adopting": "onboarding", "churned": "churned"},
            ),
            "'onboarding' is not an exit",
        ),
        (
            lambda j: j.expand(
                "onboarding",
                one_stage(),
                exits={"adopting": "churned", "value": "churned"},
            ),
            "attached to two parent stages",
        ),
        (
            lambda j: j.expand(
                "onboarding",
                one_stage(),
                exits={"value": "adopting", "churned": "churned"},
            ),
            "customers leave 'onboarding' for 'adopting'",
        ),
        (
            lambda j: j.expand(
                "onboarding",
                js.Journey(
                    ["a", "adopting", "churned"],
                    {0: {"a": {"adopting": 0.5}}, 3: {"a": {"churned": 0.5}}},
                ),
                exits={"adopting": "adopting", "churned": "churned"},
            ),
            "tenure-dependent",
        ),
        (
            lambda j: j.expand(
                "onboarding",
                js.Journey(
                    ["a", "adopting", "churned"],
                    {"a": {"adopting": 0.5, "churned": 0.1}},
                    segments={"x": {"share": 0.5}, "y": {"share": 0.5}},
                ),
            ),
            "has segments",
        ),
        (
            lambda j: j.expand(
                "onboarding",
                js.Journey(
                    ["a", "adopting", "churned"],
                    {"a": {"adopting": 0.5, "churned": 0.1}},
                    values={"tips": {"a": 1}},
                ),
            ),
            "value stream(s) ['tips']",
        ),
        (
            lambda j: j.expand(
                "onboarding",
                js.Journey(
                    ["a", "adopting", "churned"],
                    {"a": {"adopting": 0.5, "churned": 0.1}},
                    time_unit="week",
                ),
            ),
            "counts in weeks",
        ),
        (
            lambda j: j.expand(
                "onboarding",
                js.Journey(
                    ["a", "adopting", "churned"],
                    {"a": {"adopting": 0.5, "churned": 0.1}},
                    start={"a": 0.5, "churned": 0.5},
                ),
            ),
            "starts customers in an exit stage",
        ),
        (lambda j: j.collapse("zz"), "no stage is named zz/"),
        (lambda j: j.collapse("value"), "no stage is named value/"),
    ],
)
def test_expand_and_collapse_refusals(call, message):
    with pytest.raises(js.InputError) as err:
        call(parent())
    assert message in str(err.value)


def test_collapse_refuses_what_one_stage_cannot_show():
    # Entries split differently by where they come from.
    j = js.Journey(
        ["x", "g/a", "g/b", "end"],
        {"x": {"g/a": 0.5}, "g/a": {"g/b": 0.5}, "g/b": {"end": 0.5}},
        start={"x": 0.5, "g/b": 0.5},
    )
    with pytest.raises(js.InputError, match="different proportions"):
        j.collapse("g")
    # Moves out of the group that change with tenure.
    j = js.Journey(
        ["g/a", "g/b", "end"],
        {0: {"g/a": {"g/b": 0.5}, "g/b": {"end": 0.5}}, 2: {"g/b": {"end": 0.9}}},
    )
    with pytest.raises(js.InputError, match="change with tenure"):
        j.collapse("g")
    # Customers who never leave the group.
    j = js.Journey(
        ["g/a", "g/b", "end"],
        {"g/a": {"g/b": 0.5, "end": 0.1}, "g/b": {"g/a": 1.0}},
        absorbing=["end"],
    )
    with pytest.raises(js.InputError, match="never leave"):
        js.Journey(
            ["g/a", "g/b", "end"],
            {"g/a": {"g/b": 1.0}, "g/b": {"g/a": 1.0}},
            start={"g/a": 1.0},
        ).collapse("g")
    assert j.collapse("g").stages == ["g", "end"]


# -- model files ------------------------------------------------------------------


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


LIFECYCLE = """format: journeysim/1
journey:
  name: lifecycle
  stages:
    - {name: onboarding, owner: Onboarding}
    - adopting
    - churned
  transitions:
    onboarding: {adopting: 0.3, churned: 0.2}
    adopting: {churned: 0.03, onboarding: 0.02}
  values:
    revenue: {onboarding: 40, adopting: 900}
  start: {onboarding: 0.8, adopting: 0.2}
  discount_rate: 0.01
  stages_note: null
  sub_journeys:
    onboarding: {file: parts/onboarding.yaml, exits: {adopting: done, churned: lost}}
""".replace("  stages_note: null\n", "")


def test_model_file_with_a_sub_journey_loads_and_round_trips(tmp_path):
    (tmp_path / "parts").mkdir()
    js.save(onboarding_sub(), tmp_path / "parts" / "onboarding.yaml")
    j = js.load(write(tmp_path / "lifecycle.yaml", LIFECYCLE))
    hand = small_parent().expand(
        "onboarding", onboarding_sub(), exits={"adopting": "done", "churned": "lost"}
    )
    assert j.to_spec() == {**hand.to_spec(), "name": "lifecycle"}
    # Saved flat (the expanded stages), it reads back the same journey.
    js.save(j, tmp_path / "flat.json")
    assert js.load(tmp_path / "flat.json") == j
    # Inline in a spec.
    spec = {
        "stages": [
            {"name": "onboarding", "owner": "Onboarding"},
            "adopting",
            "churned",
        ],
        "transitions": small_parent().to_spec()["transitions"],
        "values": small_parent().to_spec()["values"],
        "start": {"onboarding": 0.8, "adopting": 0.2},
        "discount_rate": 0.01,
        "sub_journeys": {
            "onboarding": {
                "journey": onboarding_sub().to_spec(),
                "exits": {"adopting": "done", "churned": "lost"},
            }
        },
    }
    assert js.Journey.from_spec(spec) == hand


def test_schema_describes_sub_journeys(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    v = jsonschema.Draft202012Validator(js.io.files.schema())
    doc = {
        "format": "journeysim/1",
        "journey": {
            "stages": ["a"],
            "transitions": {},
            "sub_journeys": {
                "a": "a.yaml",
                "b": {"file": "b.yaml", "exits": {"x": "y"}},
            },
        },
    }
    assert not list(v.iter_errors(doc))
    doc["journey"]["sub_journeys"]["a"] = {"exits": {}}
    assert list(v.iter_errors(doc))


def test_bad_references_name_the_file_and_key(tmp_path):
    (tmp_path / "parts").mkdir()
    path = write(tmp_path / "lifecycle.yaml", LIFECYCLE)
    with pytest.raises(js.InputError) as err:
        js.load(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:16: journey.sub_journeys.onboarding: ")
    assert "'parts/onboarding.yaml' not found" in msg
    # An error inside the sub-journey's file names both files.
    write(
        tmp_path / "parts" / "onboarding.yaml",
        "format: journeysim/1\njourney:\n"
        "  stages: [a, done, lost]\n  transitions: {a: {done: 1.5}}\n",
    )
    with pytest.raises(js.InputError) as err:
        js.load(path)
    assert (
        "journey.sub_journeys.onboarding: in sub-journey file 'parts/onboarding.yaml'"
        in str(err.value)
    )
    assert "onboarding.yaml:4: journey.transitions.a.done: probability 1.5" in str(
        err.value
    )
    # Exits naming a stage the sub-journey does not end in.
    js.save(onboarding_sub(), tmp_path / "parts" / "onboarding.yaml")
    with pytest.raises(
        js.InputError,
        match=r"sub_journeys\.onboarding\.exits\.adopting: exits: 'done2'",
    ):
        js.load(write(path, LIFECYCLE.replace("adopting: done", "adopting: done2")))
    with pytest.raises(
        js.InputError, match=r"sub_journeys\.nope: unknown stage 'nope'"
    ):
        js.load(
            write(path, LIFECYCLE.replace("    onboarding: {file", "    nope: {file"))
        )
    with pytest.raises(js.InputError, match="names either a file or a journey"):
        js.load(write(path, LIFECYCLE.replace("file: parts/onboarding.yaml, ", "")))
    # A cycle: a.yaml -> b.yaml -> a.yaml.
    one = "format: journeysim/1\njourney:\n  stages: [s, adopting, churned]\n"
    one += (
        "  transitions: {s: {adopting: 0.5, churned: 0.1}}\n  sub_journeys: {s: %s}\n"
    )
    write(tmp_path / "a.yaml", one % "b.yaml")
    write(tmp_path / "b.yaml", one % "a.yaml")
    with pytest.raises(js.InputError) as err:
        js.load(tmp_path / "a.yaml")
    assert "a cycle (a.yaml -> b.yaml -> a.yaml)" in str(err.value)
    assert str(err.value).startswith(
        f"{tmp_path / 'a.yaml'}:5: journey.sub_journeys.s:"
    )
    write(tmp_path / "self.yaml", one % "self.yaml")
    with pytest.raises(js.InputError, match=r"a cycle \(self.yaml -> self.yaml\)"):
        js.load(tmp_path / "self.yaml")
    # From a spec, a file reference cannot be read.
    with pytest.raises(js.SpecError, match=r"is read by js\.load"):
        js.Journey.from_spec(
            {
                "stages": ["s", "adopting", "churned"],
                "transitions": {"s": {"adopting": 0.5}},
                "sub_journeys": {"s": "b.yaml"},
            }
        )
