"""``Database.append_in_bulk`` (loading benchmark stores) writes the rows ``insert_events`` writes,
numbered as the store numbers them, on both stores."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

from bench.generated_store import stored_events
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import CommentOnComplaint, FileComplaint
from infra.bootstrap import Services
from projections.database import database_of
from tests.intake import intake


def test_appended_events_are_the_recorded_rows_numbered_in_order(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    # The rows are copied to another complaint id below: sealed personal fields are bound to
    # their complaint id (and would rightly not open there), so this store keeps them plain.
    app.mapper.encrypt = False
    filed = app.file_complaint(FileComplaint(**intake()), ctx)
    app.handle(filed.complaint_id, CommentOnComplaint(body="On it", visibility="customer"), ctx)
    recorded = app.recorder.select_events(filed.complaint_id)
    head = app.recorder.max_notification_id() or 0
    copy_id = uuid4()

    written = database_of(app).append_in_bulk(
        replace(e, originator_id=copy_id) for e in recorded
    )

    assert written == len(recorded) == 3
    appended = app.recorder.select_notifications(head + 1, limit=10)
    assert [n.id for n in appended] == [head + 1, head + 2, head + 3]
    assert [(n.originator_id, n.originator_version, n.topic, n.state) for n in appended] == [
        (copy_id, e.originator_version, e.topic, e.state) for e in recorded
    ]
    original, copy = app.get_complaint(filed.complaint_id), app.get_complaint(copy_id)
    assert (copy.version, copy.status, copy.comments, copy.sla) == (
        original.version, original.status, original.comments, original.sla
    )


def test_a_generated_benchmark_store_replays_into_every_view(services: Services) -> None:
    """bench/generated_store.py makes events of the current schema, in an order the views accept
    (nothing quarantined), with the SLA records the watcher would have made."""
    app = services.app
    written = database_of(app).append_in_bulk(stored_events(app, 300, seed=7))
    runner = services.runner()

    read = runner.rebuild()

    with runner.store.read() as tx:
        def count(table: str) -> int:
            return int(tx.rows(f"SELECT count(*) AS n FROM {tx.table(table)}")[0]["n"])

        assert (count("complaint_list"), count("sla_cases")) == (300, 300)
        assert count("projection_quarantine") == 0
    assert read == written - 300  # all but the reference index's events
    topics = {n.topic.rsplit(".", 1)[-1] for n in app.recorder.select_notifications(1, 5000)}
    assert {"SlaApplied", "SlaBreached", "SlaWarned", "SlaCycleStarted"} <= topics
