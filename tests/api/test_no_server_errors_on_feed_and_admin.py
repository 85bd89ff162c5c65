"""No query string, header or body produces a 500 on the event feed, the waits and the admin routes.

The sibling of ``test_no_server_errors_on_reads.py`` (complaint and read-model routes): here the
hostile values go to ``GET /events`` and its stream's ``Last-Event-ID``, to ``min_position`` on
every read model, and to the admin-only webhook and projection routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregates.vocabulary import Role
from api.app import create_app
from commands.application import ComplaintsApp
from infra.bootstrap import bootstrap
from infra.settings import Settings
from tests.api.server_errors import assert_no_server_error
from tests.intake import intake
from tests.role_client import RoleClient

any_text = st.text(st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    ["nul\x00here", "\x1b[31m", "two\nlines", "²", "١٢", "９", "1e3", " 7", "-1", "0x10"]
)
numbers = st.integers(min_value=-(10**25), max_value=10**25).map(str) | st.sampled_from(
    [str(2**63 - 1), str(2**63), "9" * 5000, "1_0", "+5"]
)
instants = st.sampled_from(
    [
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:30:00-01:00",
        "1969-12-31T23:59:59Z",
        "2026-11-26T10:00:00",
        "2026-02-30T00:00:00Z",
        "1e9",
        "",
    ]
)
FEED: dict[str, st.SearchStrategy[str]] = {
    "after": numbers,
    "limit": numbers,
    "types": any_text,
    "aggregate_id": any_text,
}
READ_MODELS = ["/complaints", "/workload", "/analytics/summary"]
hypothesis_settings = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def admin(
    settings: Settings, app: ComplaintsApp, role_tokens: dict[Role, str]
) -> Iterator[TestClient]:
    """Sends each request as a role the permission table lets call it (the admin for the admin
    routes, a service for the feed, a supervisor for complaints)."""
    quick = settings.model_copy(update={"read_wait_seconds": 0.2, "webhooks_in_serve": False})
    with bootstrap(quick) as services, RoleClient(create_app(services)) as c:
        c.tokens = role_tokens
        yield c


@hypothesis_settings
@given(data=st.data())
def test_arbitrary_feed_parameters_never_500(admin: TestClient, data: st.DataObject) -> None:
    admin.post("/complaints", json=intake())
    names = data.draw(st.lists(st.sampled_from(sorted(FEED)), min_size=1, max_size=4, unique=True))
    params = {name: data.draw(FEED[name] | any_text) for name in names}
    assert_no_server_error(admin.get("/events", params=params), params)


@hypothesis_settings
@given(last_event_id=any_text.filter(lambda v: not (v.isascii() and v.strip().isdigit())))
def test_a_last_event_id_that_is_no_position_is_refused(
    admin: TestClient, last_event_id: str
) -> None:
    # Only refusals: a valid position would open a stream that this client waits on forever.
    raw = last_event_id.encode()  # as a client's bytes: headers need not be ASCII on the wire
    response = admin.get("/events/stream", headers={"Last-Event-ID": raw})  # type: ignore[dict-item]
    assert 400 <= response.status_code < 500, (last_event_id, response.text)


@hypothesis_settings
@given(route=st.sampled_from(READ_MODELS), position=numbers | any_text)
def test_arbitrary_min_positions_never_500(admin: TestClient, route: str, position: str) -> None:
    # No projection runs in this client: a reachable position may wait, and then answers 503
    # after read_wait_seconds; every other value must be refused at once or served.
    admin.post("/complaints", json=intake())
    response = admin.get(route, params={"min_position": position})
    assert response.status_code < 500 or response.status_code == 503, (position, response.text)
    if response.status_code == 503:
        head = admin.get("/projections").json()["head"]
        assert position.isascii() and 0 < int(position) <= head, position


@hypothesis_settings
@given(
    body=st.fixed_dictionaries(
        {"url": st.sampled_from(["https://hooks.example.com/x", "http://127.0.0.1:9/", "x"])},
        optional={
            "secret": st.sampled_from(["s" * 16, "nul\x00nul\x00nul\x00nul\x00", ""]),
            "after": st.integers(min_value=-(2**80), max_value=2**80),
            "types": st.lists(any_text, max_size=3),
        },
    ),
    limit=numbers,
    before=instants | any_text,
)
def test_arbitrary_subscription_requests_never_500(
    admin: TestClient, body: dict[str, Any], limit: str, before: str
) -> None:
    created = admin.post("/subscriptions", json=body)
    assert_no_server_error(created, body)
    if created.status_code == 201:
        sub = created.json()["id"]
        params = {"limit": limit, "before": before}
        assert_no_server_error(admin.get(f"/subscriptions/{sub}/deliveries", params=params), params)
        admin.delete(f"/subscriptions/{sub}")


@hypothesis_settings
@given(name=any_text)
def test_arbitrary_projection_names_never_500(admin: TestClient, name: str) -> None:
    path = f"/projections/{quote(name, safe='')}/retry"
    assert_no_server_error(admin.post(path), name)
