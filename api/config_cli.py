"""What the configuration commands (``complaints sla``, ``directory``, ``routing``,
``automation``) share: reading a JSON object from a file, printing one, and refusing bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from aggregates.errors import FieldError
from commands.errors import ConcurrencyConflictError, PreconditionFailedError


def echo_json(body: Any) -> None:
    typer.echo(json.dumps(body, ensure_ascii=False, indent=2))


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; exit status 2 when it cannot be read or is not one."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        typer.echo(f"cannot read {path}: {e}", err=True)
        raise typer.Exit(2) from None
    if not isinstance(body, dict):
        typer.echo(f"{path}: expected a JSON object", err=True)
        raise typer.Exit(2)
    return body


@contextmanager
def refusals(*not_found: type[Exception]) -> Iterator[None]:
    """Bad input, a stale version, a conflict and the ``not_found`` errors: one line per
    problem on stderr, exit status 1."""
    refused: tuple[type[Exception], ...] = (
        ConcurrencyConflictError, PreconditionFailedError, *not_found
    )
    try:
        yield
    except ValidationError as e:
        for error in e.errors():
            field = ".".join(str(p) for p in error["loc"]) or "body"
            typer.echo(f"{field}: {error['msg']}", err=True)
        raise typer.Exit(1) from None
    except FieldError as e:
        typer.echo(f"{e.field}: {e.reason}", err=True)
        raise typer.Exit(1) from None
    except refused as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(1) from None
