"""The synthetic SaaS export (js.datasets): the same frame for a seed, the
invariants of a real export, signals that tell the stages apart, and the
generating journey's rates recovered by fitting its true stages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeysim as js
from journeysim.datasets.saas_journey import SAAS_TRANSITIONS

STAGES = list(js.datasets.SAAS_STAGES)


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return js.datasets.saas_accounts(truth=True)


def _months(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Whole months from b to a."""
    return ((a.dt.year - b.dt.year) * 12 + (a.dt.month - b.dt.month)).to_numpy()


def test_the_same_seed_gives_the_same_frame_and_another_seed_another():
    a = js.datasets.saas_accounts(300, 12, seed=7)
    pd.testing.assert_frame_equal(a, js.datasets.saas_accounts(300, 12, seed=7))
    assert not a.equals(js.datasets.saas_accounts(300, 12, seed=8))
    assert "true_stage" not in a.columns  # only with truth=True


def test_columns_types_and_ranges(df):
    assert list(df.columns[:15]) == [
        "account_id", "month", "signup_month", "plan", "seats", "mrr",
        "active_users", "logins", "key_feature_uses", "support_tickets",
        "support_cost", "health_score", "nps", "renewal_date", "cancelled_at",
    ]  # fmt: skip
    assert (df["month"] == df["month"].dt.to_period("M").dt.to_timestamp()).all()
    assert (df["mrr"] >= 0).all() and (df["support_cost"] >= 0).all()
    assert (df["active_users"] <= df["seats"]).all()
    assert set(df["plan"]) == {"starter", "growth", "enterprise"}
    answered = df["nps"].dropna()
    assert answered.between(0, 10).all()
    assert 0.08 < len(answered) / len(df) < 0.12
    health = df["health_score"].dropna()
    assert health.between(0, 100).all()
    # Every row is a month from sign-up on, one row per account and month.
    assert not df.duplicated(["account_id", "month"]).any()
    assert (df["month"] >= df["signup_month"]).all()


def test_cohorts_every_account_from_its_signup_month_without_gaps(df):
    first = df.groupby("account_id")["month"].min()
    signup = df.groupby("account_id")["signup_month"].first()
    assert (first == signup).all()
    assert len(signup) == 5000
    cohort = signup.value_counts().sort_index()
    assert cohort.sum() == 5000 and len(cohort) == 36
    # Seasonality: each quarter end beats the August of its year.
    by = pd.Series(cohort.to_numpy(), index=cohort.index.month)
    assert by.loc[[3, 6, 9, 12]].mean() > 1.4 * by.loc[8].mean()
    tenure = df.groupby("account_id").cumcount()
    assert (_months(df["month"], df["signup_month"]) == tenure.to_numpy()).all()


def test_cancelled_accounts_have_no_rows_after_cancelled_at(df):
    gone = df[df["cancelled_at"].notna()]
    assert len(gone) > 0
    assert (gone["month"] <= gone["cancelled_at"]).all()
    last = gone.groupby("account_id").tail(1)
    assert (
        last["month"] == last["cancelled_at"].dt.to_period("M").dt.to_timestamp()
    ).all()
    assert (last["mrr"] == 0).all() and (last["true_stage"] == "churned").all()
    assert (gone.groupby("account_id")["cancelled_at"].nunique() == 1).all()
    assert (df.loc[df["cancelled_at"].isna(), "true_stage"] != "churned").all()


def test_censored_at_the_export_date(df):
    end = df.attrs["export_date"]
    assert end == pd.Timestamp("2026-12-31")
    assert df["month"].max() == pd.Timestamp("2026-12-01")
    # Accounts still customers are observed up to the last month, not beyond.
    live = df[df["cancelled_at"].isna()].groupby("account_id")["month"].max()
    assert (live == pd.Timestamp("2026-12-01")).all()


def test_renewal_every_12_months_from_signup(df):
    ahead = _months(df["renewal_date"], df["month"])
    assert ((ahead >= 1) & (ahead <= 12)).all()
    assert (_months(df["renewal_date"], df["signup_month"]) % 12 == 0).all()


def test_mrr_expands_and_contracts(df):
    change = df.groupby("account_id")["mrr"].diff()
    live = df["true_stage"] != "churned"
    assert (change[live] > 0).sum() > 100 and (change[live] < 0).sum() > 100
    start = df.groupby("account_id")["mrr"].transform("first")
    expanded = df["true_stage"] == "expanded"
    assert (df.loc[expanded, "mrr"] > start[expanded]).mean() > 0.9


def test_signals_tell_the_stages_apart(df):
    m = df.groupby("true_stage")[["health_score", "key_feature_uses"]].mean()
    assert m.loc["at_risk", "health_score"] < 40 < m.loc["onboarding", "health_score"]
    assert (
        m.loc["value", "key_feature_uses"] >= 6 > m.loc["adopting", "key_feature_uses"]
    )
    rule = np.where(df["health_score"] < 40, "at_risk", "other")
    truth = np.where(df["true_stage"] == "at_risk", "at_risk", "other")
    assert (rule == truth)[df["true_stage"] != "churned"].mean() > 0.999
    # Expansion seats last as long as the spell in expanded.
    above = df["seats"] > df.groupby("account_id")["seats"].transform("first")
    assert (above == (df["true_stage"] == "expanded")).mean() > 0.999
    # onboarded_at falls in the first month out of onboarding.
    done = df["onboarded_at"].dt.to_period("M").dt.to_timestamp()
    onboarding = df["true_stage"] == "onboarding"
    later = df["onboarded_at"].isna() | (done > df["month"])
    assert later[onboarding].all()
    out = ~onboarding & (df["true_stage"] != "churned")
    assert (done[out] <= df.loc[out, "month"]).all()


def test_fitting_the_true_stages_recovers_the_journey(df):
    f = js.fit(
        df,
        customer="account_id",
        time="month",
        stage="true_stage",
        period="M",
        kind="snapshots",
        stages=STAGES,
        absorbing=["churned"],
        end=df.attrs["export_date"],
    )
    P = js.datasets.saas_journey().transition_matrix
    # 99.9% for each of the 30 rates: about 97% that all cover at once.
    s = f.summary(0.999)
    s = s[~s["fixed"]]
    truth = np.array([P.loc[a, b] for a, b in s.index])
    assert ((s["low"] <= truth) & (truth <= s["high"])).all()
    assert f.customers == 5000


def test_saas_journey_is_the_stated_one():
    j = js.datasets.saas_journey()
    assert j.stages == STAGES and j.absorbing == ["churned"]
    assert j.units.time_unit == "month" and j.units.currency == "USD"
    for frm, moves in SAAS_TRANSITIONS.items():
        for to, p in moves.items():
            assert j.transition_matrix.loc[frm, to] == p
    assert j.stage_info.loc["expanded", "owner"] == "Account management"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"accounts": 0}, "accounts must be >= 1"),
        ({"months": 2.5}, "months must be an integer"),
        ({"seed": -1}, "seed must be >= 0"),
        ({"start": "not a month"}, "start must be a month"),
        ({"truth": "yes"}, "truth must be True or False"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(js.InputError, match=message):
        js.datasets.saas_accounts(**kwargs)
