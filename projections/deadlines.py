"""The deadline watcher: records ``SlaWarned`` when an SLA clock becomes at risk, ``SlaBreached``
when it passes its due instant (``breached_at`` = the due instant, not when it was noticed) and
the escalations they cause, through the application (``ComplaintsApp.settle_sla``).

It finds what falls due in the ``sla`` view (``projections/sla.py``) through its indexes, never
by reading the open complaints: the next due and at-risk instants are index probes
(``state, due_at`` and ``state, at_risk_at``), and it sleeps until the earliest of them (at most
``max_sleep_seconds``, and woken at once when the view advances in this process). What it finds
it decides on the complaint itself, reloaded: the view may lag, so it only tells the watcher
where to look.

Exactly once: the aggregate refuses a second warning or breach of one metric and cycle, and a
breach and its escalation are one save; two watchers that race lose a save to the store's
conflict and decide again on what the winner left. Only one watcher works per store anyway (the
``sla-watcher`` lock of ``Database.coordinator``, as projection workers do); others stand by
and take over when it stops, however it stopped. A watcher that starts after downtime finds the
deadlines that passed meanwhile (they are still due in the view) and records them with their true
instants.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from aggregates.sla_policy import Escalation
from commands.application import ComplaintsApp
from commands.sla_watch import Settled
from projections.failures import error_class
from projections.position_signal import signal_for
from projections.runner import back_off
from projections.sla import (
    AT_RISK,
    BREACHED,
    RESOLUTION,
    RUNNING,
    SLA,
    SLA_CASES,
    SLA_FOLLOW_UPS,
)
from projections.store import ReadModelStore, Tx

log = logging.getLogger(__name__)

LOCK = "sla-watcher"
MAX_SLEEP_SECONDS = 1.0
STANDBY_SECONDS = 1.0
PASS_INTERVAL_SECONDS = 1.0
"""Least time from the start of one pass to the start of the next. The view advancing in this
process wakes the watcher (a new deadline may fall due before the one it sleeps for), and under
load it advances with every batch: a pass per batch (several queries each) cost about a quarter
of the projections' process CPU (``serve --workers 3``, docs/performance.md, session 24). A
deadline is recorded at its own instant however late it is noticed, so noticing it up to a
second later changes no record."""
RESCAN_SECONDS = 60.0
PAGE_SIZE = 500

Key = tuple[Any, ...]
"""What the view says is due: kind, complaint, and what identifies the deadline."""


@dataclass(frozen=True)
class Candidate:
    key: Key
    complaint_id: UUID


@dataclass
class PassReport:
    """One pass: what it recorded, and when the next one should run."""

    now: datetime
    settled: dict[UUID, Settled] = field(default_factory=dict)
    followed_up: dict[UUID, int] = field(default_factory=dict)
    """Complaint -> follow-ups taken up (automation rules)."""
    wake_at: datetime | None = None

    @property
    def breaches(self) -> int:
        return sum(len(s.breached) for s in self.settled.values())


class DeadlineWatcher:
    """Watches one store's SLA deadlines (see the module's docstring). ``clock`` is the current
    instant (default: the application's, which tests inject)."""

    def __init__(
        self,
        app: ComplaintsApp,
        store: ReadModelStore,
        *,
        clock: Callable[[], datetime] | None = None,
        max_sleep_seconds: float = MAX_SLEEP_SECONDS,
        poll_seconds: float = 0.1,
        page_size: int = PAGE_SIZE,
        rescan_seconds: float = RESCAN_SECONDS,
        escalation: Escalation | None = None,
        retry_max_seconds: float = 30.0,
        pass_interval_seconds: float = PASS_INTERVAL_SECONDS,
    ) -> None:
        """``escalation``: the levels that bound which complaints are looked at for the
        escalations not caused by a breach (critical at filing, still open after a resolution
        breach); each complaint is then decided on its own policy version's levels."""
        self.app = app
        self.store = store
        self.clock = clock or (lambda: app.clock())
        self.max_sleep_seconds = max_sleep_seconds
        self.poll_seconds = poll_seconds
        self.page_size = page_size
        self.rescan_seconds = rescan_seconds
        self.escalation = escalation or Escalation()
        self.retry_max_seconds = retry_max_seconds
        self.pass_interval_seconds = pass_interval_seconds
        self.standing_by = False
        self.passes = 0
        self._handled: dict[Key, datetime | None] = {}
        """Candidates settled while the view still lists them: skipped until ``retry_at``
        (None: until the view no longer lists them)."""
        self._escalations_scanned_at: tuple[int, float] | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._signal = signal_for(store.identity)

    # ---- running ---------------------------------------------------------------------------

    def start(self) -> DeadlineWatcher:
        """Runs in a daemon thread until ``stop()``."""
        self._thread = threading.Thread(target=self.run_forever, name=LOCK, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> DeadlineWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Watches until ``stop`` (or ``stop()``) while it holds the lock; stands by otherwise.
        A failure (the database away) is retried after a pause that doubles up to
        ``retry_max_seconds``."""
        stopping = stop or self._stopping
        self._signal.subscribe(self._view_advanced)
        failures = 0
        try:
            while not self._stopped(stopping):
                try:
                    with self.store.database.coordinator(self.poll_seconds) as coordinator:
                        while not self._stopped(stopping):
                            if not coordinator.acquire(LOCK):
                                self.standing_by = True
                                self._wake.wait(STANDBY_SECONDS)
                                self._wake.clear()
                                continue
                            self.standing_by = False
                            began = time.monotonic()
                            report = self.run_once()
                            failures = 0
                            self._sleep_until(report.wake_at, began + self.pass_interval_seconds)
                except Exception as error:
                    failures += 1
                    pause = back_off(failures, 1.0, self.retry_max_seconds)
                    log.error("deadline watcher failed (%s: %s); retrying in %.1fs",
                              error_class(error), error, pause, exc_info=failures == 1)
                    self._wake.wait(pause)
                    self._wake.clear()
        finally:
            self._signal.unsubscribe(self._view_advanced)

    def _stopped(self, stop: threading.Event) -> bool:
        return stop.is_set() or self._stopping.is_set()

    def _view_advanced(self, positions: Mapping[str, int]) -> None:
        if SLA.name in positions:
            self._wake.set()

    def _sleep_until(self, wake_at: datetime | None, not_before: float) -> None:
        """Sleeps until ``wake_at`` (at most ``max_sleep_seconds``) or a wake-up, but in any case
        until ``not_before`` (monotonic; see ``PASS_INTERVAL_SECONDS``). A wake-up meanwhile is
        remembered: the next pass then starts at ``not_before``."""
        timeout = self.max_sleep_seconds
        if wake_at is not None:
            timeout = min(timeout, max(0.0, (wake_at - self.clock()).total_seconds()))
        until = time.monotonic() + timeout
        woken = False
        while not self._stopping.is_set() and (rest := not_before - time.monotonic()) > 0:
            woken = self._wake.wait(rest) or woken
            self._wake.clear()
        if woken or self._stopping.is_set():
            return
        if (rest := until - time.monotonic()) > 0:
            self._wake.wait(rest)
        self._wake.clear()

    # ---- one pass --------------------------------------------------------------------------

    def run_once(self) -> PassReport:
        """Records everything due at the clock's current instant; returns what it recorded and
        the next instant something falls due."""
        now = self.clock()
        report = PassReport(now)
        self.passes += 1
        later: list[datetime] = []
        for kind, candidates in self._kinds(now):
            seen: set[Key] = set()
            for candidate in candidates:
                seen.add(candidate.key)
                if candidate.key in self._handled:
                    retry_at = self._handled[candidate.key]
                    if retry_at is None or retry_at > now:
                        continue
                settled = report.settled.get(candidate.complaint_id)
                if settled is None:
                    settled = self._settle(candidate.complaint_id, now)
                    if settled is None:
                        continue  # failed: tried again next pass
                    report.settled[candidate.complaint_id] = settled
                self._handled[candidate.key] = settled.next_at
            for key in [k for k in self._handled if k[0] == kind and k not in seen]:
                del self._handled[key]
        self._take_up_follow_ups(now, report)
        later += [at for at in self._handled.values() if at is not None and at > now]
        later += self._next_instants(now)
        report.wake_at = min(later, default=None)
        return report

    def _take_up_follow_ups(self, now: datetime, report: PassReport) -> None:
        """Automation rules' follow-ups due now (issue 12), each taken up once on the complaint
        as stored (``app.automation.perform_follow_ups``); skipped while the view still lists
        one already taken up."""
        seen: set[Key] = set()
        for key, cid in self._due_follow_ups(now):
            seen.add(key)
            if key in self._handled:
                continue
            if cid not in report.followed_up:
                try:
                    report.followed_up[cid] = self.app.automation.perform_follow_ups(cid, now)
                except Exception as error:  # this complaint only; tried again next pass
                    log.error("deadline watcher: follow-ups of complaint %s: %s: %s", cid,
                              error_class(error), error)
                    continue
            self._handled[key] = None
        for key in [k for k in self._handled if k[0] == "follow_up" and k not in seen]:
            del self._handled[key]

    def _due_follow_ups(self, now: datetime) -> Iterator[tuple[Key, UUID]]:
        after: tuple[Any, Any, str] | None = None
        while True:
            with self.store.read() as tx:
                table = tx.table(SLA_FOLLOW_UPS.name)
                sql = f"SELECT complaint_id, follow_up_id, due_at FROM {table} WHERE due_at <= %s"
                params: list[Any] = [tx.encode(SLA_FOLLOW_UPS, "due_at", now)]
                if after is not None:
                    sql += " AND (due_at, complaint_id, follow_up_id) > (%s, %s, %s)"
                    params += list(after)
                sql += f" ORDER BY due_at, complaint_id, follow_up_id LIMIT {self.page_size}"
                rows = tx.rows(sql, params)
                decode = tx.decode
            for row in rows:
                cid = decode(SLA_FOLLOW_UPS, "complaint_id", row["complaint_id"])
                yield ("follow_up", cid, row["follow_up_id"]), cid
            if len(rows) < self.page_size:
                return
            last = rows[-1]
            after = (last["due_at"], last["complaint_id"], last["follow_up_id"])

    def _settle(self, complaint_id: UUID, now: datetime) -> Settled | None:
        try:
            settled = self.app.settle_sla(complaint_id, now)
        except Exception as error:  # this complaint only: the others still get their turn
            log.error("deadline watcher: complaint %s: %s: %s", complaint_id,
                      error_class(error), error)
            return None
        if settled.recorded:
            log.info("deadline watcher: complaint %s: warned %s, breached %s, escalated to %s",
                     complaint_id, settled.warned, settled.breached, settled.escalated_to)
        return settled

    def _kinds(self, now: datetime) -> Iterator[tuple[str, Iterator[Candidate]]]:
        yield "due", self._due(now)
        yield "risk", self._at_risk(now)
        yield "critical", self._critical()
        position = self.store.position(SLA.name)
        scanned = self._escalations_scanned_at
        retry_due = any(
            k[0] == "open" and at is not None and at <= now for k, at in self._handled.items()
        )
        clock = now.timestamp()
        if scanned is None or scanned[0] != position or retry_due or (
            clock - scanned[1] >= self.rescan_seconds
        ):
            self._escalations_scanned_at = (position, clock)
            yield "open", self._still_open(now)

    # ---- what the view says ----------------------------------------------------------------

    def _due(self, now: datetime) -> Iterator[Candidate]:
        """Clocks past their due instant with no breach recorded: running or at risk (index
        ``state, due_at``), or stopped after it (met late, paused after the due)."""
        for state in (RUNNING, AT_RISK):
            yield from self._pages(
                "SELECT complaint_id, metric, cycle, due_at AS at FROM {sla} "
                "WHERE state = %s AND due_at <= %s", "due_at", [state, ("due_at", now)], "due",
            )
        yield from self._pages(
            "SELECT complaint_id, metric, cycle, due_at AS at FROM {sla} "
            "WHERE state = 'breached' AND breached_at IS NULL", "due_at", [], "due",
        )

    def _at_risk(self, now: datetime) -> Iterator[Candidate]:
        """Running clocks past their at-risk instant (index ``state, at_risk_at``)."""
        yield from self._pages(
            "SELECT complaint_id, metric, cycle, at_risk_at AS at FROM {sla} "
            "WHERE state = %s AND at_risk_at <= %s AND due_at > %s", "at_risk_at",
            [RUNNING, ("at_risk_at", now), ("due_at", now)], "risk",
        )

    def _critical(self) -> Iterator[Candidate]:
        """Open critical complaints with SLA clocks below the level they escalate to at once."""
        with self.store.read() as tx:
            rows = tx.rows(
                f"SELECT id, escalation_level FROM {tx.table(SLA_CASES.name)} "
                "WHERE severity = 'critical' AND is_open = TRUE AND policy_version IS NOT NULL "
                "AND escalation_level < %s",
                [self.escalation.critical_at_filing],
            )
            decode = tx.decode
        for row in rows:
            cid = decode(SLA_CASES, "id", row["id"])
            yield Candidate(("critical", cid, row["escalation_level"]), cid)

    def _still_open(self, now: datetime) -> Iterator[Candidate]:
        """Open complaints whose resolution is breached, below the level of "still open after
        the breach": each is settled once, which tells when that falls due."""
        yield from self._pages(
            "SELECT complaint_id, metric, cycle, due_at AS at, escalation_level FROM {sla} "
            f"WHERE metric = '{RESOLUTION}' AND state = '{BREACHED}' AND is_open = TRUE "
            "AND escalation_level < %s", "due_at",
            [self.escalation.still_open_after_resolution_breach], "open",
        )

    def _pages(
        self, select: str, order: str, params: list[Any], kind: str
    ) -> Iterator[Candidate]:
        """The rows of ``select`` in pages ordered by ``order`` then key (keyset pagination, so
        a page costs the same wherever it starts); ``params`` entries ``(column, value)`` are
        encoded as that column's values."""
        after: tuple[Any, Any, str, int] | None = None
        while True:
            # Each page read in a transaction of its own, closed before the watcher writes.
            with self.store.read() as tx:
                encoded = [_encode(tx, p) for p in params]
                sql = select.format(sla=tx.table(SLA.name))
                if after is not None:
                    sql += f" AND ({order}, complaint_id, metric, cycle) > (%s, %s, %s, %s)"
                    encoded += list(after)
                sql += f" ORDER BY {order}, complaint_id, metric, cycle LIMIT {self.page_size}"
                rows = tx.rows(sql, encoded)
                decode = tx.decode
            for row in rows:
                cid = decode(SLA, "complaint_id", row["complaint_id"])
                at = decode(SLA, "due_at", row["at"])
                key = (kind, cid, row["metric"], row["cycle"], at, row.get("escalation_level"))
                yield Candidate(key, cid)
            if len(rows) < self.page_size:
                return
            last = rows[-1]
            after = (last["at"], last["complaint_id"], last["metric"], last["cycle"])

    def _next_instants(self, now: datetime) -> list[datetime]:
        """The next at-risk and due instants after ``now`` (index probes)."""
        found = []
        with self.store.read() as tx:
            sla = tx.table(SLA.name)
            for column, state in (("due_at", RUNNING), ("due_at", AT_RISK),
                                  ("at_risk_at", RUNNING)):
                rows = tx.rows(
                    f"SELECT {column} AS at FROM {sla} WHERE state = %s AND {column} > %s "
                    f"ORDER BY {column} LIMIT 1",
                    [state, tx.encode(SLA, column, now)],
                )
                found += [tx.decode(SLA, column, r["at"]) for r in rows]
            rows = tx.rows(
                f"SELECT due_at AS at FROM {tx.table(SLA_FOLLOW_UPS.name)} WHERE due_at > %s "
                "ORDER BY due_at LIMIT 1",
                [tx.encode(SLA_FOLLOW_UPS, "due_at", now)],
            )
            found += [tx.decode(SLA_FOLLOW_UPS, "due_at", r["at"]) for r in rows]
        return found


def _encode(tx: Tx, param: Any) -> Any:
    if isinstance(param, tuple):
        column, value = param
        return tx.encode(SLA, column, value)
    return param
