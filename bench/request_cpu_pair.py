"""CPU per request of two checkouts, measured in alternating short bursts.

Starts ``bench/request_cpu.py --bursts`` twice, one importing this checkout (or ``--this DIR``)
and one importing ``--base DIR``, each on its own database, both set up and warmed up first; then
runs ``--rounds`` bursts of ``--burst`` requests on each in turn (the one that goes first
alternates). It prints the process's CPU per request and the event loop thread's alone (a
command's request path without the group-commit writer, whose CPU per command depends on how
many commands each batch happened to hold). On a shared, noisy machine the load drifts by 2x
in a minute; bursts of a second or two each see nearly the same machine, so the ratio is
steadier than that of two whole runs.

    uv run python bench/request_cpu_pair.py --base ../api-base --route one \\
        --database-url postgresql://postgres@127.0.0.1/pair_this \\
        --base-database-url postgresql://postgres@127.0.0.1/pair_base

Other arguments (``--complaints``, ``--concurrency``) go to both. Each database should be new
(its data keys are wrapped by that run's own key).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve()


def start(checkout: Path, url: str | None, extra: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "BENCH_CHECKOUT": str(checkout)}
    command = [sys.executable, str(HERE.with_name("request_cpu.py")), "--bursts", *extra]
    if url:
        command += ["--database-url", url]
    return subprocess.Popen(
        command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == "ready":
            return
    raise SystemExit(f"the benchmark exited ({process.wait()}) before it was ready")


def burst(process: subprocess.Popen[str], n: int) -> tuple[float, int, float]:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(f"{n}\n")
    process.stdin.flush()
    line = process.stdout.readline()
    if not line:
        raise SystemExit(f"the benchmark exited ({process.wait()}) during a burst")
    cpu, done, loop_cpu = line.split()
    return float(cpu), int(done), float(loop_cpu)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", required=True, type=Path, help="the other checkout")
    parser.add_argument("--this", type=Path, default=HERE.parents[1])
    parser.add_argument("--database-url")
    parser.add_argument("--base-database-url")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--burst", type=int, default=400, help="requests per burst")
    args, extra = parser.parse_known_args()

    base = start(args.base.resolve(), args.base_database_url, extra)
    ready(base)  # one after the other: setting up is CPU-heavy and would disturb the other
    this = start(args.this.resolve(), args.database_url, extra)
    ready(this)
    ratios = []
    totals = {"base": [0.0, 0, 0.0], "this": [0.0, 0, 0.0]}
    try:
        for i in range(args.rounds):
            order = [("base", base), ("this", this)]
            if i % 2:
                order.reverse()
            per = {}
            for name, process in order:
                cpu, done, loop_cpu = burst(process, args.burst)
                totals[name][0] += cpu
                totals[name][1] += done
                totals[name][2] += loop_cpu
                per[name] = cpu / done
            ratios.append(per["this"] / per["base"])
            print(f"round {i + 1}: base {per['base'] * 1e6:,.0f} us, this "
                  f"{per['this'] * 1e6:,.0f} us, ratio {ratios[-1]:.3f}", flush=True)
    finally:
        for process in (base, this):
            assert process.stdin is not None
            process.stdin.close()
            process.wait()
    per_base = totals["base"][0] / totals["base"][1] * 1e6
    per_this = totals["this"][0] / totals["this"][1] * 1e6
    loop_base = totals["base"][2] / totals["base"][1] * 1e6
    loop_this = totals["this"][2] / totals["this"][1] * 1e6
    print(f"{' '.join(extra)}: base {per_base:,.0f} us, this {per_this:,.0f} us per request; "
          f"ratio {per_this / per_base:.3f} (median of rounds {statistics.median(ratios):.3f});"
          f" event loop thread alone: base {loop_base:,.0f} us, this {loop_this:,.0f} us,"
          f" ratio {loop_this / loop_base:.3f}")


if __name__ == "__main__":
    main()
