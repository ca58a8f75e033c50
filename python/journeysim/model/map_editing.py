"""Journey methods that edit the map: what each stage, touchpoint or channel
is worth by taking it out (removal effects), and stages replaced by whole
journeys and folded back (sub-journeys). A mixin of :class:`Journey`, kept
apart so the class stays readable; the work is in ``removal`` and
``sub_journey``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Self

from .removal import RemovalEffects, removal_effects
from .sub_journey import collapse, expand

__all__ = ["MapEditing"]


class MapEditing:
    """Removal effects and sub-journeys of a journey (mixed into Journey)."""

    def removal_effects(
        self,
        of: str = "stages",
        metric: str = "clv",
        periods: int = 36,
        *,
        redirect: str | None = None,
        only: Sequence[str] | None = None,
        accrual: str = "start",
    ) -> RemovalEffects:
        """What each stage (or each touchpoint or channel of the stage
        metadata, with every stage that carries it) is worth to ``metric``:
        the change when customers who would enter it go to ``redirect``
        instead (exact). Removal effect ``1 - without / with`` and its share
        of the sum of all removal effects, as ChannelAttribution reports;
        docs/removal_effects.md states the rules.

        ``metric``: "clv", "lifetime clv", "lifetime", "population value" or
        "retention at <h>"; ``redirect``: a stage (default: the only absorbing
        one); ``only``: the items to remove (default: every transient stage
        but ``redirect``, or every touchpoint or channel).

        Examples
        --------
        >>> import journeysim as js
        >>> j = js.Journey(["trial", "paid", "churned"],
        ...     {"trial": {"paid": 0.5, "churned": 0.5}, "paid": {"churned": 0.1}})
        >>> r = j.removal_effects(metric="lifetime")
        >>> r.baseline, r.table["without"].round(6).to_dict()
        (6.0, {'trial': 0.0, 'paid': 1.0})
        """
        return removal_effects(
            self, of, metric, periods, redirect=redirect, only=only, accrual=accrual
        )

    def expand(
        self, stage: str, sub_journey: Self, exits: Mapping | None = None
    ) -> Self:
        """This journey with ``stage`` replaced by ``sub_journey``: its stages
        named ``stage/<name>``, entered by its start distribution, its exit
        (absorbing) stages attached to parent stages by ``exits={parent_stage:
        exit_stage}`` (default: exits named like parent stages). Values,
        scores and metadata are the sub-journey's where it has them, else the
        stage's; docs/sub_journeys.md states every rule.

        Examples
        --------
        >>> import journeysim as js
        >>> j = js.Journey(["onboarding", "active", "churned"],
        ...     {"onboarding": {"active": 0.5, "churned": 0.1},
        ...      "active": {"churned": 0.05}})
        >>> onb = js.Journey(["kickoff", "setup", "done", "lost"],
        ...     {"kickoff": {"setup": 0.8, "lost": 0.1}, "setup": {"done": 0.6}})
        >>> big = j.expand("onboarding", onb, {"active": "done", "churned": "lost"})
        >>> big.stages
        ['onboarding/kickoff', 'onboarding/setup', 'active', 'churned']
        """
        return expand(self, stage, sub_journey, exits)

    def collapse(self, prefix: str) -> Self:
        """The stages named ``prefix/...`` folded into one stage ``prefix``
        (for display): its stay and exits keep the expected periods per visit
        and where customers go next, its amounts and scores are averages over
        those periods (docs/sub_journeys.md). Refused where one stage cannot
        show them (entries split differently, moves that change with tenure).
        """
        return collapse(self, prefix)
