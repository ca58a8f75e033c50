"""Stage rules: from an export of account signals (one row per account per
period) to the stage log :func:`journeysim.fit` reads.

An ordered list of rules, first match wins; each names a stage and a condition
over the row's signals and their history. Rows are sorted by (account, time)
once; history columns are whole-array operations (:mod:`.history`); the
rules are evaluated over all rows at once and the first match is picked with
``numpy.select``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._base.errors import InputError
from .events import period_index
from .expressions import SPECIAL, Expression, Scope, parse
from .history import Accounts

__all__ = ["Rule", "StageRules", "read_export", "stages_from"]

#: Examples listed in an error about rows.
EXAMPLES = 5


@dataclass(frozen=True)
class Rule:
    """One stage rule: rows where ``when`` holds are in ``stage`` (unless an
    earlier rule matched them).

    Parameters
    ----------
    stage : str
        The stage a matching row is in.
    when : str or callable
        A condition in the expression language (see docs/stage_rules.md),
        e.g. ``"health < 40 or rolling_mean(logins, 3) < 0.5 * first(logins)"``,
        or a Python function given the rows (sorted by account and time, with
        the signals and ``period_start``, ``period_end``, ``tenure`` as
        columns) that returns a true/false value per row.
    terminal : bool
        The stage ends the journey (cancelled, lost): the account's rows after
        its first terminal period are dropped, and ``fit`` treats it as
        absorbing.
    description : str
        What the rule means, shown in the coverage table.

    Examples
    --------
    >>> import journeysim as js
    >>> r = js.Rule("at_risk", "health < 40", description="health below 40")
    >>> r.stage, r.label, r.terminal
    ('at_risk', 'health below 40', False)
    """

    stage: str
    when: str | Callable[[pd.DataFrame], Any]
    terminal: bool = field(default=False, kw_only=True)
    description: str = field(default="", kw_only=True)

    def __post_init__(self) -> None:
        if not isinstance(self.stage, str) or not self.stage.strip():
            raise InputError(f"a rule's stage is a name, got {self.stage!r}")
        if not (isinstance(self.when, str) or callable(self.when)):
            raise InputError(
                f"rule for {self.stage!r}: when is an expression (text) or a "
                f"function, got {type(self.when).__name__}"
            )
        if not isinstance(self.terminal, bool):
            raise InputError(
                f"rule for {self.stage!r}: terminal is true or false, got "
                f"{self.terminal!r}"
            )
        if not isinstance(self.description, str):
            raise InputError(f"rule for {self.stage!r}: description is text")

    @property
    def label(self) -> str:
        """The rule as shown to people."""
        if self.description:
            return self.description
        if isinstance(self.when, str):
            return self.when
        return getattr(self.when, "__name__", "a function")


@dataclass(frozen=True, eq=False)
class StageRules:
    """What :func:`stages_from` found.

    Attributes
    ----------
    log : DataFrame
        The stage log: columns ``account``, ``time`` (the input's names) and
        ``stage``, one row per account-period kept, sorted.
    coverage : DataFrame
        Per rule (in order, then the catch-all): ``rule``, ``stage``,
        ``account_periods`` matched (first match) and their ``share`` of the
        log's rows.
    unmatched : DataFrame
        The (account, time) rows no rule matched (given the catch-all stage).
    stages : tuple of str
        The stages: in the order the rules name them, then the catch-all,
        then the terminal ones.
    terminal : tuple of str
        The terminal stages.
    censored : int
        Rows dropped because they are after the export date.
    after_terminal : int
        Rows dropped because they follow the account's first terminal period.

    Examples
    --------
    >>> import journeysim as js
    >>> import pandas as pd
    >>> export = pd.DataFrame({"account_id": [7, 7, 7], "month": [1, 2, 3],
    ...                        "health": [80, 30, 0]})
    >>> r = js.stages_from(export, period=1, rules=[
    ...     js.Rule("lost", "health == 0", terminal=True),
    ...     js.Rule("at_risk", "health < 40"),
    ...     js.Rule("healthy", "health >= 40"),
    ... ])
    >>> r.log["stage"].tolist(), r.stages
    (['healthy', 'at_risk', 'lost'], ('at_risk', 'healthy', 'lost'))
    >>> f = js.fit(r.log, **r.fit_kwargs)
    >>> f.counts.loc["at_risk", "lost"]
    np.int64(1)
    """

    log: pd.DataFrame
    coverage: pd.DataFrame
    unmatched: pd.DataFrame
    stages: tuple[str, ...]
    terminal: tuple[str, ...]
    account: str
    time: str
    period: str | int
    censored: int
    after_terminal: int

    @property
    def fit_kwargs(self) -> dict[str, Any]:
        """The arguments that fit the log: ``js.fit(r.log, **r.fit_kwargs)``."""
        return {
            "customer": self.account,
            "time": self.time,
            "stage": "stage",
            "kind": "snapshots",
            "period": self.period,
            "stages": list(self.stages),
            "absorbing": list(self.terminal),
        }

    def __repr__(self) -> str:
        return (
            f"StageRules({len(self.log):,} account-periods, "
            f"{self.log[self.account].nunique():,} accounts, stages "
            f"{list(self.stages)}, {len(self.unmatched):,} unmatched)"
        )


def read_export(path: str | os.PathLike, columns: Sequence[str] = ()) -> pd.DataFrame:
    """An account export from a CSV or Parquet file; empty cells are missing
    values (an account not cancelled has no cancellation date)."""
    p = Path(os.fspath(path))
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    suffix = p.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(p)
        elif suffix == ".csv":
            frame = pd.read_csv(p, low_memory=False)
        else:
            raise InputError(f"{p}: an export is a .csv or .parquet file")
    except UnicodeDecodeError as err:
        raise InputError(f"{p}: the file is not UTF-8 text ({err.reason})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "empty"
        raise InputError(f"{p}: not a readable CSV file: {first}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{p}: no column(s) {missing}; the columns are {list(frame.columns)}"
        )
    return frame


def _rules(rules: Any) -> list[Rule]:
    if isinstance(rules, Rule | Mapping | str) or not isinstance(rules, Sequence):
        raise InputError(
            "rules is a list of js.Rule (or {stage:, when:, terminal:} mappings)",
            key=("rules",),
        )
    if not rules:
        raise InputError("rules is empty: give at least one rule", key=("rules",))
    out = []
    for i, r in enumerate(rules):
        if isinstance(r, Mapping):
            unknown = set(r) - {"stage", "when", "terminal", "description"}
            if unknown or "stage" not in r or "when" not in r:
                raise InputError(
                    f"rule {i + 1}: a rule has stage:, when: and optionally "
                    f"terminal: and description:, got keys {sorted(map(str, r))}",
                    key=("rules", i),
                )
            try:
                r = Rule(
                    r["stage"],
                    r["when"],
                    terminal=r.get("terminal", False),
                    description=r.get("description", ""),
                )
            except InputError as err:
                raise InputError(f"rule {i + 1}: {err}", key=("rules", i)) from None
        elif not isinstance(r, Rule):
            raise InputError(
                f"rule {i + 1}: expected a js.Rule, got {type(r).__name__}",
                key=("rules", i),
            )
        out.append(r)
    return out


def _signals(signals: Any, columns: set[str]) -> dict[str, Expression]:
    """The named signals, parsed, with cycles among them refused."""
    if signals is None:
        return {}
    if not isinstance(signals, Mapping):
        raise InputError("signals is a mapping of name -> expression", key=("signals",))
    parsed: dict[str, Expression] = {}
    for name, text in signals.items():
        key = ("signals", name)
        if not isinstance(name, str) or not name.isidentifier():
            raise InputError(f"signal {name!r}: a signal's name is a word", key=key)
        if name in columns or name in SPECIAL:
            raise InputError(
                f"signal {name!r}: the name is already a column; choose another",
                key=key,
            )
        try:
            parsed[name] = parse(text)
        except InputError as err:
            raise InputError(f"signal {name!r}: {err}", key=key) from None
    for name, expr in parsed.items():
        unknown = sorted(expr.names - columns - set(parsed))
        if unknown:
            raise InputError(
                f"signal {name!r}: unknown column {unknown[0]!r} in {expr.text!r}; "
                f"the columns are {sorted(columns)}",
                key=("signals", name),
            )
    state: dict[str, int] = {}  # 1: being visited, 2: done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*path[path.index(name) :], name]
            raise InputError(
                f"signal {name!r}: signals refer to each other in a circle: "
                + " -> ".join(cycle),
                key=("signals", name),
            )
        state[name] = 1
        for ref in sorted(parsed[name].names & set(parsed)):
            visit(ref, [*path, name])
        state[name] = 2

    for name in parsed:
        visit(name, [])
    return parsed


def _where(i: int, rule: Rule) -> str:
    return f"rule {i + 1} ({rule.stage})"


def stages_from(
    frame: pd.DataFrame | str | os.PathLike,
    *,
    account: str = "account_id",
    time: str = "month",
    rules: Sequence[Rule | Mapping],
    signals: Mapping[str, str] | None = None,
    export_date: Any = None,
    catch_all: str | None = None,
    period: str | int = "M",
) -> StageRules:
    """Stages of every account-period from its signals, by ordered rules.

    Parameters
    ----------
    frame : DataFrame or path
        The export: one row per account per period (a CSV or Parquet file is
        read with empty cells as missing values).
    account, time : str
        The account id and time columns.
    rules : list of Rule (or mappings with stage, when, terminal)
        In order: a row is in the stage of the first rule it matches.
    signals : mapping of name -> expression, optional
        Named derived signals, usable in rules and in each other (a circle is
        an error): ``{"engaged": "rolling_mean(logins, 3) > 5"}``.
    export_date : date, optional
        When the export was taken: rows of later periods are dropped. An
        account's last period is censored (it may go on), never churn.
    catch_all : str, optional
        The stage of rows no rule matches. Without it they are an error.
    period : {"M", "W", "D"} or int
        How times are bucketed into periods, as in :func:`journeysim.fit`.

    Returns
    -------
    StageRules
        ``.log`` for ``js.fit(r.log, **r.fit_kwargs)``, ``.coverage``,
        ``.unmatched``.

    Examples
    --------
    >>> import journeysim as js
    >>> import pandas as pd
    >>> export = pd.DataFrame({
    ...     "account_id": [1, 1, 1, 2, 2],
    ...     "month": [1, 2, 3, 1, 2],
    ...     "logins": [2, 9, 3, 8, 0],
    ... })
    >>> r = js.stages_from(export, time="month", period=1, rules=[
    ...     js.Rule("lost", "logins == 0", terminal=True),
    ...     js.Rule("at_risk", "change(logins) < -3"),
    ...     js.Rule("active", "logins >= 5"),
    ... ], catch_all="onboarding")
    >>> r.log["stage"].tolist()
    ['onboarding', 'active', 'at_risk', 'active', 'lost']
    """
    rules = _rules(rules)
    if isinstance(frame, str | os.PathLike):
        frame = read_export(frame, [account, time])
    if not isinstance(frame, pd.DataFrame):
        raise InputError(
            f"the export is a DataFrame or a CSV/Parquet path, got "
            f"{type(frame).__name__}"
        )
    for what, col in (("account", account), ("time", time)):
        if col not in frame.columns:
            raise InputError(
                f"{what}: no column {col!r}; the columns are {list(frame.columns)}",
                key=(what,),
            )
    if len(frame) == 0:
        raise InputError("the export has no rows")
    if account == time or "stage" in (account, time):
        raise InputError("account and time must be two columns other than 'stage'")
    if catch_all is not None and (not isinstance(catch_all, str) or not catch_all):
        raise InputError(f"catch_all is a stage name, got {catch_all!r}")
    columns = {str(c) for c in frame.columns}
    named = _signals(signals, columns)
    exprs: list[Expression | None] = []
    for i, rule in enumerate(rules):
        if not isinstance(rule.when, str):
            exprs.append(None)
            continue
        try:
            expr = parse(rule.when)
        except InputError as err:
            raise InputError(
                f"{_where(i, rule)}: {err}", key=("rules", i, "when")
            ) from None
        unknown = sorted(expr.names - columns - set(named))
        if unknown:
            raise InputError(
                f"{_where(i, rule)}: unknown column {unknown[0]!r} in "
                f"{rule.when!r}; the columns are {sorted(columns)}"
                + (f" and the signals {sorted(named)}" if named else ""),
                key=("rules", i, "when"),
            )
        exprs.append(expr)
    # The journey's order: the rules' stages, the catch-all, the terminal ones.
    terminal = tuple(dict.fromkeys(r.stage for r in rules if r.terminal))
    named_stages = [r.stage for r in rules] + [catch_all] * bool(catch_all)
    stages = [s for s in dict.fromkeys(named_stages) if s not in terminal]
    stages += terminal
    for i, rule in enumerate(rules):
        if not rule.terminal and rule.stage in terminal:
            raise InputError(
                f"{_where(i, rule)}: {rule.stage!r} is terminal in another rule; "
                "mark every rule of a stage terminal or none",
                key=("rules", i, "terminal"),
            )
    if catch_all in terminal:
        raise InputError(f"catch_all {catch_all!r} is a terminal stage")

    # Periods, export date, one row per account-period, sorted once.
    if frame[account].isna().any() or frame[time].isna().any():
        bad = frame[frame[account].isna() | frame[time].isna()]
        raise InputError(
            f"{len(bad):,} rows have no account or no time, e.g. row {bad.index[0]!r}"
        )
    periods = period_index(frame[time], period, time)
    censored = 0
    if export_date is not None:
        end = _export_period(export_date, period, time, frame[time])
        keep = periods <= end
        censored = int((~keep).sum())
        if censored:
            frame, periods = frame[keep], periods[keep]
    codes, ids = pd.factorize(frame[account], sort=False)
    step = np.diff(codes)
    # Sorted by account and time already (as exports often are): no sort, no copy.
    if not ((step > 0) | ((step == 0) & (np.diff(periods) > 0))).all():
        order = np.lexsort((periods, codes))
        frame = frame.iloc[order]
        codes, periods = codes[order], periods[order]
    frame = frame.reset_index(drop=True)
    same = (codes[1:] == codes[:-1]) & (periods[1:] == periods[:-1])
    if same.any():
        k = int(np.argmax(same))
        raise InputError(
            f"{int(same.sum()):,} account-periods have more than one row, e.g. "
            f"account {ids[codes[k]]!r} at {frame[time].iloc[k]!r} and "
            f"{frame[time].iloc[k + 1]!r}: an export has one row per account "
            "per period"
        )
    freq = None if isinstance(period, int) else str(period)
    accounts = Accounts.of(
        codes.astype(np.int64), periods, freq, period if freq is None else 1
    )
    scope = Scope(frame, accounts, named)

    # Every rule on every row; the first match wins.
    masks = []
    for i, (rule, expr) in enumerate(zip(rules, exprs)):
        try:
            masks.append(_mask(rule, expr, scope, frame, named))
        except InputError as err:
            raise InputError(
                f"{_where(i, rule)}: {err}", key=("rules", i, "when")
            ) from None
    stage_of = np.array([stages.index(r.stage) for r in rules], dtype=np.int64)
    matched = np.select(masks, np.arange(len(rules)), default=-1)
    code = np.where(matched >= 0, stage_of[np.maximum(matched, 0)], -1)

    # After the first terminal period an account has no more rows.
    is_terminal = np.isin(code, [stages.index(t) for t in terminal])
    before = np.cumsum(is_terminal) - is_terminal
    keep = (before - before[accounts.first]) == 0
    after_terminal = int((~keep).sum())
    ids_kept = frame[account].to_numpy()
    times_kept = frame[time].to_numpy()
    if after_terminal:
        ids_kept, times_kept = ids_kept[keep], times_kept[keep]
        code, matched = code[keep], matched[keep]

    nomatch = matched < 0
    unmatched = pd.DataFrame({account: ids_kept[nomatch], time: times_kept[nomatch]})
    if nomatch.any():
        if catch_all is None:
            ex = unmatched.head(EXAMPLES)
            shown = ", ".join(f"({a!r}, {t!r})" for a, t in zip(ex[account], ex[time]))
            raise InputError(
                f"{int(nomatch.sum()):,} account-periods match no rule, e.g. "
                f"{shown}; add a rule for them or a catch_all stage",
                key=("catch_all",),
            )
        code = np.where(nomatch, stages.index(catch_all), code)
    log = pd.DataFrame(
        {
            account: ids_kept,
            time: times_kept,
            "stage": pd.Categorical.from_codes(code, categories=stages),
        }
    )
    counts = np.bincount(matched + 1, minlength=len(rules) + 1)
    n = max(len(log), 1)
    rows = [
        (r.label, r.stage, int(counts[i + 1]), counts[i + 1] / n)
        for i, r in enumerate(rules)
    ]
    if catch_all is not None:
        rows.append(("(no rule matched)", catch_all, int(counts[0]), counts[0] / n))
    coverage = pd.DataFrame(
        rows,
        columns=["rule", "stage", "account_periods", "share"],
        index=pd.RangeIndex(1, len(rows) + 1, name="rule number"),
    )
    return StageRules(
        log=log,
        coverage=coverage,
        unmatched=unmatched,
        stages=tuple(stages),
        terminal=terminal,
        account=account,
        time=time,
        period=period,
        censored=censored,
        after_terminal=after_terminal,
    )


def _mask(
    rule: Rule,
    expr: Expression | None,
    scope: Scope,
    frame: pd.DataFrame,
    named: dict[str, Expression],
) -> np.ndarray:
    if expr is not None:
        value = scope.evaluate(expr)
        if not pd.api.types.is_bool_dtype(value.dtype):
            raise InputError(
                f"{rule.when!r} is not a condition (true/false); compare it, "
                f"e.g. {rule.when} > 0"
            )
        return value.to_numpy(dtype=bool)
    view = frame.copy(deep=False)
    for name in [*named, *[s for s in ("period_start", "period_end", "tenure")]]:
        if name in view.columns:
            continue
        try:
            view[name] = scope.name(name).to_numpy()
        except InputError:  # period bounds with numeric times
            continue
    try:
        value = rule.when(view)
    except InputError:
        raise
    except Exception as err:  # the user's function: report, do not crash
        raise InputError(f"the function raised {type(err).__name__}: {err}") from err
    value = np.asarray(value)
    if value.shape != (len(frame),):
        raise InputError(
            f"the function returned {value.shape} values for {len(frame):,} rows"
        )
    if value.dtype == object:
        value = pd.Series(value).fillna(False).to_numpy()
    if value.dtype != bool:
        if not np.isin(np.unique(value), [0, 1]).all():
            raise InputError("the function must return true/false per row")
        value = value.astype(bool)
    return value


def _export_period(export_date: Any, period: str | int, column: str, times) -> int:
    """The period the export date falls in, as the time column counts."""
    if isinstance(period, int) and not isinstance(period, bool):
        if not isinstance(export_date, int | float) or isinstance(export_date, bool):
            raise InputError(
                f"with numeric times, export_date is a time, got {export_date!r}",
                key=("export_date",),
            )
        return int(np.floor(export_date / period))
    try:
        stamp = pd.Timestamp(export_date)
    except (ValueError, TypeError):
        raise InputError(
            f"export_date: not a date: {export_date!r}", key=("export_date",)
        ) from None
    if stamp is pd.NaT:
        raise InputError("export_date: not a date", key=("export_date",))
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return int(period_index(pd.Series([stamp]), period, "export_date")[0])
