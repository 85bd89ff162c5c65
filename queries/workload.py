"""Open workload per agent and per team, from the ``workload`` view, in bounded pages.

Both lists are sorted by open cases (most first), then by name, and paged together: a page holds
up to ``limit`` agents and up to ``limit`` teams, and ``next_cursor`` continues both (a list that
is complete stays empty on later pages). The cursor is the sort key of the last row served in
each list (keyset paging); counts change as cases move, so a row whose count changes between two
pages may appear twice or not at all, as with any live dashboard.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from commands.permissions import Reach
from commands.routing import OpenCounts
from projections.store import ReadModelStore
from projections.workload import (
    NO_TEAM,
    SEVERITIES,
    WORKLOAD_AGENTS,
    WORKLOAD_TEAMS,
    WorkloadProjection,
)
from queries.errors import InvalidQueryError
from queries.reach import reach_condition

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
_BIGINT = 2**63 - 1
_DONE = "done"


class TeamLoad(BaseModel):
    team: str | None
    open: int
    open_by_severity: dict[str, int]
    escalated: int
    at_risk: int = Field(
        description="Open complaints with an SLA clock at risk: warned by the deadline watcher, "
        "not met, breached or paused"
    )
    breached: int = Field(
        description="Open complaints with a recorded breach of their first response or of "
        "their current resolution cycle"
    )
    oldest_open_filed_at: datetime | None


class AgentLoad(TeamLoad):
    assignee: str


class Workload(BaseModel):
    agents: list[AgentLoad]
    teams: list[TeamLoad]
    next_cursor: str | None = None
    """Pass as ``cursor`` for the next agents and teams; null when both lists are complete."""


# Where a list resumes: None (from its start), the sort key of its last row served, or _DONE.
Resume = list[Any] | str | None


def _load(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "team": row["team"] or None,
        "open": row["open"],
        "open_by_severity": {s: row[f"open_{s}"] for s in SEVERITIES},
        "escalated": row["escalated"],
        "at_risk": row["at_risk"],
        "breached": row["breached"],
        "oldest_open_filed_at": row["oldest_open_filed_at"],
    }


def encode_cursor(agents: Resume, teams: Resume) -> str:
    raw = json.dumps({"agents": agents, "teams": teams}, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _resume(value: Any, names: int) -> Resume:
    """A side of a decoded cursor, checked: [open, name...] with ``names`` strings."""
    if value is None or value == _DONE:
        return value  # type: ignore[no-any-return]
    if (
        isinstance(value, list)
        and len(value) == 1 + names
        and type(value[0]) is int
        and 0 <= value[0] <= _BIGINT
        and all(isinstance(v, str) and "\x00" not in v for v in value[1:])
    ):
        return value
    raise ValueError("not a workload cursor")


def decode_cursor(cursor: str) -> tuple[Resume, Resume]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded))
        if not isinstance(payload, dict) or set(payload) != {"agents", "teams"}:
            raise ValueError("not a workload cursor")
        return _resume(payload["agents"], 2), _resume(payload["teams"], 1)
    except (ValueError, binascii.Error):
        raise InvalidQueryError("cursor", "is not a cursor this endpoint issued") from None


def get_workload(
    store: ReadModelStore,
    team: str | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    reach: Reach | None = None,
) -> Workload:
    """``reach``: only the rows of the caller's teams (supervisors; None: every row). A team's
    own row shows only for its team; agents without a team show to every supervisor."""
    after_agent, after_team = decode_cursor(cursor) if cursor else (None, None)
    dialect = store.dialect
    with store.read() as tx:
        agent_rows = (
            []
            if after_agent == _DONE
            else tx.rows(
                *_page(
                    tx.table(WORKLOAD_AGENTS.name),
                    ("assignee", "team"),
                    team,
                    after_agent,
                    limit,
                    reach_condition(reach, no_team=NO_TEAM) if reach else None,
                )
            )
        )
        team_rows = (
            []
            if after_team == _DONE
            else tx.rows(
                *_page(
                    tx.table(WORKLOAD_TEAMS.name),
                    ("team",),
                    team,
                    after_team,
                    limit,
                    _teams_only(reach) if reach else None,
                )
            )
        )
    agents_more, teams_more = len(agent_rows) > limit, len(team_rows) > limit
    agent_rows, team_rows = agent_rows[:limit], team_rows[:limit]
    next_cursor = None
    if agents_more or teams_more:
        next_cursor = encode_cursor(
            [agent_rows[-1]["open"], agent_rows[-1]["assignee"], agent_rows[-1]["team"]]
            if agents_more
            else _DONE,
            [team_rows[-1]["open"], team_rows[-1]["team"]] if teams_more else _DONE,
        )
    return Workload(
        agents=[
            AgentLoad(assignee=r["assignee"], **_load(dialect.decode_row(WORKLOAD_AGENTS, r)))
            for r in agent_rows
        ],
        teams=[TeamLoad(**_load(dialect.decode_row(WORKLOAD_TEAMS, r))) for r in team_rows],
        next_cursor=next_cursor,
    )


def _teams_only(reach: Reach) -> tuple[str, list[Any]]:
    if not reach.teams:
        return "1 = 0", []
    return f"team IN ({', '.join(['%s'] * len(reach.teams))})", list(reach.teams)


def _page(
    table: str,
    names: tuple[str, ...],
    team: str | None,
    after: Resume,
    limit: int,
    within: tuple[str, list[Any]] | None = None,
) -> tuple[str, list[Any]]:
    """One page of ``table`` ordered by (open DESC, *names ASC), after the key ``after``."""
    where: list[str] = []
    params: list[Any] = []
    if within is not None:
        where.append(within[0])
        params += within[1]
    if team is not None:
        where.append("team = %s")
        params.append(team)
    if isinstance(after, list):
        # (open, names...) strictly after ``after`` in that order, spelt out rather than as a row
        # comparison because the directions differ (open descending, names ascending).
        open_count, *keys = after
        tie = f"{names[-1]} > %s"
        tie_params: list[Any] = [keys[-1]]
        for name, key in zip(reversed(names[:-1]), reversed(keys[:-1]), strict=True):
            tie = f"{name} > %s OR ({name} = %s AND ({tie}))"
            tie_params = [key, key, *tie_params]
        where.append(f"(open < %s OR (open = %s AND ({tie})))")
        params += [open_count, open_count, *tie_params]
    order = ", ".join(names)
    statement = (
        f"SELECT * FROM {table}"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" ORDER BY open DESC, {order} LIMIT %s"
    )
    return statement, [*params, limit + 1]


class WorkloadStaffing:
    """Open complaints per agent for routing (``commands/routing.py``'s ``Staffing``), from the
    ``workload`` view: two queries per team and ``cache_seconds`` (filings are decided on the
    event loop, so a burst must not query the view for each one). The router adds what it
    routed past the position read, so the cached counts never hide its own assignments."""

    MAX_CACHED = 1000

    def __init__(self, store: ReadModelStore, cache_seconds: float = 1.0) -> None:
        self._store = store
        self.cache_seconds = cache_seconds
        self._cached: dict[tuple[str, ...], tuple[float, OpenCounts]] = {}

    def open_counts(self, agents: Sequence[str]) -> OpenCounts:
        key = tuple(sorted(agents))
        now = time.monotonic()
        hit = self._cached.get(key)
        if hit is not None and now - hit[0] < self.cache_seconds:
            return hit[1]
        counts = self._read(key)
        if len(self._cached) >= self.MAX_CACHED:
            self._cached.clear()
        self._cached[key] = (now, counts)
        return counts

    def _read(self, agents: tuple[str, ...]) -> OpenCounts:
        # The position first: the counts read after it include at least what it says (a count
        # the view adds meanwhile is counted twice for a moment, never missed).
        position = self._store.position(WorkloadProjection.name)
        if not agents:
            return OpenCounts({}, position)
        with self._store.read() as tx:
            rows = tx.rows(
                f"SELECT assignee, SUM(open) AS open FROM {tx.table(WORKLOAD_AGENTS.name)} "
                f"WHERE assignee IN ({', '.join(['%s'] * len(agents))}) GROUP BY assignee",
                list(agents),
            )
        return OpenCounts({r["assignee"]: int(r["open"]) for r in rows}, position)
