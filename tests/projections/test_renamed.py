"""A store whose complaint list was tracked under its former name (``complaints``) resumes from its
position: its tracking and dead-letter rows are renamed in place where the tables are created."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import pytest

from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import FileComplaint
from infra.bootstrap import ALL_VIEW_TABLES
from projections import quarantine
from projections.complaint_list import COMPLAINT_LIST, ComplaintListProjection
from projections.registry import build
from projections.runner import Runner
from projections.store import ReadModelStore, tracking_key
from tests.intake import intake
from tests.projections.faults import Refusing, refusing

FORMER, NAME = "complaints", "complaint_list"


def file(app: ComplaintsApp, ctx: CommandContext, subject: str) -> UUID:
    body = FileComplaint.model_validate(intake(subject=subject))
    return app.file_complaint(body, ctx).complaint_id


def rename_rows(store: ReadModelStore, name: str, to: str) -> None:
    with store.write() as tx:
        tx.execute(
            f"UPDATE {store.database.tracking_table} SET application_name = %s "
            "WHERE application_name = %s",
            (tracking_key(to), tracking_key(name)),
        )
        tx.execute(
            f"UPDATE {tx.table(quarantine.QUARANTINE.name)} SET projection = %s "
            "WHERE projection = %s",
            (to, name),
        )


def tracked(store: ReadModelStore) -> dict[str, int]:
    """Every projection's tracking row, by projection name."""
    with store.read() as tx:
        rows = tx.rows(f"SELECT * FROM {store.database.tracking_table}")
    prefix = tracking_key("")
    return {
        r["application_name"].removeprefix(prefix): r["notification_id"]
        for r in rows
        if r["application_name"].startswith(prefix)
    }


def quarantined(store: ReadModelStore) -> dict[str, list[int]]:
    """The positions of every dead-letter row, by projection name."""
    with store.read() as tx:
        rows = tx.rows(f"SELECT projection, position FROM {tx.table(quarantine.QUARANTINE.name)}")
    found: dict[str, list[int]] = {}
    for r in sorted(rows, key=lambda r: (r["projection"], r["position"])):
        found.setdefault(r["projection"], []).append(r["position"])
    return found


@dataclass(frozen=True)
class FormerStore:
    """Complaints "fine" and "bad" listed up to ``head`` under the former name, bad's filing
    quarantined there (and its SLA terms parked behind it), as the earlier version left its
    store."""

    fine: UUID
    bad: UUID
    head: int
    bad_quarantined: list[int]


@pytest.fixture
def former(app: ComplaintsApp, ctx: CommandContext) -> FormerStore:
    fine, bad = file(app, ctx, "fine"), file(app, ctx, "bad")
    fault = Refusing()
    fault.refused.add(bad)
    Runner(app, [refusing(ComplaintListProjection, fault)]).catch_up()
    store = ReadModelStore(app)
    bad_quarantined = quarantined(store)[NAME]
    assert len(bad_quarantined) == 2
    rename_rows(store, NAME, FORMER)
    head = app.recorder.max_notification_id() or 0
    assert tracked(store) == {FORMER: head}
    return FormerStore(fine, bad, head, bad_quarantined)


def test_the_view_resumes_from_the_position_kept_under_its_former_name(
    app: ComplaintsApp, ctx: CommandContext, former: FormerStore
) -> None:
    later = file(app, ctx, "later")

    ReadModelStore(app).create_tables(ALL_VIEW_TABLES)  # as a process starting: rows renamed
    runner = Runner(app, build([NAME]))

    assert tracked(runner.store) == {NAME: former.head}
    # the later filing and its SLA terms only: nothing before them is applied again
    assert runner.catch_up() == 2
    listed = {r["id"] for r in runner.store.snapshot(COMPLAINT_LIST)}
    assert listed == {former.fine, later}


def test_the_quarantine_kept_under_the_former_name_can_be_retried(
    app: ComplaintsApp, former: FormerStore
) -> None:
    ReadModelStore(app).create_tables(ALL_VIEW_TABLES)
    runner = Runner(app, build([NAME]))

    assert quarantined(runner.store) == {NAME: former.bad_quarantined}
    done = runner.retry(runner.projections[0])
    assert (done.applied, done.still_failing) == (2, [])
    assert former.bad in {r["id"] for r in runner.store.snapshot(COMPLAINT_LIST)}


def test_the_renaming_is_done_once(app: ComplaintsApp, former: FormerStore) -> None:
    store = ReadModelStore(app)
    store.create_tables([])
    renamed = (tracked(store), quarantined(store))

    store.create_tables([])
    ReadModelStore(app).create_tables([])  # another process starting, say

    assert (tracked(store), quarantined(store)) == renamed == (
        {NAME: former.head}, {NAME: former.bad_quarantined}
    )


def test_where_both_names_have_rows_the_name_now_wins(
    app: ComplaintsApp, former: FormerStore
) -> None:
    # As if a process of the earlier version ran again after the upgrade: rows under both names.
    store = ReadModelStore(app)
    columns = [c.name for c in quarantine.QUARANTINE.columns]
    with store.write() as tx:
        store.lock(tx, NAME)
        store.advance(tx, NAME, former.head)
        tx.execute(
            f"UPDATE {store.database.tracking_table} SET notification_id = 1 "
            "WHERE application_name = %s",
            (tracking_key(FORMER),),
        )
        table = tx.table(quarantine.QUARANTINE.name)
        tx.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT %s, {', '.join(columns[1:])} "
            f"FROM {table} WHERE projection = %s",
            (NAME, FORMER),
        )
    assert tracked(store) == {FORMER: 1, NAME: former.head}

    store.create_tables([])

    assert tracked(store) == {NAME: former.head}
    assert quarantined(store) == {NAME: former.bad_quarantined}
