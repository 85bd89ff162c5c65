"""Benchmark: export every public event of a large generated store to Parquet.

    uv run python bench/rebuild.py generate --db URL --complaints 112000   # ~1M events, once
    uv run python bench/export.py --db URL [--out /tmp/events.parquet] [--clear]

Exports as ``complaints export events --format parquet`` does (``stream.export.pages`` into
``write_parquet``; ``--clear`` exports personal fields in clear as the CLI does, the default masks
them as ``GET /events/export`` does for most tokens) and prints events/s by wall time and by this
process's CPU time (the machine may be shared: CPU seconds are the fairer figure), and the peak
RSS after each tenth of the events, which stays flat when memory does not grow with the store.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyarrow.parquet as pq  # noqa: E402

from infra.bootstrap import bootstrap  # noqa: E402
from infra.settings import Settings  # noqa: E402
from stream.export import ExportFilter, pages, write_parquet  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="COMPLAINTS_DATABASE_URL of the bench store")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-events.parquet"))
    parser.add_argument("--clear", action="store_true", help="personal fields in clear (CLI)")
    args = parser.parse_args()
    with bootstrap(Settings(database_url=args.db)) as services:
        head = services.app.recorder.max_notification_id() or 0
        marks = [head * k // 10 for k in range(1, 11)]
        samples: list[tuple[int, float]] = []

        def sampled(source: Iterator[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
            for page in source:
                yield page
                while marks and page and page[-1]["position"] >= marks[0]:
                    samples.append((marks.pop(0), peak_rss_mib()))

        load = os.getloadavg()[0]
        began_wall, began_cpu = time.monotonic(), cpu_seconds()
        count = write_parquet(
            sampled(pages(services.app, ExportFilter(), personal_data=args.clear)), args.out
        )
        wall, cpu = time.monotonic() - began_wall, cpu_seconds() - began_cpu
    rows = pq.ParquetFile(args.out).metadata.num_rows
    print(f"store head {head:,}; exported {count:,} public events ({rows:,} rows read back) "
          f"to {args.out} ({args.out.stat().st_size / 2**20:,.0f} MiB)")
    print(f"wall {wall:.1f}s = {count / wall:,.0f} events/s; this process's CPU {cpu:.1f}s = "
          f"{count / cpu:,.0f} events/s of CPU")
    print("peak RSS (MiB) after each tenth of the positions: "
          + ", ".join(f"{rss:,.0f}" for _, rss in samples))
    print(f"load average before {load:.2f}, after {os.getloadavg()[0]:.2f} (shared machine)")


if __name__ == "__main__":
    main()
