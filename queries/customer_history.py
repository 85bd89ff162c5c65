"""The ``CustomerHistory`` port (``commands/customer_history.py``) over the customers view, exact
even while the view lags.

The view knows every complaint up to its position; the ``Filed``, ``Closed`` and ``Reopened``
events after that position (customer id and order number are in the clear in them) are applied
on top, in order, the way ``queries/customer_complaints.py`` does for erasure. So a complaint
filed a moment ago, not yet in the view, is still found by the next filing of the same
customer. Each process decodes that tail once (a lookup reads only what was stored since the
last one) and forgets what the view has applied since. A view left far behind (never run, or
rebuilding after an upgrade) would make every filing read the whole log since its position: past
``max_tail`` positions only the newest ``max_tail`` are read, with a warning, and a repeat filed
before them is not linked until the view catches up.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from aggregates.complaint import Complaint
from commands.customer_history import PriorComplaint
from projections.customers import CUSTOMERS_COMPLAINTS, CustomersProjection
from projections.store import ReadModelStore, tracking_key

log = logging.getLogger(__name__)

MAX_TAIL = 20_000
"""Positions of the log past the view's position read at most, per call."""

FILED, CLOSED, REOPENED = (
    get_topic(Complaint.Filed), get_topic(Complaint.Closed), get_topic(Complaint.Reopened)
)


@dataclass(frozen=True)
class _Tail:
    """An event after the view's position, as far as this port needs it."""

    topic: str
    complaint_id: UUID
    at: datetime
    filed: PriorComplaint | None
    """For a filing, the complaint it made."""


class ViewCustomerHistory:
    """A customer's (or an order's) open and recent complaints: the customers view plus the
    events it has not applied yet."""

    def __init__(self, store: ReadModelStore, max_tail: int = MAX_TAIL) -> None:
        self.store = store
        self.max_tail = max_tail
        # The tail decoded so far: the events of positions (_covered_from, _covered_to].
        self._lock = threading.Lock()
        self._events: deque[tuple[int, _Tail]] = deque()
        self._covered_from = self._covered_to = 0

    def prior(
        self, customer_id: str, order_number: str | None, since: datetime
    ) -> Sequence[PriorComplaint]:
        store, table = self.store, CUSTOMERS_COMPLAINTS
        # The view's position and its rows in one transaction (rows at or after the position:
        # replaying the tail over a newer row ends in the same state).
        with store.read() as tx:
            tracked = tx.rows(
                f"SELECT max(notification_id) AS position FROM {store.database.tracking_table} "
                "WHERE application_name = %s",
                (tracking_key(CustomersProjection.name),),
            )
            position = int(tracked[0]["position"] or 0)
            at = tx.encode(table, "filed_at", since)
            recent = "(is_open = TRUE OR closed_at >= %s OR filed_at >= %s)"
            name = tx.table(table.name)
            statement = f"SELECT * FROM {name} WHERE customer_id = %s AND {recent}"
            params: list[Any] = [customer_id, at, at]
            if order_number is not None:
                statement += f" UNION SELECT * FROM {name} WHERE order_number = %s AND {recent}"
                params += [order_number, at, at]
            found = {p.id: p for p in self._decode(tx.rows(statement, params))}
        tail = self._tail(position)
        # A reopen in the tail may bring back a complaint the view holds as closed long ago:
        # read by id, whoever it belongs to (filtered below).
        reopened = {t.complaint_id for t in tail if t.topic == REOPENED} - set(found)
        if reopened:
            with store.read() as tx:
                marks = ", ".join(["%s"] * len(reopened))
                rows = tx.rows(
                    f"SELECT * FROM {tx.table(table.name)} WHERE id IN ({marks})",
                    [tx.encode(table, "id", i) for i in sorted(reopened, key=str)],
                )
            found |= {p.id: p for p in self._decode(rows)}
        for t in tail:
            if t.filed is not None:
                if t.filed.customer_id == customer_id or (
                    order_number is not None and t.filed.order_number == order_number
                ):
                    found[t.complaint_id] = t.filed
            elif (known := found.get(t.complaint_id)) is not None:
                found[t.complaint_id] = replace(
                    known, closed_at=t.at if t.topic == CLOSED else None
                )
        matching = [
            p for p in found.values()
            if (p.customer_id == customer_id or (order_number and p.order_number == order_number))
            and (p.closed_at is None or p.closed_at >= since or p.filed_at >= since)
        ]
        return sorted(matching, key=lambda p: (p.filed_at, str(p.id)))

    def _decode(self, rows: list[dict[str, Any]]) -> list[PriorComplaint]:
        decode, table = self.store.dialect.decode_row, CUSTOMERS_COMPLAINTS
        return [
            PriorComplaint(
                id=UUID(str(r["id"])),
                reference=r["reference"],
                customer_id=r["customer_id"],
                order_number=r["order_number"],
                filed_at=r["filed_at"],
                closed_at=r["closed_at"],
            )
            for r in (decode(table, row) for row in rows)
        ]

    def _tail(self, position: int) -> list[_Tail]:
        """The events after ``position`` (at most ``max_tail`` positions), decoded once per
        process: each call reads only what was stored since the last one, and forgets what the
        view has applied since."""
        store = self.store
        head = store.app.recorder.max_notification_id() or 0
        if head - position > self.max_tail:
            log.warning(
                "the customers view is %d positions behind: repeat complaints are looked up "
                "in the newest %d only", head - position, self.max_tail,
            )
            position = head - self.max_tail
        with self._lock:
            if not self._covered_from <= position <= self._covered_to:
                # The view moved back (a rebuild) or past what is kept: start afresh there.
                self._events.clear()
                self._covered_from = self._covered_to = position
            while self._events and self._events[0][0] <= position:
                self._events.popleft()
            self._covered_from = position
            if head > self._covered_to:
                self._events.extend(self._read(self._covered_to + 1, head))
                self._covered_to = head
            return [t for at, t in self._events if at <= head]

    def _read(self, first: int, last: int) -> list[tuple[int, _Tail]]:
        decode = self.store.app.mapper.transcoder.decode
        read = []
        for n in self.store.notifications(first, last, [FILED, CLOSED, REOPENED]):
            try:
                state = decode(n.state)
                complaint_id, at = UUID(str(n.originator_id)), state["timestamp"]
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
