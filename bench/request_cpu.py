"""CPU time per request of the read routes and of a command, in one process, without a network.

Calls the ASGI application directly (as uvicorn would, minus the socket), ``--concurrency``
requests in flight on one event loop, and divides the process's CPU time (all its threads:
the event loop, the thread pool, psycopg's client side; not the database server) by the number
of requests. CPU time, not wall time, so the figure barely moves when other processes share the
machine, which makes it the one to compare changes of the request cycle with; requests/s come
from ``bench/load.py``.

    uv run python bench/request_cpu.py --database-url postgresql://postgres@127.0.0.1/bench
    uv run python bench/request_cpu.py --route list --requests 5000
    uv run python bench/request_cpu.py --route comment     # POST /complaints/{id}/comments
    BENCH_CHECKOUT=../base uv run python bench/request_cpu.py   # another checkout's code
    uv run python bench/request_cpu.py --route file --customers-view   # the view kept caught up
    uv run python bench/request_cpu.py --route file --customers 100000   # a new customer each

``BENCH_CHECKOUT``: import the application from that directory instead of this checkout (same
dependencies), to compare a change with the commit before it in one sitting.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHECKOUT = Path(os.environ.get("BENCH_CHECKOUT") or Path(__file__).resolve().parents[1]).resolve()
sys.path.insert(0, str(CHECKOUT))

from api.app import create_app  # noqa: E402
from commands.context import CommandContext  # noqa: E402
from commands.models import FileComplaint  # noqa: E402
from infra.bootstrap import bootstrap  # noqa: E402
from infra.settings import Settings  # noqa: E402
from projections.runner import BackgroundRunner  # noqa: E402
from tests.intake import intake  # noqa: E402

COMMENT = b'{"body": "We are looking into it.", "visibility": "customer"}'
ASSIGN = [b'{"assignee": "agent-a"}', b'{"assignee": "agent-b"}']
CLOSE = b'{"resolution_code": "resolved", "summary": "Refunded."}'


def filings(customers: int) -> list[bytes]:
    """Intake bodies for ``customers`` customers, each with an order of their own."""
    if customers == 1:
        return [json.dumps(intake()).encode()]
    base = intake()
    return [
        json.dumps(intake(
            customer={**base["customer"], "id": f"CUST-{i:06d}"},
            product={**base["product"], "order_number": f"SO-{i:06d}"},
        )).encode()
        for i in range(customers)
    ]


async def call(api: Any, path: str, token: str, body: bytes = b"") -> int:
    """One GET (or, with a body, POST) through the whole ASGI stack; its status."""
    route, _, query = path.partition("?")
    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode())]
    if body:
        headers += [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": "POST" if body else "GET",
        "scheme": "http", "path": route, "raw_path": route.encode(), "root_path": "",
        "query_string": query.encode(), "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000), "headers": headers,
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await api(scope, receive, send)
    return status


async def run(
    api: Any, paths: list[str], token: str, requests: int, concurrency: int,
    bodies: list[bytes], bursts: bool = False,
) -> float:
    """CPU seconds per request over ``requests`` requests after a warm-up. With ``bursts``:
    after the warm-up, print ``ready``, then for each number N read from standard input run N
    requests and print their CPU seconds, their number and the event loop thread's CPU
    seconds alone (``bench/request_cpu_pair.py`` drives two checkouts
    so, alternating short bursts, which cancels most of a shared machine's drift)."""
    visits: dict[str, int] = {}

    async def worker(n: int, first: int) -> None:
        # Each worker starts elsewhere in ``paths``: commands on one complaint at once conflict.
        for i in range(first, first + n):
            path = paths[i % len(paths)]
            # A path's bodies in turn (assign: to one agent, then the other).
            visit = visits[path] = visits.get(path, -1) + 1
            status = await call(api, path, token, bodies[visit % len(bodies)])
            if status not in (200, 201):
                raise SystemExit(f"{path} answered {status}")

    spread = max(1, len(paths) // concurrency)
    done = 0
    loop_cpus: list[float] = []  # the event loop's thread alone (not the writer, the executor)

    async def burst(n: int) -> float:
        nonlocal done
        each = max(1, n // concurrency)
        cpu, loop_cpu = time.process_time(), time.thread_time()
        await asyncio.gather(*(worker(each, w * spread + done) for w in range(concurrency)))
        done += each
        loop_cpus.append(time.thread_time() - loop_cpu)
        return time.process_time() - cpu

    await burst(50 * concurrency)  # warm-up
    if not bursts:
        return await burst(requests) / (requests // concurrency * concurrency)
    print("ready", flush=True)
    for line in sys.stdin:
        n = int(line)
        cpu = await burst(n)
        print(cpu, n // concurrency * concurrency, loop_cpus[-1], flush=True)
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="default: a new SQLite file in a temporary "
                        "directory (the data keys there are wrapped by that run's own key)")
    parser.add_argument("--route", choices=["one", "list", "comment", "file", "assign", "close"],
                        default="one",
                        help="GET /complaints/{id} (over --complaints ids), GET /complaints,"
                        " POST /complaints/{id}/comments, POST /complaints,"
                        " POST /complaints/{id}/assign (two agents in turn) or"
                        " POST /complaints/{id}/close (each complaint once: --complaints above"
                        " 800 + --requests) (commands; the writer included)")
    parser.add_argument("--complaints", type=int, default=100)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--customers-view", action="store_true",
                        help="run the customers view in a background thread (its CPU counted),"
                        " so that a filing's customer history has a short tail; without it"
                        " the tail grows by every filing")
    parser.add_argument("--customers", type=int, default=1,
                        help="--route file: the filings' customers (and orders) in turn; the"
                        " default files every complaint for one customer, whose history then"
                        " answers up to 200 prior complaints per filing (the repeat-complaint"
                        " path's worst case); more customers than filings make each filing a"
                        " new customer's (the common case: no history, a new data key)")
    parser.add_argument("--bursts", action="store_true",
                        help="driven by bench/request_cpu_pair.py (see run())")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as files:
        settings = Settings(
            database_url=args.database_url or f"sqlite:///{files}/bench.db",
            secret_key_file=f"{files}/secret.key",
            admin_token_file=f"{files}/admin-token",
        )
        with bootstrap(settings) as services:
            ctx = CommandContext(principal="bench", role="agent", correlation_id="bench")
            # An agent may assign only to themselves; a supervisor to anyone.
            role = "supervisor" if args.route == "assign" else "agent"
            token = services.app.tokens.issue("bench", role, ctx).secret
            ids = [
                services.app.file_complaint(FileComplaint(**intake()), ctx).complaint_id
                for _ in range(args.complaints)
            ]
            if args.route == "list":
                services.runner().catch_up()
            paths = {
                "one": [f"/complaints/{cid}" for cid in ids],
                "list": ["/complaints?limit=50"],
                "comment": [f"/complaints/{cid}/comments" for cid in ids],
                "file": ["/complaints"],
                "assign": [f"/complaints/{cid}/assign" for cid in ids],
                "close": [f"/complaints/{cid}/close" for cid in ids],
            }[args.route]
            bodies = {
                "comment": [COMMENT], "file": filings(args.customers),
                "assign": ASSIGN, "close": [CLOSE],
            }.get(args.route, [b""])
            view = BackgroundRunner(services.runner(["customers"])) if args.customers_view else None
            if view is not None:
                view.start()
            try:
                per_request = asyncio.run(run(
                    create_app(services), paths, token, args.requests, args.concurrency, bodies,
                    args.bursts,
                ))
            finally:
                if view is not None:
                    view.stop()
            if args.bursts:
                return
    shown = {"one": "GET /complaints/{id}", "list": f"GET {paths[0]}",
             "comment": "POST /complaints/{id}/comments", "file": "POST /complaints",
             "assign": "POST /complaints/{id}/assign",
             "close": "POST /complaints/{id}/close"}[args.route]
    sealed = getattr(settings, "encrypt_personal_data", False)  # absent in older checkouts
    print(f"{CHECKOUT.name}: {shown}: "
          f"{per_request * 1e6:,.0f} us CPU per request ({args.requests:,} requests,"
          f" {args.concurrency} in flight, {(args.database_url or 'sqlite').split(':')[0]},"
          f"{' customers view running,' if args.customers_view else ''}"
          f"{f' {args.customers:,} customers,' if args.customers > 1 else ''}"
          f" personal data {'sealed' if sealed else 'plain'})")


if __name__ == "__main__":
    main()
