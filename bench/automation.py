"""Filing with routing and the automation rules on, against filing with them off (issue 12).

CPU time per ``POST /complaints`` in one process, through the whole ASGI stack (as
``bench/request_cpu.py`` does), on a fresh store per variant and round, with the projections
running in the same process as ``complaints serve`` runs them (so the extra events the rules
record are paid for where they are applied too). The variants alternate, off first then on
first, so drift on a shared machine falls on both. With routing on, a directory of two teams of
eight agents and three routing rules is set up first; by default one filing in twenty mentions a
lawyer (the ``legal-risk`` rule acts: four more events) and one in seven comes from a customer
who filed before (a repeat link, and ``high_attention`` from the fourth), as ``--sensitive`` and
``--repeat`` say.

    uv run python bench/automation.py
    uv run python bench/automation.py --database-url postgresql://postgres@127.0.0.1/bench_auto
    uv run python bench/automation.py --filings 3000 --rounds 3 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.app import create_app  # noqa: E402
from commands.context import CommandContext  # noqa: E402
from infra.bootstrap import bootstrap  # noqa: E402
from infra.settings import Settings  # noqa: E402
from tests.intake import intake  # noqa: E402

TEAMS = {"east": ["east"], "west": ["west", "north"]}
RULES = {
    "rules": [
        {"name": "vip-quality", "when": {"tier": ["vip"], "category": ["product_quality"]},
         "team": "east"},
        {"name": "east", "when": {"region": ["east"]}, "team": "east"},
        {"name": "rest", "when": {}, "team": "west"},
    ],
    "reason": "benchmark",
}


async def call(api: Any, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    """One request through the ASGI application; its status and JSON answer."""
    raw = json.dumps(body).encode() if body is not None else b""
    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode())]
    if raw:
        headers += [(b"content-type", b"application/json"),
                    (b"content-length", str(len(raw)).encode())]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
        "headers": headers,
    }
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await api(scope, receive, send)
    text = b"".join(chunks)
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


def filings(count: int, seed: int, sensitive: float, repeat: float) -> list[bytes]:
    """``count`` intake bodies: regions and categories mixed; a share ``repeat`` by a customer
    who filed before (the rest by new ones); a share ``sensitive`` mentioning a lawyer."""
    rng = random.Random(seed)
    bodies = []
    for n in range(count):
        customer = rng.randrange(n) if n and rng.random() < repeat else n
        body = intake(
            region=rng.choice(["east", "west", "north"]),
            category=rng.choice(["product_quality", "logistics", "billing"]),
            severity=rng.choice(["low", "medium"]),
        )
        body["customer"] = {**body["customer"], "id": f"CUST-{customer}",
                            "tier": rng.choice(["vip", "standard"])}
        body["product"] = {**body["product"], "order_number": f"SO-{n}"}
        if rng.random() < sensitive:
            body["description"] += " 如果不解决我就找律师起诉。"
        bodies.append(json.dumps(body).encode())
    return bodies


async def set_up_directory(api: Any, token: str) -> None:
    for team, regions in TEAMS.items():
        status, answer = await call(api, "PUT", f"/directory/teams/{team}", token,
                                    {"name": team.title(), "supervisor": f"sup-{team}"})
        if status not in (200, 201):
            raise SystemExit(f"PUT /directory/teams/{team} answered {status}: {answer}")
        for n in range(8):
            agent = {"display_name": f"{team} {n}", "team": team, "available": n != 7,
                     "skills": {"categories": [], "regions": regions, "products": []},
                     "approval_limit": {"amount": "500.00", "currency": "CNY"}}
            status, answer = await call(api, "PUT", f"/directory/agents/{team}-{n}", token, agent)
            if status not in (200, 201):
                raise SystemExit(f"PUT /directory/agents answered {status}: {answer}")
    status, answer = await call(api, "PUT", "/routing/rules", token, RULES)
    if status not in (200, 201):
        raise SystemExit(f"PUT /routing/rules answered {status}: {answer}")


async def file_all(api: Any, token: str, bodies: list[bytes], concurrency: int) -> float:
    """CPU seconds per filing over ``bodies`` (after a warm-up of the first 200)."""
    async def worker(chunk: list[bytes]) -> None:
        for raw in chunk:
            status, answer = await call(api, "POST", "/complaints", token, json.loads(raw))
            if status != 201:
                raise SystemExit(f"POST /complaints answered {status}: {answer}")

    def split(items: list[bytes]) -> list[list[bytes]]:
        return [items[w::concurrency] for w in range(concurrency)]

    warm, measured = bodies[:200], bodies[200:]
    await asyncio.gather(*(worker(c) for c in split(warm)))
    cpu = time.process_time()
    await asyncio.gather(*(worker(c) for c in split(measured)))
    return (time.process_time() - cpu) / len(measured)


def one_run(on: bool, args: argparse.Namespace, bodies: list[bytes], n: int) -> float:
    flag = "true" if on else "false"
    os.environ["COMPLAINTS_ROUTING"] = flag
    os.environ["COMPLAINTS_AUTOMATION"] = flag
    os.environ["COMPLAINTS_REPEAT_COMPLAINTS_ENABLED"] = flag
    with tempfile.TemporaryDirectory() as files:
        url = args.database_url or f"sqlite:///{files}/bench.db"
        schema = f"bench_auto_{n}_{flag}"
        if args.database_url:
            with psycopg.connect(args.database_url, autocommit=True) as db:
                db.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
                db.execute(f"CREATE SCHEMA {schema}")
            url += f"?schema={schema}"
        settings = Settings(database_url=url, secret_key_file=f"{files}/secret.key",
                            admin_token_file=f"{files}/admin-token")
        with bootstrap(settings) as services:
            services.start_in_background(projections=True, webhooks=False)
            ctx = CommandContext(principal="bench", role="admin", correlation_id="bench")
            admin = services.app.tokens.issue("bench-admin", "admin", ctx).secret
            supervisor = services.app.tokens.issue("bench-sup", "supervisor", ctx).secret
            api = create_app(services)

            async def scenario() -> float:
                if on:
                    await set_up_directory(api, admin)
                return await file_all(api, supervisor, bodies, args.concurrency)

            figure = asyncio.run(scenario())
        if args.database_url:
            with psycopg.connect(args.database_url, autocommit=True) as db:
                db.execute(f"DROP SCHEMA {schema} CASCADE")
        return figure


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="default: a new SQLite file per run; for "
                        "PostgreSQL each run gets a schema of its own in this database (dropped "
                        "after it)")
    parser.add_argument("--filings", type=int, default=2200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--only", choices=["on", "off"], help="one variant (for a profiler)")
    parser.add_argument("--sensitive", type=float, default=0.05,
                        help="share of filings mentioning a lawyer (the legal-risk rule acts)")
    parser.add_argument("--repeat", type=float, default=0.15,
                        help="share of filings by a customer who filed before")
    args = parser.parse_args()
    bodies = filings(args.filings, seed=12, sensitive=args.sensitive, repeat=args.repeat)
    figures: dict[bool, list[float]] = {False: [], True: []}
    for n in range(args.rounds):
        for on in ((False, True) if n % 2 == 0 else (True, False)):
            if args.only and on != (args.only == "on"):
                continue
            figures[on].append(one_run(on, args, bodies, n))
            print(f"round {n + 1}, routing and rules {'on ' if on else 'off'}: "
                  f"{figures[on][-1] * 1e6:,.0f} us CPU per filing", flush=True)
    if args.only:
        return
    off, on_ = statistics.median(figures[False]), statistics.median(figures[True])
    store = (args.database_url or "sqlite").split(":")[0]
    print(f"POST /complaints, {store}, {args.filings - 200:,} filings x {args.rounds} rounds, "
          f"{args.sensitive:.0%} sensitive, {args.repeat:.0%} repeat customers, "
          f"{args.concurrency} in flight: off {off * 1e6:,.0f} us, on {on_ * 1e6:,.0f} us CPU per "
          f"filing (median); on / off = {on_ / off:.2f}")


if __name__ == "__main__":
    main()
