"""The test oracle for the read models: what the complaint list, the workload and analytics must
show after a history, computed with plain Python from each complaint's events.

It reads nothing but the events (as the library decodes them) and folds a complaint's events into
the aggregate with the library's own ``mutate``, as a repository does; it never calls
``projections/`` or ``queries/``, whose answers it is there to check. Each figure's definition
(docs/projections.md, "Definitions") is written here once: a test that needs an expected figure
asks the oracle, so a changed definition is changed here (and in the view), in no test.

Not covered: values a view clamps or strips to store them (``tests/poison.py``); the tests of
those state the few values they expect.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from aggregates.complaint import Complaint
from aggregates.vocabulary import Severity, Status, Visibility
from commands.application import ComplaintsApp
from projections.complaint_list import tags_text
from queries.history import EVENT_TYPES

MEASURES = (
    "filed", "closed", "reopened", "first_response_count", "first_response_ms",
    "resolution_ms", "first_contact_resolutions", "first_response_sla_counted",
    "first_response_sla_met", "resolution_sla_counted", "resolution_sla_met",
    "survey_responses", "csat_sum", "csat_satisfied", "nps_promoters", "nps_detractors",
    "timely_known", "timely_yes",
)
DIMENSIONS = ("category", "channel", "region", "severity")
ALL = "all"
"""The rollup's pseudo-dimension for a day's total (value ``""``)."""
NO_REGION = NO_TEAM = ""
"""How the views key a complaint without a region, or an agent's cases without a team."""
TOPICS = [get_topic(cls) for cls in EVENT_TYPES]
"""Every complaint event: the oracle folds whole histories, as a repository does."""

Sums = dict[str, int]
DailyKey = tuple[date, str, str, str, str]
"""Day, category, channel, region (``""`` for none), severity."""
RollupKey = tuple[str, date, str]
"""Dimension, day, value."""
K = TypeVar("K")


@dataclass(frozen=True)
class Fact:
    """One thing analytics counts: the complaint's filing (its dimensions), the report day it is
    counted on, and the amounts."""

    filing: Complaint.Filed
    day: date
    amounts: Mapping[str, int]


class Oracle:
    """Expected read-model contents for the given complaint histories (each complaint's events,
    in version order), with analytics days cut in ``report_tz``."""

    def __init__(
        self, histories: Mapping[UUID, Sequence[Aggregate.Event]], report_tz: str = "UTC"
    ) -> None:
        self.histories = histories
        self.zone = ZoneInfo(report_tz)

    @classmethod
    def of(cls, app: ComplaintsApp, report_tz: str = "UTC") -> Oracle:
        """The histories of every complaint in ``app``'s store."""
        histories: dict[UUID, list[Aggregate.Event]] = defaultdict(list)
        start = 1
        while page := app.recorder.select_notifications(start, limit=1000, topics=TOPICS):
            for notification in page:
                event = app.mapper.to_domain_event(notification)
                assert isinstance(event, Aggregate.Event)
                histories[event.originator_id].append(event)
            start = page[-1].id + 1
        return cls(histories, report_tz)

    def complaint(self, complaint_id: UUID) -> Complaint:
        """The complaint as its events leave it (the library's fold, as a repository's)."""
        complaint: Complaint | None = None
        for event in self.histories[complaint_id]:
            complaint = event.mutate(complaint)
        assert complaint is not None
        return complaint

    # ---- the complaint list ------------------------------------------------------------------

    def complaint_list(self) -> dict[UUID, dict[str, Any]]:
        """Per complaint, the columns that follow its life, as its aggregate has them. (The
        customer and product columns show what was filed: tests compare them with the intake.)"""
        rows = {}
        for complaint_id in self.histories:
            c = self.complaint(complaint_id)
            rows[complaint_id] = {
                "reference": c.reference, "status": c.status, "category": c.category,
                "severity": c.severity, "channel": c.channel, "region": c.region,
                "subject": c.subject, "description": c.description, "assignee": c.assignee,
                "team": c.team, "escalation_level": c.escalation_level,
                "received_at": c.received_at, "filed_at": c.filed_at,
                "first_response_at": c.first_response_at, "closed_at": c.closed_at,
                "reopen_count": c.reopen_count, "updated_at": c.modified_on, "version": c.version,
                "tags": tags_text(c.tags),
            }
        return rows

    # ---- workload ---------------------------------------------------------------------------

    def workload_agents(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Per (assignee, team), the open cases; ``""`` for no team. Only rows with one."""
        return workload(
            (((c.assignee, c.team or NO_TEAM), c) for c in self._open() if c.assignee is not None),
            "assignee", "team",
        )

    def workload_teams(self) -> dict[str, dict[str, Any]]:
        """Per team, its open cases, whoever holds them."""
        return workload(((c.team, c) for c in self._open() if c.team), "team")

    def _open(self) -> list[Complaint]:
        complaints = (self.complaint(complaint_id) for complaint_id in self.histories)
        return [c for c in complaints if c.status != Status.CLOSED.value]

    # ---- sla --------------------------------------------------------------------------------

    def sla(self) -> dict[tuple[UUID, str, int], dict[str, Any]]:
        """Per complaint with SLA clocks, its current clock of each metric (metric, cycle) as
        the aggregate has it, with the state its events recorded (docs/sla.md, "The sla view"):
        breached once a breach is recorded or the clock stopped (met, or paused) after its due
        instant; met in time; paused; at risk once warned; else running."""
        rows = {}
        for complaint_id in self.histories:
            c = self.complaint(complaint_id)
            if c.sla is None:
                continue
            for clock in (c.sla.first_response, c.sla.resolution):
                stopped = clock.metric != "resolution" or clock.met_at is not None
                paused = None if stopped else c.paused_since
                if clock.breached_at is not None:
                    state = "breached"
                elif clock.met_at is not None:
                    state = "met" if clock.met_at <= clock.due_at else "breached"
                elif paused is not None:
                    state = "breached" if paused >= clock.due_at else "paused"
                else:
                    state = "at_risk" if clock.warned_at is not None else "running"
                rows[(complaint_id, clock.metric, clock.cycle)] = {
                    "due_at": clock.due_at, "at_risk_at": clock.at_risk_at, "state": state,
                    "met_at": clock.met_at, "warned_at": clock.warned_at,
                    "breached_at": clock.breached_at, "paused_at": paused,
                    "policy_version": c.sla.policy_version, "team": c.team,
                    "assignee": c.assignee, "escalation_level": c.escalation_level,
                    "is_open": not c.is_closed,
                }
        return rows

    # ---- analytics ---------------------------------------------------------------------------

    def facts(self) -> Iterator[Fact]:
        """Everything analytics counts, complaint by complaint (docs/projections.md):

        - a filing, on the day of its ``received_at``;
        - the first response (the first customer-visible comment), on its day, timed from
          ``received_at``;
        - every close, on its day, timed from ``received_at``; it is a first-contact resolution
          when no reopen came before it and at most one customer-visible reply, and a later
          reopen withdraws that: so only a complaint never reopened keeps one;
        - every reopen, on its day;
        - every SLA clock that ended (``sla_endings``), on the day of its due instant;
        - every survey answer, on its day: CSAT (satisfied: 4-5) and NPS (9-10, 0-6).
        """
        for events in self.histories.values():
            filing, *later = events
            assert isinstance(filing, Complaint.Filed)
            never_reopened = not any(isinstance(e, Complaint.Reopened) for e in later)

            def fact(moment: datetime, filing: Complaint.Filed = filing, **amounts: int) -> Fact:
                return Fact(filing, moment.astimezone(self.zone).date(), amounts)

            yield fact(filing.received_at, filed=1)
            replies = 0
            for e in later:
                since_received = (e.timestamp - filing.received_at) // timedelta(milliseconds=1)
                if isinstance(e, Complaint.Commented) and e.visibility == Visibility.CUSTOMER:
                    replies += 1
                    if replies == 1:
                        yield fact(e.timestamp, first_response_count=1,
                                   first_response_ms=since_received)
                elif isinstance(e, Complaint.Closed):
                    first_contact = never_reopened and replies <= 1
                    closed_ms = (e.closed_time - filing.received_at) // timedelta(milliseconds=1)
                    yield fact(e.closed_time, closed=1, resolution_ms=closed_ms,
                               first_contact_resolutions=int(first_contact))
                elif isinstance(e, Complaint.Reopened):
                    yield fact(e.timestamp, reopened=1)
                elif isinstance(e, Complaint.Imported) and e.timely_response is not None:
                    yield fact(filing.received_at, timely_known=1,
                               timely_yes=int(e.timely_response))
                elif isinstance(e, Complaint.SatisfactionRecorded):
                    yield fact(e.timestamp, survey_responses=1, csat_sum=e.csat,
                               csat_satisfied=int(e.csat >= 4), nps_promoters=int(e.nps >= 9),
                               nps_detractors=int(e.nps <= 6))
            for metric, due, met in sla_endings(events):
                yield fact(due, **{f"{metric}_sla_counted": 1, f"{metric}_sla_met": int(met)})

    def analytics_daily(self) -> dict[DailyKey, dict[str, Any]]:
        """The daily table: the facts summed per day and dimension values."""
        daily: dict[DailyKey, dict[str, Any]] = {}
        for f in self.facts():
            values = (f.filing.category, f.filing.channel, f.filing.region or NO_REGION,
                      f.filing.severity)
            row = daily.setdefault(
                (f.day, *values),
                {"day": f.day, **dict(zip(DIMENSIONS, values, strict=True)), **zeros()},
            )
            add(row, f.amounts)
        return daily

    def summary(self, first: date, last: date, group_by: str, top: int = 5) -> dict[str, Any]:
        """What the analytics summary of ``first``..``last`` (report days, inclusive) answers:
        its ``groups`` (sorted by key, none last), ``totals`` and ``top_categories``, in the
        shape of the API's answer. Means and rates compare approximately (they divide)."""
        groups: dict[str | None, Sums] = {}
        totals = zeros()
        filed: dict[str, int] = {}
        for f in self.facts():
            if first <= f.day <= last:
                add(groups.setdefault(group_key(f, group_by), zeros()), f.amounts)
                add(totals, f.amounts)
                filed[f.filing.category] = filed.get(f.filing.category, 0) + f.amounts.get(
                    "filed", 0
                )
        ordered = sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))
        most_filed = sorted(filed.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        return {
            "groups": [pytest.approx({"key": key, **figures(sums)}) for key, sums in ordered],
            "totals": pytest.approx(figures(totals)),
            "top_categories": [{"category": c, "filed": n} for c, n in most_filed],
        }


def sla_endings(events: Sequence[Aggregate.Event]) -> Iterator[tuple[str, datetime, bool]]:
    """Each SLA clock of a complaint that ended, once: (metric, its due instant then, met by it).

    A clock is the first response or one resolution cycle; its due comes from ``SlaApplied`` (a
    re-apply moves a clock not yet ended), ``SlaCycleStarted`` or a customer's reply (a pause);
    it ends at the first of: met (the first customer-visible comment or a close for the first
    response, a close for the resolution; met if at or before the due), a breach recorded."""
    dues: dict[tuple[str, int], datetime] = {}
    ended: set[tuple[str, int]] = set()
    answered: datetime | None = None
    cycle = 1
    first = ("first_response", 1)

    def finish(key: tuple[str, int], met: bool) -> Iterator[tuple[str, datetime, bool]]:
        if key in dues and key not in ended:
            ended.add(key)
            yield key[0], dues[key], met

    for e in events:
        current = ("resolution", cycle)
        if isinstance(e, Complaint.SlaApplied):
            if first not in ended:
                dues[first] = e.first_response_due_at
                if answered is not None:
                    yield from finish(first, answered <= dues[first])
            cycle = e.resolution_cycle
            if ("resolution", cycle) not in ended:
                dues["resolution", cycle] = e.resolution_due_at
        elif isinstance(e, Complaint.SlaCycleStarted):
            cycle = e.cycle
            dues["resolution", cycle] = e.due_at
        elif isinstance(e, Complaint.CustomerReplied):
            if e.resolution_due_at is not None and current not in ended:
                dues[current] = e.resolution_due_at
        elif isinstance(e, Complaint.Commented) and e.visibility == Visibility.CUSTOMER:
            if answered is None:
                answered = e.timestamp
                yield from finish(first, first in dues and e.timestamp <= dues[first])
        elif isinstance(e, Complaint.Closed):
            for key in (first, current):
                yield from finish(key, key in dues and e.closed_time <= dues[key])
        elif isinstance(e, Complaint.Reopened):
            cycle += 1
        elif isinstance(e, Complaint.SlaBreached):
            key = (e.metric, e.cycle)
            if key == first or key == current:
                yield from finish(key, False)


def group_key(f: Fact, group_by: str) -> str | None:
    """A dimension's value (none for a complaint without a region), or the fact's period."""
    if group_by in DIMENSIONS:
        value: str | None = getattr(f.filing, group_by)
        return value or None
    if group_by == "product":
        return f.filing.product.get("name") or None
    if group_by == "week":
        year, week, _ = f.day.isocalendar()
        return f"{year}-W{week:02d}"
    if group_by == "month":
        return f"{f.day.year}-{f.day.month:02d}"
    assert group_by == "day", group_by
    return f.day.isoformat()


def figures(sums: Mapping[str, int]) -> dict[str, Any]:
    """The summary's figures from summed measures: means of what was timed, rates over
    closures; none where nothing was counted to divide by."""

    def ratio(numerator: str, denominator: str, scale: float = 1.0) -> float | None:
        return sums[numerator] / sums[denominator] / scale if sums[denominator] else None

    return {
        "filed": sums["filed"],
        "closed": sums["closed"],
        "reopened": sums["reopened"],
        "mean_first_response_seconds": ratio("first_response_ms", "first_response_count", 1000),
        "mean_resolution_seconds": ratio("resolution_ms", "closed", 1000),
        "first_contact_resolution_rate": ratio("first_contact_resolutions", "closed"),
        "reopen_rate": ratio("reopened", "closed"),
        "first_response_met_rate": ratio("first_response_sla_met", "first_response_sla_counted"),
        "resolution_met_rate": ratio("resolution_sla_met", "resolution_sla_counted"),
        "survey_responses": sums["survey_responses"],
        "mean_csat": ratio("csat_sum", "survey_responses"),
        "csat_satisfied_percent": ratio("csat_satisfied", "survey_responses", 0.01),
        "nps": (
            100 * (sums["nps_promoters"] - sums["nps_detractors"]) / sums["survey_responses"]
            if sums["survey_responses"] else None
        ),
        "timely_response_share": ratio("timely_yes", "timely_known"),
    }


def rollup(daily: Iterable[Mapping[str, Any]]) -> dict[RollupKey, dict[str, Any]]:
    """Daily rows summed per (dimension, day, value), plus each day's total under ``all``."""
    rows: dict[RollupKey, dict[str, Any]] = {}
    for d in daily:
        for dimension, value in (*((dim, d[dim]) for dim in DIMENSIONS), (ALL, "")):
            row = rows.setdefault(
                (dimension, d["day"], value),
                {"dimension": dimension, "day": d["day"], "value": value, **zeros()},
            )
            add(row, {m: d[m] for m in MEASURES})
    return rows


def workload(cases: Iterable[tuple[K, Complaint]], *key: str) -> dict[K, dict[str, Any]]:
    """Open cases counted per key (its ``key`` columns): in all, per severity, escalated, and
    the oldest filing."""
    rows: dict[K, dict[str, Any]] = {}
    for k, c in cases:
        row = rows.setdefault(k, {
            **dict(zip(key, k if isinstance(k, tuple) else (k,), strict=True)),
            "open": 0, **{f"open_{s.value}": 0 for s in Severity}, "escalated": 0,
            "at_risk": 0, "breached": 0,
            "oldest_open_filed_at": c.filed_at,
        })
        row["open"] += 1
        row[f"open_{c.severity}"] += 1
        row["escalated"] += c.escalation_level > 0
        row["at_risk"] += sla_at_risk(c)
        row["breached"] += sla_breached(c)
        row["oldest_open_filed_at"] = min(row["oldest_open_filed_at"], c.filed_at)
    return rows


def current_clocks(c: Complaint) -> list[Any]:
    """The complaint's clocks that count now: the first response, and the resolution clock if
    it is the current cycle's (after a reopen, until the new cycle starts, none)."""
    if c.sla is None:
        return []
    clocks = [c.sla.first_response]
    if c.sla.resolution.cycle == c.resolution_cycle:
        clocks.append(c.sla.resolution)
    return clocks


def sla_at_risk(c: Complaint) -> bool:
    """Workload's "at risk" (docs/sla.md, "Reading the SLA"): a current clock warned, not met,
    not breached, not paused (the resolution clock while the complaint waits)."""
    return any(
        clock.warned_at is not None and clock.met_at is None and clock.breached_at is None
        and not (clock.metric == "resolution" and c.paused_since is not None)
        for clock in current_clocks(c)
    )


def sla_breached(c: Complaint) -> bool:
    """Workload's "breached": a breach recorded on a current clock."""
    return any(clock.breached_at is not None for clock in current_clocks(c))


def zeros() -> Sums:
    return dict.fromkeys(MEASURES, 0)


def add(sums: MutableMapping[str, Any], amounts: Mapping[str, int]) -> None:
    for measure, amount in amounts.items():
        sums[measure] += amount


def rows_by(rows: Iterable[Mapping[str, Any]], *key: str) -> dict[Any, dict[str, Any]]:
    """A view's rows by their key (a tuple of ``key`` columns, or the one column's value): what
    the oracle's answers are compared with. By key, not in order: PostgreSQL sorts text by its
    collation."""
    return {
        tuple(r[c] for c in key) if len(key) > 1 else r[key[0]]: dict(r) for r in rows
    }
