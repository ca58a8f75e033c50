"""The plan studio's state, without any widget: the journey, the library of
interventions, the plans and which are compared, the horizon, the budget and
the method. Every edit returns a new :class:`Setup` (checked by the same rules
as :class:`Intervention` and :class:`Plan`) or raises an InputError naming
what is wrong; the page shows that message and keeps the last good setup.

Computing is here too: the exact comparison of the chosen plans, the best plan
within a budget, and a Monte Carlo comparison run in a worker thread that can
be cancelled alone (:class:`MonteCarloJob`), so that a web server's event loop
stays free and one user's cancel button stops only that user's run."""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .._base import interrupt
from .._base.errors import InputError
from ..io.files import SUFFIXES, dumps, loads
from ..model.intervention import Intervention, Plan
from ..model.journey import Journey
from ..model.simulate import MAX_CUSTOMERS, MAX_SEED
from ..plans.budget import BudgetChoice, best_plan
from ..plans.compare import Comparison, compare

__all__ = [
    "EDITABLE",
    "MAX_UPLOAD",
    "MonteCarloJob",
    "Outcome",
    "PlanEntry",
    "Setup",
    "parse_number",
    "read_upload",
]

#: Uploaded model files larger than this are refused (a model file of the
#: largest journeys the studio can show is well under it).
MAX_UPLOAD = 5 * 1024 * 1024
#: What the page lets a person change on an intervention, and the
#: constructor's key each edit goes to ("effect": whichever of relative_risk,
#: change or probability it uses; "window start"/"window end": its tenure
#: window; "capacity": None for no limit).
EDITABLE = (
    "effect",
    "reach",
    "window start",
    "window end",
    "cost_fixed",
    "cost_per_customer",
    "cost_per_period",
    "capacity",
)
_WHOLE = ("window start", "window end", "capacity")
_BLANK_IS_NONE = ("window end", "capacity")


def parse_number(value: Any, what: str, *, whole: bool = False) -> float | int | None:
    """A number typed in the page: ``1,250``, ``1_250``, ``$1,250`` and ``25%``
    read as people mean them; a blank is None. Anything else is an InputError
    naming ``what``.

    Examples
    --------
    >>> parse_number("1,250", "cost"), parse_number("25%", "reach")
    (1250.0, 0.25)
    >>> parse_number(" ", "window end") is None
    True
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise InputError(f"{what}: expected a number, got {value!r}", key=(what,))
    if isinstance(value, (int, float)):
        x = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "").replace("_", "").lstrip("$€£")
        if not text:
            return None
        scale = 1.0
        if text.endswith("%"):
            text, scale = text[:-1], 0.01
        try:
            x = float(text) * scale
        except ValueError:
            raise InputError(
                f"{what}: {value!r} is not a number", key=(what,)
            ) from None
    else:
        raise InputError(f"{what}: expected a number, got {value!r}", key=(what,))
    if not math.isfinite(x):
        raise InputError(f"{what}: must be a finite number, got {value!r}", key=(what,))
    if whole:
        if not x.is_integer():
            raise InputError(
                f"{what}: must be a whole number, got {value!r}", key=(what,)
            )
        return int(x)
    return x


@dataclass(frozen=True)
class PlanEntry:
    """A plan as the studio holds it: its name, the names of its interventions
    (in the library) and its calendar start."""

    name: str
    members: tuple[str, ...]
    start: int = 0


@dataclass(frozen=True)
class Outcome:
    """A comparison shown in the page, with the warnings it gave and the
    chosen plans it had to leave out (and why)."""

    comparison: Comparison
    notes: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()


@dataclass(frozen=True)
class Setup:
    """Everything one person's page shows, as one immutable value.

    Attributes
    ----------
    journey : Journey
    library : tuple of Intervention
        Every intervention the plans may use, one per name. Editing one
        changes it in every plan that uses it, as a model file's
        ``interventions`` library does.
    plans : tuple of PlanEntry
    chosen : tuple of str
        The plans compared with the baseline.
    periods : int
        The horizon, in the journey's time unit.
    source : str
        The model file's name (for the downloaded file and messages).
    """

    journey: Journey
    library: tuple[Intervention, ...]
    plans: tuple[PlanEntry, ...]
    chosen: tuple[str, ...]
    periods: int = 36
    source: str = "model.yaml"

    # -- building -----------------------------------------------------------

    @classmethod
    def of(
        cls,
        journey: Journey,
        plans: Sequence[Plan] = (),
        *,
        interventions: Sequence[Intervention] = (),
        periods: int = 36,
        source: str = "model.yaml",
    ) -> Setup:
        """The setup of a journey and its plans (all chosen). An intervention
        is one per name: two different ones under one name are refused."""
        if not isinstance(journey, Journey):
            raise InputError(f"the studio needs a Journey, got {journey!r}")
        if isinstance(plans, Plan):
            plans = [plans]
        library: dict[str, Intervention] = {}
        where: dict[str, str] = {}
        entries = []
        for p in plans:
            if not isinstance(p, Plan):
                raise InputError(f"the studio's plans must be Plans, got {p!r}")
            for iv in p.interventions:
                old = library.get(iv.name)
                if old is not None and old != iv:
                    raise InputError(
                        f"intervention {iv.name!r} differs between plans "
                        f"{where[iv.name]!r} and {p.name!r}: the studio edits "
                        "one intervention per name, so rename one of them",
                        key=("plans", p.name, iv.name),
                    )
                library.setdefault(iv.name, iv)
                where.setdefault(iv.name, p.name)
            entries.append(
                PlanEntry(p.name, tuple(i.name for i in p.interventions), p.start)
            )
        for iv in interventions:
            library.setdefault(iv.name, iv)
        names = [e.name for e in entries]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup or "baseline" in names:
            raise InputError(
                f"plan names must be distinct and not 'baseline', got {names}"
            )
        setup = cls(
            journey,
            tuple(library.values()),
            tuple(entries),
            tuple(names),
            periods,
            source,
        )
        return setup.with_periods(periods)

    # -- reading ------------------------------------------------------------

    def intervention(self, name: str) -> Intervention:
        for iv in self.library:
            if iv.name == name:
                return iv
        raise InputError(f"no intervention named {name!r}", key=(name,))

    def entry(self, name: str) -> PlanEntry:
        for p in self.plans:
            if p.name == name:
                return p
        raise InputError(f"no plan named {name!r}", key=(name,))

    def plan(self, name: str) -> Plan:
        """The :class:`Plan` of that name, built from the library."""
        e = self.entry(name)
        return Plan(e.name, [self.intervention(n) for n in e.members], start=e.start)

    def all_plans(self) -> list[Plan]:
        return [self.plan(p.name) for p in self.plans]

    def chosen_plans(self) -> list[Plan]:
        return [self.plan(n) for n in self.chosen]

    def value(self, name: str, what: str) -> float | int | None:
        """The current value of an :data:`EDITABLE` field of an intervention."""
        iv = self.intervention(name)
        if what == "effect":
            return iv.amount
        if what == "window start":
            return iv.window[0]
        if what == "window end":
            return iv.window[1]
        return getattr(iv, what)

    # -- editing (each returns a new Setup) ---------------------------------

    def edit(self, name: str, what: str, value: Any) -> Setup:
        """The setup with one field of intervention ``name`` changed: ``what``
        one of :data:`EDITABLE`, ``value`` a number or the text typed.

        Examples
        --------
        >>> import journeysim as js
        >>> s = Setup.of(js.default_journey(), js.default_plans())
        >>> s2 = s.edit("onboarding call", "reach", "50%")
        >>> s2.intervention("onboarding call").reach
        0.5
        >>> s.value("onboarding call", "reach")  # the old setup is unchanged
        0.9
        """
        if what not in EDITABLE:
            raise InputError(f"what must be one of {list(EDITABLE)}, got {what!r}")
        iv = self.intervention(name)
        label = f"{name}: {what}"
        x = parse_number(value, label, whole=what in _WHOLE)
        if x is None and what not in _BLANK_IS_NONE:
            raise InputError(f"{label}: a number is needed", key=(name, what))
        if what == "effect":
            if iv.amount is None:
                raise InputError(
                    f"{name}: its effect is "
                    + ("none (it only costs)" if iv.effect is None else "a schedule")
                    + ": edit it in the model file",
                    key=(name, what),
                )
            new = iv.replace(**{iv.effect: x})
        elif what in ("window start", "window end"):
            a, b = iv.window
            new = iv.replace(window=(x, b) if what == "window start" else (a, x))
        else:
            new = iv.replace(**{what: x})
        return self._with_intervention(new)

    def _with_intervention(self, new: Intervention) -> Setup:
        lib = tuple(new if iv.name == new.name else iv for iv in self.library)
        if new.name not in {iv.name for iv in self.library}:
            lib = (*lib, new)
        out = replace(self, library=lib)
        for p in out.plans:  # a plan refuses an effect that never starts
            if new.name in p.members:
                out.plan(p.name)
        return out

    def with_intervention(self, iv: Intervention) -> Setup:
        """The setup with ``iv`` in the library (replacing one of that name)."""
        if not isinstance(iv, Intervention):
            raise InputError(f"expected an Intervention, got {iv!r}")
        return self._with_intervention(iv)

    def toggle(self, plan: str, name: str, on: bool) -> Setup:
        """The setup with intervention ``name`` added to (``on``) or removed
        from ``plan``."""
        self.intervention(name)
        e = self.entry(plan)
        members = tuple(m for m in e.members if m != name)
        if on:
            order = [iv.name for iv in self.library]
            members = tuple(sorted({*members, name}, key=order.index))
        new = replace(e, members=members)
        out = replace(self, plans=tuple(new if p is e else p for p in self.plans))
        out.plan(plan)
        return out

    def add_plan(self, name: str, members: Sequence[str] = ()) -> Setup:
        """The setup with a new plan (chosen for comparison)."""
        name = name.strip() if isinstance(name, str) else name
        if not isinstance(name, str) or not name:
            raise InputError("a new plan needs a name", key=("plan",))
        if name == "baseline" or name in {p.name for p in self.plans}:
            raise InputError(f"there is a plan named {name!r} already", key=("plan",))
        for m in members:
            self.intervention(m)
        out = replace(
            self,
            plans=(*self.plans, PlanEntry(name, tuple(members))),
            chosen=(*self.chosen, name),
        )
        out.plan(name)
        return out

    def remove_plan(self, name: str) -> Setup:
        self.entry(name)
        return replace(
            self,
            plans=tuple(p for p in self.plans if p.name != name),
            chosen=tuple(c for c in self.chosen if c != name),
        )

    def choose(self, names: Sequence[str]) -> Setup:
        """The setup comparing ``names`` (in the order of the plans)."""
        known = [p.name for p in self.plans]
        bad = [n for n in names if n not in known]
        if bad:
            raise InputError(f"no plans named {bad}", key=("chosen",))
        return replace(self, chosen=tuple(n for n in known if n in set(names)))

    def with_periods(self, periods: Any) -> Setup:
        p = parse_number(periods, "horizon", whole=True)
        if p is None or not 1 <= p <= 1200:
            raise InputError(
                f"horizon: must be 1 to 1,200 {self.journey.units.plural}, got "
                f"{periods!r}",
                key=("periods",),
            )
        return replace(self, periods=p)

    # -- computing ----------------------------------------------------------

    def compared(self) -> tuple[list[Plan], tuple[str, ...]]:
        """The chosen plans an exact comparison can take, and notes on those
        it cannot (a capacity limit can only be simulated)."""
        ok, left = [], []
        for p in self.chosen_plans():
            capped = [i.name for i in p.interventions if i.capacity is not None]
            if capped:
                left.append(
                    f"plan {p.name!r} is left out: {', '.join(capped)} has a "
                    "capacity limit, which only Monte Carlo can model"
                )
            else:
                ok.append(p)
        return ok, tuple(left)

    def exact(self) -> Outcome:
        """The exact comparison of the chosen plans (warnings kept as notes,
        not raised)."""
        plans, left = self.compared()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            c = compare(self.journey, plans, self.periods)
        notes = tuple(dict.fromkeys(str(m.message) for m in caught))
        return Outcome(c, notes, left)

    def best(self, budget: Any) -> BudgetChoice:
        """:func:`best_plan` over the library (interventions without a
        capacity) within ``budget``, the population's discounted cost."""
        b = parse_number(budget, "budget")
        if b is None or b < 0:
            raise InputError(
                f"budget: a sum of money >= 0 is needed, got {budget!r}",
                key=("budget",),
            )
        candidates = [iv for iv in self.library if iv.capacity is None]
        if not candidates:
            raise InputError("no intervention without a capacity to choose from")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return best_plan(self.journey, candidates, b, self.periods)

    def model_text(self) -> str:
        """The model file (journey, interventions and every plan) as YAML, the
        format :func:`journeysim.save` writes and :func:`journeysim.load`
        reads back to the same numbers."""
        return dumps(self.journey, "yaml", plans=self.all_plans())


def read_upload(name: str, data: bytes, *, periods: int = 36) -> Setup:
    """A setup from an uploaded model file: the same validating reader as
    :func:`journeysim.load_model` (safe YAML or JSON, no code run, every error
    naming the file, the line and the key), with a size limit of
    :data:`MAX_UPLOAD` bytes.

    Examples
    --------
    >>> try:
    ...     read_upload("m.yaml", b"format: journeysim/1\\njourney:\\n  stages: 3\\n")
    ... except ValueError as err:
    ...     print(err)
    m.yaml:2: journey: a journey needs 'transitions'
    """
    name = Path(str(name or "upload")).name
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(
            f"{name}: a model file is .yaml, .yml or .json, not "
            f"{suffix or '(no suffix)'!r}"
        )
    if not isinstance(data, (bytes, bytearray)):
        raise InputError(f"{name}: expected the file's bytes")
    if len(data) > MAX_UPLOAD:
        raise InputError(
            f"{name}: the file has {len(data):,} bytes, more than the "
            f"{MAX_UPLOAD:,} the studio takes"
        )
    raw = bytes(data).removeprefix(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise InputError(
            f"{name}:{line}: the file is not UTF-8 text (byte "
            f"0x{raw[err.start]:02x} at offset {err.start})"
        ) from None
    m = loads(text, SUFFIXES[suffix], name=name)
    if m.journey is None:
        raise InputError(f"{name}: the file holds no journey")
    return Setup.of(
        m.journey,
        m.plans,
        interventions=list(m.interventions.values()),
        periods=periods,
        source=name,
    )


class MonteCarloJob:
    """A Monte Carlo comparison of a setup's chosen plans, run in a thread of
    its own: :attr:`progress` for an indicator, :meth:`cancel` to stop it (this
    job only), :attr:`future` for the :class:`Outcome` (or the error;
    ``KeyboardInterrupt`` when cancelled).

    Examples
    --------
    >>> import journeysim as js
    >>> s = Setup.of(js.default_journey(), js.default_plans()[:1], periods=12)
    >>> job = MonteCarloJob(s, customers=2_000, seed=3)
    >>> out = job.future.result()
    >>> out.comparison.method, job.progress
    ('monte carlo', 1.0)
    """

    def __init__(
        self, setup: Setup, customers: Any, seed: Any, *, start: bool = True
    ) -> None:
        n = parse_number(customers, "customers", whole=True)
        if n is None or not 1 <= n <= MAX_CUSTOMERS:
            raise InputError(
                f"customers: a whole number from 1 is needed, got {customers!r}",
                key=("customers",),
            )
        s = parse_number(seed, "seed", whole=True)
        if s is not None and not 0 <= s <= MAX_SEED:
            raise InputError(f"seed: must be 0 to 2**64 - 1, got {seed!r}")
        self.setup = setup
        self.customers = n
        self.seed = s
        self.plans = setup.chosen_plans()
        self.future: Future = Future()
        self._cancelled = threading.Event()
        self._thread = threading.Thread(
            target=self._work, name="journeysim-studio", daemon=True
        )
        self._seen: dict[int, int] = {}  # control id -> steps at its last look
        self._steps = float(n) * setup.periods * (len(self.plans) + 1)
        if start:
            self._thread.start()

    def _work(self) -> None:
        try:
            if self._cancelled.is_set():
                raise KeyboardInterrupt("cancelled")
            with interrupt.session():
                if self._cancelled.is_set():
                    raise KeyboardInterrupt("cancelled")
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    c = compare(
                        self.setup.journey,
                        self.plans,
                        self.setup.periods,
                        customers=self.customers,
                        seed=self.seed,
                        progress=False,
                    )
            notes = tuple(dict.fromkeys(str(m.message) for m in caught))
            self.future.set_result(Outcome(c, notes))
        except BaseException as err:  # handed to the page
            self.future.set_exception(err)

    def cancel(self) -> None:
        """Stop this job: its running simulation stops within milliseconds,
        and no later one starts. Other jobs carry on."""
        self._cancelled.set()
        if self._thread.ident is not None:
            interrupt.cancel_thread(self._thread.ident)

    @property
    def done(self) -> bool:
        return self.future.done()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def progress(self) -> float:
        """Share of the work done, 0 to 1 (simulated customer-periods, over
        the baseline and every plan)."""
        if self.future.done():
            return 1.0
        if self._thread.ident is not None:
            for entry in interrupt.running_in(self._thread.ident):
                self._seen[id(entry.control)] = entry.control.steps_done
        done = sum(self._seen.values())
        return min(0.99, done / self._steps) if self._steps else 0.0
