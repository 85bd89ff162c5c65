"""Benchmark: the SLA deadline watcher over a large store of open complaints.

    uv run python bench/sla_watcher.py [--db URL] [--complaints 200000] [--due 1000]
                                       [--window 60] [--idle 20]

1. Writes ``--complaints`` open complaints with SLA clocks due weeks ahead (in-process saves of
   500 aggregates per call), and fills the ``sla`` view (a rebuild).
2. Shows how the watcher finds due deadlines: the plans of its queries (``EXPLAIN``), index
   probes on ``(state, due_at)`` and ``(state, at_risk_at)``, not a scan of the open complaints.
3. Idle: the watcher runs with nothing due for ``--idle`` seconds; prints the process CPU time
   per second of watching and the passes it made.
4. Load: ``--due`` more complaints whose first response falls due spread over ``--window``
   seconds (the projections and the watcher running as in ``complaints serve``); prints the
   lateness of each breach (recorded minus due: the event's timestamp minus ``due_at``), p50,
   p99 and max. The breach's event timestamp is when the watcher decided it.

Use a database or schema of its own (default: a new SQLite file in a temporary directory).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregates.complaint import Complaint  # noqa: E402
from aggregates.provenance import Provenance  # noqa: E402
from aggregates.sla_clock import Deadline  # noqa: E402
from aggregates.values import Customer, Product  # noqa: E402
from infra.bootstrap import Services, bootstrap  # noqa: E402
from infra.settings import Settings  # noqa: E402
from projections.runner import BackgroundRunner  # noqa: E402
from projections.sla import SLA  # noqa: E402

BY = Provenance("bench", "bench")
SEVERITIES = ("low", "medium", "high")
BATCH = 500


def complaint(n: int, received: datetime, first_due: datetime, resolution_due: datetime) -> Any:
    c = Complaint.file(
        reference=f"C-{n:08X}-BNCH",
        customer=Customer(id=f"CUST-{n % 5000}", name="Li", phone="1380000", tier="standard"),
        product=Product(name="X9"),
        category="logistics",
        subject="Late parcel",
        description="arrived late",
        channel="web",
        severity=SEVERITIES[n % 3],
        received_at=received,
        by=BY,
    )
    c.apply_sla(
        policy_version=0, rule="default", calendar="24x7", calendar_version=0,
        first_response_target="PT4H", resolution_target="P3D", at_risk_ratio=0.0,
        first_response=Deadline(first_due, first_due),
        resolution=Deadline(resolution_due, resolution_due),
        by=BY,
    )
    return c


def write(services: Services, count: int, start: int, due: Any) -> list[UUID]:
    """Saves ``count`` complaints, ``due(i)`` giving each its first-response due instant."""
    ids: list[UUID] = []
    received = datetime.now(UTC) - timedelta(minutes=1)
    for first in range(0, count, BATCH):
        batch = [
            complaint(start + i, received, due(i), received + timedelta(days=365))
            for i in range(first, min(count, first + BATCH))
        ]
        services.app.save(*batch)
        ids += [c.id for c in batch]
    return ids


def explain(services: Services) -> None:
    now = datetime.now(UTC)
    store = services.read_models
    postgres = store.dialect.kind == "postgres"
    prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
    queries = {
        "due clocks (state, due_at)":
            "SELECT complaint_id FROM {sla} WHERE state = 'running' AND due_at <= %s "
            "ORDER BY due_at, complaint_id, metric, cycle LIMIT 500",
        "next due instant":
            "SELECT due_at FROM {sla} WHERE state = 'running' AND due_at > %s "
            "ORDER BY due_at LIMIT 1",
        "next at-risk instant":
            "SELECT at_risk_at FROM {sla} WHERE state = 'running' AND at_risk_at > %s "
            "ORDER BY at_risk_at LIMIT 1",
    }
    with store.read() as tx:
        for name, sql in queries.items():
            rows = tx.rows(prefix + sql.format(sla=tx.table(SLA.name)),
                           [tx.encode(SLA, "due_at", now)])
            plan = [str(r.get("QUERY PLAN") or r.get("detail")) for r in rows]
            print(f"  {name}:")
            for line in plan:
                print(f"    {line}")


def breached_rows(services: Services) -> int:
    with services.read_models.read() as tx:
        rows = tx.rows(f"SELECT count(*) AS n FROM {tx.table(SLA.name)} WHERE state = 'breached'")
    return int(rows[0]["n"])


def cpu_while(seconds: float) -> float:
    started = time.process_time()
    time.sleep(seconds)
    return time.process_time() - started


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None)
    parser.add_argument("--complaints", type=int, default=200_000)
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--idle", type=float, default=20.0)
    args = parser.parse_args()
    url = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='sla-bench-')}/bench.db"
    settings = Settings(database_url=url, secret_key_file=str(Path(tempfile.mkdtemp()) / "key"),
                        admin_token_file=str(Path(tempfile.mkdtemp()) / "admin"))
    with bootstrap(settings) as services:
        print(f"store: {services.read_models.dialect.kind}")
        started = time.monotonic()
        far = datetime.now(UTC) + timedelta(days=30)
        write(services, args.complaints, 0, lambda i: far + timedelta(seconds=i))
        written = time.monotonic() - started
        print(f"wrote {args.complaints:,} open complaints in {written:.1f}s "
              f"({args.complaints / written:,.0f}/s)")
        started = time.monotonic()
        runner = services.runner(["sla"])
        runner.rebuild()
        print(f"sla view filled in {time.monotonic() - started:.1f}s "
              f"({2 * args.complaints:,} clock rows)")

        print("how the watcher finds due deadlines:")
        explain(services)

        watcher = services.sla_watcher().start()
        time.sleep(1.0)  # its first pass
        passes = watcher.passes
        cpu = cpu_while(args.idle)
        print(f"idle: {cpu / args.idle * 1000:.2f} ms CPU per second of watching "
              f"({(watcher.passes - passes) / args.idle:.1f} passes/s, "
              f"{cpu / max(1, watcher.passes - passes) * 1000:.2f} ms per pass)")

        background = BackgroundRunner(runner).start()
        first_due = datetime.now(UTC) + timedelta(seconds=5)
        step = args.window / args.due
        ids = write(services, args.due, args.complaints,
                    lambda i: first_due + timedelta(seconds=i * step))
        deadline = time.monotonic() + 5 + args.window + 30
        while time.monotonic() < deadline and breached_rows(services) < args.due:
            time.sleep(2)  # one cheap query: reading the events here would slow the watcher
        watcher.stop()
        background.stop()
        breaches = [e for cid in ids for e in services.app.events.get(cid)
                    if isinstance(e, Complaint.SlaBreached)]
        late = [(b.timestamp - b.due_at).total_seconds() for b in breaches]
        escalations = sum(
            1 for cid in ids for e in services.app.events.get(cid)
            if isinstance(e, Complaint.Escalated)
        )
        print(f"load: {len(breaches)} of {args.due} deadlines over {args.window:.0f}s breached, "
              f"{escalations} escalations")
        if late:
            print(f"lateness (recorded - due): p50 {percentile(late, 50) * 1000:.1f} ms, "
                  f"p99 {percentile(late, 99) * 1000:.1f} ms, max {max(late) * 1000:.1f} ms, "
                  f"mean {statistics.mean(late) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
