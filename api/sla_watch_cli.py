"""``complaints sla run``: the SLA deadline watcher alone, until interrupted.

``sla_cli`` is the ``complaints sla`` sub-app; where the SLA configuration's commands
(``complaints sla policy|calendars``) have their own, ``run`` joins it.
"""

from __future__ import annotations

import threading

import typer
from rich.console import Console

from infra.bootstrap import bootstrap
from infra.settings import Settings

sla_cli = typer.Typer(help="SLA clocks: the deadline watcher.", no_args_is_help=True)
console = Console()


@sla_cli.command("run")
def run() -> None:
    """Run the SLA deadline watcher until interrupted: it records warnings, breaches (at their
    due instants) and escalations. One works per store; others stand by and take over."""
    console.print("running the SLA deadline watcher (Ctrl-C to stop)")
    stop = threading.Event()
    with bootstrap(Settings()) as services:
        try:
            services.sla_watcher().run_forever(stop)
        except KeyboardInterrupt:
            stop.set()
