"""``--metrics-port``: a worker command's metrics on a port of its own (``infra/metrics.py``)."""

from __future__ import annotations

from typing import Annotated

import typer

from infra.bootstrap import Services

MetricsPort = Annotated[
    int | None,
    typer.Option(
        min=1, max=65535,
        help="Answer Prometheus scrapes (GET /metrics, no token) on this port of COMPLAINTS_HOST",
    ),
]


def expose_metrics(services: Services, port: int | None) -> None:
    """Serves the worker's metrics on ``port`` until its services close (none: no port)."""
    if port is None:
        return
    try:
        services.serve_metrics(port)
    except (RuntimeError, OSError) as error:
        typer.echo(f"--metrics-port {port}: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"metrics on http://{services.settings.host}:{port}/metrics", err=True)
