"""Query parameters, headers and paths that used to give a 500: now a 4xx naming what is wrong."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from fastapi.testclient import TestClient

from commands.application import ComplaintsApp
from tests.api.raw_asgi import raw_request
from tests.api.test_bad_input import head
from tests.intake import intake

YEAR_ONE = "0001-01-01T00:00:00+01:00"  # its UTC value is before year 1
YEAR_10000 = "9999-12-31T23:30:00-01:00"  # its UTC value is after year 9999


def named(response: Any, field: str, status: int = 422) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]], response.json()


def cursor_of(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_if_match_accepts_only_a_bounded_run_of_ascii_digits(
    client: TestClient, app: ComplaintsApp
) -> None:
    cid = client.post("/complaints", json=intake()).json()["id"]
    before = head(app)
    for etag in [
        b'"\xb2"', b"\xb2", b'W/"\xb9"', b'"' + b"9" * 5000 + b'"', b'"' + b"9" * 19 + b'"',
        b'""1""', b'"1", "2"',
    ]:
        status, problem = raw_request(
            client, "POST", f"/complaints/{cid}/assign",
            headers=[(b"if-match", etag)], body={"assignee": "bob"},
        )
        assert status == 400, (etag, problem)
        assert problem["errors"][0]["field"] == "If-Match"
    assert head(app) == before


def test_if_match_still_takes_every_documented_form(client: TestClient) -> None:
    cid = client.post("/complaints", json=intake()).json()["id"]
    for version, etag in enumerate([b'"2"', b'W/"3"', b"4", b"*"], start=2):
        status, _ = raw_request(
            client, "POST", f"/complaints/{cid}/assign",
            headers=[(b"if-match", etag)], body={"assignee": f"agent-{version}"},
        )
        assert status == 200, etag


FOREIGN_LIST_CURSORS = [
    cursor_of([1, 2, 3]),
    cursor_of({"sort": "-filed_at"}),
    cursor_of("-filed_at"),
    cursor_of(None),
    cursor_of(["-filed_at", "2025-01-01T00:00:00+00:00"]),
    cursor_of([None, None, None]),
    cursor_of(["-filed_at", YEAR_ONE, str(uuid.uuid4())]),
    cursor_of(["-filed_at", YEAR_10000, str(uuid.uuid4())]),
    cursor_of(["-filed_at", "1969-12-31T00:00:00+00:00", str(uuid.uuid4())]),
    cursor_of(["-filed_at", "2025-01-01T00:00:00", str(uuid.uuid4())]),  # no offset
    cursor_of(["-filed_at", "2025-01-01T00:00:00+00:00", "not-a-uuid"]),
    cursor_of(["other", "2025-01-01T00:00:00+00:00", str(uuid.uuid4())]),
    base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
    "!!!!",
    "é",
]


def test_a_list_cursor_of_any_other_shape_is_422(client: TestClient) -> None:
    for cursor in FOREIGN_LIST_CURSORS:
        named(client.get("/complaints", params={"cursor": cursor}), "cursor")


def test_a_workload_cursor_of_any_other_shape_is_422(client: TestClient) -> None:
    for cursor in [
        cursor_of([1, 2]),
        cursor_of({"agents": [True, "a", "t"], "teams": None}),
        cursor_of({"agents": [2**63, "a", "t"], "teams": None}),
        cursor_of({"agents": [-1, "a", "t"], "teams": None}),
        cursor_of({"agents": [1, "a\u0000", "t"], "teams": None}),
        cursor_of({"agents": None, "teams": [1, 2]}),
        cursor_of({"agents": None, "teams": "later"}),
        cursor_of({"agents": None}),
        "!!!!",
    ]:
        named(client.get("/workload", params={"cursor": cursor}), "cursor")


def test_a_comments_cursor_that_names_no_comment_is_422(client: TestClient) -> None:
    cid = client.post("/complaints", json=intake()).json()["id"]
    client.post(f"/complaints/{cid}/comments", json={"body": "first"})
    for cursor in ["0" * 32, "x" * 32, "'; --", "A" * 100]:
        named(client.get(f"/complaints/{cid}/comments", params={"cursor": cursor}), "cursor")


EXTREME_INSTANTS = [YEAR_ONE, YEAR_10000, "1969-12-31T23:59:59Z", "2100-01-01T00:00:00Z"]


def test_extreme_filing_bounds_are_422(client: TestClient) -> None:
    for field in ["filed_from", "filed_to"]:
        for value in EXTREME_INSTANTS:
            named(client.get("/complaints", params={field: value}), field)


def test_extreme_as_of_is_422(client: TestClient) -> None:
    cid = client.post("/complaints", json=intake()).json()["id"]
    for value in EXTREME_INSTANTS:
        named(client.get(f"/complaints/{cid}", params={"as_of": value}), "as_of")
        named(client.get(f"/complaints/{cid}/comments", params={"as_of": value}), "as_of")


def test_extreme_analytics_days_are_422(client: TestClient) -> None:
    for params, field in [
        ({"to": "0001-01-05"}, "to"),
        ({"from": "0001-01-01", "to": "0001-01-05"}, "from"),
        ({"from": "9999-12-01", "to": "9999-12-31"}, "from"),
        ({"to": "2100-01-01"}, "to"),
        ({"from": "1969-12-31"}, "from"),
    ]:
        named(client.get("/analytics/summary", params=params), field)


def test_the_default_analytics_range_stops_at_the_first_plausible_day(client: TestClient) -> None:
    r = client.get("/analytics/summary", params={"to": "1970-01-05"})
    assert r.status_code == 200, r.text
    assert (r.json()["from"], r.json()["to"]) == ("1970-01-01", "1970-01-05")


QUERY_PARAMETERS = [
    ("/complaints", "q"),
    ("/complaints", "region"),
    ("/complaints", "team"),
    ("/complaints", "assignee"),
    ("/complaints", "customer_id"),
    ("/complaints", "cursor"),
    ("/workload", "team"),
    ("/analytics/summary", "group_by"),
    ("/events", "types"),
]


def test_control_characters_in_query_parameters_are_422_naming_them(client: TestClient) -> None:
    for path, parameter in QUERY_PARAMETERS:
        for value in ["nul\u0000here", "two\nlines", "escape\u001b", "del\u007f"]:
            named(client.get(path, params={parameter: value}), parameter)


def test_control_characters_in_a_parameter_name_are_422(client: TestClient) -> None:
    named(client.get("/complaints?a%00b=1"), "query")


def test_control_characters_in_the_path_are_422(client: TestClient) -> None:
    for path in [
        "/complaints/a%00b",
        "/complaints/a%00b/history",
        "/complaints/by-reference/C-%00",
        "/complaints/x%0Ay/comments",
    ]:
        named(client.get(path), "path")


def test_a_raw_nul_in_the_path_is_422(client: TestClient) -> None:
    status, problem = raw_request(client, "GET", "/complaints/a\x00b")
    assert status == 422 and problem["errors"][0]["field"] == "path"


def test_references_that_name_nothing_are_404(client: TestClient) -> None:
    for reference in [
        "C-0000-0000", "garbage", "C-" + "Z" * 300, "屏幕", "c-7kq4-mz9p-extra", "%E2%80%AE",
    ]:
        r = client.get(f"/complaints/by-reference/{reference}")
        assert r.status_code == 404, r.text
        assert r.headers["content-type"] == "application/problem+json"


def test_a_filed_reference_still_resolves_in_any_spelling(client: TestClient) -> None:
    filed = client.post("/complaints", json=intake()).json()
    spelt = filed["reference"].lower().replace("0", "o").replace("1", "l").replace("-", "")
    r = client.get(f"/complaints/by-reference/{spelt}")
    assert r.status_code == 200 and r.json()["id"] == filed["id"]


def test_integers_are_ascii_and_bounded(client: TestClient) -> None:
    for path, parameter, value in [
        ("/complaints", "limit", "9" * 5000),
        ("/complaints", "limit", "١٢"),
        ("/complaints", "limit", "²"),
        ("/workload", "limit", "9" * 30),
        ("/workload", "limit", "0"),
        ("/complaints/00000000-0000-0000-0000-000000000000/comments", "limit", "201"),
        ("/analytics/summary", "top", "٣"),
    ]:
        named(client.get(path, params={parameter: value}), parameter)
