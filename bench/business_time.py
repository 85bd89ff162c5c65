"""Benchmark: business-time arithmetic on a typical calendar (no storage).

    uv run python bench/business_time.py [--calls 200000] [--timezone Asia/Shanghai]

A Mon-Fri 09:00-12:00 + 13:00-18:00 calendar with a year's holidays and make-up days; starts
spread over a year (as 200,000 complaints filed over a year would be). Prints calls/s of:
``due_after`` for a first-response (PT4H) and a resolution (P3D) target, ``working_seconds_between``
over a pause of up to a week, and over up to a quarter (whole weeks skipped). The calendar's
dates are computed once and kept: "warm" is one calendar object used throughout; "rebuilt" a new
but equal object every call (as one read back from storage per complaint: it shares the plan);
"new definition" a calendar never seen before on every call (the worst case).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregates.business_time import (  # noqa: E402
    Calendar,
    Target,
    due_after,
    working_seconds_between,
)

HOLIDAYS = ["2026-01-01", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20",
            "2026-04-06", "2026-05-01", "2026-05-04", "2026-05-05", "2026-06-19", "2026-09-25",
            "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"]
WORKDAYS = ["2026-02-14", "2026-02-28", "2026-05-09", "2026-09-27", "2026-10-10"]


def typical(timezone: str) -> Calendar:
    hours = [["09:00", "12:00"], ["13:00", "18:00"]]
    return Calendar.from_json(
        "typical",
        {
            "timezone": timezone,
            "working_hours": {day: hours for day in ("mon", "tue", "wed", "thu", "fri")},
            "holidays": HOLIDAYS,
            "workdays": WORKDAYS,
        },
    )


def measure(name: str, calls: int, call: Callable[[int], object]) -> None:
    began = time.perf_counter()
    for i in range(calls):
        call(i)
    elapsed = time.perf_counter() - began
    print(f"  {name:<52} {calls / elapsed:>12,.0f} calls/s  ({elapsed * 1e6 / calls:.1f} µs/call)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--timezone", default="Asia/Shanghai")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    year = datetime(2026, 1, 1, tzinfo=UTC)
    starts = [year + timedelta(seconds=rng.randrange(365 * 86_400)) for _ in range(args.calls)]
    week_ends = [s + timedelta(seconds=rng.randrange(7 * 86_400)) for s in starts]
    quarter_ends = [s + timedelta(seconds=rng.randrange(91 * 86_400)) for s in starts]
    calendar = typical(args.timezone)
    first_response, resolution = Target.parse("PT4H"), Target.parse("P3D")
    cold = min(args.calls, 10_000)

    print(f"business time on {args.timezone}, Mon-Fri 09-12 + 13-18, {len(HOLIDAYS)} holidays, "
          f"{len(WORKDAYS)} make-up days; {args.calls:,} starts over 2026")
    measure("due_after PT4H", args.calls, lambda i: due_after(calendar, starts[i], first_response))
    measure("due_after P3D", args.calls, lambda i: due_after(calendar, starts[i], resolution))
    measure("working_seconds_between, up to a week", args.calls,
            lambda i: working_seconds_between(calendar, starts[i], week_ends[i]))
    measure("working_seconds_between, up to a quarter", args.calls,
            lambda i: working_seconds_between(calendar, starts[i], quarter_ends[i]))
    measure("due_after P3D, rebuilt calendar every call", cold,
            lambda i: due_after(replace(calendar), starts[i], resolution))
    measure("working_seconds_between quarter, rebuilt every call", cold,
            lambda i: working_seconds_between(replace(calendar), starts[i], quarter_ends[i]))
    unseen = [replace(calendar, holidays=calendar.holidays | {date(2099, 1, 1) - timedelta(i)})
              for i in range(cold)]
    measure("due_after P3D, new definition every call", cold,
            lambda i: due_after(unseen[i], starts[i], resolution))
    unseen = [replace(c, workdays=c.workdays | {date(2099, 1, 3)}) for c in unseen]
    measure("working_seconds_between quarter, new definition", cold,
            lambda i: working_seconds_between(unseen[i], starts[i], quarter_ends[i]))

if __name__ == "__main__":
    main()
