"""The embedded default journey: a B2B SaaS customer-success journey, monthly."""

from __future__ import annotations

import os
import sys
from typing import TextIO

import pandas as pd

from .._base.atomic import save_figure
from ..model.intervention import Intervention, Plan
from ..model.journey import Journey

__all__ = ["DEFAULT_PLOT", "default_journey", "default_plans", "run_demo"]

#: Where ``journeysim demo`` writes its retention curve unless told: a name of
#: the demo's own, in the working folder, replaced on every run.
DEFAULT_PLOT = "journeysim-demo-retention.png"

STAGES = [
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

# Monthly transition probabilities; whatever a row does not assign stays put.
TRANSITIONS_FIRST_3_MONTHS = {
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
# Accounts still onboarding after three months are struggling.
FROM_MONTH_3 = {"onboarding": {"adopting": 0.35, "at_risk": 0.25, "churned": 0.15}}

METADATA = {
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


def default_journey() -> Journey:
    """The demo's B2B SaaS customer-success journey (monthly periods).

    Revenue and cost-to-serve per account per month, 1% monthly discounting,
    net value = revenue - cost_to_serve, a renewal processing cost on each
    renewal, and a tougher onboarding row from month 3 on.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.default_journey()
    >>> j.stages[:3], j.streams
    (['onboarding', 'adopting', 'first_value'], ['revenue', 'cost_to_serve'])
    >>> round(j.analyze(periods=36).retention_at(36), 3)
    0.293
    """
    return Journey(
        STAGES,
        {0: TRANSITIONS_FIRST_3_MONTHS, 3: FROM_MONTH_3},
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
        metadata=METADATA,
        moments_of_truth=[
            "first_value",
            ("renewal_decision", "churned"),
            ("onboarding", "at_risk"),
        ],
        name="B2B SaaS customer success",
    )


def default_plans() -> list[Plan]:
    """Three intervention plans for :func:`default_journey`: an onboarding call,
    an at-risk rescue desk, and both together.

    Examples
    --------
    >>> import journeysim as js
    >>> [p.name for p in js.default_plans()]
    ['onboarding call', 'rescue desk', 'call and rescue']
    >>> c = js.compare(js.default_journey(), js.default_plans(), periods=36)
    >>> c.summary["incremental net value"].idxmax()
    'call and rescue'
    """
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
    a = j.analyze(periods=periods)

    def p(text: str = "") -> None:
        print(text, file=stream)

    p(
        f"journeysim demo: {j.name}, {len(j.stages)} stages, monthly, "
        f"{periods}-month horizon"
    )
    p()
    head = {
        f"retention at {t} months": f"{a.retention_at(t):.1%}"
        for t in (3, 12, 24, 36)
        if t <= periods
    }
    ttv = a.time_to_value
    head["expected lifetime"] = f"{a.expected_lifetime:.1f} months"
    head["reach first value"] = f"{ttv['reached']:.1%}"
    head["time to first value"] = f"{ttv['mean_periods']:.1f} months (of those who do)"
    head[f"CLV over {periods} months"] = f"{a.clv:,.0f}"
    head["CLV over the lifetime"] = f"{a.lifetime_clv:,.0f}"
    width = max(len(k) for k in head)
    for k, v in head.items():
        p(f"  {k:<{width}}  {v}")
    p()
    p("Churn outcome: " + ", ".join(f"{s} {v:.1%}" for s, v in a.absorption.items()))
    p()
    p("Per-stage health (a customer in this stage now):")
    table = a.stages[["remaining_lifetime", "clv", "lifetime_clv"]].copy()
    table.insert(0, "owner", j.stage_info["owner"].fillna("-"))
    table.columns = ["owner", "lifetime (months)", f"CLV {periods}m", "CLV lifetime"]
    with pd.option_context(
        "display.width", 120, "display.float_format", "{:,.1f}".format
    ):
        p(table.to_string())
    p()

    path = out or os.path.join(os.getcwd(), DEFAULT_PLOT)
    fig, ax = plt.subplots(figsize=(7, 4))
    a.plot_retention(ax=ax)
    ax.set_title(f"{j.name}: retention")
    ax.set_xlabel("month")
    fig.tight_layout()
    try:
        save_figure(fig, path, dpi=120)
    finally:
        plt.close(fig)
    p(f"Retention curve written to {os.path.abspath(path)}")
    return path
