"""An export maps most stored rows straight to their envelopes (``stream.stored_envelopes``):
its JSONL and Parquet are exactly those made from the feed's decoded events, masked and in clear,
on SQLite and PostgreSQL, for every public event type, events stored by earlier versions (upcast),
erased customers, and rows the fast way must hand over (control characters, offsets)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from uuid import UUID

import pytest

from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import AssignComplaint, CommentOnComplaint, FileComplaint
from projections.database import database_of
from stream import feed, stored_envelopes
from stream.export import ExportFilter, pages, write_jsonl, write_parquet
from stream.feed import read_page
from tests.application.test_stored_events_load import insert_captured_rows
from tests.intake import intake
from tests.stream.test_event_schema import record_every_event_type


def feed_pages(app: ComplaintsApp, personal_data: bool) -> Iterator[list[dict[str, Any]]]:
    """The reference: the cursor API's pages, each event decoded into a domain event."""
    after, more = 0, True
    while more:
        page = read_page(app, after=after, limit=7, personal_data=personal_data)
        yield page.events
        after, more = page.next_cursor, page.more


def tampered(app: ComplaintsApp, complaint_id: UUID, old: bytes, new: bytes) -> None:
    """Appends a copy of the complaint's assignment with ``old`` replaced by ``new`` in its
    stored state (as a store written before intake was hardened may hold)."""
    stored = list(app.recorder.select_events(complaint_id))
    assigned = next(e for e in stored if e.topic.endswith("Complaint.Assigned"))
    assert old in assigned.state
    app.recorder.insert_events([
        replace(
            assigned, originator_version=stored[-1].originator_version + 1,
            state=assigned.state.replace(old, new, 1),
        )
    ])


@pytest.fixture
def store(app: ComplaintsApp, ctx: CommandContext) -> set[int]:
    """Every public event type, captured rows of earlier versions, an erased customer, a
    customer in clear; returns the positions of the rows the fast way must hand over."""
    record_every_event_type(app, ctx)
    insert_captured_rows(app)
    kept = app.file_complaint(FileComplaint.model_validate(intake()), ctx).complaint_id
    app.handle(kept, CommentOnComplaint(body="called\tback"), ctx)
    app.handle(kept, AssignComplaint(assignee="bob", reason="in\nperson"), ctx)
    # Mapped the fast way, but written by json: orjson would write 0.00001.
    tampered(app, kept, b'"rule":null', b'"rule":1e-05')
    before = feed.head(app)
    tampered(app, kept, b'"actor":"', b'"actor":"nul\\u0000')
    tampered(app, kept, b'+00:00"}', b'+08:00"}')
    tampered(app, kept, b'"reason":"', b'"reason":"del\x7f')
    tampered(app, kept, b'"class_version":2', b'"class_version":3')
    return set(range(before + 1, feed.head(app) + 1))


@pytest.mark.parametrize("personal_data", [True, False], ids=["clear", "masked"])
def test_the_export_is_the_feed_decoded(
    app: ComplaintsApp, store: set[int], personal_data: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[int] = []
    slow_way = stored_envelopes.decoded_envelope

    def spy(app: Any, row: Any, *args: Any) -> dict[str, Any] | None:
        decoded.append(row.id)
        return slow_way(app, row, *args)

    monkeypatch.setattr(stored_envelopes, "decoded_envelope", spy)
    exported = list(pages(app, ExportFilter(), personal_data=personal_data, page_size=5))
    reference = list(feed_pages(app, personal_data))
    events = [e for page in exported for e in page]
    expected = [e for page in reference for e in page]
    assert events == expected
    # Same keys in the same order, so the same bytes below.
    assert [(list(e), list(e["data"])) for e in events] == [
        (list(e), list(e["data"])) for e in expected
    ]
    assert {e["type"] for e in events} >= {"complaint.filed", "complaint.satisfaction_recorded"}

    # The fast way took nearly every row, and none it must hand over.
    assert store <= set(decoded)
    assert len(decoded) < len(events) / 2

    jsonl, reference_jsonl = io.StringIO(), io.StringIO()
    assert write_jsonl(iter(exported), jsonl) == write_jsonl(iter(reference), reference_jsonl)
    assert jsonl.getvalue() == reference_jsonl.getvalue()
    parquet, reference_parquet = io.BytesIO(), io.BytesIO()
    write_parquet(iter(exported), parquet)
    write_parquet(iter(reference), reference_parquet)
    assert parquet.getvalue() == reference_parquet.getvalue()


def test_rows_are_read_by_windows_of_positions(app: ComplaintsApp, store: set[int]) -> None:
    """Pages are windows of positions: a window without public events yields no page, and
    the last stops at the head."""
    windows = [
        [e["position"] for e in page]
        for page in pages(app, ExportFilter(after=2), personal_data=False, page_size=3)
    ]
    positions = [p for window in windows for p in window]
    assert positions == sorted(positions) and positions[0] > 2
    assert all(max(w) - min(w) < 3 for w in windows)
    rows = database_of(app).notifications_between(1, feed.head(app), feed.topics_for(None))
    assert positions[-1] == max(row.id for row in rows)
