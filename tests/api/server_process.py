"""`complaints serve` in a child process of the test, so that the test can kill it (SIGKILL)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from infra.settings import Settings
from tests.stream.live_server import free_port


@dataclass(frozen=True)
class ServerProcess:
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    """Its standard output and error."""

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no queued write flushed, no answer finished."""
        self.process.kill()
        self.process.wait(timeout=10)


def environment(settings: Settings) -> dict[str, str]:
    return os.environ | {
        "COMPLAINTS_DATABASE_URL": settings.database_url,
        "COMPLAINTS_SECRET_KEY_FILE": str(settings.secret_key_file),
        "COMPLAINTS_ADMIN_TOKEN_FILE": str(settings.admin_token_file),
        "COMPLAINTS_WORKERS": "1",  # uvicorn runs in the process we start: the one we kill
        "COMPLAINTS_WEBHOOKS_IN_SERVE": "false",
        "COMPLAINTS_SLA_WATCHER_IN_SERVE": "false",
        "COMPLAINTS_LOG_LEVEL": "warning",
    }


@contextmanager
def server_process(
    settings: Settings, logs: Path, env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """Starts `complaints serve --no-projections` (``env`` added to its environment) and waits
    until it answers; stops it (SIGTERM) afterwards unless the test did."""
    port = free_port()
    command = [sys.executable, "-c", "from api.cli import main; main()", "serve",
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-projections"]
    log_path = logs / f"serve-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=environment(settings) | (env or {}), cwd=logs, stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(process, f"http://127.0.0.1:{port}", log_path)
    try:
        wait_until_up(server)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


def wait_until_up(server: ServerProcess, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"serve exited with {server.process.returncode}")
        try:
            httpx.get(f"{server.url}/health", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("serve did not answer in time")
