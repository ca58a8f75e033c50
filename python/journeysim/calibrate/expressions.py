"""The stage rules' expression language: a small, safe subset of Python
expressions, read with :mod:`ast` and evaluated over whole columns.

Nothing is ever executed: the text is parsed (never compiled or evaluated by
Python), every node is checked against a whitelist, and evaluation walks the
tree with pandas operations. Allowed: numbers, strings, true/false, column
names, the names of signals, ``period_start``, ``period_end`` and ``tenure``,
arithmetic, comparisons (also ``in (...)``), ``and``/``or``/``not`` (and
``&``/``|``/``~``), and calls of the functions in :data:`FUNCTIONS`. No
attribute access, subscripts, keyword arguments, lambdas, comprehensions or
other calls."""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._base.errors import InputError
from .history import Accounts

__all__ = ["FUNCTIONS", "SPECIAL", "Expression", "Scope", "parse"]

#: History and helper functions: name -> (least, most) arguments.
FUNCTIONS = {
    "previous": (1, 2),
    "change": (1, 2),
    "pct_change": (1, 2),
    "change_since_start": (1, 1),
    "first": (1, 1),
    "rolling_mean": (2, 2),
    "periods_since": (1, 1),
    "missing": (1, 1),
    "date": (1, 1),
}

#: Names every row has, besides its columns.
SPECIAL = ("period_start", "period_end", "tenure")

#: Longest expression accepted, in characters.
MAX_LENGTH = 2000

#: Longest history window (k) accepted, in periods.
MAX_WINDOW = 10_000

_ARITHMETIC: dict[type, Callable] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE: dict[type, Callable] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_FORBIDDEN = {
    ast.Attribute: "attribute access ('.') is not allowed",
    ast.Subscript: "subscripts ('[...]') are not allowed",
    ast.Lambda: "lambda is not allowed: a rule is a condition, not code",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.NamedExpr: "assignment (':=') is not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.IfExp: "'x if c else y' is not allowed; write another rule",
    ast.Dict: "dicts are not allowed",
    ast.Set: "sets are not allowed; use a tuple: x in ('a', 'b')",
}


@dataclass(frozen=True)
class Expression:
    """A checked expression: its text, its tree and the names it reads
    (columns or signals; not functions or special names)."""

    text: str
    tree: ast.expr
    names: frozenset[str]


def parse(text: str) -> Expression:
    """Check ``text`` against the whitelist; an InputError says what is not
    allowed (the caller names the rule)."""
    if not isinstance(text, str):
        raise InputError(f"an expression is text, got {type(text).__name__}")
    if not text.strip():
        raise InputError("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise InputError(f"the expression is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as err:
        raise InputError(f"not a valid expression ({err.msg}): {text!r}") from None
    except (RecursionError, MemoryError, ValueError):
        raise InputError(
            f"the expression is nested too deeply: {text[:60]!r}"
        ) from None
    if _depth(tree) > MAX_DEPTH:
        raise InputError(
            f"the expression nests more than {MAX_DEPTH} levels deep: {text[:60]!r}"
        )
    names: set[str] = set()
    _check(tree, names, text)
    return Expression(text, tree, frozenset(names))


#: Deepest nesting of an expression's parts.
MAX_DEPTH = 50


def _depth(node: ast.AST) -> int:
    """How deeply the parts nest (without recursion: a long chain of 'not'
    must be refused, not overflow the stack)."""
    deepest, todo = 0, [(node, 1)]
    while todo:
        n, d = todo.pop()
        deepest = max(deepest, d)
        if d > MAX_DEPTH:
            break
        todo.extend((c, d + 1) for c in ast.iter_child_nodes(n))
    return deepest


def _check(node: ast.AST, names: set[str], text: str) -> None:
    for bad, why in _FORBIDDEN.items():
        if isinstance(node, bad):
            raise InputError(f"{why}: {_part(node, text)!r}")
    if isinstance(node, ast.Constant):
        v = node.value
        if not isinstance(v, bool | int | float | str) or isinstance(v, complex):
            raise InputError(f"{v!r} is not allowed: numbers, text and true/false are")
        return
    if isinstance(node, ast.Name):
        if node.id.startswith("__"):
            raise InputError(f"the name {node.id!r} is not allowed")
        if node.id in FUNCTIONS:
            raise InputError(f"{node.id} is a function: write {node.id}(...)")
        if node.id not in SPECIAL:
            names.add(node.id)
        return
    if isinstance(node, ast.Call):
        f = node.func
        if isinstance(f, ast.Attribute):
            raise InputError(f"{_FORBIDDEN[ast.Attribute]}: {_part(f, text)!r}")
        if not isinstance(f, ast.Name) or f.id not in FUNCTIONS:
            shown = f.id if isinstance(f, ast.Name) else _part(f, text)
            raise InputError(
                f"calling {shown!r} is not allowed; the functions are "
                f"{', '.join(FUNCTIONS)}"
            )
        if node.keywords:
            raise InputError(f"{f.id}(): keyword arguments are not allowed")
        least, most = FUNCTIONS[f.id]
        if not least <= len(node.args) <= most:
            want = str(least) if least == most else f"{least} or {most}"
            raise InputError(
                f"{f.id}() takes {want} argument(s), got {len(node.args)}: "
                f"{_part(node, text)!r}"
            )
        if f.id == "date":
            a = node.args[0]
            if not (isinstance(a, ast.Constant) and isinstance(a.value, str)):
                raise InputError("date() takes a date in quotes: date('2026-01-31')")
            _timestamp(a.value)
            return
        if f.id == "rolling_mean" or len(node.args) == 2:
            _window(node.args[1], f.id)
        _check(node.args[0], names, text)
        return
    if isinstance(node, ast.BoolOp | ast.BinOp | ast.UnaryOp | ast.Compare):
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _ARITHMETIC and not isinstance(
                node.op, ast.BitAnd | ast.BitOr
            ):
                raise InputError(
                    f"the operator in {_part(node, text)!r} is not allowed"
                )
        if isinstance(node, ast.Compare):
            for op, right in zip(node.ops, node.comparators):
                if isinstance(op, ast.In | ast.NotIn):
                    _choices(right, text)
                elif type(op) not in _COMPARE:
                    raise InputError(f"'is' is not allowed: {_part(node, text)!r}")
            _check(node.left, names, text)
            for right, op in zip(node.comparators, node.ops):
                if not isinstance(op, ast.In | ast.NotIn):
                    _check(right, names, text)
            return
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                _check(child, names, text)
        return
    if isinstance(node, ast.Tuple | ast.List):
        raise InputError(f"a list or tuple may only follow 'in': {_part(node, text)!r}")
    raise InputError(f"{type(node).__name__} is not allowed: {_part(node, text)!r}")


def _part(node: ast.AST, text: str) -> str:
    return ast.get_source_segment(text.strip(), node) or type(node).__name__


def _window(node: ast.expr, name: str) -> int:
    if not (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int)
        and not isinstance(node.value, bool)
        and 1 <= node.value <= MAX_WINDOW
    ):
        raise InputError(
            f"{name}(): the number of periods must be a whole number from 1 to "
            f"{MAX_WINDOW:,}"
        )
    return node.value


def _choices(node: ast.expr, text: str) -> list:
    if not isinstance(node, ast.Tuple | ast.List) or not all(
        isinstance(e, ast.Constant) and isinstance(e.value, bool | int | float | str)
        for e in node.elts
    ):
        raise InputError(
            f"'in' takes a list of values in brackets: {_part(node, text)!r}"
        )
    return [e.value for e in node.elts]


def _timestamp(text: str) -> pd.Timestamp:
    try:
        t = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise InputError(
            f"date({text!r}): not a date; write date('2026-01-31')"
        ) from None
    if t is pd.NaT:
        raise InputError(f"date({text!r}): not a date")
    return t


# -- evaluation -------------------------------------------------------------------


class Scope:
    """What names mean while evaluating over the sorted rows: columns, signals
    (evaluated once, on first use) and the accounts' history. Holds a cache of
    evaluated calls, so that rules sharing ``rolling_mean(logins, 3)`` compute
    it once."""

    def __init__(
        self,
        frame: pd.DataFrame,
        accounts: Accounts,
        signals: dict[str, Expression],
    ) -> None:
        self.frame = frame
        self.accounts = accounts
        self.signals = signals
        self._cache: dict[str, object] = {}

    def evaluate(self, expr: Expression) -> pd.Series:
        """The expression on every row: a Series, or a scalar broadcast."""
        value = self._eval(expr.tree, expr.text)
        if not isinstance(value, pd.Series):
            value = pd.Series(np.full(len(self.accounts), value))
        return value

    def name(self, name: str) -> pd.Series:
        if name in self._cache:
            return self._cache[name]
        if name in self.signals:
            value = self.evaluate(self.signals[name])
        elif name == "period_start" or name == "period_end":
            value = self.accounts.bounds(end=name == "period_end")
        elif name == "tenure" and name not in self.frame.columns:
            value = pd.Series(self.accounts.tenure())
        else:
            value = self.frame[name]
        self._cache[name] = value
        return value

    def _eval(self, node: ast.expr, text: str):
        if isinstance(node, ast.Constant):
            v = node.value
            # Numbers as floats: 10 ** 10 ** 10 overflows to inf at once
            # instead of computing a billion-digit integer.
            if isinstance(v, int) and not isinstance(v, bool):
                return np.float64(v)
            return v
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.BoolOp):
            parts = [_condition(self._eval(v, text), v, text) for v in node.values]
            out = parts[0]
            for p in parts[1:]:
                out = (out & p) if isinstance(node.op, ast.And) else (out | p)
            return out
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand, text)
            if isinstance(node.op, ast.Not | ast.Invert):
                return ~_condition(v, node.operand, text)
            _numbers(v, node.operand, text)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            a, b = self._eval(node.left, text), self._eval(node.right, text)
            if isinstance(node.op, ast.BitAnd | ast.BitOr):
                a, b = _condition(a, node.left, text), _condition(b, node.right, text)
                return (a & b) if isinstance(node.op, ast.BitAnd) else (a | b)
            _numbers(a, node.left, text)
            _numbers(b, node.right, text)
            with np.errstate(all="ignore"):
                return _ARITHMETIC[type(node.op)](a, b)
        if isinstance(node, ast.Compare):
            return self._compare(node, text)
        if isinstance(node, ast.Call):
            key = ast.dump(node)
            if key not in self._cache:
                self._cache[key] = self._call(node, text)
            return self._cache[key]
        raise InputError(f"cannot evaluate {_part(node, text)!r}")  # pragma: no cover

    def _compare(self, node: ast.Compare, text: str):
        out = None
        left = self._eval(node.left, text)
        left_node = node.left
        for op, right_node in zip(node.ops, node.comparators):
            if isinstance(op, ast.In | ast.NotIn):
                values = _choices(right_node, text)
                s = left if isinstance(left, pd.Series) else pd.Series([left])
                part = s.isin(values)
                if isinstance(op, ast.NotIn):
                    part = ~part & s.notna()
                right = None
            else:
                right = self._eval(right_node, text)
                a, b = _comparable(left, right, left_node, right_node, text)
                try:
                    part = _COMPARE[type(op)](a, b)
                except TypeError:
                    raise InputError(
                        f"cannot compare {_part(left_node, text)!r} with "
                        f"{_part(right_node, text)!r} (text with numbers or "
                        "dates?)"
                    ) from None
            if isinstance(part, pd.Series) and part.dtype != bool:
                part = part.fillna(False).astype(bool)
            out = part if out is None else out & part
            left, left_node = right, right_node
        return out

    def _call(self, node: ast.Call, text: str):
        f = node.func.id
        if f == "date":
            return _timestamp(node.args[0].value)
        arg_node = node.args[0]
        v = self._eval(arg_node, text)
        if not isinstance(v, pd.Series):
            v = pd.Series(np.full(len(self.accounts), v))
        acc = self.accounts
        k = node.args[1].value if len(node.args) == 2 else 1
        if f == "missing":
            return v.isna()
        if f == "previous":
            return acc.previous(v, k)
        if f == "first":
            return acc.first_value(v)
        if f == "periods_since":
            if pd.api.types.is_bool_dtype(v.dtype):
                return pd.Series(acc.since_true(v.to_numpy()))
            dates = _dates(v, arg_node, text) if _texty(v) else v
            return pd.Series(acc.since_dates(dates, _part(arg_node, text)))
        x = _floats(v, arg_node, text, f)
        if f == "rolling_mean":  # windows of one column share its running sums
            key = "sums " + ast.dump(arg_node)
            if key not in self._cache:
                self._cache[key] = acc.running_sums(x.to_numpy())
            return pd.Series(acc.rolling_mean(self._cache[key], k))
        if f == "change_since_start":
            return x - acc.first_value(x)
        before = acc.previous(x, k)
        with np.errstate(all="ignore"):
            if f == "change":
                return x - before
            return (x - before) / before.abs()  # pct_change


def _condition(v, node: ast.expr, text: str):
    """A true/false value for and/or/not; missing is false."""
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, pd.Series) and (
        pd.api.types.is_bool_dtype(v.dtype) or v.dtype == object
    ):
        if v.dtype != bool:
            try:
                v = v.fillna(False).astype(bool)
            except (TypeError, ValueError):
                pass
        if v.dtype == bool:
            return v
    raise InputError(
        f"{_part(node, text)!r} is not a condition (true/false); compare it: "
        f"{_part(node, text)} > 0"
    )


def _numbers(v, node: ast.expr, text: str) -> None:
    if isinstance(v, bool | np.bool_) or (
        isinstance(v, pd.Series) and pd.api.types.is_bool_dtype(v.dtype)
    ):
        raise InputError(f"arithmetic on a condition: {_part(node, text)!r}")
    if isinstance(v, str) or (
        isinstance(v, pd.Series)
        and not pd.api.types.is_numeric_dtype(v.dtype)
        and not pd.api.types.is_datetime64_any_dtype(v.dtype)
    ):
        raise InputError(f"arithmetic needs numbers: {_part(node, text)!r} is text")


def _floats(v: pd.Series, node: ast.expr, text: str, f: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(v.dtype) or not pd.api.types.is_numeric_dtype(
        v.dtype
    ):
        raise InputError(f"{f}() needs numbers: {_part(node, text)!r} is not")
    return v.astype(float)


def _texty(v) -> bool:
    """A Series of text (or mixed objects), as a CSV file's dates are."""
    return isinstance(v, pd.Series) and (
        v.dtype == object or pd.api.types.is_string_dtype(v.dtype)
    )


def _is_date(v) -> bool:
    return isinstance(v, pd.Timestamp) or (
        isinstance(v, pd.Series) and pd.api.types.is_datetime64_any_dtype(v.dtype)
    )


def _comparable(a, b, na: ast.expr, nb: ast.expr, text: str):
    """Dates compare with dates: a text column beside a date is read as
    dates (a CSV file's dates are text)."""
    if _is_date(a) and _texty(b):
        b = _dates(b, nb, text)
    elif _is_date(b) and _texty(a):
        a = _dates(a, na, text)
    if _is_date(a) and isinstance(b, str):
        b = _timestamp(b)
    elif _is_date(b) and isinstance(a, str):
        a = _timestamp(a)
    # One time zone or none: compare wall-clock times.
    a, b = _naive(a), _naive(b)
    return a, b


def _naive(v):
    if isinstance(v, pd.Series) and isinstance(v.dtype, pd.DatetimeTZDtype):
        return v.dt.tz_localize(None)
    if isinstance(v, pd.Timestamp) and v.tzinfo is not None:
        return v.tz_localize(None)
    return v


def _dates(v: pd.Series, node: ast.expr, text: str) -> pd.Series:
    try:
        return pd.to_datetime(v, format="mixed")
    except (ValueError, TypeError) as err:
        raise InputError(
            f"{_part(node, text)!r} is used as dates, but holds values that are "
            f"not: {str(err).splitlines()[0]}"
        ) from None
