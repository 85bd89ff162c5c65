"""Open workload per agent and per team, kept exact through assign, reassign, close and reopen.

``workload_cases`` remembers, per complaint, what it currently contributes (owner, team, severity,
open, escalated); a batch compares each touched case's contribution before and after its events
and adds the difference to the counters. Rows whose counters fall to zero are deleted, so the
tables do not depend on how the history was cut into batches. The oldest open filing per row
is recomputed from ``workload_cases`` for the rows a batch touched (a minimum cannot be kept
by deltas).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from eventsourcing.utils import get_topic

from aggregates.complaint import Complaint
from aggregates.vocabulary import Severity
from projections.projection import Positioned, Projection
from projections.schema import Column, Index, Table
from projections.store import Tx

NO_TEAM = ""
SEVERITIES = tuple(s.value for s in Severity)
COUNTERS = ("open", *(f"open_{s}" for s in SEVERITIES), "escalated")

WORKLOAD_CASES = Table(
    name="workload_cases",
    columns=(
        Column("id", "uuid"),
        Column("assignee", "text", nullable=True),
        Column("team", "text"),
        Column("severity", "text"),
        Column("is_open", "bool"),
        Column("is_escalated", "bool"),
        Column("filed_at", "timestamp"),
    ),
    key=("id",),
    indexes=(
        Index("workload_cases_agent", ("assignee", "team", "filed_at"), where="is_open = TRUE"),
        Index("workload_cases_team", ("team", "filed_at"), where="is_open = TRUE"),
    ),
)

_COUNTER_COLUMNS = tuple(Column(c, "int") for c in COUNTERS)
_OLDEST = Column("oldest_open_filed_at", "timestamp", nullable=True)

WORKLOAD_AGENTS = Table(
    name="workload_agents",
    columns=(Column("assignee", "text"), Column("team", "text"), *_COUNTER_COLUMNS, _OLDEST),
    key=("assignee", "team"),
)
WORKLOAD_TEAMS = Table(
    name="workload_teams",
    columns=(Column("team", "text"), *_COUNTER_COLUMNS, _OLDEST),
    key=("team",),
)

AgentKey = tuple[str, str]


class WorkloadProjection(Projection):
    name = "workload"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Complaint.Filed,
            Complaint.Assigned,
            Complaint.Escalated,
            Complaint.Closed,
            Complaint.Reopened,
        )
    )
    tables = (WORKLOAD_CASES, WORKLOAD_AGENTS, WORKLOAD_TEAMS)

    def apply(self, tx: Tx, events: Sequence[Positioned]) -> None:
        ids = {p.event.originator_id for p in events}
        filed = {p.event.originator_id for p in events if isinstance(p.event, Complaint.Filed)}
        before = tx.fetch(WORKLOAD_CASES, "id", list(ids - filed))
        after = {k: dict(v) for k, v in before.items()}
        for p in events:
            case = after.get(p.event.originator_id)
            if case is None and not isinstance(p.event, Complaint.Filed):
                continue
            after[p.event.originator_id] = transcribe(case, p.event)

        agents: dict[AgentKey, Counter[str]] = {}
        teams: dict[str, Counter[str]] = {}
        for cid, case in after.items():
            for sign, state in ((-1, before.get(cid)), (1, case)):
                if state is None or not state["is_open"]:
                    continue
                contribution = Counter(
                    {"open": sign, f"open_{state['severity']}": sign,
                     "escalated": sign if state["is_escalated"] else 0}
                )
                if state["assignee"] is not None:
                    agents.setdefault((state["assignee"], state["team"]), Counter()).update(
                        contribution
                    )
                if state["team"] != NO_TEAM:
                    teams.setdefault(state["team"], Counter()).update(contribution)

        tx.upsert(WORKLOAD_CASES, list(after.values()))
        tx.add(
            WORKLOAD_AGENTS,
            [
                {"assignee": a, "team": t, **{c: d[c] for c in COUNTERS},
                 "oldest_open_filed_at": None}
                for (a, t), d in agents.items()
            ],
        )
        tx.add(
            WORKLOAD_TEAMS,
            [
                {"team": t, **{c: d[c] for c in COUNTERS}, "oldest_open_filed_at": None}
                for t, d in teams.items()
            ],
        )
        zero = " AND ".join(f"{c} = 0" for c in COUNTERS)
        tx.execute(f"DELETE FROM {tx.table('workload_agents')} WHERE {zero}")
        tx.execute(f"DELETE FROM {tx.table('workload_teams')} WHERE {zero}")
        self._refresh_oldest(tx, agents, teams)

    def _refresh_oldest(
        self, tx: Tx, agents: dict[AgentKey, Counter[str]], teams: dict[str, Counter[str]]
    ) -> None:
        # Only for the rows this batch touched, set-based; the partial indexes on open cases make
        # each minimum an index probe.
        cases, table = tx.table("workload_cases"), tx.table("workload_agents")
        if agents:
            touched, params = tx.dialect.pairs(list(agents))
            tx.execute(
                f"UPDATE {table} SET oldest_open_filed_at = (SELECT min(c.filed_at) FROM {cases} c "
                f"WHERE c.is_open = TRUE AND c.assignee = {table}.assignee "
                f"AND c.team = {table}.team) WHERE (assignee, team) IN ({touched})",
                params,
            )
        table = tx.table("workload_teams")
        if teams:
            touched, params = tx.dialect.texts(list(teams))
            tx.execute(
                f"UPDATE {table} SET oldest_open_filed_at = (SELECT min(c.filed_at) FROM {cases} c "
                f"WHERE c.is_open = TRUE AND c.team = {table}.team) "
                f"WHERE team IN ({touched})",
                params,
            )


def transcribe(case: dict[str, Any] | None, e: Any) -> dict[str, Any]:
    if isinstance(e, Complaint.Filed):
        return {
            "id": e.originator_id, "assignee": None, "team": NO_TEAM, "severity": e.severity,
            "is_open": True, "is_escalated": False, "filed_at": e.timestamp,
        }
    assert case is not None
    case = dict(case)
    if isinstance(e, Complaint.Assigned):
        case["assignee"], case["team"] = e.assignee, e.team or NO_TEAM
    elif isinstance(e, Complaint.Escalated):
        case["is_escalated"] = e.level > 0
    elif isinstance(e, Complaint.Closed):
        case["is_open"] = False
    elif isinstance(e, Complaint.Reopened):
        case["is_open"] = True
    return case
