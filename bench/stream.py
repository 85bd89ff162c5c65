"""Event-stream benchmark: read throughput to one consumer, and command-to-SSE latency under load.

Starts `complaints serve` on a free port against a fresh store, seeds it, then measures
  1. cursor API throughput: GET /events?after=..&limit=1000 until caught up (events/s);
  2. SSE throughput: GET /events/stream from position 0 until the seeded events arrived (events/s);
  3. end-to-end latency: while commands are sent at --rate per second over HTTP, the time from a
     command's acknowledgement (HTTP response received) to its event arriving on an open SSE stream.
     Negative values would mean the event arrived before the acknowledgement; they are kept.

    uv run python bench/stream.py \
        --database-url 'postgresql://postgres@127.0.0.1:5432/test?schema=bench_stream'
    uv run python bench/stream.py --database-url sqlite:///var/bench_stream.db

The PostgreSQL schema (never `public`) or SQLite file is emptied first.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commands.context import CommandContext  # noqa: E402
from commands.models import FileComplaint  # noqa: E402
from infra.bootstrap import bootstrap  # noqa: E402
from infra.settings import Settings  # noqa: E402
from tests.intake import intake  # noqa: E402  (a realistic intake body, shared with the tests)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def fresh_store(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.startswith("postgres"):
        schema = parse_qs(parts.query).get("schema", [""])[0]
        if not schema or schema == "public":
            raise SystemExit("use ?schema=NAME (not public): the benchmark empties it")
        with psycopg.connect(url.split("?", 1)[0], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{schema}"')
    else:
        path = Path(url.split("://", 1)[1][1:])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def seed(url: str, complaints: int) -> str:
    services = bootstrap(Settings(database_url=url))
    app = services.app
    ctx = CommandContext(principal="bench", role="supervisor", correlation_id="bench")
    token = app.tokens.issue("bench", "admin", ctx).secret
    command = FileComplaint.model_validate(intake())
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: app.file_complaint(command, ctx), range(complaints)))
    services.close()
    return token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "COMPLAINTS_DATABASE_URL": url,
        "COMPLAINTS_WEBHOOKS_IN_SERVE": "false",
        "COMPLAINTS_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", "from api.cli import main; main()", "serve", "--port", str(port)],
        env=env, cwd=Path(__file__).resolve().parents[1],
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def cursor_throughput(http: httpx.Client) -> tuple[int, float]:
    after, count, started = 0, 0, time.perf_counter()
    while True:
        body = http.get("/events", params={"after": after, "limit": 1000}).json()
        count += len(body["events"])
        if not body["events"]:
            return count, time.perf_counter() - started
        after = body["next_cursor"]


def sse_lines(http: httpx.Client, after: int, on_event: Any, stop: threading.Event) -> None:
    with http.stream("GET", "/events/stream", params={"after": after}) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                if on_event(json.loads(line[6:])) is False:
                    return
            if stop.is_set():
                return


def sse_throughput(http: httpx.Client, total: int) -> float:
    received = 0
    started = time.perf_counter()

    def count(_: dict[str, Any]) -> bool:
        nonlocal received
        received += 1
        return received < total

    sse_lines(http, 0, count, threading.Event())
    return time.perf_counter() - started


def latency_under_load(
    base: str, headers: dict[str, str], rate: float, seconds: float, head: int
) -> tuple[list[float], int, float]:
    acked: dict[int, float] = {}
    arrived: dict[int, float] = {}
    stop = threading.Event()
    lock = threading.Lock()

    def on_event(event: dict[str, Any]) -> None:
        arrived[event["position"]] = time.perf_counter()

    listener_client = httpx.Client(base_url=base, headers=headers, timeout=30)
    listener = threading.Thread(
        target=sse_lines, args=(listener_client, head, on_event, stop), daemon=True
    )
    listener.start()
    time.sleep(0.5)

    senders = 16  # enough that a slow response does not hold the schedule back
    interval = senders / rate  # each sender keeps its own schedule

    def send(index: int) -> int:
        sent = 0
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            start = time.perf_counter() + index * interval / senders
            complaint: str | None = None
            while True:
                due = start + sent * interval
                if due - start > seconds:
                    return sent
                time.sleep(max(0.0, due - time.perf_counter()))
                if complaint is None or sent % 3 == 0:
                    response = http.post("/complaints", json=intake())
                else:
                    response = http.post(
                        f"/complaints/{complaint}/comments",
                        json={"body": f"update {sent}", "visibility": "internal"},
                    )
                now = time.perf_counter()
                body = response.json()
                complaint = body["id"]
                with lock:
                    acked[body["position"]] = now
                sent += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(senders) as pool:
        sent = sum(pool.map(send, range(senders)))
    elapsed = time.perf_counter() - started
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not set(acked) <= set(arrived):
        time.sleep(0.05)
    stop.set()
    missing = set(acked) - set(arrived)
    if missing:
        print(f"  WARNING: {len(missing)} events never arrived on the stream")
    latencies = [arrived[p] - acked[p] for p in acked if p in arrived]
    return latencies, sent, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgresql://postgres@127.0.0.1:5432/test?schema=bench_stream"
    )
    parser.add_argument("--seed", type=int, default=5000, help="complaints filed before reading")
    parser.add_argument("--rate", type=float, default=200.0, help="commands per second under load")
    parser.add_argument("--seconds", type=float, default=15.0, help="duration of the load phase")
    args = parser.parse_args()

    fresh_store(args.database_url)
    print(f"store: {args.database_url}")
    t = time.perf_counter()
    token = seed(args.database_url, args.seed)
    print(f"seeded {args.seed} complaints in {time.perf_counter() - t:.1f} s")
    proc, base = start_server(args.database_url)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            count, elapsed = cursor_throughput(http)
            print(
                f"cursor API: {count} events in {elapsed:.2f} s = "
                f"{count / elapsed:,.0f} events/s (limit=1000)"
            )
            elapsed = sse_throughput(http, count)
            rate = count / elapsed
            print(f"SSE:        {count} events in {elapsed:.2f} s = {rate:,.0f} events/s")
            head = int(http.get("/projections").json()["head"])
        latencies, sent, elapsed = latency_under_load(
            base, headers, args.rate, args.seconds, head
        )
        ms = [v * 1000 for v in latencies]
        print(
            f"load: {sent} commands in {elapsed:.1f} s = {sent / elapsed:,.0f} commands/s "
            f"(target {args.rate:.0f})"
        )
        print(
            f"ack -> SSE latency over {len(ms)} events: p50 {percentile(ms, 50):.1f} ms, "
            f"p99 {percentile(ms, 99):.1f} ms, max {max(ms):.1f} ms, "
            f"mean {statistics.fmean(ms):.1f} ms"
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
