"""The ``journeysim`` command line: ``demo``, ``run``, ``compare``, ``fit``,
``report`` and ``studio``. User errors (a bad file, a bad option, a missing optional
dependency) exit with code 2 and a one-line message, never a traceback;
progress bars go to stderr. Every output is checked before any work and
written atomically; an existing one is replaced only with ``--force``
(:mod:`journeysim.apps.outputs`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TextIO

import pandas as pd

from .._base.atomic import check_writable
from .._base.checks import check_integer
from .._base.conventions import MAX_PERIOD
from .._base.errors import InputError
from .._base.optional import optional
from .._base.units import check_units
from .._base.version import __version__
from ..calibrate.fit import fit
from ..calibrate.monitor import monitor
from ..calibrate.rules import Rule, read_export, stages_from
from ..io.files import load, load_model, load_plans, save
from ..io.rules_file import RulesFile, read_rules
from ..model.simulate import (
    MAX_CUSTOMERS,
    MAX_REPLICATIONS,
    MAX_SEED,
    MAX_SIMULATED_PERIODS,
    MAX_THREADS,
)
from ..plans.compare import compare
from ..view.numbers import duration, money, percent
from ..view.plot import figure
from .demo import DEFAULT_PLOT, default_journey, default_plans, run_demo
from .fit_report import fit_report
from .monitor_report import monitor_report
from .outputs import Kind, Output, check_outputs, write_csv, write_plot
from .report import report
from .studio import serve

__all__ = ["main"]


class UserError(InputError):
    """A mistake in what the user asked for: reported in one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 already; keep it one line
        self.exit(2, f"journeysim: error: {message}\n")


def _count(text: str) -> int:
    """A whole number; 1_000_000, 1,000,000 and 1e6 are fine. Ranges are
    checked by each command, which names the option."""
    try:
        value = float(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not value.is_integer():
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")
    return int(value)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="journeysim",
        description="Customer journey what-if analysis: analyse a journey model, "
        "compare intervention plans, calibrate from event logs, write reports.",
    )
    parser.add_argument(
        "--version", action="version", version=f"journeysim {__version__}"
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    def force(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--force", action="store_true", help="overwrite output files that exist"
        )

    demo = sub.add_parser("demo", help="analyse the embedded B2B SaaS journey")
    demo.add_argument("--periods", type=_count, default=36, help="horizon in months")
    demo.add_argument("--out", default=None, help="where to write the retention PNG")
    demo.add_argument(
        "--save",
        metavar="MODEL",
        help="also write the journey and three example plans to this YAML/JSON "
        "file, a starting point for run, compare and report",
    )
    force(demo)

    def horizon_and_simulation(p: argparse.ArgumentParser) -> None:
        p.add_argument("--periods", type=_count, default=36, help="horizon (36)")
        p.add_argument(
            "--customers",
            type=_count,
            default=None,
            help="simulate this many customers (Monte Carlo); default: exact",
        )
        p.add_argument("--seed", type=_count, default=None, help="random seed")
        p.add_argument(
            "--replications", type=_count, default=1, help="Monte Carlo replications"
        )
        p.add_argument("--threads", type=_count, default=None, help="threads")
        p.add_argument(
            "--no-progress", action="store_true", help="no progress bar on stderr"
        )
        force(p)

    run = sub.add_parser("run", help="analyse (or simulate) a journey model file")
    run.add_argument("model", help="a journeysim YAML or JSON file")
    horizon_and_simulation(run)
    run.add_argument("--csv", metavar="DIR", help="write the tables as CSV files here")
    run.add_argument("--plot", metavar="PNG", help="write the retention curve here")

    cmp = sub.add_parser("compare", help="compare intervention plans")
    cmp.add_argument("model", help="a journeysim file with a journey (and plans)")
    cmp.add_argument(
        "--plans", metavar="FILE", help="plans file (default: the model's plans)"
    )
    horizon_and_simulation(cmp)
    cmp.add_argument("--csv", metavar="FILE", help="write the comparison table here")
    cmp.add_argument("--plot", metavar="PNG", help="write the comparison chart here")

    fit = sub.add_parser("fit", help="calibrate a journey from an event log")
    fit.add_argument(
        "events", help="a CSV or Parquet event log (an account export with --rules)"
    )
    fit.add_argument(
        "--rules",
        metavar="STAGES",
        help="a stages.yaml of stage rules: the events are an account export, "
        "one row per account per period, and the rules give each row its stage",
    )
    fit.add_argument("--html", metavar="OUT", help="write the fit report (HTML) here")
    fit.add_argument("--out", required=True, metavar="MODEL", help="YAML/JSON out")
    fit.add_argument("--customer", default="customer", help="customer id column")
    fit.add_argument("--time", default="period", help="time column")
    fit.add_argument("--stage", default="stage", help="stage column")
    fit.add_argument(
        "--period", default="1", help="M, W, D for dates, or an integer (1)"
    )
    fit.add_argument(
        "--kind", choices=["changes", "snapshots"], default="changes", help="log kind"
    )
    fit.add_argument("--segment", default=None, help="segment column")
    fit.add_argument("--tenure", default=None, help="tenure piece starts, e.g. 0,3,12")
    fit.add_argument("--absorbing", default=None, help="absorbing stages, a,b")
    fit.add_argument("--prior", type=float, default=0.0, help="Dirichlet prior")
    fit.add_argument(
        "--returns",
        choices=["error", "new_customer"],
        default="error",
        help="a customer back from an absorbing stage: refuse the log "
        "(error) or count a new customer's journey",
    )
    fit.add_argument(
        "--like",
        metavar="MODEL",
        help="keep this model's values, metadata and discounting; replace its "
        "transitions by the fitted ones",
    )
    fit.add_argument("--plot", metavar="PNG", help="observed against fitted, here")
    fit.add_argument(
        "--time-unit",
        default=None,
        help="what a period is (month, week, ...; default: from --period M/W/D)",
    )
    fit.add_argument("--currency", default=None, help="ISO 4217 code, e.g. EUR")
    fit.add_argument("--locale", default=None, help="how numbers are written (de_DE)")
    force(fit)

    mon = sub.add_parser("monitor", help="rates over time, drift and forecast checks")
    mon.add_argument("events", help="a CSV or Parquet event log")
    mon.add_argument("--model", metavar="MODEL", help="the journey in use (YAML/JSON)")
    mon.add_argument("--window", default="3M", help="window length (3M)")
    mon.add_argument("--every", default=None, help="step between windows (1 period)")
    mon.add_argument("--expanding", action="store_true", help="expanding windows")
    mon.add_argument("--customer", default="customer", help="customer id column")
    mon.add_argument("--time", default="date", help="time column (date)")
    mon.add_argument("--stage", default="stage", help="stage column")
    mon.add_argument("--threshold", type=float, default=0.02, help="change (0.02)")
    mon.add_argument("--horizon", type=_count, default=6, help="backtest horizon")
    mon.add_argument("--html", required=True, metavar="OUT", help="HTML file out")
    force(mon)

    rep = sub.add_parser("report", help="write a self-contained HTML plan report")
    rep.add_argument("model", help="a journeysim file with a journey (and plans)")
    rep.add_argument("--plans", metavar="FILE", help="plans file")
    rep.add_argument("--html", required=True, metavar="OUT", help="HTML file out")
    rep.add_argument("--title", default=None, help="the report's title")
    rep.add_argument(
        "--versus",
        metavar="FILE",
        help="an optimised journey's model file: add a current-versus-optimised "
        "section (side by side, what each change contributes, both maps)",
    )
    rep.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="NEW=OLD",
        help="with --versus: the optimised stage NEW is the current stage OLD "
        "(NEW= for a new stage); repeat for each stage whose name differs",
    )
    horizon_and_simulation(rep)

    std = sub.add_parser(
        "studio", help="the plan studio: compare and edit plans in the browser"
    )
    std.add_argument(
        "model", nargs="?", help="a journeysim file (default: the demo journey)"
    )
    std.add_argument("--plans", metavar="FILE", help="plans file")
    std.add_argument("--port", type=_count, default=5006, help="port (5006)")
    std.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (127.0.0.1: this machine only; 0.0.0.0: all)",
    )
    std.add_argument(
        "--allow-websocket-origin",
        action="append",
        metavar="HOST[:PORT]",
        help="a host name browsers reach the studio by (behind a proxy); repeat "
        "for several",
    )
    std.add_argument("--periods", type=_count, default=36, help="horizon (36)")
    std.add_argument("--no-browser", action="store_true", help="do not open a browser")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:  # bare `journeysim`: what it can do
            parser.print_help()
        elif args.command == "demo":
            _demo(args)
        elif args.command == "run":
            _run(args, sys.stdout)
        elif args.command == "compare":
            _compare(args, sys.stdout)
        elif args.command == "fit":
            _fit(args, sys.stdout)
        elif args.command == "report":
            _report(args, sys.stdout)
        elif args.command == "monitor":
            _monitor(args, sys.stdout)
        elif args.command == "studio":
            _studio(args)
        # Output still buffered is written here, so that a closed pipe is
        # handled below rather than at exit.
        sys.stdout.flush()
    except BrokenPipeError:
        return _broken_pipe()
    except (ValueError, OSError, MemoryError, ImportError) as err:
        lines = str(err).strip().splitlines()
        message = lines[0] if lines else type(err).__name__
        print(f"journeysim: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("journeysim: interrupted", file=sys.stderr)
        return 130
    return 0


def _broken_pipe() -> int:
    """The reader of our output went away (``journeysim run m.yaml | head``):
    stop quietly, as the Python documentation recommends (signal module,
    "Note on SIGPIPE"): point stdout at devnull so that the interpreter's
    final flush does not fail again, and exit 1."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1


# -- the commands ---------------------------------------------------------------


def _progress(args) -> bool | None:
    return False if args.no_progress else None


def _check_simulation(args) -> None:
    """The options' ranges, checked as the API checks its arguments, named as
    the user typed them."""
    simulated = args.customers is not None
    top = MAX_SIMULATED_PERIODS if simulated else MAX_PERIOD
    check_integer(args.periods, "--periods", 1, top)
    if args.threads is not None:
        check_integer(args.threads, "--threads", 1, MAX_THREADS)
    if simulated:
        check_integer(args.customers, "--customers", 1, MAX_CUSTOMERS)
    check_integer(args.replications, "--replications", 1, MAX_REPLICATIONS)
    if args.seed is not None:
        check_integer(args.seed, "--seed", 0, MAX_SEED)
    if not simulated and (args.seed is not None or args.replications > 1):
        raise UserError("--seed and --replications need --customers (Monte Carlo)")


def _output(path: str | None, kind: Kind, option: str) -> Output | None:
    return None if path is None else Output(path, kind, option)


def _demo(args) -> None:
    check_integer(args.periods, "--periods", 0, MAX_PERIOD)
    # The default retention file (DEFAULT_PLOT in the working folder) is the
    # demo's own and is replaced; files the user names are not.
    if args.out is None:
        check_writable(DEFAULT_PLOT)
    check_outputs(
        [
            _output(args.out, Kind.PLOT, "--out"),
            _output(args.save, Kind.MODEL, "--save"),
        ],
        args.force,
    )
    run_demo(periods=args.periods, out=args.out)
    if args.save:
        save(default_journey(), args.save, plans=default_plans())
        print(f"Journey and plans written to {Path(args.save).resolve()}")


#: The tables ``run --csv DIR`` writes; the last two only for an exact run.
RUN_TABLES = ("summary", "occupancy", "retention", "value_by_period")
EXACT_TABLES = ("stages", "absorption")


def _run(args, out: TextIO) -> None:
    _check_simulation(args)
    names = RUN_TABLES + (EXACT_TABLES if args.customers is None else ())
    tables_out = None
    if args.csv is not None:
        tables_out = Output(
            args.csv, Kind.CSV_FOLDER, "--csv", tuple(f"{n}.csv" for n in names)
        )
    check_outputs([tables_out, _output(args.plot, Kind.PLOT, "--plot")], args.force)
    journey = load(args.model)
    title = journey.name or Path(args.model).stem
    if args.customers is None:
        result = journey.analyze(periods=args.periods)
        method = "exact"
    else:
        result = journey.simulate(
            customers=args.customers,
            periods=args.periods,
            seed=args.seed,
            replications=args.replications,
            threads=args.threads,
            progress=_progress(args),
        )
        method = f"Monte Carlo, {args.customers:,} customers, seed {result.seed}"
    units = journey.units
    print(
        f"{title}: {len(journey.stages)} stages, "
        f"{units.periods(args.periods)} ({method})"
    )
    print()
    summary = result.summary()
    with pd.option_context("display.width", 120, "display.max_rows", 200):
        print(result.summary_text().to_string())
        print()
        if args.customers is None:
            print("Per-stage health (a customer in this stage now):")
            print(_health_text(result).to_string())
            print()
            print("Outcomes (share of the starting customers):")
            print(result.outcomes.map(lambda v: percent(v, units)).to_string())
            print()
            year = units.year
            stream = result.headline_stream()
            if stream is not None and args.periods >= year:
                rr = result.revenue_retention(stream, every=year)
                shown = rr[
                    [
                        "logo_retention",
                        "nrr",
                        "grr",
                        "expansion",
                        "contraction",
                        "churned",
                    ]
                ]
                print(f"Revenue retention of {stream!r}, every {units.periods(year)}:")
                print(shown.map(lambda v: percent(v, units)).to_string())
                print()
    if args.csv:
        folder = Path(args.csv)
        folder.mkdir(parents=True, exist_ok=True)
        tables = {
            "summary": summary.to_frame("value"),
            "occupancy": result.occupancy,
            "retention": result.retention.to_frame(),
            "value_by_period": result.value_by_period,
        }
        if args.customers is None:
            tables["stages"] = result.stages
            tables["absorption"] = result.absorption.to_frame()
        for name, table in tables.items():
            write_csv(table, folder / f"{name}.csv")
        print(f"CSV tables written to {folder.resolve()}: {', '.join(tables)}")
    if args.plot:
        from matplotlib.ticker import PercentFormatter  # loaded only to plot

        fig, ax = figure()
        ret = result.retention.to_numpy()  # by tenure, whatever the index's dates
        ax.plot(range(len(ret)), ret, lw=2)
        ax.set(
            xlabel=f"tenure ({journey.units.plural})",
            ylabel="share of the starting customers retained",
            ylim=(0, 1.02),
            title=title,
        )
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.grid(alpha=0.3)
        write_plot(fig, args.plot)
        print(f"Retention curve written to {Path(args.plot).resolve()}")


def _health_text(a) -> pd.DataFrame:
    """The per-stage table written for people: times in the journey's unit,
    money in its currency."""
    u = a.units
    st = a.stages
    out = pd.DataFrame(index=st.index)
    for col in st.columns:
        if col.startswith("remaining_lifetime"):
            out[col.replace("_", " ")] = st[col].map(lambda v: duration(v, u))
        else:
            out[col.replace("_", " ")] = st[col].map(lambda v: money(v, u))
    return out


def _journey_and_plans(args):
    model = load_model(args.model)
    if model.journey is None:
        raise UserError(f"{args.model}: the file holds no journey")
    plans = load_plans(args.plans) if args.plans else model.plans
    if not plans:
        raise UserError(
            f"{args.model}: no plans to compare; add plans: to the file or pass "
            "--plans FILE"
        )
    return model.journey, plans


def _compare(args, out: TextIO) -> None:
    _check_simulation(args)
    check_outputs(
        [_output(args.csv, Kind.CSV, "--csv"), _output(args.plot, Kind.PLOT, "--plot")],
        args.force,
    )
    journey, plans = _journey_and_plans(args)
    c = compare(
        journey,
        plans,
        args.periods,
        customers=args.customers,
        seed=args.seed,
        replications=args.replications,
        threads=args.threads,
        progress=_progress(args),
    )
    print(
        f"{len(plans)} plan(s) against the baseline, "
        f"{journey.units.periods(args.periods)} ({c.method})"
    )
    print()
    with pd.option_context("display.width", 160, "display.max_rows", 200):
        print(c.to_text())
    if args.csv:
        write_csv(c.summary, args.csv)
        print(f"\nComparison table written to {Path(args.csv).resolve()}")
    if args.plot:
        fig, ax = figure(height=0.6 * len(c.summary) + 1.6)
        c.plot(ax=ax)
        write_plot(fig, args.plot)
        print(f"Comparison chart written to {Path(args.plot).resolve()}")


def _monitor(args, out: TextIO) -> None:
    check_outputs([Output(args.html, Kind.HTML, "--html")], args.force)
    if not os.path.exists(args.events):
        raise UserError(f"{args.events}: no such file")
    model = load(args.model) if args.model else None
    window = int(args.window) if args.window.isdigit() else args.window
    every = args.every
    if every is not None and every.isdigit():
        every = int(every)
    m = monitor(
        args.events,
        window=window,
        every=every,
        expanding=args.expanding,
        customer=args.customer,
        time=args.time,
        stage=args.stage,
        model=model,
    )
    d = m.drift(reference=model, threshold=args.threshold)
    try:
        b = m.backtest(horizon=args.horizon)
    except ValueError:  # no window ends a horizon before the data's end
        b = None
    monitor_report(m, d, b, args.html)
    print(f"{len(m.windows)} windows; {len(d.moved)} rate(s) moved.")
    for line in d.alerts():
        print(line)
    print(f"Wrote {args.html}")


def _fit(args, out: TextIO) -> None:
    check_outputs(
        [
            Output(args.out, Kind.MODEL, "--out"),
            _output(args.plot, Kind.PLOT, "--plot"),
            _output(args.html, Kind.HTML, "--html"),
        ],
        args.force,
    )
    if not os.path.exists(args.events):
        raise UserError(f"{args.events}: no such file")
    period: str | int = args.period
    if period.lstrip("-").isdigit():
        period = int(period)
    tenure = None
    if args.tenure:
        try:
            tenure = [int(t) for t in args.tenure.split(",")]
        except ValueError:
            raise UserError(
                f"--tenure must be whole numbers separated by commas, got "
                f"{args.tenure!r}"
            ) from None
        for t in tenure:
            check_integer(t, "--tenure", 0, MAX_PERIOD)
    like = load(args.like) if args.like else None
    absorbing = None
    if args.absorbing is not None:
        absorbing = [s for s in args.absorbing.split(",") if s]
    elif like is not None:
        absorbing = like.absorbing
    staged = None
    units = {
        "time_unit": args.time_unit,
        "currency": args.currency,
        "locale": args.locale,
    }
    try:  # the flags checked before the data is read, named as typed
        check_units(args.time_unit or "period", args.currency, args.locale or "en_US")
    except InputError as err:
        raise UserError(f"--{err.key[0].replace('_', '-')}: {err}") from None
    if args.rules is not None:
        if args.segment is not None or args.kind != "changes":
            raise UserError(
                "--rules makes the stage log itself (snapshots, one per account "
                "and period); --segment and --kind do not apply"
            )
        spec = read_rules(args.rules)
        export = read_export(args.events)
        staged = _staged(export, spec)
        log, kwargs = staged.log, staged.fit_kwargs
        for part, named in (
            ("values", spec.value_columns),
            ("scores", spec.score_columns),
        ):
            for name, column in named.items():
                if column not in export.columns:
                    raise spec.locate(
                        InputError(
                            f"no column {column!r} in {Path(args.events).name}; "
                            f"the columns are {list(export.columns)}",
                            key=(part, name),
                        )
                    )
        if spec.value_columns or spec.score_columns:
            # The rows the log kept (not those after the export date or a
            # terminal stage) carry the values.
            keys = [staged.account, staged.time]
            kept = export.set_index(keys).index.isin(
                pd.MultiIndex.from_frame(log[keys])
            )
            kwargs.update(
                values=export[kept],
                value_columns=dict(spec.value_columns) or None,
                score_columns=dict(spec.score_columns) or None,
                # Streams not under net: count +1 (costs are named there).
                net={k: spec.net.get(k, 1.0) for k in spec.value_columns} or None,
            )
        if absorbing is not None:
            kwargs["absorbing"] = absorbing
        if like is not None:
            kwargs["stages"] = like.stages
        # The flags win over the file's units: (located in it when wrong).
        from_file = {k for k, v in units.items() if v is None}
        kwargs.update(
            {k: getattr(spec, k) if v is None else v for k, v in units.items()}
        )
        print(
            f"Stage rules: {len(log):,} account-periods of "
            f"{log[staged.account].nunique():,} accounts; "
            f"{len(staged.unmatched):,} matched no rule."
        )
        try:
            f = fit(log, tenure=tenure, prior=args.prior, **kwargs)
        except InputError as err:
            raise _located_values(err, spec, from_file) from None
    else:
        f = fit(
            args.events,
            customer=args.customer,
            time=args.time,
            stage=args.stage,
            period=period,
            kind=args.kind,
            segment=args.segment,
            tenure=tenure,
            absorbing=absorbing,
            prior=args.prior,
            returns=args.returns,
            stages=like.stages if like is not None else None,
            **units,
        )
    journey = f.journey
    if like is not None:
        journey = _with_transitions(like, journey)
    save(journey, args.out)
    check = f.check()
    print(
        f"Fitted {len(f.stages)} stages from {f.customers:,} customers "
        f"({int(f.counts.to_numpy().sum()):,} transitions)."
    )
    print(f"log-likelihood {check.log_likelihood:,.1f}, AIC {check.aic:,.1f}")
    so = check.second_order
    print(
        f"second-order Markov test: G2 {so['G2']:.1f}, df {int(so['df'])}, "
        f"p {so['p_value']:.3g}"
        + (
            "  (the next stage depends on the previous one)"
            if so["p_value"] < 0.01
            else ""
        )
    )
    if len(f.pieces) > 1:
        t = f.tenure_test()
        print(f"tenure test: G2 {t['G2']:.1f}, df {int(t['df'])}, p {t['p_value']:.3g}")
    print(f"Model written to {Path(args.out).resolve()}")
    if args.html:
        fit_report(f, args.html, rules=staged, source=Path(args.events).name)
        print(f"Fit report written to {Path(args.html).resolve()}")
    if args.plot:
        fig, ax = figure()
        check.plot(ax=ax)
        write_plot(fig, args.plot)
        print(
            f"Observed against fitted retention written to {Path(args.plot).resolve()}"
        )


def _located_values(
    err: InputError, spec: RulesFile, from_file: set[str] | frozenset = frozenset()
) -> InputError:
    """An error of the fit about a value or score column, or about a unit the
    rules file gave (``from_file``: not set by a flag), named with the rules
    file's line of that key (``values:``, ``scores:``, ``units:``)."""
    part = {"value_columns": "values", "score_columns": "scores", "net": "net"}
    if err.key and err.key[0] in part:
        return spec.locate(InputError(str(err), key=(part[err.key[0]], *err.key[1:])))
    if err.key and err.key[0] in from_file and getattr(spec, err.key[0]) is not None:
        return spec.locate(InputError(str(err), key=("units", *err.key)))
    return err


#: Errors about these keys are the rules file's: named with its line.
_RULES_FILE_KEYS = ("rules", "signals", "export_date", "catch_all", "account", "time")


def _staged(export: pd.DataFrame, spec: RulesFile):
    """The export's stage log by the file's rules; an error about a rule or a
    signal names the rules file, its line and key."""
    rules = [
        Rule(r.stage, r.when, terminal=r.terminal, description=r.description)
        for r in spec.rules
    ]
    try:
        return stages_from(
            export,
            account=spec.account,
            time=spec.time,
            rules=rules,
            signals=spec.signals,
            export_date=spec.export_date,
            catch_all=spec.catch_all,
            period=spec.period,
        )
    except InputError as err:
        if err.key and err.key[0] in _RULES_FILE_KEYS:
            raise spec.locate(err) from None
        raise


def _with_transitions(like, fitted):
    """``like`` with the fitted transition matrices: values, metadata, starts,
    shares and discounting stay the model's own. A fit of one segment serves
    every segment; segments of a fit are matched by name."""
    try:
        return like.with_transitions(fitted, what="the log", mine="the model")
    except InputError as err:
        raise UserError(str(err)) from None


def _versus(args):
    """The optimised journey of ``report --versus`` and the stage mapping."""
    if args.versus is None:
        if args.map:
            raise UserError("--map goes with --versus")
        return None, None
    model = load_model(args.versus)
    if model.journey is None:
        raise UserError(f"{args.versus}: the file holds no journey")
    mapping: dict[str, str | None] = {}
    for item in args.map:
        new, eq, old = item.partition("=")
        if not eq or not new.strip():
            raise UserError(f"--map {item!r}: write NEW=OLD (NEW= for a new stage)")
        mapping[new.strip()] = old.strip() or None
    return model.journey, (mapping or None)


def _report(args, out: TextIO) -> None:
    _check_simulation(args)
    check_outputs([Output(args.html, Kind.HTML, "--html")], args.force)
    versus, mapping = _versus(args)
    model = load_model(args.model)
    if versus is not None and not args.plans and not model.plans:
        if model.journey is None:
            raise UserError(f"{args.model}: the file holds no journey")
        journey, plans = model.journey, []  # a versus report needs no plans
    else:
        journey, plans = _journey_and_plans(args)
    report(
        journey,
        plans,
        args.html,
        versus=versus,
        mapping=mapping,
        periods=args.periods,
        customers=args.customers,
        seed=args.seed,
        replications=args.replications,
        title=args.title,
        progress=_progress(args),
    )
    print(f"Report written to {Path(args.html).resolve()}")


def _studio(args) -> None:
    check_integer(args.port, "--port", 0, 65535)
    check_integer(args.periods, "--periods", 1, MAX_PERIOD)
    optional("panel", "journeysim studio", "studio")  # one line if missing
    if args.model is None:
        journey, plans, interventions = default_journey(), default_plans(), []
        source = "journeysim-demo.yaml"
    else:
        model = load_model(args.model)
        if model.journey is None:
            raise UserError(f"{args.model}: the file holds no journey")
        journey, interventions = model.journey, list(model.interventions.values())
        plans = load_plans(args.plans) if args.plans else model.plans
        source = Path(args.model).name
    print(f"Plan studio: http://{args.host}:{args.port}/ (Ctrl-C to stop)", flush=True)
    serve(
        journey,
        plans,
        port=args.port,
        host=args.host,
        show=not args.no_browser,
        allow_websocket_origin=args.allow_websocket_origin,
        periods=args.periods,
        interventions=interventions,
        source=source,
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
