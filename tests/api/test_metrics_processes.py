"""Metrics of processes: a worker's own ``--metrics-port``, and ``serve --workers 2``, whose
workers' counts any one of them sums (prometheus-client's multiprocess mode). Subprocesses on
free ports, each bounded in time."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from aggregates.vocabulary import Role
from commands.context import CommandContext
from commands.models import FileComplaint
from infra.bootstrap import bootstrap
from infra.settings import Settings
from tests.api.server_process import environment
from tests.conftest import POSTGRES_URL, reset_schema
from tests.intake import intake
from tests.stream.live_server import free_port

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
CLI = [sys.executable, "-c", "from api.cli import main; main()"]


def parsed(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@contextmanager
def started(args: list[str], env: dict[str, str], logs: Path) -> Iterator[subprocess.Popen[bytes]]:
    with (logs / f"{args[0]}.log").open("wb") as log:
        process = subprocess.Popen([*CLI, *args], env=env, cwd=logs, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def poll(url: str, done: Callable[[Samples], bool], process: subprocess.Popen[bytes],
         seconds: float = 40, token: str | None = None) -> Samples:
    """Scrapes ``url`` until ``done`` says the figures are there (or fails after ``seconds``)."""
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    samples: Samples = {}
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the process exited with {process.returncode}"
        try:
            response = httpx.get(url, timeout=5, headers=headers)
            if response.status_code == 200:
                samples = parsed(response.text)
                if done(samples):
                    return samples
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never showed the figures; last scrape: {samples}")


def wait_until_ready(base: str, process: subprocess.Popen[bytes], seconds: float = 40) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"serve exited with {process.returncode}"
        try:
            if httpx.get(f"{base}/health/ready", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("serve never became ready")


def test_a_projection_worker_answers_on_its_metrics_port(
    settings: Settings, tmp_path: Path
) -> None:
    ctx = CommandContext("alice", "supervisor", "corr")
    with bootstrap(settings) as services:
        services.app.file_complaint(FileComplaint.model_validate(intake()), ctx)
    port = free_port()
    batch = ("complaints_projection_batch_events_count", frozenset({("projection", "sla")}))
    lag = ("complaints_projection_lag_events", frozenset({("projection", "sla")}))
    with started(["projections", "run", "sla", "--metrics-port", str(port)],
                 environment(settings), tmp_path) as process:
        samples = poll(f"http://127.0.0.1:{port}/metrics",
                       lambda s: s.get(batch, 0) >= 1 and s.get(lag) == 0, process)
    assert samples[("complaints_store_up", frozenset())] == 1


def test_serve_with_two_workers_sums_both_workers_counts(postgres_schema: str,
                                                          tmp_path: Path) -> None:
    reset_schema(postgres_schema)
    settings = Settings(
        database_url=f"{POSTGRES_URL}?schema={postgres_schema}",
        secret_key_file=str(tmp_path / "secret.key"),
        admin_token_file=str(tmp_path / "admin-token"),
        repeat_complaints_enabled=False,
    )
    with bootstrap(settings) as services:  # the tables, and a token to call with
        ctx = CommandContext("t", Role.ADMIN.value, "c")
        token = services.app.tokens.issue("root", "admin", ctx).secret
        supervisor = services.app.tokens.issue("sam", "supervisor", ctx, teams=["east"]).secret
    files = tmp_path / "metrics"
    env = environment(settings) | {"COMPLAINTS_METRICS_MULTIPROC_DIR": str(files)}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    filings = 16
    with started(["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
                  "--no-projections"], env, tmp_path) as process:
        wait_until_ready(base, process)
        for _ in range(filings):  # a new connection each: the kernel spreads them over both
            response = httpx.post(f"{base}/complaints", json=intake(), timeout=10,
                                  headers={"Authorization": f"Bearer {supervisor}"})
            assert response.status_code == 201, response.text
        filed = ("complaints_commands_total",
                 frozenset({("command", "FileComplaint"), ("outcome", "ok")}))
        for _ in range(4):  # whichever worker answers the scrape, it sums both
            samples = poll(f"{base}/metrics", lambda s: filed in s, process, token=token)
            assert samples[filed] == filings
        counting = {path.name.rsplit("_", 1)[1] for path in files.glob("counter_*.db")}
        assert len(counting) >= 2, counting  # both workers counted some of them
