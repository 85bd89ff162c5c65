"""Independent fuzzing of the whole HTTP API with schemathesis, on SQLite and PostgreSQL.

For each store: a fresh store, a few seeded complaints, then `complaints serve` on a free loopback
port and schemathesis (run through `uvx`, so it is not a project dependency) over every operation
of `/openapi.json`, all phases (examples, coverage, fuzzing, stateful), once per role
(`--roles`, default supervisor, compliance, admin, service: each reaches its own routes past the
403). It fails on any 5xx (503 included). Afterwards it checks what a fuzzer cannot see: the
server log holds no traceback, and every projection caught up with the head (no poison event left
a view stuck).

    uv run python bench/fuzz.py                                  # both stores, 200 cases/operation
    uv run python bench/fuzz.py --store sqlite --max-examples 50 --seed 1
    uv run python bench/fuzz.py --checks all                     # also conformance findings

Prints, per store: cases generated, failures by check, the traceback count and the projection
lag; exits non-zero if any store failed. Loopback only: webhook subscriptions the fuzzer creates
point at public names that the delivery worker cannot reach (there is no network here) or at
internal addresses that it refuses.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.intake import intake  # noqa: E402  (a realistic intake body, shared with the tests)
from tests.stream.live_server import free_port  # noqa: E402

SCHEMATHESIS = "schemathesis==4.*"
POSTGRES_URL = os.environ.get(
    "COMPLAINTS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SEEDED_COMPLAINTS = 5
CONFIG = Path(__file__).with_name("schemathesis.toml")


def fresh_postgres_schema() -> tuple[str, str]:
    schema = f"fuzz_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{POSTGRES_URL}?schema={schema}", schema


def drop_postgres_schema(schema: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def create_token(env: dict[str, str], role: str) -> str:
    out = subprocess.run(
        ["uv", "run", "complaints", "tokens", "create", "--name", f"fuzzer-{role}", "--role", role],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    ).stdout
    secrets = [line.strip() for line in out.splitlines() if line and not line.startswith("#")]
    if not secrets:
        raise SystemExit(f"no token in the output of `complaints tokens create`: {out!r}")
    return secrets[-1]


def wait_until_up(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("complaints serve exited before answering")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("complaints serve did not answer /health within 60 s")


def projection_lag(base: str, token: str) -> dict[str, int]:
    """Each projection's lag once it has had a few seconds to catch up after the fuzzing."""
    lag: dict[str, int] = {}
    for _ in range(50):
        answer = httpx.get(
            f"{base}/projections", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).json()
        rows = answer.get("projections", answer) if isinstance(answer, dict) else answer
        lag = {row["name"]: int(row["lag_events"]) for row in rows}
        if not any(lag.values()):
            break
        time.sleep(0.2)
    return lag


def fuzz_store(store: str, args: argparse.Namespace) -> bool:
    schema = None
    with tempfile.TemporaryDirectory(prefix="complaints-fuzz-") as tmp:
        if store == "sqlite":
            url = f"sqlite:///{tmp}/complaints.db"
        else:
            url, schema = fresh_postgres_schema()
        port = free_port()
        env = {
            **os.environ,
            "COMPLAINTS_DATABASE_URL": url,
            "COMPLAINTS_PORT": str(port),
            "COMPLAINTS_LOG_LEVEL": "warning",
            "COMPLAINTS_SECRET_KEY_FILE": f"{tmp}/secret.key",
            # A valid GET /events/stream streams until the client gives up (30 s here): end
            # streams after a second so the fuzzer is not held by every accepted request.
            "COMPLAINTS_STREAM_MAX_LIFETIME_SECONDS": "1",
        }
        log_path = Path(tmp) / "serve.log"
        try:
            # One pass per role: the permission table lets each role reach only its routes, and
            # a route is fuzzed past its 403 only with a role that may call it.
            tokens = {role: create_token(env, role) for role in args.roles.split(",")}
            admin = create_token(env, "admin")
            with log_path.open("wb") as log:
                server = subprocess.Popen(
                    ["uv", "run", "complaints", "serve"], cwd=ROOT, env=env,
                    stdout=log, stderr=subprocess.STDOUT,
                )
            base = f"http://127.0.0.1:{port}"
            runs: list[subprocess.CompletedProcess[str]] = []
            try:
                wait_until_up(base, server)
                filer = create_token(env, "supervisor")
                auth = {"Authorization": f"Bearer {filer}"}
                for _ in range(SEEDED_COMPLAINTS):
                    httpx.post(f"{base}/complaints", json=intake(), headers=auth, timeout=10)
                started = time.monotonic()
                for token in tokens.values():
                    command = [
                        "uvx", "--from", SCHEMATHESIS, "schemathesis", "--config-file",
                        str(CONFIG), "run", f"{base}/openapi.json",
                        "-H", f"Authorization: Bearer {token}",
                        "--checks", args.checks,
                        "--max-examples", str(args.max_examples),
                        "--request-timeout", "30",
                        "--workers", "1",
                    ]
                    if args.seed is not None:
                        command += ["--seed", str(args.seed)]
                    runs.append(subprocess.run(command, cwd=tmp, capture_output=True, text=True))
                elapsed = time.monotonic() - started
                lag = projection_lag(base, admin)
            finally:
                server.terminate()
                server.wait(timeout=30)
            run = subprocess.CompletedProcess(
                "schemathesis", max(r.returncode for r in runs),
                "".join(r.stdout for r in runs), "".join(r.stderr for r in runs),
            )
            output = run.stdout + run.stderr
            server_log = log_path.read_text(errors="replace")
        finally:
            if schema:
                drop_postgres_schema(schema)

    cases = sum(int(n) for n in re.findall(r"(\d+) generated", output))
    failures = sorted(set(re.findall(r"❌ (ST\d+ [^:\n]+): (\d+)", output)))
    tracebacks = server_log.count("Traceback")
    print(f"== {store}: schemathesis {elapsed:.0f} s, exit {run.returncode}")
    print(f"   cases generated: {cases} ({args.roles})")
    print(f"   failures: {', '.join(f'{name} x{n}' for name, n in failures) or 'none'}")
    print(f"   server tracebacks: {tracebacks}")
    print(f"   projection lag after the run: {lag}")
    if run.returncode != 0 or tracebacks:
        report = Path(tempfile.gettempdir()) / f"fuzz-{store}.log"
        report.write_text(output + "\n\n==== server log ====\n" + server_log)
        print(f"   full output: {report}")
    return run.returncode == 0 and tracebacks == 0 and not any(lag.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--max-examples", type=int, default=200, help="cases per operation")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--roles", default="supervisor,compliance,admin,service",
                        help="a schemathesis pass per role, comma-separated")
    parser.add_argument(
        "--checks", default="not_a_server_error",
        help="schemathesis checks (default: any 5xx fails; 'all' adds conformance checks)",
    )
    args = parser.parse_args()
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    results = [fuzz_store(store, args) for store in stores]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
