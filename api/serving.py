"""Run the API in several processes, each with its own SO_REUSEPORT socket.

Why not ``uvicorn.run(workers=N)``: its workers share one listening socket, and whichever process
wakes first accepts; long-lived keep-alive connections (load balancers, SDK clients) then pile onto
one process while the others idle. With SO_REUSEPORT the kernel spreads connections across the
processes' sockets by their address hash. Linux only, which is where production runs.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

from infra.logs import configure_logging
from infra.settings import Settings


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for every server: logging as configured (``infra/logs.py``), its own
    access log off (it prints query strings; ``api/request_log.py`` logs each request instead),
    and on SIGTERM a bounded wait for the requests in flight."""
    return {
        "log_level": settings.log_level,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
    }


def _serve_one(host: str, port: int) -> None:
    settings = Settings()  # from the environment the parent passed on
    configure_logging(settings.log_format, settings.log_level)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    config = uvicorn.Config(
        "api.app:create_worker_app", factory=True, **server_options(settings)
    )
    uvicorn.Server(config).run(sockets=[sock])


def serve_processes(
    host: str, port: int, workers: int, *, ended: Callable[[int], None] | None = None
) -> None:
    """Starts ``workers`` server processes and waits; SIGINT/SIGTERM stops them all, each
    finishing its requests in flight (``Settings.shutdown_grace_seconds``). ``ended`` is told
    each process's id once it has exited (its metric files are dead)."""
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_serve_one, args=(host, port), daemon=True)
        for _ in range(workers)
    ]
    for process in processes:
        process.start()

    def stop(signum: int, frame: FrameType | None) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.join()
        if ended is not None and process.pid is not None:
            ended(process.pid)
