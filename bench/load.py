"""Command load generator (issue 10): closed and open loop, with same-run references and ratios.

Each complaint goes through the realistic mix file -> assign -> comment (customer-visible) -> close,
so commands are a quarter of each type. Phases, each ``--seconds`` long:

- closed loop at 16 and 64 connections (``--closed``): every connection sends its next command as
  soon as the previous one is answered; latency from send to answer.
- open loop at 500 and 1,000 commands/s (``--rates``): command i is *scheduled* at start + i/rate,
  types cycling file, assign, comment, close; an assign/comment/close takes the oldest complaint
  whose previous step was answered, and a connection from a pool (opened on demand, up to
  ``--max-connections``). Latency runs from the scheduled time, so time spent waiting for a
  connection or for a slow previous step counts (no coordinated omission). Commands still unsent
  when the phase ends are reported as ``late``.

References measured in the same run, with ratios printed:
- ``bare``: the same stack (FastAPI + uvicorn, same worker count) answering 201 to
  ``POST /complaints`` after validating a ``FileComplaint`` body, no storage, no auth; served by
  this script in child processes. Closed loop at the same connection counts.
- ``pgbench``: single-row INSERT + COMMIT at 16 clients, on PostgreSQL only and if ``pgbench`` is on
  PATH (else skipped with a note).

Every phase prints commands/s, p50/p90/p99/max per command type and overall, errors by status
(0 = connection error), the client's own CPU seconds per second (``time.process_time``; servers run
in child processes, so this is the load generator alone), the server processes' CPU s/s (serve,
its workers and the projections worker; not PostgreSQL) and the whole machine's busy CPU s/s.

The client is one asyncio event loop. ``--client raw`` (default) is a minimal keep-alive HTTP/1.1
client on asyncio streams (about 25 us of CPU per request measured here); ``--client httpx`` uses
httpx.AsyncClient (HTTP/1.1 keep-alive), about 1 ms per request: it saturates a core near 1,000
requests/s, so it would measure itself. Run both to see it.

    uv run python bench/load.py                                            # SQLite, serve as is
    uv run python bench/load.py --database-url postgresql://postgres@127.0.0.1/bench \\
        --workers 3 --projections worker
    uv run python bench/load.py --url http://127.0.0.1:8000 --token clt_...   # a running server
    uv run python bench/load.py --seconds 3 --closed 16 --rates 500 --client httpx
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI, Response

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commands.models import FileComplaint  # noqa: E402
from tests.intake import intake  # noqa: E402  (a realistic intake body, shared with the tests)

MIX: list[tuple[str, str, dict[str, Any]]] = [  # (name, path after /complaints/{id}, body)
    ("assign", "/assign", {"assignee": "agent-1", "team": "east"}),
    ("comment", "/comments", {"body": "We have received it.", "visibility": "customer"}),
    ("close", "/close", {"resolution_code": "resolved", "summary": "Replaced the item."}),
]
KINDS = ["file"] + [name for name, _, _ in MIX]
FILE_BODY = json.dumps(intake()).encode()
STEP_BODIES = {name: (path, json.dumps(body).encode()) for name, path, body in MIX}


# --- HTTP clients ---------------------------------------------------------------------------------


class RawConnection:
    """One keep-alive HTTP/1.1 connection on asyncio streams: frames a request, reads a
    Content-Length body. About a tenth of httpx's CPU per request."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.head = (
            f"Host: {host}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, payload: bytes) -> tuple[int, bytes]:
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            self.writer.write(
                b"POST " + path.encode() + b" HTTP/1.1\r\n" + self.head
                + str(len(payload)).encode() + b"\r\n\r\n" + payload
            )
            head = await self.reader.readuntil(b"\r\n\r\n")
            match = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            body = await self.reader.readexactly(int(match.group(1))) if match else b""
            if re.search(rb"(?i)\r\nconnection: *close", head):
                self.close()
            return int(head[9:12]), body
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self.close()
            return 0, b""

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Client:
    """``await client.post(path, body)`` over a pool of at most ``limit`` connections."""

    def __init__(self, kind: str, url: str, token: str, limit: int) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.token = parts.hostname or "127.0.0.1", parts.port or 80, token
        self.kind, self.limit, self.opened = kind, limit, 0
        self.idle: asyncio.Queue[RawConnection] = asyncio.Queue()
        self.httpx = (
            httpx.AsyncClient(
                base_url=url,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
                timeout=60,
            )
            if kind == "httpx"
            else None
        )

    async def post(self, path: str, payload: bytes) -> tuple[int, bytes]:
        if self.httpx is not None:
            try:
                response = await self.httpx.post(path, content=payload)
            except httpx.HTTPError:
                return 0, b""
            return response.status_code, response.content
        if self.idle.empty() and self.opened < self.limit:
            self.opened += 1
            conn = RawConnection(self.host, self.port, self.token)
        else:
            conn = await self.idle.get()
        try:
            return await conn.post(path, payload)
        finally:
            self.idle.put_nowait(conn)

    async def close(self) -> None:
        if self.httpx is not None:
            await self.httpx.aclose()
        while not self.idle.empty():
            self.idle.get_nowait().close()


# --- measurement ----------------------------------------------------------------------------------


def pct(ordered: list[float], p: float) -> float:
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


class ProcessCpu:
    """CPU seconds of a set of processes and all their descendants, from /proc (Linux)."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids

    def _tree(self) -> set[int]:
        parents: dict[int, list[int]] = defaultdict(list)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(fields[1])].append(int(stat.parent.name))
        seen, todo = set(), list(self.pids)
        while todo:
            pid = todo.pop()
            if pid not in seen:
                seen.add(pid)
                todo += parents[pid]
        return seen

    def seconds(self) -> float:
        total = 0
        for pid in self._tree():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        return total / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds all cores spent not idle (PostgreSQL included), from /proc/stat."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


@dataclass
class Phase:
    title: str
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[int] = field(default_factory=Counter)
    late: int = 0
    elapsed: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float | None = None
    machine_cpu: float = 0.0

    def record(self, kind: str, status: int, seconds: float) -> bool:
        self.latencies[kind].append(seconds)
        if 200 <= status < 300:
            return True
        self.errors[status] += 1
        return False

    @property
    def rate(self) -> float:
        return sum(map(len, self.latencies.values())) / self.elapsed

    def print(self) -> None:
        every = sorted(v for vs in self.latencies.values() for v in vs)
        print(f"\n{self.title}")
        cpu = f"client CPU {self.client_cpu / self.elapsed:.2f} s/s"
        if self.server_cpu is not None:
            cpu += f", server CPU {self.server_cpu / self.elapsed:.2f} s/s"
        cpu += f", machine busy {self.machine_cpu / self.elapsed:.2f} of {os.cpu_count()} cores"
        print(f"  {len(every)} commands in {self.elapsed:.2f} s = {self.rate:,.0f}/s; {cpu}")
        print(f"  {'command':<8} {'n':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        rows = [(k, sorted(self.latencies[k])) for k in KINDS if k in self.latencies]
        for name, vs in [*rows, ("all", every)]:
            print(
                f"  {name:<8} {len(vs):>7} "
                + " ".join(f"{pct(vs, p) * 1e3:>8.1f}" for p in (50, 90, 99, 100))
            )
        if self.errors:
            print(f"  errors by status: {dict(sorted(self.errors.items()))}")
        if self.late:
            print(f"  late: {self.late} scheduled commands not sent when the phase ended")


async def measure(
    phase: Phase, cpu: ProcessCpu | None, run: Awaitable[None]
) -> Phase:
    """Awaits ``run`` (a coroutine not started yet) and prints ``phase`` with the CPU it cost."""
    c0, s0, t0 = time.process_time(), cpu.seconds() if cpu else 0.0, time.perf_counter()
    m0 = machine_busy()
    await run
    phase.machine_cpu = machine_busy() - m0
    phase.elapsed = time.perf_counter() - t0
    phase.client_cpu = time.process_time() - c0
    phase.server_cpu = cpu.seconds() - s0 if cpu else None
    phase.print()
    return phase


async def closed_loop(
    client: Client, connections: int, seconds: float, phase: Phase, file_only: bool = False
) -> None:
    """``connections`` workers, each sending complaint after complaint through the mix."""
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            status, data = await client.post("/complaints", FILE_BODY)
            if not phase.record("file", status, time.perf_counter() - t) or file_only:
                continue
            cid = json.loads(data)["id"]
            for name in KINDS[1:]:
                if time.perf_counter() >= deadline:
                    return
                path, body = STEP_BODIES[name]
                t = time.perf_counter()
                status, _ = await client.post(f"/complaints/{cid}{path}", body)
                if not phase.record(name, status, time.perf_counter() - t):
                    break

    await asyncio.gather(*(worker() for _ in range(connections)))


async def open_loop(client: Client, rate: float, seconds: float, phase: Phase) -> None:
    """Command i scheduled at start + i/rate; latency from the scheduled time."""
    # Complaints whose previous step was answered, by the step they wait for (None: it failed).
    ready: dict[str, asyncio.Queue[str | None]] = {k: asyncio.Queue() for k in KINDS[1:]}
    start = time.perf_counter()
    end = start + seconds

    async def command(i: int, scheduled: float) -> None:
        kind = KINDS[i % 4]
        following = KINDS[i % 4 + 1] if i % 4 < 3 else None
        if kind == "file":
            status, data = await client.post("/complaints", FILE_BODY)
            ok = phase.record(kind, status, time.perf_counter() - scheduled)
            cid = json.loads(data)["id"] if ok else None
        else:
            cid = await ready[kind].get()
            if cid is None:  # its previous step failed: skip this one too
                if following:
                    ready[following].put_nowait(None)
                return
            path, body = STEP_BODIES[kind]
            status, _ = await client.post(f"/complaints/{cid}{path}", body)
            ok = phase.record(kind, status, time.perf_counter() - scheduled)
        if following:
            ready[following].put_nowait(cid if ok else None)

    tasks = []
    i = 0
    while (scheduled := start + i / rate) < end:
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(command(i, scheduled)))
        i += 1
    # Let the commands sent by the end finish; the ones still waiting for a connection or for their
    # previous step after a grace period are reported as late.
    done, pending = await asyncio.wait(tasks, timeout=max(5.0, seconds))
    phase.late = len(pending)
    for task in pending:
        task.cancel()


# --- servers --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            httpx.post(f"{url}/complaints", timeout=1)  # any answer will do
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def start_app(
    database_url: str, workers: int, projections: str
) -> tuple[list[subprocess.Popen[bytes]], str, str]:
    env = {
        **os.environ,
        "COMPLAINTS_DATABASE_URL": database_url,
        "COMPLAINTS_LOG_LEVEL": "warning",
        "COMPLAINTS_WEBHOOKS_IN_SERVE": "false",
    }
    token = subprocess.run(  # the same way as bench/commands.py: an agent token from the CLI
        ["complaints", "tokens", "create", "--name", "bench", "--role", "agent"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()
    port = free_port()
    serve = ["complaints", "serve", "--port", str(port), "--workers", str(workers)]
    procs = [
        subprocess.Popen(
            serve + ([] if projections == "in-serve" else ["--no-projections"]),
            env=env, stdout=subprocess.DEVNULL,
        )
    ]
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, procs[0])
    if projections == "worker":
        procs.append(
            subprocess.Popen(
                ["complaints", "projections", "run"], env=env, stdout=subprocess.DEVNULL
            )
        )
    if workers > 1:
        time.sleep(3)  # the first process answered; let the others bind their SO_REUSEPORT sockets
    return procs, url, token


def bare_app() -> Any:
    """FastAPI answering 201 to POST /complaints after validating a FileComplaint; no storage.
    A `def` route, like the real one (it runs in the thread pool too)."""
    app = FastAPI()

    @app.post("/complaints", status_code=201)
    def file_complaint(command: FileComplaint) -> Response:
        return Response(
            json.dumps({"id": str(uuid.uuid4()), "subject": command.subject}),
            201,
            media_type="application/json",
        )

    return app


def serve_bare(port: int) -> None:
    """One bare-route process on an SO_REUSEPORT socket (as `serve --workers N` does)."""
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    uvicorn.Server(uvicorn.Config(bare_app(), log_level="warning")).run(sockets=[sock])


def start_bare(workers: int) -> tuple[list[subprocess.Popen[bytes]], str]:
    port = free_port()
    procs = [
        subprocess.Popen([sys.executable, __file__, "--serve-bare", str(port)])
        for _ in range(workers)
    ]
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, procs[0])
    if workers > 1:
        time.sleep(3)
    return procs, url


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_pgbench(database_url: str, clients: int, seconds: float) -> float | None:
    """tps of single-row INSERT + COMMIT (autocommit) at ``clients`` clients, or None (skipped)."""
    if not shutil.which("pgbench"):
        print("\npgbench: skipped (pgbench is not on PATH)")
        return None
    import psycopg

    table = "bench_load_pgbench"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, body text NOT NULL)")
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
            script.write(f"INSERT INTO {table} (body) VALUES (repeat('x', 400));\n")
            script.flush()
            out = subprocess.run(
                ["pgbench", "-n", "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 2)),
                 "-T", str(max(1, round(seconds))), "-f", script.name, database_url],
                capture_output=True, text=True,
            )
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    match = re.search(r"tps = ([\d.]+)", out.stdout)
    if not match:
        print(f"\npgbench: failed ({out.stderr.strip()[-300:]})")
        return None
    tps = float(match.group(1))
    latency = re.search(r"latency average = ([\d.]+) ms", out.stdout)
    print(
        f"\npgbench, single-row INSERT + COMMIT, {clients} clients, {seconds:.0f} s: {tps:,.0f} tps"
        + (f", latency average {latency.group(1)} ms" if latency else "")
    )
    return tps


# --- main -----------------------------------------------------------------------------------------


async def drive(
    args: argparse.Namespace, url: str, token: str, cpu: ProcessCpu | None
) -> dict[str, Phase]:
    phases: dict[str, Phase] = {}
    label = f"{args.target}, {args.client} client"
    if args.warmup > 0:
        client = Client(args.client, url, token, 16)
        await closed_loop(client, 16, args.warmup, Phase("warm-up"))
        await client.close()
    for n in args.closed:
        client = Client(args.client, url, token, n)
        phase = Phase(f"closed loop, {n} connections, {label}")
        phases[f"closed {n}"] = await measure(
            phase, cpu, closed_loop(client, n, args.seconds, phase)
        )
        await client.close()
    for rate in args.rates:
        client = Client(args.client, url, token, args.max_connections)
        phase = Phase(f"open loop, offered {rate:,.0f} commands/s, {label}")
        phases[f"open {rate:g}"] = await measure(
            phase, cpu, open_loop(client, rate, args.seconds, phase)
        )
        print(f"  connections opened: {client.opened}") if args.client == "raw" else None
        await client.close()
    return phases


async def drive_bare(args: argparse.Namespace, url: str, cpu: ProcessCpu) -> dict[int, Phase]:
    phases = {}
    for n in args.closed:
        client = Client(args.client, url, "none", n)
        phase = Phase(f"bare route (validate FileComplaint, 201, no storage), closed loop, {n}"
                      f" connections, {args.workers} process(es), {args.client} client")
        phases[n] = await measure(
            phase, cpu, closed_loop(client, n, args.seconds, phase, file_only=True)
        )
        await client.close()
    return phases


def numbers(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", default="sqlite:///var/bench-load.db",
        help="store of the server this script starts (default: %(default)s); a postgresql://"
        " URL also enables the pgbench reference (with --url too: then only for pgbench)",
    )
    parser.add_argument("--workers", type=int, default=1,
                        help="`serve --workers N` (and the bare route's process count)")
    parser.add_argument(
        "--projections", choices=["in-serve", "worker", "none"], default="in-serve",
        help="read models kept inside `serve` (the embedded default), in a separate"
        " `complaints projections run` process, or nowhere (write path alone)",
    )
    parser.add_argument("--url", help="target an already running server instead of starting one")
    parser.add_argument("--token", help="bearer token (agent role) for --url")
    parser.add_argument("--seconds", type=float, default=10,
                        help="length of each phase (default: %(default)s)")
    parser.add_argument("--warmup", type=float, default=1,
                        help="seconds of unrecorded closed-loop load first (0: none)")
    parser.add_argument("--closed", type=numbers, default=[16, 64],
                        help="closed-loop connection counts, comma-separated (default: 16,64)")
    parser.add_argument("--rates", type=numbers, default=[500, 1000],
                        help="open-loop offered commands/s, comma-separated (default: 500,1000)")
    parser.add_argument("--max-connections", type=int, default=256,
                        help="connection pool cap in open loop (default: %(default)s)")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw",
                        help="raw asyncio streams (cheap) or httpx.AsyncClient")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare-route reference")
    parser.add_argument("--no-pgbench", action="store_true", help="skip the pgbench reference")
    parser.add_argument("--pgbench-clients", type=int, default=16,
                        help="pgbench clients (default: %(default)s)")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    args.rates = [float(r) for r in args.rates]
    args.closed = [int(n) for n in args.closed]

    if args.url:
        procs: list[subprocess.Popen[bytes]] = []
        url, token = args.url, args.token or ""
        args.target = args.url
    else:
        procs, url, token = start_app(args.database_url, args.workers, args.projections)
        args.target = (f"{args.database_url.split(':')[0]}, serve --workers {args.workers},"
                       f" projections {args.projections}")
    print(f"target: {args.target}; mix per complaint: {' -> '.join(KINDS)} (a quarter each);"
          f" {args.seconds:g} s per phase; client CPU is this process alone")
    try:
        phases = asyncio.run(drive(args, url, token, ProcessCpu([p.pid for p in procs]) if procs
                                   else None))
    finally:
        stop(procs)

    bare: dict[int, Phase] = {}
    if not args.no_bare:
        bare_procs, bare_url = start_bare(args.workers)
        try:
            bare = asyncio.run(drive_bare(args, bare_url, ProcessCpu([p.pid for p in bare_procs])))
        finally:
            stop(bare_procs)
    tps = None
    if args.database_url.startswith("postgresql") and not args.no_pgbench:
        tps = run_pgbench(args.database_url, args.pgbench_clients, args.seconds)
    elif not args.no_pgbench:
        print("\npgbench: skipped (--database-url is not PostgreSQL)")

    print("\nsummary (ratios within this run; open loop: achieved / offered)")
    print(f"  {'phase':<12} {'cmd/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'client CPU':>10}"
          f" {'server CPU':>10} {'machine':>8} {'/ bare':>7} {'/ pgbench':>9}")
    rows = [(name, phase, "file" if name.startswith("bare") else None)
            for name, phase in [*phases.items(), *((f"bare {n}", p) for n, p in bare.items())]]
    for name, phase, _ in rows:
        every = sorted(v for vs in phase.latencies.values() for v in vs)
        kind, n = name.split()
        ref = bare.get(int(n)) if kind == "closed" else None
        ratio = (f"{phase.rate / ref.rate:>7.3f}" if ref
                 else f"{phase.rate / float(n):>7.3f}" if kind == "open" else f"{'-':>7}")
        server = f"{phase.server_cpu / phase.elapsed:>8.2f}/s" if phase.server_cpu else f"{'-':>10}"
        server += f" {phase.machine_cpu / phase.elapsed:>6.2f}/s"
        print(
            f"  {name:<12} {phase.rate:>8,.0f} {pct(every, 50) * 1e3:>7.1f} "
            f"{pct(every, 99) * 1e3:>7.1f} {phase.client_cpu / phase.elapsed:>8.2f}/s {server} "
            + ratio + (f" {phase.rate / tps:>9.3f}" if tps and kind != "bare" else f" {'-':>9}")
        )
    if tps:
        print(f"  {'pgbench ' + str(args.pgbench_clients):<12} {tps:>8,.0f}")

if __name__ == "__main__":
    main()
