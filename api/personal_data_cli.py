"""``complaints customers erase`` and ``complaints keys ...``: erasure of a customer's personal
data and rotation of the master key, from the command line (docs/personal-data.md)."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from aggregates.vocabulary import Role
from api.terminal_text import cell
from commands.context import CommandContext
from commands.erasure import erase_customer
from commands.errors import CustomerNotFoundError
from commands.models import EraseCustomerData
from infra.bootstrap import bootstrap
from infra.secrets import KEY_BYTES, key_id
from infra.settings import Settings
from queries.customer_complaints import complaints_of_customer

customers_cli = typer.Typer(help="Customers: erase their personal data.", no_args_is_help=True)
keys_cli = typer.Typer(
    help="The master key wrapping customers' data keys (and sealing webhook secrets).",
    no_args_is_help=True,
)
console = Console()


@customers_cli.command("erase")
def erase(
    customer_id: Annotated[str, typer.Argument(help="The customer's id (customer.id)")],
    reason: Annotated[str, typer.Option(help="Why (the request's reference; no personal data)")],
    by: Annotated[str, typer.Option(help="Principal recorded as the actor")] = "cli",
) -> None:
    """Destroy the customer's data keys and record the erasure on their complaints."""
    try:
        command = EraseCustomerData(reason=reason)
    except ValidationError as e:
        console.print(f"[red]invalid reason:[/red] {cell(e.errors()[0]['msg'])}")
        raise typer.Exit(2) from None
    ctx = CommandContext(principal=by, role=Role.COMPLIANCE.value, correlation_id=uuid.uuid4().hex)
    with bootstrap(Settings()) as services:
        try:
            complaints = complaints_of_customer(services.read_models, customer_id)
            result = erase_customer(
                services.app, services.data_keys, customer_id, command, complaints, ctx
            )
        except CustomerNotFoundError as e:
            console.print(f"[red]{cell(str(e))}[/red]")
            raise typer.Exit(1) from None
    if result.already_erased:
        console.print(f"customer {cell(customer_id)} was already erased: nothing changed")
    else:
        console.print(
            f"erased customer {cell(customer_id)}: {len(result.data_key_ids)} data key(s)"
            f" destroyed, {len(result.complaint_ids)} complaint(s) told"
        )


@keys_cli.command("rotate")
def rotate() -> None:
    """Re-wrap every data key, and re-seal every webhook secret, under the current secret key.

    First make the new key current (COMPLAINTS_SECRET_KEY or the key file) and list the old one
    in COMPLAINTS_PREVIOUS_SECRET_KEYS on every process; run this; then drop the old key. Safe to
    run again after a crash: each key is updated on its own and both keys open it meanwhile."""
    with bootstrap(Settings()) as services:
        keys = services.data_keys
        rewrapped = keys.rewrap()
        resealed = services.webhook_store.reseal_secrets()
        left = {k: n for k, n in keys.wrapping_keys().items() if k != keys.master.current_id}
    console.print(
        f"master key {keys.master.current_id}: {rewrapped} data key(s) re-wrapped,"
        f" {resealed} webhook secret(s) re-sealed"
    )
    if left:
        console.print(f"[red]still wrapped by other keys:[/red] {left}")
        raise typer.Exit(1)


@keys_cli.command("generate")
def generate() -> None:
    """Print a new random secret key (base64) and its id, for a rotation."""
    from eventsourcing.cryptography import AESCipher

    key = AESCipher.create_key(KEY_BYTES)
    console.print(f"{key}  (key id {key_id(key)})", soft_wrap=True)
