"""The plan studio: an interactive what-if app for people who do not write
Python. The same Panel app shows inline in Jupyter (:func:`studio`) and is
served in the browser by ``journeysim studio model.yaml`` (:func:`serve`), a
fresh app, with its own state, for every browser session. Panel is an optional
extra: ``pip install 'journeysim[studio]'``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._base.optional import optional
from ..model.intervention import Intervention, Plan
from ..model.journey import Journey
from .demo import default_journey, default_plans
from .studio_state import Setup

if TYPE_CHECKING:
    from .studio_view import StudioView

__all__ = ["serve", "studio"]


def _panel():
    """Panel, or the one-line message saying what to install."""
    return optional("panel", "the plan studio", "studio")


def studio(
    journey: Journey | None = None,
    plans: Sequence[Plan] | None = None,
    *,
    periods: int = 36,
    interventions: Sequence[Intervention] = (),
    customers: int = 20_000,
    seed: int = 1,
) -> StudioView:
    """The plan studio as a Panel app object: display it in a notebook (it
    shows inline), or ``.servable()`` / ``.show()`` it.

    The page shows the journey map (owners in lanes, moments of truth in
    red), a card per intervention (effect, reach, tenure window, costs and
    capacity, as sliders and inputs), the plans (which to compare, which
    interventions each holds), a budget with the best plan within it, exact or
    Monte Carlo comparison (run in a worker thread, with a progress bar and a
    cancel button), and the results in the journey's units: the incremental
    net value per plan, the comparison table, cost against return, retention
    curves and net revenue retention year by year. The model file (the same
    YAML :func:`journeysim.save` writes) and the HTML report can be
    downloaded; a model file can be uploaded.

    Parameters
    ----------
    journey : Journey, optional
        Default: :func:`journeysim.default_journey` with its plans.
    plans : list of Plan, optional
    periods : int, default 36
        The horizon, in the journey's time unit (changeable in the page).
    interventions : list of Intervention
        More interventions to offer for the plans (a model file's library).
    customers, seed : int
        The Monte Carlo settings the page starts with.

    Returns
    -------
    StudioView
        A ``panel.viewable.Viewer``: ``.setup`` (the current
        :class:`~journeysim.apps.studio_state.Setup`) and ``.outcome`` (its
        comparison) give the numbers behind the page.

    Raises
    ------
    ImportError
        Without Panel (``pip install 'journeysim[studio]'``).

    Examples
    --------
    >>> import journeysim as js
    >>> app = js.studio(js.default_journey(), js.default_plans())
    >>> plan = "call and rescue"
    >>> c = app.outcome.comparison
    >>> bool(c.population.loc[plan, "incremental net value"] > 0)
    True
    """
    pn = _panel()
    from .studio_view import StudioView  # needs Panel: loaded once it is there

    pn.extension()
    if journey is None:
        journey = default_journey()
        plans = default_plans() if plans is None else plans
    setup = Setup.of(journey, plans or [], interventions=interventions, periods=periods)
    return StudioView(setup, customers=customers, seed=seed)


def serve(
    journey: Journey | None = None,
    plans: Sequence[Plan] | None = None,
    *,
    port: int = 5006,
    host: str = "127.0.0.1",
    show: bool = True,
    allow_websocket_origin: Sequence[str] | None = None,
    periods: int = 36,
    interventions: Sequence[Intervention] = (),
    source: str = "model.yaml",
    start: bool = True,
    **kwargs: Any,
):
    """Serve the plan studio: every browser session gets an app of its own
    (its own setup, edits and runs; two sessions never see each other's).

    It listens on ``host`` (127.0.0.1, this machine only, unless told) at
    ``port``; ``allow_websocket_origin`` lists the host names (``host:port``)
    browsers may reach it by, for a proxy in front of it (default: the address
    it listens on and localhost). Returns Panel's server (blocks until Ctrl-C
    when ``start``).
    """
    pn = _panel()
    from .studio_view import StudioView  # needs Panel: loaded once it is there

    if journey is None:
        journey = default_journey()
        plans = default_plans() if plans is None else plans
    # Checked once, before serving: a bad model is one line at start-up.
    setup = Setup.of(
        journey,
        plans or [],
        interventions=interventions,
        periods=periods,
        source=source,
    )

    def app():  # one per session
        pn.extension()
        return StudioView(setup).__panel__()

    origins = list(allow_websocket_origin or [])
    if not origins:
        origins = [f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"]
    return pn.serve(
        app,
        port=port,
        address=host,
        websocket_origin=origins,
        show=show,
        start=start,
        title=f"Plan studio: {journey.name}" if journey.name else "Plan studio",
        verbose=False,
        websocket_max_message_size=20 * 1024 * 1024,
        **kwargs,
    )
