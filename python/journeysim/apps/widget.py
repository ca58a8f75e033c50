"""An interactive what-if for notebooks: sliders for an intervention's effect and
reach, and the exact comparison with the baseline, recomputed as they move
(ipywidgets, the ``journeysim[widgets]`` extra)."""

from __future__ import annotations

import base64
import html
import io
import math
import numbers
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from .._base.errors import InputError
from .._base.optional import optional
from ..model.intervention import Intervention, Plan
from ..model.journey import Journey
from ..plans.compare import Comparison, compare
from ..plans.tables import heading, show
from ..view.display import fmt, table
from ..view.plot import retention_curve

if TYPE_CHECKING:
    import ipywidgets

__all__ = ["DEFAULT_METRICS", "WhatIf", "what_if"]

#: Rows of the what-if table: columns of ``Comparison.summary``; ``"retention"``
#: stands for the retention at the horizon.
DEFAULT_METRICS = (
    "retention",
    "lifetime",
    "CLV",
    "population net value",
    "intervention cost",
    "incremental net value",
    "ROI",
)
_EFFECT_LABELS = {
    "relative_risk": "relative risk",
    "change": "change",
    "probability": "probability",
}


def _widgets():
    return optional("ipywidgets", "the what-if widget", "widgets")


def _range(r: Any, what: str) -> tuple[float, float]:
    if not (isinstance(r, (tuple, list)) and len(r) == 2):
        raise InputError(f"{what} must be (low, high), got {r!r}")
    lo, hi = r
    for x in (lo, hi):
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise InputError(f"{what} must be two numbers, got {r!r}")
        if not math.isfinite(x):
            raise InputError(f"{what} must be finite, got {r!r}")
    if not lo < hi:
        raise InputError(f"{what} must have low < high, got {r!r}")
    return float(lo), float(hi)


def _default_effect_range(iv: Intervention) -> tuple[float, float]:
    if iv.effect == "relative_risk":
        return (0.0, max(2.0, 2.0 * iv.amount))
    if iv.effect == "change":
        half = min(1.0, max(0.1, 2.0 * abs(iv.amount)))
        return (-half, half)
    return (0.0, 1.0)


def _step(lo: float, hi: float) -> float:
    """A round slider step: about a hundredth of the range."""
    return 10.0 ** math.floor(math.log10((hi - lo) / 100.0))


def _with(iv: Intervention, amount: Any, reach: Any) -> Intervention:
    """The intervention with another effect amount and reach, checked by the
    same rules as :class:`Intervention` (a new object: the given one is left
    as it is)."""
    # Raises a ValueError for an amount or reach out of bounds.
    return iv.replace(**{iv.effect: float(amount)}, reach=float(reach))


class WhatIf:
    """An interactive what-if on one intervention: sliders for its effect
    (relative risk, change or probability, whichever it uses) and its reach,
    and the exact comparison of the plan with it against the baseline,
    recomputed when a slider is released.

    Parameters
    ----------
    journey : Journey
    intervention : Intervention
        The starting point of the sliders. Interventions with a capacity can
        only be simulated, so are refused.
    periods : int, default 36
        Horizon of the comparison.
    baseline : Plan or list of Intervention, optional
        What is in place already. The what-if plan is this plan with the
        intervention added (or, if the plan has one of the same name, in its
        place); the table's ``change`` column is the what-if minus this plan.
        Default: nothing in place (the change is against the baseline).
    metrics : sequence of str
        Rows of the table: columns of ``Comparison.summary``; ``"retention"``
        is the retention at the horizon.
    effect_range : (low, high), optional
        Range of the effect slider. Default: relative risk 0 to 2 (or twice
        the intervention's), change within ±0.1 (or twice the intervention's),
        probability 0 to 1.
    reach_range : (low, high), default (0, 1)
    accrual : {"start", "end", "half-cycle", "life-table"}
    discount_rate : float, optional
        For intervention costs, as in :func:`compare`.

    Attributes
    ----------
    widget : ipywidgets.VBox
        A title, the two sliders and the output area (a table and a
        retention plot, or the error message of a value that does not work).
    comparison : Comparison or None
        The comparison for the current values; None when they do not work.
    error : str or None
        Why the current values do not work.
    notes : list of str
        Warnings of the current comparison (shown under the table).
    intervention : Intervention or None
        The intervention at the current values.
    table : DataFrame or None
        The table shown: metrics by plan, and the change.
    effect, reach : float
        The current values.

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}},
    ...                values={"revenue": {"active": 100.0}})
    >>> call = js.Intervention("call", at=("active", "churned"),
    ...                        relative_risk=0.5, reach=0.5)
    >>> w = js.WhatIf(j, call, periods=12)
    >>> c = w.update(effect=0.8, reach=1.0)  # churn 0.1 * 0.8 for everyone
    >>> round(float(c.summary.loc["what if: call", "retention at 12"]), 6)
    0.367666
    >>> round(0.92**12, 6)
    0.367666
    >>> w.update(effect=20.0) is None  # 0.1 * 20 = 2 is not a probability
    True
    >>> "outside [0, 1]" in w.error
    True
    """

    def __init__(
        self,
        journey: Journey,
        intervention: Intervention,
        *,
        periods: int = 36,
        baseline: Plan | Sequence[Intervention] | None = None,
        metrics: Sequence[str] = DEFAULT_METRICS,
        effect_range: tuple[float, float] | None = None,
        reach_range: tuple[float, float] = (0.0, 1.0),
        accrual: str = "start",
        discount_rate: float | None = None,
    ) -> None:
        w = _widgets()
        if not isinstance(journey, Journey):
            raise InputError(f"what_if needs a Journey, got {journey!r}")
        if not isinstance(intervention, Intervention):
            raise InputError(f"what_if needs an Intervention, got {intervention!r}")
        if intervention.capacity is not None:
            raise InputError(
                f"intervention {intervention.name!r} has a capacity, which can only "
                "be simulated: the what-if compares exactly"
            )
        if intervention.amount is None:
            raise InputError(
                f"intervention {intervention.name!r} has "
                + (
                    "no effect (it only costs)"
                    if intervention.effect is None
                    else f"a tenure schedule of {intervention.effect}"
                )
                + ": the what-if's slider varies one constant effect"
            )
        if baseline is None:
            self._reference: Plan | None = None
        elif isinstance(baseline, Plan):
            name = "current plan" if baseline.name == "baseline" else baseline.name
            self._reference = Plan(name, baseline.interventions, start=baseline.start)
        else:
            self._reference = Plan("current plan", list(baseline))
        self._name = f"what if: {intervention.name}"
        if self._reference is not None and self._reference.name == self._name:
            raise InputError(f"the baseline plan may not be named {self._name!r}")
        if isinstance(metrics, str):
            metrics = [metrics]
        self.metrics = [
            f"retention at {periods}" if m == "retention" else m for m in metrics
        ]
        lo, hi = (
            _default_effect_range(intervention)
            if effect_range is None
            else _range(effect_range, "effect_range")
        )
        if not lo <= intervention.amount <= hi:
            raise InputError(
                f"the intervention's {intervention.effect} {intervention.amount:g} "
                f"is outside effect_range ({lo:g}, {hi:g})"
            )
        rlo, rhi = _range(reach_range, "reach_range")
        if not 0 <= rlo < rhi <= 1:
            raise InputError(f"reach_range must lie within [0, 1], got {reach_range!r}")
        if not rlo <= intervention.reach <= rhi:
            raise InputError(
                f"the intervention's reach {intervention.reach:g} is outside "
                f"reach_range ({rlo:g}, {rhi:g})"
            )
        self.journey = journey
        self.periods = periods
        self.accrual = accrual
        self.discount_rate = discount_rate
        self._base = intervention
        self.effect = intervention.amount
        self.reach = intervention.reach
        self.comparison: Comparison | None = None
        self.error: str | None = None
        self.intervention: Intervention | None = None
        self.table: pd.DataFrame | None = None
        self.notes: list[str] = []

        # The starting point must work: errors in the arguments raise here.
        self.comparison = self._compare(intervention)
        missing = [m for m in self.metrics if m not in self.comparison.summary]
        if missing:
            raise InputError(
                f"unknown metrics {missing}; the comparison has "
                f"{list(self.comparison.summary.columns)}"
            )
        self.intervention = intervention

        slider = {"continuous_update": False, "style": {"description_width": "8em"}}
        self._effect = w.FloatSlider(
            value=intervention.amount,
            min=lo,
            max=hi,
            step=_step(lo, hi),
            description=_EFFECT_LABELS[intervention.effect],
            readout_format=".3f",
            **slider,
        )
        self._reach = w.FloatSlider(
            value=intervention.reach,
            min=rlo,
            max=rhi,
            step=_step(rlo, rhi),
            description="reach",
            readout_format=".2f",
            **slider,
        )
        targets = ", ".join(intervention.targets)
        where = html.escape(f"{intervention.source} → {targets}")
        against = (
            f"against {html.escape(self._reference.name)}"
            if self._reference is not None
            else "against the baseline"
        )
        self._title = w.HTML(
            f"<b>What if: {html.escape(intervention.name)}</b> ({where}), "
            f"{against}, exact over {periods} periods"
        )
        self.output = w.Output()
        self.widget = w.VBox(
            [self._title, w.HBox([self._effect, self._reach]), self.output]
        )
        self.widget.what_if = self  # from the widget back to the numbers
        self._syncing = False
        self._effect.observe(self._on_slider, names="value")
        self._reach.observe(self._on_slider, names="value")
        self._show()

    # -- computing --------------------------------------------------------------

    def _plans(self, iv: Intervention) -> list[Plan]:
        if self._reference is None:
            return [Plan(self._name, [iv])]
        ivs = list(self._reference.interventions)
        names = [i.name for i in ivs]
        if iv.name in names:
            ivs[names.index(iv.name)] = iv
        else:
            ivs.append(iv)
        return [self._reference, Plan(self._name, ivs)]

    def _compare(self, iv: Intervention) -> Comparison:
        """The comparison; warnings are kept in ``notes`` and shown under the
        table rather than raised from a slider's callback."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            c = compare(
                self.journey,
                self._plans(iv),
                self.periods,
                accrual=self.accrual,
                discount_rate=self.discount_rate,
            )
        self.notes = list(dict.fromkeys(str(m.message) for m in caught))
        return c

    @property
    def slider_values(self) -> tuple[float, float]:
        """The (effect, reach) the sliders show."""
        return (self._effect.value, self._reach.value)

    def update(self, effect: float | None = None, reach: float | None = None):
        """Recompute for another effect amount and/or reach (None keeps the
        current one) and redraw the output; the sliders follow when the values
        are within their ranges.

        Returns the :class:`Comparison`, or None when the values do not work
        (a probability pushed outside [0, 1], a reach outside [0, 1], ...):
        the reason is then in ``error`` and in the output area, not raised.

        Examples
        --------
        >>> import journeysim as js
        >>> j = js.Journey(["active", "churned"], {"active": {"churned": 0.1}})
        >>> call = js.Intervention("call", at=("active", "churned"), change=-0.05)
        >>> w = js.WhatIf(j, call, periods=6)
        >>> c = w.update(effect=-0.08)  # churn 0.1 - 0.08 = 0.02 per period
        >>> round(float(c.summary.loc["what if: call", "retention at 6"]), 6)
        0.885842
        >>> w.slider_values
        (-0.08, 1.0)
        """
        effect = self.effect if effect is None else effect
        reach = self.reach if reach is None else reach
        self._sync(effect, reach)
        return self._recompute(effect, reach)

    def _recompute(self, effect: Any, reach: Any) -> Comparison | None:
        self.effect, self.reach = effect, reach
        try:
            iv = _with(self._base, effect, reach)
            c = self._compare(iv)
        except Exception as e:  # shown in the output area, never raised
            self.comparison = self.intervention = self.table = None
            self.notes = []
            self.error = str(e) or type(e).__name__
        else:
            self.comparison, self.intervention, self.error = c, iv, None
        self._show()
        return self.comparison

    def _sync(self, effect: Any, reach: Any) -> None:
        """Move the sliders to the values (those within range) without
        triggering a recomputation."""
        self._syncing = True
        try:
            for s, v in ((self._effect, effect), (self._reach, reach)):
                if (
                    isinstance(v, numbers.Real)
                    and not isinstance(v, bool)
                    and s.min <= v <= s.max
                ):
                    s.value = float(v)
        finally:
            self._syncing = False

    def _on_slider(self, change: dict) -> None:
        if self._syncing:
            return
        try:
            self._recompute(self._effect.value, self._reach.value)
        except Exception as e:  # pragma: no cover - _recompute shows its errors
            self.error = str(e)
            self._show()

    # -- showing ----------------------------------------------------------------

    def _table(self, c: Comparison) -> pd.DataFrame:
        s = c.summary
        ref = "baseline" if self._reference is None else self._reference.name
        t = s.loc[:, self.metrics].T
        t["change"] = t[self._name] - t[ref]
        t.columns.name = None
        return t

    def _show(self) -> None:
        if self.comparison is None:
            msg = self.error or "no result"
            self.output.outputs = (
                {
                    "output_type": "display_data",
                    "data": {
                        "text/plain": f"Error: {msg}",
                        "text/html": (
                            '<div style="color:#b00020;font-family:system-ui,'
                            'sans-serif;padding:0.4em 0">'
                            f"<b>These values do not work:</b> {html.escape(msg)}"
                            "</div>"
                        ),
                    },
                    "metadata": {},
                },
            )
            return
        c = self.comparison
        self.table = t = self._table(c)
        # In the journey's units; the change of a share in percentage points.
        rows = [
            [
                heading(m, c.units),
                *(
                    show(v, m, c.units, c.streams, c.periods, difference=k == "change")
                    for k, v in t.loc[m].items()
                ),
            ]
            for m in t.index
        ]
        caption = (
            f"{_EFFECT_LABELS[self._base.effect]} {fmt(float(self.effect))}, "
            f"reach {fmt(float(self.reach))}, over {self.periods} periods (exact)"
        )
        self.output.outputs = (
            {
                "output_type": "display_data",
                "data": {
                    "text/plain": pd.DataFrame(
                        [r[1:] for r in rows],
                        index=[r[0] for r in rows],
                        columns=list(t.columns),
                    ).to_string(),
                    "text/html": table(["", *t.columns], rows, caption)
                    + "".join(
                        '<div style="color:#8a6d00;font-size:0.85em">'
                        f"Note: {html.escape(n)}</div>"
                        for n in self.notes
                    ),
                },
                "metadata": {},
            },
            {
                "output_type": "display_data",
                "data": {
                    "text/plain": "<retention by plan>",
                    "image/png": self._retention_png(c),
                },
                "metadata": {},
            },
        )

    def _retention_png(self, c: Comparison) -> str:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.4, 3.2), dpi=90)
        ax = fig.subplots()
        for name, result in c.results.items():
            retention_curve(result.retention, ax=ax, label=name)
        ax.set_title("retention")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return base64.b64encode(buf.getvalue()).decode("ascii")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        state = f"error: {self.error}" if self.error else "ok"
        return (
            f"<WhatIf {self._base.name!r}: {self._base.effect}={self.effect!r}, "
            f"reach={self.reach!r} ({state})>"
        )


def what_if(
    journey: Journey,
    intervention: Intervention,
    *,
    periods: int = 36,
    baseline: Plan | Sequence[Intervention] | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    effect_range: tuple[float, float] | None = None,
    reach_range: tuple[float, float] = (0.0, 1.0),
    accrual: str = "start",
    discount_rate: float | None = None,
) -> ipywidgets.VBox:
    """A what-if widget for a notebook: sliders for the intervention's effect
    and reach, and below them the exact comparison with the baseline (a table
    of ``metrics`` and a retention plot), recomputed when a slider is released.
    Values that do not work (a probability pushed outside [0, 1]) show their
    error in the output area.

    The arguments are those of :class:`WhatIf`; the numbers behind the widget
    are ``widget.what_if`` (a :class:`WhatIf`: ``.comparison``, ``.table``,
    ``.update(effect=..., reach=...)``).

    Raises
    ------
    ImportError
        Without ipywidgets (``pip install 'journeysim[widgets]'``).

    Examples
    --------
    >>> import journeysim as js
    >>> j = js.default_journey()
    >>> call = js.Intervention("onboarding call", at=("onboarding", "churned"),
    ...                        relative_risk=0.6, reassign_to="adopting", reach=0.8)
    >>> box = js.what_if(j, call, periods=24)   # display(box) in a notebook
    >>> [type(c).__name__ for c in box.children]
    ['HTML', 'HBox', 'Output']
    >>> bool(box.what_if.table.loc["retention at 24", "change"] > 0)
    True
    """
    return WhatIf(
        journey,
        intervention,
        periods=periods,
        baseline=baseline,
        metrics=metrics,
        effect_range=effect_range,
        reach_range=reach_range,
        accrual=accrual,
        discount_rate=discount_rate,
    ).widget
