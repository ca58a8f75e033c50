"""A synthetic but realistic B2B SaaS export, one row per account and month,
generated on demand from :func:`~journeysim.datasets.saas_journey`: the stage
paths come from the core's simulation, the signals from each month's stage."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._base.checks import check_integer
from .._base.errors import InputError
from .saas_journey import SAAS_STAGES, saas_journey

__all__ = ["DEFAULT_SEED", "saas_accounts"]

#: The seed the sample is generated with unless another is given.
DEFAULT_SEED = 2024

_PLANS = np.array(["starter", "growth", "enterprise"], dtype=object)
_PLAN_SHARE = [0.6, 0.3, 0.1]
_SEATS_BASE = np.array([2, 10, 40])  # + Poisson(_SEATS_EXTRA) at signup
_SEATS_EXTRA = np.array([4.0, 15.0, 80.0])
_PRICE = np.array([25.0, 45.0, 70.0])  # list price per seat per month, USD
_SUCCESS_COST = np.array([0.0, 50.0, 400.0])  # a CSM's time per month, USD
_TICKET_COST = 60.0  # USD per support ticket
_RENEWAL_UPLIFT = 1.05  # price on renewal while in value or expanded

# Per stage (in SAAS_STAGES order, churned last): the signals' distributions.
_USE = np.array([0.35, 0.55, 0.80, 0.85, 0.25, 0.0])  # share of seats active
# The key feature, the health score and the seats follow the stage closely
# enough that documented rules (docs/datasets.md) recover it in >99.9% of
# account-months: the stages are defined by these signals, as a CS team does.
_KEY_FEATURE = np.array([0.5, 0.8, 20.0, 24.0, 2.0, 0.0])  # uses per month
_TICKETS = np.array([1.5, 0.8, 0.4, 0.5, 2.5, 0.0])  # x (1 + seats / 40) a month
_HEALTH = np.array([60.0, 65.0, 78.0, 84.0, 22.0, np.nan])  # mean
_HEALTH_SD = 5.0
_NPS = np.array([7.6, 7.4, 8.8, 9.2, 4.8, np.nan])  # mean answer 0-10; sd 1.6
_SURVEYED = 0.1  # share of account-months with a survey answer

COLUMNS = [
    "account_id",
    "month",
    "signup_month",
    "plan",
    "seats",
    "mrr",
    "active_users",
    "logins",
    "key_feature_uses",
    "support_tickets",
    "support_cost",
    "health_score",
    "nps",
    "renewal_date",
    "cancelled_at",
    "onboarded_at",
]


def _signup_weights(months: int, first: pd.Period) -> np.ndarray:
    """Relative sign-ups per month: 2% growth a month, busy quarter ends and
    January, a quiet August."""
    calendar = (first.month - 1 + np.arange(months)) % 12 + 1
    season = np.ones(months)
    season[np.isin(calendar, [3, 6, 9, 12])] = 1.3
    season[calendar == 1] = 1.2
    season[calendar == 8] = 0.75
    return 1.02 ** np.arange(months) * season


def _paths(accounts: int, months: int, seed: int, observed: np.ndarray):
    """Each account's stage in each month it is observed: (account, tenure,
    stage code) arrays, from the journey simulated in the core; an account is
    observed ``observed[i]`` months (the export ends), and a churned account
    in its cancellation month only."""
    sim = saas_journey().simulate(
        accounts, months, seed=seed, record="events", progress=False
    )
    log = sim.stage_log()
    cust = log["customer"].to_numpy(np.int64)
    start = log["period"].to_numpy(np.int64)
    code = log["stage"].cat.codes.to_numpy(np.int64)
    nxt = np.empty_like(start)
    nxt[:-1] = start[1:]
    last = np.ones(len(cust), dtype=bool)
    last[:-1] = cust[1:] != cust[:-1]
    nxt[last] = months
    churned = len(SAAS_STAGES) - 1
    nxt = np.where(code == churned, start + 1, nxt)  # the cancellation month
    span = np.clip(np.minimum(nxt, observed[cust]) - start, 0, None)
    offsets = np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
    return (
        np.repeat(cust, span),
        np.repeat(start, span) + offsets,
        np.repeat(code, span),
    )


def _within(account: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Cumulative sums of ``steps`` within each account (rows grouped by
    account, in time order)."""
    total = np.cumsum(steps)
    first = np.r_[True, account[1:] != account[:-1]]
    base = np.maximum.accumulate(np.where(first, np.arange(len(steps)), 0))
    return total - total[base] + steps[base]


def _month_starts(ordinals: np.ndarray) -> pd.DatetimeIndex:
    return pd.PeriodIndex.from_ordinals(ordinals, freq="M").to_timestamp()


def saas_accounts(
    accounts: int = 5000,
    months: int = 36,
    *,
    seed: int = DEFAULT_SEED,
    start: Any = "2024-01",
    truth: bool = False,
) -> pd.DataFrame:
    """A synthetic B2B SaaS account-month export, generated on demand.

    Synthetic, not real customers: every account follows
    :func:`saas_journey` (monthly moves between onboarding, adopting,
    value, expanded, at_risk and churned), simulated by the core with
    ``seed``, and each month's signals are drawn from that month's stage.
    The same arguments give the same frame, row for row.

    How it is made:

    - **Sign-ups.** ``accounts`` accounts sign up over the ``months`` months
      from ``start`` (2% growth a month; quarter ends 30% and January 20%
      busier, August 25% quieter). Each starts in ``onboarding`` in its
      sign-up month.
    - **Plans and money.** 60% starter, 30% growth, 10% enterprise, with
      2 + Poisson(4), 10 + Poisson(15) and 40 + Poisson(80) seats at
      $25, $45 and $70 per seat per month (the contract's seats). While in
      ``expanded`` an account has 20-60% more seats (at least one more:
      expansion); half the spells in ``at_risk`` cut 10-40% of them
      (contraction); back in another stage it has its contract's seats.
      Contracts renew every 12 months from sign-up; a renewal while in
      ``value`` or ``expanded`` raises the price by 5%.
      ``mrr = seats x price``. ``support_cost`` is $60 per ticket plus a
      success manager's time ($50 a month for growth, $400 for enterprise).
    - **Signals by stage** (onboarding, adopting, value, expanded,
      at_risk): share of seats active 35/55/80/85/25% (``active_users``,
      about 14 ``logins`` each); ``key_feature_uses`` Poisson
      0.5/0.8/20/24/2; ``support_tickets`` Poisson 1.5/0.8/0.4/0.5/2.5 x
      (1 + seats / 40); ``health_score`` normal with means 60/65/78/84/22
      (sd 5, clipped to 0-100); ``nps``, a 0-10 answer with means
      7.6/7.4/8.8/9.2/4.8 (sd 1.6),
      for a random 10% of account-months (NaN otherwise).
    - **Onboarding.** ``onboarded_at`` is the day the onboarding project
      was closed, in the account's first month out of ``onboarding``, on
      all its rows (NaT if it never left onboarding before cancelling or
      the export's end).
    - **Cancellations.** An account that moves to ``churned`` has one last
      row in its cancellation month (``mrr``, seats and usage 0, no health
      score), and ``cancelled_at`` (a date in that month) on all its rows;
      it has no rows after. Others have ``cancelled_at`` NaT.
    - **Right-censoring.** The export ends with the last month: accounts
      still customers then simply have no later rows (the export date,
      the last day of the last month, is in ``frame.attrs["export_date"]``).

    Parameters
    ----------
    accounts : int, default 5000
        Accounts that sign up over the export's months.
    months : int, default 36
        Months in the export, from ``start``.
    seed : int, default 2024
        The seed of the simulation and of the signals.
    start : str or Timestamp, default "2024-01"
        The first month.
    truth : bool, default False
        Add ``true_stage``, each row's stage in the generating journey: for
        tests and teaching (a real export has no such column).

    Returns
    -------
    DataFrame
        One row per account and month, sorted by account then month:
        ``account_id`` (``"ACC-00001"``, ... in sign-up order), ``month`` and
        ``signup_month`` (month-start Timestamps), ``plan``, ``seats``,
        ``mrr`` (USD per month), ``active_users``, ``logins``,
        ``key_feature_uses``, ``support_tickets``, ``support_cost`` (USD),
        ``health_score`` (0-100), ``nps`` (0-10 or NaN), ``renewal_date``
        (the next contract renewal, month start), ``cancelled_at``
        (Timestamp or NaT), ``onboarded_at`` (Timestamp or NaT), and with
        ``truth=True`` ``true_stage``.

    Notes
    -----
    The signals follow the stages closely enough that these rules (see
    docs/datasets.md) recover the true stage in more than 99.9% of
    account-months: ``churned`` when ``cancelled_at <= period_end``
    (terminal), ``at_risk`` when ``health_score < 40``, ``onboarding`` when
    ``not onboarded_at <= period_end``, ``expanded`` when
    ``seats > first(seats)``, ``value`` when ``key_feature_uses >= 6``, else
    ``adopting``.

    Examples
    --------
    >>> import journeysim as js
    >>> df = js.datasets.saas_accounts(accounts=200, months=12)
    >>> df["account_id"].nunique(), df["month"].min().date()
    (200, datetime.date(2024, 1, 1))
    >>> bool((df["mrr"] >= 0).all())
    True
    """
    accounts = check_integer(accounts, "accounts", 1, 10_000_000)
    months = check_integer(months, "months", 1, 600)
    seed = check_integer(seed, "seed", 0, 2**63 - 1)
    if not isinstance(truth, bool):
        raise InputError(f"truth must be True or False, got {truth!r}")
    try:
        first = pd.Period(start, freq="M")
    except (ValueError, TypeError):
        raise InputError(
            f"start must be a month such as '2024-01', got {start!r}"
        ) from None
    rng = np.random.default_rng(seed)
    weights = _signup_weights(months, first)
    cohort = rng.multinomial(accounts, weights / weights.sum())
    signup = np.repeat(np.arange(months), cohort)  # month index, per account
    acc, tenure, stage = _paths(accounts, months, seed, months - signup)
    n = len(acc)
    churned = len(SAAS_STAGES) - 1
    gone = stage == churned

    plan = rng.choice(3, size=accounts, p=_PLAN_SHARE)
    seats0 = _SEATS_BASE[plan] + rng.poisson(_SEATS_EXTRA[plan])
    first_row = np.r_[True, acc[1:] != acc[:-1]]
    # A spell: consecutive months of one account in one stage. Expansion
    # seats are bought for a spell in expanded; half the spells in at_risk
    # cut seats; both end with the spell (seats back to the contract's).
    spell = np.cumsum(first_row | np.r_[True, stage[1:] != stage[:-1]]) - 1
    spells = spell[-1] + 1 if n else 0
    grow = rng.uniform(1.2, 1.6, spells)[spell]
    cut = np.where(rng.random(spells) < 0.5, rng.uniform(0.6, 0.9, spells), 1.0)
    expanded, at_risk = SAAS_STAGES.index("expanded"), SAAS_STAGES.index("at_risk")
    base = seats0[acc]
    seats = np.select(
        [stage == expanded, stage == at_risk],
        [
            np.maximum(base + 1, np.round(base * grow)),
            np.maximum(1, np.minimum(base, np.round(base * cut[spell]))),
        ],
        base,
    )
    renews = (tenure > 0) & (tenure % 12 == 0) & np.isin(stage, [2, expanded])
    price = _PRICE[plan][acc] * _RENEWAL_UPLIFT ** _within(acc, renews.astype(float))
    seats = np.where(gone, 0, seats).astype(np.int64)
    mrr = np.round(seats * price, 2)

    active = rng.binomial(seats, _USE[stage])
    logins = rng.poisson(active * 14.0)
    key_uses = rng.poisson(_KEY_FEATURE[stage])
    tickets = rng.poisson(_TICKETS[stage] * (1 + seats / 40))
    support_cost = np.where(
        gone, 0.0, tickets * _TICKET_COST + _SUCCESS_COST[plan][acc]
    )
    health = np.clip(np.round(rng.normal(_HEALTH[stage], _HEALTH_SD)), 0, 100)
    answer = np.clip(np.round(rng.normal(_NPS[stage], 1.6)), 0, 10)
    nps = np.where((rng.random(n) < _SURVEYED) & ~gone, answer, np.nan)

    signup_ord = first.ordinal + signup[acc]
    month = _month_starts(signup_ord + tenure)
    renewal = _month_starts(signup_ord + 12 * (tenure // 12 + 1))
    cancel_day = rng.integers(0, 28, accounts)
    cancel = np.full(accounts, np.datetime64("NaT"), dtype="datetime64[ns]")
    cancel[acc[gone]] = month[gone].to_numpy() + cancel_day[acc[gone]] * np.timedelta64(
        1, "D"
    )
    # Onboarding ends (the project is closed) in the first month out of it.
    left = (stage != 0) & (stage != churned) & (np.r_[-1, stage[:-1]] == 0) & ~first_row
    onboarded = np.full(accounts, np.datetime64("NaT"), dtype="datetime64[ns]")
    onboarded[acc[left]] = month[left].to_numpy() + rng.integers(
        0, 28, left.sum()
    ) * np.timedelta64(1, "D")
    width = max(5, len(str(accounts)))
    ids = np.array([f"ACC-{i + 1:0{width}d}" for i in range(accounts)], dtype=object)
    frame = pd.DataFrame(
        {
            "account_id": ids[acc],
            "month": month,
            "signup_month": _month_starts(signup_ord),
            "plan": _PLANS[plan][acc],
            "seats": seats,
            "mrr": mrr,
            "active_users": active.astype(np.int64),
            "logins": logins.astype(np.int64),
            "key_feature_uses": key_uses.astype(np.int64),
            "support_tickets": tickets.astype(np.int64),
            "support_cost": np.round(support_cost, 2),
            "health_score": health,
            "nps": nps,
            "renewal_date": renewal,
            "cancelled_at": pd.DatetimeIndex(cancel[acc]).as_unit(month.unit),
            "onboarded_at": pd.DatetimeIndex(onboarded[acc]).as_unit(month.unit),
        }
    )
    if truth:
        frame["true_stage"] = np.array(SAAS_STAGES, dtype=object)[stage]
    frame.attrs["export_date"] = (first + months).to_timestamp() - pd.Timedelta(days=1)
    frame.attrs["synthetic"] = True
    return frame
