"""Open workload per agent and per team, kept exact through assign, reassign, close and reopen.

``workload_cases`` remembers, per complaint, what it currently contributes (owner, team, severity,
open, escalated); a batch compares each touched case's contribution before and after its events
and adds the difference to the counters. Rows whose counters fall to zero are deleted, so the
tables do not depend on how the history was cut into batches. The oldest open filing per row
is recomputed from ``workload_cases`` for the rows a batch touched (a minimum cannot be kept
by deltas).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aggregates.complaint import Complaint
from aggregates.vocabulary import Severity, SlaMetric, Visibility
from projections.complaint_rows import fold, rows_to_change, topics_of
from projections.projection import Positioned, Projection
from projections.schema import Column, Index, Table, columns
from projections.store import Tx

NO_TEAM = ""
SEVERITIES = tuple(s.value for s in Severity)
COUNTERS = ("open", *(f"open_{s}" for s in SEVERITIES), "escalated", "at_risk", "breached")
FIRST_RESPONSE, RESOLUTION = SlaMetric.FIRST_RESPONSE.value, SlaMetric.RESOLUTION.value

WORKLOAD_CASES = Table(
    name="workload_cases",
    columns=columns(
        "id uuid, assignee text?, team text, severity text, is_open bool, "
        "is_escalated bool, filed_at timestamp, fr_warned bool, fr_met bool, fr_breached bool, "
        "resolution_cycle int, resolution_warned bool, resolution_met bool, "
        "resolution_breached bool, paused bool"
    ),
    key=("id",),
    # Read by every batch (the oldest open filing per touched agent and team), so a rebuild
    # keeps them; partial, they hold only the open cases.
    indexes=(
        Index("workload_cases_agent", ("assignee", "team", "filed_at"), where="is_open = TRUE",
              used_by_writes=True),
        Index("workload_cases_team", ("team", "filed_at"), where="is_open = TRUE",
              used_by_writes=True),
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
    topics = topics_of(
        Complaint.Filed, Complaint.Assigned, Complaint.Escalated, Complaint.Closed,
        Complaint.Reopened, Complaint.Commented, Complaint.CustomerAwaited,
        Complaint.CustomerReplied, Complaint.SlaWarned, Complaint.SlaBreached,
        Complaint.SeverityChanged,
    )
    tables = (WORKLOAD_CASES, WORKLOAD_AGENTS, WORKLOAD_TEAMS)

    def apply(self, tx: Tx, events: Sequence[Positioned]) -> None:
        before = rows_to_change(tx, WORKLOAD_CASES, events)
        # One copy per case and batch; the case's events then change it in place.
        after = {k: dict(v) for k, v in before.items()}
        fold(after, events, transcribe)

        agents: dict[AgentKey, dict[str, int]] = {}
        teams: dict[str, dict[str, int]] = {}
        for cid, case in after.items():
            for sign, state in ((-1, before.get(cid)), (1, case)):
                if state is None or not state["is_open"]:
                    continue
                severity = f"open_{state['severity']}"
                escalated = sign if state["is_escalated"] else 0
                at_risk = sign if is_at_risk(state) else 0
                breached = sign if is_breached(state) else 0
                targets = []
                if state["assignee"] is not None:
                    targets.append(_counters(agents, (state["assignee"], state["team"])))
                if state["team"] != NO_TEAM:
                    targets.append(_counters(teams, state["team"]))
                for counters in targets:
                    counters["open"] += sign
                    counters[severity] += sign
                    counters["escalated"] += escalated
                    counters["at_risk"] += at_risk
                    counters["breached"] += breached

        tx.upsert(WORKLOAD_CASES, list(after.values()))
        tx.add(
            WORKLOAD_AGENTS,
            [
                {"assignee": a, "team": t, **d, "oldest_open_filed_at": None}
                for (a, t), d in agents.items()
            ],
        )
        tx.add(
            WORKLOAD_TEAMS,
            [{"team": t, **d, "oldest_open_filed_at": None} for t, d in teams.items()],
        )
        zero = " AND ".join(f"{c} = 0" for c in COUNTERS)
        tx.execute(f"DELETE FROM {tx.table('workload_agents')} WHERE {zero}")
        tx.execute(f"DELETE FROM {tx.table('workload_teams')} WHERE {zero}")
        if agents:
            _refresh_oldest(tx, WORKLOAD_AGENTS, *tx.dialect.pairs(list(agents)))
        if teams:
            _refresh_oldest(tx, WORKLOAD_TEAMS, *tx.dialect.texts(list(teams)))


def _refresh_oldest(tx: Tx, table: Table, touched: str, params: list[Any]) -> None:
    """Recomputes the oldest open filing of the rows of ``table`` the batch touched (``touched``:
    their keys as an SQL list, with its ``params``), from the open cases with the same key.

    Only for those rows, set-based; the partial indexes on open cases make each minimum an
    index probe."""
    name, cases = tx.table(table.name), tx.table(WORKLOAD_CASES.name)
    same_key = " AND ".join(f"c.{column} = {name}.{column}" for column in table.key)
    tx.execute(
        f"UPDATE {name} SET oldest_open_filed_at = (SELECT min(c.filed_at) FROM {cases} c "
        f"WHERE c.is_open = TRUE AND {same_key}) WHERE ({', '.join(table.key)}) IN ({touched})",
        params,
    )


def _counters(table: dict[Any, dict[str, int]], key: Any) -> dict[str, int]:
    found = table.get(key)
    if found is None:
        found = table[key] = dict.fromkeys(COUNTERS, 0)
    return found


def transcribe(case: dict[str, Any] | None, p: Positioned) -> dict[str, Any]:
    """The case after the event: a new one for a filing, else ``case`` itself, changed."""
    e = p.event
    kind = type(e)
    if kind is Complaint.Filed:
        return {
            "id": e.originator_id, "assignee": None, "team": NO_TEAM, "severity": e.severity,
            "is_open": True, "is_escalated": False, "filed_at": e.timestamp,
            "fr_warned": False, "fr_met": False, "fr_breached": False, "resolution_cycle": 1,
            "resolution_warned": False, "resolution_met": False, "resolution_breached": False,
            "paused": False,
        }
    assert case is not None
    if kind is Complaint.Assigned:
        case["assignee"], case["team"] = e.assignee, e.team or NO_TEAM
    elif kind is Complaint.Escalated:
        case["is_escalated"] = e.level > 0
    elif kind is Complaint.SeverityChanged:
        case["severity"] = e.severity
    elif kind is Complaint.Closed:
        case["is_open"] = case["paused"] = False
        case["fr_met"] = case["resolution_met"] = True
    elif kind is Complaint.Reopened:
        case["is_open"] = True
        case["resolution_cycle"] += 1
        case["resolution_warned"] = case["resolution_met"] = False
        case["resolution_breached"] = False
    elif kind is Complaint.Commented:
        if e.visibility == Visibility.CUSTOMER.value:
            case["fr_met"] = True
    elif kind is Complaint.CustomerAwaited:
        case["paused"] = True
    elif kind is Complaint.CustomerReplied:
        case["paused"] = False
    elif kind in (Complaint.SlaWarned, Complaint.SlaBreached):
        what = "warned" if kind is Complaint.SlaWarned else "breached"
        if e.metric == FIRST_RESPONSE:
            case[f"fr_{what}"] = True
        elif e.cycle == case["resolution_cycle"]:
            case[f"resolution_{what}"] = True
    return case


def is_at_risk(case: dict[str, Any]) -> bool:
    """A clock of the case is at risk: warned, and neither met, breached nor paused (the
    first response, or the current resolution cycle)."""
    first = case["fr_warned"] and not (case["fr_met"] or case["fr_breached"])
    resolution = case["resolution_warned"] and not (
        case["resolution_met"] or case["resolution_breached"] or case["paused"]
    )
    return bool(first or resolution)


def is_breached(case: dict[str, Any]) -> bool:
    """A breach is recorded on the first response or the current resolution cycle."""
    return bool(case["fr_breached"] or case["resolution_breached"])
