"""GET /analytics/summary?as_of=: the report as it was at an instant, and compared with now.

The acceptance test of issue 13: a summary as of an instant equals the summary computed on a copy
of the store truncated at that instant's position (a fresh store holding the stored events up to
it, its analytics view rebuilt normally). Events after the instant change the same period (a
close, a reopen, a new filing), so a summary that saw them would differ.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from infra.bootstrap import Services, bootstrap
from infra.settings import Settings
from queries.analytics import analytics_summary
from queries.analytics_as_of import position_at
from tests.conftest import POSTGRES_URL, reset_schema
from tests.intake import intake

TODAY = datetime.now(UTC).date()
PERIOD = {"from": "2025-06-01", "to": TODAY.isoformat()}
"""Filings in June 2025 and what is done to them today: closes, reopens and replies count on the
day they happen (tests run in UTC, the default report zone)."""
CLOSE = {"resolution_code": "resolved", "summary": "Phone exchanged"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Personal fields in clear: the truncated copy has the events but not the customers' data
    # keys (a separate table), and analytics reads no personal field anyway.
    return settings.model_copy(update={"encrypt_personal_data": False})


@pytest.fixture
def copy_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty second store of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'copy.db'}"
        return
    schema = database_url.rsplit("schema=", 1)[1] + "_copy"
    reset_schema(schema)
    yield f"{POSTGRES_URL}?schema={schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def file(client: TestClient, day: int) -> str:
    body = intake(received_at=f"2025-06-{day:02d}T12:00:00+00:00")
    response = client.post("/complaints", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def act(client: TestClient, complaint: str, action: str, body: dict[str, Any]) -> None:
    response = client.post(f"/complaints/{complaint}/{action}", json=body)
    assert response.status_code == 200, response.text


def instant_between(client: TestClient) -> datetime:
    """An instant strictly after every event so far and before every later one."""
    time.sleep(0.01)
    instant = datetime.now(UTC)
    time.sleep(0.01)
    return instant


def history(client: TestClient) -> datetime:
    """Complaints filed and worked in June 2025; returns an instant after which more happens to
    the same period: a close, a reopen, a first reply and a new filing."""
    first, second, third = file(client, 2), file(client, 3), file(client, 10)
    act(client, first, "close", CLOSE)
    act(client, second, "comments", {"body": "On it", "visibility": "customer"})
    as_of = instant_between(client)
    act(client, first, "reopen", {"reason": "Still cracked"})
    act(client, second, "close", CLOSE)
    act(client, third, "comments", {"body": "Looking", "visibility": "customer"})
    file(client, 11)
    return as_of


def as_of_summary(client: TestClient, as_of: datetime, **params: Any) -> Any:
    response = client.get(
        "/analytics/summary", params={**PERIOD, "as_of": as_of.isoformat(), **params}
    )
    assert response.status_code == 200, response.text
    return response.json()


def truncated_copy(services: Services, settings: Settings, url: str, position: int) -> Services:
    """A fresh store holding the source's stored events up to ``position``, its analytics view
    rebuilt by a normal runner."""
    copy = bootstrap(settings.model_copy(update={"database_url": url}))
    events = services.app.recorder.select_notifications(1, limit=position, stop=position)
    assert copy.app.recorder.append_in_bulk(events) == len(events)  # type: ignore[attr-defined]
    copy.runner(["analytics"]).rebuild()
    return copy


def test_a_summary_as_of_an_instant_equals_the_summary_of_the_store_cut_there(
    client: TestClient, services: Services, settings: Settings, copy_url: str
) -> None:
    as_of = history(client)
    position = position_at(services.app, as_of)
    assert 0 < position < (services.app.recorder.max_notification_id() or 0)
    with truncated_copy(services, settings, copy_url, position) as copy:
        for group_by in ("category", "day"):
            answer = as_of_summary(client, as_of, group_by=group_by)
            assert answer["position"] == position and answer["as_of"]
            expected = analytics_summary(
                copy.read_models, date(2025, 6, 1), TODAY, group_by
            ).model_dump(mode="json", by_alias=True)
            assert {k: answer[k] for k in expected} == expected
    # ... and the events after the instant changed the period's figures since.
    services.runner(["analytics"]).catch_up()
    now = client.get("/analytics/summary", params=PERIOD).json()
    assert (answer["totals"]["filed"], answer["totals"]["closed"]) == (3, 1)
    assert (now["totals"]["filed"], now["totals"]["closed"], now["totals"]["reopened"]) == (4, 2, 1)


def test_compare_to_now_gives_both_summaries_and_their_differences(
    client: TestClient, services: Services
) -> None:
    as_of = history(client)
    services.runner(["analytics"]).catch_up()
    answer = as_of_summary(client, as_of, compare_to="now")
    then, now, differences = answer["as_of"], answer["now"], answer["differences"]
    assert then["position"] == position_at(services.app, as_of)
    assert now == client.get("/analytics/summary", params=PERIOD).json()
    assert differences["totals"]["filed"] == now["totals"]["filed"] - then["totals"]["filed"] == 1
    assert differences["totals"]["reopen_rate"] == pytest.approx(
        now["totals"]["reopen_rate"] - (then["totals"]["reopen_rate"] or 0)
    )
    assert [g["key"] for g in differences["groups"]] == ["product_quality"]
    assert differences["groups"][0]["differences"]["closed"] == 1


def test_a_past_summary_is_rebuilt_once_per_position(
    client: TestClient, services: Services
) -> None:
    as_of = history(client)
    as_of_summary(client, as_of)
    later_same_position = as_of + timedelta(microseconds=1)
    as_of_summary(client, later_same_position)
    assert services.analytics_as_of.cached_positions() == [position_at(services.app, as_of)]


def test_an_instant_before_any_event_answers_an_empty_report(client: TestClient) -> None:
    file(client, 2)
    answer = as_of_summary(client, datetime(2020, 1, 1, tzinfo=UTC))
    assert (answer["position"], answer["totals"]["filed"], answer["groups"]) == (0, 0, [])


def test_a_bad_as_of_is_refused_naming_the_field(client: TestClient) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    cases = [
        ({"as_of": tomorrow}, "as_of", "must not be in the future"),
        ({"as_of": "2999-01-01T00:00:00Z"}, "as_of", None),  # beyond the plausible range
        ({"as_of": "2026-01-01T00:00:00"}, "as_of", None),  # no UTC offset
        ({"as_of": "yesterday"}, "as_of", None),
        ({"compare_to": "now"}, "compare_to", "needs as_of"),
        ({"as_of": "2025-01-01T00:00:00Z", "compare_to": "then"}, "compare_to", None),
    ]
    for params, field, reason in cases:
        response = client.get("/analytics/summary", params=params)
        assert response.status_code == 422, (params, response.text)
        errors = {e["field"]: e["reason"] for e in response.json()["errors"]}
        assert field in errors and reason in (None, errors[field]), (params, errors)
