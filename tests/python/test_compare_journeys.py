"""Current versus optimised journey (issue 16): compare_journeys side by side,
the exact attribution of a difference to each change, and the versus report."""

from __future__ import annotations

import copy
import math
import shutil

import numpy as np
import pytest

import journeysim as js
from journeysim.apps.cli import main
from journeysim.model.apply_plan import apply_plan


def optimised_demo() -> js.Journey:
    """The demo journey with faster onboarding and a renewal playbook (fewer
    at-risk accounts leave at each renewal)."""
    spec = copy.deepcopy(js.default_journey().to_spec())
    t = spec["transitions"]
    t[0]["onboarding"]["adopting"] = 0.6
    for k, rows in t.items():
        if (k + 1) % 12 == 0 and "at_risk" in rows:
            rows["at_risk"]["churned"] = 0.25
            rows["at_risk"]["contracted"] = 0.35
    spec["name"] = "optimised"
    return js.Journey.from_spec(spec)


def random_pair(rng, n: int, changes: int):
    """A random journey of ``n`` stages (the last absorbing), and one with
    ``changes`` rows, values or the start changed."""
    stages = [f"s{i}" for i in range(n)]

    def rows(P):
        return {
            stages[i]: {stages[j]: float(P[i, j]) for j in range(n) if j != i}
            for i in range(n - 1)
        }

    P = rng.dirichlet(np.ones(n), size=n) * 0.9
    P[np.arange(n), np.arange(n)] += 0.1
    values = {"revenue": {s: float(v) for s, v in zip(stages, rng.uniform(0, 100, n))}}
    start = rng.dirichlet(np.ones(n - 1))
    kw = dict(discount_rate=0.01, cohort_size=100.0)
    current = js.Journey(
        stages,
        rows(P),
        values=values,
        start={s: float(x) for s, x in zip(stages, start)},
        **kw,
    )
    P2, v2, start2 = P.copy(), copy.deepcopy(values), start.copy()
    for k in range(changes):
        what = k % 3
        if what == 0:
            i = rng.integers(n - 1)
            P2[i] = rng.dirichlet(np.ones(n))
        elif what == 1:
            s = stages[rng.integers(n - 1)]
            v2["revenue"][s] = float(rng.uniform(0, 100))
        else:
            start2 = rng.dirichlet(np.ones(n - 1))
    optimised = js.Journey(
        stages,
        rows(P2),
        values=v2,
        start={s: float(x) for s, x in zip(stages, start2)},
        **kw,
    )
    return current, optimised


# -- attribution adds up -------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "metric", ["clv", "retention at 12", "lifetime", "population net value"]
)
def test_attribution_adds_up_on_random_journeys(seed, metric):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 31))
    current, optimised = random_pair(rng, n, changes=int(rng.integers(2, 7)))
    d = js.compare_journeys(current, optimised, periods=24)
    a = d.attribution(metric)
    assert len(a.contributions) == len(d.changes) >= 1
    exact = {
        "clv": "CLV",
        "retention at 12": None,
        "lifetime": "lifetime",
        "population net value": "net value",
    }[metric]
    if exact is not None:
        table = d.population if metric.startswith("population") else d.per_customer
        assert a.total == pytest.approx(table.loc["difference", exact], rel=1e-12)
    assert math.fsum(a.contributions) == pytest.approx(a.total, rel=1e-9, abs=1e-12)
    assert abs(a.residual) <= 1e-9 * max(abs(a.total), 1e-12)


def test_a_single_changed_transition_gets_everything():
    now = js.Journey(
        ["trial", "paid", "churned"],
        {"trial": {"paid": 0.3, "churned": 0.2}, "paid": {"churned": 0.05}},
        values={"revenue": {"paid": 50.0}},
    )
    better = js.Journey(
        ["trial", "paid", "churned"],
        {"trial": {"paid": 0.4, "churned": 0.1}, "paid": {"churned": 0.05}},
        values={"revenue": {"paid": 50.0}},
    )
    a = js.compare_journeys(now, better, periods=24).attribution("clv")
    assert list(a.contributions.index) == ["transitions from trial"]
    assert a.table["share"].iloc[0] == pytest.approx(1.0, abs=1e-12)
    assert a.contributions.iloc[0] == pytest.approx(a.total, rel=1e-12)


def test_symmetric_changes_get_equal_shares():
    """Two identical branches, each half the customers, improved alike."""
    stages = ["a", "b", "churned"]

    def j(pa, pb):
        return js.Journey(
            stages,
            {"a": {"churned": pa}, "b": {"churned": pb}},
            values={"revenue": {"a": 10.0, "b": 10.0}},
            start={"a": 0.5, "b": 0.5},
        )

    a = js.compare_journeys(j(0.2, 0.2), j(0.1, 0.1), periods=12).attribution("clv")
    c = a.contributions
    assert c["transitions from a"] == pytest.approx(c["transitions from b"], rel=1e-12)
    assert c.sum() == pytest.approx(a.total, rel=1e-12)


def test_shapley_of_a_hand_computed_interaction():
    """CLV over one period with 'end' accrual: stay probability s times value
    v. s 0.5 -> 0.9 and v 10 -> 20: 5 -> 18, total 13. Shapley: s gets
    ((9 - 5) + (18 - 10)) / 2 = 6, v gets ((10 - 5) + (18 - 9)) / 2 = 7."""

    def j(s, v):
        return js.Journey(
            ["on", "off"], {"on": {"off": 1 - s}}, values={"r": {"on": v}}
        )

    d = js.compare_journeys(j(0.5, 10.0), j(0.9, 20.0), periods=1, accrual="end")
    a = d.attribution("clv")
    assert a.total == pytest.approx(13.0)
    assert a.contributions["transitions from on"] == pytest.approx(6.0)
    assert a.contributions["r in on"] == pytest.approx(7.0)
    with pytest.raises(ValueError, match="'on' is absorbing in the optimised"):
        js.compare_journeys(j(0.5, 10.0), j(1.0, 10.0))


def test_groups_sum_exactly_and_other_changes_gather_the_rest():
    current, optimised = js.default_journey(), optimised_demo()
    d = js.compare_journeys(current, optimised, periods=36)
    onboarding = [c for c in d.changes.index if "onboarding" in c]
    renewal = [c for c in d.changes.index if "at_risk" in c]
    a = d.attribution("clv", groups={"onboarding": onboarding})
    assert list(a.table.sort_index().index) == ["onboarding", "other changes"]
    assert math.fsum(a.contributions) == pytest.approx(a.total, rel=1e-9)
    b = d.attribution(
        "clv", groups={"onboarding": onboarding, "renewal playbook": renewal}
    )
    assert b.contributions["onboarding"] == pytest.approx(
        a.contributions["onboarding"], rel=1e-12
    )
    assert b.total == pytest.approx(d.per_customer.loc["difference", "CLV"], rel=1e-12)
    # The groups' values, one at a time, against a hand-made mix.
    only_onboarding = js.compare_journeys(
        current, _with_onboarding_only(optimised), periods=36
    ).per_customer.loc["difference", "CLV"]
    full = b.total
    rest = full - only_onboarding
    # Two players: phi = (alone + (total - other alone)) / 2.
    renewal_alone = (
        full - only_onboarding - (full - only_onboarding - rest)
    )  # = rest, checked below by its own run
    assert b.contributions["onboarding"] + b.contributions[
        "renewal playbook"
    ] == pytest.approx(full, rel=1e-12)
    assert renewal_alone == pytest.approx(rest)
    with pytest.raises(ValueError, match="is in groups"):
        d.attribution("clv", groups={"x": onboarding, "y": onboarding})
    with pytest.raises(ValueError, match="is not one of the changes"):
        d.attribution("clv", groups={"x": ["transitions from nowhere"]})
    with pytest.raises(ValueError, match="unknown metric"):
        d.attribution("happiness")


def _with_onboarding_only(optimised: js.Journey) -> js.Journey:
    spec = copy.deepcopy(js.default_journey().to_spec())
    spec["transitions"][0]["onboarding"]["adopting"] = 0.6
    return js.Journey.from_spec(spec)


def test_two_groups_are_the_hand_computed_shapley_values():
    current, optimised = js.default_journey(), optimised_demo()
    d = js.compare_journeys(current, optimised, periods=36)
    onboarding = [c for c in d.changes.index if "onboarding" in c]
    a = d.attribution("clv", groups={"onboarding": onboarding})
    v0 = current.analyze(36).clv
    v_all = optimised.analyze(36).clv
    v_onb = _with_onboarding_only(optimised).analyze(36).clv
    # v(renewal alone) = v_all - (v_onb - v0) + interaction: computed as the
    # optimised journey with the onboarding row put back.
    spec = copy.deepcopy(optimised.to_spec())
    spec["transitions"][0]["onboarding"]["adopting"] = 0.45
    v_ren = js.Journey.from_spec(spec).analyze(36).clv
    phi_onb = ((v_onb - v0) + (v_all - v_ren)) / 2
    assert a.contributions["onboarding"] == pytest.approx(phi_onb, rel=1e-12)


# -- the side-by-side comparison ------------------------------------------------


def test_a_journey_against_itself_gives_zeros():
    j = js.default_journey()
    d = js.compare_journeys(j, j, periods=24)
    assert len(d.changes) == 0
    diff = d.per_customer.loc["difference"].dropna()
    assert len(diff) > 5 and (diff == 0).all()
    assert (d.population.loc["difference"].dropna() == 0).all()
    a = d.attribution("clv")
    assert a.total == 0 and len(a.contributions) == 0


def test_one_intervention_applied_equals_compare_with_that_plan():
    j = js.default_journey()
    call = js.Intervention(
        "onboarding call",
        at=("onboarding", "churned"),
        relative_risk=0.5,
        reassign_to="adopting",
    )
    plan = js.Plan("call", [call])
    optimised = j.with_transitions(apply_plan(j, plan, cost_rate=0.0).journey)
    d = js.compare_journeys(j, optimised, periods=36)
    c = js.compare(j, [plan], periods=36)
    for col in ["retention at 36", "lifetime", "CLV", "revenue", "first-year NRR"]:
        assert d.per_customer.loc["optimised", col] == pytest.approx(
            c.per_customer.loc["call", col], rel=1e-12
        ), col
        assert d.per_customer.loc["current", col] == pytest.approx(
            c.per_customer.loc["baseline", col], rel=1e-12
        ), col
    assert d.population.loc["optimised", "incremental net value"] == pytest.approx(
        c.population.loc["call", "incremental net value"], rel=1e-12
    )


def test_monte_carlo_is_within_standard_errors_of_exact():
    current, optimised = js.default_journey(), optimised_demo()
    exact = js.compare_journeys(current, optimised, periods=24)
    mc = js.compare_journeys(
        current,
        optimised,
        periods=24,
        method="simulate",
        customers=40_000,
        seed=5,
        progress=False,
    )
    assert mc.method == "monte carlo"
    row = mc.per_customer.loc["optimised"]
    true = exact.per_customer.loc["difference", "CLV"]
    se = (row["CLV diff high"] - row["CLV diff low"]) / (2 * 1.96)
    assert se > 0 and abs(row["CLV diff"] - true) < 4 * se
    # Common random numbers: the paired difference is far more precise than
    # the CLV itself.
    assert se < 0.2 * true


def test_stage_mapping_new_and_renamed_stages():
    j = js.default_journey()
    spec = copy.deepcopy(j.to_spec())
    # Rename "adopting" to "ramp-up" everywhere: the same journey.
    text = js.dumps(j).replace("adopting", "ramp_up")
    renamed = js.loads(text).journey
    d = js.compare_journeys(j, renamed, periods=24, mapping={"ramp_up": "adopting"})
    assert len(d.changes) == 0
    assert d.per_customer.loc["difference", "CLV"] == pytest.approx(0, abs=1e-9)
    with pytest.raises(ValueError, match=r"different stages.*pass mapping"):
        js.compare_journeys(j, renamed, periods=24)
    # A new stage "kickoff" before onboarding: customers start there.
    stages = ["kickoff", *j.stages]
    spec["stages"] = [{"name": "kickoff", "owner": "Onboarding"}, *spec["stages"]]
    spec["transitions"][0]["kickoff"] = {"onboarding": 0.9, "churned": 0.02}
    spec["start"] = {"kickoff": 1.0}
    with_kickoff = js.Journey.from_spec(spec)
    assert with_kickoff.stages == stages
    d = js.compare_journeys(j, with_kickoff, periods=24, mapping={"kickoff": None})
    assert list(d.changes.index) == ["start"]
    a = d.attribution("clv")
    assert a.contributions["start"] == pytest.approx(a.total, rel=1e-12)
    assert a.total < 0  # a month's delay and some churn on the way


BAD = [
    (dict(time_unit="week"), "different time units"),
    (dict(currency="EUR"), "different currencies"),
    (dict(values={"revenue": {"active": 1.0}, "other": {}}), "different value streams"),
    (dict(discount_rate=0.02), "discounted at"),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_what_cannot_be_compared_says_why(change, message):
    base = dict(
        values={"revenue": {"active": 1.0}},
        time_unit="month",
        currency="USD",
        discount_rate=0.01,
    )
    a = js.Journey(["active", "churned"], {"active": {"churned": 0.1}}, **base)
    b = js.Journey(
        ["active", "churned"], {"active": {"churned": 0.1}}, **{**base, **change}
    )
    with pytest.raises(ValueError, match=message):
        js.compare_journeys(a, b)


def test_bad_mappings_say_why():
    j = js.default_journey()
    with pytest.raises(ValueError, match="'nowhere' is not a stage of the optimised"):
        js.compare_journeys(j, j, mapping={"nowhere": "onboarding"})
    with pytest.raises(ValueError, match="maps to 'nowhere', not a stage of the cur"):
        js.compare_journeys(j, j, mapping={"onboarding": "nowhere"})
    with pytest.raises(ValueError, match=r"current stages \['onboarding'\]"):
        js.compare_journeys(j, j, mapping={"onboarding": "adopting"})
    with pytest.raises(ValueError, match="absorbing in the optimised"):
        js.compare_journeys(
            j, j, mapping={"onboarding": "churned", "churned": "onboarding"}
        )
    with pytest.raises(ValueError, match="method must be"):
        js.compare_journeys(j, j, method="guess")
    with pytest.raises(ValueError, match="must be a Journey"):
        js.compare_journeys(j, "optimised.yaml")


def test_text_and_html_speak_months_and_money():
    d = js.compare_journeys(js.default_journey(), optimised_demo(), periods=36)
    text = d.to_text()
    assert "retention at 36 months" in text and "$" in text
    assert "difference" in text and "e+" not in text
    a = d.attribution(
        "clv",
        groups={"renewal playbook": [c for c in d.changes.index if "at_risk" in c]},
    )
    assert "renewal playbook" in a.to_text() and "$" in a.to_text()
    assert "<table" in a._repr_html_() and "<table" in d._repr_html_()
    ax = a.plot()
    assert ax.get_xlabel().startswith("CLV (per customer), USD")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "current" and labels[-1] == "optimised"


# -- the versus report and the command line --------------------------------------


@pytest.fixture(scope="module")
def versus_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("versus")
    js.save(js.default_journey(), d / "current.yaml")
    js.save(optimised_demo(), d / "optimised.yaml")
    return d


def test_cli_versus_report(versus_files, capsys):
    d = versus_files
    out = d / "versus.html"
    args = ["report", str(d / "current.yaml"), "--versus", str(d / "optimised.yaml")]
    assert main([*args, "--html", str(out)]) == 0
    page = out.read_text()
    for key in ("versus-per-customer", "chart-waterfall", "chart-map-optimised"):
        assert key in page
    assert "transitions from at_risk (tenure 11+)" in page  # 11 changes, each
    capsys.readouterr()
    bad = d / "bad.html"
    assert main([*args, "--map", "foo=bar", "--html", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'foo' is not a stage of the optimised" in err[0]
    assert not bad.exists()
    assert (
        main(["report", str(d / "current.yaml"), "--map", "a=b", "--html", str(bad)])
        == 2
    )
    assert "--map goes with --versus" in capsys.readouterr().err


def test_versus_report_renders_in_chromium(versus_files, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By

    from test_report import not_blank

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail("the browser test needs chromium and chromium-driver")
    path = tmp_path / "v.html"
    js.report(
        js.default_journey(),
        js.default_plans()[:1],
        path,
        periods=36,
        versus=optimised_demo(),
    )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--window-size=1300,1000",
    ):
        options.add_argument(arg)
    browser = webdriver.Chrome(
        options=options, service=webdriver.ChromeService(executable_path=driver_path)
    )
    try:
        browser.get(path.as_uri())
        section = browser.find_element(By.ID, "versus")
        assert "Current versus optimised journey" in section.text
        table = browser.find_element(By.CSS_SELECTOR, "#versus-per-customer table")
        head = [th.text for th in table.find_elements(By.TAG_NAME, "th")]
        assert head == ["", "current", "optimised", "difference"]
        for key in ("waterfall", "map-current", "map-optimised"):
            fig = browser.find_element(By.ID, f"chart-{key}")
            svg = fig.find_element(By.TAG_NAME, "svg")
            assert svg.size["width"] > 200 and svg.size["height"] > 100, key
            browser.execute_script("arguments[0].scrollIntoView()", fig)
            ink, colours = not_blank(svg.screenshot_as_png)
            assert ink > 0.01 and colours > 8, (key, ink, colours)
    finally:
        browser.quit()
