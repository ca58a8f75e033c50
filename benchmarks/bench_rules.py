"""Stage rules over 10 M account-months: js.stages_from (sort once, history
columns as whole-array operations, numpy.select for the first match) against
the way it is often written by hand, a per-account groupby-apply that walks
each account's rows in Python, timed on a sample of accounts and extrapolated
(the whole export would take hours). Then the stage log is fitted (the
counting is the core's, as js.fit does). Writes its section of RESULTS.md."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

import journeysim as js
from results_file import cpu_model, write_section

SECTION = "## Stage rules (bench_rules.py)"
ACCOUNTS = 280_000
MONTHS = 36  # 10.08 M account-months
SAMPLE = 2_000  # accounts for the hand-written loop

RULES = [
    js.Rule("cancelled", "cancelled_at <= period_end", terminal=True),
    js.Rule("onboarding", "tenure < 2 and rolling_mean(logins, 2) < 10"),
    js.Rule("at_risk", "health < 40 or change(logins) < -0.5 * previous(logins)"),
    js.Rule("expanded", "periods_since(renewed) <= 2 and change_since_start(mrr) > 0"),
    js.Rule("value", "rolling_mean(logins, 3) >= 10"),
]
CATCH_ALL = "adopting"


def export(accounts: int, months: int, seed: int = 1) -> pd.DataFrame:
    """A synthetic export: one row per account per month, sorted by account."""
    rng = np.random.default_rng(seed)
    n = accounts * months
    month = pd.PeriodIndex.from_ordinals(
        pd.Period("2023-01", "M").ordinal + np.arange(months), freq="M"
    ).end_time.normalize()
    cancel = pd.Series(
        month[rng.integers(0, months, accounts)]
        - pd.to_timedelta(rng.integers(0, 27, accounts), unit="D")
    ).where(rng.random(accounts) < 0.3)
    return pd.DataFrame(
        {
            "account_id": np.repeat(np.arange(accounts, dtype=np.int64), months),
            "month": np.tile(month.to_numpy(), accounts),
            "logins": rng.poisson(12, n).astype(float),
            "health": rng.uniform(0, 100, n),
            "mrr": np.round(rng.normal(1000, 150, n), 2),
            "renewed": rng.random(n) < 1 / 12,
            "cancelled_at": np.repeat(cancel.to_numpy(), months),
        }
    )


def by_hand(frame: pd.DataFrame) -> pd.Series:
    """The same rules written as a per-account loop over rows."""

    def one(g: pd.DataFrame) -> list[str]:
        out, since, prev, logins, start = [], None, None, [], None
        for row in g.itertuples(index=False):
            end = row.month + pd.offsets.MonthEnd(0) + pd.Timedelta(days=1)
            logins.append(row.logins)
            start = row.mrr if start is None else start
            since = 0 if row.renewed else (None if since is None else since + 1)
            tenure = len(logins) - 1
            if pd.notna(row.cancelled_at) and row.cancelled_at < end:
                out.append("cancelled")
                break
            if tenure < 2 and np.mean(logins[-2:]) < 10:
                out.append("onboarding")
            elif row.health < 40 or (
                prev is not None and row.logins - prev < -0.5 * prev
            ):
                out.append("at_risk")
            elif since is not None and since <= 2 and row.mrr - start > 0:
                out.append("expanded")
            elif np.mean(logins[-3:]) >= 10:
                out.append("value")
            else:
                out.append(CATCH_ALL)
            prev = row.logins
        return out

    return frame.groupby("account_id", sort=True).apply(one, include_groups=False)


def main() -> None:
    frame = export(ACCOUNTS, MONTHS)
    n = len(frame)
    t = time.perf_counter()
    r = js.stages_from(frame, rules=RULES, catch_all=CATCH_ALL)
    rules_s = time.perf_counter() - t
    t = time.perf_counter()
    f = js.fit(r.log, **r.fit_kwargs)
    fit_s = time.perf_counter() - t

    sample = frame[frame["account_id"] < SAMPLE]
    t = time.perf_counter()
    hand = by_hand(sample)
    hand_s = time.perf_counter() - t
    hand_total = hand_s * n / len(sample)
    # The two agree on the sample (same stages, row for row).
    mine = js.stages_from(sample, rules=RULES, catch_all=CATCH_ALL).log
    agree = [s for stages in hand for s in stages] == mine["stage"].astype(str).tolist()

    cov = r.coverage
    coverage = ", ".join(f"{s} {p:.1%}" for s, p in zip(cov["stage"], cov["share"]))
    load = os.getloadavg()[0]
    rows = [
        ("js.stages_from, 5 rules (sort, history, first match)", rules_s, n),
        ("js.fit of the stage log (counting in the core)", fit_s, len(r.log)),
        (
            f"groupby-apply row loop, {SAMPLE:,} accounts, extrapolated",
            hand_total,
            n,
        ),
    ]
    lines = [
        SECTION,
        "",
        f"{n:,} account-months ({ACCOUNTS:,} accounts x {MONTHS} months), "
        f"5 rules with rolling means, changes, periods since an event, a date "
        f"against the period end and a terminal stage; {os.cpu_count()} cores "
        f"({cpu_model()}). Target: under 10 s.",
        "",
        "| method | seconds | rows |",
        "|---|---:|---:|",
        *[f"| {m} | {s:,.2f} | {k:,} |" for m, s, k in rows],
        "",
        f"Speed-up over the hand-written loop: {hand_total / rules_s:,.0f}x. The "
        f"two give the same stage on every row of the sample: {agree}. "
        f"Coverage: {coverage}; {f.customers:,} accounts fitted. Load average "
        f"during the run: {load:.1f} on {os.cpu_count()} cores (shared machine).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    write_section(SECTION, text)


if __name__ == "__main__":
    main()
