"""The direct routes (``api/direct_routes.py``) answer exactly as the declared FastAPI routes
do (which serve the same requests in an application without them), on SQLite and PostgreSQL:
status, headers, body and access-log entries, refusals included; a command's events record
the same actor, correlation and causation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Annotated, Any
from uuid import uuid4

import pytest
from fastapi import Depends, FastAPI, Header
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient

from api.app import create_app
from api.deps import AppDep, ContextDep, permit
from api.direct_routes import DirectCommand, DirectGetOne, _Direct
from api.disclosure import ReaderDep
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import CommentOnComplaint
from infra.bootstrap import Services
from tests.api.test_personal_data import access_log, file, headers
from tests.intake import intake

# Headers that differ between any two answers, whichever route gave them.
VOLATILE = {"date", "x-request-id"}
# An access-log entry's own id and time, and the request id it names, differ likewise.
VOLATILE_ENTRY = {"id", "at", "request_id"}
# The SLA clocks' seconds left are read at each answer: a second apart, they differ by one.
CLOCK = re.compile(rb'"remaining_seconds":-?[0-9]+')


def without_direct_route(api: FastAPI) -> FastAPI:
    direct = [r for r in api.router.routes if isinstance(r, _Direct)]
    assert api.router.routes[: len(direct)] == direct
    assert {type(r) for r in direct} == {DirectGetOne, DirectCommand}
    del api.router.routes[: len(direct)]
    return api


@pytest.fixture
def clients(services: Services) -> Iterator[tuple[TestClient, TestClient]]:
    with (
        TestClient(without_direct_route(create_app(services))) as declared,
        TestClient(create_app(services)) as direct,
    ):
        yield declared, direct


def served_by(route: type[_Direct], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths that routes of the class ``route`` serve from now on, in order."""
    served: list[str] = []
    handle = route.handle

    async def counted(self: _Direct, scope: Any, *args: Any) -> None:
        served.append(scope["path"])
        await handle(self, scope, *args)

    monkeypatch.setattr(route, "handle", counted)
    return served


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
    served = served_by(DirectGetOne, monkeypatch)
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


# What differs between two complaints made alike, or two answers a moment apart.
_IDS = [
    (re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), b"<id>"),
    (re.compile(rb"\b[0-9a-f]{32}\b"), b"<id>"),  # a comment's id
    (re.compile(rb"C-[0-9A-Z]{4}-[0-9A-Z]{4}"), b"<reference>"),
    (re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)?"), b"<instant>"),
    (re.compile(rb"CUST-TWIN-[AB]"), b"CUST-TWIN"),
    (re.compile(rb"retry-me-[AB]"), b"retry-me"),
    (re.compile(rb'"access_code":"[^"]+"'), b'"access_code":"<code>"'),
    (re.compile(rb'"token": "[^"]+"'), b'"token":"<token>"'),  # the survey's, random
    (CLOCK, b'"remaining_seconds":N'),
    (re.compile(rb'"position": ?[0-9]+'), b'"position":N'),  # in the one log both are in
]


def alike(content: bytes | str) -> bytes:
    text = content.encode() if isinstance(content, str) else content
    for pattern, replacement in _IDS:
        text = pattern.sub(replacement, text)
    return text


def posted(
    client: TestClient, path: str, body: bytes | None, request_headers: dict[str, str]
) -> dict[str, Any]:
    response = client.post(path, content=body, headers=request_headers)
    return {
        "status": response.status_code,
        "headers": {k: alike(v) for k, v in response.headers.items() if k not in VOLATILE},
        "body": alike(response.content),
    }


JSON = {"Content-Type": "application/json"}


def test_commands_refused_alike(
    app: ComplaintsApp,
    ctx: CommandContext,
    clients: tuple[TestClient, TestClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every refusal, on one complaint: each request to the declared route, then the same to
    the direct one. None changes the complaint."""
    declared, direct = clients
    served = served_by(DirectCommand, monkeypatch)
    east = file(app, ctx, assignee="bob", team="east")
    version = app.get_complaint(east).version
    supervisor = {**headers(app, ctx, "sue", "supervisor", teams=["east"]), **JSON}
    outsider = {**headers(app, ctx, "wes", "supervisor", teams=["west"]), **JSON}
    analyst = {**headers(app, ctx, "ann", "analyst"), **JSON}
    comment = b'{"body": "Called back.", "visibility": "customer"}'
    at = f"/complaints/{east}"
    cases: list[tuple[str, bytes | None, dict[str, str], bool]] = [
        (f"{at}/comments", b"{", supervisor, True),
        (f"{at}/comments", b'{"body": "x"', supervisor, True),
        (f"{at}/comments", b"", supervisor, True),
        (f"{at}/comments", None, supervisor, True),
        (f"{at}/comments", b"null", supervisor, True),
        (f"{at}/comments", b"[]", supervisor, True),
        (f"{at}/comments", b"42", supervisor, True),
        (f"{at}/comments", b"\xff\xfe", supervisor, True),
        (f"{at}/comments", b"{}", supervisor, True),
        (f"{at}/comments", b'{"body": "a\\u0007b"}', supervisor, True),
        (f"{at}/comments", b'{"body": "x", "unknown": 1}', supervisor, True),
        (f"{at}/comments", b'{"body": 5, "visibility": "everyone"}', supervisor, True),
        (f"{at}/comments", comment, {**supervisor, "Content-Type": "text/plain"}, True),
        (f"{at}/comments", comment, {"Authorization": supervisor["Authorization"]}, True),
        (f"{at}/comments", comment, {**supervisor, "Content-Type": "application/xml"}, True),
        (f"{at}/comments", b"{}", {**supervisor, "Content-Type": "application/problem+json"},
         True),
        (f"{at}/comments", b"{}", {**supervisor, "Content-Type": "application/json; charset=x"},
         True),
        (f"{at}/comments", comment, {**supervisor, "If-Match": '"99"'}, True),
        (f"{at}/comments", comment, {**supervisor, "If-Match": "three"}, True),
        (f"{at}/comments", comment, {**supervisor, "Idempotency-Key": "k" * 201}, True),
        (f"{at}/comments", comment, {**supervisor, "Idempotency-Key": "a b"}, True),
        (f"{at}/comments", comment, {**supervisor, "X-Correlation-ID": "a b"}, True),
        (f"{at}/comments", comment, {**supervisor, "X-Request-ID": "x" * 201}, True),
        (f"{at}/comments", comment, {**supervisor, "X-Purpose": "two words"}, True),
        (f"{at}/comments", comment, JSON, True),
        (f"{at}/comments", b"{", JSON, True),  # the body is read before the token
        (f"{at}/comments", comment, {**JSON, "Authorization": "Basic YWxhZGRpbjpvcGVu"}, True),
        (f"{at}/comments", comment, {**JSON, "Authorization": "Bearer unknown"}, True),
        (f"{at}/comments", comment, analyst, True),
        (f"/complaints/{uuid4()}/comments", comment, analyst, True),
        (f"{at}/comments", comment, outsider, True),
        (f"/complaints/{uuid4()}/comments", comment, supervisor, True),
        (f"{at}/reopen", b'{"reason": "Customer called again."}', supervisor, True),  # 409
        (f"{at}/assign", b'{"assignee": ""}', supervisor, True),
        (f"{at}/close", b'{"resolution_code": "nonsense", "summary": "x"}', supervisor, True),
        ("/complaints", b'{"subject": "x"}', supervisor, True),
        ("/complaints", b"{", JSON, True),
        ("/complaints", b"", supervisor, True),
        # Not the direct routes': served by the declared routes in both applications.
        ("/complaints/not-a-uuid/comments", comment, supervisor, False),
        (f"/complaints/{east.hex}/comments", b"{}", supervisor, False),
        (f"{at}/comments?x=1", b"{", supervisor, False),
        (f"{at}/unknown-action", comment, supervisor, False),
    ]
    statuses = set()
    for path, body, request_headers, direct_serves in cases:
        before = len(served)
        expected = posted(declared, path, body, request_headers)
        assert len(served) == before, f"the declared application served {path} directly"
        assert posted(direct, path, body, request_headers) == expected, (path, body)
        assert len(served) == before + direct_serves, path
        statuses.add(expected["status"])
    assert statuses >= {400, 401, 403, 404, 409, 412, 422}
    assert app.get_complaint(east).version == version, "a refusal changed the complaint"


def test_commands_applied_alike(
    app: ComplaintsApp,
    ctx: CommandContext,
    clients: tuple[TestClient, TestClient],
) -> None:
    """Each command applied to twin complaints (declared route: A, direct route: B) answers
    alike, replays alike, and records the same actor, correlation and causation."""
    declared, direct = clients
    twins = {
        client: file(app, ctx, assignee="bob", team="east", customer=f"CUST-TWIN-{side}")
        for client, side in ((declared, "A"), (direct, "B"))
    }
    supervisor = {**headers(app, ctx, "sue", "supervisor", teams=["east"]), **JSON}
    version = app.get_complaint(twins[declared]).version
    steps: list[tuple[str, bytes, dict[str, str]]] = [
        ("assign", b'{"assignee": "amy", "team": "east"}', {"If-Match": f'"{version}"'}),
        ("comments", b'{"body": "We are on it.", "visibility": "customer"}',
         {"Idempotency-Key": "retry-me", "X-Purpose": "case-work"}),
        ("comments", b'{"body": "We are on it.", "visibility": "customer"}',
         {"Idempotency-Key": "retry-me"}),  # a replay
        ("comments", b'{"body": "Another body."}', {"Idempotency-Key": "retry-me"}),  # reused
        ("escalate", b'{"reason": "Waited too long."}', {"If-Match": "*"}),
        ("close", b'{"resolution_code": "resolved", "summary": "Refunded."}',
         {"X-Correlation-ID": "case-17", "X-Request-ID": "req-17"}),
    ]
    for action, body, extra in steps:
        answers = [
            posted(
                client, f"/complaints/{twins[client]}/{action}", body,
                # The same key on the twins would be one key reused for another complaint.
                {**supervisor, **extra} if "Idempotency-Key" not in extra
                else {**supervisor, **extra, "Idempotency-Key": f"retry-me-{side}"},
            )
            for client, side in ((declared, "A"), (direct, "B"))
        ]
        assert answers[0] == answers[1], action
        assert answers[0]["status"] in (200, 422), answers[0]
    filed = [
        posted(client, "/complaints", json_intake(f"CUST-TWIN-{side}"), supervisor)
        for client, side in ((declared, "A"), (direct, "B"))
    ]
    assert filed[0] == filed[1]
    assert filed[0]["status"] == 201

    def recorded(complaint_id: Any) -> list[bytes]:
        history = declared.get(f"/complaints/{complaint_id}/history", headers=supervisor)
        assert history.status_code == 200
        return [alike(json.dumps(event)) for event in history.json()["events"]]

    assert recorded(twins[declared]) == recorded(twins[direct])
    assert b"case-17" in b"".join(recorded(twins[direct]))


def json_intake(customer: str) -> bytes:
    body = intake()
    body["customer"]["id"] = customer
    return json.dumps(body).encode()


def test_a_direct_route_refuses_a_declared_route_it_would_not_serve_alike() -> None:
    """A dependency or header added to a declared route stops the application from starting,
    rather than being skipped by its direct route."""

    async def extra(x_tenant: Annotated[str | None, Header()] = None) -> str | None:
        return x_tenant

    async def command(
        complaint_id: str, command: CommentOnComplaint, app: AppDep, ctx: ContextDep,
        reader: ReaderDep,
    ) -> None:
        return None

    async def command_with_tenant(
        complaint_id: str, command: CommentOnComplaint, app: AppDep, ctx: ContextDep,
        reader: ReaderDep, tenant: Annotated[str | None, Depends(extra)],
    ) -> None:
        return None

    def context(endpoint: Any, *headers: Any) -> RouteContext:
        api = FastAPI()
        api.add_api_route(
            "/complaints/{complaint_id}/comments", endpoint, methods=["POST"],
            dependencies=[permit("complaint.comment"), *headers],
        )
        [route] = [
            c for c in iter_route_contexts(api.routes) if isinstance(c.original_route, APIRoute)
        ]
        return route

    DirectCommand(context(command))  # as the application declares it
    with pytest.raises(RuntimeError, match="not the dependencies served directly"):
        DirectCommand(context(command_with_tenant))
    with pytest.raises(RuntimeError, match="not the dependencies served directly"):
        DirectCommand(context(command, Depends(extra)))
