"""``complaints export events``: every public event (or a selection) to a JSONL or Parquet file;
``complaints export complaints``: the complaint list (its filters) to a CSV or Parquet file.

The command line acts as a trusted operator: personal fields are exported in clear."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console

from aggregates.vocabulary import Category, Channel, CustomerTier, Severity, Status
from commands.input_types import PlausibleInstant
from infra.bootstrap import bootstrap
from infra.settings import Settings
from queries import complaint_export
from queries.complaint_list import ListFilters, Sort
from stream.export import ExportFilter, pages, write_jsonl, write_parquet
from stream.feed import UnknownEventTypeError, topics_for

export_cli = typer.Typer(help="Export data to files.", no_args_is_help=True)
console = Console(stderr=True)
_INSTANT: TypeAdapter[datetime] = TypeAdapter(PlausibleInstant)


class Format(StrEnum):
    JSONL = "jsonl"
    PARQUET = "parquet"


class TableFormat(StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


class ListSort(StrEnum):
    FILED = "filed_at"
    FILED_DESC = "-filed_at"
    UPDATED = "updated_at"
    UPDATED_DESC = "-updated_at"


def _instant(option: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return _INSTANT.validate_python(value)
    except ValidationError:
        raise typer.BadParameter(
            "must be an ISO-8601 instant with a UTC offset, e.g. 2026-01-31T00:00:00Z",
            param_hint=option,
        ) from None


def _types(value: str | None) -> list[str] | None:
    names = [t.strip() for t in (value or "").split(",") if t.strip()]
    try:
        topics_for(names)
    except UnknownEventTypeError as e:
        raise typer.BadParameter(str(e), param_hint="--types") from None
    return names or None


@export_cli.command("events")
def events(
    out: Annotated[Path, typer.Option("--out", help="The file to write (replaced if it exists)")],
    format: Annotated[  # noqa: A002 - the option's public name
        Format, typer.Option("--format", help="jsonl (CloudEvents envelopes) or parquet")
    ] = Format.JSONL,
    start: Annotated[
        str | None,
        typer.Option("--from", help="Only events recorded at or after this instant (ISO 8601)"),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Only events recorded before this instant")
    ] = None,
    types: Annotated[
        str | None,
        typer.Option("--types", help="Public types, comma-separated (complaint.filed,...)"),
    ] = None,
    after: Annotated[
        int, typer.Option("--after", min=0, help="Only events after this position")
    ] = 0,
) -> None:
    """Export the public events in position order: JSON Lines (one CloudEvents envelope a line,
    as GET /events sends it) or Parquet (docs/events.md, "Export"). The command line is a trusted
    operator: personal fields are exported IN CLEAR (GET /events/export masks them for tokens
    that may not see them)."""
    selection = ExportFilter(
        after=after, types=_types(types), start=_instant("--from", start),
        end=_instant("--to", end),
    )
    if selection.start and selection.end and selection.end <= selection.start:
        raise typer.BadParameter("must be later than --from", param_hint="--to")
    with bootstrap(Settings()) as services:
        settings = services.settings
        envelopes = pages(
            services.app, selection, source=settings.events_source, personal_data=True
        )
        if format is Format.JSONL:
            with out.open("w", encoding="utf-8") as file:
                count = write_jsonl(envelopes, file)
        else:
            count = write_parquet(envelopes, out)
    console.print(f"exported {count} events to {out}")


@export_cli.command("complaints")
def complaints(
    out: Annotated[Path, typer.Option("--out", help="The file to write (replaced if it exists)")],
    format: Annotated[  # noqa: A002 - the option's public name
        TableFormat, typer.Option("--format", help="csv (a header line) or parquet")
    ] = TableFormat.CSV,
    status: Annotated[Status | None, typer.Option("--status")] = None,
    category: Annotated[Category | None, typer.Option("--category")] = None,
    severity: Annotated[Severity | None, typer.Option("--severity")] = None,
    channel: Annotated[Channel | None, typer.Option("--channel")] = None,
    region: Annotated[str | None, typer.Option("--region")] = None,
    assignee: Annotated[str | None, typer.Option("--assignee")] = None,
    team: Annotated[str | None, typer.Option("--team")] = None,
    customer_id: Annotated[str | None, typer.Option("--customer-id")] = None,
    tier: Annotated[CustomerTier | None, typer.Option("--tier")] = None,
    escalated: Annotated[
        bool | None, typer.Option("--escalated/--not-escalated", show_default=False)
    ] = None,
    filed_from: Annotated[
        str | None, typer.Option("--filed-from", help="Filed at or after this instant")
    ] = None,
    filed_to: Annotated[str | None, typer.Option("--filed-to", help="Filed before it")] = None,
    q: Annotated[
        str | None, typer.Option("--q", help="Words the subject or description contains")
    ] = None,
    tag: Annotated[str | None, typer.Option("--tag")] = None,
    sort: Annotated[ListSort, typer.Option("--sort")] = ListSort.FILED_DESC,
) -> None:
    """Export the complaint list (the rows and filters of GET /complaints, every page) as CSV or
    Parquet (docs/api.md, GET /complaints/export). Read page by page: memory stays flat. The
    command line is a trusted operator: customer names are exported IN CLEAR (GET
    /complaints/export masks them for tokens that may not see them)."""
    filters = ListFilters(
        status=_value(status), category=_value(category), severity=_value(severity),
        channel=_value(channel), region=region, assignee=assignee, team=team,
        customer_id=customer_id, tier=_value(tier), escalated=escalated,
        filed_from=_instant("--filed-from", filed_from), filed_to=_instant("--filed-to", filed_to),
        q=q, tag=tag,
    )
    with bootstrap(Settings()) as services:
        pages = complaint_export.pages(services.read_models, filters, sort=_sort(sort))
        if format is TableFormat.CSV:
            with out.open("w", encoding="utf-8", newline="") as file:
                count = complaint_export.write_csv(pages, file)
        else:
            count = complaint_export.write_parquet(pages, out)
    console.print(f"exported {count} complaints to {out}")


def _value(choice: StrEnum | None) -> str | None:
    return None if choice is None else choice.value


def _sort(value: ListSort) -> Sort:
    sorts: dict[ListSort, Sort] = {
        ListSort.FILED: "filed_at", ListSort.FILED_DESC: "-filed_at",
        ListSort.UPDATED: "updated_at", ListSort.UPDATED_DESC: "-updated_at",
    }
    return sorts[value]
