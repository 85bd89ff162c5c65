"""Checkpoints: recorded periodically by serve's timer (skipping idle periods), signed with the
configured key; ``--since-checkpoint`` checks the checkpoint and what follows it."""

from __future__ import annotations

import base64
import time

from pydantic import SecretStr

from commands.application import ComplaintsApp
from commands.audit_checkpoints import CheckpointService, CheckpointTimer, timer_context
from commands.context import CommandContext
from commands.models import CommentOnComplaint, FileComplaint
from infra.audit_key import audit_key
from infra.bootstrap import Services, bootstrap
from infra.settings import Settings
from projections.database import database_of
from queries.audit_verify import BreakKind, verify_store
from tests.audit.tampering import key, run_sql
from tests.intake import intake


def test_the_timer_skips_a_period_with_nothing_new(services: Services, ctx: CommandContext) -> None:
    services.app.file_complaint(FileComplaint(**intake()), ctx)
    timer = CheckpointTimer(services.checkpoints, 3600, timer_context)
    first = timer.tick()
    assert first is not None and first.recorded_by == "audit-checkpoints"
    assert timer.tick() is None  # only the checkpoint itself was stored since
    services.app.file_complaint(FileComplaint(**intake()), ctx)
    second = timer.tick()
    assert second is not None and second.position > first.position
    assert [c.number for c in services.checkpoints.all()] == [first.number, second.number]


def test_serve_records_checkpoints_in_the_background(settings: Settings) -> None:
    with bootstrap(settings.model_copy(update={"audit_checkpoint_seconds": 0.05})) as services:
        services.start_in_background(projections=False, webhooks=False, audit_checkpoints=True)
        deadline = time.monotonic() + 10
        while not services.checkpoints.all() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert services.checkpoints.all()
        assert verify_store(database_of(services.app), services.checkpoints, services.audit_key).ok


def test_a_checkpoint_signed_with_another_key_is_named(
    services: Services, ctx: CommandContext
) -> None:
    services.checkpoints.record(ctx)
    other = base64.b64encode(b"k" * 32).decode()
    other_key = audit_key(services.settings.model_copy(update={"audit_key": SecretStr(other)}))
    assert other_key != services.audit_key and other_key == b"k" * 32
    elsewhere = CheckpointService(services.app, database_of(services.app), other_key)
    report = verify_store(database_of(services.app), elsewhere, other_key)
    assert [b.kind for b in report.breaks] == [BreakKind.CHECKPOINT_KEY]
    assert report.breaks[0].found == services.checkpoints.key_id


def test_since_checkpoint_sees_changes_after_it_and_to_heads_before_it(
    services: Services, ctx: CommandContext, database_url: str
) -> None:
    app: ComplaintsApp = services.app
    before = app.file_complaint(FileComplaint(**intake()), ctx).complaint_id
    services.checkpoints.record(ctx)
    after = app.file_complaint(FileComplaint(**intake()), ctx).complaint_id
    for cid in (before, after):
        app.handle(cid, CommentOnComplaint(body="Late", visibility="internal"), ctx)
    database = database_of(app)

    def since() -> list[tuple[BreakKind, int | None]]:
        report = verify_store(
            database, services.checkpoints, services.audit_key, since_checkpoint=True
        )
        assert report.scope == "since_checkpoint" and report.events < 9, report.events
        return [(b.kind, b.version) for b in report.breaks]

    assert since() == []
    filed = database.chain_of(after)[0]
    run_sql(
        database_url,
        app,
        "UPDATE {events} SET state = %s WHERE {position} = %s",
        filed.state + b" ",
        filed.position,
    )
    assert since() == [(BreakKind.HASH_MISMATCH, 1)]
    # A head the checkpoint covered, rewritten with a recomputed hash: the root shows it.
    run_sql(
        database_url,
        app,
        "UPDATE {events} SET hash = %s WHERE originator_id = %s AND originator_version = 2",
        b"\x01" * 32,
        key(database_url, before),
    )
    assert (BreakKind.CHECKPOINT_ROOT, None) in since()


def test_settings_without_an_audit_key_derive_one_from_the_secret_key(
    settings: Settings,
) -> None:
    from infra.secrets import load_key

    derived = audit_key(settings)
    assert len(derived) == 32 and derived == audit_key(settings)  # stable across starts
    assert base64.b64encode(derived).decode() != load_key(settings)  # not the key itself
