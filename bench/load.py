"""Load generator (issue 10): commands in closed and open loop, reads in closed loop, with
same-run references and ratios.

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
- reads in closed loop at 16 and 64 connections (``--gets``): ``GET /complaints/{id}`` cycling over
  the ids of the complaints filed earlier in this run (the warm-up and the command phases; with
  neither, ``--seed`` complaints are filed first), then ``GET /complaints`` (the list view's first
  page, 50 rows).

References measured in the same run, with ratios printed:
- ``bare``: the same stack (FastAPI + uvicorn, same worker count) answering 201 to
  ``POST /complaints`` after validating a ``FileComplaint`` body, no storage, no auth; and ``bare
  get``: an ``async def`` route answering ``GET /complaints/{id}`` with a complaint's JSON built
  once at start. Served by this script in child processes; closed loop at the same connection
  counts.
- ``pgbench``: single-row INSERT + COMMIT at 16 clients, on PostgreSQL only and if ``pgbench`` is on
  PATH (else skipped with a note).
- ``--baseline DIR``: a second server started from another checkout (e.g. the commit before a
  change) on its own store (``--baseline-database-url``); every phase runs against it right before
  the same phase against this checkout, and the summary prints this / baseline.

Every phase prints requests/s, p50/p90/p99/max per request type and overall, errors by status
(0 = connection error), the client's own CPU seconds per second (``time.process_time``; servers run
in child processes, so this is the load generator alone), the server processes' CPU s/s (serve,
its workers and the projections worker; not PostgreSQL), the local PostgreSQL server's CPU s/s
(all its backends, whoever they serve) and the whole machine's busy CPU s/s. Before each phase
a PostgreSQL store is analyzed (``ANALYZE``, not timed; ``--no-analyze`` to skip): these machines
run PostgreSQL with autovacuum off, which would leave a new store's planner statistics empty.

The client is one asyncio event loop. ``--client raw`` (default) is a minimal keep-alive HTTP/1.1
client on asyncio streams (about 25 us of CPU per request measured here); ``--client httpx`` uses
httpx.AsyncClient (HTTP/1.1 keep-alive), about 1 ms per request: it saturates a core near 1,000
requests/s, so it would measure itself. Run both to see it.

    uv run python bench/load.py                                            # SQLite, serve as is
    uv run python bench/load.py --database-url postgresql://postgres@127.0.0.1/bench \\
        --workers 3 --projections worker
    uv run python bench/load.py --url http://127.0.0.1:8000 --token clt_...   # a running server
    uv run python bench/load.py --seconds 3 --closed 16 --rates 500 --client httpx
    uv run python bench/load.py --closed '' --rates '' --gets 16,64 \\
        --baseline ../base --baseline-database-url sqlite:////tmp/base.db     # reads, vs. baseline
    uv run python bench/load.py --baseline . --baseline-database-url sqlite:////tmp/plain.db \\
        --baseline-env COMPLAINTS_ENCRYPT_PERSONAL_DATA=false     # a setting's cost, same run
    uv run python bench/load.py --database-url postgresql://postgres@127.0.0.1/bench \\
        --workers 3 --projections worker --statements 25   # PostgreSQL's time per statement
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI, Response

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from projection_lag import LagProbe  # noqa: E402  (bench/projection_lag.py)

from commands.models import FileComplaint  # noqa: E402
from tests.intake import intake  # noqa: E402  (a realistic intake body, shared with the tests)

MIX: list[tuple[str, str, dict[str, Any]]] = [  # (name, path after /complaints/{id}, body)
    ("assign", "/assign", {"assignee": "agent-1", "team": "east"}),
    ("comment", "/comments", {"body": "We have received it.", "visibility": "customer"}),
    ("close", "/close", {"resolution_code": "resolved", "summary": "Replaced the item."}),
]
KINDS = ["file"] + [name for name, _, _ in MIX]
CUSTOMERS = 5_000
"""Filings are spread over this many customers (and orders), as a real intake is: with a single
customer every filing would look up, link and flag that customer's growing history (issue 12's
repeat-complaint rules), which measures the repeat path, not the common one."""
FILE_BODIES = [
    json.dumps(intake(
        customer={**intake()["customer"], "id": f"CUST-{n:05d}", "phone": f"1380{n:07d}",
                  "email": f"customer.{n}@example.com"},
        product={**intake()["product"], "order_number": f"SO-2026-{n:06d}"},
    )).encode()
    for n in range(CUSTOMERS)
]
FILE_BODY = FILE_BODIES[0]  # the bare reference validates one body; its content costs the same
_next_body = itertools.cycle(FILE_BODIES)


def file_body() -> bytes:
    """The next filing's body, cycling over ``CUSTOMERS`` customers."""
    return next(_next_body)
STEP_BODIES = {name: (path, json.dumps(body).encode()) for name, path, body in MIX}
LIST_PATH = "/complaints?limit=50"


# --- HTTP clients ---------------------------------------------------------------------------------


class RawConnection:
    """One keep-alive HTTP/1.1 connection on asyncio streams: frames a request, reads a
    Content-Length body. About a tenth of httpx's CPU per request."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.head = f"Host: {host}\r\nAuthorization: Bearer {token}\r\n".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, payload: bytes | None) -> tuple[int, bytes]:
        framed = b"%s %s HTTP/1.1\r\n" % (method.encode(), path.encode()) + self.head
        if payload is not None:
            framed += b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(
                payload
            ) + payload
        else:
            framed += b"\r\n"
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            self.writer.write(framed)
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
    """``await client.post(path, body)`` / ``client.get(path)`` over a pool of at most ``limit``
    connections."""

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
        return await self.request("POST", path, payload)

    async def get(self, path: str) -> tuple[int, bytes]:
        return await self.request("GET", path, None)

    async def request(self, method: str, path: str, payload: bytes | None) -> tuple[int, bytes]:
        if self.httpx is not None:
            try:
                response = await self.httpx.request(method, path, content=payload)
            except httpx.HTTPError:
                return 0, b""
            return response.status_code, response.content
        if self.idle.empty() and self.opened < self.limit:
            self.opened += 1
            conn = RawConnection(self.host, self.port, self.token)
        else:
            conn = await self.idle.get()
        try:
            return await conn.request(method, path, payload)
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


def postgres_cpu() -> ProcessCpu | None:
    """The local PostgreSQL server's processes (the postmaster and its backends), if it runs
    on this machine: its CPU is the part of "machine busy" that no client or server process
    of this script reports."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, rest = stat.read_text().split("(", 1)[1].rsplit(")", 1)
        except (OSError, ValueError):
            continue
        if name == "postgres" and rest.split()[1] == "1":  # the postmaster: its parent is init
            return ProcessCpu([int(stat.parent.name)])
    return None


POSTGRES = postgres_cpu()


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
    worker_cpu: float | None = None
    """CPU seconds of the projections worker alone (``--projections worker``)."""
    positions: int = 0
    """Positions the views moved through during the phase (with ``--lag``)."""
    machine_cpu: float = 0.0
    postgres_cpu: float | None = None
    """CPU seconds of the local PostgreSQL server (every backend, whoever's)."""
    lag: LagProbe | None = None
    """With --lag: acknowledged commands' positions go here (projection lag)."""
    unseen: int = 0

    def record(self, kind: str, status: int, seconds: float, body: bytes = b"") -> bool:
        self.latencies[kind].append(seconds)
        if 200 <= status < 300:
            if self.lag is not None and body:
                self.lag.acknowledged(json.loads(body)["position"])
            return True
        self.errors[status] += 1
        return False

    @property
    def requests(self) -> int:
        return sum(map(len, self.latencies.values()))

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed

    def print(self) -> None:
        every = sorted(v for vs in self.latencies.values() for v in vs)
        print(f"\n{self.title}")
        cpu = f"client CPU {self.client_cpu / self.elapsed:.2f} s/s"
        if self.server_cpu is not None:
            cpu += f", server CPU {self.server_cpu / self.elapsed:.2f} s/s"
        cpu += f", machine busy {self.machine_cpu / self.elapsed:.2f} of {os.cpu_count()} cores"
        print(f"  {len(every)} requests in {self.elapsed:.2f} s = {self.rate:,.0f}/s; {cpu}")
        if self.postgres_cpu is not None and every:
            print(f"  PostgreSQL server CPU {self.postgres_cpu / self.elapsed:.2f} s/s,"
                  f" {self.postgres_cpu / len(every) * 1e3:.3f} ms per request")
        if self.worker_cpu is not None:
            per_event = (
                f", {self.worker_cpu / self.positions * 1e3:.3f} ms per position"
                f" ({self.positions} positions, {self.positions / max(1, len(every)):.2f} per"
                " request)" if self.positions else ""
            )
            print(f"  projections worker CPU {self.worker_cpu / self.elapsed:.2f} s/s,"
                  f" {self.worker_cpu / max(1, len(every)) * 1e3:.3f} ms per request{per_event}")
        print(f"  {'request':<8} {'n':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        rows = [(k, sorted(vs)) for k, vs in self.latencies.items()]
        for name, vs in [*rows, ("all", every)] if len(rows) > 1 else rows:
            print(
                f"  {name:<8} {len(vs):>7} "
                + " ".join(f"{pct(vs, p) * 1e3:>8.1f}" for p in (50, 90, 99, 100))
            )
        if self.errors:
            print(f"  errors by status: {dict(sorted(self.errors.items()))}")
        if self.late:
            print(f"  late: {self.late} scheduled commands not sent when the phase ended")
        if self.lag is not None and self.lag.lags:
            lags = sorted(self.lag.lags)
            print(
                f"  projection lag (acknowledged -> visible in every view), n={len(lags)}:"
                f" p50 {pct(lags, 50) * 1e3:.0f} ms, p99 {pct(lags, 99) * 1e3:.0f} ms,"
                f" max {lags[-1] * 1e3:.0f} ms; never visible within 30 s: {self.unseen}"
            )


async def measure(
    phase: Phase,
    cpu: ProcessCpu | None,
    run: Awaitable[None],
    worker: ProcessCpu | None = None,
    postgres: ProcessCpu | None = None,
) -> Phase:
    """Awaits ``run`` (a coroutine not started yet) and prints ``phase`` with the CPU it cost
    (``worker``: the projections worker's alone, too; ``postgres``: the database server's)."""
    c0, s0, t0 = time.process_time(), cpu.seconds() if cpu else 0.0, time.perf_counter()
    w0 = worker.seconds() if worker else 0.0
    p0 = phase.lag.reached if phase.lag else 0
    m0 = machine_busy()
    g0 = postgres.seconds() if postgres else 0.0
    await run
    phase.machine_cpu = machine_busy() - m0
    phase.postgres_cpu = postgres.seconds() - g0 if postgres else None
    phase.elapsed = time.perf_counter() - t0
    phase.client_cpu = time.process_time() - c0
    phase.server_cpu = cpu.seconds() - s0 if cpu else None
    phase.worker_cpu = worker.seconds() - w0 if worker else None
    phase.positions = phase.lag.reached - p0 if phase.lag and p0 else 0
    if phase.lag is not None:
        phase.unseen = await asyncio.to_thread(phase.lag.stop)
    phase.print()
    return phase


# --- load shapes ----------------------------------------------------------------------------------


async def closed_loop(
    client: Client,
    connections: int,
    seconds: float,
    phase: Phase,
    file_only: bool = False,
    filed: list[str] | None = None,
) -> None:
    """``connections`` workers, each sending complaint after complaint through the mix; the ids
    filed go to ``filed`` (for the read phases)."""
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            status, data = await client.post("/complaints", file_body())
            if not phase.record("file", status, time.perf_counter() - t, data):
                continue
            cid = json.loads(data)["id"]
            if filed is not None:
                filed.append(cid)
            if file_only:
                continue
            for name in KINDS[1:]:
                if time.perf_counter() >= deadline:
                    return
                path, body = STEP_BODIES[name]
                t = time.perf_counter()
                status, data = await client.post(f"/complaints/{cid}{path}", body)
                if not phase.record(name, status, time.perf_counter() - t, data):
                    break

    await asyncio.gather(*(worker() for _ in range(connections)))


async def open_loop(
    client: Client, rate: float, seconds: float, phase: Phase, filed: list[str] | None = None
) -> None:
    """Command i scheduled at start + i/rate; latency from the scheduled time."""
    # Complaints whose previous step was answered, by the step they wait for (None: it failed).
    ready: dict[str, asyncio.Queue[str | None]] = {k: asyncio.Queue() for k in KINDS[1:]}
    start = time.perf_counter()
    end = start + seconds

    async def command(i: int, scheduled: float) -> None:
        kind = KINDS[i % 4]
        following = KINDS[i % 4 + 1] if i % 4 < 3 else None
        if kind == "file":
            status, data = await client.post("/complaints", file_body())
            ok = phase.record(kind, status, time.perf_counter() - scheduled, data)
            cid = json.loads(data)["id"] if ok else None
            if cid is not None and filed is not None:
                filed.append(cid)
        else:
            cid = await ready[kind].get()
            if cid is None:  # its previous step failed: skip this one too
                if following:
                    ready[following].put_nowait(None)
                return
            path, body = STEP_BODIES[kind]
            status, data = await client.post(f"/complaints/{cid}{path}", body)
            ok = phase.record(kind, status, time.perf_counter() - scheduled, data)
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


async def read_loop(
    client: Client, connections: int, seconds: float, phase: Phase, kind: str, paths: list[str]
) -> None:
    """``connections`` workers, each sending GET after GET, cycling over ``paths`` together."""
    deadline = time.perf_counter() + seconds
    cycle = itertools.cycle(paths)

    async def worker() -> None:
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            status, _ = await client.get(next(cycle))
            phase.record(kind, status, time.perf_counter() - t)

    await asyncio.gather(*(worker() for _ in range(connections)))


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


@dataclass
class Target:
    """A server under load: where it listens, its token, its processes, the ids filed on it."""

    label: str
    url: str
    token: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    filed: list[str] = field(default_factory=list)
    database_url: str | None = None
    """Its store, for the projection-lag probe (None: not measured)."""

    worker: subprocess.Popen[bytes] | None = None
    """The ``projections run`` process (``--projections worker``)."""

    @property
    def cpu(self) -> ProcessCpu | None:
        return ProcessCpu([p.pid for p in self.procs]) if self.procs else None

    @property
    def worker_cpu(self) -> ProcessCpu | None:
        return ProcessCpu([self.worker.pid]) if self.worker else None


def complaints_command(checkout: str | None) -> list[str]:
    """The ``complaints`` CLI of this checkout (on PATH under ``uv run``) or of another one."""
    if checkout is None:
        return ["complaints"]
    executable = Path(checkout).resolve() / ".venv" / "bin" / "complaints"
    if not executable.exists():
        subprocess.run(["uv", "sync", "--quiet", "--project", checkout], check=True)
    return [str(executable)]


RUN_FILES = Path(tempfile.mkdtemp(prefix="bench-load-"))


def bench_token(complaints: list[str], env: dict[str, str], cwd: Path | None) -> str:
    """A token that may run the whole mix: a supervisor of the team the mix assigns to (the
    permission table, issue 11); a checkout from before teams existed takes an agent token."""
    made = None
    for role in (["--role", "supervisor", "--team", "east"], ["--role", "agent"]):
        made = subprocess.run(
            [*complaints, "tokens", "create", "--name", "bench", *role],
            env=env, capture_output=True, text=True, cwd=cwd,
        )
        if made.returncode == 0:
            return made.stdout.strip()
    raise RuntimeError(f"tokens create failed: {made.stderr.strip() if made else ''}")


def start_app(
    label: str,
    database_url: str,
    workers: int,
    projections: str,
    checkout: str | None = None,
    log_level: str = "warning",
    extra_env: dict[str, str] | None = None,
) -> Target:
    env = {
        **os.environ,
        "COMPLAINTS_DATABASE_URL": database_url,
        "COMPLAINTS_LOG_LEVEL": log_level,
        "COMPLAINTS_WEBHOOKS_IN_SERVE": "false",
        # The servers' key files (the service key wraps the customers' data keys) in a directory
        # of this run, never in the work tree's var/.
        "COMPLAINTS_SECRET_KEY_FILE": str(RUN_FILES / f"{label}-secret.key"),
        "COMPLAINTS_ADMIN_TOKEN_FILE": str(RUN_FILES / f"{label}-admin-token"),
        **(extra_env or {}),
    }
    complaints = complaints_command(checkout)
    # Another checkout runs from its own directory, so that nothing of this one is imported.
    cwd = Path(checkout).resolve() if checkout else None
    token = bench_token(complaints, env, cwd)
    port = free_port()
    serve = [*complaints, "serve", "--port", str(port), "--workers", str(workers)]
    procs = [
        subprocess.Popen(
            serve + ([] if projections == "in-serve" else ["--no-projections"]),
            env=env, stdout=subprocess.DEVNULL, cwd=cwd,
        )
    ]
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, procs[0])
    if projections == "worker":
        procs.append(
            subprocess.Popen(
                [*complaints, "projections", "run"], env=env, stdout=subprocess.DEVNULL, cwd=cwd
            )
        )
    if workers > 1:
        time.sleep(3)  # the first process answered; let the others bind their SO_REUSEPORT sockets
    worker = procs[1] if projections == "worker" else None
    return Target(label, url, token, procs, database_url=database_url, worker=worker)


def bare_app() -> Any:
    """FastAPI answering 201 to POST /complaints after validating a FileComplaint (a `def` route,
    like the real one: it runs in the thread pool too), and GET /complaints/{id} with a
    complaint's JSON made once (an `async def` route: the framework's floor for a read)."""
    app = FastAPI()
    one = json.dumps({"id": str(uuid.uuid4()), "version": 4, **intake()}).encode()

    @app.post("/complaints", status_code=201)
    def file_complaint(command: FileComplaint) -> Response:
        return Response(
            json.dumps({"id": str(uuid.uuid4()), "subject": command.subject}),
            201,
            media_type="application/json",
        )

    @app.get("/complaints/{complaint_id}")
    async def get_one(complaint_id: str) -> Response:
        return Response(one, media_type="application/json", headers={"ETag": '"4"'})

    return app


def serve_bare(port: int) -> None:
    """One bare-route process on an SO_REUSEPORT socket (as `serve --workers N` does)."""
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    uvicorn.Server(uvicorn.Config(bare_app(), log_level="warning")).run(sockets=[sock])


def start_bare(workers: int) -> Target:
    port = free_port()
    procs = [
        subprocess.Popen([sys.executable, __file__, "--serve-bare", str(port)])
        for _ in range(workers)
    ]
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, procs[0])
    if workers > 1:
        time.sleep(3)
    return Target("bare", url, "none", procs, filed=[str(uuid.uuid4())])


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


# --- phases ---------------------------------------------------------------------------------------

# A phase: its key in the summary ("closed 16", "get 64"...), what it prints as its title, and how
# to run it against a target: (client, phase) -> a coroutine. Each makes a fresh client of
# ``limit`` connections.
@dataclass(frozen=True)
class PhaseSpec:
    key: str
    title: str
    limit: int
    run: Callable[[Client, Phase, Target], Awaitable[None]]


def command_phases(args: argparse.Namespace) -> list[PhaseSpec]:
    specs = [
        PhaseSpec(
            f"closed {n}", f"closed loop, {n} connections", n,
            lambda c, p, t, n=n: closed_loop(c, n, args.seconds, p, filed=t.filed),
        )
        for n in args.closed
    ]
    specs += [
        PhaseSpec(
            f"open {rate:g}", f"open loop, offered {rate:,.0f} commands/s", args.max_connections,
            lambda c, p, t, rate=rate: open_loop(c, rate, args.seconds, p, filed=t.filed),
        )
        for rate in args.rates
    ]
    return specs


def one_path(target: Target) -> list[str]:
    return [f"/complaints/{cid}" for cid in target.filed]


def read_phases(args: argparse.Namespace) -> list[PhaseSpec]:
    specs = [
        PhaseSpec(
            f"get {n}", f"GET /complaints/{{id}}, closed loop, {n} connections", n,
            lambda c, p, t, n=n: read_loop(c, n, args.seconds, p, "get one", one_path(t)),
        )
        for n in args.gets
        if "one" in args.reads
    ]
    specs += [
        PhaseSpec(
            f"list {n}", f"GET {LIST_PATH}, closed loop, {n} connections", n,
            lambda c, p, t, n=n: read_loop(c, n, args.seconds, p, "list", [LIST_PATH]),
        )
        for n in args.gets
        if "list" in args.reads
    ]
    return specs


def bare_phases(args: argparse.Namespace) -> list[PhaseSpec]:
    specs = [
        PhaseSpec(
            f"bare {n}",
            f"bare route (validate FileComplaint, 201, no storage), closed loop, {n} connections",
            n, lambda c, p, t, n=n: closed_loop(c, n, args.seconds, p, file_only=True),
        )
        for n in args.closed
    ]
    specs += [
        PhaseSpec(
            f"bare get {n}",
            f"bare GET /complaints/{{id}} (async def, fixed body), closed loop, {n} connections",
            n, lambda c, p, t, n=n: read_loop(c, n, args.seconds, p, "get one", one_path(t)),
        )
        for n in args.gets
    ]
    return specs


async def run_phases(
    args: argparse.Namespace, specs: list[PhaseSpec], targets: list[Target]
) -> dict[tuple[str, str], Phase]:
    """Each phase against every target in turn (the baseline first), so that both see the same
    machine within seconds of each other."""
    phases: dict[tuple[str, str], Phase] = {}
    for spec in specs:
        for target in targets:
            for proc in target.procs:
                if proc.poll() is not None:
                    print(f"\nwarning: {target.label}: {proc.args} exited with {proc.returncode}")
            client = Client(args.client, target.url, target.token, spec.limit)
            phase = Phase(f"{spec.title}, {target.label}, {args.client} client")
            if args.lag and target.database_url and spec.key.split()[0] in ("closed", "open"):
                phase.lag = LagProbe(target.database_url).start()
            store = target.database_url or ""
            on_postgres = store.startswith("postgresql")
            if on_postgres and args.analyze:
                await asyncio.to_thread(analyze, store)
            statements = on_postgres and args.statements and await asyncio.to_thread(
                reset_statements, store
            )
            phases[spec.key, target.label] = await measure(
                phase, target.cpu, spec.run(client, phase, target), target.worker_cpu,
                POSTGRES if on_postgres else None,
            )
            if statements:
                done = phases[spec.key, target.label].requests
                await asyncio.to_thread(print_statements, store, done, args.statements)
            if args.client == "raw" and spec.key.startswith("open"):
                print(f"  connections opened: {client.opened}")
            await client.close()
    return phases


def analyze(database_url: str) -> None:
    """Refreshes the planner's statistics of every table, as autovacuum would have by then on
    a server with it on. The CI machines here run PostgreSQL with ``autovacuum = off``, so a
    store made by the benchmark keeps the statistics of its empty tables: the list page's query
    then sorts every row it may show (7.4 ms) instead of walking an index (0.2 ms)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def reset_statements(database_url: str) -> bool:
    """Empties ``pg_stat_statements`` before a phase; ``False`` (and a note) where the server
    has not loaded it (``shared_preload_libraries``, which takes a restart)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        loaded = conn.execute(
            "SELECT 1 FROM pg_settings WHERE name = 'shared_preload_libraries'"
            " AND 'pg_stat_statements' = ANY(string_to_array(replace(setting, ' ', ''), ','))"
        ).fetchone()
        if not loaded:
            print("  --statements: pg_stat_statements is not in shared_preload_libraries: skipped")
            return False
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT pg_stat_statements_reset()")
    return True


def print_statements(database_url: str, requests: int, top: int) -> None:
    """What PostgreSQL spent per request of the phase, statement by statement: executions, and
    the milliseconds of execution (lock waits included) and of planning, the heaviest first.
    Everything the server ran in that database counts: the lag probe's reads too."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT s.calls, s.total_exec_time, s.total_plan_time,"
            " regexp_replace(s.query, '\\s+', ' ', 'g')"
            " FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
            " WHERE d.datname = current_database()"
            " ORDER BY s.total_exec_time + s.total_plan_time DESC"
        ).fetchall()
    per = max(1, requests)
    calls = sum(r[0] for r in rows)
    execute = sum(r[1] for r in rows)
    plan = sum(r[2] for r in rows)
    print(f"  PostgreSQL statements per request: {calls / per:.2f}; ms per request: execution"
          f" {execute / per:.3f} (lock waits included), planning {plan / per:.3f}")
    print(f"  {'calls/req':>9} {'exec ms/req':>11} {'plan ms/req':>11}  statement")
    for n, ex, pl, query in rows[:top]:
        print(f"  {n / per:>9.3f} {ex / per:>11.4f} {pl / per:>11.4f}  {query[:100]}")


async def prepare(args: argparse.Namespace, target: Target) -> None:
    """Unrecorded warm-up (which files complaints), and a seed for the read phases if nothing
    else files any."""
    if args.warmup > 0:
        client = Client(args.client, target.url, target.token, 16)
        await closed_loop(client, 16, args.warmup, Phase("warm-up"), filed=target.filed)
        await client.close()
    if args.gets and not (args.closed or args.rates) and len(target.filed) < args.seed:
        client = Client(args.client, target.url, target.token, 16)
        phase = Phase("seed")
        while len(target.filed) < args.seed:
            await closed_loop(client, 16, 0.5, phase, file_only=True, filed=target.filed)
        await client.close()
    if args.gets and "list" in args.reads:
        await list_filled(client_of(args, target, 1))


async def list_filled(client: Client, timeout: float = 60) -> None:
    """Waits until the list view has rows (its projection is running and caught up some)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        status, body = await client.get("/complaints?limit=1")
        if status == 200 and json.loads(body)["items"]:
            await client.close()
            return
        await asyncio.sleep(0.2)
    await client.close()
    raise SystemExit("the list view stayed empty: is its projection running?")


def client_of(args: argparse.Namespace, target: Target, limit: int) -> Client:
    return Client(args.client, target.url, target.token, limit)


async def drive(
    args: argparse.Namespace, targets: list[Target]
) -> list[dict[tuple[str, str], Phase]]:
    """Every phase, ``--rounds`` times; the targets' order alternates from round to round, so
    neither always runs first (a machine shared with others drifts)."""
    for target in targets:
        await prepare(args, target)
    specs = command_phases(args) + read_phases(args)
    rounds = []
    for n in range(args.rounds):
        if args.rounds > 1:
            print(f"\n=== round {n + 1} of {args.rounds}")
        rounds.append(await run_phases(args, specs, targets if n % 2 == 0 else targets[::-1]))
    return rounds


def print_rounds(rounds: list[dict[tuple[str, str], Phase]], labels: list[str]) -> None:
    """Medians over the rounds: requests/s and server CPU per request of each target, and of
    the per-round ratio this / baseline."""
    print(f"\nmedians over {len(rounds)} rounds (order alternating)")
    print(f"  {'phase':<12} {'target':<9} {'req/s':>8} {'ms CPU/req':>10} {'/ baseline':>10}"
          f"   per round req/s")
    for key in dict.fromkeys(k for k, _ in rounds[0]):
        for label in labels:
            phases = [r[key, label] for r in rounds if (key, label) in r]
            rates = [p.rate for p in phases]
            cpu = [
                p.server_cpu / max(1, p.requests) * 1e3
                for p in phases if p.server_cpu
            ]
            ratios = [
                r[key, label].rate / r[key, labels[0]].rate
                for r in rounds if label != labels[0] and r[key, labels[0]].rate
            ]
            print(
                f"  {key:<12} {label:<9} {median(rates):>8,.0f} "
                f"{(f'{median(cpu):.3f}' if cpu else '-'):>10} "
                f"{(f'{median(ratios):.3f}' if ratios else '-'):>10}   "
                + " ".join(f"{rate:,.0f}" for rate in rates)
            )


def numbers(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def print_summary(
    phases: dict[tuple[str, str], Phase],
    bare: dict[tuple[str, str], Phase],
    tps: float | None,
    labels: list[str],
) -> None:
    print("\nsummary (ratios within this run; open loop: achieved / offered)")
    print(f"  {'phase':<12} {'target':<9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}"
          f" {'client CPU':>10} {'server CPU':>10} {'ms CPU/req':>10} {'pg ms/req':>9}"
          f" {'machine':>8} {'/ bare':>7}"
          f" {'/ pgbench':>9}"
          + (f" {'/ baseline':>10}" if len(labels) > 1 else ""))
    for (key, label), phase in [*phases.items(), *bare.items()]:
        every = sorted(v for vs in phase.latencies.values() for v in vs)
        *kind, n = key.split()
        kind_ = " ".join(kind)
        ref = bare.get((f"bare {n}" if kind_ == "closed" else f"bare get {n}", "bare"))
        ratio = (f"{phase.rate / ref.rate:>7.3f}" if ref and kind_ in ("closed", "get")
                 else f"{phase.rate / float(n):>7.3f}" if kind_ == "open" else f"{'-':>7}")
        # Server CPU per request varies less than requests/s on a machine shared with others.
        cpu = phase.server_cpu
        server = (
            f"{cpu / phase.elapsed:>8.2f}/s {cpu / len(every) * 1e3:>10.2f}"
            if cpu and every else f"{'-':>10} {'-':>10}"
        )
        server += (f" {phase.postgres_cpu / len(every) * 1e3:>9.2f}"
                   if phase.postgres_cpu is not None and every else f" {'-':>9}")
        server += f" {phase.machine_cpu / phase.elapsed:>6.2f}/s"
        pg = (f" {phase.rate / tps:>9.3f}" if tps and kind_ in ("closed", "open")
              else f" {'-':>9}")
        base = phases.get((key, labels[0])) if len(labels) > 1 and label != labels[0] else None
        print(
            f"  {key:<12} {label:<9} {phase.rate:>8,.0f} {pct(every, 50) * 1e3:>7.1f} "
            f"{pct(every, 99) * 1e3:>7.1f} {phase.client_cpu / phase.elapsed:>8.2f}/s {server} "
            + ratio + pg + (f" {phase.rate / base.rate:>10.3f}" if base else "")
        )
    if tps:
        print(f"  {'pgbench':<12} {'':<9} {tps:>8,.0f}")


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
    parser.add_argument("--log-level", default="warning",
                        help="COMPLAINTS_LOG_LEVEL of the servers started (default: %(default)s;"
                        " info, the documented default, also writes uvicorn's access log)")
    parser.add_argument("--url", help="target an already running server instead of starting one")
    parser.add_argument("--token", help="bearer token (agent role) for --url")
    parser.add_argument("--baseline", metavar="DIR",
                        help="also start a server from the checkout DIR (its .venv; `uv sync` if"
                        " missing) and run every phase against it first")
    parser.add_argument("--baseline-database-url",
                        help="the baseline server's own store (required with --baseline)")
    parser.add_argument("--baseline-env", metavar="KEY=VALUE", action="append", default=[],
                        help="an environment variable of the baseline server alone (repeatable);"
                        " with --baseline . compares one setting within this checkout, e.g."
                        " COMPLAINTS_ENCRYPT_PERSONAL_DATA=false")
    parser.add_argument("--seconds", type=float, default=10,
                        help="length of each phase (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every phase this many times, the targets' order alternating,"
                        " and print medians (default: %(default)s)")
    parser.add_argument("--warmup", type=float, default=1,
                        help="seconds of unrecorded closed-loop load first (0: none)")
    parser.add_argument("--closed", type=numbers, default=[16, 64],
                        help="closed-loop connection counts, comma-separated (default: 16,64)")
    parser.add_argument("--rates", type=numbers, default=[500, 1000],
                        help="open-loop offered commands/s, comma-separated (default: 500,1000)")
    parser.add_argument("--gets", type=numbers, default=[16, 64],
                        help="closed-loop connection counts of the read phases (default: 16,64)")
    parser.add_argument("--reads", type=lambda text: text.split(","), default=["one", "list"],
                        help="which read phases: one (GET /complaints/{id}), list (GET"
                        " /complaints); comma-separated (default: one,list)")
    parser.add_argument("--seed", type=int, default=500,
                        help="complaints filed for the read phases when no command phase runs")
    parser.add_argument("--max-connections", type=int, default=256,
                        help="connection pool cap in open loop (default: %(default)s)")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw",
                        help="raw asyncio streams (cheap) or httpx.AsyncClient")
    parser.add_argument(
        "--lag", action="store_true",
        help="measure projection lag in the command phases: from each acknowledgement until"
        " every view has processed its position (read from the store every 10 ms)",
    )
    parser.add_argument(
        "--no-analyze", dest="analyze", action="store_false",
        help="do not ANALYZE a PostgreSQL store before each phase (by default it does, outside"
        " the measured time, since these machines run PostgreSQL with autovacuum off)",
    )
    parser.add_argument(
        "--statements", type=int, default=0, metavar="N",
        help="after each phase on PostgreSQL, print its N heaviest statements per request from"
        " pg_stat_statements (the server must preload it; skipped with a note if not)",
    )
    parser.add_argument("--no-bare", action="store_true", help="skip the bare-route reference")
    parser.add_argument("--no-pgbench", action="store_true", help="skip the pgbench reference")
    parser.add_argument("--pgbench-clients", type=int, default=16,
                        help="pgbench clients (default: %(default)s)")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    if args.baseline and not args.baseline_database_url:
        parser.error("--baseline needs --baseline-database-url (a store of its own)")
    args.rates = [float(r) for r in args.rates]
    args.closed = [int(n) for n in args.closed]
    args.gets = [int(n) for n in args.gets]

    targets: list[Target] = []
    try:
        if args.baseline:
            baseline_env = dict(item.split("=", 1) for item in args.baseline_env)
            targets.append(start_app("baseline", args.baseline_database_url, args.workers,
                                     args.projections, args.baseline, args.log_level,
                                     baseline_env))
        if args.url:
            targets.append(Target("this", args.url, args.token or ""))
            where = args.url
        else:
            targets.append(start_app("this", args.database_url, args.workers, args.projections,
                                     log_level=args.log_level))
            where = (f"{args.database_url.split(':')[0]}, serve --workers {args.workers},"
                     f" projections {args.projections}")
        print(f"target: {where}"
              + (f"; baseline: {args.baseline} {' '.join(args.baseline_env)}".rstrip()
                 if args.baseline else "")
              + f"; mix per complaint: {' -> '.join(KINDS)} (a quarter each);"
              f" {args.seconds:g} s per phase; client CPU is this process alone")
        rounds = asyncio.run(drive(args, targets))
        phases = rounds[-1]
    finally:
        for target in targets:
            stop(target.procs)

    bare: dict[tuple[str, str], Phase] = {}
    if not args.no_bare and (args.closed or args.gets):
        reference = start_bare(args.workers)
        try:
            bare = asyncio.run(run_phases(args, bare_phases(args), [reference]))
        finally:
            stop(reference.procs)
    tps = None
    if args.database_url.startswith("postgresql") and not args.no_pgbench and (
        args.closed or args.rates
    ):
        tps = run_pgbench(args.database_url, args.pgbench_clients, args.seconds)
    elif not args.no_pgbench:
        print("\npgbench: skipped (--database-url is not PostgreSQL, or no command phase)")
    print_summary(phases, bare, tps, [t.label for t in targets])
    if len(rounds) > 1:
        print_rounds(rounds, [t.label for t in targets])


if __name__ == "__main__":
    main()
