"""The CloudEvents envelope and the cursor API, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from aggregates.vocabulary import ResolutionCode
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import AssignComplaint, CloseComplaint, CommentOnComplaint, FileComplaint
from stream.envelope import TYPE_CLASSES, data_model, event_id
from stream.feed import read_page
from tests.intake import intake


def file(app: ComplaintsApp, ctx: CommandContext) -> UUID:
    return app.file_complaint(FileComplaint.model_validate(intake()), ctx).complaint_id


def all_events(app: ComplaintsApp, **filters: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = read_page(app, after=after, limit=3, **filters)
        events += page.events
        if not page.more and page.next_cursor == after:
            return events
        after = page.next_cursor


def work_complaint(app: ComplaintsApp, ctx: CommandContext) -> UUID:
    """A complaint filed (with its SLA terms), assigned, commented on and closed (5 events)."""
    cid = file(app, ctx)
    app.handle(cid, AssignComplaint(assignee="bob"), ctx)
    app.handle(cid, CommentOnComplaint(body="called the customer"), ctx)
    closing = CloseComplaint(resolution_code=ResolutionCode.RESOLVED, summary="refund")
    app.handle(cid, closing, ctx)
    return cid


@pytest.fixture
def worked(app: ComplaintsApp, ctx: CommandContext) -> UUID:
    return work_complaint(app, ctx)


def test_envelope_is_cloudevents_with_public_types_only(app: ComplaintsApp, worked: UUID) -> None:
    events = all_events(app)

    assert [e["type"] for e in events] == [
        "complaint.filed", "complaint.sla_applied", "complaint.assigned", "complaint.commented",
        "complaint.closed", "complaint.survey_requested",
    ]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and len(set(positions)) == 6
    first = events[0]
    assert first["specversion"] == "1.0"
    assert first["subject"] == str(worked)
    assert first["id"] == str(event_id(worked, 1))
    assert first["aggregateversion"] == 1
    assert first["actor"] == "alice" and first["correlationid"] == "corr-test"
    assert "causationid" not in first  # CloudEvents has no nulls
    assert first["time"].endswith("Z")
    assert first["data"]["customer"]["name"] == "张*"  # read_page masks personal fields by default
    assert "originator_id" not in first["data"] and "actor" not in first["data"]
    for event in events:
        model = data_model(TYPE_CLASSES[event["type"]])
        assert set(event["data"]) == set(model.model_fields), event["type"]
        model.model_validate(event["data"])


def test_the_feed_filters_by_type_and_by_complaint(
    app: ComplaintsApp, ctx: CommandContext, worked: UUID
) -> None:
    other = file(app, ctx)
    assert [e["subject"] for e in all_events(app, types=["complaint.filed"])] == [
        str(worked), str(other)
    ]
    assert [e["aggregateversion"] for e in all_events(app, aggregate_id=worked)] == [
        1, 2, 3, 4, 5, 6
    ]
    assert [e["type"] for e in all_events(app, aggregate_id=other)] == [
        "complaint.filed", "complaint.sla_applied"
    ]


def test_the_cursor_api_pages_through_every_event_then_holds_its_cursor(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext
) -> None:
    ids = [file(app, ctx) for _ in range(3)]
    seen: list[str] = []
    after = 0
    for _ in range(10):
        body = client.get("/events", params={"after": after, "limit": 2}).json()
        seen += [e["subject"] for e in body["events"]]
        after = body["next_cursor"]  # also past internal records an empty page skipped
        if not body["events"]:
            break
    assert seen == [str(i) for i in ids for _ in ("filed", "sla_applied")]
    # Caught up: an empty page keeps the cursor where it is, so nothing is ever skipped.
    assert client.get("/events", params={"after": after}).json() == {
        "events": [], "next_cursor": after
    }


def test_the_cursor_api_filters_by_complaint_and_by_types(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext
) -> None:
    ids = [file(app, ctx) for _ in range(3)]
    only = client.get("/events", params={"aggregate_id": str(ids[1])}).json()["events"]
    assert [e["subject"] for e in only] == [str(ids[1])] * 2
    both = client.get("/events", params={"types": "complaint.filed,complaint.closed"})
    assert len(both.json()["events"]) == 3


def test_bad_cursor_parameters_are_422_naming_the_field(client: TestClient) -> None:
    for params, field in [
        ({"limit": 5000}, "limit"),
        ({"limit": 0}, "limit"),
        ({"after": -1}, "after"),
        ({"types": "complaint.filed,Complaint.Filed"}, "types"),
        ({"aggregate_id": "nope"}, "aggregate_id"),
    ]:
        response = client.get("/events", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == field


def test_the_cursor_api_refuses_a_wrong_token(client: TestClient) -> None:
    assert client.get("/events", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_schema_lists_every_public_type(client: TestClient) -> None:
    schema = client.get("/events/schema", headers={"Authorization": ""}).json()
    assert set(schema["properties"]["type"]["enum"]) == set(TYPE_CLASSES)
    filed = schema["$defs"]["complaint.filed"]
    assert {"reference", "customer", "received_at"} <= set(filed["required"])
    assert "actor" not in filed["properties"]


@contextmanager
def writing(work: Callable[[], None], writers: int) -> Iterator[list[threading.Thread]]:
    """Runs ``work`` in ``writers`` threads at once; joins them and re-raises what failed."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(writers)]
    for t in threads:
        t.start()
    try:
        yield threads
    finally:
        for t in threads:
            t.join()
    assert not errors, errors


def follow(client: TestClient, threads: list[threading.Thread]) -> list[dict[str, Any]]:
    """Pages of 7 through the cursor API while ``threads`` write, until they stopped and a page
    came back empty."""
    received: list[dict[str, Any]] = []
    after = 0
    while True:
        writing = any(t.is_alive() for t in threads)
        body = client.get("/events", params={"after": after, "limit": 7}).json()
        received += body["events"]
        assert body["next_cursor"] >= after
        after = body["next_cursor"]
        if not writing and not body["events"]:
            return received


def test_follower_sees_every_event_once_in_order_under_eight_writers(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext
) -> None:
    writers, per_writer = 8, 5
    def work() -> None:
        for _ in range(per_writer):
            work_complaint(app, ctx)

    with writing(work, writers) as threads:
        received = follow(client, threads)

    expected = writers * per_writer * 6  # the close requests a survey (issue 12)
    positions = [e["position"] for e in received]
    assert len(received) == expected
    assert positions == sorted(positions) and len(set(positions)) == expected
    assert len({e["id"] for e in received}) == expected
    # Nothing skipped: each complaint's versions arrive complete and in order.
    versions: dict[str, list[int]] = {}
    for e in received:
        versions.setdefault(e["subject"], []).append(e["aggregateversion"])
    assert len(versions) == writers * per_writer
    assert all(v == [1, 2, 3, 4, 5, 6] for v in versions.values())
    # And the follower's view equals a fresh read of the finished log.
    assert [e["id"] for e in all_events(app)] == [e["id"] for e in received]


def test_the_catalogue_documents_every_type_and_field() -> None:
    from pathlib import Path

    catalogue = (Path(__file__).parents[2] / "docs" / "events.md").read_text()
    for name, cls in TYPE_CLASSES.items():
        section = catalogue.split(f"### `{name}`", 1)
        assert len(section) == 2, f"docs/events.md has no section for {name}"
        body = section[1].split("###", 1)[0]
        for field in data_model(cls).model_fields:
            assert f"`{field}`" in body, f"docs/events.md misses {name}.{field}"
