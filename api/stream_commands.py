"""`complaints webhooks ...` and `complaints relay ...`: the event-stream workers as processes."""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Annotated

import typer

from api.metrics_port import MetricsPort, expose_metrics
from infra.bootstrap import bootstrap
from infra.settings import Settings

webhooks_cli = typer.Typer(help="Webhook delivery.", no_args_is_help=True)
relay_cli = typer.Typer(help="Relay the public event stream to a broker.", no_args_is_help=True)


@webhooks_cli.command("run")
def webhooks_run(metrics_port: MetricsPort = None) -> None:
    """Deliver webhooks until interrupted (instead of inside `serve`: set
    COMPLAINTS_WEBHOOKS_IN_SERVE=false there, one worker per database)."""
    settings = Settings()
    with bootstrap(settings) as services:
        expose_metrics(services, metrics_port)
        worker = services.webhook_worker().start()
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        typer.echo("delivering webhooks; Ctrl-C to stop", err=True)
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass
        finally:
            worker.stop()


@relay_cli.command("nats")
def relay_nats(
    url: Annotated[str | None, typer.Option(help="NATS server [COMPLAINTS_NATS_URL]")] = None,
    stream: Annotated[
        str | None, typer.Option(help="JetStream stream [COMPLAINTS_NATS_STREAM]")
    ] = None,
    name: Annotated[str, typer.Option(help="Relay name: its tracked position's key")] = "nats",
    once: Annotated[bool, typer.Option(help="Exit when caught up instead of following")] = False,
    metrics_port: MetricsPort = None,
) -> None:
    """Publish every public event to JetStream (subjects <prefix>.<type>), resuming where it
    stopped; Nats-Msg-Id = event id, so restarts add no duplicates."""
    settings = Settings()
    with bootstrap(settings) as services:
        expose_metrics(services, metrics_port)
        relay = services.relay(url=url, name=name, stream=stream)

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            await relay.run(until_caught_up=once, stop=stop)

        try:
            asyncio.run(main())
        finally:
            typer.echo(
                f"published {relay.stats.published} (duplicates {relay.stats.duplicates}), "
                f"resumed from position {relay.stats.resumed_from}",
                err=True,
            )
