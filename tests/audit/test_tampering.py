"""Tampering with the event table directly in SQL, around the recorder, is detected by the
verifier with a precise report, on SQLite and PostgreSQL (docs/audit.md)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import pytest

from aggregates.audit_chain import event_hash
from commands.application import ComplaintsApp
from commands.audit_checkpoints import Checkpoint
from commands.context import CommandContext
from commands.models import CommentOnComplaint, FileComplaint
from infra.bootstrap import Services
from projections.database import database_of
from queries.audit_verify import BreakKind, ChainBreak, VerifyReport, verify_store
from tests.audit.tampering import key, run_sql
from tests.intake import intake


@dataclass
class Store:
    services: Services
    url: str
    complaints: list[UUID]

    @property
    def app(self) -> ComplaintsApp:
        return self.services.app

    def sql(self, statement: str, *params: object) -> int:
        return run_sql(self.url, self.app, statement, *params)

    def position(self, complaint: int, version: int) -> int:
        return database_of(self.app).event_positions(self.complaints[complaint])[version]

    def verify(self, *anchors: Checkpoint) -> VerifyReport:
        return verify_store(
            database_of(self.app),
            self.services.checkpoints,
            self.services.audit_key,
            anchors=anchors,
            page_size=7,  # several pages even for a small store
        )

    def checkpoint(self, ctx: CommandContext) -> Checkpoint:
        return self.services.checkpoints.record(ctx)

    def comment(self, complaint: int, ctx: CommandContext) -> None:
        self.app.handle(
            self.complaints[complaint],
            CommentOnComplaint(body="More", visibility="internal"),
            ctx,
        )


@pytest.fixture
def store(services: Services, database_url: str, ctx: CommandContext) -> Store:
    """Three complaints of four events each (filed, SLA applied, two comments), a checkpoint,
    then one more comment on the first."""
    complaints = []
    for _ in range(3):
        cid = services.app.file_complaint(FileComplaint(**intake()), ctx).complaint_id
        for body in ("One", "Two"):
            services.app.handle(cid, CommentOnComplaint(body=body, visibility="internal"), ctx)
        complaints.append(cid)
    made = Store(services, database_url, complaints)
    made.checkpoint(ctx)
    made.comment(0, ctx)
    return made


def kinds(report: VerifyReport) -> list[BreakKind]:
    return [b.kind for b in report.breaks]


def only(report: VerifyReport, kind: BreakKind) -> ChainBreak:
    found = [b for b in report.breaks if b.kind == kind]
    assert len(found) == 1, report.breaks
    return found[0]


def test_an_untouched_store_verifies(store: Store) -> None:
    report = store.verify()
    assert report.ok, report.breaks
    assert report.checkpoints_checked == 1
    unused = sum(last - first + 1 for first, last in report.position_gaps)
    assert report.events + unused == store.app.recorder.max_notification_id()


def test_a_changed_state_is_a_hash_mismatch_at_that_event(store: Store) -> None:
    cid = store.complaints[1]
    changed = store.sql(
        "UPDATE {events} SET state = %s WHERE originator_id = %s AND originator_version = 3",
        b'{"body":"Nothing to see"}',
        key(store.url, cid),
    )
    assert changed == 1
    found = only(store.verify(), BreakKind.HASH_MISMATCH)
    assert (found.aggregate_id, found.version, found.position) == (cid, 3, store.position(1, 3))
    assert found.expected != found.found


def test_a_deleted_middle_event_is_a_version_gap(store: Store) -> None:
    cid = store.complaints[2]
    position = store.position(2, 2)
    store.sql(
        "DELETE FROM {events} WHERE originator_id = %s AND originator_version = 2",
        key(store.url, cid),
    )
    report = store.verify()
    found = only(report, BreakKind.VERSION_GAP)
    assert (found.aggregate_id, found.version) == (cid, 3)
    assert (found.expected, found.found) == ("version 2", "version 3")
    assert (position, position) in report.position_gaps
    if database_of(store.app).positions_are_dense:
        assert only(report, BreakKind.MISSING_POSITIONS).position == position


def test_a_deleted_last_event_is_shown_by_the_checkpoint(store: Store) -> None:
    cid = store.complaints[1]
    store.sql(
        "DELETE FROM {events} WHERE originator_id = %s AND originator_version = 4",
        key(store.url, cid),
    )
    found = only(store.verify(), BreakKind.CHECKPOINT_ROOT)
    assert "1 events missing" in found.detail
    assert "aggregates missing" not in found.detail


def test_a_deleted_complaint_is_shown_by_the_checkpoint(store: Store) -> None:
    deleted = store.sql(
        "DELETE FROM {events} WHERE originator_id = %s", key(store.url, store.complaints[2])
    )
    assert deleted == 4
    found = only(store.verify(), BreakKind.CHECKPOINT_ROOT)
    assert "1 aggregates missing, 4 events missing" in found.detail


def test_swapped_states_are_two_hash_mismatches(store: Store) -> None:
    first, second = store.position(0, 3), store.position(1, 4)
    states = {r.position: r.state for r in database_of(store.app).chain_rows(0, 100)}
    store.sql("UPDATE {events} SET state = %s WHERE {position} = %s", states[second], first)
    store.sql("UPDATE {events} SET state = %s WHERE {position} = %s", states[first], second)
    found = store.verify().breaks
    assert [(b.kind, b.position) for b in found] == [
        (BreakKind.HASH_MISMATCH, first),
        (BreakKind.HASH_MISMATCH, second),
    ]


def test_a_rewritten_complaint_with_recomputed_hashes_is_shown_by_the_checkpoint(
    store: Store,
) -> None:
    """Whoever recomputes the hashes of a whole aggregate's chain still changes its head.

    The rewrite shows the internal comments to the customer: a field kept in clear (the
    comments' bodies are sealed, so replacing their words would change nothing)."""
    cid = store.complaints[1]
    rows = list(database_of(store.app).chain_of(cid))
    assert sum(b'"internal"' in row.state for row in rows) == 2
    prev = rows[0].prev_hash
    for row in rows:
        state = row.state.replace(b'"internal"', b'"customer"')
        digest = event_hash(prev, cid, row.originator_version, row.topic, state)
        store.sql(
            "UPDATE {events} SET state = %s, prev_hash = %s, hash = %s WHERE {position} = %s",
            state,
            prev,
            digest,
            row.position,
        )
        prev = digest
    report = store.verify()
    assert kinds(report) == [BreakKind.CHECKPOINT_ROOT]
    assert "a head event rewritten" in report.breaks[0].detail


def test_a_truncated_tail_under_a_kept_checkpoint_is_shown_by_it(
    store: Store, ctx: CommandContext
) -> None:
    """The log cut short below a checkpoint that was left in place."""
    store.checkpoint(ctx)
    covered = store.services.checkpoints.all()[-1].position
    store.sql(
        "DELETE FROM {events} WHERE {position} > %s AND {position} <= %s",
        store.position(0, 4) - 1,
        covered,
    )
    assert BreakKind.CHECKPOINT_ROOT in kinds(store.verify())


def test_a_truncation_that_took_the_checkpoints_is_shown_by_a_copy_kept_outside(
    store: Store, ctx: CommandContext
) -> None:
    kept_outside = store.checkpoint(ctx)
    store.comment(2, ctx)
    cut = store.position(0, 4)  # the comment after the first checkpoint, and all that followed
    store.sql("DELETE FROM {events} WHERE {position} >= %s", cut)
    found = only(store.verify(kept_outside), BreakKind.CHECKPOINT_TRUNCATED)
    assert found.position == kept_outside.position
    assert found.found == f"the store ends at position {cut - 1}"


def test_a_forged_checkpoint_signature_is_refused(store: Store) -> None:
    from dataclasses import replace

    forged = replace(store.services.checkpoints.all()[-1], number=99, signature="00" * 32)
    found = only(store.verify(forged), BreakKind.CHECKPOINT_SIGNATURE)
    assert "checkpoint 99" in found.detail


def test_a_state_turned_into_text_is_reported_not_a_crash(store: Store) -> None:
    """SQLite stores whatever type it is given: ``state || 'x'`` leaves text behind."""
    suffix: object = "x" if store.url.startswith("sqlite") else b"x"
    position = store.position(2, 1)
    store.sql("UPDATE {events} SET state = state || %s WHERE {position} = %s", suffix, position)
    found = only(store.verify(), BreakKind.HASH_MISMATCH)
    assert (found.aggregate_id, found.position) == (store.complaints[2], position)
