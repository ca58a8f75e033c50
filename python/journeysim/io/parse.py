"""Reading model-file text safely, with the line of every key: YAML through
PyYAML's safe loader with limits (aliases, nesting, size), JSON through a small
reader that keeps line numbers and refuses duplicate keys."""

from __future__ import annotations

import bisect
import re
from json.decoder import JSONDecodeError, scanstring
from json.scanner import NUMBER_RE
from typing import Any

import yaml

from .._base.errors import spec_path

__all__ = [
    "EXPONENT_FLOAT",
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_NODES",
    "JsonReader",
    "Refused",
    "parse_yaml",
]


#: Mappings and lists nested deeper than this are refused.
MAX_DEPTH = 64


#: YAML aliases (``*name``) in a file, at most.
MAX_ALIASES = 100


#: Values in a document once aliases are expanded, at most.
MAX_NODES = 1_000_000


class Refused(Exception):
    """A document refused while parsing, at a line."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


# YAML 1.1 reads 1e-5 (no dot) as a string; read it as the number it means, and
# quote such strings when writing so that they stay strings.
EXPONENT_FLOAT = re.compile(
    r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"
)


class _Loader(yaml.SafeLoader):
    """SafeLoader that counts aliases and nesting while it composes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise Refused(
                    self.peek_event().start_mark.line + 1,
                    f"more than {MAX_ALIASES} aliases; a model file needs few or none",
                )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise Refused(
                    self.peek_event().start_mark.line + 1,
                    f"mappings and lists nested more than {MAX_DEPTH} deep",
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def parse_yaml(text: str) -> tuple[Any, dict]:
    try:
        loader = _Loader(text)  # the reader refuses control characters here
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        raise Refused(
            line, f"invalid YAML: character {err.character:#04x} is not allowed"
        ) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[tuple, int] = {}
        _walk(loader, node, (), lines, [0])
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "invalid YAML"
        if err.context and err.problem:
            problem = f"{err.context}, {err.problem}"
        line = mark.line + 1 if mark else None
        raise Refused(line, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as err:
        raise Refused(None, f"invalid YAML: {err}") from None
    except RecursionError:
        raise Refused(None, "nesting too deep") from None
    finally:
        loader.dispose()
    return data, lines


def _walk(loader: _Loader, node, path: tuple, lines: dict, count: list) -> None:
    """Record the line of every key path, and refuse duplicate keys, keys that
    are not scalars, and documents that aliases expand beyond MAX_NODES."""
    count[0] += 1
    if count[0] > MAX_NODES:
        raise Refused(
            node.start_mark.line + 1,
            f"the document expands to more than {MAX_NODES:,} values (aliases?)",
        )
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for knode, vnode in node.value:
            kline = knode.start_mark.line + 1
            if not isinstance(knode, yaml.ScalarNode):
                where = spec_path(path) or "the file"
                raise Refused(kline, f"{where}: keys must be names")
            if knode.tag == "tag:yaml.org,2002:merge":
                _walk(loader, vnode, path, lines, count)
                continue
            key = loader.construct_object(knode)
            if key in seen:
                raise Refused(
                    kline,
                    f"{spec_path((*path, key))}: duplicate key {key!r} (first at line "
                    f"{seen[key]}, again at line {kline})",
                )
            seen[key] = kline
            lines.setdefault((*path, key), kline)
            _walk(loader, vnode, (*path, key), lines, count)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.setdefault((*path, i), item.start_mark.line + 1)
            _walk(loader, item, (*path, i), lines, count)


_WS = re.compile(r"[ \t\n\r]*")


_LITERALS = (
    ("true", True),
    ("false", False),
    ("null", None),
    ("NaN", float("nan")),
    ("Infinity", float("inf")),
    ("-Infinity", float("-inf")),
)


class JsonReader:
    """JSON as the json module reads it, with the line of every key path,
    duplicate keys refused and nesting bounded."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.lines: dict[tuple, int] = {}

    def line(self, pos: int) -> int:
        return bisect.bisect_right(self.starts, pos)

    def fail(self, pos: int, message: str):
        raise Refused(self.line(pos), f"invalid JSON: {message}")

    def skip(self, i: int) -> int:
        return _WS.match(self.s, i).end()

    def parse(self) -> tuple[Any, dict]:
        i = self.skip(0)
        if i == len(self.s):
            return None, {}
        value, i = self.value(i, (), 1)
        i = self.skip(i)
        if i != len(self.s):
            self.fail(i, "extra text after the document")
        return value, self.lines

    def string(self, i: int) -> tuple[str, int]:
        try:
            return scanstring(self.s, i + 1, True)
        except JSONDecodeError as err:
            self.fail(err.pos, err.msg)

    def value(self, i: int, path: tuple, depth: int) -> tuple[Any, int]:
        s = self.s
        c = s[i : i + 1]
        if c in ("{", "["):
            if depth > MAX_DEPTH:
                raise Refused(
                    self.line(i), f"arrays and objects nested over {MAX_DEPTH} deep"
                )
            return (self.object if c == "{" else self.array)(i + 1, path, depth)
        if c == '"':
            return self.string(i)
        m = NUMBER_RE.match(s, i)
        if m:
            integer, frac, exp = m.groups()
            if frac or exp:
                return float(integer + (frac or "") + (exp or "")), m.end()
            return int(integer), m.end()
        for word, v in _LITERALS:
            if s.startswith(word, i):
                return v, i + len(word)
        self.fail(i, "expected a value" if c else "the text ends too early")

    def object(self, i: int, path: tuple, depth: int) -> tuple[dict, int]:
        s = self.s
        out: dict[str, Any] = {}
        seen: dict[str, int] = {}
        i = self.skip(i)
        if s[i : i + 1] == "}":
            return out, i + 1
        while True:
            if s[i : i + 1] != '"':
                self.fail(i, "expected a key in double quotes")
            kline = self.line(i)
            key, i = self.string(i)
            if key in seen:
                raise Refused(
                    kline,
                    f"{spec_path((*path, key))}: duplicate key {key!r} (first at line "
                    f"{seen[key]}, again at line {kline})",
                )
            seen[key] = kline
            self.lines.setdefault((*path, key), kline)
            i = self.skip(i)
            if s[i : i + 1] != ":":
                self.fail(i, "expected ':' after a key")
            i = self.skip(i + 1)
            out[key], i = self.value(i, (*path, key), depth + 1)
            i = self.skip(i)
            c = s[i : i + 1]
            if c == "}":
                return out, i + 1
            if c != ",":
                self.fail(i, "expected ',' or '}'")
            i = self.skip(i + 1)

    def array(self, i: int, path: tuple, depth: int) -> tuple[list, int]:
        s = self.s
        out: list[Any] = []
        i = self.skip(i)
        if s[i : i + 1] == "]":
            return out, i + 1
        while True:
            self.lines.setdefault((*path, len(out)), self.line(i))
            v, i = self.value(i, (*path, len(out)), depth + 1)
            out.append(v)
            i = self.skip(i)
            c = s[i : i + 1]
            if c == "]":
                return out, i + 1
            if c != ",":
                self.fail(i, "expected ',' or ']'")
            i = self.skip(i + 1)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", EXPONENT_FLOAT, list("-+0123456789.")
)
