"""The SLA reads over the ``sla`` view: the clocks at risk now, and the breaches recorded in a
range, each in keyset pages (docs/sla.md, "Reading the SLA").

**At risk** (``at_risk``): the clocks of open complaints that run toward their due instant past
their at-risk instant, read against ``now``: a clock whose warning the watcher recorded (state
``at_risk``) and a running one whose at-risk instant has passed though the warning is not
recorded yet; due soonest first. A clock whose due instant has passed is breached, not at risk
(see ``breaches``), and a paused or met clock is not listed.

**Breaches** (``breaches``): the breaches the watcher recorded (``breached_at`` set), with
``from <= breached_at < to``, newest first; of open and closed complaints alike.

The cursor is the sort key of the last row served (instant, complaint id, metric, cycle), so a
page never repeats or skips rows because others changed meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from aggregates.plausible_time import is_plausible_instant
from aggregates.vocabulary import SlaMetric, SlaState
from commands.permissions import Reach
from projections.complaint_list import COMPLAINT_LIST
from projections.sla import SLA
from projections.store import ReadModelStore
from queries.errors import InvalidQueryError
from queries.reach import reach_condition

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
METRICS = tuple(m.value for m in SlaMetric)


class SlaClockItem(BaseModel):
    complaint_id: UUID
    reference: str | None = Field(
        description="The complaint's reference (null while the complaint list lags)"
    )
    metric: str
    cycle: int
    state: str
    due_at: datetime
    at_risk_at: datetime
    warned_at: datetime | None
    team: str | None
    assignee: str | None
    escalation_level: int
    policy_version: int
    rule: str
    target: str


class BreachItem(SlaClockItem):
    breached_at: datetime
    is_open: bool


class AtRiskPage(BaseModel):
    items: list[SlaClockItem]
    next_cursor: str | None


class BreachPage(BaseModel):
    items: list[BreachItem]
    next_cursor: str | None


def encode_cursor(kind: str, instant: datetime, complaint_id: UUID, metric: str,
                  cycle: int) -> str:
    raw = json.dumps([kind, instant.isoformat(), str(complaint_id), metric, cycle]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str) -> tuple[datetime, UUID, str, int]:
    """The sort key a cursor carries; anything but what ``encode_cursor`` made for ``kind`` is
    refused as foreign."""
    foreign = InvalidQueryError("cursor", "is not a cursor this endpoint issued")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, binascii.Error):
        raise foreign from None
    if not (
        isinstance(payload, list) and len(payload) == 5 and payload[0] == kind
        and all(isinstance(p, str) for p in payload[1:4])
        and type(payload[4]) is int and 1 <= payload[4] <= 2**31 - 1
        and payload[3] in METRICS
    ):
        raise foreign
    try:
        instant, complaint_id = datetime.fromisoformat(payload[1]), UUID(payload[2])
    except ValueError:
        raise foreign from None
    if instant.tzinfo is None or not is_plausible_instant(instant):
        raise foreign
    return instant, complaint_id, payload[3], payload[4]


def _page(
    store: ReadModelStore, kind: str, where: list[str], params: list[Any], column: str,
    descending: bool, limit: int, cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    dialect = store.dialect
    if cursor:
        instant, complaint_id, metric, cycle = decode_cursor(cursor, kind)
        where.append(
            f"(s.{column}, s.complaint_id, s.metric, s.cycle) {'<' if descending else '>'} "
            "(%s, %s, %s, %s)"
        )
        params += [dialect.encode("timestamp", instant), dialect.encode("uuid", complaint_id),
                   metric, cycle]
    direction = "DESC" if descending else "ASC"
    statement = (
        f"SELECT s.*, c.reference AS reference FROM {dialect.table(SLA.name)} s "
        f"LEFT JOIN {dialect.table(COMPLAINT_LIST.name)} c ON c.id = s.complaint_id "
        f"WHERE {' AND '.join(where)} ORDER BY s.{column} {direction}, "
        f"s.complaint_id {direction}, s.metric {direction}, s.cycle {direction} LIMIT %s"
    )
    params.append(limit + 1)
    with store.read() as tx:
        rows = [dialect.decode_row(SLA, r) for r in tx.rows(statement, params)]
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(
            kind, last[column], last["complaint_id"], last["metric"], last["cycle"]
        )
    return rows, next_cursor


@dataclass(frozen=True)
class SlaFilter:
    """Narrows an SLA list to one team, assignee or metric; ``None`` leaves a filter out."""

    team: str | None = None
    assignee: str | None = None
    metric: str | None = None
    reach: Reach | None = None
    """Only the clocks of complaints the caller may open (agents, supervisors)."""


def _filters(only: SlaFilter) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if only.reach is not None:
        condition, params = reach_condition(only.reach, prefix="s.")
        where.append(condition)
    for column, value in asdict(only).items():
        if column != "reach" and value is not None:
            where.append(f"s.{column} = %s")
            params.append(value)
    return where, params


def at_risk(
    store: ReadModelStore, now: datetime, only: SlaFilter, limit: int, cursor: str | None
) -> AtRiskPage:
    """The clocks at risk at ``now``, due soonest first (see the module's docstring)."""
    encoded_now = store.dialect.encode("timestamp", now)
    where, params = _filters(only)
    where += [
        "s.is_open = TRUE", "s.state IN (%s, %s)", "s.at_risk_at <= %s", "s.due_at > %s",
    ]
    params += [SlaState.RUNNING.value, SlaState.AT_RISK.value, encoded_now, encoded_now]
    rows, next_cursor = _page(store, "at-risk", where, params, "due_at", False, limit, cursor)
    return AtRiskPage(
        items=[SlaClockItem(**{**r, "state": SlaState.AT_RISK.value}) for r in rows],
        next_cursor=next_cursor,
    )


def breaches(
    store: ReadModelStore, start: datetime, end: datetime, only: SlaFilter, limit: int,
    cursor: str | None,
) -> BreachPage:
    """The breaches recorded with ``start <= breached_at < end``, newest first."""
    if end <= start:
        raise InvalidQueryError("to", "must be after from")
    if only.metric is not None and only.metric not in METRICS:
        raise InvalidQueryError("metric", f"must be one of {', '.join(METRICS)}")
    dialect = store.dialect
    where, params = _filters(only)
    where += ["s.breached_at IS NOT NULL", "s.breached_at >= %s", "s.breached_at < %s"]
    params += [dialect.encode("timestamp", start), dialect.encode("timestamp", end)]
    rows, next_cursor = _page(store, "breaches", where, params, "breached_at", True, limit,
                              cursor)
    return BreachPage(items=[BreachItem(**r) for r in rows], next_cursor=next_cursor)


@dataclass(frozen=True)
class SlaBacklog:
    """The deadline watcher's work, for the metrics: counts and an age, no business detail."""

    pending: int
    """Clocks running toward their due instant (running or at risk)."""
    overdue: int
    """Of those, the ones whose due instant has passed: the watcher has not recorded their
    breach yet."""
    oldest_overdue_seconds: float
    """How long ago the oldest of them fell due (0 when none): the watcher's lateness."""


def sla_backlog(store: ReadModelStore, now: datetime) -> SlaBacklog:
    """Two index probes of the ``sla`` view (``state, due_at``)."""
    states = [SlaState.RUNNING.value, SlaState.AT_RISK.value]
    with store.read() as tx:
        table = tx.table(SLA.name)
        [pending] = tx.rows(f"SELECT COUNT(*) AS n FROM {table} WHERE state IN (%s, %s)", states)
        [overdue] = tx.rows(
            f"SELECT COUNT(*) AS n, MIN(due_at) AS oldest FROM {table}"
            " WHERE state IN (%s, %s) AND due_at <= %s",
            [*states, tx.encode(SLA, "due_at", now)],
        )
        oldest = overdue["oldest"]
        oldest_due = tx.decode(SLA, "due_at", oldest) if oldest is not None else None
    return SlaBacklog(
        pending=int(pending["n"]),
        overdue=int(overdue["n"]),
        oldest_overdue_seconds=(now - oldest_due).total_seconds() if oldest_due else 0.0,
    )
