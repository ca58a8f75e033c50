"""Stage rules in a file (``stages.yaml``): the rules, named signals, the
account and time columns, the period and the export date, read safely (the
model files' YAML/JSON reader) with the line of every key, so that an error
names the file, the line and the key::

    account: account_id
    time: month
    period: M
    export_date: 2026-06-30
    catch_all: active
    signals:
      engaged: rolling_mean(logins, 3) > 5
    rules:
      - stage: cancelled
        when: cancelled_at <= period_end
        terminal: true
      - stage: at_risk
        when: health < 40
    values:             # optional: value streams measured per stage
      revenue: mrr
      cost_to_serve: support_cost
    net: {cost_to_serve: -1}
    scores: {nps: nps}
    units:              # optional: what the fitted journey counts in
      currency: USD     # ISO 4217; time_unit: month (else from period: M);
      locale: en_US     # locale: how numbers are written
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._base.errors import InputError, spec_path
from .._base.units import check_units
from .parse import JsonReader, Refused, parse_yaml

__all__ = ["RuleSpec", "RulesFile", "read_rules"]

#: Largest rules file read, in bytes.
MAX_BYTES = 1_000_000

_KEYS = (
    "account",
    "time",
    "period",
    "export_date",
    "catch_all",
    "signals",
    "rules",
    "values",
    "scores",
    "net",
    "units",
    "format",
)
_UNIT_KEYS = ("time_unit", "currency", "locale")
_RULE_KEYS = ("stage", "when", "terminal", "description")


@dataclass(frozen=True)
class RuleSpec:
    """One rule as written in the file (its expression is checked when the
    rules are applied)."""

    stage: str
    when: str
    terminal: bool = False
    description: str = ""


@dataclass(frozen=True, eq=False)
class RulesFile:
    """A rules file: what :func:`journeysim.stages_from` needs besides the
    export, and the line of every key (for errors found later, when the rules
    meet the data: :meth:`locate`)."""

    path: str
    rules: tuple[RuleSpec, ...]
    signals: Mapping[str, str] = field(default_factory=dict)
    account: str = "account_id"
    time: str = "month"
    period: str | int = "M"
    export_date: Any = None
    catch_all: str | None = None
    value_columns: Mapping[str, str] = field(default_factory=dict)
    score_columns: Mapping[str, str] = field(default_factory=dict)
    net: Mapping[str, float] = field(default_factory=dict)
    #: ``units:`` as written (``time_unit``, ``currency``, ``locale``; None
    #: where not given), checked as a Journey checks them.
    time_unit: str | None = None
    currency: str | None = None
    locale: str | None = None
    lines: Mapping[tuple, int] = field(default_factory=dict)

    def locate(self, err: InputError) -> InputError:
        """``err`` (raised with a key path of this file's document) with the
        file, the line and the key in front."""
        return InputError(
            _located(self.path, self.lines, err.key, str(err)), key=err.key
        )


def _located(name: str, lines: Mapping, key: tuple, message: str) -> str:
    line = None
    for k in range(len(key), 0, -1):
        line = lines.get(tuple(key[:k]))
        if line is not None:
            break
    where = f"{name}:{line}" if line is not None else name
    path = spec_path(key)
    return f"{where}: {path}: {message}" if path else f"{where}: {message}"


def read_rules(path: str | os.PathLike) -> RulesFile:
    """Read a rules file (``.yaml``, ``.yml`` or ``.json``).

    Raises
    ------
    InputError
        Naming the file, the line and the key of what is wrong.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from journeysim.io.rules_file import read_rules
    >>> path = Path(tempfile.mkdtemp()) / "stages.yaml"
    >>> _ = path.write_text(
    ...     "account: id\\nrules:\\n  - {stage: active, when: logins > 0}\\n")
    >>> r = read_rules(path)
    >>> r.account, r.rules[0].stage, r.rules[0].when
    ('id', 'active', 'logins > 0')
    """
    name = os.fspath(path)
    p = Path(name)
    if not p.is_file():
        raise InputError(f"{name}: no such file")
    suffix = p.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise InputError(f"{name}: a rules file is .yaml, .yml or .json")
    raw = p.read_bytes()[: MAX_BYTES + 1]
    if len(raw) > MAX_BYTES:
        raise InputError(f"{name}: more than {MAX_BYTES:,} bytes for a rules file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise InputError(f"{name}:{line}: the file is not UTF-8 text") from None
    try:
        if suffix == ".json":
            data, lines = JsonReader(text).parse()
        else:
            data, lines = parse_yaml(text)
    except Refused as err:
        where = f"{name}:{err.line}" if err.line else name
        raise InputError(f"{where}: {err.message}") from None

    def fail(key: tuple, message: str):
        raise InputError(_located(name, lines, key, message), key=key)

    if not isinstance(data, Mapping):
        fail((), "a rules file is a mapping with a 'rules:' list")
    for k in data:
        if k not in _KEYS:
            fail((k,), f"unknown key {k!r}; the keys are {list(_KEYS[:-1])}")
    items = data.get("rules")
    if not isinstance(items, list) or not items:
        fail(("rules",), "rules: is a list of {stage:, when:, terminal:}")
    rules = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            fail(("rules", i), "a rule is a mapping with stage: and when:")
        for k in item:
            if k not in _RULE_KEYS:
                fail(("rules", i, k), f"unknown key {k!r}; a rule has {_RULE_KEYS}")
        for k in ("stage", "when"):
            if k not in item:
                fail(("rules", i), f"the rule has no {k}:")
        stage, when = item["stage"], item["when"]
        if isinstance(when, bool):  # `when: true`: every row
            when = str(when)
        if not isinstance(stage, str) or not stage:
            fail(("rules", i, "stage"), f"a stage is a name, got {stage!r}")
        if not isinstance(when, str):
            fail(
                ("rules", i, "when"),
                f"a condition is text (quote it), got {type(when).__name__}",
            )
        terminal = item.get("terminal", False)
        if not isinstance(terminal, bool):
            fail(("rules", i, "terminal"), f"true or false, got {terminal!r}")
        desc = item.get("description", "")
        if not isinstance(desc, str):
            fail(("rules", i, "description"), "a description is text")
        rules.append(RuleSpec(stage, when, terminal, desc))
    signals = data.get("signals") or {}
    if not isinstance(signals, Mapping):
        fail(("signals",), "signals: is a mapping of name: expression")
    for k, v in signals.items():
        if not isinstance(v, str):
            fail(("signals", k), f"a signal is an expression (text), got {v!r}")
    columns = {}
    for part, what in (("values", "value stream"), ("scores", "score")):
        named = data.get(part) or {}
        if not isinstance(named, Mapping):
            fail((part,), f"{part}: is a mapping of {what}: column")
        for k, v in named.items():
            if not isinstance(v, str) or not v:
                fail((part, k), f"the {what}'s column is a name, got {v!r}")
        columns[part] = dict(named)
    net = data.get("net") or {}
    if not isinstance(net, Mapping):
        fail(("net",), "net: is a mapping of value stream: weight (1 or -1)")
    for k, v in net.items():
        if k not in columns["values"]:
            fail(
                ("net", k),
                f"{k!r} is not a stream under values: {list(columns['values'])}",
            )
        if isinstance(v, bool) or not isinstance(v, int | float):
            fail(("net", k), f"a weight is a number (1, -1), got {v!r}")
    for k in ("account", "time", "catch_all"):
        if k in data and not isinstance(data[k], str):
            fail((k,), f"a column or stage name, got {data[k]!r}")
    period = data.get("period", "M")
    if isinstance(period, bool) or not (
        period in ("M", "W", "D") or (isinstance(period, int) and period > 0)
    ):
        fail(("period",), f"period is M, W, D or a whole number, got {period!r}")
    export_date = data.get("export_date")
    if isinstance(export_date, _dt.date | _dt.datetime | str | int | float) and not (
        isinstance(export_date, bool)
    ):
        pass
    elif export_date is not None:
        fail(("export_date",), f"a date (2026-06-30), got {export_date!r}")
    units = data.get("units") or {}
    if not isinstance(units, Mapping):
        fail(("units",), f"units: is a mapping with keys {list(_UNIT_KEYS)}")
    for k in units:
        if k not in _UNIT_KEYS:
            fail(("units", k), f"unknown key {k!r}; units: has {list(_UNIT_KEYS)}")
    try:
        check_units(
            units.get("time_unit", "period"),
            units.get("currency"),
            units.get("locale", "en_US"),
        )
    except InputError as err:
        fail(("units", *err.key), str(err))
    return RulesFile(
        path=name,
        rules=tuple(rules),
        signals=dict(signals),
        account=data.get("account", "account_id"),
        time=data.get("time", "month"),
        period=period,
        export_date=export_date,
        catch_all=data.get("catch_all"),
        value_columns=columns["values"],
        score_columns=columns["scores"],
        net={k: float(v) for k, v in net.items()},
        time_unit=units.get("time_unit"),
        currency=units.get("currency"),
        locale=units.get("locale"),
        lines=dict(lines),
    )
