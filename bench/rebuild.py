"""Benchmark: full rebuild of all projections from a large generated store.

    uv run python bench/rebuild.py generate --db URL [--complaints 200000]
    uv run python bench/rebuild.py rebuild --db URL

``generate`` writes about nine events per complaint (a year of filings with their SLA clocks,
realistic lifecycles and the deadline watcher's records: ``bench/generated_store.py``), made by the
application's mapper and appended in bulk by ``Database.append_in_bulk`` (COPY on PostgreSQL, one
``executemany`` on SQLite), streamed in one transaction: memory stays flat at any size. It prints
its progress every million events (``--complaints 112000``: about 1M events).

``rebuild`` rebuilds every view as ``complaints projections rebuild --all`` does
(``Runner.rebuild``: reset, replay in bulk batches, build the indexes, catch up) and prints events/s
(overall, and per projection over the time spent in its handler), the index-building time, the
process's CPU time and peak RSS. Run the phases as separate processes so that the rebuild's RSS is
its own. Use a database or schema of its own (PostgreSQL: ``...bench?schema=bench``, the schema
created first).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.generated_store import stored_events  # noqa: E402
from infra.bootstrap import bootstrap  # noqa: E402
from infra.settings import Settings  # noqa: E402
from projections.database import database_of  # noqa: E402
from projections.projection import Positioned, Projection  # noqa: E402
from projections.store import Tx  # noqa: E402


def generate(settings: Settings, complaints: int, seed: int) -> None:
    app = bootstrap(settings).app
    if app.recorder.max_notification_id():
        sys.exit("the store is not empty: use a fresh database or schema")
    began, counted = time.monotonic(), [0]

    def counting(events: Iterator[StoredEvent]) -> Iterator[StoredEvent]:
        for counted[0], event in enumerate(events, 1):  # noqa: B007 - counted is read below
            if counted[0] % 1_000_000 == 0:
                elapsed = time.monotonic() - began
                print(f"  {counted[0]:>11,} events in {elapsed:6.1f}s "
                      f"({counted[0] / elapsed:,.0f}/s), peak RSS {peak_rss_mib():,.0f} MiB",
                      flush=True)
            yield event

    written = database_of(app).append_in_bulk(counting(stored_events(app, complaints, seed)))
    elapsed = time.monotonic() - began
    print(f"generated {written:,} events for {complaints:,} complaints in {elapsed:.1f}s "
          f"= {written / elapsed:,.0f} events/s; peak RSS {peak_rss_mib():,.0f} MiB")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
