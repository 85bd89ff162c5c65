"""The SLA view: one row per complaint, metric and cycle, with its terms, due and at-risk instants
and where the clock stands as its events recorded it; the deadline watcher
(``projections/deadlines.py``) finds what falls due through its indexes.

One name for the feature: projection ``sla``, tables ``sla`` (the clocks) and ``sla_cases`` (per
complaint, what the fold needs to start and move clocks: its owner, openness, pause, terms).

Transcription, no rules: each row follows the aggregate's clock (``aggregates/sla_clock.py``),
and its ``state`` is read from what was *recorded*, never from the time it is read (a view does
not know "now"):

- ``breached``: a breach recorded (``breached_at``), or a clock stopped after its due instant
  without one (met late, or paused after the due: ``breached_at`` still null until the watcher
  records the breach with its true time);
- ``met``: met at or before its due instant;
- ``paused``: the resolution clock while the complaint waits for the customer;
- ``at_risk``: a warning recorded;
- ``running``: otherwise (also past its due instant until the breach is recorded: readers compare
  ``due_at`` with the time they read).

``business_seconds``: the working seconds (on the complaint's calendar) the clock ran, from its
start to where it stopped (met: ``met_at``; breached: the due instant; paused: the pause), less
the finished pauses; null while it runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from aggregates.business_time import Calendar, working_seconds_between
from aggregates.complaint import Complaint
from aggregates.vocabulary import SlaMetric, SlaState, Visibility
from commands.sla_clocks import BuiltInSlaTerms
from projections.complaint_rows import rows_to_change, topics_of
from projections.projection import Positioned, Projection
from projections.schema import Index, Table, columns
from projections.store import Tx

FIRST_RESPONSE, RESOLUTION = SlaMetric.FIRST_RESPONSE.value, SlaMetric.RESOLUTION.value
RUNNING, PAUSED, AT_RISK = SlaState.RUNNING.value, SlaState.PAUSED.value, SlaState.AT_RISK.value
MET, BREACHED = SlaState.MET.value, SlaState.BREACHED.value
CUSTOMER = Visibility.CUSTOMER.value

Calendars = Callable[[str, int], Calendar]
"""A calendar at a version (``SlaTerms.calendar``): versions never change once stored."""

SLA = Table(
    name="sla",
    columns=columns(
        "complaint_id uuid, metric text, cycle int, policy_version int, rule text, "
        "calendar text, calendar_version int, target text, started_at timestamp, "
        "due_at timestamp, at_risk_at timestamp, state text, warned_at timestamp?, "
        "met_at timestamp?, breached_at timestamp?, paused_at timestamp?, "
        "paused_seconds int, business_seconds int?, team text?, assignee text?, "
        "escalation_level int, is_open bool"
    ),
    key=("complaint_id", "metric", "cycle"),
    indexes=(
        # The watcher: the next clocks to fall due, and to become at risk (running ones).
        Index("sla_state_due", ("state", "due_at")),
        Index("sla_state_at_risk", ("state", "at_risk_at")),
        # Clocks that stopped after their due instant with no breach recorded yet (the watcher
        # was away): few, found without reading the breached ones.
        Index("sla_unrecorded_breaches", ("due_at",),
              where="state = 'breached' AND breached_at IS NULL"),
        # Open complaints whose resolution is breached, below an escalation level: the watcher's
        # "still open a business day after the breach".
        Index("sla_open_resolution_breaches", ("escalation_level", "due_at"),
              where="metric = 'resolution' AND state = 'breached' AND is_open = TRUE"),
        # GET /sla/breaches: the recorded breaches of a range, newest first.
        Index("sla_breached_at", ("breached_at",), where="breached_at IS NOT NULL"),
    ),
)

SLA_CASES = Table(
    name="sla_cases",
    columns=columns(
        "id uuid, severity text, assignee text?, team text?, is_open bool, "
        "escalation_level int, received_at timestamp, first_response_at timestamp?, "
        "resolution_cycle int, resolution_started_at timestamp, paused_at timestamp?, "
        "policy_version int?, rule text?, calendar text?, calendar_version int?, "
        "resolution_target text?"
    ),
    key=("id",),
    indexes=(
        # The watcher: open critical complaints with SLA clocks, below an escalation level.
        Index("sla_cases_critical", ("escalation_level",),
              where="severity = 'critical' AND is_open = TRUE AND policy_version IS NOT NULL"),
    ),
)

SLA_FOLLOW_UPS = Table(
    name="sla_follow_ups",
    columns=columns("complaint_id uuid, follow_up_id text, due_at timestamp"),
    key=("complaint_id", "follow_up_id"),
    # The watcher: the next follow-ups to fall due (a row leaves when the follow-up is done).
    indexes=(Index("sla_follow_ups_due", ("due_at",)),),
)
"""Automation rules' pending follow-ups (``Complaint.FollowUpScheduled``, issue 12)."""

ClockKey = tuple[str, int]
"""Metric and cycle."""


class SlaProjection(Projection):
    name = "sla"
    topics = topics_of(
        Complaint.Filed, Complaint.Assigned, Complaint.Commented, Complaint.Escalated,
        Complaint.Closed, Complaint.Reopened, Complaint.SlaApplied, Complaint.CustomerAwaited,
        Complaint.CustomerReplied, Complaint.SlaCycleStarted, Complaint.SlaWarned,
        Complaint.SlaBreached, Complaint.SeverityChanged, Complaint.FollowUpScheduled,
        Complaint.FollowUpDone,
    )
    tables = (SLA, SLA_CASES, SLA_FOLLOW_UPS)

    def __init__(self, calendars: Calendars | None = None) -> None:
        """``calendars``: where the calendars of ``business_seconds`` come from (the
        application's ``sla_terms.calendar``; default: the built-in ``24x7`` only)."""
        self._lookup: Calendars = calendars or BuiltInSlaTerms().calendar
        self._calendars: dict[tuple[str, int], Calendar | None] = {}

    def apply(self, tx: Tx, events: Sequence[Positioned]) -> None:
        cases = rows_to_change(tx, SLA_CASES, events)  # by the id's integer, as its clocks
        clocks: dict[int, dict[ClockKey, dict[str, Any]]] = defaultdict(dict)
        ids = [case["id"] for case in cases.values()]
        for row in tx.dialect.select_by_keys(tx.cursor, SLA, "complaint_id", ids):
            clocks[row["complaint_id"].int][(row["metric"], row["cycle"])] = row
        for p in events:
            cid = p.event.originator_id.int
            if cid not in cases and type(p.event) is not Complaint.Filed:
                continue  # filed before the view's history began
            cases[cid] = transcribe(cases.get(cid), clocks[cid], p.event)
        rows = []
        for cid, case in cases.items():
            for row in clocks.get(cid, {}).values():
                rows.append(self._derived(case, row))
        tx.upsert(SLA_CASES, list(cases.values()))
        tx.upsert(SLA, rows)
        self._follow_ups(tx, events)

    @staticmethod
    def _follow_ups(tx: Tx, events: Sequence[Positioned]) -> None:
        pending: dict[tuple[Any, str], dict[str, Any]] = {}
        done: list[tuple[Any, str]] = []
        for p in events:
            e = p.event
            if type(e) is Complaint.FollowUpScheduled:
                pending[(e.originator_id, e.follow_up_id)] = {
                    "complaint_id": e.originator_id, "follow_up_id": e.follow_up_id,
                    "due_at": e.due_at,
                }
            elif type(e) is Complaint.FollowUpDone:
                if pending.pop((e.originator_id, e.follow_up_id), None) is None:
                    done.append((e.originator_id, e.follow_up_id))
        tx.upsert(SLA_FOLLOW_UPS, list(pending.values()))
        tx.executemany(
            f"DELETE FROM {tx.table(SLA_FOLLOW_UPS.name)} "
            "WHERE complaint_id = %s AND follow_up_id = %s",
            [(tx.encode(SLA_FOLLOW_UPS, "complaint_id", cid), fid) for cid, fid in done],
        )

    def _derived(self, case: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
        """The row with what follows from its fields and its complaint's: owner, openness,
        escalation, pause (the current resolution cycle only), state and business seconds."""
        current_resolution = row["metric"] == RESOLUTION and row["cycle"] == case[
            "resolution_cycle"
        ]
        paused_at = case["paused_at"] if current_resolution and row["met_at"] is None else None
        row.update(
            team=case["team"], assignee=case["assignee"], is_open=case["is_open"],
            escalation_level=case["escalation_level"], paused_at=paused_at,
        )
        row["state"] = state_of(row)
        row["business_seconds"] = self._business_seconds(row)
        return row

    def _business_seconds(self, row: dict[str, Any]) -> int | None:
        stop = row["met_at"] or (row["due_at"] if row["breached_at"] else row["paused_at"])
        if stop is None:
            return None
        calendar = self._calendar(row["calendar"], row["calendar_version"])
        if calendar is None:
            return None
        used = working_seconds_between(calendar, row["started_at"], stop) - row["paused_seconds"]
        return max(0, used)

    def _calendar(self, name: str, version: int) -> Calendar | None:
        key = (name, version)
        if key not in self._calendars:
            try:
                self._calendars[key] = self._lookup(name, version)
            except LookupError:  # not known to this process: the figure stays empty
                self._calendars[key] = None
        return self._calendars[key]


def state_of(row: dict[str, Any]) -> str:
    """The clock's state as recorded (see the module's docstring)."""
    if row["breached_at"] is not None:
        return BREACHED
    if row["met_at"] is not None:
        return MET if row["met_at"] <= row["due_at"] else BREACHED
    if row["paused_at"] is not None:
        return BREACHED if row["paused_at"] >= row["due_at"] else PAUSED
    return AT_RISK if row["warned_at"] is not None else RUNNING


def _clock(case: dict[str, Any], metric: str, cycle: int, target: str, started_at: datetime,
           due_at: datetime, at_risk_at: datetime) -> dict[str, Any]:
    return {
        "complaint_id": case["id"], "metric": metric, "cycle": cycle,
        "policy_version": case["policy_version"], "rule": case["rule"],
        "calendar": case["calendar"], "calendar_version": case["calendar_version"],
        "target": target, "started_at": started_at, "due_at": due_at, "at_risk_at": at_risk_at,
        "state": RUNNING, "warned_at": None, "met_at": None, "breached_at": None,
        "paused_at": None, "paused_seconds": 0, "business_seconds": None, "team": None,
        "assignee": None, "escalation_level": 0, "is_open": True,
    }


def _meet(clocks: dict[ClockKey, dict[str, Any]], key: ClockKey, at: datetime) -> None:
    row = clocks.get(key)
    if row is not None and row["met_at"] is None:
        row["met_at"] = at


def transcribe(
    case: dict[str, Any] | None, clocks: dict[ClockKey, dict[str, Any]], e: Any
) -> dict[str, Any]:
    """The case after the event (a new one for a filing), its clocks changed in place."""
    kind = type(e)
    if kind is Complaint.Filed:
        return {
            "id": e.originator_id, "severity": e.severity, "assignee": None, "team": None,
            "is_open": True, "escalation_level": 0, "received_at": e.received_at,
            "first_response_at": None, "resolution_cycle": 1,
            "resolution_started_at": e.received_at, "paused_at": None, "policy_version": None,
            "rule": None, "calendar": None, "calendar_version": None, "resolution_target": None,
        }
    assert case is not None
    resolution = (RESOLUTION, case["resolution_cycle"])
    if kind is Complaint.Assigned:
        case["assignee"], case["team"] = e.assignee, e.team
    elif kind is Complaint.Commented:
        if e.visibility == CUSTOMER and case["first_response_at"] is None:
            case["first_response_at"] = e.timestamp
            _meet(clocks, (FIRST_RESPONSE, 1), e.timestamp)
    elif kind is Complaint.Escalated:
        case["escalation_level"] = e.level
    elif kind is Complaint.SeverityChanged:  # a rule or a person (issue 12)
        case["severity"] = e.severity
    elif kind is Complaint.Closed:
        case["is_open"], case["paused_at"] = False, None
        _meet(clocks, resolution, e.closed_time)
        _meet(clocks, (FIRST_RESPONSE, 1), e.closed_time)
    elif kind is Complaint.Reopened:
        case["is_open"] = True
        case["resolution_cycle"] += 1
        case["resolution_started_at"] = e.timestamp
    elif kind is Complaint.SlaApplied:
        case.update(
            policy_version=e.policy_version, rule=e.rule, calendar=e.calendar,
            calendar_version=e.calendar_version, resolution_target=e.resolution_target,
        )
        first = _clock(case, FIRST_RESPONSE, 1, e.first_response_target, case["received_at"],
                       e.first_response_due_at, e.first_response_at_risk_at)
        first["met_at"] = case["first_response_at"]
        last = _clock(case, RESOLUTION, e.resolution_cycle, e.resolution_target,
                      case["resolution_started_at"], e.resolution_due_at, e.resolution_at_risk_at)
        for new in (first, last):
            key = (new["metric"], new["cycle"])
            before = clocks.get(key)
            if before is not None:  # a re-apply keeps what was recorded for the cycle
                new["met_at"] = new["met_at"] or before["met_at"]
                for kept in ("warned_at", "breached_at", "paused_seconds"):
                    new[kept] = before[kept]
            clocks[key] = new
    elif kind is Complaint.CustomerAwaited:
        case["paused_at"] = e.paused_at
    elif kind is Complaint.CustomerReplied:
        case["paused_at"] = None
        row = clocks.get(resolution)
        if row is not None and e.resolution_due_at is not None:
            row["due_at"], row["at_risk_at"] = e.resolution_due_at, e.resolution_at_risk_at
            row["paused_seconds"] += e.paused_seconds or 0
    elif kind is Complaint.SlaCycleStarted:
        case["resolution_started_at"] = e.started_at
        clocks[(e.metric, e.cycle)] = _clock(
            case, e.metric, e.cycle, case["resolution_target"] or "", e.started_at, e.due_at,
            e.at_risk_at,
        )
    elif kind is Complaint.SlaWarned:
        if (row := clocks.get((e.metric, e.cycle))) is not None:
            row["warned_at"] = e.warned_at
    elif kind is Complaint.SlaBreached:
        if (row := clocks.get((e.metric, e.cycle))) is not None:
            row["breached_at"] = e.breached_at
    return case
