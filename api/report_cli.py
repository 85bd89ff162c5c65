"""``complaints report``: the summary report's charts, written to a self-contained HTML file."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console

from api.report_html import render_report
from commands.input_types import PlausibleDay
from infra.bootstrap import bootstrap
from infra.settings import Settings
from queries.analytics import reporting_days
from queries.errors import InvalidQueryError
from queries.report import Period, summary_report

console = Console(stderr=True)
_DAY: TypeAdapter[date] = TypeAdapter(PlausibleDay)


class GroupBy(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def _day(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return _DAY.validate_python(value)
    except ValidationError as e:
        raise typer.BadParameter(
            f"must be a day YYYY-MM-DD ({e.errors()[0]['msg']})", param_hint=option
        ) from None


def report(
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write (replaced)")],
    start: Annotated[
        str | None,
        typer.Option("--from", help="First day, YYYY-MM-DD in the reporting time zone "
                     "(default: 30 days up to --to)"),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day, inclusive (default: today)")
    ] = None,
    group_by: Annotated[
        GroupBy | None,
        typer.Option("--group-by", help="Periods of the trend charts "
                     "(default: day up to 62 days, else week)"),
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, max=50, help="Products shown")] = 10,
) -> None:
    """Write the summary report (volume trend, category Pareto, channel mix, response and
    resolution time distributions, SLA compliance, top products) as one HTML page that needs no
    network: the same page as GET /reports/summary.html. It reads the views as they are: run it
    where the projections are kept up (`serve` or `projections run`)."""
    period: Period | None = None if group_by is None else group_by.value
    first, last = _day("--from", start), _day("--to", end)
    settings = Settings()
    zone = settings.report_tz
    first, last = reporting_days(first, last, zone)
    with bootstrap(settings) as services:
        try:
            made = summary_report(services.read_models, first, last, zone, period, top)
        except InvalidQueryError as e:
            raise typer.BadParameter(e.reason, param_hint=f"--{e.field}") from None
    page = render_report(made)
    out.write_text(page, encoding="utf-8")
    console.print(
        f"wrote {out} ({len(page.encode()) / 1e6:.1f} MB): {made.totals.filed} filed, "
        f"{made.totals.closed} closed, {first} to {last} ({zone})"
    )
