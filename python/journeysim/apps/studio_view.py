"""The plan studio's page (Panel and Bokeh): the controls on the left, the
results on the right. Every control edits the session's :class:`Setup`
(apps/studio_state.py); a value that does not work shows its message at the top
of the page and the control returns to the last good value. An exact update
recomputes the comparison and refreshes the charts' data in place (the Bokeh
figures and the journey map are built once)."""

from __future__ import annotations

import html
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from .._base.optional import optional
from ..plans.tables import axis_label
from ..view.journey_map import journey_diagram
from ..view.numbers import money, number, percent
from ..view.plot import figure
from .report import report
from .studio_state import MonteCarloJob, Outcome, Setup, read_upload
from .widget import _default_effect_range, _step

pn = optional("panel", "the plan studio", "studio")
bk_models = optional("bokeh.models", "the plan studio", "studio")
bk_plotting = optional("bokeh.plotting", "the plan studio", "studio")

__all__ = ["StudioView"]

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
_BASE = "#7f7f7f"
_EFFECT = {
    "relative_risk": "relative risk",
    "change": "change",
    "probability": "set to",
}
_STYLE = """
<style>
.js-results {font-family: system-ui, sans-serif; font-size: 14px}
.js-results table {border-collapse: collapse; margin: 0.4em 0 1em}
.js-results td, .js-results th {padding: 2px 8px; border-bottom: 1px solid #ddd;
  text-align: right}
.js-results td:first-child, .js-results th:first-child {text-align: left}
.js-map svg {max-width: 100%; height: auto}
</style>
"""


def _colors(names: list[str]) -> list[str]:
    return [
        _BASE if n == "baseline" else _PALETTE[(k - 1) % len(_PALETTE)]
        for k, n in enumerate(names)
    ]


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick positions covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        hi, lo = max(hi, lo) + 1.0, min(hi, lo)
    raw = (hi - lo) / n
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    return [first + k * step for k in range(int((hi - first) / step) + 2)]


def _money_axis(axis, values, units) -> None:
    """Ticks labelled in the journey's currency (Babel, never 1e5)."""
    v = [float(x) for x in values if math.isfinite(float(x))] or [0.0]
    ticks = _nice_ticks(min(0.0, *v), max(0.0, *v))
    axis.ticker = bk_models.FixedTicker(ticks=ticks)
    axis.major_label_overrides = {t: money(t, units, compact=True) for t in ticks}


class StudioView(pn.viewable.Viewer):
    """One person's plan studio: a Panel app object (shown inline in Jupyter,
    served by ``journeysim studio``). Built by :func:`journeysim.studio`.

    Attributes
    ----------
    setup : Setup
        The last setup that worked (what the page shows).
    outcome : Outcome or None
        Its comparison.
    error : str or None
        The message shown for the last value that did not work.
    """

    def __init__(
        self, setup: Setup, *, customers: int = 20_000, seed: int = 1, **params
    ) -> None:
        super().__init__(**params)
        self.setup = setup
        self.outcome: Outcome | None = None
        self.error: str | None = None
        self.job: MonteCarloJob | None = None
        self._syncing = False
        self._inputs: dict[tuple[str, str], Any] = {}
        self._poll = None
        self._best = None

        w = pn.widgets
        self.title = pn.pane.HTML(sizing_mode="stretch_width")
        self.message = pn.pane.Alert(
            "",
            alert_type="danger",
            visible=False,
            css_classes=["js-error"],
            sizing_mode="stretch_width",
        )
        self.status = pn.pane.HTML(
            css_classes=["js-status"], sizing_mode="stretch_width"
        )
        self.upload = w.FileInput(
            accept=".yaml,.yml,.json", css_classes=["js-upload"], width=240
        )
        self.upload.param.watch(self._guard(self._on_upload), "value")
        self.download_model = w.FileDownload(
            callback=self._model_file,
            filename="model.yaml",
            label="Download the model file",
            css_classes=["js-download-model"],
            width=240,
        )
        self.download_report = w.FileDownload(
            callback=self._report_file,
            filename="plan-report.html",
            label="Download the HTML report",
            css_classes=["js-download-report"],
            width=240,
        )
        self.periods = w.IntInput(
            label="horizon",
            value=setup.periods,
            start=1,
            end=1200,
            width=110,
            css_classes=["js-periods"],
        )
        self.periods.param.watch(self._guard(self._on_periods), "value")
        self.method = w.RadioButtonGroup(
            options=["exact", "Monte Carlo"], value="exact", css_classes=["js-method"]
        )
        self.method.param.watch(self._guard(self._on_method), "value")
        self.customers = w.IntInput(
            label="customers simulated", value=customers, start=1, width=150
        )
        self.seed = w.IntInput(label="seed", value=seed, start=0, width=100)
        self.run = w.Button(label="Run", width=80, css_classes=["js-run"])
        self.run.on_click(self._guard(self._on_run))
        self.cancel = w.Button(
            label="Cancel", width=80, disabled=True, css_classes=["js-cancel"]
        )
        self.cancel.on_click(self._guard(self._on_cancel))
        self.progress = w.Progress(
            value=0, max=100, visible=False, width=240, css_classes=["js-progress"]
        )
        self.mc_box = pn.Column(
            pn.Row(self.customers, self.seed),
            pn.Row(self.run, self.cancel),
            self.progress,
            visible=False,
        )
        self.budget = w.TextInput(
            label="budget (population, discounted)",
            placeholder="e.g. 250,000",
            width=200,
            css_classes=["js-budget"],
        )
        self.find_best = w.Button(
            label="Best plan within budget", width=200, css_classes=["js-best"]
        )
        self.find_best.on_click(self._guard(self._on_best))
        self.best_text = pn.pane.HTML(css_classes=["js-best-result"], width=380)
        self.add_best = w.Button(label="Add it as a plan", visible=False, width=200)
        self.add_best.on_click(self._guard(self._on_add_best))
        self.interventions = pn.Column(sizing_mode="stretch_width")
        self.plans = pn.Column(sizing_mode="stretch_width")
        self.new_plan = w.TextInput(placeholder="new plan's name", width=200)
        self.add_plan = w.Button(label="Add plan", width=100)
        self.add_plan.on_click(self._guard(self._on_add_plan))

        self.headline = pn.pane.HTML(
            css_classes=["js-headline", "js-results"], sizing_mode="stretch_width"
        )
        self.table = pn.pane.HTML(
            css_classes=["js-table", "js-results"], sizing_mode="stretch_width"
        )
        self.journey_map = pn.pane.HTML(
            css_classes=["js-map"], sizing_mode="stretch_width"
        )
        self._figures()
        self._controls()
        self._draw_map()
        self._apply(setup)

    # -- the page ------------------------------------------------------------

    def __panel__(self):
        left = pn.Column(
            "### Model",
            self.upload,
            self.download_model,
            self.download_report,
            pn.Row(self.periods, self.method),
            self.mc_box,
            "### Interventions",
            self.interventions,
            "### Plans",
            self.plans,
            pn.Row(self.new_plan, self.add_plan),
            "### Budget",
            pn.Row(self.budget),
            self.find_best,
            self.best_text,
            self.add_best,
            width=420,
        )
        right = pn.Column(
            self.title,
            self.message,
            self.status,
            self.headline,
            pn.Row(pn.pane.Bokeh(self.fig_value), pn.pane.Bokeh(self.fig_cost)),
            pn.Row(pn.pane.Bokeh(self.fig_retention), pn.pane.Bokeh(self.fig_nrr)),
            self.table,
            "### The journey map (owners in lanes, moments of truth in red)",
            self.journey_map,
            sizing_mode="stretch_width",
        )
        return pn.Row(
            pn.pane.HTML(_STYLE, width=0, margin=0),
            left,
            right,
            sizing_mode="stretch_width",
        )

    def _controls(self) -> None:
        """The intervention cards and plan rows for the current setup."""
        self._inputs = {}
        s = self.setup
        u = s.journey.units
        cards = []
        for iv in s.library:
            cards.append(self._card(iv, u))
        self.interventions.objects = cards
        self._plan_rows()
        self.download_model.filename = Path(s.source).stem + "-edited.yaml"

    def _card(self, iv, units):
        w = pn.widgets
        slug = _slug(iv.name)
        items = []
        targets = ", ".join(iv.targets)
        items.append(
            pn.pane.HTML(
                f"<small>{html.escape(iv.source)} → {html.escape(targets)}"
                + (
                    f", freed mass to {html.escape(iv.reassign_to)}"
                    if iv.reassign_to
                    else ""
                )
                + "</small>"
            )
        )
        if iv.amount is not None:
            lo, hi = _default_effect_range(iv)
            items.append(
                self._watch(
                    iv.name,
                    "effect",
                    w.EditableFloatSlider(
                        label=_EFFECT[iv.effect],
                        start=lo,
                        end=hi,
                        step=_step(lo, hi),
                        value=iv.amount,
                        width=360,
                        css_classes=[f"js-effect-{slug}"],
                    ),
                )
            )
        items.append(
            self._watch(
                iv.name,
                "reach",
                w.EditableFloatSlider(
                    label="reach (share of customers touched)",
                    start=0.0,
                    end=1.0,
                    step=0.01,
                    value=iv.reach,
                    width=360,
                    css_classes=[f"js-reach-{slug}"],
                ),
            )
        )
        a, b = iv.window

        def box(what: str, label: str, value: str, css: str, width: int = 110):
            return self._typed(iv.name, what, label, value, f"js-{css}-{slug}", width)

        cap = "" if iv.capacity is None else str(iv.capacity)
        items.append(
            pn.Row(
                box(
                    "window start",
                    f"from {units.time_unit} (tenure)",
                    str(a),
                    "window-start",
                ),
                box(
                    "window end",
                    "until (blank: no end)",
                    "" if b is None else str(b),
                    "window-end",
                    130,
                ),
                box("capacity", f"capacity per {units.time_unit}", cap, "capacity"),
            )
        )
        cur = f" ({units.currency})" if units.currency else ""
        items.append(
            pn.Row(
                box(
                    "cost_fixed",
                    f"fixed cost{cur}",
                    _plain(iv.cost_fixed),
                    "cost-fixed",
                ),
                box(
                    "cost_per_customer",
                    f"per customer{cur}",
                    _plain(iv.cost_per_customer),
                    "cost-customer",
                ),
                box(
                    "cost_per_period",
                    f"per customer-{units.time_unit}{cur}",
                    _plain(iv.cost_per_period),
                    "cost-period",
                    130,
                ),
            )
        )
        return pn.Card(
            *items,
            title=iv.name,
            collapsed=False,
            width=400,
            css_classes=[f"js-iv-{slug}"],
        )

    def _typed(self, name, what, label, value, css, width):
        """A typed input of intervention ``name``'s ``what``, watched."""
        box = pn.widgets.TextInput(
            label=label, value=value, width=width, css_classes=[css]
        )
        return self._watch(name, what, box)

    def _watch(self, name: str, what: str, widget):
        self._inputs[(name, what)] = widget
        widget.param.watch(
            self._guard(lambda event: self._on_edit(name, what, event.new)), "value"
        )
        return widget

    def _plan_rows(self) -> None:
        s = self.setup
        names = [iv.name for iv in s.library]
        rows = []
        for p in s.plans:
            slug = _slug(p.name)
            box = pn.widgets.Checkbox(
                label=p.name,
                value=p.name in s.chosen,
                width=150,
                css_classes=[f"js-choose-{slug}"],
            )
            box.param.watch(
                self._guard(lambda e, n=p.name: self._on_choose(n, e.new)), "value"
            )
            members = pn.widgets.CheckButtonGroup(
                options=names,
                value=list(p.members),
                css_classes=[f"js-members-{slug}"],
            )
            members.param.watch(
                self._guard(lambda e, n=p.name: self._on_members(n, e.old, e.new)),
                "value",
            )
            drop = pn.widgets.Button(
                label="✕", width=40, css_classes=[f"js-remove-{slug}"]
            )
            drop.on_click(self._guard(lambda e, n=p.name: self._on_remove(n)))
            rows.append(pn.Column(pn.Row(box, drop), members))
        self.plans.objects = rows

    def _figures(self) -> None:
        tools = "hover,save,reset"
        f = bk_plotting.figure
        self.src_value = bk_models.ColumnDataSource(
            {"plan": [], "value": [], "color": [], "text": []}
        )
        self.fig_value = f(
            y_range=[],
            height=260,
            width=430,
            tools=tools,
            tooltips=[("plan", "@plan"), ("", "@text")],
            title="incremental net value by plan",
        )
        self.fig_value.hbar(
            y="plan", right="value", height=0.6, color="color", source=self.src_value
        )
        self.fig_value.ygrid.visible = False
        self.src_cost = bk_models.ColumnDataSource(
            {"plan": [], "cost": [], "gain": [], "color": [], "text": []}
        )
        self.src_even = bk_models.ColumnDataSource({"x": [0, 1], "y": [0, 1]})
        self.fig_cost = f(
            height=260,
            width=430,
            tools=tools,
            tooltips=[("plan", "@plan"), ("", "@text")],
            title="cost against return, per customer",
        )
        self.fig_cost.line(
            "x",
            "y",
            source=self.src_even,
            line_dash="dashed",
            color="#999",
            legend_label="break-even",
        )
        self.fig_cost.scatter(
            "cost", "gain", size=11, color="color", source=self.src_cost
        )
        self.fig_cost.add_layout(
            bk_models.LabelSet(
                x="cost",
                y="gain",
                text="plan",
                source=self.src_cost,
                x_offset=6,
                y_offset=4,
                text_font_size="9pt",
            )
        )
        self.fig_cost.legend.location = "bottom_right"
        self.fig_cost.y_range.range_padding = 0.2
        self.fig_cost.x_range.range_padding = 0.2
        self.src_ret = bk_models.ColumnDataSource(
            {"xs": [], "ys": [], "plan": [], "color": []}
        )
        self.fig_retention = f(
            height=280,
            width=430,
            tools=tools,
            y_range=(0, 1.02),
            tooltips=[("plan", "@plan")],
            title="retention",
        )
        self.fig_retention.multi_line(
            "xs",
            "ys",
            color="color",
            line_width=2,
            legend_field="plan",
            source=self.src_ret,
        )
        self.fig_retention.yaxis.formatter = bk_models.NumeralTickFormatter(format="0%")
        self.fig_retention.legend.location = "bottom_left"
        self.src_nrr = bk_models.ColumnDataSource(
            {"xs": [], "ys": [], "plan": [], "color": []}
        )
        self.src_nrr_pts = bk_models.ColumnDataSource(
            {"x": [], "y": [], "plan": [], "color": [], "text": []}
        )
        self.fig_nrr = f(
            height=280,
            width=430,
            tools=tools,
            tooltips=[("plan", "@plan"), ("NRR", "@text")],
            title="net revenue retention, year by year",
        )
        self.fig_nrr.multi_line(
            "xs",
            "ys",
            color="color",
            line_width=2,
            legend_field="plan",
            source=self.src_nrr,
        )
        self.fig_nrr.scatter("x", "y", color="color", size=7, source=self.src_nrr_pts)
        self.fig_nrr.yaxis.formatter = bk_models.NumeralTickFormatter(format="0%")
        self.fig_nrr.legend.location = "top_right"
        for fig in (self.fig_value, self.fig_cost, self.fig_retention, self.fig_nrr):
            fig.toolbar.logo = None

    def _draw_map(self) -> None:
        """The journey map, drawn once per journey (matplotlib, as SVG)."""
        j = self.setup.journey
        teams = len({j.owner(s) for s in j.stages})
        # Text as text: smaller, and readable by a screen reader or a search.
        with matplotlib.rc_context({"svg.fonttype": "none"}):
            fig, ax = figure(1.5 * len(j.stages) + 2, 1.1 * max(teams, 2) + 1)
            journey_diagram(j, ax=ax)
            buf = io.StringIO()
            fig.savefig(buf, format="svg", bbox_inches="tight")
        plt.close(fig)
        text = buf.getvalue()
        self.journey_map.object = text[text.index("<svg") :]

    # -- reacting ------------------------------------------------------------

    def _guard(self, fn: Callable) -> Callable:
        """A callback whose errors show in the page instead of breaking it."""

        def run(*args):
            if self._syncing:
                return
            try:
                fn(*args)
            except Exception as err:  # shown, never raised into the server
                self._fail(err)

        return run

    def _fail(self, err: BaseException) -> None:
        lines = str(err).strip().splitlines()
        self.error = lines[0] if lines else type(err).__name__
        self.message.object = f"**This does not work:** {html.escape(self.error)}"
        self.message.visible = True
        self._sync()

    def _ok(self) -> None:
        self.error = None
        self.message.visible = False

    def _sync(self) -> None:
        """Put every control back to the setup's values."""
        self._syncing = True
        try:
            s = self.setup
            for (name, what), widget in self._inputs.items():
                v = s.value(name, what)
                if isinstance(widget, pn.widgets.TextInput):
                    v = "" if v is None else _plain(v)
                if widget.value != v:
                    widget.value = v
            if self.periods.value != s.periods:
                self.periods.value = s.periods
            for col in self.plans.objects:
                box, members = col.objects[0].objects[0], col.objects[1]
                want = s.entry(box.label).members
                box.value = box.label in s.chosen
                if list(members.value) != list(want):
                    members.value = list(want)
        finally:
            self._syncing = False

    def _apply(self, new: Setup) -> None:
        """Make ``new`` the page's setup: exact, it is compared at once (an
        error leaves the last good setup); by Monte Carlo the results are
        marked out of date until the next run."""
        if self.method.value == "exact":
            outcome = new.exact()  # raises: the caller shows it
            self.setup = new
            self._show(outcome)
        else:
            self.setup = new
            self.status.object = "<i>Changed since the last simulation: press Run.</i>"
        self._ok()

    def _on_edit(self, name: str, what: str, value: Any) -> None:
        self._apply(self.setup.edit(name, what, value))

    def _on_periods(self, event) -> None:
        self._apply(self.setup.with_periods(event.new))

    def _on_choose(self, plan: str, on: bool) -> None:
        s = self.setup
        names = [n for n in s.chosen if n != plan] + ([plan] if on else [])
        self._apply(s.choose(names))

    def _on_members(self, plan: str, old: list, new: list) -> None:
        s = self.setup
        for n in set(old) - set(new):
            s = s.toggle(plan, n, False)
        for n in set(new) - set(old):
            s = s.toggle(plan, n, True)
        self._apply(s)

    def _on_remove(self, plan: str) -> None:
        self._apply(self.setup.remove_plan(plan))
        self._plan_rows()

    def _on_add_plan(self, event) -> None:
        self._apply(self.setup.add_plan(self.new_plan.value))
        self.new_plan.value = ""
        self._plan_rows()

    def _on_method(self, event) -> None:
        mc = event.new == "Monte Carlo"
        self.mc_box.visible = mc
        if mc:
            self.status.object = "<i>Monte Carlo: press Run to simulate.</i>"
        else:
            self._on_cancel(None)
            self._apply(self.setup)

    def _on_upload(self, event) -> None:
        if event.new is None:
            return
        new = read_upload(self.upload.filename, event.new, periods=self.setup.periods)
        outcome = new.exact() if self.method.value == "exact" else None
        self.setup = new
        self._controls()
        self._draw_map()
        if outcome is not None:
            self._show(outcome)
        self._ok()

    def _on_best(self, event) -> None:
        s = self.setup
        choice = s.best(self.budget.value)
        u = s.journey.units
        chosen = choice.plan.interventions
        row = choice.summary
        self._best = choice
        self.best_text.object = (
            "<div class='js-results'><b>Fund:</b> "
            + (html.escape(", ".join(i.name for i in chosen)) if chosen else "nothing")
            + f"<br>cost {money(row['cost'], u)}, incremental net value "
            f"{money(row['incremental net value'], u)}"
            f" over {u.periods(s.periods)} ({choice.search} search)</div>"
        )
        self.add_best.visible = bool(chosen)

    def _on_add_best(self, event) -> None:
        choice = self._best
        if choice is None:
            return
        s = self.setup
        for iv in choice.plan.interventions:
            if iv != s.intervention(iv.name):
                s = s.with_intervention(iv)
        name = f"best within {money(choice.budget, s.journey.units)}"
        k = 2
        taken = {p.name for p in s.plans}
        base = name
        while name in taken:
            name, k = f"{base} ({k})", k + 1
        self._apply(s.add_plan(name, [i.name for i in choice.plan.interventions]))
        self._controls()

    def _on_run(self, event) -> None:
        if self.job is not None and not self.job.done:
            return
        self.job = MonteCarloJob(self.setup, self.customers.value, self.seed.value)
        self.run.disabled = True
        self.cancel.disabled = False
        self.progress.value = 0
        self.progress.visible = True
        self.status.object = "<i>Simulating…</i>"
        self._poll = pn.state.add_periodic_callback(self._guard(self._check), 200)

    def _on_cancel(self, event) -> None:
        if self.job is not None and not self.job.done:
            self.job.cancel()

    def _check(self) -> None:
        job = self.job
        if job is None:
            return
        self.progress.value = int(100 * job.progress)
        if not job.done:
            return
        if self._poll is not None:
            self._poll.stop()
            self._poll = None
        self.run.disabled = False
        self.cancel.disabled = True
        self.progress.visible = False
        err = job.future.exception()
        if isinstance(err, KeyboardInterrupt) or job.cancelled:
            self.status.object = "<i>Simulation cancelled; the results shown are "
            self.status.object += "the last ones computed.</i>"
        elif err is not None:
            self._fail(err)
        else:
            self._show(job.future.result())

    # -- showing -------------------------------------------------------------

    def _show(self, outcome: Outcome) -> None:
        self.outcome = outcome
        c = outcome.comparison
        s = self.setup
        u = c.units
        j = s.journey
        self.title.object = (
            f"<h2 style='margin:0'>{html.escape(j.name or 'Plan studio')}</h2>"
            f"<div>{len(j.stages)} stages, in {u.plural}"
            + (f" and {u.currency}" if u.currency else "")
            + f"; plans over {u.periods(c.periods)} ({c.method})</div>"
        )
        pop = c.population
        n = pop["customers"].iloc[0]
        who = f"population of {number(n, u)} customer" + (
            "" if number(n, u) == "1" else "s"
        )
        lines = []
        for plan in pop.index[1:]:
            v = pop.at[plan, "incremental net value"]
            roi = pop.at[plan, "ROI"]
            lines.append(
                f"<li class='js-plan-result' data-plan='{html.escape(plan)}'>"
                f"<b>{html.escape(plan)}</b>: incremental net value "
                f"<span class='js-inv'>{money(v, u)}</span> ({who}), ROI "
                f"{number(roi, u, digits=3)}, intervention cost "
                f"{money(pop.at[plan, 'intervention cost'], u)}</li>"
            )
        notes = [*outcome.left_out, *outcome.notes]
        self.headline.object = (
            f"<b>Against the baseline, over {u.periods(c.periods)} ({c.method})"
            "</b><ul>"
            + "".join(lines)
            + "</ul>"
            + "".join(
                f"<div style='color:#8a6d00'>Note: {html.escape(t)}</div>"
                for t in notes
            )
            if lines
            else "<i>Choose a plan to compare with the baseline.</i>"
            + "".join(
                f"<div style='color:#8a6d00'>Note: {html.escape(t)}</div>"
                for t in notes
            )
        )
        self.table.object = c._repr_html_()
        self.status.object = ""
        self._charts(c)

    def _charts(self, c) -> None:
        u = c.units
        names = list(c.summary.index)
        colors = _colors(names)
        s = c.summary
        inv = s["incremental net value"].to_numpy(dtype=float)
        customers = float(s["customers"].iloc[0])
        self.fig_value.y_range.factors = names[::-1]
        self.src_value.data = {
            "plan": names,
            "value": inv,
            "color": colors,
            "text": [money(v, u) for v in inv],
        }
        self.fig_value.xaxis.axis_label = axis_label(
            "incremental net value", u, c.streams, customers
        )
        _money_axis(self.fig_value.xaxis[0], inv, u)

        cost = s["intervention cost per customer"].to_numpy(dtype=float)[1:]
        gain = (
            s["incremental net value per customer"]
            + s["intervention cost per customer"]
        ).to_numpy(dtype=float)[1:]
        self.src_cost.data = {
            "plan": names[1:],
            "cost": cost,
            "gain": gain,
            "color": colors[1:],
            "text": [
                f"cost {money(a, u)}, gain {money(b, u)}" for a, b in zip(cost, gain)
            ],
        }
        top = max([1.0, *np.abs(cost), *np.abs(gain)])
        self.src_even.data = {"x": [0, top], "y": [0, top]}
        cur = f" ({u.currency})" if u.currency else ""
        self.fig_cost.xaxis.axis_label = f"intervention cost per customer{cur}"
        self.fig_cost.yaxis.axis_label = f"value gained before cost per customer{cur}"
        _money_axis(self.fig_cost.xaxis[0], [0, *cost, top], u)
        _money_axis(self.fig_cost.yaxis[0], [0, *gain, top], u)

        rets = [c.results[n].retention for n in names]
        self.src_ret.data = {
            "xs": [r.index.to_numpy(dtype=float) for r in rets],
            "ys": [r.to_numpy(dtype=float) for r in rets],
            "plan": names,
            "color": colors,
        }
        self.fig_retention.xaxis.axis_label = f"tenure ({u.plural})"
        self.fig_retention.yaxis.axis_label = "share of the starting customers"

        stream = next(iter(c.results.values())).headline_stream()
        every = min(u.year, c.periods)
        xs, ys, px, py, pn_, pc, pt = [], [], [], [], [], [], []
        if stream is not None:
            for n, col in zip(names, colors):
                rr = c.results[n].revenue_retention(stream, every=every)
                x = [float(every * k) for k in range(1, len(rr) + 1)]
                y = rr["nrr"].to_numpy(dtype=float)
                xs.append(x)
                ys.append(y)
                px += x
                py += list(y)
                pn_ += [n] * len(x)
                pc += [col] * len(x)
                pt += [percent(v, u) for v in y]
        self.src_nrr.data = {
            "xs": xs,
            "ys": ys,
            "plan": names if xs else [],
            "color": colors if xs else [],
        }
        self.src_nrr_pts.data = {"x": px, "y": py, "plan": pn_, "color": pc, "text": pt}
        self.fig_nrr.xaxis.axis_label = f"end of each {u.periods(every)} ({u.plural})"
        self.fig_nrr.yaxis.axis_label = (
            f"NRR of {stream!r}" if stream else "no revenue stream"
        )

    # -- files ---------------------------------------------------------------

    def _model_file(self):
        return io.BytesIO(self.setup.model_text().encode("utf-8"))

    def _report_file(self):
        if self.outcome is None:
            raise RuntimeError("no comparison to report")
        c = self.outcome.comparison
        plans = [self.setup.plan(n) for n in c.summary.index[1:]]
        page = report(self.setup.journey, plans, comparison=c)
        return io.BytesIO(page.encode("utf-8"))


def _plain(x: Any) -> str:
    """A number as typed: 250, 0.5, 1e-05 stays readable as 0.00001."""
    if x is None:
        return ""
    x = float(x)
    if x.is_integer():
        return str(int(x))
    return np.format_float_positional(x, trim="-")


def _slug(name: str) -> str:
    """A CSS class part for a name ("onboarding call" -> "onboarding-call")."""
    out = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
    return out or "x"
