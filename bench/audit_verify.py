"""Benchmark: verifying the hash chain of a large generated store, and migrating one to it.

    uv run python bench/audit_verify.py --db URL [--complaints 112000]

Generates about nine events per complaint (``bench/generated_store.py``, appended in bulk and
chained as they are written), records a signed checkpoint, then times ``audit verify`` over the
whole store and ``--since-checkpoint``, and prints events/s and peak RSS. ``--migrate`` then
drops the chain's columns and times the migration that adds and fills them again (what the
first start of this version does to an older store). Use a database or schema of its own
(PostgreSQL: ``...bench?schema=bench``, the schema created first; it must be empty).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.generated_store import stored_events  # noqa: E402
from commands.context import CommandContext  # noqa: E402
from infra.bootstrap import bootstrap  # noqa: E402
from infra.settings import Settings  # noqa: E402
from projections.database import database_of  # noqa: E402
from queries.audit_verify import verify_store  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="COMPLAINTS_DATABASE_URL of the bench store")
    parser.add_argument("--complaints", type=int, default=112_000, help="about 9 events each")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--migrate", action="store_true", help="also time the migration")
    args = parser.parse_args()
    # The store's keys in a temporary directory (never ./var of the work tree), unless the
    # environment names them.
    keys = tempfile.mkdtemp(prefix="bench-audit-")
    settings = Settings(database_url=args.db)
    if settings.secret_key is None and settings.secret_key_file is None:
        settings = settings.model_copy(update={"secret_key_file": f"{keys}/secret.key"})
    ctx = CommandContext(principal="bench", role="admin", correlation_id=uuid.uuid4().hex)
    with bootstrap(settings) as services:
        app, database = services.app, database_of(services.app)
        if app.recorder.max_notification_id():
            sys.exit("the store is not empty: use a fresh database or schema")
        began = time.monotonic()
        written = database.append_in_bulk(stored_events(app, args.complaints, args.seed))
        elapsed = time.monotonic() - began
        print(
            f"generated and chained {written:,} events in {elapsed:.1f}s "
            f"({written / elapsed:,.0f} events/s)",
            flush=True,
        )
        began = time.monotonic()
        checkpoint = services.checkpoints.record(ctx)
        print(
            f"checkpoint of {checkpoint.aggregate_count:,} aggregates: "
            f"{time.monotonic() - began:.1f}s",
            flush=True,
        )
        print(f"load average before verify: {os.getloadavg()[0]:.2f}")
        for since in (False, True):
            began_cpu = time.process_time()
            report = verify_store(
                database, services.checkpoints, services.audit_key, since_checkpoint=since
            )
            cpu = time.process_time() - began_cpu
            scope = "since checkpoint" if since else "whole store"
            print(
                f"verify ({scope}): {report.events:,} events of {report.aggregates:,} "
                f"aggregates in {report.seconds:.1f}s = "
                f"{report.events / max(report.seconds, 1e-9):,.0f} events/s; process CPU "
                f"{cpu:.1f}s; ok={report.ok}; peak RSS {peak_rss_mib():,.0f} MiB",
                flush=True,
            )
        if args.migrate:
            table = database.events_table_name  # type: ignore[attr-defined]
            with database.transaction(commit=True) as cursor:
                for column in ("prev_hash", "hash"):
                    cursor.execute(
                        f"ALTER TABLE {database.dialect.table(table)} DROP COLUMN {column}"
                    )
            began = time.monotonic()
            database.create_table()
            print(f"migration of {written:,} events: {time.monotonic() - began:.1f}s")
            report = verify_store(database, services.checkpoints, services.audit_key)
            print(f"verify after migration: ok={report.ok}")


if __name__ == "__main__":
    main()
