"""Issue 13 acceptance, imports: the 6,623-row CFPB sample imported once per store (module
scope), then the analytics summary per channel, per product, per month and the timely-response
share equal a direct computation over the CSV; a second import adds nothing; a dry run writes
nothing."""

from __future__ import annotations

import csv
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest

from commands.context import CommandContext
from infra.bootstrap import Services, bootstrap
from infra.import_jobs import import_file
from infra.settings import Settings
from queries.analytics import GroupBy, analytics_summary
from tests.conftest import POSTGRES_URL

SAMPLE = Path(__file__).parents[1] / "data" / "cfpb_complaints_sample_2020.csv"
ADMIN = CommandContext(principal="importer", role="admin", correlation_id="corr-import")
# The summary spans at most three years: the sample's 2015-2020 in two windows.
WINDOWS = ((date(2015, 1, 1), date(2017, 12, 31)), (date(2018, 1, 1), date(2020, 12, 31)))
CHANNELS = {"Web": "web", "Referral": "referral", "Phone": "phone", "Postal mail": "postal_mail",
            "Fax": "fax", "Email": "email"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def imported(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    """A store holding the sample, imported once, with the analytics view caught up."""
    where = tmp_path_factory.mktemp("imports")
    url = f"sqlite:///{where / 'complaints.db'}"
    schema = None
    if request.param == "postgres":
        schema = f"{request.getfixturevalue('postgres_schema')}_{uuid.uuid4().hex[:6]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{POSTGRES_URL}?schema={schema}"
    settings = Settings(
        database_url=url, secret_key_file=str(where / "secret.key"),
        admin_token_file=str(where / "admin-token"),
    )
    try:
        with bootstrap(settings) as services:
            result = import_file(services.app, SAMPLE, "cfpb", ADMIN)
            assert (result.imported, result.rejected) == (6623, 0), result.errors[:3]
            services.runner(["analytics"]).catch_up()
            yield services
    finally:
        if schema is not None:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def sample_rows() -> list[dict[str, str]]:
    with SAMPLE.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def summarised(services: Services, group_by: GroupBy) -> Counter[str | None]:
    """Complaints filed per group, over both windows."""
    filed: Counter[str | None] = Counter()
    for first, last in WINDOWS:
        for group in analytics_summary(services.read_models, first, last, group_by).groups:
            filed[group.key] += group.filed
    return filed


def test_filed_per_channel_equals_the_csv(imported: Services) -> None:
    expected = Counter(CHANNELS[r["Submitted via"]] for r in sample_rows())
    assert summarised(imported, "channel") == expected


def test_filed_per_product_equals_the_csv(imported: Services) -> None:
    expected = Counter(r["Product"] for r in sample_rows())
    assert summarised(imported, "product") == expected


def test_filed_per_month_equals_the_csv(imported: Services) -> None:
    expected = Counter(r["Date received"][:7] for r in sample_rows())
    assert summarised(imported, "month") == expected


def test_timely_share_and_closures_equal_the_csv(imported: Services) -> None:
    rows = sample_rows()
    totals = [analytics_summary(imported.read_models, a, b, "channel").totals for a, b in WINDOWS]
    timely = sum((t.timely_response_share or 0.0) * t.filed for t in totals)
    assert timely / sum(t.filed for t in totals) == pytest.approx(
        sum(r["Timely response?"] == "Yes" for r in rows) / len(rows)
    )
    # Closed at "Date sent to company", except those still "In progress".
    assert sum(t.closed for t in totals) == sum(
        r["Company response to consumer"] != "In progress" for r in rows
    )


def test_a_second_import_adds_nothing(imported: Services) -> None:
    before = imported.app.recorder.max_notification_id()
    result = import_file(imported.app, SAMPLE, "cfpb", ADMIN)
    assert (result.imported, result.skipped, result.changed, result.rejected) == (0, 6623, 0, 0)
    assert imported.app.recorder.max_notification_id() == before


def test_a_dry_run_writes_nothing(imported: Services, tmp_path: Path) -> None:
    before = imported.app.recorder.max_notification_id()
    # The sample's first 50 rows under new ids, and one row changed.
    rows = sample_rows()[:50]
    changed = dict(rows[0], Issue="Something else")
    fresh = [dict(r, **{"Complaint ID": "9" + r["Complaint ID"]}) for r in rows[1:]]
    sheet = tmp_path / "some.csv"
    with sheet.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([changed, *fresh])
    result = import_file(imported.app, sheet, "cfpb", ADMIN, dry_run=True)
    assert (result.imported, result.changed, result.skipped) == (49, 1, 0)
    assert result.changed_rows[0].row == 2
    assert imported.app.recorder.max_notification_id() == before
