"""Events that intake refuses today but older stores hold: every view moves past them.

Each of ``tests/poison.py``'s POISONS is written straight into the store, followed by ordinary
complaints; the views must reach the head, list the ordinary complaints, show the poisoned one
with its values made storable (instants clamped, NUL stripped, the same on both stores), and a
rebuild must complete with the same result. Nothing here is quarantined: the encoders tolerate
these values.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import FileComplaint
from infra.bootstrap import bootstrap
from infra.settings import Settings
from projections import quarantine
from projections.analytics import ANALYTICS_ROLLUP
from projections.complaint_list import COMPLAINT_LIST
from projections.registry import build, names
from projections.runner import Runner
from projections.storable import EARLIEST, LATEST
from queries.analytics import analytics_summary
from queries.complaint_list import ListFilters, list_complaints
from queries.workload import get_workload
from tests.conftest import POSTGRES_URL
from tests.intake import intake
from tests.poison import BEFORE_YEAR_ONE as POISON_EARLY
from tests.poison import POISONS, store_poison
from tests.projections.history import generate
from tests.projections.views import snapshot

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the report zone of ``report_settings``
POISONED_DAY = {  # the clamped instants, as days in the report zone
    "received-before-year-one": date(1, 1, 3),
    "received-after-year-9999": date(9999, 12, 30),
}


def file_ordinary(app: ComplaintsApp, ctx: CommandContext, n: int) -> list[str]:
    subjects = [f"Ordinary {i}" for i in range(n)]
    for subject in subjects:
        app.file_complaint(FileComplaint.model_validate(intake(subject=subject)), ctx)
    return subjects


@pytest.mark.parametrize("poison", sorted(POISONS))
def test_every_view_moves_past_a_poison_event(
    app: ComplaintsApp, report_settings: Settings, ctx: CommandContext, poison: str
) -> None:
    before = file_ordinary(app, ctx, 2)
    poisoned = store_poison(app, **POISONS[poison])
    after = file_ordinary(app, ctx, 2)
    head = app.recorder.max_notification_id()
    runner = Runner(app, build(report_tz=report_settings.report_tz), page_size=1000)

    runner.catch_up()

    assert runner.store.positions(names()) == dict.fromkeys(names(), head)
    items = list_complaints(runner.store, ListFilters(), limit=50).items
    assert {i.subject for i in items} >= set(before + after)
    shown = next(i for i in items if i.id == poisoned)
    assert "\x00" not in shown.subject + shown.customer.name + (shown.region or "")
    assert EARLIEST <= shown.received_at <= LATEST
    with runner.store.read() as tx:
        assert quarantine.counts(tx) == {}
    assert get_workload(runner.store).teams == []  # nothing assigned; the read still works
    today = datetime.now(SHANGHAI).date()
    recent = analytics_summary(runner.store, today - timedelta(days=1), today, "region", top=5)
    assert recent.totals.filed == 4
    days = {r["day"]: r["filed"] for r in runner.store.snapshot(ANALYTICS_ROLLUP)
            if r["dimension"] == "all"}
    assert days[POISONED_DAY.get(poison, date(2025, 1, 1))] == 1  # counted on its (clamped) day

    incremental = snapshot(runner.store)
    runner.rebuild()
    assert snapshot(runner.store) == incremental


def test_stored_values_are_made_storable_alike_on_both_stores(
    app: ComplaintsApp, report_settings: Settings
) -> None:
    ids = {name: store_poison(app, **overrides) for name, overrides in POISONS.items()}
    runner = Runner(app, build(report_tz=report_settings.report_tz))
    runner.catch_up()
    rows = {r["id"]: r for r in runner.store.snapshot(COMPLAINT_LIST)}
    assert rows[ids["received-before-year-one"]]["received_at"] == EARLIEST
    assert rows[ids["received-after-year-9999"]]["received_at"] == LATEST
    assert rows[ids["nul-in-subject"]]["subject"] == "nulhere"
    assert rows[ids["nul-in-customer-name"]]["customer_name"] == "nulhere"
    assert rows[ids["nul-in-region"]]["region"] == "nulhere"


# Only PostgreSQL stored such rows (SQLite's encoder raised instead), so only it is repaired.
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_rows_written_out_of_range_before_the_fix_are_repaired_when_a_process_starts(
    app: ComplaintsApp, report_settings: Settings, database_url: str, ctx: CommandContext
) -> None:
    file_ordinary(app, ctx, 1)
    runner = Runner(app, build(report_tz=report_settings.report_tz))
    runner.catch_up()
    schema = database_url.split("schema=")[1]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:  # as the old encoder wrote it
        conn.execute(
            f'UPDATE "{schema}".complaint_list SET received_at = %s::timestamptz',
            ("0001-01-01 00:00:00+01",),
        )
    with pytest.raises(Exception, match="before year 1|too small"):
        list_complaints(runner.store, ListFilters())

    with bootstrap(report_settings):  # a worker process (re)starts
        pass

    assert list_complaints(runner.store, ListFilters()).items[0].received_at == EARLIEST


def test_poison_in_a_bulk_batch_is_made_storable_too(
    app: ComplaintsApp, report_settings: Settings
) -> None:
    """Large batches take another path on PostgreSQL (COPY into a staging table)."""
    generate(app, 150, seed=4, rounds=2)
    nul = store_poison(app, subject="nul\x00here", received_at=POISON_EARLY)
    generate(app, 150, seed=5, rounds=2)
    runner = Runner(
        app, build(report_tz=report_settings.report_tz), page_size=100, bulk_page_size=5000
    )
    runner.rebuild()
    rows = {r["id"]: r for r in runner.store.snapshot(COMPLAINT_LIST)}
    assert len(rows) == 301
    assert (rows[nul]["subject"], rows[nul]["received_at"]) == ("nulhere", EARLIEST)
    with runner.store.read() as tx:
        assert quarantine.counts(tx) == {}
