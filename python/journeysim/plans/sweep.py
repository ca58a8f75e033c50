"""Many scenarios at once: every plan under every combination of parameter
values and every posterior draw, locally on all cores or on a Dask cluster,
with the same numbers either way.

How the work is split (see docs/scaling.md):

- A *cell* is one combination of grid values and one draw. Its scenarios are
  the baseline and every plan, evaluated together exactly as :func:`compare`
  evaluates them (the baseline once, plans paired with it; by Monte Carlo with
  common random numbers, all plans of a cell share the cell's seed).
- The seed of cell ``c`` is derived from ``(seed, c)`` alone
  (``SeedSequence(seed, spawn_key=(c,))``); within a cell the core derives its
  streams from (seed, replication, block). Nothing depends on which process
  runs a cell, on the batch it is in, or on the order batches finish: a sweep
  gives bit-identical results in one process, on a local pool of any size and
  on a cluster of any size.
- Cells are grouped into batches (about four per worker, so that a slow batch
  does not hold the others up); the journey and plans travel once per worker
  (scattered to every worker), each batch carries only its cells and draws.
"""

from __future__ import annotations

import itertools
import numbers
import secrets
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._base import executor
from .._base.conventions import accrual_of
from .._base.errors import InputError, SweepError
from ..model.apply_plan import apply_plan
from ..model.coerce import rates
from ..model.intervention import EFFECTS, Plan
from ..model.journey import Journey
from ..model.simulate import paired_engine
from .evaluate import check_plans, cost_rate, draw_journeys, exact_rows
from .simulated import simulated_rows

__all__ = ["psa_values", "scenario_seed", "simulate_plans", "sweep"]

#: Intervention settings a grid may vary, as ``"<intervention name>.<setting>"``.
#: Setting an effect (relative_risk, change, probability) replaces the
#: intervention's effect.
INTERVENTION_PARAMETERS = (
    "relative_risk",
    "change",
    "probability",
    "reach",
    "window",
    "calendar",
    "reassign_to",
    "segments",
    "cost_fixed",
    "cost_per_customer",
    "cost_per_period",
    "capacity",
)
#: Journey-level settings a grid may vary: the horizon, and the discount rate
#: of every value stream (and of intervention costs unless ``discount_rate=``).
JOURNEY_PARAMETERS = ("periods", "discount_rate")
# In-process when the whole sweep is expected to take less than this (seconds):
# starting worker processes costs about a second.
LOCAL_POOL_MIN_SECONDS = 2.0


def scenario_seed(seed: int, cell: int) -> int:
    """The Monte Carlo seed of cell ``cell`` of a sweep with ``seed``: a 64-bit
    integer derived from both by numpy's SeedSequence, whatever ran the cell."""
    ss = np.random.SeedSequence(int(seed), spawn_key=(int(cell),))
    return int(ss.generate_state(1, dtype=np.uint64)[0])


# -- what a batch carries -----------------------------------------------------


@dataclass
class _Context:
    """What every cell needs: sent once to each worker."""

    journey: Any  # Journey, or None when every cell brings its own draw
    plans: list
    periods: int
    horizons: list | None
    accrual: str
    discount_rate: float | None
    customers: int | None
    replications: int
    threads: int | None = None


@dataclass
class _Cell:
    index: int
    params: dict
    draw: int | None = None
    journey: Any = None  # the draw's journey, when there are draws
    seed: int | None = None
    rows: int = 0  # scenarios in the cell (baseline and plans)


@dataclass(frozen=True)
class _CellRows:
    """The rows of one cell: baseline first, then each plan."""

    index: int
    rows: list[dict]


@dataclass(frozen=True)
class _Warning:
    """A warning raised while a batch ran, emitted once by the caller."""

    category: type[Warning]
    message: str


@dataclass
class _Outcome:
    """What a batch sends back: its cells' rows, and its distinct warnings."""

    cells: list[_CellRows] = field(default_factory=list)
    warnings: list[_Warning] = field(default_factory=list)


# -- applying grid values -----------------------------------------------------


def _with_values(plan: Plan, params: Mapping[str, Any]) -> Plan:
    """The plan with the grid's intervention settings (validated by
    Intervention itself)."""
    changed = False
    out = []
    for iv in plan.interventions:
        mine = {
            key.rsplit(".", 1)[1]: v
            for key, v in params.items()
            if "." in key and key.rsplit(".", 1)[0] == iv.name
        }
        if not mine:
            out.append(iv)
            continue
        out.append(iv.replace(**mine))
        changed = True
    return Plan(plan.name, out, start=plan.start) if changed else plan


def _with_rate(journey: Journey, rate: Any) -> Journey:
    return journey.derive(rates=rates(rate, journey.streams))


def _points(grid: Any, plans: list[Plan]) -> tuple[list[str], list[dict]]:
    """Parameter names and the list of points (dicts) of a grid: a dict of
    value lists (every combination, the first name varying slowest) or a
    DataFrame (one point per row)."""
    if grid is None:
        return [], [{}]
    if isinstance(grid, pd.DataFrame):
        names = [str(c) for c in grid.columns]
        points = [dict(zip(names, row, strict=True)) for row in grid.itertuples(False)]
        if not points:
            raise InputError("grid: the DataFrame has no rows")
    elif isinstance(grid, Mapping):
        names = list(grid)
        values = []
        for name in names:
            v = grid[name]
            if isinstance(v, str | bytes) or not isinstance(v, Sequence | np.ndarray):
                raise InputError(f"grid[{name!r}] must be a list of values, got {v!r}")
            v = list(v)
            if not v:
                raise InputError(f"grid[{name!r}] has no values")
            values.append(v)
        points = [
            dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)
        ]
    else:
        raise InputError(
            f"grid must be a dict {{parameter: [values]}} or a DataFrame of points, "
            f"got {type(grid).__name__}"
        )
    known = {iv.name for p in plans for iv in p.interventions}
    for name in names:
        if not isinstance(name, str):
            raise InputError(f"grid parameter names must be strings, got {name!r}")
        if name in JOURNEY_PARAMETERS:
            continue
        if "." not in name:
            raise InputError(
                f"grid: unknown parameter {name!r}; use '<intervention>.<setting>' "
                f"(settings: {', '.join(INTERVENTION_PARAMETERS)}) or one of "
                f"{list(JOURNEY_PARAMETERS)}"
            )
        iv, setting = name.rsplit(".", 1)
        if iv not in known:
            raise InputError(
                f"grid: {name!r} names no intervention of the plans; the "
                f"interventions are {sorted(known)}"
            )
        if setting not in INTERVENTION_PARAMETERS:
            raise InputError(
                f"grid: {name!r}: {setting!r} is not a setting a sweep can vary; "
                f"choose from {list(INTERVENTION_PARAMETERS)}"
            )
    effects = {}
    for name in names:
        if "." in name and name.rsplit(".", 1)[1] in EFFECTS:
            effects.setdefault(name.rsplit(".", 1)[0], []).append(name)
    for iv, given in effects.items():
        if len(given) > 1:
            raise InputError(
                f"grid: intervention {iv!r} has one effect; vary one of {given}"
            )
    return names, points


# -- evaluating cells (on whatever process runs them) ---------------------------


def _error(err: BaseException) -> str:
    """The error for the table: its kind in Python's built-in terms (ValueError
    for bad input, MemoryError, ...) and its message."""
    kind = next(c for c in type(err).__mro__ if c.__module__ == "builtins")
    return f"{kind.__name__}: {err}"


def _evaluate_cell(ctx: _Context, cell: _Cell, threads: int | None) -> list[dict]:
    """The rows of one cell: baseline first, then each plan. A plan that raises
    gets a row with its error; the others are unaffected."""
    params = cell.params
    journey = cell.journey if cell.journey is not None else ctx.journey
    base = Plan("baseline", [])
    names = ["baseline", *(p.name for p in ctx.plans)]
    errors: dict[str, str] = {}
    try:
        periods = int(params.get("periods", ctx.periods))
        if "discount_rate" in params:
            journey = _with_rate(journey, params["discount_rate"])
        rate = cost_rate(journey, ctx.discount_rate)
        horizons = [periods] if ctx.horizons is None else ctx.horizons
        simulate = ctx.customers is not None
        plans = [base]
        applied = {
            "baseline": apply_plan(journey, base, cost_rate=rate, simulate=simulate)
        }
    except Exception as err:  # the whole cell fails
        return [{"plan": n, "error": _error(err)} for n in names]
    for p in ctx.plans:
        try:
            q = _with_values(p, params)
            applied[q.name] = apply_plan(journey, q, cost_rate=rate, simulate=simulate)
            plans.append(q)
        except Exception as err:
            errors[p.name] = _error(err)

    def run(some: list[Plan]) -> list[dict]:
        if not simulate:
            rows = exact_rows(
                some,
                applied,
                periods=periods,
                horizons=horizons,
                accrual=ctx.accrual,
                rate=rate,
                streams=journey.streams,
                journey=journey,
            )
        else:
            rows = simulated_rows(
                some,
                applied,
                periods=periods,
                horizons=horizons,
                accrual=ctx.accrual,
                rate=rate,
                streams=journey.streams,
                customers=ctx.customers,
                seed=cell.seed,
                replications=ctx.replications,
                threads=threads,
                progress=False,
            )
        return rows.rows

    by_plan: dict[str, dict] = {}
    try:
        for row in run(plans):
            by_plan[row["plan"]] = row
    except Exception:
        # Find which plans fail: each one with the baseline alone.
        try:
            by_plan["baseline"] = run([base])[0]
        except Exception as err:
            return [{"plan": n, "error": _error(err)} for n in names]
        for q in plans[1:]:
            try:
                by_plan[q.name] = run([base, q])[1]
            except Exception as err:
                errors[q.name] = _error(err)
    out = []
    for n in names:
        if n in errors:
            out.append({"plan": n, "error": errors[n]})
        else:
            out.append({**by_plan[n], "error": None})
    return out


def _run_batch(ctx: _Context, cells: list[_Cell], threads: int | None) -> _Outcome:
    """Evaluate cells; warnings are collected (and raised once by the caller)
    rather than emitted wherever the batch runs."""
    out = _Outcome()
    seen = set()
    for cell in cells:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rows = _evaluate_cell(ctx, cell, threads)
        for w in caught:
            warning = _Warning(w.category, str(w.message))
            if warning not in seen:
                seen.add(warning)
                out.warnings.append(warning)
        out.cells.append(_CellRows(cell.index, rows))
    return out


# -- the engine -------------------------------------------------------------------


def _rows(cell: _Cell) -> int:
    """Scenarios in a cell: what the progress bar counts."""
    return cell.rows


def _run(
    ctx: _Context,
    cells: list[_Cell],
    *,
    client: Any,
    workers: int | None,
    batch_size: int | None,
    progress: bool,
) -> dict[int, list[dict]]:
    """Rows by cell index, whichever way the cells ran."""
    bar = executor.Progress(
        sum(c.rows for c in cells), progress, unit="scenario", desc="sweep"
    )
    try:
        if client is not None:
            outcomes = executor.run_dask(
                client,
                _run_batch,
                ctx,
                cells,
                batch_size=batch_size,
                weight=_rows,
                progress=bar,
                threads=ctx.threads,
                name="sweep",
            )
        else:
            outcomes = executor.run_local(
                _run_batch,
                ctx,
                cells,
                workers=executor.cpus() if workers is None else workers,
                batch_size=batch_size,
                weight=_rows,
                progress=bar,
                threads=ctx.threads,
                min_seconds=LOCAL_POOL_MIN_SECONDS,
            )
    finally:
        bar.close()
    rows: dict[int, list[dict]] = {}
    emitted = set()
    # In cell order, whatever order the batches finished in.
    for o in sorted(outcomes, key=lambda o: o.cells[0].index if o.cells else -1):
        rows.update({c.index: c.rows for c in o.cells})
        for w in o.warnings:
            if w not in emitted:
                emitted.add(w)
                warnings.warn(w.message, w.category, stacklevel=3)
    return rows


def sweep(
    journey: Journey,
    plans: Sequence[Plan] = (),
    *,
    grid: Mapping[str, Sequence] | pd.DataFrame | None = None,
    uncertainty: Any = None,
    draws: int = 200,
    periods: int = 36,
    customers: int | None = None,
    seed: int | None = None,
    replications: int = 1,
    horizons: Sequence[int] | None = None,
    accrual: str = "start",
    discount_rate: float | None = None,
    threads: int | None = None,
    client: Any = None,
    workers: int | None = None,
    batch_size: int | None = None,
    errors: str = "raise",
    progress: bool | None = None,
) -> pd.DataFrame:
    """Evaluate every plan (and the baseline) under every combination of
    parameter values and every posterior draw; one row per scenario.

    Parameters
    ----------
    journey : Journey
    plans : list of Plan
        The plans to compare; the baseline (no intervention) is added first.
    grid : dict or DataFrame, optional
        Values to vary: ``{"onboarding call.relative_risk": [0.5, 0.6, 0.7],
        "onboarding call.reach": [0.5, 1.0]}`` (every combination, the first
        name varying slowest) or a DataFrame with one point per row.
        ``"<intervention>.<setting>"`` changes that intervention wherever it
        appears (settings: relative_risk, change, probability, reach, window,
        calendar, reassign_to, segments, cost_fixed, cost_per_customer,
        cost_per_period, capacity; an effect replaces the intervention's
        effect); ``"periods"`` and ``"discount_rate"`` change the horizon and
        every stream's discount rate.
    uncertainty, draws
        As in :func:`compare`: a :class:`Fit` (``draws`` posterior draws of
        the transitions, drawn here with ``seed``) or a list of journeys; every
        grid point is evaluated on every draw.
    periods, customers, seed, replications, horizons, accrual, discount_rate
        As in :func:`compare`: exact unless ``customers`` is given; then by
        Monte Carlo, the plans of a cell paired with common random numbers.
        Cell ``c`` (one grid point on one draw) is simulated with
        ``scenario_seed(seed, c)`` (column ``seed``), so any row can be
        reproduced with ``compare(..., seed=row.seed)``.
    threads : int, optional
        Threads of each simulation (results do not depend on it). Default:
        every core in this process, one per process in a local pool, and a
        worker's threads on a cluster.
    client : dask.distributed.Client, optional
        Run on the cluster: batches of cells as tasks, the journey and plans
        scattered once to every worker. Without it the sweep runs here, on
        ``workers`` processes (default: every core) when it is long enough to
        repay starting them, else in this process. Results are bit-identical
        either way (scripts need the usual ``if __name__ == "__main__":`` guard
        for local processes, as for any multiprocessing).
    batch_size : int, optional
        Cells per task (default: about four tasks per worker thread).
    errors : {"raise", "keep"}
        A scenario that raises gets its message (``"ValueError: ..."``) in the
        ``error`` column, and the other scenarios are unaffected. With
        "raise" (default) the sweep then raises :class:`SweepError` naming the
        failing scenarios, with the whole table as ``.results``; with "keep"
        it returns the table.
    progress : bool, optional
        A tqdm bar counting scenarios; None shows one for long sweeps.

    Returns
    -------
    DataFrame
        Indexed by ``scenario`` (in the order cell, then baseline and plans),
        with ``plan``, one column per grid parameter, ``draw`` (with
        uncertainty), ``seed`` (Monte Carlo), every column of
        ``compare(...).summary`` and ``error``.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}})
    >>> save = js.Intervention("save", at=("active", "churned"),
    ...                        relative_risk=0.5, cost_per_customer=20)
    >>> w = js.sweep(j, [js.Plan("save offer", [save])], periods=12,
    ...              grid={"save.relative_risk": [0.5, 0.8]}, workers=1)
    >>> w[["plan", "save.relative_risk", "incremental net value"]].round(1)
                    plan  save.relative_risk  incremental net value
    scenario
    0           baseline                 0.5                    0.0
    1         save offer                 0.5                  181.7
    2           baseline                 0.8                    0.0
    3         save offer                 0.8                   52.8
    """
    if not isinstance(journey, Journey):
        raise InputError(f"sweep needs a Journey, got {journey!r}")
    plans = check_plans(plans)
    for name, v, low in (("periods", periods, 1), ("replications", replications, 1)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
            raise InputError(f"{name} must be an integer >= {low}, got {v!r}")
    if customers is not None and (
        isinstance(customers, bool)
        or not isinstance(customers, numbers.Integral)
        or customers < 1
    ):
        raise InputError(f"customers must be an integer >= 1, got {customers!r}")
    accrual_of(accrual)
    if errors not in ("raise", "keep"):
        raise InputError(f"errors must be 'raise' or 'keep', got {errors!r}")
    if progress is not None and not isinstance(progress, bool):
        raise InputError(f"progress must be True, False or None, got {progress!r}")
    for name, v in (
        ("workers", workers),
        ("batch_size", batch_size),
        ("threads", threads),
    ):
        if v is not None and (
            isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1
        ):
            raise InputError(f"{name} must be an integer >= 1, got {v!r}")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0
    ):
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")
    cost_rate(journey, discount_rate)  # checks it
    executor.check_client(client)
    names, points = _points(grid, plans)
    for pt in points:
        h = pt.get("periods", periods)
        if isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1:
            raise InputError(f"grid: periods must be integers >= 1, got {h!r}")
    if customers is None and (
        any(iv.capacity for p in plans for iv in p.interventions)
        or any(n.endswith(".capacity") for n in names)
    ):
        raise InputError(
            "plans with capacity limits can only be simulated: pass customers="
        )
    if horizons is not None:
        horizons = list(horizons)
        shortest = min(int(pt.get("periods", periods)) for pt in points)
        for h in horizons:
            if (
                isinstance(h, bool)
                or not isinstance(h, numbers.Integral)
                or not (0 <= h <= shortest)
            ):
                raise InputError(
                    f"horizons must be integers in [0, {shortest}], got {h!r}"
                )
    if seed is None and (customers is not None or uncertainty is not None):
        seed = secrets.randbits(64)  # kept in the table's attrs["seed"]
    if uncertainty is not None:
        if customers is not None:
            raise InputError(
                "uncertainty= runs the exact analysis: leave customers out"
            )
        samples = draw_journeys(journey, uncertainty, draws, seed)
    else:
        samples = [None]
    per_cell = len(plans) + 1
    cells = []
    for k, (point, d) in enumerate(itertools.product(points, range(len(samples)))):
        cells.append(
            _Cell(
                index=k,
                params=point,
                draw=None if uncertainty is None else d,
                journey=samples[d],
                seed=None if customers is None else scenario_seed(seed, k),
                rows=per_cell,
            )
        )
    ctx = _Context(
        journey=journey if uncertainty is None else None,
        plans=plans,
        periods=int(periods),
        horizons=horizons,
        accrual=accrual,
        discount_rate=discount_rate,
        customers=None if customers is None else int(customers),
        replications=int(replications),
        threads=threads,
    )
    total = len(cells) * per_cell
    if progress is None:
        progress = total >= (20 if customers is not None else 2_000)
    by_cell = _run(
        ctx,
        cells,
        client=client,
        workers=workers,
        batch_size=batch_size,
        progress=progress,
    )
    table = _table(cells, by_cell, names, uncertainty is not None, customers)
    table.attrs["seed"] = seed
    failed = table[table["error"].notna()]
    if len(failed) and errors == "raise":
        raise SweepError(_failure_message(failed, names), table)
    return table


def _table(cells, by_cell, names, with_draws, customers) -> pd.DataFrame:
    records = []
    for cell in cells:
        for row in by_cell[cell.index]:
            meta: dict[str, Any] = {"plan": row["plan"]}
            meta.update({n: cell.params[n] for n in names})
            if with_draws:
                meta["draw"] = cell.draw
            if customers is not None:
                meta["seed"] = cell.seed
            records.append({**meta, **{k: v for k, v in row.items() if k != "plan"}})
    table = pd.DataFrame.from_records(records)
    first = ["plan", *names] + (["draw"] if with_draws else [])
    first += ["seed"] if customers is not None else []
    rest = [c for c in table.columns if c not in first and c != "error"]
    table = table[[*first, *rest, "error"]]
    if customers is not None:
        table["seed"] = table["seed"].astype(np.uint64)
    table.index = pd.RangeIndex(len(table), name="scenario")
    return table


def _failure_message(failed: pd.DataFrame, names: list[str]) -> str:
    lines = [f"{len(failed)} of the sweep's scenarios raised:"]
    for idx, r in failed.head(10).iterrows():
        where = ", ".join(f"{n}={r[n]!r}" for n in names)
        draw = f", draw {r['draw']}" if "draw" in failed.columns else ""
        lines.append(
            f"  scenario {idx} (plan {r['plan']!r}{', ' if where else ''}{where}"
            f"{draw}): {r['error']}"
        )
    if len(failed) > 10:
        lines.append(f"  ... and {len(failed) - 10} more")
    lines.append("the other scenarios' results are in this error's .results")
    return "\n".join(lines)


# -- for compare(): uncertainty draws, and simulations on a cluster -------------


def psa_values(
    samples: list,
    plans: list[Plan],
    *,
    periods: int,
    horizons: list,
    accrual: str,
    discount_rate: float | None,
    client: Any,
) -> np.ndarray:
    """Incremental net value per draw (rows) and plan (columns, baseline
    first) of an exact comparison on each draw: compare(uncertainty=)'s work,
    by the sweep's engine (here in this process, or on ``client``)."""
    ctx = _Context(
        journey=None,
        plans=plans,
        periods=periods,
        horizons=horizons,
        accrual=accrual,
        discount_rate=discount_rate,
        customers=None,
        replications=1,
    )
    cells = [
        _Cell(index=d, params={}, draw=d, journey=s, rows=len(plans) + 1)
        for d, s in enumerate(samples)
    ]
    by_cell = _run(
        ctx, cells, client=client, workers=1, batch_size=None, progress=False
    )
    out = np.empty((len(samples), len(plans) + 1))
    for d in range(len(samples)):
        for k, row in enumerate(by_cell[d]):
            if row["error"] is not None:
                raise InputError(
                    f"uncertainty draw {d}, plan {row['plan']!r}: {row['error']}"
                )
            out[d, k] = row["incremental net value"]
    return out


def _simulate_task(
    pj, customers, periods, seed, replications, threads, accrual, engine
):
    if threads is None:
        threads = executor.default_threads()
    return pj.simulate(
        customers,
        periods,
        seed=seed,
        replications=replications,
        threads=threads,
        progress=False,
        accrual=accrual,
        engine=engine,
    )


def simulate_plans(
    client, applied: dict, *, customers, periods, seed, replications, threads, accrual
) -> dict:
    """compare(customers=, client=): each plan's simulation as one task (the
    same seed for all: common random numbers), the Simulation objects gathered
    and re-attached to this process's journeys."""
    token = uuid.uuid4().hex[:12]
    engine = paired_engine(a.journey for a in applied.values())
    futures = {
        name: client.submit(
            _simulate_task,
            a.journey,
            customers,
            periods,
            seed,
            replications,
            threads,
            accrual,
            engine,
            key=f"journeysim-simulate-{token}-{k}",
        )
        for k, (name, a) in enumerate(applied.items())
    }
    try:
        sims = dict(zip(futures, client.gather(list(futures.values())), strict=True))
    except BaseException:
        client.cancel(list(futures.values()))
        raise
    # The same arrays, with this process's journeys rather than the copies
    # that travelled back with them.
    return {name: s.with_journey(applied[name].journey) for name, s in sims.items()}
