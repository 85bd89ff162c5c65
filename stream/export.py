"""Every public event at once, as a file: JSON Lines or Parquet (docs/events.md, "Export").

Read page by page from the notification log like the feed (``stream.feed.read_page``), so memory
stays flat however long the log is. A JSONL line is exactly the envelope ``GET /events`` sends for
the same event; a Parquet row holds the same envelope, flat (``PARQUET_SCHEMA``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from eventsourcing.application import Application

from projections.database import database_of
from stream.envelope import DEFAULT_SOURCE
from stream.feed import head, topics_for
from stream.stored_envelopes import PlainEnvelope, stored_envelopes

PAGE_SIZE = 1000
ROW_GROUP_SIZE = 10_000
FORMATS = ("jsonl", "parquet")

PARQUET_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("subject", pa.string(), nullable=False),
        pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("position", pa.int64(), nullable=False),
        pa.field("aggregateversion", pa.int64(), nullable=False),
        pa.field("actor", pa.string(), nullable=False),
        pa.field("correlationid", pa.string(), nullable=False),
        pa.field("causationid", pa.string()),
        pa.field("data", pa.string(), nullable=False),
    ]
)
"""One column per envelope field (``specversion`` and ``datacontenttype`` are constants, left
out); ``causationid`` is null where the envelope has none; ``data`` is the event's data as JSON."""


@dataclass(frozen=True)
class ExportFilter:
    """Which events to export: positions after ``after``, public ``types`` (all when None), and
    event times in [``start``, ``end``) (half-open, so consecutive periods never overlap)."""

    after: int = 0
    types: Sequence[str] | None = None
    start: datetime | None = None
    end: datetime | None = None

    def takes(self, envelope: dict[str, Any]) -> bool:
        if self.start is None and self.end is None:
            return True
        time = event_time(envelope)
        return (self.start is None or time >= self.start) and (self.end is None or time < self.end)


def event_time(envelope: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(envelope["time"]).astimezone(UTC)


def pages(
    app: Application[UUID],
    selection: ExportFilter,
    *,
    source: str = DEFAULT_SOURCE,
    personal_data: bool = False,
    page_size: int = PAGE_SIZE,
) -> Iterator[list[dict[str, Any]]]:
    """The selected envelopes, a page of ``page_size`` positions at a time, in position order,
    up to the log's head when each page was read (everything up to it is committed, see
    ``stream.feed``); personal fields masked unless ``personal_data``. The envelopes are those
    of the feed, mapped from the stored rows where they can be (``stream.stored_envelopes``)."""
    topics = topics_for(selection.types)
    database = database_of(app)
    after = selection.after
    while (stop := head(app)) > after:
        last = min(after + page_size, stop)
        rows = database.notifications_between(after + 1, last, topics)
        events = [
            e for e in stored_envelopes(app, rows, source, personal_data=personal_data)
            if selection.takes(e)
        ]
        if events:
            yield events
        if last == stop:
            return
        after = last


def jsonl(envelope: dict[str, Any]) -> str:
    """One line of the JSONL export: the envelope as ``GET /events`` sends it."""
    if type(envelope) is PlainEnvelope:
        return orjson.dumps(envelope).decode() + "\n"
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_jsonl(envelopes: Iterator[list[dict[str, Any]]], out: IO[str]) -> int:
    count = 0
    for page in envelopes:
        out.writelines(jsonl(e) for e in page)
        count += len(page)
    return count


def write_parquet(
    envelopes: Iterator[list[dict[str, Any]]],
    out: Path | IO[bytes],
    *,
    row_group_size: int = ROW_GROUP_SIZE,
) -> int:
    """Writes the envelopes as Parquet in row groups of ``row_group_size``: at most one row
    group's rows (and a page) are held at a time. An export of no events is a valid file with no
    rows.

    Built column by column, a page at a time (one list comprehension per column rather than a
    call per cell); times are handed to Arrow as the envelope's ISO strings and parsed there."""
    count = 0
    columns: dict[str, list[Any]] = {name: [] for name in PARQUET_SCHEMA.names}
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with pq.ParquetWriter(out, PARQUET_SCHEMA) as writer:

        def flush(rows: int) -> None:
            arrays = [
                _times(columns["time"][:rows]) if name == "time"
                else pa.array(columns[name][:rows], type=PARQUET_SCHEMA.field(name).type)
                for name in PARQUET_SCHEMA.names
            ]
            writer.write_table(
                pa.Table.from_arrays(arrays, schema=PARQUET_SCHEMA), row_group_size=row_group_size
            )
            for held in columns.values():
                del held[:rows]

        for page in envelopes:
            for name in _PLAIN_COLUMNS:
                columns[name] += [e[name] for e in page]
            columns["causationid"] += [e.get("causationid") for e in page]
            columns["data"] += [
                orjson.dumps(e["data"]).decode() if type(e) is PlainEnvelope else dumps(e["data"])
                for e in page
            ]
            count += len(page)
            held = len(columns["id"])
            if held >= row_group_size:
                flush(held - held % row_group_size)
        if columns["id"] or count == 0:
            flush(len(columns["id"]))
    return count


_PLAIN_COLUMNS = ("id", "source", "type", "subject", "time", "position", "aggregateversion",
                  "actor", "correlationid")


def _times(times: list[str]) -> pa.Array:
    """The envelopes' times (ISO 8601, always ``Z``) as Arrow UTC timestamps, parsed in C."""
    return pa.array(times, type=pa.string()).cast(PARQUET_SCHEMA.field("time").type)
