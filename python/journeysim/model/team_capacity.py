"""Team capacity: customers a team can handle per period, shared by every
intervention it runs (``Journey(team_capacity=)`` for every plan,
``Plan(capacity=)`` for one), checked here and resolved for a plan.

The team that runs an intervention is its ``owner``, else the owner of its
*from* stage in the journey's map (as in :meth:`Plan.timeline`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._base.errors import InputError
from .._base.resolved import TeamBudget
from .intervention import Intervention, Plan
from .intervention_spec import check_budgets

__all__ = ["intervention_team", "journey_budgets", "plan_budgets"]


def journey_budgets(value: Any, owners: Sequence[str | None]) -> tuple[TeamBudget, ...]:
    """A journey's ``team_capacity``, checked against the teams of its map
    (the stage owners): an unknown team is an InputError naming it."""
    budgets = check_budgets(value, "the journey", "team_capacity")
    teams = sorted({o for o in owners if o is not None})
    for team in budgets:
        if team not in teams:
            raise InputError(
                f"team_capacity names team {team!r}, which owns no stage of the "
                f"journey; the teams of its map are: {', '.join(teams) or 'none'} "
                "(set a stage's owner in metadata=)",
                key=("team_capacity", team),
            )
    return tuple(TeamBudget(t, c) for t, c in budgets.items())


def intervention_team(iv: Intervention, stage_owners: Mapping[str, str | None]):
    """The team that runs ``iv``: its owner, else its from stage's owner."""
    return iv.owner if iv.owner is not None else stage_owners.get(iv.source)


def plan_budgets(journey: Any, plan: Plan) -> dict[str, int]:
    """The team budgets in force for ``plan`` on ``journey``: the plan's own
    ``capacity``, else the journey's ``team_capacity``, for the teams that run
    one of the plan's interventions. A team in the plan's ``capacity`` that
    runs none of them is an InputError naming it."""
    r = journey.resolved
    owners = dict(zip(r.stages, r.owners(), strict=True))
    teams = {intervention_team(iv, owners) for iv in plan.interventions} - {None}
    for team in plan.capacity:
        if team not in teams:
            raise InputError(
                f"plan {plan.name!r}: capacity names team {team!r}, which runs "
                f"none of its interventions (their teams: "
                f"{', '.join(sorted(teams)) or 'none'}; an intervention's team is "
                "its owner=, else the owner of its stage)",
                key=("capacity", team),
            )
    out = {b.team: b.capacity for b in r.team_capacity if b.team in teams}
    out.update(plan.capacity)
    return out
