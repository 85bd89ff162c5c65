"""Benchmark: the projection runner's CPU per event in tail mode, at a fixed batch size.

    uv run python bench/rebuild.py generate --db URL --complaints 4000     # ~36k events, once
    uv run python bench/projection_tail.py --db URL --batch 5 --events 5000

Under a steady command load the worker wakes, reads the few events that arrived since its last
batch and applies them in one transaction; how many depends on the rate and the batch delay
(at 400 commands/s, about 2.5 events each, and 20 ms of delay: ~20 positions). This replays a
generated store (``bench/generated_store.py``) the same way, without the load and its noise: the
views are rebuilt up to ``--start`` (default: the store's head minus ``--events``), then the
runner is shown a head that moves ``--batch`` positions at a time and catches up after each move
(``Runner.catch_up``, as ``run_forever`` calls it after each wake-up: positions read, head read,
a page read and decoded, one transaction for every view). It prints this process's CPU (all its
threads: the reader too) per position and per batch, and the wall time per batch. PostgreSQL's
own CPU is not counted (it runs in other processes).

``--repeat`` runs the measured stretch again from the same start (the views are reset and rebuilt
to ``--start`` each time) and prints the median. Run it from each checkout (a baseline, a change)
alternately against the same store: the views are rebuilt, the events are only read.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.bootstrap import bootstrap  # noqa: E402
from infra.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="COMPLAINTS_DATABASE_URL of the bench store")
    parser.add_argument("--batch", type=int, default=5, help="positions per wake-up")
    parser.add_argument("--events", type=int, default=5000, help="positions measured")
    parser.add_argument("--start", type=int, help="position the views are rebuilt up to first")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    settings = Settings(database_url=args.db, projection_batch_delay_seconds=0)
    with bootstrap(settings) as services:
        runner = services.runner()
        store = runner.store
        real_head = store.head()
        start = args.start if args.start is not None else max(0, real_head - args.events)
        end = min(real_head, start + args.events)
        shown = [start]
        store.head = lambda: shown[0]  # type: ignore[method-assign]
        results = []
        for _ in range(args.repeat):
            shown[0] = start
            runner.rebuild()
            batches = 0
            cpu0, wall0 = time.process_time(), time.perf_counter()
            while shown[0] < end:
                shown[0] = min(end, shown[0] + args.batch)
                runner.catch_up()
                batches += 1
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            results.append((cpu, wall, batches))
            print(f"  {end - start} positions in {batches} batches of {args.batch}: "
                  f"CPU {cpu / (end - start) * 1e3:.3f} ms per position, "
                  f"{cpu / batches * 1e3:.2f} ms per batch; wall {wall / batches * 1e3:.2f} ms "
                  f"per batch", flush=True)
        cpu = statistics.median(r[0] for r in results)
        wall = statistics.median(r[1] for r in results)
        print(f"median: CPU {cpu / (end - start) * 1e3:.3f} ms per position, "
              f"{cpu / results[0][2] * 1e3:.2f} ms per batch; "
              f"wall {wall / results[0][2] * 1e3:.2f} ms per batch "
              f"(batch {args.batch}, positions {start}..{end})")


if __name__ == "__main__":
    main()
