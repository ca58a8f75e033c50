"""Model files: a journey, a library of interventions and plans, in YAML or JSON.

A model file is a mapping whose first key names the format, then any of a
``journey``, an ``interventions`` library and ``plans``::

    format: journeysim/1
    journey:                        # Journey.to_spec(): the constructor's keys
      name: B2B SaaS
      stages:
        - name: onboarding          # a stage with its journey-map metadata
          owner: Onboarding team
          touchpoints: [kickoff call]
          moment_of_truth: true
        - adopting                  # a plain name is fine
        - churned
      transitions:                  # sparse rows: the rest of a row stays
        onboarding: {adopting: 0.55, churned: 0.05}
      values:
        revenue: {adopting: 800.0}
      discount_rate: 0.01
      moments_of_truth:             # transitions; stages carry their own flag
        - [onboarding, churned]
    interventions:                  # optional: defined once, used by name
      - name: onboarding call
        at: [onboarding, churned]
        relative_risk: 0.6
    plans:
      - name: proactive
        interventions: [onboarding call, {name: gift, at: onboarding, change: -0.01}]

Tenure pieces are ``{0: rows, 3: rows that change}``; their keys are integers
in YAML and strings (``"3"``) in JSON, and both are read. JSON files have the
same structure. The JSON Schema of the format ships with the package
(:func:`schema`, ``journeysim/schema/journeysim-1.schema.json``).

A stage can be a whole journey of its own, kept in another file and named
relative to this one: ``sub_journeys: {onboarding: onboarding.yaml}`` (its exit
stages named like stages of this journey), or ``{onboarding: {file:
onboarding.yaml, exits: {adopting: first_value}}}``; see
:meth:`~journeysim.Journey.expand`. A file that refers back to one being read
is refused as a cycle, naming the files.

Reading is ``yaml.safe_load``-level (no Python tags) and defensive: duplicate
keys, more than a few aliases or an alias expansion, deep nesting, bytes that
are not UTF-8 and files over 50 MB are refused. Every problem is a ValueError
naming the file, the line (where known) and the key path, e.g.
``model.yaml:14: journey.transitions.onboarding.churned: probability 1.3 is
outside [0, 1]``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .._base.atomic import write_text
from .._base.checks import check_keys, describe
from .._base.errors import InputError, SpecError, spec_path
from ..model.intervention import Intervention, Plan
from ..model.journey import Journey
from .parse import EXPONENT_FLOAT, JsonReader, Refused, parse_yaml

__all__ = [
    "FORMAT",
    "ModelFile",
    "dumps",
    "load",
    "load_model",
    "load_plans",
    "loads",
    "save",
    "schema",
]

#: The format this version reads and writes.
FORMAT = "journeysim/1"
#: Files larger than this are refused.
MAX_BYTES = 50 * 1024 * 1024
SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}
_TOP_KEYS = ("format", "journey", "interventions", "plans")
_SCHEMA = "journeysim-1.schema.json"


@dataclass
class ModelFile:
    """What a model file holds.

    Attributes
    ----------
    path : str or None
        The file it was read from (None for :func:`loads`).
    journey : Journey or None
    plans : list of Plan
    interventions : dict
        The file's library of interventions, ``{name: Intervention}``.

    Examples
    --------
    >>> import journeysim as js
    >>> call = js.Intervention("call", at=("active", "churned"), relative_risk=0.5)
    >>> m = js.loads(js.dumps([js.Plan("calls", [call])]))
    >>> m.journey is None, [p.name for p in m.plans], m.plans[0].interventions == [call]
    (True, ['calls'], True)
    """

    path: str | None
    journey: Journey | None = None
    plans: list[Plan] = field(default_factory=list)
    interventions: dict[str, Intervention] = field(default_factory=dict)


# -- public functions -------------------------------------------------------------


def load_model(path: str | os.PathLike) -> ModelFile:
    """Read a model file (``.yaml``, ``.yml`` or ``.json``): its journey,
    interventions and plans, whichever it has.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    ModelFile

    Raises
    ------
    ValueError
        For a file that is not a journeysim/1 model, with the file name, the
        line (where known), the key path and what is wrong.

    Examples
    --------
    >>> import os, tempfile
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}})
    >>> plan = js.Plan("win-back", [js.Intervention("call", at="active", change=-0.02)])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.yaml")
    >>> js.save(j, path, plans=[plan])
    >>> m = js.load_model(path)
    >>> m.journey == j, m.plans == [plan]
    (True, True)
    """
    return _load_model(os.fspath(path), ())


def _load_model(name: str, chain: tuple[str, ...]) -> ModelFile:
    """``load_model``; ``chain`` holds the files whose sub-journeys are being
    read (outermost first), so that a file referring back is a cycle."""
    fmt = _format_of(name)
    size = os.stat(name).st_size
    if size > MAX_BYTES:
        raise InputError(
            f"{name}: the file has {size:,} bytes, more than the {MAX_BYTES:,} a "
            "model file may have"
        )
    with open(name, "rb") as f:
        raw = f.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise InputError(f"{name}: the file has more than {MAX_BYTES:,} bytes")
    return _parse(_decode(raw, name), fmt, name, name, chain)


def load(path: str | os.PathLike) -> Journey:
    """The journey of a model file.

    Raises
    ------
    ValueError
        If the file is not a valid model file, or holds no journey.

    Examples
    --------
    >>> import os, tempfile
    >>> import journeysim as js
    >>> path = os.path.join(tempfile.mkdtemp(), "saas.yaml")
    >>> js.save(js.default_journey(), path)
    >>> j = js.load(path)
    >>> j == js.default_journey(), j.name
    (True, 'B2B SaaS customer success')
    """
    m = load_model(path)
    if m.journey is None:
        raise InputError(f"{os.fspath(path)}: the file holds no journey")
    return m.journey


def load_plans(path: str | os.PathLike) -> list[Plan]:
    """The plans of a model file, in file order.

    Raises
    ------
    ValueError
        If the file is not a valid model file, or holds no plans.

    Examples
    --------
    >>> import os, tempfile
    >>> import journeysim as js
    >>> call = js.Intervention("call", at=("active", "churned"), relative_risk=0.5)
    >>> path = os.path.join(tempfile.mkdtemp(), "plans.json")
    >>> js.save([js.Plan("calls", [call]), js.Plan("nothing")], path)
    >>> [p.name for p in js.load_plans(path)]
    ['calls', 'nothing']
    """
    m = load_model(path)
    if not m.plans:
        raise InputError(f"{os.fspath(path)}: the file holds no plans")
    return m.plans


def save(
    obj: Journey | Plan | Intervention | Sequence,
    path: str | os.PathLike,
    *,
    plans: Sequence[Plan] | None = None,
) -> None:
    """Write a model file; the format follows the suffix (``.yaml``, ``.yml``
    or ``.json``).

    Parameters
    ----------
    obj : Journey, Plan, Intervention, or a list of Plans (or Interventions)
    path : str or path-like
    plans : list of Plan, optional
        Plans to write in the same file (``save(journey, "m.yaml",
        plans=[...])``). An intervention used by several plans is written once
        in the file's ``interventions`` library and named in each plan.

    The YAML is block style with the keys in a fixed order and short rows and
    lists inline; numbers are written so that they read back bit for bit.

    The file is replaced atomically: the text goes to a temporary file in the
    same folder, which is synced and renamed over ``path``. A full disk, an
    error or a kill during the write leaves the previous file intact.

    Examples
    --------
    >>> import os, tempfile
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100}}, name="tiny")
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.yaml")
    >>> js.save(j, path)
    >>> with open(path, encoding="utf-8") as f:
    ...     print(f.read(), end="")
    format: journeysim/1
    journey:
      name: tiny
      stages: [active, churned]
      transitions:
        active: {churned: 0.1}
      values:
        revenue: {active: 100.0}
      start: {active: 1.0}
      discount_rate: 0.0
    """
    name = os.fspath(path)
    text = dumps(obj, _format_of(name), plans=plans)
    # Atomic: a full disk or a kill leaves the previous file, never a cut one.
    write_text(name, text, newline="\n")


def dumps(
    obj: Journey | Plan | Intervention | Sequence,
    fmt: str = "yaml",
    *,
    plans: Sequence[Plan] | None = None,
) -> str:
    """The text of the model file :func:`save` would write, ``fmt`` being
    ``"yaml"`` or ``"json"``.

    Examples
    --------
    >>> import journeysim as js
    >>> iv = js.Intervention("call", at=("active", "churned"), relative_risk=0.5)
    >>> print(js.dumps(iv), end="")
    format: journeysim/1
    interventions:
      - name: call
        at: [active, churned]
        relative_risk: 0.5
    >>> print(js.dumps(js.Plan("calls", [iv]), "json"), end="")
    {
      "format": "journeysim/1",
      "plans": [
        {
          "name": "calls",
          "interventions": [
            {
              "name": "call",
              "at": [
                "active",
                "churned"
              ],
              "relative_risk": 0.5
            }
          ]
        }
      ]
    }
    """
    doc = _document(obj, plans)
    if fmt == "yaml":
        return yaml.dump(
            doc,
            Dumper=_Dumper,
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
            width=88,
        )
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    raise InputError(f"fmt must be 'yaml' or 'json', got {fmt!r}")


def loads(text: str, fmt: str = "yaml", *, name: str = "<string>") -> ModelFile:
    """Read a model file's text (``fmt`` ``"yaml"`` or ``"json"``); ``name``
    stands for the file in error messages.

    Examples
    --------
    >>> import journeysim as js
    >>> m = js.loads('''
    ... format: journeysim/1
    ... journey:
    ...   stages: [active, churned]
    ...   transitions: {active: {churned: 0.25}}
    ... ''')
    >>> m.journey.analyze(periods=4).expected_lifetime
    4.0
    >>> try:
    ...     js.loads("format: journeysim/2", name="old.yaml")
    ... except ValueError as err:
    ...     print(err)
    old.yaml:1: format: unknown format 'journeysim/2'; this version reads journeysim/1
    """
    if fmt not in ("yaml", "json"):
        raise InputError(f"fmt must be 'yaml' or 'json', got {fmt!r}")
    if not isinstance(text, str):
        raise InputError(f"{name}: expected the text (a str), got {describe(text)}")
    if len(text) > MAX_BYTES:
        raise InputError(f"{name}: the text is longer than {MAX_BYTES:,} characters")
    return _parse(text.removeprefix("\ufeff"), fmt, name, None)


def schema() -> dict:
    """The JSON Schema (draft 2020-12) of the journeysim/1 model file format.

    It describes the structure; :func:`load_model` checks more (that stages
    exist, that rows sum to at most 1, ...). The file is
    ``journeysim/schema/journeysim-1.schema.json`` in the installed package.

    Examples
    --------
    >>> import journeysim as js
    >>> s = js.io.files.schema()
    >>> s["$schema"], s["properties"]["format"]
    ('https://json-schema.org/draft/2020-12/schema', {'const': 'journeysim/1'})
    """
    ref = resources.files("journeysim").joinpath("schema", _SCHEMA)
    return json.loads(ref.read_text(encoding="utf-8"))


# -- reading ----------------------------------------------------------------------


def _format_of(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(
            f"{name}: unknown model file type {suffix or '(no suffix)'!r}; use "
            ".yaml, .yml or .json"
        )
    return SUFFIXES[suffix]


def _decode(raw: bytes, name: str) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise InputError(
            f"{name}:{line}: the file is not UTF-8 text: byte 0x{raw[err.start]:02x} "
            f"at offset {err.start} ({err.reason})"
        ) from None


def _parse(
    text: str, fmt: str, name: str, path: str | None, chain: tuple[str, ...] = ()
) -> ModelFile:
    try:
        if fmt == "yaml":
            data, lines = parse_yaml(text)
        else:
            data, lines = JsonReader(text).parse()
    except Refused as err:
        where = f"{name}:{err.line}" if err.line else name
        raise InputError(f"{where}: {err.message}") from None
    try:
        return _model(data, path, chain)
    except SpecError as err:
        raise InputError(_located(name, lines, err), key=err.path) from None


def _located(name: str, lines: dict, err: SpecError) -> str:
    line = None
    for k in range(len(err.path), 0, -1):
        line = lines.get(err.path[:k])
        if line is not None:
            break
    where = f"{name}:{line}" if line is not None else name
    key = spec_path(err.path)
    return f"{where}: {key}: {err.message}" if key else f"{where}: {err.message}"


def _sub_files(path: str | None, chain: tuple[str, ...]):
    """What reads a sub-journey file named in the model at ``path``: relative
    to that file's folder (the working folder for text without a file), every
    error naming the file, and a file that refers back to one being read is a
    cycle."""
    here = os.path.abspath(path) if path is not None else None
    folder = os.path.dirname(here) if here is not None else os.getcwd()
    inside = chain + ((here,) if here is not None else ())

    def read(ref: str, key: tuple) -> Journey:
        target = os.path.normpath(os.path.join(folder, ref))
        if target in inside:
            loop = [*inside[inside.index(target) :], target]
            raise SpecError(
                key,
                f"sub-journey file {ref!r} refers back to a file being read: a "
                "cycle (" + " -> ".join(os.path.basename(x) for x in loop) + ")",
            )
        if not os.path.isfile(target):
            raise SpecError(key, f"sub-journey file {ref!r} not found ({target})")
        try:
            m = _load_model(target, inside)
        except InputError as err:
            raise SpecError(key, f"in sub-journey file {ref!r}: {err}") from None
        except OSError as err:
            raise SpecError(
                key, f"sub-journey file {ref!r} cannot be read: {err.strerror}"
            ) from None
        if m.journey is None:
            raise SpecError(key, f"sub-journey file {ref!r} holds no journey")
        return m.journey

    return read


def _model(data: Any, path: str | None, chain: tuple[str, ...] = ()) -> ModelFile:
    if data is None:
        raise SpecError(
            (), f"the file is empty; a model starts with 'format: {FORMAT}'"
        )
    if not isinstance(data, Mapping):
        raise SpecError(
            (),
            f"a model file is a mapping that starts with 'format: {FORMAT}', got "
            + describe(data),
        )
    if "format" not in data:
        raise SpecError((), f"missing 'format: {FORMAT}' (this version reads {FORMAT})")
    if data["format"] != FORMAT:
        raise SpecError(
            ("format",),
            f"unknown format {data['format']!r}; this version reads {FORMAT}",
        )
    check_keys(data, (), _TOP_KEYS, "a model file")
    journey: Journey | None = None
    library: dict[str, Intervention] = {}
    plans: list[Plan] = []
    if "journey" in data:
        try:
            journey = Journey._from_spec(
                data["journey"], strict=True, sub_files=_sub_files(path, chain)
            )
        except SpecError as err:
            raise err.within("journey") from None
    if "interventions" in data:
        items = data["interventions"]
        if not isinstance(items, list):
            raise SpecError(
                ("interventions",),
                f"expected a list of interventions, got {describe(items)}",
            )
        where: dict[str, int] = {}
        for k, item in enumerate(items):
            try:
                iv = Intervention.from_dict(item)
            except SpecError as err:
                raise err.within("interventions", k) from None
            if iv.name in where:
                raise SpecError(
                    ("interventions", k, "name"),
                    f"intervention {iv.name!r} is defined twice (also "
                    f"interventions[{where[iv.name]}])",
                )
            where[iv.name] = k
            library[iv.name] = iv
    if "plans" in data:
        items = data["plans"]
        if not isinstance(items, list):
            raise SpecError(
                ("plans",), f"expected a list of plans, got {describe(items)}"
            )
        seen: dict[str, int] = {}
        for k, item in enumerate(items):
            try:
                plan = Plan.from_dict(item, library)
            except SpecError as err:
                raise err.within("plans", k) from None
            if plan.name in seen:
                raise SpecError(
                    ("plans", k, "name"),
                    f"plan {plan.name!r} is defined twice "
                    f"(also plans[{seen[plan.name]}])",
                )
            seen[plan.name] = k
            plans.append(plan)
    if journey is not None:
        for k, iv in enumerate(library.values()):
            _check_fits(iv, journey, ("interventions", k))
        for k, plan in enumerate(plans):
            for i, (iv, item) in enumerate(
                zip(plan.interventions, data["plans"][k].get("interventions", []))
            ):
                if isinstance(item, Mapping):  # named ones are checked above
                    _check_fits(iv, journey, ("plans", k, "interventions", i))
    return ModelFile(path, journey, plans, library)


def _check_fits(iv: Intervention, journey: Journey, path: tuple) -> None:
    """The stages and segments an intervention names are the journey's."""
    stages = journey.stages

    def stage(s, p):
        if s != "*" and s not in stages:
            raise SpecError(
                p, f"unknown stage {s!r}; the journey's stages are {', '.join(stages)}"
            )

    stage(iv.source, (*path, "at"))
    for t in iv.targets:
        stage(t, (*path, "at"))
    if iv.source in journey.absorbing:
        raise SpecError(
            (*path, "at"), f"{iv.source!r} is absorbing: it has no moves to change"
        )
    if iv.reassign_to is not None:
        stage(iv.reassign_to, (*path, "reassign_to"))
    for s in iv.priority or []:
        stage(s, (*path, "priority"))
    for s in iv.segments or []:
        if s not in journey.segments:
            raise SpecError(
                (*path, "segments"),
                f"unknown segment {s!r}; the journey's segments are "
                + ", ".join(journey.segments),
            )


# -- writing ----------------------------------------------------------------------


class _Block(dict):
    """A mapping always written in block style (a stage, an intervention)."""


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key, short rows inline, no
    anchors or aliases."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data):
        return True


_Dumper.add_implicit_resolver(
    "tag:yaml.org,2002:float", EXPONENT_FLOAT, list("-+0123456789.")
)


def _width(items, nested: bool) -> int | None:
    """The width of a collection written inline, or None if it should not be:
    scalars only (and, in a list, short lists of scalars)."""
    width = 0
    for x in items:
        if isinstance(x, str):
            if "\n" in x:
                return None
            width += len(x) + 2
        elif x is None or isinstance(x, (bool, int, float)):
            width += len(repr(x)) + 2
        elif nested and type(x) is list:
            w = _width(x, False)
            if w is None:
                return None
            width += w + 2
        else:
            return None
    return width


def _inline(items, nested: bool = False) -> bool:
    """Short collections of scalars are written inline."""
    w = _width(items, nested)
    return w is not None and w <= 60


def _represent_str(dumper: yaml.SafeDumper, data: str):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _represent_dict(dumper: yaml.SafeDumper, data: dict):
    flow = _inline([*data.keys(), *data.values()]) if data else True
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)


def _represent_block(dumper: yaml.SafeDumper, data: dict):
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=False)


def _represent_list(dumper: yaml.SafeDumper, data: list):
    flow = _inline(data, nested=True) if data else True
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(_Block, _represent_block)
_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(str, _represent_str)


def _document(obj: Any, plans: Sequence[Plan] | None) -> dict:
    journey = None
    library: list[Intervention] = []
    plan_list: list[Plan] = []
    if isinstance(obj, Journey):
        journey = obj
    elif isinstance(obj, Plan):
        plan_list.append(obj)
    elif isinstance(obj, Intervention):
        library.append(obj)
    elif (
        isinstance(obj, (list, tuple))
        and obj
        and (
            all(isinstance(p, Plan) for p in obj)
            or all(isinstance(p, Intervention) for p in obj)
        )
    ):
        for x in obj:
            (plan_list if isinstance(x, Plan) else library).append(x)
    else:
        raise InputError(
            "save: expected a Journey, a Plan, an Intervention, or a list of Plans "
            f"or of Interventions, got {type(obj).__name__}"
        )
    if plans is not None:
        if isinstance(plans, Plan) or not all(isinstance(p, Plan) for p in plans):
            raise InputError("save: plans must be a list of Plans")
        plan_list.extend(plans)
    names = [p.name for p in plan_list]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"save: plan names repeat: {dup}")

    doc: dict[str, Any] = {"format": FORMAT}
    if journey is not None:
        spec = journey.to_spec()
        spec["stages"] = [
            _Block(s) if isinstance(s, dict) else s for s in spec["stages"]
        ]
        doc["journey"] = spec

    # The library: interventions saved as such, and any that several plans
    # share (the same name and fields); plans name them instead of repeating.
    lib: dict[str, dict] = {}
    for iv in library:
        d = iv.to_dict()
        if iv.name in lib and lib[iv.name] != d:
            raise InputError(f"save: two different interventions are named {iv.name!r}")
        lib[iv.name] = d
    uses: dict[str, list[dict]] = {}
    for plan in plan_list:
        for iv in plan.interventions:
            uses.setdefault(iv.name, []).append(iv.to_dict())
    for n, ds in uses.items():
        if n not in lib and len(ds) > 1 and all(d == ds[0] for d in ds):
            lib[n] = ds[0]
    if lib:
        doc["interventions"] = [_Block(d) for d in lib.values()]
    if plan_list:
        doc["plans"] = [
            _Block(
                name=p.name,
                **({"start": p.start} if p.start else {}),
                **({"capacity": dict(p.capacity)} if p.capacity else {}),
                interventions=[
                    iv.name if lib.get(iv.name) == d else _Block(d)
                    for iv in p.interventions
                    for d in [iv.to_dict()]
                ],
            )
            for p in plan_list
        ]
    return doc
