"""The embedded default journey: a B2B SaaS customer-success journey in months,
with annual contracts renewed at months 12, 24, 36, ..."""

from __future__ import annotations

import os
import sys
from typing import TextIO

import pandas as pd

from .._base.atomic import save_figure
from .._base.errors import InputError
from ..model.intervention import Intervention, Plan
from ..model.journey import Journey
from ..plans.compare import compare
from ..view.numbers import duration, money, number, percent

__all__ = [
    "DEFAULT_PLOT",
    "default_journey",
    "default_plans",
    "run_demo",
    "small_business_journey",
    "small_business_plans",
]

#: Where ``journeysim demo`` writes its retention curve unless told: a name of
#: the demo's own, in the working folder, replaced on every run.
DEFAULT_PLOT = "journeysim-demo-retention.png"

STAGES = [
    "onboarding",
    "adopting",
    "active",
    "at_risk",
    "contracted",
    "expanded",
    "advocate",
    "churned",
    "closed",
]

#: An ordinary month (whatever a row does not assign stays put). Between
#: renewals the contract holds: logos are lost only when a business closes
#: (``closed``) or an unhappy at-risk account walks away mid-term.
MONTH = {
    "onboarding": {"adopting": 0.45, "at_risk": 0.05, "closed": 0.002},
    "adopting": {"active": 0.25, "at_risk": 0.05, "closed": 0.002},
    "active": {"expanded": 0.05, "at_risk": 0.02, "closed": 0.002},
    "expanded": {"advocate": 0.03, "at_risk": 0.005, "closed": 0.002},
    "advocate": {"expanded": 0.05, "closed": 0.002},
    "at_risk": {"active": 0.12, "churned": 0.01, "closed": 0.002},
    "contracted": {"active": 0.02, "at_risk": 0.03, "closed": 0.002},
}
#: Accounts still onboarding after three months are struggling.
STUCK_ONBOARDING = {"onboarding": {"adopting": 0.30, "at_risk": 0.20, "closed": 0.002}}
#: The renewal month (tenure 11 -> 12, 23 -> 24, ...): the contract is renewed,
#: renewed bigger or smaller, or not renewed.
RENEWAL = {
    "onboarding": {"churned": 0.40, "at_risk": 0.30, "closed": 0.002},
    "adopting": {"churned": 0.25, "contracted": 0.15, "active": 0.15, "closed": 0.002},
    "active": {"expanded": 0.25, "contracted": 0.04, "churned": 0.06, "closed": 0.002},
    "expanded": {"active": 0.03, "contracted": 0.01, "churned": 0.05, "closed": 0.002},
    "advocate": {"churned": 0.04, "closed": 0.002},
    "at_risk": {"churned": 0.40, "contracted": 0.25, "active": 0.10, "closed": 0.002},
    "contracted": {"churned": 0.15, "active": 0.15, "closed": 0.002},
}
#: Renewals modelled one by one for this many years; after that, each month
#: carries a twelfth of a renewal's moves (a steady state for lifetime figures).
RENEWAL_YEARS = 10


def _blended() -> dict:
    """A month carrying a twelfth of a renewal: eleven ordinary months and one
    renewal month averaged, row by row."""
    rows = {}
    for stage, month in {**MONTH, **STUCK_ONBOARDING}.items():
        renewal = RENEWAL[stage]
        rows[stage] = {
            to: (11 * month.get(to, 0.0) + renewal.get(to, 0.0)) / 12
            for to in dict.fromkeys([*month, *renewal])
        }
    return rows


def transitions() -> dict:
    """The tenure pieces: ordinary months, tougher onboarding from month 3, a
    renewal month at tenure 11, 23, ... (the move into months 12, 24, ...),
    then blended months from year ``RENEWAL_YEARS`` on."""
    after = {**MONTH, **STUCK_ONBOARDING}
    pieces: dict[int, dict] = {0: MONTH, 3: STUCK_ONBOARDING}
    for year in range(1, RENEWAL_YEARS + 1):
        pieces[12 * year - 1] = RENEWAL
        pieces[12 * year] = after
    pieces[12 * RENEWAL_YEARS] = _blended()
    return pieces


REVENUE = {  # USD per account per month: list price $2,000 (a $24,000 contract)
    "onboarding": 2000,
    "adopting": 2000,
    "active": 2000,
    "expanded": 3000,
    "advocate": 3000,
    "at_risk": 2000,
    "contracted": 1400,
}
#: Contracts carry a price uplift at each renewal, for as many years as renewals
#: are modelled.
UPLIFT = 0.08


def revenue() -> dict:
    """Revenue by tenure: the list prices, raised by ``UPLIFT`` at each renewal
    (from tenure 12, 24, ...: the contract year that starts at the renewal)."""
    return {
        12 * year: {
            stage: round(price * (1 + UPLIFT) ** year, 2)
            for stage, price in REVENUE.items()
        }
        for year in range(RENEWAL_YEARS + 1)
    }


COST_TO_SERVE = {  # USD per account per month
    "onboarding": 900,
    "adopting": 400,
    "active": 200,
    "expanded": 250,
    "advocate": 200,
    "at_risk": 500,
    "contracted": 200,
}
NPS = {
    "onboarding": 20,
    "adopting": 10,
    "active": 35,
    "expanded": 50,
    "advocate": 80,
    "at_risk": -40,
    "contracted": -15,
}

METADATA = {
    "onboarding": {
        "owner": "Onboarding",
        "description": "contract signed; set-up and go-live",
        "channels": ["kick-off call", "email"],
        "touchpoints": ["welcome pack", "setup session"],
        "kpis": ["days to go-live"],
    },
    "adopting": {
        "owner": "Customer Success",
        "description": "live, users learning the product",
        "channels": ["in-app", "webinar"],
        "touchpoints": ["training", "usage review"],
        "kpis": ["weekly active users"],
    },
    "active": {
        "owner": "Customer Success",
        "description": "first business outcome reached; healthy on the base plan",
        "channels": ["QBR", "in-app"],
        "touchpoints": ["success plan", "health score"],
        "kpis": ["time to first value", "health score"],
    },
    "expanded": {
        "owner": "Account Management",
        "description": "bought more seats or a higher tier (+50%)",
        "channels": ["QBR", "call"],
        "touchpoints": ["expansion proposal", "renewal"],
        "kpis": ["net revenue retention"],
    },
    "advocate": {
        "owner": "Marketing",
        "description": "an expanded account that refers and speaks for us",
        "channels": ["events", "community"],
        "touchpoints": ["case study", "referral"],
        "kpis": ["referrals", "NPS"],
    },
    "at_risk": {
        "owner": "Customer Success",
        "description": "usage falling or sponsor gone; still under contract",
        "channels": ["health alert", "call"],
        "touchpoints": ["escalation", "rescue plan"],
        "kpis": ["accounts at risk"],
    },
    "contracted": {
        "owner": "Account Management",
        "description": "renewed smaller (fewer seats, lower tier: -30%)",
        "channels": ["call"],
        "touchpoints": ["renewal"],
        "kpis": ["gross revenue retention"],
    },
    "churned": {"description": "did not renew (or cancelled mid-term)"},
    "closed": {"description": "the customer's business closed or was acquired"},
}


def default_journey(kind: str = "b2b") -> Journey:
    """The demo journey: ``"b2b"`` (the default), a B2B SaaS sold on annual
    contracts, or ``"small_business"``, a self-serve SaaS on monthly plans
    (:func:`small_business_journey`).

    The B2B SaaS customer-success journey is in months and US dollars.

    Notes
    -----
    The assumptions:

    - An account signs an annual contract at a list price of $2,000 a month
      ($24,000 a year) and starts in ``onboarding`` (about two months; one
      still onboarding after three months is struggling and slides to
      ``at_risk`` at 20% a month), then ``adopting``, then ``active``: its first
      business outcome (the value stage, for time to value).
    - Revenue per account per month at list price: $2,000 in onboarding,
      adopting, active and at_risk (the contract still pays), $3,000 in
      ``expanded`` and ``advocate`` (upsold: +50%), $1,400 in ``contracted``
      (renewed smaller: -30%). Each renewal raises every price by 8% (price
      increase and seat growth) for the contract year it starts (tenure 12,
      24, ...). Cost to serve: $900 a month onboarding, $400 adopting, $500 at
      risk, $200-250 otherwise. Net value = revenue - cost to serve, with 1%
      monthly discounting.
    - Between renewals the contract holds: active accounts expand at 5% a month
      and slip to at_risk at 2%; at-risk accounts recover at 12% a month;
      0.2% of accounts a month close or are acquired (``closed``, involuntary
      churn) and 1% of at-risk accounts a month cancel mid-term (``churned``).
    - Renewal decisions fall on months 12, 24, 36, ... (the move from tenure
      11, 23, ...): at renewal 40% of at-risk accounts leave and 25% renew
      smaller; 6% of active accounts leave, 25% renew bigger and 4% smaller;
      5% of expanded, 4% of advocate and 15% of contracted accounts leave.
      Renewals are modelled one by one for ten years; from month 120 each
      month carries a twelfth of a renewal (a steady state for lifetime
      figures).
    - NPS by stage: advocate 80, expanded 50, active 35, onboarding 20,
      adopting 10, contracted -15, at_risk -40.

    Resulting figures for the starting cohort (checked in the tests by a
    separate numpy computation from the joint distribution of the stage at the
    start and the end of each year; revenue rates are those of the contract
    year starting then, so month 12 is at the renewed price):

    ====  ==========  ======  =====
    year  logo churn  NRR     GRR
    ====  ==========  ======  =====
    1     15.6%       106.3%  82.7%
    2     11.3%       107.3%  88.0%
    3     9.9%        102.3%  89.3%
    ====  ==========  ======  =====

    Retention 84.4% at 12 months, 67.5% at 36; 91% reach first value (in 6.4
    months on average); three in four leavers do not renew (``churned``), one
    in four close (``closed``).

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.default_journey()
    >>> j.stages[:3], j.units.time_unit, j.units.currency
    (['onboarding', 'adopting', 'active'], 'month', 'USD')
    >>> round(j.analyze(periods=12).retention_at(12), 3)
    0.844
    """
    if kind == "small_business":
        return small_business_journey()
    if kind != "b2b":
        raise InputError(
            f"kind must be 'b2b' or 'small_business', got {kind!r}", key=("kind",)
        )
    return Journey(
        STAGES,
        transitions(),
        values={"revenue": revenue(), "cost_to_serve": COST_TO_SERVE},
        start={"onboarding": 1.0},
        discount_rate=0.01,
        value_stages="active",
        net={"revenue": 1, "cost_to_serve": -1},
        metadata=METADATA,
        moments_of_truth=[
            "active",
            ("onboarding", "at_risk"),
            ("at_risk", "churned"),
            ("active", "expanded"),
        ],
        time_unit="month",
        currency="USD",
        scores={"nps": NPS},
        name="B2B SaaS customer success",
    )


def default_plans(kind: str = "b2b") -> list[Plan]:
    """Three intervention plans for :func:`default_journey`, each at a moment of
    truth: an onboarding call, an at-risk rescue desk, and both together.

    - *onboarding call*: a $250 call for 90% of new accounts, in their first
      six months, cuts the slide from onboarding to at_risk by 60% (those
      customers move on to adopting instead). Over 36 months its net gain is
      about 1.5 times its cost (ROI 1.5).
    - *rescue desk*: $150 of a customer-success manager's time for each month
      an account spends at risk cuts its churn by 30% (saved accounts return
      to active); it pays mostly at renewals: ROI about 2.5.

    Examples
    --------
    >>> import journeysim as js
    >>> [p.name for p in js.default_plans()]
    ['onboarding call', 'rescue desk', 'call and rescue']
    >>> c = js.compare(js.default_journey(), js.default_plans(), periods=36)
    >>> c.summary["incremental net value"].idxmax()
    'call and rescue'
    """
    if kind == "small_business":
        return small_business_plans()
    if kind != "b2b":
        raise InputError(
            f"kind must be 'b2b' or 'small_business', got {kind!r}", key=("kind",)
        )
    call = Intervention(
        "onboarding call",
        at=("onboarding", "at_risk"),
        relative_risk=0.4,
        reassign_to="adopting",
        reach=0.9,
        window=(0, 6),
        cost_per_customer=250,
    )
    rescue = Intervention(
        "rescue desk",
        at=("at_risk", "churned"),
        relative_risk=0.7,
        reassign_to="active",
        cost_per_period=150,
    )
    return [
        Plan("onboarding call", [call]),
        Plan("rescue desk", [rescue]),
        Plan("call and rescue", [call, rescue]),
    ]


# -- the small-business variant: monthly plans, no contract ---------------------------

SMB_STAGES = [
    "onboarding",
    "adopting",
    "first_value",
    "renewal_decision",
    "renewed",
    "expanded",
    "advocate",
    "at_risk",
    "churned",
]
SMB_MONTH = {
    "onboarding": {"adopting": 0.55, "at_risk": 0.10, "churned": 0.05},
    "adopting": {"first_value": 0.30, "at_risk": 0.10, "churned": 0.02},
    "first_value": {
        "renewal_decision": 0.08,
        "expanded": 0.03,
        "advocate": 0.02,
        "at_risk": 0.04,
    },
    "renewal_decision": {"renewed": 0.70, "at_risk": 0.10, "churned": 0.20},
    "renewed": {
        "renewal_decision": 0.08,
        "expanded": 0.04,
        "advocate": 0.03,
        "at_risk": 0.03,
    },
    "expanded": {"renewal_decision": 0.08, "advocate": 0.05, "at_risk": 0.02},
    "advocate": {"renewal_decision": 0.08, "at_risk": 0.01},
    "at_risk": {"adopting": 0.15, "first_value": 0.10, "churned": 0.20},
}
SMB_FROM_MONTH_3 = {"onboarding": {"adopting": 0.35, "at_risk": 0.25, "churned": 0.15}}
SMB_METADATA = {
    "onboarding": {
        "owner": "Onboarding",
        "channels": ["kick-off call", "email"],
        "touchpoints": ["welcome pack", "setup session"],
        "kpis": ["days to go-live"],
    },
    "adopting": {
        "owner": "Customer Success",
        "channels": ["in-app", "webinar"],
        "kpis": ["weekly active users"],
    },
    "first_value": {
        "owner": "Customer Success",
        "description": "first business outcome",
        "kpis": ["time to first value"],
    },
    "renewal_decision": {"owner": "Account Management", "channels": ["QBR", "call"]},
    "renewed": {"owner": "Account Management"},
    "expanded": {"owner": "Sales", "kpis": ["net revenue retention"]},
    "advocate": {"owner": "Marketing", "touchpoints": ["case study", "referral"]},
    "at_risk": {"owner": "Customer Success", "channels": ["health alert", "call"]},
    "churned": {"description": "cancelled the subscription"},
}


def small_business_journey() -> Journey:
    """A self-serve small-business SaaS on monthly plans, in months and US
    dollars: no contract, so customers can cancel in any month, and a
    ``renewal_decision`` stage for the card renewal or plan review that about
    8% of settled customers face each month.

    Revenue $1,000 a month ($1,100 renewed, $1,600 expanded, $1,200 advocate,
    $900 at risk), cost to serve $100-600, a $300 cost on each renewal, 1%
    monthly discounting; onboarding gets tougher from month 3. With 5% of new
    customers cancelling each month of onboarding and 20% of at-risk ones, it
    keeps 29% of a cohort after 36 months: a leaky small-business funnel,
    where revenue retention is well under 100%.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.default_journey("small_business")
    >>> round(j.analyze(periods=36).retention_at(36), 3)
    0.293
    """
    return Journey(
        SMB_STAGES,
        {0: SMB_MONTH, 3: SMB_FROM_MONTH_3},
        values={
            "revenue": {
                "onboarding": 1000,
                "adopting": 1000,
                "first_value": 1000,
                "renewal_decision": 1000,
                "renewed": 1100,
                "expanded": 1600,
                "advocate": 1200,
                "at_risk": 900,
            },
            "cost_to_serve": {
                "onboarding": 600,
                "adopting": 250,
                "first_value": 150,
                "renewal_decision": 200,
                "renewed": 120,
                "expanded": 150,
                "advocate": 100,
                "at_risk": 350,
            },
        },
        transition_values={"cost_to_serve": {("renewal_decision", "renewed"): 300}},
        start={"onboarding": 1.0},
        discount_rate=0.01,
        value_stages="first_value",
        net={"revenue": 1, "cost_to_serve": -1},
        metadata=SMB_METADATA,
        moments_of_truth=[
            "first_value",
            ("renewal_decision", "churned"),
            ("onboarding", "at_risk"),
        ],
        time_unit="month",
        currency="USD",
        scores={
            "nps": {
                "onboarding": 10,
                "adopting": 5,
                "first_value": 30,
                "renewal_decision": 20,
                "renewed": 35,
                "expanded": 45,
                "advocate": 75,
                "at_risk": -45,
            }
        },
        name="Small-business SaaS",
    )


def small_business_plans() -> list[Plan]:
    """Three plans for :func:`small_business_journey`: a $50 onboarding call
    in the first three months, an at-risk rescue desk at $40 a month, and
    both together."""
    call = Intervention(
        "onboarding call",
        at=("onboarding", "churned"),
        relative_risk=0.6,
        reassign_to="adopting",
        reach=0.8,
        window=(0, 3),
        cost_per_customer=50,
    )
    rescue = Intervention(
        "rescue desk",
        at=("at_risk", "churned"),
        relative_risk=0.7,
        reassign_to="adopting",
        cost_per_period=40,
    )
    return [
        Plan("onboarding call", [call]),
        Plan("rescue desk", [rescue]),
        Plan("call and rescue", [call, rescue]),
    ]


def run_demo(
    periods: int = 36, out: str | None = None, stream: TextIO | None = None
) -> str:
    """Analyse the default journey, print the tables, save the retention curve.

    Returns the path of the PNG it wrote.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stream = stream or sys.stdout
    j = default_journey()
    u = j.units
    a = j.analyze(periods=periods)

    def p(text: str = "") -> None:
        print(text, file=stream)

    p(
        f"journeysim demo: {j.name}, {len(j.stages)} stages, in {u.plural} and "
        f"{u.currency}, over {u.periods(periods)}"
    )
    p()
    head = {
        f"retention at {u.periods(t)}": percent(a.retention_at(t), u)
        for t in (3, 12, 24, 36)
        if t <= periods
    }
    ttv = a.time_to_value
    head["expected lifetime"] = duration(a.expected_lifetime, u)
    head["reach first value"] = percent(ttv["reached"], u)
    head["time to first value"] = (
        f"{duration(ttv['mean_periods'], u)} (of those who do)"
    )
    head[f"CLV over {u.periods(periods)}"] = f"{money(a.clv, u)} per customer"
    head["CLV over the lifetime"] = f"{money(a.lifetime_clv, u)} per customer"
    width = max(len(k) for k in head)
    for k, v in head.items():
        p(f"  {k:<{width}}  {v}")
    p()
    p(
        "Churn outcome: "
        + ", ".join(f"{s} {percent(v, u)}" for s, v in a.absorption.items())
    )
    p()
    if periods >= u.year:
        rr = a.revenue_retention("revenue", every=u.year)
        cols = {
            "logo retention": "logo_retention",
            "NRR": "nrr",
            "GRR": "grr",
            "expansion": "expansion",
            "contraction": "contraction",
            "churned": "churned",
        }
        p("Revenue retention of the starting customers, year by year:")
        shown = pd.DataFrame(
            {k: [percent(v, u) for v in rr[c]] for k, c in cols.items()},
            index=rr.index,
        )
        with pd.option_context("display.width", 120):
            p(shown.to_string())
        p()
    if periods >= 1:
        _print_plans(j, periods, p)
    p("Per-stage health (a customer in this stage now):")
    stages = a.stages
    table = pd.DataFrame(
        {
            "owner": j.stage_info["owner"].fillna("-"),
            "remaining lifetime": [
                duration(v, u) for v in stages["remaining_lifetime"]
            ],
            f"CLV {u.periods(periods)}": [money(v, u) for v in stages["clv"]],
            "CLV lifetime": [money(v, u) for v in stages["lifetime_clv"]],
            "NPS": [number(v, u) for v in j.scores["nps"]],
        },
        index=stages.index,
    )
    with pd.option_context("display.width", 120):
        p(table.to_string())
    p()

    path = out or os.path.join(os.getcwd(), DEFAULT_PLOT)
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    a.plot_retention(ax=ax)
    ax.set_title(f"{j.name}: retention")
    try:
        save_figure(fig, path, dpi=120)
    finally:
        plt.close(fig)
    p(f"Retention curve written to {os.path.abspath(path)}")
    return path


def _print_plans(j: Journey, periods: int, p) -> None:
    """The demo's plans against the baseline, a line each, per customer."""
    u = j.units
    c = compare(j, default_plans(), periods=periods)
    p(f"The demo's plans against the baseline, per customer over {u.periods(periods)}:")
    s = c.summary
    for name in s.index[1:]:
        roi = s.loc[name, "ROI"]
        pays = s.loc[name, "payback"]
        p(
            f"  {name}: costs "
            f"{money(s.loc[name, 'intervention cost per customer'], u)},"
            f" returns {money(s.loc[name, 'incremental net value per customer'], u)}"
            f" net (ROI {number(roi, u, digits=3)}), pays back "
            + (f"in {duration(pays, u)}" if pays == pays else "not within the horizon")
        )
    p()
