"""Removal effects (Journey.removal_effects): hand-computed on a 3-stage
journey, shares that add up to 1, touchpoints and channels, and every refusal."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest

import journeysim as js

matplotlib.use("Agg")


def three(**kw):
    """a -> b (0.5), a -> churned (0.2), a stays 0.3; b -> churned (0.1)."""
    return js.Journey(
        ["a", "b", "churned"],
        {"a": {"b": 0.5, "churned": 0.2}, "b": {"churned": 0.1}},
        values={"revenue": {"a": 10.0, "b": 100.0}},
        metadata={
            "a": {"touchpoints": ["kickoff call", "email"], "channels": "phone"},
            "b": {"touchpoints": "email", "channels": ["web"]},
        },
        currency="USD",
        time_unit="month",
        **kw,
    )


def test_three_stages_by_hand():
    # With everything: 1/0.7 periods in a, then b with probability 5/7 for 10.
    # Lifetime CLV = 10/0.7 + 5/7 * 100 * 10 = 5100/7. Without a (its start
    # share starts in churned): 0. Without b (a -> b goes to churned): 10/0.7.
    r = three().removal_effects(metric="lifetime clv")
    base = 5100 / 7
    assert r.baseline == pytest.approx(base, rel=1e-12)
    t = r.table
    assert t.loc["a", "without"] == 0.0
    assert t.loc["b", "without"] == pytest.approx(100 / 7, rel=1e-12)
    assert t.loc["b", "change"] == pytest.approx(100 / 7 - base, rel=1e-12)
    # Removal effects 1 and 1 - (100/7)/(5100/7) = 50/51; shares 51/101, 50/101.
    assert t.loc["a", "removal_effect"] == pytest.approx(1.0, rel=1e-12)
    assert t.loc["b", "removal_effect"] == pytest.approx(50 / 51, rel=1e-12)
    assert t.loc["a", "share"] == pytest.approx(51 / 101, rel=1e-12)
    assert t.loc["b", "share"] == pytest.approx(50 / 101, rel=1e-12)
    assert t.loc["b", "attributed"] == pytest.approx(50 / 101 * base, rel=1e-12)
    assert list(t.index) == ["a", "b"]  # largest share first
    assert r.redirect == "churned" and r.of == "stages"


def test_lifetime_and_redirect_to_a_transient_stage():
    j = three()
    r = j.removal_effects(metric="lifetime")
    assert r.baseline == pytest.approx(60 / 7, rel=1e-12)
    assert r.table.loc["b", "without"] == pytest.approx(10 / 7, rel=1e-12)
    # Sending a's moves into b back to a: a keeps 0.8, leaves with 0.2 -> 5.
    r = j.removal_effects(metric="lifetime", redirect="a", only=["b"])
    assert r.table.loc["b", "without"] == pytest.approx(5.0, rel=1e-12)
    # Default list with a transient redirect: every other transient stage.
    assert list(j.removal_effects(metric="lifetime", redirect="a").table.index) == ["b"]


def test_retention_at_h_matches_matrix_powers():
    j = three()
    r = j.removal_effects(metric="retention at 12")
    P = np.array([[0.3, 0.5, 0.2], [0, 0.9, 0.1], [0, 0, 1.0]])
    x = np.linalg.matrix_power(P, 12)[0]
    assert r.baseline == pytest.approx(1 - x[2], rel=1e-12)
    Pb = P.copy()
    Pb[0, 2] += Pb[0, 1]
    Pb[0, 1] = 0
    xb = np.linalg.matrix_power(Pb, 12)[0]
    assert r.table.loc["b", "without"] == pytest.approx(1 - xb[2], rel=1e-12)
    assert r.label == "retention at 12 months"


def test_touchpoints_and_channels_remove_every_stage_that_carries_them():
    j = three()
    t = j.removal_effects(of="touchpoints", metric="lifetime clv").table
    assert set(t.index) == {"kickoff call", "email"}
    assert t.loc["email", "stages"] == "a, b"
    assert t.loc["email", "without"] == 0.0
    assert t.loc["kickoff call", "without"] == 0.0  # a is where everyone starts
    c = j.removal_effects(of="channels", metric="lifetime clv").table
    assert c.loc["web", "without"] == pytest.approx(100 / 7, rel=1e-12)
    assert math.fsum(c["share"]) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_shares_add_up_to_one(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 9))
    P = rng.random((n, n)) * (rng.random((n, n)) < 0.6)
    P[:, -1] += 0.05
    P /= P.sum(axis=1, keepdims=True)
    P[-1] = 0
    P[-1, -1] = 1
    stages = [f"s{i}" for i in range(n - 1)] + ["churned"]
    j = js.Journey.from_matrix(
        P,
        stages,
        values={"revenue": dict(zip(stages, rng.random(n) * 100))},
        start=dict(zip(stages[:-1], np.full(n - 1, 1 / (n - 1)))),
        discount_rate=0.01,
    )
    for metric in ("clv", "lifetime", "retention at 6"):
        r = j.removal_effects(metric=metric, periods=24)
        assert math.fsum(r.table["share"]) == pytest.approx(1.0, abs=1e-12)
        assert math.fsum(r.table["attributed"]) == pytest.approx(r.baseline, rel=1e-9)
        assert len(r.table) == n - 1


def test_segments_mix_by_share():
    j = js.Journey(
        ["a", "b", "churned"],
        {"a": {"b": 0.5, "churned": 0.2}, "b": {"churned": 0.1}},
        values={"revenue": {"a": 10.0, "b": 100.0}},
        segments={
            "x": {"share": 0.25, "transitions": {"b": {"churned": 0.3}}},
            "y": {"share": 0.75},
        },
    )
    r = j.removal_effects(metric="lifetime clv").table.loc["b", "without"]
    # Without b both segments earn 10/0.7 in a.
    assert r == pytest.approx(100 / 7, rel=1e-12)


def test_text_and_plot_speak_units():
    r = three().removal_effects(metric="lifetime clv")
    text = r.to_text()
    assert "$729" in text and "go to churned instead" in text
    assert "share: 50.5%" in text
    ax = r.plot()
    assert "CLV over the lifetime" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    ax = r.plot(value="change")
    assert ax.get_xlabel().endswith("change when removed")
    assert "<pre>" in r._repr_html_()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"of": "teams"}, "of must be one of"),
        ({"metric": "happiness"}, "unknown metric 'happiness'"),
        ({"metric": 3}, "metric must be one of"),
        ({"periods": 0}, "periods must be >= 1"),
        ({"only": ["zz"]}, "only: unknown stage 'zz'"),
        ({"of": "touchpoints", "only": ["fax"]}, "unknown touchpoint 'fax'"),
        ({"redirect": "nowhere"}, "redirect: unknown stage 'nowhere'"),
        ({"redirect": "b", "only": ["b"]}, "'b' would be removed with stage 'b'"),
        (
            {"of": "touchpoints", "redirect": "b", "only": ["email"]},
            "would be removed with touchpoint 'email'",
        ),
        ({"only": ["churned"]}, "absorbing stage(s) ['churned']"),
        ({"only": ["a", "a"]}, "named twice"),
        ({"plan": 1}, "unexpected keyword"),
    ],
)
def test_refusals(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=None) as err:
        three().removal_effects(**kwargs)
    assert message in str(err.value)
    if not isinstance(err.value, TypeError):
        assert isinstance(err.value, js.InputError)


def test_redirect_needed_with_two_absorbing_stages_and_zero_baseline_refused():
    j = js.Journey(
        ["a", "won", "lost"],
        {"a": {"won": 0.5, "lost": 0.5}},
        absorbing=["won", "lost"],
    )
    with pytest.raises(ValueError, match="redirect: name the stage"):
        j.removal_effects(metric="lifetime")
    assert j.removal_effects(metric="lifetime", redirect="lost").baseline == 1.0
    with pytest.raises(ValueError, match="is 0: the removal effect"):
        j.removal_effects(metric="clv", redirect="lost")
    with pytest.raises(ValueError, match="value must be"):
        three().removal_effects().plot(value="bars")
