"""The what-if widget: sliders drive an exact comparison, errors show in the
output area."""

from __future__ import annotations

import base64
import sys

import numpy as np
import pandas as pd
import pytest

import journeysim as js
from journeysim.view.numbers import points

widgets = pytest.importorskip("ipywidgets")


@pytest.fixture
def journey():
    return js.default_journey("small_business")


@pytest.fixture
def call():
    return js.Intervention(
        "onboarding call",
        at=("onboarding", "churned"),
        relative_risk=0.6,
        reassign_to="adopting",
        reach=0.8,
        cost_per_customer=50,
    )


def shown(w: js.WhatIf) -> str:
    """Everything the output area shows, as text and HTML."""
    return "\n".join(
        str(v) for o in w.output.outputs for v in o["data"].values() if "png" not in v
    )


def test_what_if_returns_a_widget_with_sliders_and_output(journey, call):
    box = js.what_if(journey, call, periods=24)
    assert isinstance(box, widgets.VBox)
    title, sliders, output = box.children
    assert isinstance(output, widgets.Output)
    effect, reach = sliders.children
    assert (effect.description, effect.value, effect.min, effect.max) == (
        "relative risk",
        0.6,
        0.0,
        2.0,
    )
    assert (reach.description, reach.value, reach.min, reach.max) == (
        "reach",
        0.8,
        0.0,
        1.0,
    )
    assert "onboarding call" in title.value
    w = box.what_if
    assert isinstance(w, js.WhatIf) and w.widget is box
    # A table and a retention plot.
    kinds = [set(o["data"]) for o in output.outputs]
    assert "text/html" in kinds[0] and "image/png" in kinds[1]
    png = base64.b64decode(output.outputs[1]["data"]["image/png"])
    assert png.startswith(b"\x89PNG")
    for metric in ("retention at 24", "CLV", "incremental net value"):
        assert metric in output.outputs[0]["data"]["text/html"]


@pytest.mark.parametrize(
    ("effect", "amount", "expected"),
    [
        ("relative_risk", 1.5, (0.0, 3.0)),
        ("change", -0.02, (-0.1, 0.1)),
        ("change", -0.3, (-0.6, 0.6)),
        ("probability", 0.02, (0.0, 1.0)),
    ],
)
def test_effect_slider_follows_the_kind_of_effect(journey, effect, amount, expected):
    iv = js.Intervention("x", at=("onboarding", "adopting"), **{effect: amount})
    w = js.WhatIf(journey, iv, periods=6)
    s = w.widget.children[1].children[0]
    assert (s.min, s.max) == pytest.approx(expected)
    assert s.value == amount


def test_update_equals_a_direct_compare(journey, call):
    w = js.WhatIf(journey, call, periods=24)
    before = w.comparison.summary.copy()
    c = w.update(effect=0.3, reach=0.5)
    assert c is w.comparison
    assert not c.summary.equals(before)
    iv = js.Intervention(
        "onboarding call",
        at=("onboarding", "churned"),
        relative_risk=0.3,
        reassign_to="adopting",
        reach=0.5,
        cost_per_customer=50,
    )
    direct = js.compare(journey, [js.Plan("what if: onboarding call", [iv])], 24)
    pd.testing.assert_frame_equal(c.summary, direct.summary)
    assert w.slider_values == (0.3, 0.5)
    t = w.table
    assert t.loc["CLV", "change"] == pytest.approx(
        direct.summary.loc["what if: onboarding call", "CLV"]
        - direct.summary.loc["baseline", "CLV"]
    )
    # The given intervention is left as it was.
    assert (call.amount, call.reach) == (0.6, 0.8)
    assert (w.intervention.amount, w.intervention.reach) == (0.3, 0.5)


def test_moving_a_slider_recomputes(journey, call):
    w = js.WhatIf(journey, call, periods=12)
    effect, reach = w.widget.children[1].children
    effect.value = 0.2
    assert w.intervention.amount == 0.2
    expected = js.WhatIf(journey, call, periods=12).update(effect=0.2)
    pd.testing.assert_frame_equal(w.comparison.summary, expected.summary)
    reach.value = 0.25
    assert (w.intervention.amount, w.intervention.reach) == (0.2, 0.25)
    # The change of retention, in percentage points (never "+0.7%").
    change = points(w.table.loc["retention at 12", "change"], journey.units)
    assert change.endswith(" pts") and f">{change}<" in shown(w)


def test_invalid_values_show_their_error_in_the_output(journey):
    # onboarding -> churned is 0.05 at tenure 0 and 0.15 from 3: x 10 is 1.5.
    iv = js.Intervention("save", at=("onboarding", "churned"), relative_risk=0.5)
    w = js.WhatIf(journey, iv, periods=12, effect_range=(0.0, 10.0))
    effect = w.widget.children[1].children[0]
    effect.value = 10.0  # from the browser: must not raise
    assert w.comparison is None and w.table is None
    assert "outside [0, 1]" in w.error
    assert "outside [0, 1]" in shown(w)
    assert len(w.output.outputs) == 1  # no stale table or plot
    assert w.update(reach=1.5) is None
    assert "reach must be in [0, 1]" in shown(w)
    assert w.update(effect=-1) is None
    assert "relative_risk must be >= 0" in w.error
    # Back to a value that works.
    assert w.update(effect=0.5, reach=1.0) is not None
    assert w.error is None
    assert "outside" not in shown(w)


def test_warnings_become_notes_not_errors():
    j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}})
    iv = js.Intervention("fix", at=("active", "churned"), change=-0.05)
    w = js.WhatIf(j, iv, periods=6)
    assert w.notes == []
    c = w.update(effect=-0.1)  # no churn left: infinite expected lifetime
    assert c is not None
    assert any("infinite" in n for n in w.notes)
    assert "Note:" in shown(w)
    assert c.summary.loc["what if: fix", "retention at 6"] == 1.0


def test_against_a_current_plan(journey, call):
    desk = js.Intervention("save desk", at=("at_risk", "churned"), relative_risk=0.8)
    current = js.Plan("current", [desk, call])
    w = js.WhatIf(journey, call, periods=12, baseline=current)
    assert list(w.comparison.summary.index) == [
        "baseline",
        "current",
        "what if: onboarding call",
    ]
    # The same intervention at the same values: no change.
    np.testing.assert_allclose(w.table["change"].fillna(0), 0.0, atol=1e-9)
    w.update(effect=0.2)
    plan = w._plans(w.intervention)[1]
    assert [i.name for i in plan.interventions] == ["save desk", "onboarding call"]
    assert w.table.loc["CLV", "change"] > 0
    t = w.table
    assert t.loc["CLV", "change"] == pytest.approx(
        t.loc["CLV", "what if: onboarding call"] - t.loc["CLV", "current"]
    )
    # A list of interventions is a plan too.
    w2 = js.WhatIf(journey, call, periods=12, baseline=[desk])
    assert "current plan" in w2.comparison.summary.index


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metrics": ["retention", "NPS"]}, r"unknown metrics \['NPS'\]"),
        ({"effect_range": (0.7, 2.0)}, "outside effect_range"),
        ({"effect_range": (1.0, 0.0)}, "low < high"),
        ({"reach_range": (0.0, 2.0)}, "within"),
        ({"reach_range": (0.9, 1.0)}, "outside reach_range"),
        ({"periods": 0}, "periods must be >= 1"),
    ],
)
def test_bad_arguments_raise_up_front(journey, call, kwargs, message):
    with pytest.raises(ValueError, match=message):
        js.WhatIf(journey, call, **kwargs)


def test_capacity_is_refused(journey):
    iv = js.Intervention(
        "calls", at=("onboarding", "churned"), relative_risk=0.5, capacity=10
    )
    with pytest.raises(ValueError, match="capacity"):
        js.what_if(journey, iv)


def test_custom_metrics(journey, call):
    w = js.WhatIf(journey, call, periods=12, metrics=["CLV", "retention"])
    assert list(w.table.index) == ["CLV", "retention at 12"]


def test_without_ipywidgets(journey, call, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(ImportError, match=r"pip install 'journeysim\[widgets\]'"):
        js.what_if(journey, call)
