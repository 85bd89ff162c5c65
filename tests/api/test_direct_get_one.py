"""``GET /complaints/{id}`` served by ``DirectGetOne`` answers exactly as the declared FastAPI
route does (which serves it without the direct route), on SQLite and PostgreSQL: status,
headers, body and the access-log entry of every request, refusals included."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.routers.complaints import DirectGetOne
from commands.application import ComplaintsApp
from commands.context import CommandContext
from infra.bootstrap import Services
from tests.api.test_personal_data import access_log, file, headers

# Headers that differ between any two answers, whichever route gave them.
VOLATILE = {"date", "x-request-id"}
# An access-log entry's own id and time, and the request id it names, differ likewise.
VOLATILE_ENTRY = {"id", "at", "request_id"}
# The SLA clocks' seconds left are read at each answer: a second apart, they differ by one.
CLOCK = re.compile(rb'"remaining_seconds":-?[0-9]+')


def without_direct_route(api: FastAPI) -> FastAPI:
    direct = api.router.routes.pop(0)
    assert isinstance(direct, DirectGetOne)
    return api


@pytest.fixture
def clients(services: Services) -> Iterator[tuple[TestClient, TestClient]]:
    with (
        TestClient(without_direct_route(create_app(services))) as declared,
        TestClient(create_app(services)) as direct,
    ):
        yield declared, direct


def answer(client: TestClient, path: str, request_headers: dict[str, str]) -> dict[str, Any]:
    response = client.get(path, headers=request_headers)
    return {
        "status": response.status_code,
        "headers": {k: v for k, v in response.headers.items() if k not in VOLATILE},
        "body": CLOCK.sub(b'"remaining_seconds":N', response.content),
    }


def test_the_direct_route_answers_as_the_declared_route(
    app: ComplaintsApp,
    ctx: CommandContext,
    clients: tuple[TestClient, TestClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    declared, direct = clients
    served = []
    handle = DirectGetOne.handle

    async def counted(route: DirectGetOne, *args: Any) -> None:
        served.append(args[0]["path"])
        await handle(route, *args)

    monkeypatch.setattr(DirectGetOne, "handle", counted)
    east = file(app, ctx, assignee="bob", team="east")
    west = file(app, ctx, assignee="dan", team="west", customer="CUST-2002")
    unassigned = file(app, ctx, assignee=None)
    supervisor = headers(app, ctx, "sue", "supervisor", teams=["east"])
    agent = headers(app, ctx, "bob", "agent", teams=["east"])
    compliance = headers(app, ctx, "carol", "compliance")
    analyst = headers(app, ctx, "ann", "analyst")
    cases: list[tuple[str, dict[str, str], bool]] = [
        # (path, headers, served by the direct route)
        (f"/complaints/{east}", supervisor, True),
        (f"/complaints/{east}", agent, True),
        (f"/complaints/{west}", agent, True),  # outside the agent's team
        (f"/complaints/{west}", supervisor, True),
        (f"/complaints/{unassigned}", agent, True),
        (f"/complaints/{east}", {**compliance, "X-Purpose": "audit-2026-17"}, True),
        (f"/complaints/{east}", {**supervisor, "X-Request-ID": "req-123"}, True),
        (f"/complaints/{east}", analyst, True),
        (f"/complaints/{uuid4()}", analyst, True),  # the role is refused before any lookup
        (f"/complaints/{str(east).upper()}", supervisor, True),  # an id in capitals
        (f"/complaints/{uuid4()}", supervisor, True),
        (f"/complaints/{east}", {}, True),
        (f"/complaints/{east}", {"Authorization": "Basic YWxhZGRpbjpvcGVu"}, True),
        (f"/complaints/{east}", {"Authorization": "Bearer not-a-token"}, True),
        (f"/complaints/{east}", {"Authorization": "bearer"}, True),
        (f"/complaints/{east}", {**supervisor, "X-Purpose": "two words"}, True),
        (f"/complaints/{east}", {**supervisor, "X-Request-ID": "x" * 201}, True),
        # Redirected to the path without the slash (by the router, as before), served there.
        (f"/complaints/{east}/", supervisor, True),
        # Not the direct route's: the declared route serves them in both applications.
        (f"/complaints/{east}?as_of=2020-01-01T00:00:00Z", supervisor, False),
        (f"/complaints/{east}?as_of=yesterday", supervisor, False),
        (f"/complaints/{east}?unknown=1", supervisor, False),
        (f"/complaints/{east}/history", supervisor, False),
        ("/complaints/not-a-uuid", supervisor, False),
        ("/complaints/%C3%A9", supervisor, False),
        (f"/complaints/{east.hex}", supervisor, False),  # a UUID, but not as the API writes it
        ("/complaints/export", supervisor, False),  # another route's path
        ("/complaints/%00", supervisor, False),
    ]
    statuses = set()
    for path, request_headers, direct_serves in cases:
        before = len(served)
        expected = answer(declared, path, request_headers)
        assert len(served) == before, f"the declared application served {path} directly"
        assert answer(direct, path, request_headers) == expected, (path, request_headers)
        assert len(served) == before + direct_serves, path
        statuses.add(expected["status"])
    assert statuses >= {200, 400, 401, 403, 404, 422}

    # Each request logged what it showed: the declared route's and the direct route's entries
    # come in equal pairs, oldest first.
    entries = [
        {k: v for k, v in entry.items() if k not in VOLATILE_ENTRY}
        for entry in sorted(access_log(declared, compliance, limit=200), key=lambda e: e["at"])
    ]
    assert len(entries) >= 10, "too few requests showed personal data to compare their entries"
    assert len(entries) % 2 == 0
    assert entries[0::2] == entries[1::2]
