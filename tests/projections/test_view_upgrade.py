"""A view whose tables an earlier version made with other columns is rebuilt by itself when a
process starts (infra/bootstrap.py), on both stores: upgrading needs no manual rebuild."""

from __future__ import annotations

import pytest

from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import FileComplaint
from infra.bootstrap import Services, bootstrap
from infra.settings import Settings
from projections.store import tracking_key
from projections.workload import WORKLOAD_AGENTS
from tests.intake import intake


def file(app: ComplaintsApp, ctx: CommandContext) -> None:
    app.file_complaint(FileComplaint.model_validate(intake()), ctx)


def as_an_earlier_version_left_it(services: Services) -> None:
    """``workload_agents`` without its last column, as a version before that column had it."""
    store = services.read_models
    older = [c for c in WORKLOAD_AGENTS.columns][:-1]
    with store.write() as tx:
        table = tx.table(WORKLOAD_AGENTS.name)
        tx.execute(f"DROP TABLE {table}")
        columns = ", ".join(f"{c.name} {store.dialect.column_type(c.type)}" for c in older)
        tx.execute(f"CREATE TABLE {table} ({columns})")


def test_a_view_with_other_columns_is_rebuilt_when_a_process_starts(
    services: Services, settings: Settings, ctx: CommandContext, caplog: pytest.LogCaptureFixture
) -> None:
    file(services.app, ctx)
    services.runner().catch_up()
    filled = services.read_models.snapshot(WORKLOAD_AGENTS)
    as_an_earlier_version_left_it(services)
    database = services.read_models.database
    assert database.tracking_position(tracking_key("workload")) is not None

    with bootstrap(settings) as restarted:
        store = restarted.read_models
        assert database.column_names(WORKLOAD_AGENTS) == list(WORKLOAD_AGENTS.column_names)
        assert database.tracking_position(tracking_key("workload")) is None  # from event 0
        assert database.tracking_position(tracking_key("complaint_list")) is not None  # kept
        restarted.runner().catch_up()
        assert store.snapshot(WORKLOAD_AGENTS) == filled
    assert "view workload has other columns" in caplog.text


def test_views_of_this_version_are_left_alone(
    services: Services, settings: Settings, ctx: CommandContext
) -> None:
    file(services.app, ctx)
    services.runner().catch_up()
    with bootstrap(settings) as restarted:
        assert restarted.read_models.outdated({"workload": [WORKLOAD_AGENTS]}) == []
        position = restarted.read_models.database.tracking_position(tracking_key("workload"))
        assert position == services.app.recorder.max_notification_id()
