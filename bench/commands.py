"""Command throughput and latency: file N complaints, then assign, comment and close each.

In-process (the application service called from threads) or over HTTP against `complaints serve`
(started by this script on a free port, or an already running one with --url/--token).

    uv run python bench/commands.py --mode inproc --database-url sqlite:///var/bench.db
    uv run python bench/commands.py --mode http --database-url postgresql://postgres@127.0.0.1/bench
    uv run python bench/commands.py --mode http --url http://127.0.0.1:8000 --token clt_...

Prints commands/s and p50/p99 latency per command type and overall.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.intake import intake  # noqa: E402  (a realistic intake body, shared with the tests)

STEPS: list[tuple[str, dict[str, Any]]] = [
    ("assign", {"assignee": "agent-1", "team": "east"}),
    ("comments", {"body": "We have received your complaint.", "visibility": "customer"}),
    ("close", {"resolution_code": "resolved", "summary": "Replaced the item."}),
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def report(title: str, latencies: dict[str, list[float]], elapsed: float) -> None:
    every = [v for vs in latencies.values() for v in vs]
    print(f"\n{title}")
    print(f"  commands: {len(every)} in {elapsed:.2f} s = {len(every) / elapsed:,.0f} commands/s")
    print(f"  {'command':<10} {'n':>7} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for name, vs in [*latencies.items(), ("all", every)]:
        print(
            f"  {name:<10} {len(vs):>7} {percentile(vs, 50) * 1e3:>8.1f} "
            f"{percentile(vs, 99) * 1e3:>8.1f} {statistics.fmean(vs) * 1e3:>8.1f}"
        )


def run_inproc(database_url: str, complaints: int, concurrency: int) -> None:
    from commands.context import CommandContext
    from commands.models import AssignComplaint, CloseComplaint, CommentOnComplaint, FileComplaint
    from infra.bootstrap import bootstrap
    from infra.settings import Settings

    services = bootstrap(Settings(database_url=database_url, pool_size=concurrency))
    app = services.app
    ctx = CommandContext("bench", "agent", uuid.uuid4().hex)
    body = FileComplaint.model_validate(intake())
    latencies: dict[str, list[float]] = defaultdict(list)
    lock = threading.Lock()
    remaining = iter(range(complaints))

    def worker() -> None:
        while True:
            with lock:
                if next(remaining, None) is None:
                    return
            timings = []
            t = time.perf_counter()
            cid = app.file_complaint(body, ctx).complaint_id
            timings.append(("file", time.perf_counter() - t))
            for name, command in (
                ("assign", AssignComplaint(assignee="a", team="t")),
                ("comments", CommentOnComplaint(body="hi")),
                ("close", CloseComplaint(resolution_code="resolved", summary="ok")),
            ):
                t = time.perf_counter()
                app.handle(cid, command, ctx)
                timings.append((name, time.perf_counter() - t))
            with lock:
                for name, dt in timings:
                    latencies[name].append(dt)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    report(
        f"in-process, {database_url.split(':')[0]}, {concurrency} threads, {complaints} complaints",
        latencies,
        time.perf_counter() - start,
    )
    services.close()


class Connection:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams.

    httpx costs about as much CPU per request as the server under test, and on a 2-core machine the
    load generator would then measure itself; this client only frames requests and reads
    Content-Length bodies.
    """

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.auth = f"Authorization: Bearer {token}\r\n".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        return await self.request("POST", path, json.dumps(body).encode())

    async def request(self, method: str, path: str, payload: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n".encode()
            + self.auth
            + b"Content-Type: application/json\r\nContent-Length: "
            + str(len(payload)).encode()
            + b"\r\n\r\n"
            + payload
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
        return status, await self.reader.readexactly(length)


class LagProbe:
    """Measures read-model lag: from a command's acknowledgement to the moment the ``complaints``
    projection has processed its position (then the row is visible: rows and position commit in
    one transaction). A thread reads the tracking position straight from the database every
    ``interval`` seconds (not through the loaded API, whose queueing would add to the figure), so
    figures carry up to that much rounding up."""

    def __init__(self, database_url: str, interval: float = 0.002) -> None:
        from infra.bootstrap import bootstrap
        from infra.settings import Settings

        self.services = bootstrap(Settings(database_url=database_url, create_tables=False))
        self.app = self.services.app
        self.store = self.services.read_models
        self.interval = interval
        self.lock = threading.Lock()
        self.pending: list[tuple[int, float]] = []
        self.lags: list[float] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def acknowledged(self, body: bytes) -> None:
        with self.lock:
            self.pending.append((json.loads(body)["position"], time.perf_counter()))

    def run(self) -> None:
        while True:
            position = self.store.position("complaint_list")
            now = time.perf_counter()
            with self.lock:
                if self.done.is_set() and not self.pending:
                    return
                self.lags += [now - acked for wanted, acked in self.pending if wanted <= position]
                self.pending = [(w, a) for w, a in self.pending if w > position]
            time.sleep(self.interval)

    def __enter__(self) -> LagProbe:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=30)
        self.services.close()

    def report(self) -> None:
        if self.lags:
            print(
                f"  projection lag (ack -> visible in complaints), n={len(self.lags)}: "
                f"p50 {percentile(self.lags, 50) * 1e3:.1f} ms, "
                f"p99 {percentile(self.lags, 99) * 1e3:.1f} ms, "
                f"max {max(self.lags) * 1e3:.1f} ms"
            )


async def drive_http(
    url: str, token: str, complaints: int, concurrency: int, probe: LagProbe | None = None
) -> None:
    parts = urlsplit(url)
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[int, int] = defaultdict(int)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(complaints):
        queue.put_nowait(i)
    body = intake()

    async def worker() -> None:
        conn = Connection(parts.hostname or "127.0.0.1", parts.port or 80, token)

        async def send(name: str, path: str, payload: dict[str, Any]) -> bytes | None:
            t = time.perf_counter()
            status, data = await conn.post(path, payload)
            latencies[name].append(time.perf_counter() - t)
            if status >= 300:
                errors[status] += 1
                return None
            if probe is not None:
                probe.acknowledged(data)
            return data

        while not queue.empty():
            queue.get_nowait()
            created = await send("file", "/complaints", body)
            if created is None:
                continue
            cid = json.loads(created)["id"]
            for name, step in STEPS:
                await send(name, f"/complaints/{cid}/{name}", step)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    report(
        f"HTTP {url}, {concurrency} concurrent clients, {complaints} complaints", latencies, elapsed
    )
    if errors:
        print(f"  errors by status: {dict(errors)}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(
    database_url: str, workers: int, projections: str
) -> tuple[list[subprocess.Popen[bytes]], str, str]:
    env = {
        **os.environ,
        "COMPLAINTS_DATABASE_URL": database_url,
        "COMPLAINTS_LOG_LEVEL": "warning",
        "COMPLAINTS_WEBHOOKS_IN_SERVE": "false",
    }
    token = subprocess.run(
        ["complaints", "tokens", "create", "--name", "bench", "--role", "agent"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    proc = subprocess.Popen(
        ["complaints", "serve", "--port", str(port), "--workers", str(workers)]
        + ([] if projections == "in-serve" else ["--no-projections"]),
        env=env,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(f"{url}/health", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    procs = [proc]
    if projections == "worker":
        procs.append(
            subprocess.Popen(
                ["complaints", "projections", "run"], env=env, stdout=subprocess.DEVNULL
            )
        )
    if workers > 1:
        # /health answered from the first process; give the others time to bind their sockets,
        # or every keep-alive connection lands on the first.
        time.sleep(3)
    return procs, url, token


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--mode", choices=["inproc", "http"], default="http")
    parser.add_argument("--database-url", default="sqlite:///var/bench-commands.db")
    parser.add_argument("--url", help="an already running server (skips starting one)")
    parser.add_argument("--token", help="bearer token for --url")
    parser.add_argument("--complaints", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="server processes to start")
    parser.add_argument(
        "--projections",
        choices=["in-serve", "worker", "none"],
        default="in-serve",
        help="where the read models are kept while commands run: inside `serve` (the embedded"
        " default), in a separate `complaints projections run` process (production), or nowhere",
    )
    parser.add_argument(
        "--lag",
        action="store_true",
        help="also measure projection lag (command ack -> visible in the complaints view)",
    )
    args = parser.parse_args()
    if args.mode == "inproc":
        run_inproc(args.database_url, args.complaints, args.concurrency)
        return
    procs, url, token = (
        ([], args.url, args.token)
        if args.url
        else serve(args.database_url, args.workers, args.projections)
    )
    try:
        if args.lag:
            with LagProbe(args.database_url) as probe:
                asyncio.run(drive_http(url, token, args.complaints, args.concurrency, probe))
            probe.report()
        else:
            asyncio.run(drive_http(url, token, args.complaints, args.concurrency))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
