"""What the deadline watcher records on one complaint at a given moment: warnings, breaches and
the escalations they cause, decided from the complaint itself (never from a view, which may lag).

``settle`` triggers the events on the aggregate; the application saves them in one transaction
(``ComplaintsApp.settle_sla``), so a breach and the escalation it causes exist together or not at
all, and a watcher killed between deciding and saving leaves nothing to repair.

Escalation (the levels of the policy's ``Escalation``, of the policy version the complaint's
clocks run under):

- a first-response breach: ``on_first_response_breach`` (1);
- a resolution breach: ``on_resolution_breach`` (2);
- still open ``still_open_after`` (one business day, on the complaint's calendar) after the
  resolution breach of the current cycle: ``still_open_after_resolution_breach`` (3);
- filed with severity ``critical``: ``critical_at_filing`` (1) as soon as its clocks start.

A complaint escalates only if its level would rise (to the highest level due), and only while it
is open. Each ``Escalated`` names its cause: the breach, or the ``SlaApplied`` that started the
clocks of a critical complaint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

from aggregates.business_time import Calendar, due_after
from aggregates.complaint import Complaint
from aggregates.event_ids import event_id
from aggregates.provenance import Provenance
from aggregates.sla_clock import SlaClock
from aggregates.sla_policy import Escalation, Policy
from aggregates.vocabulary import Severity, SlaMetric, SlaState

WATCHER = "sla-watcher"
"""The actor of every event the deadline watcher records."""


@dataclass(frozen=True)
class Settled:
    """What one call recorded, and when the complaint next needs the watcher."""

    warned: tuple[str, ...] = ()
    breached: tuple[str, ...] = ()
    escalated_to: int | None = None
    next_at: datetime | None = None
    """The next instant something on this complaint falls due (at risk, due, still open after a
    breach); None when nothing will without another event."""

    @property
    def recorded(self) -> bool:
        return bool(self.warned or self.breached or self.escalated_to)


def escalation_for(terms: Any, policy_version: int) -> Escalation:
    """The escalation levels of ``policy_version`` where the terms keep policy versions (the
    stored configuration's ``policy(version)``, or a built-in ``policy``), else the defaults."""
    policies = getattr(terms, "policy", None)
    if isinstance(policies, Policy):
        return policies.escalation if policies.version == policy_version else Escalation()
    if callable(policies):
        try:
            found = policies(policy_version)
        except LookupError:
            return Escalation()
        if isinstance(found, Policy):
            return found.escalation
    return Escalation()


def settle(
    complaint: Complaint,
    now: datetime,
    *,
    escalation: Escalation,
    calendar: Calendar,
    history: Callable[[], Iterable[Any]],
    correlation_id: str,
) -> Settled:
    """Triggers on ``complaint`` what its SLA clocks call for at ``now``: a warning for a clock
    that became at risk (``warned_at``: the at-risk instant), a breach for one past its due
    instant (``breached_at``: the due instant), then the escalation they cause. ``history``
    gives the complaint's stored events (read only to name an earlier cause)."""
    sla = complaint.sla
    if sla is None:
        return Settled()
    by = Provenance(WATCHER, correlation_id)
    warned: list[str] = []
    breaches: dict[str, UUID] = {}
    for metric in (SlaMetric.FIRST_RESPONSE.value, SlaMetric.RESOLUTION.value):
        clock = _clock(complaint, metric)
        reading = clock.reading(now, _paused(complaint, metric))
        if reading.state == SlaState.BREACHED and clock.breached_at is None:
            complaint.breach_sla(metric, cycle=clock.cycle, due_at=clock.due_at,
                                 breached_at=clock.due_at, by=by)
            breaches[metric] = event_id(complaint.id, complaint.version)
        elif reading.state == SlaState.AT_RISK and clock.warned_at is None:
            complaint.warn_sla(metric, cycle=clock.cycle, due_at=clock.due_at,
                               warned_at=clock.at_risk_at, by=by)
            warned.append(metric)

    escalated_to = None
    level, reason, cause, later = _escalation_due(
        complaint, now, escalation, calendar, breaches, history
    )
    if level > complaint.escalation_level and not complaint.is_closed:
        complaint.escalate(reason, level=level,
                           by=Provenance(WATCHER, correlation_id, str(cause)))
        escalated_to = level
    return Settled(tuple(warned), tuple(breaches), escalated_to, _next_at(complaint, now, later))


def _clock(complaint: Complaint, metric: str) -> SlaClock:
    assert complaint.sla is not None
    return complaint.sla.clock(metric)


def _paused(complaint: Complaint, metric: str) -> datetime | None:
    return complaint.paused_since if metric == SlaMetric.RESOLUTION.value else None


def _escalation_due(
    complaint: Complaint,
    now: datetime,
    rules: Escalation,
    calendar: Calendar,
    breaches: dict[str, UUID],
    history: Callable[[], Iterable[Any]],
) -> tuple[int, str, UUID | None, datetime | None]:
    """The highest level due now, why, and its cause; and when the next one falls due."""
    candidates: list[tuple[int, str, Callable[[], UUID | None]]] = []
    if complaint.escalation_level < rules.critical_at_filing and (
        complaint.severity == Severity.CRITICAL.value
    ):
        candidates.append((rules.critical_at_filing, "filed with severity critical",
                           lambda: _first_sla_applied(complaint, history)))
    for metric, level, reason in (
        (SlaMetric.FIRST_RESPONSE.value, rules.on_first_response_breach, "first response"),
        (SlaMetric.RESOLUTION.value, rules.on_resolution_breach, "resolution"),
    ):
        if metric in breaches:
            candidates.append((level, f"{reason} breached", partial(breaches.get, metric)))
    later = None
    resolution = _clock(complaint, SlaMetric.RESOLUTION.value)
    level3 = rules.still_open_after_resolution_breach
    if resolution.breached_at is not None and complaint.escalation_level < level3:
        still_open_at = due_after(calendar, resolution.breached_at, rules.still_open_after)
        if still_open_at <= now:
            candidates.append((
                level3, f"still open {rules.still_open_after.text} after the resolution breach",
                lambda: breaches.get(SlaMetric.RESOLUTION.value)
                or _breach_event(complaint, resolution.cycle, history),
            ))
        else:
            later = still_open_at
    if not candidates:
        return 0, "", None, later
    level, reason, cause_of = max(candidates, key=lambda c: c[0])
    if level <= complaint.escalation_level:
        return level, reason, None, later
    return level, reason, cause_of(), later


def _next_at(complaint: Complaint, now: datetime, later: datetime | None) -> datetime | None:
    instants = [later] if later is not None and not complaint.is_closed else []
    for metric in (SlaMetric.FIRST_RESPONSE.value, SlaMetric.RESOLUTION.value):
        clock = _clock(complaint, metric)
        if clock.met_at is not None or clock.breached_at is not None:
            continue
        if _paused(complaint, metric) is not None:
            continue  # a pause ends with an event, which moves the due
        if clock.warned_at is None and clock.at_risk_at > now:
            instants.append(clock.at_risk_at)
        elif clock.due_at > now:
            instants.append(clock.due_at)
    return min(instants, default=None)


def _first_sla_applied(complaint: Complaint, history: Callable[[], Iterable[Any]]) -> UUID | None:
    for e in history():
        if isinstance(e, Complaint.SlaApplied):
            return event_id(complaint.id, e.originator_version)
    return None


def _breach_event(
    complaint: Complaint, cycle: int, history: Callable[[], Iterable[Any]]
) -> UUID | None:
    found = None
    for e in history():
        if (isinstance(e, Complaint.SlaBreached) and e.metric == SlaMetric.RESOLUTION.value
                and e.cycle == cycle):
            found = event_id(complaint.id, e.originator_version)
    return found
