"""Open workload per agent and per team, from the ``workload`` view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from projections.store import ReadModelStore
from projections.workload import SEVERITIES, WORKLOAD_AGENTS, WORKLOAD_TEAMS


class TeamLoad(BaseModel):
    team: str | None
    open: int
    open_by_severity: dict[str, int]
    escalated: int
    oldest_open_filed_at: datetime | None


class AgentLoad(TeamLoad):
    assignee: str


class Workload(BaseModel):
    agents: list[AgentLoad]
    teams: list[TeamLoad]


def _load(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "team": row["team"] or None,
        "open": row["open"],
        "open_by_severity": {s: row[f"open_{s}"] for s in SEVERITIES},
        "escalated": row["escalated"],
        "oldest_open_filed_at": row["oldest_open_filed_at"],
    }


def get_workload(store: ReadModelStore, team: str | None = None) -> Workload:
    dialect = store.dialect
    where, params = ("", []) if team is None else (" WHERE team = %s", [team])
    with store.read() as tx:
        agents = tx.rows(
            f"SELECT * FROM {tx.table(WORKLOAD_AGENTS.name)}{where} "
            "ORDER BY open DESC, assignee, team",
            params,
        )
        teams = tx.rows(
            f"SELECT * FROM {tx.table(WORKLOAD_TEAMS.name)}{where} ORDER BY open DESC, team",
            params,
        )
    return Workload(
        agents=[
            AgentLoad(assignee=r["assignee"], **_load(dialect.decode_row(WORKLOAD_AGENTS, r)))
            for r in agents
        ],
        teams=[TeamLoad(**_load(dialect.decode_row(WORKLOAD_TEAMS, r))) for r in teams],
    )

