"""The analytics summary as of a past instant, and compared with today's view (issue 13).

``as_of`` is cut at a position of the notification log: the last event recorded (by the system
clock, the events' ``timestamp``) at or before the instant. The analytics view is rebuilt from
the events up to that position into a scratch store (``projections/bounded_store.py``: the
projection runner's own rebuild, the same handlers) and the usual ``analytics_summary`` reads it.
So a published report is reproduced exactly: nothing recorded later (a close, a reopen, a
late survey) reaches it. Scratch views are kept, by (position, report zone), in a small LRU cache.

The position is found by bisection over positions, which assumes event timestamps grow with
positions. They do for one writer; commands written concurrently by several processes may be
recorded out of timestamp order by the few milliseconds a write takes, so an instant within
those milliseconds may fall either side of such events.

Differences (``compare_to=now``) are today's figure minus the figure as of the instant, for
every figure: counts in units, means in seconds, rates as fractions (0.1 is ten percentage
points), CSAT and NPS in their own units; null when either side is null. A group present on one
side only counts as zero (its rates and means null) on the other.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from pydantic import BaseModel, Field

from projections.analytics import MEASURES, AnalyticsProjection
from projections.runner import Runner
from projections.store import ReadModelStore
from queries.analytics import Figures, GroupBy, Summary, analytics_summary, figures

DEFAULT_CACHE_SIZE = 4


class ScratchView(Protocol):
    """An empty scratch read-model store fed from the event store up to a position."""

    @property
    def store(self) -> ReadModelStore: ...

    def close(self) -> None: ...


ScratchFactory = Callable[[int], ScratchView]
"""Makes a scratch view bounded at the given position (``infra/scratch_views.py``)."""


class SummaryAsOf(Summary):
    as_of: datetime = Field(description="The instant asked for")
    position: int = Field(
        description="The last event-store position recorded at or before `as_of` (0: none)"
    )


class GroupDifference(BaseModel):
    key: str | None
    differences: dict[str, float | None]


class Differences(BaseModel):
    totals: dict[str, float | None] = Field(
        description="Per figure: now minus as of (rates as fractions, means in seconds); null "
        "when either is null"
    )
    groups: list[GroupDifference]


class Comparison(BaseModel):
    as_of: SummaryAsOf
    now: Summary
    differences: Differences


def position_at(app: Application[UUID], instant: datetime) -> int:
    """The position of the last event recorded at or before ``instant`` (0 when none was).

    Bisection over positions (``log2(head)`` events read and decoded); positions may have gaps
    (PostgreSQL's sequence), so each probe reads the first event at or after the midpoint."""
    recorder, mapper = app.recorder, app.mapper
    low, high = 0, recorder.max_notification_id() or 0
    # Invariant: the event at ``low`` (if any) is at or before the instant; every event after
    # ``high`` is later than it.
    while low < high:
        middle = (low + high + 1) // 2
        probe = _first_decodable(mapper, recorder.select_notifications(middle, limit=8, stop=high))
        if probe is not None and recorded_at(probe[1]) <= instant:
            low = probe[0]
        else:
            high = middle - 1
    return low


def _first_decodable(mapper: Any, found: Sequence[Notification]) -> tuple[int, Any] | None:
    """The first of ``found`` that decodes, with its position: a stored event no reader can
    decode (see ``tests/poison.py``) must not make the report fail."""
    for notification in found:
        try:
            return notification.id, mapper.to_domain_event(notification)
        except Exception:  # noqa: BLE001, S112 - skipped, as every reader of the log skips it
            continue
    return None


def recorded_at(event: Any) -> datetime:
    return event.timestamp  # type: ignore[no-any-return]


@dataclass
class _Cached:
    view: ScratchView
    users: int = 0
    evicted: bool = False


class AnalyticsAsOf:
    """Summaries of the analytics view as it was at past positions, each rebuilt once into a
    scratch store and kept (``cache_size`` of them, least recently used dropped)."""

    def __init__(
        self,
        app: Application[UUID],
        scratch: ScratchFactory,
        *,
        report_tz: str = "UTC",
        cache_size: int = DEFAULT_CACHE_SIZE,
        page_size: int = 1000,
        bulk_page_size: int = 50_000,
    ) -> None:
        self.app = app
        self.scratch = scratch
        self.report_tz = report_tz
        self.cache_size = max(1, cache_size)
        self.page_size = page_size
        self.bulk_page_size = bulk_page_size
        self._cache: OrderedDict[tuple[int, str], _Cached] = OrderedDict()
        self._lock = threading.Lock()
        self._building = threading.Lock()
        """One scratch rebuild at a time per process: each one uses a core fully."""

    def summary(
        self, as_of: datetime, first: date, last: date, group_by: GroupBy = "category",
        top: int = 5,
    ) -> SummaryAsOf:
        """The summary from the events recorded up to ``as_of``; raises InvalidQueryError as
        ``analytics_summary`` does."""
        position = position_at(self.app, as_of)
        with self.view(position) as store:
            summary = analytics_summary(store, first, last, group_by, top)
        return SummaryAsOf(**dict(summary), as_of=as_of, position=position)

    def compare(
        self, live: ReadModelStore, as_of: datetime, first: date, last: date,
        group_by: GroupBy = "category", top: int = 5,
    ) -> Comparison:
        """Both summaries, as of ``as_of`` and now (the live view), and their differences."""
        then = self.summary(as_of, first, last, group_by, top)
        now = analytics_summary(live, first, last, group_by, top)
        return Comparison(as_of=then, now=now, differences=differences(then, now))

    @contextmanager
    def view(self, position: int) -> Iterator[ReadModelStore]:
        """The analytics view as of ``position``, rebuilt unless cached; not closed while in
        use, even if evicted meanwhile."""
        key = (position, self.report_tz)
        cached = self._use(key)
        if cached is None:
            with self._building:
                cached = self._use(key)  # built by another request meanwhile?
                if cached is None:
                    cached = self._add(key, self._build(position))
        try:
            yield cached.view.store
        finally:
            with self._lock:
                cached.users -= 1
                if cached.evicted and cached.users == 0:
                    cached.view.close()

    def cached_positions(self) -> list[int]:
        with self._lock:
            return [position for position, _ in self._cache]

    def close(self) -> None:
        with self._lock:
            for cached in self._cache.values():
                cached.evicted = True
                if cached.users == 0:
                    cached.view.close()
            self._cache.clear()

    def _use(self, key: tuple[int, str]) -> _Cached | None:
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                cached.users += 1
            return cached

    def _add(self, key: tuple[int, str], view: ScratchView) -> _Cached:
        with self._lock:
            cached = self._cache[key] = _Cached(view, users=1)
            while len(self._cache) > self.cache_size:
                _, old = self._cache.popitem(last=False)
                old.evicted = True
                if old.users == 0:
                    old.view.close()
            return cached

    def _build(self, position: int) -> ScratchView:
        view = self.scratch(position)
        try:
            projection = AnalyticsProjection(self.report_tz)
            view.store.create_tables(projection.tables)
            Runner(
                self.app, [projection], store=view.store, page_size=self.page_size,
                bulk_page_size=self.bulk_page_size,
            ).rebuild()
        except BaseException:
            view.close()
            raise
        return view


def differences(then: Summary, now: Summary) -> Differences:
    empty = Figures(**figures(dict.fromkeys(MEASURES, 0)))
    before = {g.key: g for g in then.groups}
    after = {g.key: g for g in now.groups}
    keys = sorted(before.keys() | after.keys(), key=lambda k: (k is None, k or ""))
    return Differences(
        totals=_minus(now.totals, then.totals),
        groups=[
            GroupDifference(key=k, differences=_minus(after.get(k, empty), before.get(k, empty)))
            for k in keys
        ],
    )


def _minus(now: Figures, then: Figures) -> dict[str, float | None]:
    result: dict[str, float | None] = {}
    for name in Figures.model_fields:
        a: Any = getattr(now, name)
        b: Any = getattr(then, name)
        result[name] = None if a is None or b is None else a - b
    return result
