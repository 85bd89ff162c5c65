"""The events an import writes, compared with a stored expectation (made before the import was
made faster, ``tests/data/import_events_expected.json``): same events, same order, same decoded
states, on both stores. Twelve rows of the CFPB sample, one of them twice and one broken, in
batches of four (the duplicate in a later batch than its first)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.import_mapping import load_mapping
from commands.imports import Importer
from infra.spreadsheets import open_sheet

DATA = Path(__file__).parents[1] / "data"
SAMPLE = DATA / "cfpb_complaints_sample_2020.csv"
EXPECTED = DATA / "import_events_expected.json"
ADMIN = CommandContext(principal="importer", role="admin", correlation_id="corr-import")
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
RANDOM = {"timestamp", "reference", "id"}
"""Fields drawn at random or at recording time: replaced by their order of appearance."""


def small_sheet(folder: Path) -> Path:
    with SAMPLE.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = [row for _, row in zip(range(11), reader, strict=False)]
    rows.insert(6, dict(rows[1]))  # the same complaint twice, in another batch
    rows[8]["Date received"] = "not a date"
    path = folder / "small.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def written_events(app: ComplaintsApp) -> list[dict[str, Any]]:
    """Every event in the store, in log order, decoded; random values numbered as they appear."""
    labels: dict[str, str] = {}

    def label(value: Any) -> str:
        return labels.setdefault(str(value), f"<{len(labels)}>")

    events = []
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        event = app.mapper.to_domain_event(notification)
        state = {
            key: label(value) if key in RANDOM else value
            for key, value in sorted(vars(event).items())
            if key not in {"originator_id", "originator_version"}
        }
        events.append({
            "topic": notification.topic,
            "originator": label(event.originator_id)
            if "Reference" in notification.topic else str(event.originator_id),
            "version": event.originator_version,
            "state": json.loads(json.dumps(state, default=_plain)),
        })
    return events


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | UUID):
        return str(value)
    if hasattr(value, "__dict__"):
        return vars(value)
    return repr(value)


def imported_events(app: ComplaintsApp, folder: Path) -> list[dict[str, Any]]:
    importer = Importer(app, load_mapping("cfpb"), ADMIN, batch_size=4, clock=lambda: NOW)
    with open_sheet(small_sheet(folder)) as (header, rows):
        result = importer.run(header, rows)
    assert (result.rows, result.imported, result.skipped, result.rejected) == (12, 10, 1, 1)
    return written_events(app)


def test_an_import_writes_the_events_it_wrote_before(app: ComplaintsApp, tmp_path: Path) -> None:
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    assert imported_events(app, tmp_path) == expected
