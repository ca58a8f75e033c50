"""Reading a journey spec (the dict form of a model file's ``journey:``
section, or one a person wrote): every key checked, with its key path, before
the journey is built."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd

from .._base.calendar import FREQ
from .._base.checks import (
    check_keys,
    describe,
    known_stage,
    spec_mapping,
    spec_name,
    spec_names,
    spec_number,
)
from .._base.conventions import (
    COST_STREAM,
    MAX_PERIOD,
    STAGE_METADATA_ORDER,
    TOLERANCE,
)
from .._base.errors import InputError, SpecError, spec_path
from .coerce import moves_matrix
from .sub_journey import expand

__all__ = ["SPEC_KEYS", "build_from_spec"]

J = TypeVar("J")


def build_from_spec(
    make: Callable[..., J],
    spec: Any,
    *,
    strict: bool,
    sub_files: Callable[[str, tuple], Any] | None = None,
) -> J:
    """``make(**arguments)`` (the Journey class) from a spec, every part checked
    first; an error of the constructor or the core names its key path too.

    ``sub_journeys`` are expanded in the order given: an inline one
    (``{journey: {...}, exits: {...}}``) is built like this spec, a file
    reference by ``sub_files(file, key path)`` (what reads model files passes
    it; without it a file reference is an error)."""
    kwargs = _read_journey_spec(spec, strict=strict)
    subs: list[_SubRef] = kwargs.pop("sub_journeys", [])
    try:
        journey = make(**kwargs)
    except SpecError:
        raise
    except InputError as err:  # the constructor and the core name the key
        raise SpecError(err.key, str(err)) from None
    for ref in subs:
        if ref.spec is not None:
            try:
                sub = build_from_spec(
                    make, ref.spec, strict=strict, sub_files=sub_files
                )
            except SpecError as err:
                raise err.within(*ref.path, "journey") from None
        elif sub_files is None:
            raise SpecError(
                ref.path,
                f"a sub-journey file ({ref.file!r}) is read by js.load or "
                "js.load_model, relative to the model file; a spec given to "
                "Journey.from_spec holds it inline as {journey: {...}, exits: ...}",
            )
        else:
            sub = sub_files(ref.file, ref.path)
        try:
            journey = expand(journey, ref.stage, sub, ref.exits)
        except InputError as err:
            key = err.key[:2] if err.key[:1] == ("exits",) and ref.exits else ()
            raise SpecError((*ref.path, *key), str(err)) from None
    return journey


@dataclass(frozen=True)
class _SubRef:
    """A sub-journey as a spec names it: the stage it replaces, a file or an
    inline spec, the exits (None: matched by name) and its key path."""

    stage: str
    file: str | None
    spec: Mapping | None
    exits: dict[str, str] | None
    path: tuple


def _read_sub_journeys(obj: Any, stages: list[str]) -> list[_SubRef]:
    path = ("sub_journeys",)
    subs = spec_mapping(
        obj, path, "sub-journeys {stage: file, or {file or journey, exits}}"
    )
    out = []
    for stage, ref in subs.items():
        p = (*path, stage)
        known_stage(stage, p, stages)
        exits = None
        if isinstance(ref, str):
            out.append(_SubRef(stage, spec_name(ref, p, "a file"), None, None, p))
            continue
        ref = spec_mapping(ref, p, "a file name, or {file or journey, exits}")
        check_keys(ref, p, ("file", "journey", "exits"), "a sub-journey")
        if ("file" in ref) == ("journey" in ref):
            raise SpecError(p, "a sub-journey names either a file or a journey")
        if ref.get("exits") is not None:
            m = spec_mapping(ref["exits"], (*p, "exits"), "{parent stage: exit stage}")
            exits = {
                known_stage(t, (*p, "exits", t), stages): spec_name(
                    e, (*p, "exits", t), "a stage of the sub-journey"
                )
                for t, e in m.items()
            }
        if "file" in ref:
            f = spec_name(ref["file"], (*p, "file"), "a file")
            out.append(_SubRef(stage, f, None, exits, p))
        else:
            out.append(_SubRef(stage, None, ref["journey"], exits, p))
    return out


#: The keys of a journey spec, in the order to_spec() writes them.
SPEC_KEYS = (
    "name",
    "stages",
    "transitions",
    "values",
    "transition_values",
    "start",
    "discount_rate",
    "net",
    "value_stages",
    "absorbing",
    "moments_of_truth",
    "segments",
    "arrivals",
    "cohort_size",
    "normalize",
    "time_unit",
    "currency",
    "locale",
    "scores",
    "team_capacity",
    "sub_journeys",
)


_STAGE_KEYS = ("name", *STAGE_METADATA_ORDER, "moment_of_truth")


_SEGMENT_KEYS = ("share", "transitions", "values", "transition_values", "start")


_DIGITS = re.compile(r"[0-9]+\Z")


def _tenure_keys(m: Mapping, path: tuple, stages: list[str], first_zero: bool):
    """[(tenure, key, value)] in tenure order when ``m`` is keyed by tenures
    (integers, or digit strings that are not stage names), else None."""

    def tenure(k):
        if isinstance(k, bool):
            return None
        if isinstance(k, numbers.Integral):
            return int(k)
        if isinstance(k, str) and _DIGITS.match(k):
            return int(k)
        return None

    keys = list(m)
    ts = [tenure(k) for k in keys]
    # Keyed by tenures when a key is an integer, or a digit string that is not
    # a stage (JSON keys are strings: {"0": ..., "3": ...}).
    if not any(
        t is not None and not (isinstance(k, str) and k in stages)
        for k, t in zip(keys, ts)
    ):
        return None
    if any(t is None for t in ts):
        k = next(k for k, t in zip(keys, ts) if t is None)
        raise SpecError(
            (*path, k),
            "a mapping keyed by tenures (whole numbers) also has the key "
            f"{k!r}; use {{0: ..., 3: ...}} with every piece under its tenure",
        )
    seen: dict[int, Any] = {}
    for k, t in zip(keys, ts):
        if t < 0 or t > MAX_PERIOD:
            raise SpecError((*path, k), f"tenure {t} is outside [0, {MAX_PERIOD:,}]")
        if t in seen:
            raise SpecError(
                (*path, k), f"tenure {t} is given twice (also as {seen[t]!r})"
            )
        seen[t] = k
    pieces = sorted(zip(ts, keys, (m[k] for k in keys)), key=lambda p: p[0])
    if first_zero and pieces[0][0] != 0:
        raise SpecError(
            (*path, pieces[0][1]),
            f"the first tenure piece must start at 0, not {pieces[0][0]}",
        )
    return pieces


def _read_rows(obj, path, stages, normalize, strict) -> dict:
    rows = spec_mapping(obj, path, "rows {from: {to: probability}}")
    out = {}
    for frm, exits in rows.items():
        p = (*path, frm)
        known_stage(frm, p, stages)
        exits = spec_mapping(exits, p, f"the moves from {frm!r}, {{to: probability}}")
        row = {}
        for to, prob in exits.items():
            q = (*p, to)
            known_stage(to, q, stages)
            x = spec_number(prob, q, what="a probability")
            if x < 0 or (x > 1.0 + TOLERANCE and not normalize):  # the core's
                raise SpecError(q, f"probability {x:.12g} is outside [0, 1]")
            row[to] = x
        if strict and not normalize:
            total = math.fsum(row.values())
            if frm in row and abs(total - 1.0) > TOLERANCE:
                raise SpecError(
                    p,
                    f"the row sums to {total:.12g}, not 1 (a row that names its "
                    "own stage gives all of it; leave the stay out to mean the rest)",
                )
            if frm not in row and total > 1.0 + TOLERANCE:
                raise SpecError(p, f"the moves sum to {total:.12g}, more than 1")
        out[frm] = row
    return out


def _read_amounts(obj, path, stages, low=None) -> dict:
    amounts = spec_mapping(obj, path, "amounts {stage: number}")
    return {
        known_stage(s, (*path, s), stages): spec_number(x, (*path, s), low=low)
        for s, x in amounts.items()
    }


def _read_pieces(obj, path, stages, kind, first_zero, normalize=False, strict=True):
    what = "rows {from: {to: probability}}" if kind == "rows" else "{stage: amount}"
    m = spec_mapping(obj, path, what)
    pieces = _tenure_keys(m, path, stages, first_zero)

    def one(x, p):
        if kind == "rows":
            return _read_rows(x, p, stages, normalize, strict)
        return _read_amounts(x, p, stages)

    if pieces is None:
        return one(m, path)
    return {t: one(v, (*path, k)) for t, k, v in pieces}


def _read_moves(obj, path, stages):
    """{from: {to: amount}} ("*" for any stage) -> what the constructor takes:
    {(from, to): amount}, or a matrix when a stage's own stay has a value."""
    if obj is None:
        return None
    m = spec_mapping(obj, path, "amounts on moves {from: {to: amount}}")
    pairs: dict = {}
    stays = []
    for frm, tos in m.items():
        p = (*path, frm)
        known_stage(frm, p, stages, wildcard=True)
        tos = spec_mapping(tos, p, f"amounts on the moves from {frm!r}, {{to: amount}}")
        for to, amount in tos.items():
            q = (*p, to)
            known_stage(to, q, stages, wildcard=True)
            if frm == "*" and to == "*":
                raise SpecError(q, "'*' to '*' names no move")
            x = spec_number(amount, q, what="an amount")
            if frm == to:
                stays.append((stages.index(frm), x))
            else:
                pairs[(frm, to)] = x
    if not stays:
        return pairs
    matrix = moves_matrix(pairs, stages, spec_path(path))
    for i, x in stays:
        matrix[i, i] = x
    return matrix


def _read_start(obj, path, stages, normalize, strict):
    if isinstance(obj, str):
        return known_stage(obj, path, stages)
    start = _read_amounts(obj, path, stages, low=0.0)
    total = math.fsum(start.values())
    if strict and not normalize and abs(total - 1.0) > TOLERANCE:
        raise SpecError(path, f"the start shares sum to {total:.12g}, not 1")
    return start


def _read_stages(obj, strict):
    path = ("stages",)
    if not isinstance(obj, (list, tuple)) or not obj:
        raise SpecError(
            path, f"expected a list of one or more stages, got {describe(obj)}"
        )
    stages: list[str] = []
    metadata: dict[str, dict] = {}
    flagged: list[str] = []
    where: dict[str, int] = {}
    for i, entry in enumerate(obj):
        p = (*path, i)
        if isinstance(entry, Mapping):
            check_keys(entry, p, _STAGE_KEYS, "a stage")
            if "name" not in entry:
                raise SpecError(p, "a stage given as a mapping needs a name")
            name = spec_name(entry["name"], (*p, "name"), "a stage name")
            meta = {}
            for k in STAGE_METADATA_ORDER:
                if k not in entry:
                    continue
                v = entry[k]
                if strict and k in ("owner", "description"):
                    spec_name(v, (*p, k), f"the stage's {k}")
                elif strict:
                    if isinstance(v, (list, tuple)):
                        v = spec_names(v, (*p, k), f"the stage's {k}")
                    else:
                        spec_name(v, (*p, k), f"the stage's {k} (a name or a list)")
                meta[k] = v
            if meta:
                metadata[name] = meta
            mot = entry.get("moment_of_truth", False)
            if not isinstance(mot, bool):
                raise SpecError(
                    (*p, "moment_of_truth"),
                    f"expected true or false, got {describe(mot)}",
                )
            if mot:
                flagged.append(name)
        else:
            name = spec_name(entry, p, "a stage name or a mapping with a name")
        if name in where:
            raise SpecError(
                p, f"stage {name!r} is listed twice (also stages[{where[name]}])"
            )
        where[name] = i
        stages.append(name)
    return stages, metadata, flagged


def _read_journey_spec(spec: Any, *, strict: bool) -> dict:
    """The constructor's keyword arguments from a spec, every part checked."""
    if not isinstance(spec, Mapping):
        raise SpecError(
            (),
            "a journey must be a mapping (stages, transitions, ...), got "
            + describe(spec),
        )
    check_keys(spec, (), SPEC_KEYS, "a journey")
    for key in ("stages", "transitions"):
        if key not in spec:
            raise SpecError((), f"a journey needs {key!r}")
    normalize = spec.get("normalize", False)
    if not isinstance(normalize, bool):
        raise SpecError(
            ("normalize",), f"expected true or false, got {describe(normalize)}"
        )
    kw: dict[str, Any] = {"normalize": normalize}
    if spec.get("name") is not None:
        kw["name"] = spec["name"]
        if strict:
            spec_name(spec["name"], ("name",), "the journey's name")
    stages, metadata, flagged = _read_stages(spec["stages"], strict)
    kw["stages"] = stages
    if metadata:
        kw["metadata"] = metadata
    kw["transitions"] = _read_pieces(
        spec["transitions"], ("transitions",), stages, "rows", True, normalize, strict
    )

    streams: list[str] = []
    values = spec.get("values")
    if values is not None:
        values = spec_mapping(
            values, ("values",), "value streams {stream: {stage: amount}}"
        )
        kw["values"] = {}
        for s, v in values.items():
            p = ("values", s)
            spec_name(s, p, "a value stream name")
            if s == COST_STREAM:
                raise SpecError(
                    p, f"the stream name {s!r} is reserved for plans' costs"
                )
            kw["values"][s] = _read_pieces(v, p, stages, "amounts", True)
            streams.append(s)
    moves = spec.get("transition_values")
    if moves is not None:
        moves = spec_mapping(
            moves, ("transition_values",), "{stream: {from: {to: amount}}}"
        )
        kw["transition_values"] = {}
        for s, v in moves.items():
            p = ("transition_values", s)
            spec_name(s, p, "a value stream name")
            if s == COST_STREAM:
                raise SpecError(
                    p, f"the stream name {s!r} is reserved for plans' costs"
                )
            kw["transition_values"][s] = _read_moves(v, p, stages)
            if s not in streams:
                streams.append(s)

    def known_stream(s, p):
        if s not in streams:
            raise SpecError(
                p,
                f"unknown value stream {s!r}; the streams are "
                + (", ".join(streams) or "none"),
            )

    if "start" in spec and spec["start"] is not None:
        kw["start"] = _read_start(spec["start"], ("start",), stages, normalize, strict)
    if "discount_rate" in spec:
        rate = spec["discount_rate"]
        if isinstance(rate, Mapping):
            for s, x in rate.items():
                known_stream(s, ("discount_rate", s))
                spec_number(x, ("discount_rate", s), above=-1, what="a discount rate")
            kw["discount_rate"] = {s: float(x) for s, x in rate.items()}
        else:
            kw["discount_rate"] = spec_number(
                rate,
                ("discount_rate",),
                above=-1,
                what="a discount rate (or {stream: rate})",
            )
    if spec.get("net") is not None:
        net = spec_mapping(spec["net"], ("net",), "weights {stream: weight}")
        for s, w in net.items():
            known_stream(s, ("net", s))
            spec_number(w, ("net", s), what="a weight")
        kw["net"] = {s: float(w) for s, w in net.items()}
    if spec.get("value_stages") is not None:
        one = isinstance(spec["value_stages"], str)
        names = spec_names(spec["value_stages"], ("value_stages",), "stage names")
        for i, v in enumerate(names):
            known_stage(v, ("value_stages",) if one else ("value_stages", i), stages)
        kw["value_stages"] = names
    if "absorbing" in spec:
        one = isinstance(spec["absorbing"], str)
        names = spec_names(spec["absorbing"], ("absorbing",), "stage names")
        for i, a in enumerate(names):
            known_stage(a, ("absorbing",) if one else ("absorbing", i), stages)
            if a in names[:i]:
                raise SpecError(("absorbing", i), f"stage {a!r} is listed twice")
        kw["absorbing"] = names
    moments: list = list(flagged)
    if spec.get("moments_of_truth") is not None:
        mots = spec["moments_of_truth"]
        if not isinstance(mots, (list, tuple)):
            raise SpecError(
                ("moments_of_truth",),
                f"expected a list of stages or [from, to] pairs, got {describe(mots)}",
            )
        for i, m in enumerate(mots):
            p = ("moments_of_truth", i)
            if isinstance(m, str):
                item: Any = known_stage(m, p, stages)
            elif isinstance(m, (list, tuple)) and len(m) == 2:
                item = (
                    known_stage(m[0], (*p, 0), stages),
                    known_stage(m[1], (*p, 1), stages),
                )
            else:
                raise SpecError(
                    p, f"expected a stage or a [from, to] pair, got {describe(m)}"
                )
            if item not in moments:
                moments.append(item)
    if moments:
        kw["moments_of_truth"] = moments
    if spec.get("segments") is not None:
        kw["segments"] = _read_segments(
            spec["segments"], stages, streams, normalize, strict
        )
    if spec.get("arrivals") is not None:
        arr = spec["arrivals"]
        if isinstance(arr, (list, tuple)):
            kw["arrivals"] = [
                spec_number(a, ("arrivals", i), low=0.0, what="a number of customers")
                for i, a in enumerate(arr)
            ]
        elif isinstance(arr, Mapping):
            kw["arrivals"] = _dated_arrivals(arr, spec.get("time_unit", "period"))
        else:
            kw["arrivals"] = spec_number(
                arr, ("arrivals",), low=0.0, what="a number of customers (or a list)"
            )
    if spec.get("cohort_size") is not None:
        kw["cohort_size"] = spec_number(
            spec["cohort_size"], ("cohort_size",), low=0.0, what="a number of customers"
        )
    for key in ("time_unit", "currency", "locale"):
        if spec.get(key) is not None:
            kw[key] = spec_name(spec[key], (key,), f"a {key.replace('_', ' ')}")
    if spec.get("scores") is not None:
        scores = spec_mapping(spec["scores"], ("scores",), "{score: {stage: number}}")
        kw["scores"] = {}
        for name, by_stage in scores.items():
            p = ("scores", name)
            spec_name(name, p, "a score name")
            by_stage = spec_mapping(by_stage, p, "{stage: number}")
            kw["scores"][name] = {
                known_stage(s, (*p, s), stages): spec_number(v, (*p, s))
                for s, v in by_stage.items()
            }
    if spec.get("team_capacity") is not None:
        kw["team_capacity"] = spec_mapping(
            spec["team_capacity"], ("team_capacity",), "{team: customers per period}"
        )
    if spec.get("sub_journeys") is not None:
        kw["sub_journeys"] = _read_sub_journeys(spec["sub_journeys"], stages)
    return kw


def _read_segments(obj, stages, streams, normalize, strict) -> dict:
    path = ("segments",)
    segs = spec_mapping(obj, path, "segments {name: {share: ..., ...}}")
    if not segs:
        raise SpecError(path, "segments, when given, must name one or more")
    out = {}
    for name, seg in segs.items():
        p = (*path, name)
        spec_name(name, p, "a segment name")
        seg = spec_mapping(seg, p, "a segment {share: ..., ...}")
        check_keys(seg, p, _SEGMENT_KEYS, "a segment")
        if "share" not in seg:
            raise SpecError(p, "a segment needs a share")
        one: dict[str, Any] = {
            "share": spec_number(seg["share"], (*p, "share"), low=0.0)
        }
        if "transitions" in seg:
            one["transitions"] = _read_pieces(
                seg["transitions"],
                (*p, "transitions"),
                stages,
                "rows",
                False,
                normalize,
                strict,
            )
        if seg.get("values") is not None:
            vals = spec_mapping(
                seg["values"], (*p, "values"), "{stream: {stage: amount}}"
            )
            one["values"] = {}
            for s, v in vals.items():
                q = (*p, "values", s)
                if s not in streams:
                    raise SpecError(
                        q,
                        f"unknown value stream {s!r}; the journey's streams are "
                        + (", ".join(streams) or "none")
                        + " (declare it in the journey's values)",
                    )
                one["values"][s] = _read_pieces(v, q, stages, "amounts", False)
        if seg.get("transition_values") is not None:
            moves = spec_mapping(
                seg["transition_values"],
                (*p, "transition_values"),
                "{stream: {from: {to: amount}}}",
            )
            one["transition_values"] = {}
            for s, v in moves.items():
                q = (*p, "transition_values", s)
                if s not in streams:
                    raise SpecError(q, f"unknown value stream {s!r}")
                one["transition_values"][s] = _read_moves(v, q, stages)
        if seg.get("start") is not None:
            one["start"] = _read_start(
                seg["start"], (*p, "start"), stages, normalize, strict
            )
        out[name] = one
    total = math.fsum(s["share"] for s in out.values())
    if strict and not normalize and abs(total - 1.0) > TOLERANCE:
        raise SpecError(path, f"the segment shares sum to {total:.12g}, not 1")
    return out


def _dated_arrivals(arr: Mapping, unit: Any) -> pd.Series:
    """``arrivals: {"2026-01": 120, ...}``: signups by calendar period of the
    journey's time unit (docs/calendar.md), as the constructor takes them."""
    freq = FREQ.get(unit) if isinstance(unit, str) else None
    if freq is None:
        raise SpecError(
            ("arrivals",),
            "arrivals by date need a calendar time_unit (month, week, day, "
            f"quarter or year), got {unit!r}",
        )
    periods, amounts = [], []
    for k, a in arr.items():
        try:
            periods.append(pd.Period(str(k), freq=freq))
        except (TypeError, ValueError):
            raise SpecError(
                ("arrivals", k), f"{k!r} is not a {unit} such as '2026-01'"
            ) from None
        amounts.append(
            spec_number(a, ("arrivals", k), low=0.0, what="a number of customers")
        )
    return pd.Series(amounts, index=pd.PeriodIndex(periods, freq=freq), dtype=float)
