"""Benchmark: full rebuild of all projections from a large generated store.

    uv run python bench/rebuild.py generate --db URL [--complaints 200000]
    uv run python bench/rebuild.py rebuild --db URL

``generate`` writes about five events per complaint (a year of filings with realistic lifecycles:
assignment, replies, escalation, closing, some reopening), in time order, bulk-inserted through
``app.mapper.to_stored_event`` + ``app.recorder.insert_events``. ``rebuild`` rebuilds the three
views as ``complaints projections rebuild --all`` does (``Runner.rebuild``: reset, replay in bulk
batches, build the indexes, catch up) and prints events/s (overall, and per projection over the time
spent in its handler), the index-building time and the process's peak RSS. Run the phases as
separate processes so that the rebuild's RSS is its own. Use a database or schema of its own
(e.g. ...bench?schema=bench).
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import resource
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregates.complaint import Complaint  # noqa: E402
from aggregates.vocabulary import Category, Channel, ResolutionCode, Severity  # noqa: E402
from infra.bootstrap import bootstrap  # noqa: E402
from infra.settings import Settings  # noqa: E402
from projections.projection import Positioned, Projection  # noqa: E402
from projections.store import Tx  # noqa: E402

WHO = {"actor": "bench", "correlation_id": "bench", "causation_id": None}
AGENTS = [f"agent-{i}" for i in range(60)]
TEAMS = [f"team-{i}" for i in range(8)]
REGIONS = ["east", "west", "north", "south", "central", "overseas", None]
CATEGORIES = [c.value for c in Category]
CHANNELS = [c.value for c in Channel]
SEVERITIES = [s.value for s in Severity]


def lifecycle(rng: random.Random) -> list[tuple[float, str]]:
    """Hours after filing, and action: on average about four events after the filing."""
    hours, steps = 0.0, []
    for action in ("assign", "reply", "note"):
        hours += rng.expovariate(1 / 6)
        steps.append((hours, action))
    if rng.random() < 0.15:
        hours += rng.expovariate(1 / 12)
        steps.append((hours, "escalate"))
    if rng.random() < 0.9:
        hours += rng.expovariate(1 / 24)
        steps.append((hours, "close"))
        if rng.random() < 0.08:
            hours += rng.expovariate(1 / 48)
            steps.append((hours, "reopen"))
            hours += rng.expovariate(1 / 24)
            steps.append((hours, "close"))
    return steps


def act(c: Complaint, action: str, when: datetime, rng: random.Random) -> None:
    if action == "assign":
        c.trigger_event(Complaint.Assigned, timestamp=when, assignee=rng.choice(AGENTS),
                        team=rng.choice(TEAMS), reason=None, **WHO)
    elif action in ("reply", "note"):
        c.trigger_event(Complaint.Commented, timestamp=when, comment_id=uuid4().hex,
                        body="We are looking into it.",
                        visibility="customer" if action == "reply" else "internal", **WHO)
    elif action == "escalate":
        c.trigger_event(Complaint.Escalated, timestamp=when, level=c.escalation_level + 1,
                        reason="slow", **WHO)
    elif action == "close":
        c.trigger_event(Complaint.Closed, timestamp=when,
                        resolution_code=rng.choice([r.value for r in ResolutionCode]),
                        summary="Resolved with the customer.", **WHO)
    elif action == "reopen":
        c.trigger_event(Complaint.Reopened, timestamp=when, reason="came back", **WHO)


def generate(settings: Settings, complaints: int, seed: int) -> None:
    app = bootstrap(settings).app
    if app.recorder.max_notification_id():
        sys.exit("the store is not empty: use a fresh database or schema")
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    year = timedelta(days=365).total_seconds()
    filings = sorted(rng.uniform(0, year) for _ in range(complaints))
    due: list[tuple[float, int, Complaint, list[tuple[float, str]]]] = []
    buffer: list[Any] = []
    written, seq, began = 0, 0, time.monotonic()

    def flush() -> None:
        nonlocal written
        app.recorder.insert_events(buffer)
        written += len(buffer)
        buffer.clear()

    for n, offset in enumerate(filings):
        when = start + timedelta(seconds=offset)
        while due and due[0][0] <= offset:
            t, _, c, plan = heapq.heappop(due)
            act(c, plan.pop(0)[1], start + timedelta(seconds=t), rng)
            buffer += [app.mapper.to_stored_event(e) for e in c.collect_events()]
            if plan:
                heapq.heappush(due, (plan[0][0], seq := seq + 1, c, plan))
        c = Complaint._create(  # noqa: SLF001 - a bulk loader bypasses the intake rules on purpose
            Complaint.Filed, id=uuid4(), timestamp=when, reference=f"C-{n:08X}",
            customer={"id": f"CUST-{rng.randrange(50_000)}", "name": "Customer", "phone": "1",
                      "tier": "vip" if rng.random() < 0.1 else "standard"},
            product={"name": rng.choice(["X9", "K2", "M5"]), "model": None},
            category=rng.choice(CATEGORIES), subject="Problem with my order",
            description=rng.choice(["screen cracked", "parcel late", "charged twice",
                                    "agent was rude", "refund missing"]),
            occurred_at=None, location=None, attachments=[], expected_remedy=None,
            channel=rng.choice(CHANNELS), severity=rng.choice(SEVERITIES),
            region=rng.choice(REGIONS), received_by="bench", received_at=when, **WHO,
        )
        buffer += [app.mapper.to_stored_event(e) for e in c.collect_events()]
        plan = [(offset + h * 3600, a) for h, a in lifecycle(rng)]
        heapq.heappush(due, (plan[0][0], seq := seq + 1, c, plan))
        if len(buffer) >= 10_000:
            flush()
    while due:
        t, _, c, plan = heapq.heappop(due)
        act(c, plan.pop(0)[1], start + timedelta(seconds=t), rng)
        buffer += [app.mapper.to_stored_event(e) for e in c.collect_events()]
        if plan:
            heapq.heappush(due, (plan[0][0], seq := seq + 1, c, plan))
        if len(buffer) >= 10_000:
            flush()
    flush()
    print(f"generated {written} events for {complaints} complaints "
          f"in {time.monotonic() - began:.1f}s")


class Timed(Projection):
    """Wraps a projection to account the time spent in its handler."""

    def __init__(self, inner: Projection) -> None:
        self.inner, self.name, self.topics, self.tables = (
            inner, inner.name, inner.topics, inner.tables
        )
        self.seconds, self.events = 0.0, 0

    def apply(self, tx: Tx, events: Sequence[Positioned]) -> None:
        began = time.perf_counter()
        self.inner.apply(tx, events)
        self.seconds += time.perf_counter() - began
        self.events += len(events)


def rebuild(settings: Settings) -> None:
    services = bootstrap(settings)
    app = services.app
    runner = services.runner()
    timed = [Timed(p) for p in runner.projections]
    runner.projections = list(timed)
    indexing = [0.0]
    create_indexes = runner.store.create_indexes

    def timed_create_indexes(tables: Sequence[Any]) -> None:
        began = time.perf_counter()
        create_indexes(tables)
        indexing[0] += time.perf_counter() - began

    runner.store.create_indexes = timed_create_indexes  # type: ignore[method-assign]
    head = app.recorder.max_notification_id() or 0
    load = os.getloadavg()
    began = time.monotonic()
    read = runner.rebuild()
    elapsed = time.monotonic() - began
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rss_mib = usage.ru_maxrss / 1024
    print(f"store head {head}; rebuilt all {len(timed)} projections from {read} events "
          f"in {elapsed:.1f}s = {read / elapsed:,.0f} events/s "
          f"(pages {runner.page_size}/{runner.bulk_page_size})")
    for p in timed:
        print(f"  {p.name:<11} {p.events:>9} events, {p.seconds:6.1f}s in its handler "
              f"= {p.events / max(p.seconds, 1e-9):,.0f} events/s")
    print(f"  building indexes (+ ANALYZE on PostgreSQL): {indexing[0]:.1f}s")
    rest = elapsed - sum(p.seconds for p in timed) - indexing[0]
    print(f"  read+decode+commit (the rest, partly overlapped by the read-ahead): {rest:.1f}s")
    print(f"this process's CPU: {usage.ru_utime + usage.ru_stime:.1f}s")
    print(f"peak RSS {rss_mib:,.0f} MiB; load average before {load[0]:.2f}, "
          f"after {os.getloadavg()[0]:.2f}")
    with runner.store.read() as tx:
        rows = tx.rows(f"SELECT count(*) AS n FROM {tx.table('complaint_list')}")[0]["n"]
    print(f"complaint_list rows: {rows}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("phase", choices=["generate", "rebuild"])
    parser.add_argument("--db", required=True, help="COMPLAINTS_DATABASE_URL of the bench store")
    parser.add_argument("--complaints", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--bulk-page-size", type=int, default=Settings().projection_bulk_page_size)
    args = parser.parse_args()
    settings = Settings(database_url=args.db, projection_page_size=args.page_size,
                        projection_bulk_page_size=args.bulk_page_size)
    if args.phase == "generate":
        generate(settings, args.complaints, args.seed)
    else:
        rebuild(settings)


if __name__ == "__main__":
    main()
