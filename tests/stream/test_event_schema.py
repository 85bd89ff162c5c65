"""The public event schema is the events' own contract, versioned: a stored shape cannot change
without the schema changing, and the schema cannot change without a new version.

``tests/data/event_schema_v<N>.json`` is the schema as published at version N. Never edit one:
when an event's shape changes, raise ``SCHEMA_VERSION`` and add the new file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from aggregates.complaint import Complaint
from aggregates.money import Money
from aggregates.provenance import Provenance
from aggregates.vocabulary import ResolutionCode, SlaMetric
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import (
    AssignComplaint,
    AwaitCustomer,
    CloseComplaint,
    CommentOnComplaint,
    EscalateComplaint,
    FileComplaint,
    RecordCustomerReply,
    RecordSlaBreach,
    RecordSlaWarning,
    ReopenComplaint,
)
from commands.permissions import SYSTEM
from stream.envelope import SCHEMA_VERSION, TYPE_CLASSES, data_model, json_schema
from tests.application.test_stored_events_load import CAPTURED
from tests.intake import intake

DATA = Path(__file__).parents[1] / "data"
# Stored beside the data but not part of it (the CloudEvent envelope carries them).
_ENVELOPE = {"timestamp", "originator_topic", "actor", "correlation_id", "causation_id"}
_TOPIC_TYPES = {f"{cls.__module__}:{cls.__qualname__}": name for name, cls in TYPE_CLASSES.items()}


def published(version: int) -> dict[str, Any]:
    path = DATA / f"event_schema_v{version}.json"
    assert path.exists(), f"no {path.name}: add the schema published at version {version}"
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def test_the_schema_is_the_one_published_at_its_version() -> None:
    assert json_schema() == published(SCHEMA_VERSION), (
        "the public event schema changed: raise SCHEMA_VERSION in stream/envelope.py, add "
        f"tests/data/event_schema_v{SCHEMA_VERSION + 1}.json, document the change in "
        "docs/events.md, and upcast stored events if their shape changed"
    )
    assert json_schema()["version"] == SCHEMA_VERSION


def test_each_version_differs_from_the_one_before() -> None:
    for version in range(2, SCHEMA_VERSION + 1):
        assert published(version) != published(version - 1), version


def data_of(stored_state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in stored_state.items() if k not in _ENVELOPE | {"class_version"}}


def upcast(type_: str, stored_state: dict[str, Any]) -> dict[str, Any]:
    """``stored_state`` as the mapper hands it on: upcast to the event class's version."""
    cls, state = TYPE_CLASSES[type_], dict(stored_state)
    version = state.pop("class_version", 1)
    while version < getattr(cls, "class_version", 1):
        getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
        version += 1
    return state


def assert_shape(data: dict[str, Any], schema: dict[str, Any], where: str) -> None:
    """``data`` has every required field of ``schema`` and no other than it declares; nested
    objects (customer, product, attachments) likewise."""
    defs = json_schema()["$defs"]
    assert set(schema.get("required", [])) <= set(data) <= set(schema["properties"]), where
    for name, value in data.items():
        ref = schema["properties"][name].get("$ref") or schema["properties"][name].get(
            "items", {}
        ).get("$ref")
        nested = defs[ref.rsplit("/", 1)[1]] if ref else {}
        if nested.get("type") == "object":
            for item in value if isinstance(value, list) else [value]:
                assert_shape(item, nested, f"{where}.{name}")


def stored_complaint_events(app: ComplaintsApp, complaint_id: UUID) -> list[tuple[str, Any]]:
    return [
        (_TOPIC_TYPES[row.topic], app.mapper.transcoder.decode(row.state))
        for row in app.recorder.select_events(complaint_id)
    ]


# Warnings and breaches are the deadline watcher's to record (commands/permissions.py).
WATCHER = CommandContext(principal="sla-watcher", role=SYSTEM, correlation_id="corr-watch")


IMPORTED_ID = UUID("5d7c3a8e-6f1b-4c2a-9e0d-1b2c3d4e5f60")
"""The imported complaint ``record_every_event_type`` records beside the main one."""


def record_every_event_type(app: ComplaintsApp, ctx: CommandContext) -> UUID:
    """Records one complaint with every public event type (and another it links to), its
    customer erased at the end, and an imported one (``IMPORTED_ID``); returns the first's
    id."""
    cid = app.file_complaint(FileComplaint.model_validate(intake()), ctx).complaint_id
    app.handle(cid, AssignComplaint(assignee="bob", team="east", reason="region"), ctx)
    app.handle(cid, CommentOnComplaint(body="called"), ctx)
    app.handle(cid, EscalateComplaint(reason="VIP", level=2), ctx)
    closing = CloseComplaint(resolution_code=ResolutionCode.RESOLVED, summary="ok")
    app.handle(cid, closing, ctx)
    app.handle(cid, ReopenComplaint(reason="again"), ctx)
    app.handle(cid, AwaitCustomer(reason="photo"), ctx)
    reply = RecordCustomerReply.model_validate({"body": "here", "channel": "email"})
    app.handle(cid, reply, ctx)
    resolution = app.get_complaint(cid).sla.resolution  # type: ignore[union-attr]
    metric, cycle, due = SlaMetric.RESOLUTION, resolution.cycle, resolution.due_at
    app.handle(
        cid, RecordSlaWarning(metric=metric, cycle=cycle, due_at=due, warned_at=due), WATCHER
    )
    app.handle(
        cid, RecordSlaBreach(metric=metric, cycle=cycle, due_at=due, breached_at=due), WATCHER
    )
    other = app.file_complaint(FileComplaint.model_validate(intake()), ctx).complaint_id
    automated = app.get_complaint(cid)
    by = Provenance("automation", "corr-rule", "cause", "some-rule@v1")
    automated.change_severity("critical", reason="rule", by=by)
    automated.tag("legal_risk", reason="rule", by=by)
    automated.untag("legal_risk", by=by)
    automated.request_notification("sensitive_terms", audience="team_supervisor", reason="r", by=by)
    automated.link_to(other, "C-0000-0000", reason="same customer", by=by)
    follow_up = automated.schedule_follow_up(
        due, [{"add_tag": "x"}], if_still={"field": "status", "eq": "closed"}, by=by
    )
    automated.finish_follow_up(follow_up, performed=False, by=by)
    # The closed loop (issue 12): every remedy step, and the answer to the close's survey.
    boss, customer, cny = Provenance("boss", "corr-loop"), Provenance("customer", "c"), "CNY"
    first = automated.propose_remedy(
        "refund", money=Money.of("9", cny), description="d", limit=None, by=ctx.provenance
    )
    automated.approve_remedy(first, limit=Money.of("10", cny), by=boss)
    automated.decline_remedy(first, "no", by=customer)
    second = automated.propose_remedy(
        "repair", money=Money.of("9", cny), description="d", limit=None, by=ctx.provenance
    )
    automated.reject_remedy(second, "no", limit=Money.of("10", cny), by=boss)
    third = automated.propose_remedy(
        "apology", money=None, description="d", limit=Money.of("1", cny), by=ctx.provenance
    )
    automated.accept_remedy(third, by=customer)
    automated.fulfil_remedy(third, "sent", by=ctx.provenance)
    assert automated.survey is not None
    automated.record_satisfaction(
        automated.survey.token, csat=4, nps=9, comment="ok", now=app.clock(), by=customer
    )
    app.save(automated)
    erased = app.get_complaint(cid)
    erased.erase_personal_data("erasure request 42", by=ctx.provenance)
    app.save(erased)
    # An import (issue 13): a filing recorded with where it came from, closed at its date.
    imported = Complaint.file(
        reference="C-IMPO-RT01", received_at=due, by=ctx.provenance, contact_required=False,
        id=IMPORTED_ID,
        **FileComplaint.model_validate(intake()).filing(),
    )
    imported.record_import(
        source="cfpb", external_id="1", digest="d", kept={"company": "Bank"}, by=ctx.provenance
    )
    imported.close("resolved", "Closed with explanation", closed_at=due, by=ctx.provenance)
    app.save(imported)
    return cid


def test_stored_events_have_exactly_the_fields_the_schema_declares(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    cid = record_every_event_type(app, ctx)
    defs = json_schema()["$defs"]
    stored = stored_complaint_events(app, cid) + stored_complaint_events(app, IMPORTED_ID)
    assert {type_ for type_, _ in stored} == set(TYPE_CLASSES)
    for type_, state in stored:
        data = data_of(state)
        # Everything declared is stored, also what is optional (written as null).
        assert set(data) == set(defs[type_]["properties"]), type_
        assert_shape(data, defs[type_], type_)
        data_model(TYPE_CLASSES[type_]).model_validate(data)
    filed = data_of(stored[0][1])
    for part, value in [
        ("Customer", filed["customer"]),
        ("Product", filed["product"]),
        ("Attachment", filed["attachments"][0]),
    ]:
        assert set(value) == set(defs[part]["properties"]), part


@pytest.mark.parametrize("name", sorted(CAPTURED["ids"]))
def test_events_stored_by_earlier_versions_fit_the_schema(name: str) -> None:
    defs = json_schema()["$defs"]
    originator = UUID(CAPTURED["ids"][name]).hex
    rows = [row for row in CAPTURED["rows"] if row["originator_id"] == originator]
    assert rows
    for row in rows:
        type_ = _TOPIC_TYPES[row["topic"]]
        data = data_of(upcast(type_, json.loads(row["state"])))
        assert_shape(data, defs[type_], f"{name} v{row['originator_version']}")
