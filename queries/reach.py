"""A list's SQL condition for what an actor may see (``commands.permissions.Reach``), so agents'
and supervisors' lists show exactly the complaints they may open."""

from __future__ import annotations

from typing import Any

from commands.permissions import Reach


def reach_condition(
    reach: Reach, *, prefix: str = "", no_team: str | None = None
) -> tuple[str, list[Any]]:
    """``(condition, params)`` over the ``assignee`` and ``team`` columns (with ``prefix``, e.g.
    ``"s."``). ``no_team``: how the table spells "no team" when not as NULL (``""``)."""
    team, assignee = f"{prefix}team", f"{prefix}assignee"
    teamless = f"{team} IS NULL" if no_team is None else f"{team} = %s"
    teamless_params: list[Any] = [] if no_team is None else [no_team]
    parts: list[str] = []
    params: list[Any] = []
    if reach.teams:
        parts.append(f"{team} IN ({', '.join(['%s'] * len(reach.teams))})")
        params += list(reach.teams)
    if reach.assignee is not None:
        parts.append(f"{assignee} = %s")
        params.append(reach.assignee)
    if reach.teamless_assigned:
        parts.append(teamless)
    else:  # the triage queue: nobody's yet
        parts.append(f"({teamless} AND {assignee} IS NULL)")
    params += teamless_params
    return "(" + " OR ".join(parts) + ")", params
