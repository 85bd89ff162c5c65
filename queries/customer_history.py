"""The ``CustomerHistory`` port (``commands/customer_history.py``) over the customers view.

The view knows every complaint up to its position; the ``Filed``, ``Closed`` and ``Reopened``
events after that position (customer id and order number are in the clear in them) are applied
on top, in order, the way ``queries/customer_complaints.py`` does for erasure. So a complaint
filed a moment ago, not yet in the view, is still found by the next filing of the same customer.

This runs on every filing, so it avoids the database where it can (a benchmark of filing with
the rules on put these lookups at the head of their cost; docs/performance.md):

- the events this process saves reach the tail at once (``saved``, called after every save);
  those of other processes are read at most every ``TAIL_SECONDS`` (one query, only what was
  stored since the last read). With several API processes, a repeat filed in another process
  within that moment of the earlier complaint is not linked; with one process (SQLite), none
  is missed.
- the customers and orders that have an open or recent complaint in the view are known in
  memory (read once, again every ``KNOWN_SECONDS``, and added to from the tail): a customer not
  among them, the common case, costs no query.
- the view's position is read at most every ``POSITION_SECONDS``: an older position only means
  a longer tail to replay over the rows.
- the tail is indexed (``_Index``): a filing replays its customer's and order's complaints only,
  not the whole tail, which grows to ``max_tail`` while the view is behind (a rebuild, stopped
  projections).

A view left far behind (never run, or rebuilding after an upgrade) would make the first lookup
read the whole log since its position: past ``max_tail`` positions only the newest ``max_tail``
are read, with a warning, and a repeat filed before them is not linked until the view catches
up.
"""

from __future__ import annotations

import bisect
import heapq
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from aggregates.complaint import Complaint
from commands.customer_history import MAX_PRIOR, PriorComplaint
from projections.customers import CUSTOMERS_COMPLAINTS, CustomersProjection
from projections.store import ReadModelStore, Tx, tracking_key

log = logging.getLogger(__name__)

POSITION_SECONDS = 0.5
TAIL_SECONDS = 0.05
KNOWN_SECONDS = 600.0
KNOWN_DAYS = 90
"""The known customers are those with an open complaint, or one filed or closed in this many
days (longer than any window a rule asks for; a customer outside it is looked up anyway when
the set was read before their last complaint aged out: a query too many, never one too few)."""
PRIOR_COLUMNS = "id, reference, customer_id, order_number, filed_at, closed_at"
"""The view's columns a ``PriorComplaint`` holds (the others are the customers page's)."""
MAX_TAIL = 20_000
"""Positions of the log past the view's position read at most, per call."""

FILED, CLOSED, REOPENED = (
    get_topic(Complaint.Filed), get_topic(Complaint.Closed), get_topic(Complaint.Reopened)
)
TOPICS: dict[type[Any], str] = {
    Complaint.Filed: FILED, Complaint.Closed: CLOSED, Complaint.Reopened: REOPENED
}


@dataclass(frozen=True)
class _Tail:
    """An event after the view's position, as far as this port needs it."""

    topic: str
    complaint_id: UUID
    at: datetime
    filed: PriorComplaint | None
    """For a filing, the complaint it made."""


class _Index:
    """The tail, indexed by what ``prior`` asks, so that a filing costs the same whatever the
    tail's length (a view left behind, by a rebuild or stopped projections, let it grow to
    ``max_tail`` and every filing walked it all; docs/performance.md)."""

    def __init__(self) -> None:
        self.events: dict[int, _Tail] = {}
        self.positions: list[int] = []
        """A heap of the positions in ``events``: the oldest are pruned without a scan."""
        self.filings: dict[str, list[tuple[datetime, UUID, int]]] = {}
        """The filings by ``c:<customer>`` and ``o:<order>``, as (filed at, id, position) in
        the answer's order: a customer with thousands of complaints in the tail (one filing
        after another while the view is stopped) is answered from its newest."""
        self.complaints: dict[UUID, dict[int, _Tail]] = {}
        """Each complaint's events by position (a complaint has a few: filed, closed, ...)."""
        self.reopens: set[int] = set()
        """The positions of the reopens: rare, and ``prior`` reads those complaints by id."""
        self.readers: dict[int, int] = {}
        """How many calls of ``prior`` are between reading the index and replaying it, by the
        position they replay from: what is after it stays until they are done."""

    def add(self, at: int, entry: _Tail) -> None:
        if at in self.events:
            self._unindex(at, self.events[at])
        else:
            heapq.heappush(self.positions, at)
        self.events[at] = entry
        self.complaints.setdefault(entry.complaint_id, {})[at] = entry
        if entry.filed is not None:
            filed = (entry.filed.filed_at, entry.complaint_id, at)
            for key in _keys(entry.filed.customer_id, entry.filed.order_number):
                bisect.insort(self.filings.setdefault(key, []), filed)
        elif entry.topic == REOPENED:
            self.reopens.add(at)

    def answer(
        self, start: int, found: dict[UUID, PriorComplaint], customer_id: str,
        order_number: str | None, since: datetime, limit: int,
    ) -> dict[UUID, PriorComplaint]:
        """``found`` (the view's rows) with the events after ``start`` applied: those of the
        complaints found, and this customer's (or order's) filings in the tail with theirs,
        newest first until ``limit`` of them match (older ones could not be among the newest
        ``limit`` answered). A complaint's events change only its own entry, so replaying
        each complaint's alone, in the log's order, ends as replaying the whole tail."""
        result = dict(found)
        complaints = self.complaints

        def replay(i: UUID) -> None:
            if i in complaints:
                events = sorted((at, t) for at, t in complaints[i].items() if at > start)
                _replay(result, (t for _, t in events), customer_id, order_number)

        for i in found:
            replay(i)
        # The view's rows count towards ``limit`` too: with the view running, the customer's
        # newest complaints are among them, and the tail's older filings need no replay.
        viewed = sorted(
            (p.filed_at, p.id) for p in result.values()
            if _matches(p, customer_id, order_number, since)
        )
        seen, taken = set(found), 0
        newest = heapq.merge(
            *(reversed(self.filings.get(k, ())) for k in _keys(customer_id, order_number)),
            reverse=True,
        )
        for filed_at, i, at in newest:
            if taken + len(viewed) - bisect.bisect_right(viewed, (filed_at, i)) >= limit:
                break  # ``limit`` newer ones match already
            if at <= start or i in seen:
                continue
            seen.add(i)
            replay(i)
            if (p := result.get(i)) is not None and _matches(p, customer_id, order_number, since):
                taken += 1
        return result

    def prune(self, position: int) -> None:
        """Drops the events at or before ``position`` (those the view has applied)."""
        if self.readers:
            position = min(position, min(self.readers))
        positions = self.positions
        while positions and positions[0] <= position:
            at = heapq.heappop(positions)
            self._unindex(at, self.events.pop(at))

    def _unindex(self, at: int, entry: _Tail) -> None:
        events = self.complaints[entry.complaint_id]
        del events[at]
        if not events:
            del self.complaints[entry.complaint_id]
        if entry.filed is not None:
            filed = (entry.filed.filed_at, entry.complaint_id, at)
            for key in _keys(entry.filed.customer_id, entry.filed.order_number):
                filings = self.filings[key]
                del filings[bisect.bisect_left(filings, filed)]
                if not filings:
                    del self.filings[key]
        self.reopens.discard(at)


def _keys(customer_id: str, order_number: str | None) -> list[str]:
    if order_number is None:
        return [f"c:{customer_id}"]
    return [f"c:{customer_id}", f"o:{order_number}"]


def _matches(
    p: PriorComplaint, customer_id: str, order_number: str | None, since: datetime
) -> bool:
    """Whether ``p`` is one of the customer's (or order's) open or recent complaints."""
    return bool(
        (p.customer_id == customer_id or (order_number and p.order_number == order_number))
        and (p.closed_at is None or p.closed_at >= since or p.filed_at >= since)
    )


def _replay(
    found: dict[UUID, PriorComplaint], tail: Iterable[_Tail], customer_id: str,
    order_number: str | None,
) -> None:
    """Applies the tail, oldest first, to the complaints ``found`` in the view: this customer's
    (or order's) filings join them, closes and reopens change them."""
    for t in tail:
        if t.filed is not None:
            if t.filed.customer_id == customer_id or (
                order_number is not None and t.filed.order_number == order_number
            ):
                found[t.complaint_id] = t.filed
        elif (known := found.get(t.complaint_id)) is not None:
            found[t.complaint_id] = replace(known, closed_at=t.at if t.topic == CLOSED else None)


class ViewCustomerHistory:
    """A customer's (or an order's) open and recent complaints: the customers view plus the
    events it has not applied yet."""

    def __init__(self, store: ReadModelStore, max_tail: int = MAX_TAIL) -> None:
        self.store = store
        self.max_tail = max_tail
        self._lock = threading.Lock()
        # The tail: the events of positions (_covered_from, ...], indexed; the log is read up
        # to _covered_to (this process's own saves may already be beyond it).
        self._index = _Index()
        self._covered_from = self._covered_to = -1  # nothing read yet: the first call starts afresh
        self._tail_read_at = -TAIL_SECONDS
        self._position: tuple[float, int] = (-POSITION_SECONDS, 0)
        self._known: set[str] = set()
        self._known_read_at = -KNOWN_SECONDS

    def prior(
        self, customer_id: str, order_number: str | None, since: datetime
    ) -> Sequence[PriorComplaint]:
        # The rows are at or after the view's position as last read (replaying the tail from
        # an older position over newer rows ends in the same state).
        position = self._view_position()
        index, start, reopened = self._tail(position)
        try:
            found = self._found(customer_id, order_number, since, reopened)
            with self._lock:
                found = index.answer(start, found, customer_id, order_number, since, MAX_PRIOR)
        finally:
            with self._lock:
                self._release(index, start)
        matching = [p for p in found.values() if _matches(p, customer_id, order_number, since)]
        # ``p.id``, not ``str(p.id)``: the same order (UUIDs compare as their fixed-width hex),
        # without formatting every id on every filing.
        return sorted(matching, key=lambda p: (p.filed_at, p.id))[-MAX_PRIOR:]

    def _found(
        self, customer_id: str, order_number: str | None, since: datetime, reopened: set[UUID]
    ) -> dict[UUID, PriorComplaint]:
        """The view's rows: the customer's (or order's) open and recent complaints, and those
        reopened in the tail."""
        store, table = self.store, CUSTOMERS_COMPLAINTS
        found: dict[UUID, PriorComplaint] = {}
        if self._knows(customer_id, order_number):
            with store.read(one_statement=True) as tx:
                at = tx.encode(table, "filed_at", since)
                recent = "(is_open = TRUE OR closed_at >= %s OR filed_at >= %s)"
                name = tx.table(table.name)
                # Two indexed lookups, not one OR (which would scan the table); each the newest
                # MAX_PRIOR by its (customer_id|order_number, filed_at) index.
                newest = f"ORDER BY filed_at DESC LIMIT {MAX_PRIOR}"
                statement = (
                    f"SELECT * FROM (SELECT {PRIOR_COLUMNS} FROM {name} WHERE customer_id = %s "
                    f"AND {recent} {newest}) AS by_customer"
                )
                params: list[Any] = [customer_id, at, at]
                if order_number is not None:
                    statement += (
                        f" UNION SELECT * FROM (SELECT {PRIOR_COLUMNS} FROM {name} WHERE "
                        f"order_number = %s AND {recent} {newest}) AS by_order"
                    )
                    params += [order_number, at, at]
                found = {p.id: p for p in self._decode(tx, statement, params)}
        # A reopen in the tail may bring back a complaint the view holds as closed long ago:
        # read by id, whoever it belongs to (filtered below).
        reopened = reopened - set(found)
        if reopened:
            with store.read(one_statement=True) as tx:
                marks = ", ".join(["%s"] * len(reopened))
                found |= {p.id: p for p in self._decode(
                    tx,
                    f"SELECT {PRIOR_COLUMNS} FROM {tx.table(table.name)} WHERE id IN ({marks})",
                    [tx.encode(table, "id", i) for i in sorted(reopened, key=str)],
                )}
        return found

    def _view_position(self) -> int:
        """The view's position, read at most every ``POSITION_SECONDS``: an older position only
        means a longer tail to replay, and under load each query costs more than its own
        work (a profile of filing put the lookups at the head of the rules' cost)."""
        now = time.monotonic()
        read_at, position = self._position
        if now - read_at >= POSITION_SECONDS:
            store = self.store
            with store.read(one_statement=True) as tx:
                tracked = tx.rows(
                    f"SELECT max(notification_id) AS position FROM "
                    f"{store.database.tracking_table} WHERE application_name = %s",
                    (tracking_key(CustomersProjection.name),),
                )
            position = int(tracked[0]["position"] or 0)
            self._position = (now, position)
        return position

    @staticmethod
    def _decode(tx: Tx, statement: str, params: Sequence[Any]) -> list[PriorComplaint]:
        """The rows of ``statement`` (``PRIOR_COLUMNS``) as prior complaints. Read off the
        cursor, and only the id and instants decoded (the text columns are stored as they are
        read): a busy customer's lookup is up to 2 x ``MAX_PRIOR`` rows on every filing, and
        copying and decoding each row whole was a tenth of a filing's CPU."""
        tx.execute(statement, params)
        decode, types = tx.dialect.decode, CUSTOMERS_COMPLAINTS.types
        uuid, timestamp = types["id"], types["filed_at"]
        return [
            PriorComplaint(
                id=decode(uuid, r["id"]),
                reference=r["reference"],
                customer_id=r["customer_id"],
                order_number=r["order_number"],
                filed_at=decode(timestamp, r["filed_at"]),
                closed_at=decode(timestamp, r["closed_at"]),
            )
            for r in tx.cursor.fetchall()
        ]

    def saved(self, recordings: Iterable[Any]) -> None:
        """What this process just saved (``ComplaintsApp._notify``): its filings, closes and
        reopens join the tail at once, before the next read of the log."""
        own = []
        for recording in recordings:
            event = recording.domain_event
            topic = TOPICS.get(type(event))
            if topic is not None:
                own.append((recording.notification.id, self._entry(topic, event.originator_id,
                                                                   event.timestamp, event)))
        if own:
            with self._lock:
                if self._covered_to >= 0:  # started: otherwise the first read finds them
                    for at, entry in own:
                        self._add(at, entry)

    def _knows(self, customer_id: str, order_number: str | None) -> bool:
        """Whether the customer (or order) may have complaints in the view: else no query."""
        with self._lock:
            return any(key in self._known for key in _keys(customer_id, order_number))

    def _tail(self, position: int) -> tuple[_Index, int, set[UUID]]:
        """The index of the events after ``position``, the position they start after and the
        complaints reopened among them; the log is read at most every ``TAIL_SECONDS``, from
        where the last read ended. Starting afresh (first call, or the view moved back), it
        reads at most the newest ``max_tail`` positions, and the known customers again. The
        caller replays the index after its queries and then calls ``_release``: until then
        the events after its position stay (another call may prune past it meanwhile, and its
        rows may be older than that call's position)."""
        with self._lock:
            now = time.monotonic()
            if self._covered_to < 0 or position < self._covered_from:
                # The first call, or the view moved back (a rebuild): start afresh there.
                head = self.store.app.recorder.max_notification_id() or 0
                if head - position > self.max_tail:
                    log.warning(
                        "the customers view is %d positions behind: repeat complaints are "
                        "looked up in the newest %d only", head - position, self.max_tail,
                    )
                    position = head - self.max_tail
                self._index = _Index()  # a call still replaying the old one keeps it
                self._covered_to = position
                self._tail_read_at = -TAIL_SECONDS
                self._known_read_at = -KNOWN_SECONDS
            self._covered_from = position
            self._covered_to = max(self._covered_to, position)
            index = self._index
            index.prune(position)
            if now - self._known_read_at >= KNOWN_SECONDS:
                self._known = self._read_known()
                self._known_read_at = now
                for entry in index.events.values():
                    self._learn(entry)
            if now - self._tail_read_at >= TAIL_SECONDS:
                self._tail_read_at = now
                for at, entry in self._read(self._covered_to + 1):
                    self._add(at, entry)
                    self._covered_to = max(self._covered_to, at)
            start = self._covered_from
            index.readers[start] = index.readers.get(start, 0) + 1
            reopened = {index.events[at].complaint_id for at in index.reopens if at > start}
            return index, start, reopened

    @staticmethod
    def _release(index: _Index, start: int) -> None:
        """A call of ``prior`` is done with ``index`` (under the lock)."""
        if index.readers[start] == 1:
            del index.readers[start]
        else:
            index.readers[start] -= 1

    def _add(self, at: int, entry: _Tail) -> None:
        if at > self._covered_from:
            self._index.add(at, entry)
            self._learn(entry)

    def _learn(self, entry: _Tail) -> None:
        if entry.filed is not None:
            self._known.update(_keys(entry.filed.customer_id, entry.filed.order_number))

    def _read_known(self) -> set[str]:
        """The customers and orders with an open complaint, or one filed or closed lately."""
        store, table = self.store, CUSTOMERS_COMPLAINTS
        with store.read() as tx:
            at = tx.encode(table, "filed_at", datetime.now().astimezone() - timedelta(
                days=KNOWN_DAYS))
            name = tx.table(table.name)
            recent = "is_open = TRUE OR closed_at >= %s OR filed_at >= %s"
            rows = tx.rows(
                f"SELECT DISTINCT 'c:' || customer_id AS k FROM {name} WHERE {recent} UNION "
                f"SELECT DISTINCT 'o:' || order_number AS k FROM {name} WHERE "
                f"order_number IS NOT NULL AND ({recent})",
                [at, at, at, at],
            )
        return {str(r["k"]) for r in rows}

    @staticmethod
    def _entry(topic: str, complaint_id: Any, at: datetime, filed: Any) -> _Tail:
        prior = None
        if topic == FILED:
            prior = PriorComplaint(
                UUID(str(complaint_id)), str(filed.reference), str(filed.customer["id"]),
                filed.product.get("order_number") or None, at, None,
            )
        return _Tail(topic, UUID(str(complaint_id)), at, prior)

    def _read(self, first: int) -> list[tuple[int, _Tail]]:
        decode = self.store.app.mapper.transcoder.decode
        read = []
        notifications = self.store.app.recorder.select_notifications(
            first, self.max_tail, topics=(FILED, CLOSED, REOPENED)
        )
        for n in notifications:
            try:
                state = decode(n.state)
                complaint_id, at = UUID(str(n.originator_id)), state["timestamp"]
                if n.topic == CLOSED and state.get("closed_at"):  # an import's business time
                    at = state["closed_at"]
                filed = None
                if n.topic == FILED:
                    filed = PriorComplaint(
                        complaint_id, str(state["reference"]), str(state["customer"]["id"]),
                        state["product"].get("order_number") or None, at, None,
                    )
                read.append((n.id, _Tail(n.topic, complaint_id, at, filed)))
            except Exception:  # undecodable: the view quarantines it, a filing must not fail
                log.warning("customer history: skipped the undecodable event at %d", n.id)
        return read
