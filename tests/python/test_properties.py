"""Property tests (Hypothesis) over random valid journeys, and random invalid
journeys, interventions, plans and event logs that must end in a ValueError
naming what is wrong.

``make test`` runs the "ci" profile (about 500 examples in all, derandomised
so that CI is repeatable); ``make fuzz`` runs the "fuzz" profile (over 10,000)
and writes how many examples of each kind were tried to the file named by
``JOURNEYSIM_PROPERTY_REPORT``.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import warnings
from collections import Counter

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import journeysim as js  # noqa: E402

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz",
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("JOURNEYSIM_PROPERTY_PROFILE", "ci")
settings.load_profile(PROFILE)
#: Examples per test are ``base * SCALE``: about 500 in all for "ci", 20x for fuzz.
SCALE = {"ci": 1, "fuzz": 20}[PROFILE]

TRIED: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    path = os.environ.get("JOURNEYSIM_PROPERTY_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(dict(sorted(TRIED.items())), f, indent=1)


def examples(base: int):
    return settings(max_examples=base * SCALE)


# -- random valid journeys ------------------------------------------------------


def _chain(n: int, n_abs: int, dense: bool, rng: np.random.Generator) -> np.ndarray:
    """Row-stochastic, the last ``n_abs`` stages absorbing, every transient stage
    leaking into one of them (so lifetimes are finite)."""
    keep = 1.0 if dense else min(1.0, 3.0 / n)
    P = rng.random((n, n)) * (rng.random((n, n)) < keep)
    P += np.eye(n) * rng.random(n) * 3  # some stickiness
    for i in range(n - n_abs):
        P[i, n - n_abs + rng.integers(n_abs)] += 0.05 + rng.random() * 0.2
    P[n - n_abs :] = 0.0
    P[n - n_abs :, n - n_abs :] = np.eye(n_abs)
    return P / P.sum(axis=1, keepdims=True)


@st.composite
def journeys(draw, max_stages: int = 60, segments: bool = True):
    n = draw(st.integers(2, max_stages))
    n_abs = draw(st.integers(1, min(3, n - 1)))
    dense = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    stages = [f"s{k}" for k in range(n)]
    pieces = {0: _chain(n, n_abs, dense, rng)}
    for t in sorted(set(draw(st.lists(st.integers(1, 12), max_size=2)))):
        pieces[t] = _chain(n, n_abs, dense, rng)
    transitions = pieces[0] if len(pieces) == 1 else pieces
    streams = draw(st.integers(0, 2))
    values = {
        f"v{k}": {s: float(rng.normal(100, 80)) for s in stages[: n - n_abs]}
        for k in range(streams)
    }
    kwargs = {
        "values": values or None,
        "discount_rate": draw(st.floats(0.0, 0.05)),
        "cohort_size": draw(st.floats(1.0, 1e4)),
    }
    start = rng.random(n - n_abs)
    kwargs["start"] = {s: float(x) for s, x in zip(stages, start / start.sum())}
    arrivals = draw(st.sampled_from(["none", "constant", "sequence"]))
    if arrivals == "constant":
        kwargs["arrivals"] = draw(st.floats(0.0, 100.0))
    elif arrivals == "sequence":
        kwargs["arrivals"] = [float(x) for x in rng.integers(0, 50, size=5)]
    if segments and draw(st.booleans()):
        shares = rng.random(2) + 0.1
        shares /= shares.sum()
        kwargs["segments"] = {
            "small": {"share": float(shares[0])},
            "large": {
                "share": float(1 - shares[0]),
                "transitions": _chain(n, n_abs, dense, rng),
            },
        }
    j = js.Journey.from_matrix(transitions, stages=stages, normalize=True, **kwargs)
    return j


def _arrivals(j: js.Journey, periods: int) -> np.ndarray:
    """Customers arrived by t = 0..periods (expected, not rounded)."""
    arr, constant = j.resolved.arrivals.amounts, j.resolved.arrivals.constant
    per = np.zeros(periods + 1)
    if constant:
        per[1:] = arr[0] if arr else 0.0
    else:
        k = min(len(arr), periods)
        per[1 : k + 1] = arr[:k]
    return np.cumsum(per)


@examples(150)
@given(j=journeys(), periods=st.integers(1, 40))
def test_exact_invariants(j, periods):
    TRIED["valid journey: exact invariants"] += 1
    a = j.analyze(periods=periods)
    occ = a.occupancy.to_numpy()
    np.testing.assert_allclose(occ.sum(axis=1), 1.0, atol=1e-9)
    assert (occ >= -1e-12).all()
    pop = a.population.to_numpy().sum(axis=1)
    np.testing.assert_allclose(
        pop, j.resolved.cohort_size + _arrivals(j, periods), rtol=1e-9
    )
    ret = a.retention.to_numpy()
    assert (np.diff(ret) <= 1e-12).all(), "retention increased"
    assert math.isclose(a.absorption.sum(), 1.0, abs_tol=1e-8)
    assert 0 <= a.lifetime_within_horizon <= periods + 1e-9
    assert a.lifetime_within_horizon <= a.expected_lifetime + 1e-9


@examples(40)
@given(j=journeys(max_stages=25), periods=st.integers(1, 24), data=st.data())
def test_stage_health_is_analyze_from_that_stage(j, periods, data):
    TRIED["valid journey: stage health"] += 1
    a = j.analyze(periods=periods)
    health = a.stages
    stage = data.draw(st.sampled_from(j.transient))
    spec = j.to_spec()
    spec["start"] = {stage: 1.0}
    for seg in (spec.get("segments") or {}).values():
        seg.pop("start", None)
    from_stage = js.Journey.from_spec(spec).analyze(periods=periods)
    assert math.isclose(
        health.loc[stage, "remaining_lifetime"],
        from_stage.expected_lifetime,
        rel_tol=1e-9,
        abs_tol=1e-9,
    )
    assert math.isclose(
        health.loc[stage, "clv"], from_stage.clv, rel_tol=1e-9, abs_tol=1e-6
    )


@examples(20)
@given(j=journeys(max_stages=12), periods=st.integers(1, 24), seed=st.integers(0, 999))
def test_monte_carlo_agrees_with_exact(j, periods, seed):
    TRIED["valid journey: Monte Carlo against exact"] += 1
    a = j.analyze(periods=periods)
    s = j.simulate(4_000, periods=periods, seed=seed, progress=False)
    se = s.standard_errors
    # Six standard errors: about one false alarm in 5e8 per check.
    r_exact = a.retention_at(periods)
    r_se = max(math.sqrt(r_exact * (1 - r_exact) / 4_000), 1e-9)
    assert abs(s.retention.iloc[-1] - r_exact) <= 6 * r_se + 1e-12
    lt_se = max(se["lifetime_within_horizon"], 1e-9)
    assert abs(s.lifetime_within_horizon - a.lifetime_within_horizon) <= 6 * lt_se


@examples(30)
@given(j=journeys(max_stages=15, segments=False), periods=st.integers(1, 20))
def test_fitted_counts_are_the_logs(j, periods):
    TRIED["valid journey: fit counts = log counts"] += 1
    s = j.simulate(300, periods=periods, seed=1, record="events", progress=False)
    log = s.stage_log()
    f = js.fit(log, stages=j.stages, absorbing=j.absorbing, end=periods)
    counts = f.counts.loc[j.transient, j.stages].to_numpy()
    ev = s.events
    moves = (
        pd.crosstab(ev["from"], ev["to"])
        .reindex(index=j.transient, columns=j.stages, fill_value=0)
        .to_numpy()
    )
    nxt = log.groupby("customer")["period"].shift(-1).fillna(periods)
    spent = (nxt - log["period"]).groupby(log["stage"], observed=False).sum()
    want = moves.copy()
    for k, stage in enumerate(j.transient):
        want[k, j.stages.index(stage)] = spent[stage] - moves[k].sum()
    np.testing.assert_array_equal(counts, want)


@examples(60)
@given(j=journeys(), fmt=st.sampled_from(["yaml", "json"]))
def test_save_load_is_exact(j, fmt, tmp_path_factory):
    TRIED["valid journey: save -> load"] += 1
    path = tmp_path_factory.mktemp("files") / f"j.{fmt}"
    js.save(j, path)
    back = js.load(path)
    assert back.to_spec() == j.to_spec()
    for seg in j.segments:
        for (t, m), (t2, m2) in zip(
            j.transition_matrices(seg).items(), back.transition_matrices(seg).items()
        ):
            assert t == t2
            np.testing.assert_array_equal(m.to_numpy(), m2.to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", js.JourneyWarning)
        a, b = j.analyze(periods=12), back.analyze(periods=12)
    np.testing.assert_array_equal(a.occupancy.to_numpy(), b.occupancy.to_numpy())
    assert a.clv == b.clv or (math.isnan(a.clv) and math.isnan(b.clv))


# -- random invalid input ------------------------------------------------------

STAGES = ["trial", "active", "at_risk", "churned"]
ROWS = {
    "trial": {"active": 0.4, "churned": 0.2},
    "active": {"at_risk": 0.1},
    "at_risk": {"active": 0.3, "churned": 0.3},
}
BAD_NUMBERS = [
    (-0.1, "-0.1"),
    (1.5, "1.5"),
    (float("nan"), "nan"),
    (float("inf"), "inf"),
    ("0.3", "'0.3'"),
    (True, "True"),
    (None, "None"),
]


def _mutations():
    """(kind, kwargs changes, words the message must contain)."""
    out = []
    for bad, text in BAD_NUMBERS:
        out.append(
            (
                "probability",
                {"transitions": {**ROWS, "trial": {"active": bad}}},
                ["trial", text],
            )
        )
        if not isinstance(bad, float) or not math.isfinite(bad):  # -0.1 is a value
            out.append(
                (
                    "value",
                    {"values": {"revenue": {"active": bad}}},
                    ["revenue"],
                )
            )
    out += [
        (
            "row sum",
            {"transitions": {**ROWS, "trial": {"active": 0.9, "churned": 0.3}}},
            ["trial"],
        ),
        (
            "unknown target",
            {"transitions": {**ROWS, "trial": {"actvie": 0.1}}},
            ["actvie"],
        ),
        ("unknown row", {"transitions": {**ROWS, "trail": {"active": 0.1}}}, ["trail"]),
        ("start", {"start": {"trial": 0.5, "active": 0.2}}, ["start"]),
        ("start unknown", {"start": {"nobody": 1.0}}, ["nobody"]),
        ("discount", {"discount_rate": -1.0}, ["discount"]),
        ("discount type", {"discount_rate": "1%"}, ["discount"]),
        ("arrivals", {"arrivals": -5}, ["arrivals"]),
        ("arrivals nan", {"arrivals": [1.0, float("nan")]}, ["arrivals"]),
        ("cohort", {"cohort_size": "many"}, ["cohort_size"]),
        (
            "segments share",
            {"segments": {"a": {"share": 0.3}, "b": {"share": 0.3}}},
            ["share"],
        ),
        ("segments empty", {"segments": {}}, ["segments"]),
        ("absorbing unknown", {"absorbing": ["gone"]}, ["gone"]),
        ("absorbing with exits", {"absorbing": ["trial"]}, ["trial"]),
        ("value stage", {"value_stages": "nirvana"}, ["nirvana"]),
        ("metadata key", {"metadata": {"trial": {"colour": "red"}}}, ["colour"]),
        ("moment", {"moments_of_truth": [("trial", "mars")]}, ["mars"]),
        (
            "net",
            {"values": {"revenue": {"active": 1.0}}, "net": {"profit": 1}},
            ["profit"],
        ),
        ("tenure key", {"transitions": {0: ROWS, -3: ROWS}}, ["-3"]),
        ("tenure first", {"transitions": {2: ROWS}}, ["0"]),
    ]
    return out


MUTATIONS = _mutations()


@examples(120)
@given(m=st.sampled_from(MUTATIONS), stages=st.permutations(STAGES))
def test_invalid_journeys_raise_value_error_naming_the_problem(m, stages):
    kind, change, words = m
    TRIED[f"invalid journey: {kind}"] += 1
    kwargs = {"transitions": ROWS, **change}
    with pytest.raises(ValueError) as err:
        js.Journey(list(stages), **kwargs)
    message = str(err.value)
    for w in words:
        assert w in message, (kind, message)


@examples(40)
@given(
    stages=st.lists(
        st.one_of(st.text(max_size=5), st.integers(), st.none()), max_size=5
    )
)
def test_invalid_stage_lists(stages):
    TRIED["invalid journey: stage list"] += 1
    try:
        j = js.Journey(stages, {})
    except ValueError as err:
        assert str(err)
    else:  # the generator found a valid list: distinct strings
        assert len(set(stages)) == len(stages) and stages
        assert all(isinstance(s, str) for s in stages)
        assert j.stages == stages


INTERVENTION_MUTATIONS = [
    ({"relative_risk": -1.0}, "relative_risk"),
    ({"relative_risk": float("nan")}, "relative_risk"),
    ({"relative_risk": 0.5, "change": 0.1}, "at most one"),
    ({"probability": 1.2}, "probability"),
    ({"reach": 1.5}, "reach"),
    ({"reach": "all"}, "reach"),
    ({"window": (5, 2)}, "window"),
    ({"window": (-1, 2)}, "window"),
    ({"capacity": 0}, "capacity"),
    ({"capacity": 2.5}, "capacity"),
    ({"priority": ["trial"]}, "priority"),
    ({"cost_per_customer": -5}, "cost_per_customer"),
    ({"cost_fixed": float("inf")}, "cost_fixed"),
    ({"at": ("trial", "churned", "x")}, "at"),
    ({"at": ("*", "*")}, "names no stage"),
    ({"reassign_to": "churned"}, "reassign_to"),
    ({"segments": []}, "segments"),
]


@st.composite
def valid_intervention_fields(draw):
    """Random valid settings around the one broken field."""
    fields = {
        "reach": draw(st.floats(0.0, 1.0)),
        "cost_fixed": draw(st.floats(0.0, 1e6)),
        "cost_per_customer": draw(st.floats(0.0, 1e3)),
        "cost_per_period": draw(st.floats(0.0, 1e3)),
    }
    a = draw(st.integers(0, 24))
    fields["window"] = (a, draw(st.one_of(st.none(), st.integers(a + 1, 48))))
    return fields


@examples(60)
@given(m=st.sampled_from(INTERVENTION_MUTATIONS), fields=valid_intervention_fields())
def test_invalid_interventions(m, fields):
    change, word = m
    TRIED[f"invalid intervention: {word}"] += 1
    kwargs = {"at": ("trial", "churned"), "relative_risk": 0.5, **fields, **change}
    if set(change) & {"change", "probability"} and "relative_risk" not in change:
        kwargs.pop("relative_risk")
    at = kwargs.pop("at")
    with pytest.raises(ValueError, match=None) as err:
        js.Intervention("x", at, **kwargs)
    assert word in str(err.value), str(err.value)


PLAN_PROBLEMS = [
    (
        "unknown stage",
        lambda: js.Intervention("x", ("trail", "churned"), relative_risk=0.5),
        "trail",
    ),
    (
        "unknown target",
        lambda: js.Intervention("x", ("trial", "gone"), relative_risk=0.5),
        "gone",
    ),
    (
        "pushed above 1",
        lambda: js.Intervention("x", ("trial", "churned"), relative_risk=9.0),
        "trial",
    ),
    (
        "absorbing source",
        lambda: js.Intervention("x", ("churned", "trial"), change=0.1),
        "churned",
    ),
    (
        "unknown segment",
        lambda: js.Intervention(
            "x", ("trial", "churned"), relative_risk=0.5, segments=["vip"]
        ),
        "vip",
    ),
]


@examples(30)
@given(
    p=st.sampled_from(PLAN_PROBLEMS),
    stages=st.permutations(STAGES),
    periods=st.integers(1, 48),
)
def test_invalid_plans_on_a_journey(p, stages, periods):
    kind, make, word = p
    TRIED[f"invalid plan: {kind}"] += 1
    j = js.Journey(list(stages), ROWS)
    with pytest.raises(ValueError) as err:
        js.compare(j, [js.Plan("p", [make()])], periods=periods)
    assert word in str(err.value), str(err.value)


@st.composite
def bad_logs(draw):
    """An event log with one thing wrong, and a word the error must contain."""
    n = draw(st.integers(1, 30))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    df = pd.DataFrame(
        {
            "customer": rng.integers(0, 5, n),
            "period": rng.integers(0, 10, n),
            "stage": rng.choice(STAGES, n),
        }
    )
    kind = draw(
        st.sampled_from(
            [
                "null customer",
                "null time",
                "null stage",
                "text time",
                "missing column",
                "unknown stage",
                "mixed time zones",
            ]
        )
    )
    k = draw(st.integers(0, n - 1))
    word = kind.split()[-1]
    if kind == "null customer":
        df["customer"] = df["customer"].astype(object)
        df.loc[k, "customer"] = None
        word = "customer"
    elif kind == "null time":
        df["period"] = df["period"].astype(float)
        df.loc[k, "period"] = np.nan
        word = "period"
    elif kind == "null stage":
        df.loc[k, "stage"] = None
        word = "stage"
    elif kind == "text time":
        df["period"] = df["period"].astype(str)
        df.loc[k, "period"] = "soon"
        word = "period"
    elif kind == "missing column":
        df = df.drop(columns="stage")
        word = "stage"
    elif kind == "unknown stage":
        df.loc[k, "stage"] = "limbo"
        word = "limbo"
    elif kind == "mixed time zones":
        df = pd.concat([df, df], ignore_index=True)  # two rows at least
        n = len(df)
        times = pd.Series(pd.date_range("2025-01-01", periods=n, freq="D"))
        df["period"] = [
            t.tz_localize("UTC") if i % 2 else t.tz_localize("Asia/Tokyo")
            for i, t in enumerate(times)
        ]
        df["period"] = df["period"].astype(object)
        word = "period"
    return kind, df, word


@examples(80)
@given(case=bad_logs())
def test_invalid_event_logs(case):
    kind, df, word = case
    TRIED[f"invalid event log: {kind}"] += 1
    period = "D" if kind == "mixed time zones" else 1
    with pytest.raises(ValueError) as err:
        js.fit(df, stages=STAGES, absorbing=["churned"], period=period)
    assert word in str(err.value), (kind, str(err.value))


@examples(60)
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
        st.sampled_from(
            [
                "format: journeysim/1\njourney: {stages: [a, b],"
                " transitions: {a: {b: x}}}",
                "format: journeysim/1\njourney: {stages: [a, a]}",
                "format: journeysim/1\njourney: {stages: [a, b]}\nplans: [{name: p}]",
                "format: journeysim/1\nplans: [{name: p, interventions: [zzz]}]",
                "a: &a [*a]",
                "[" * 500,
                "format: journeysim/1\njourney: !!python/object:os.system {}",
            ]
        ),
    )
)
def test_random_model_files(text, tmp_path_factory):
    TRIED["invalid model file"] += 1
    path = tmp_path_factory.mktemp("bad") / "model.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    try:
        js.load_model(path)
    except ValueError as err:
        assert "model.yaml" in str(err)
    # A file that loads is fine too (random text is occasionally valid YAML
    # with a journey in it); what may not happen is any other exception.


@examples(40)
@given(
    argv=st.lists(
        st.sampled_from(
            [
                "run",
                "compare",
                "fit",
                "report",
                "demo",
                "--periods",
                "-1",
                "x",
                "--customers",
                "1e3",
                "--seed",
                "--html",
                "--plans",
                "missing.yaml",
                "--out",
                "--csv",
                "0",
                "nan",
                "--no-progress",
                "--tenure",
                "a,b",
            ]
        ),
        max_size=6,
    )
)
def test_command_line_never_tracebacks(argv, tmp_path_factory):
    TRIED["command line arguments"] += 1
    from journeysim.apps.cli import main

    here = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cli"))
    stderr = io.StringIO()
    try:
        with (
            contextlib.redirect_stderr(stderr),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            code = main(argv)
    except SystemExit as exit_:  # argparse: usage errors and --help
        code = exit_.code
    finally:
        os.chdir(here)
    err = stderr.getvalue()
    if code != 0:
        assert code == 2, (argv, err)
        assert "Traceback" not in err
