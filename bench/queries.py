"""Benchmark: latency of read-side queries over a store built by ``bench/rebuild.py``.

    uv run python bench/queries.py --db URL [--runs 300]

Prints p50/p99 of the complaint list with two filters (status + category, newest first, 50 rows)
and of the analytics summary over a year (once per ``group_by``), calling the query
functions directly (what the HTTP routes call, without HTTP and auth overhead).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path
from typing import get_args

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregates.vocabulary import Category  # noqa: E402
from infra.bootstrap import bootstrap  # noqa: E402
from infra.settings import Settings  # noqa: E402
from queries.analytics import GroupBy, analytics_summary  # noqa: E402
from queries.complaint_list import ListFilters, list_complaints  # noqa: E402


def measure(name: str, runs: int, call: Callable[[], object]) -> None:
    for _ in range(5):
        call()  # warm caches and prepared plans
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"{name:<48} p50 {statistics.median(times):6.2f} ms   p99 {p99:6.2f} ms   ({runs} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    services = bootstrap(Settings(database_url=args.db))
    store = services.read_models
    with store.read() as tx:
        rows = tx.rows(f"SELECT count(*) AS n FROM {tx.table('complaint_list')}")[0]["n"]
    print(f"complaint_list rows: {rows}")
    rng = random.Random(1)
    categories = [c.value for c in Category]

    def two_filters() -> object:
        filters = ListFilters(status=rng.choice(["assigned", "closed"]),
                              category=rng.choice(categories))
        first = list_complaints(store, filters, limit=50)
        return first

    def two_filters_page_two() -> object:
        filters = ListFilters(status="closed", category=rng.choice(categories))
        first = list_complaints(store, filters, limit=50)
        return list_complaints(store, filters, limit=50, cursor=first.next_cursor)

    measure("list: status+category, first page", args.runs, two_filters)
    measure("list: status+category, first+second page", args.runs, two_filters_page_two)
    measure("list: q search + severity", args.runs // 3, lambda: list_complaints(
        store, ListFilters(q="refund", severity="high"), limit=50))
    year = (date(2025, 1, 1), date(2025, 12, 31))
    for group_by in get_args(GroupBy):
        measure(f"analytics summary, a year, by {group_by}", args.runs,
                partial(analytics_summary, store, *year, group_by))


if __name__ == "__main__":
    main()
