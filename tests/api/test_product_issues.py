"""The product_issues view, and how a view added after the fact catches up (issue 13).

A store written while the view did not exist (the registry without it): once registered, the
view starts at position 0, catches up while the system runs, and ``GET /projections`` lists it,
behind first, then with lag 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import infra.bootstrap as composition
from aggregates.vocabulary import Role
from api.app import create_app
from commands.context import CommandContext
from infra.bootstrap import Services, bootstrap
from infra.settings import Settings
from projections import registry
from projections.product_issues import ProductIssuesProjection
from tests.conftest import TEST_TEAMS
from tests.intake import intake
from tests.waiting import eventually

CLOSE = {"resolution_code": "resolved", "summary": "Done"}
ADMIN = CommandContext("root", "admin", "corr-test")


def customer(customer_id: str) -> dict[str, Any]:
    return {"id": customer_id, "name": "Li", "phone": "13800138000", "tier": "standard"}


def write_history(client: TestClient) -> None:
    """Two X9 screen complaints of one customer 10 days apart (the second a repeat), one of
    another customer (no repeat), one without a product; two closes and a reopen
    and close again (three closes)."""
    filings = [
        ("C1", {"name": "X9 phone"}, "product_quality", "2025-06-01T10:00:00+00:00"),
        ("C1", {"name": "X9 phone"}, "product_quality", "2025-06-11T10:00:00+00:00"),
        ("C2", {"name": "X9 phone"}, "product_quality", "2025-07-01T10:00:00+00:00"),
        ("C2", {}, "logistics", "2025-09-01T10:00:00+00:00"),  # 62 days later: no repeat
    ]
    ids = []
    for customer_id, product, category, received_at in filings:
        response = client.post("/complaints", json=intake(
            customer=customer(customer_id), product=product, category=category,
            received_at=received_at,
        ))
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    for complaint in (ids[0], ids[3]):
        assert client.post(f"/complaints/{complaint}/close", json=CLOSE).status_code == 200
    assert client.post(f"/complaints/{ids[0]}/reopen", json={"reason": "x"}).status_code == 200
    assert client.post(f"/complaints/{ids[0]}/close", json=CLOSE).status_code == 200


EXPECTED = [
    {"product": "X9 phone", "category": "product_quality", "filed": 3, "closed": 2,
     "repeat_complaints": 1, "repeat_rate": 1 / 3},
    {"product": "", "category": "logistics", "filed": 1, "closed": 1,
     "repeat_complaints": 0, "repeat_rate": 0.0},
]


def tokens_of(services: Services) -> dict[Role, str]:
    issue = services.app.tokens.issue
    tokens = {r: issue(f"t-{r.value}", r.value, ADMIN).secret for r in Role
              if r not in (Role.SUPERVISOR,)}
    tokens[Role.SUPERVISOR] = issue("alice", "supervisor", ADMIN, teams=TEST_TEAMS).secret
    return tokens


@pytest.fixture
def client_of() -> Iterator[Any]:
    """Opens test clients on given services (authenticated per route, as ``client``)."""
    from tests.role_client import RoleClient

    opened: list[RoleClient] = []

    def open_on(services: Services, tokens: dict[Role, str]) -> RoleClient:
        c = RoleClient(create_app(services))
        c.__enter__()
        c.tokens = tokens
        opened.append(c)
        return c

    yield open_on
    for c in reversed(opened):
        c.__exit__(None, None, None)


def test_counts_per_product_and_category_with_repeats(
    client: TestClient, services: Services
) -> None:
    write_history(client)
    services.runner(["product_issues"]).catch_up()
    answer = client.get("/analytics/product-issues").json()
    assert answer["items"] == EXPECTED
    only = client.get("/analytics/product-issues", params={"product": ""}).json()
    assert [i["category"] for i in only["items"]] == ["logistics"]


def test_a_view_added_after_the_fact_catches_up_from_zero_and_shows_its_lag(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, client_of: Any
) -> None:
    without = tuple(c for c in registry.REGISTERED if c is not ProductIssuesProjection)
    monkeypatch.setattr(registry, "REGISTERED", without)
    monkeypatch.setattr(composition, "REGISTERED", without)
    monkeypatch.setattr(composition, "ALL_VIEW_TABLES", tuple(t for c in without for t in c.tables))
    with bootstrap(settings) as before:
        client = client_of(before, tokens_of(before))
        write_history(client)
        before.runner().catch_up()
        listed = client.get("/projections").json()
        assert "product_issues" not in {p["name"] for p in listed["projections"]}
    monkeypatch.undo()

    with bootstrap(settings) as after:  # the new version: the view registered, its tables made
        client = client_of(after, tokens_of(after))
        head = after.app.recorder.max_notification_id()

        def status() -> dict[str, Any]:
            found = client.get("/projections").json()["projections"]
            return next(p for p in found if p["name"] == "product_issues")

        assert (status()["position"], status()["lag_events"]) == (0, head)
        after.start_in_background(projections=True, webhooks=False)
        assert eventually(lambda: status()["lag_events"] == 0)
        assert status()["position"] == after.app.recorder.max_notification_id()
        answer = client.get("/analytics/product-issues").json()
        assert answer["items"] == EXPECTED
