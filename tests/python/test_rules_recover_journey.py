"""End to end on the synthetic export: documented rules over its signals
recover the true stages, and a fit of the rules' stages with values from
the export recovers the generating journey's rates within their intervals
and each stage's MRR within 2% of the mean over the true stages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeysim as js

STAGES = list(js.datasets.SAAS_STAGES)

#: The rules docs/datasets.md states for the sample export.
RULES = [
    js.Rule("churned", "cancelled_at <= period_end", terminal=True),
    js.Rule("at_risk", "health_score < 40"),
    js.Rule("onboarding", "not onboarded_at <= period_end"),
    js.Rule("expanded", "seats > first(seats)"),
    js.Rule("value", "key_feature_uses >= 6"),
]


@pytest.fixture(scope="module")
def export() -> pd.DataFrame:
    return js.datasets.saas_accounts(truth=True)


@pytest.fixture(scope="module")
def staged(export):
    return js.stages_from(
        export,
        account="account_id",
        time="month",
        period="M",
        rules=RULES,
        catch_all="adopting",
        export_date=export.attrs["export_date"],
    )


def test_rules_recover_the_true_stages(export, staged):
    both = export.merge(staged.log, on=["account_id", "month"])
    assert len(both) == len(export)  # no row dropped: none after cancelling
    assert (both["stage"] == both["true_stage"]).mean() > 0.999
    # Every rule matched something and the catch-all took the adopting rows.
    assert (staged.coverage["account_periods"] > 0).all()
    assert len(staged.unmatched) == (both["stage"] == "adopting").sum()


def test_fit_recovers_the_rates_and_the_mrr_per_stage(export, staged):
    kwargs = {**staged.fit_kwargs, "stages": STAGES}
    f = js.fit(
        staged.log,
        **kwargs,
        end=export.attrs["export_date"],
        values=export,
        value_columns={"revenue": "mrr", "cost_to_serve": "support_cost"},
        net={"revenue": 1, "cost_to_serve": -1},
    )
    assert f.customers == 5000
    P = js.datasets.saas_journey().transition_matrix
    # 99.9% for each rate: about 97% that all of them cover at once.
    s = f.summary(0.999)
    s = s[~s["fixed"]]
    truth = np.array([P.loc[a, b] for a, b in s.index])
    moves = truth > 0
    assert ((s["low"] <= truth) & (truth <= s["high"]))[moves].all()
    # A move the journey does not have is (almost) never seen: a few rows
    # the rules put in another stage than the true one.
    assert (s["estimate"][~moves] < 0.001).all()
    true_mrr = export.groupby("true_stage")["mrr"].mean()
    fitted = f.value_summary().loc["revenue", "estimate"]
    for stage in STAGES[:-1]:
        assert fitted[stage] == pytest.approx(true_mrr[stage], rel=0.02)
    # The fitted journey carries them.
    carried = f.journey.to_spec()["values"]["revenue"]
    assert carried["expanded"] == pytest.approx(fitted["expanded"])
