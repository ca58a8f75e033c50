"""The journey the synthetic SaaS export is generated from: six stages of a
B2B subscription, monthly moves, the teams that own each stage."""

from __future__ import annotations

from ..model.journey import Journey

__all__ = ["SAAS_STAGES", "SAAS_TRANSITIONS", "saas_journey"]

#: The stages of the sample journey, in order (``churned`` is absorbing).
SAAS_STAGES = ("onboarding", "adopting", "value", "expanded", "at_risk", "churned")

#: Monthly moves ``{from: {to: probability}}``; the rest of a row stays put.
SAAS_TRANSITIONS = {
    "onboarding": {"adopting": 0.45, "at_risk": 0.08, "churned": 0.02},
    "adopting": {"value": 0.25, "at_risk": 0.07, "churned": 0.01},
    "value": {"expanded": 0.04, "at_risk": 0.04, "churned": 0.005},
    "expanded": {"value": 0.03, "at_risk": 0.02, "churned": 0.003},
    "at_risk": {"adopting": 0.10, "value": 0.12, "churned": 0.10},
}

_OWNERS = {
    "onboarding": "Onboarding",
    "adopting": "Customer success",
    "value": "Customer success",
    "expanded": "Account management",
    "at_risk": "Customer success",
}


def saas_journey() -> Journey:
    """The journey :func:`saas_accounts` generates its accounts from.

    Six stages, one month per period: every account starts in
    ``onboarding``; ``adopting`` (using the product, not yet its key
    feature), ``value`` (the key feature in regular use), ``expanded``
    (more seats than it signed for), ``at_risk`` (health and usage down,
    tickets up) and ``churned`` (cancelled; absorbing). Monthly moves:

    ==========  =========================================================
    from        to (probability per month; the rest stays)
    ==========  =========================================================
    onboarding  adopting 0.45, at_risk 0.08, churned 0.02
    adopting    value 0.25, at_risk 0.07, churned 0.01
    value       expanded 0.04, at_risk 0.04, churned 0.005
    expanded    value 0.03, at_risk 0.02, churned 0.003
    at_risk     adopting 0.10, value 0.12, churned 0.10
    ==========  =========================================================

    It has no value streams: the export's MRR and support costs follow each
    account's plan, seats and history, and are what
    ``js.fit(..., values=...)`` estimates per stage.

    Returns
    -------
    Journey
        Time unit month, currency USD, ``value`` as the value stage, each
        stage's owning team in its metadata.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.datasets.saas_journey()
    >>> j.stages
    ['onboarding', 'adopting', 'value', 'expanded', 'at_risk', 'churned']
    >>> round(float(j.analyze(periods=36).retention.iloc[-1]), 3)
    0.552
    """
    return Journey(
        list(SAAS_STAGES),
        SAAS_TRANSITIONS,
        start={"onboarding": 1.0},
        absorbing=["churned"],
        value_stages=["value"],
        metadata={s: {"owner": team} for s, team in _OWNERS.items()},
        time_unit="month",
        currency="USD",
        name="B2B SaaS (synthetic sample)",
    )
