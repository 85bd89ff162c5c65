"""No query string, header or extreme datetime produces a 500 on the complaint and read-side routes.

The sibling of ``test_no_server_errors.py`` (command bodies): arbitrary values, including control
characters, non-ASCII digits, instants at the edges of the calendar and forged cursors, go to every
query parameter, path parameter and the ``If-Match`` header.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.raw_asgi import raw_request
from tests.api.server_errors import assert_no_server_error
from tests.intake import intake

# Any character a URL can carry (surrogates cannot be encoded as UTF-8, so no client sends them).
any_text = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["nul\x00here", "\x1b[31m", "two\nlines", "\ufffe", "%", "\\", "'", "C-7KQ4-MZ9P"]
)
digits = st.integers(min_value=-(10**30), max_value=10**30).map(str) | st.sampled_from(
    ["²", "١٢", "９", "1e3", "0x10", "9" * 5000, " 1", "1_0"]
)
offsets = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])
instants = st.datetimes(timezones=offsets).map(datetime.isoformat) | st.sampled_from(
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:30:00-01:00", "1969-12-31T23:59:59Z",
     "2100-01-01T00:00:00Z", "2025-01-01T00:00:00"]
)
days = st.dates().map(str) | st.sampled_from(["0001-01-05", "9999-12-31", "2025-02-30"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | any_text | instants,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["agents", "teams", "x"]), children, max_size=3),
    max_leaves=8,
)
cursors = any_text | json_values.map(
    lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode().rstrip("=")
)
# Each parameter gets values of its own type (most likely to reach deep code) or anything at all.
TYPED: dict[str, st.SearchStrategy[str]] = {
    "filed_from": instants, "filed_to": instants, "as_of": instants,
    "from": days, "to": days,
    "limit": digits, "top": digits,
    "cursor": cursors,
}
LIST_PARAMETERS = [
    "status", "category", "severity", "channel", "region", "assignee", "team", "customer_id",
    "tier", "escalated", "filed_from", "filed_to", "q", "sort", "limit", "cursor",
]
ROUTES: dict[str, list[str]] = {
    "/complaints": LIST_PARAMETERS,
    "/workload": ["team", "limit", "cursor"],
    "/analytics/summary": ["from", "to", "group_by", "top"],
    "/complaints/{id}": ["as_of"],
    "/complaints/{id}/comments": ["limit", "cursor", "as_of"],
    "/complaints/{id}/history": [],
    "/complaints/by-reference/{text}": [],
    "/complaints/{text}": ["as_of"],
}


def value_for(name: str) -> st.SearchStrategy[str]:
    return TYPED.get(name, any_text) | any_text


hypothesis_settings = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@hypothesis_settings
@given(data=st.data())
def test_arbitrary_query_strings_never_500(client: TestClient, data: st.DataObject) -> None:
    cid = client.post("/complaints", json=intake()).json()["id"]
    client.post(f"/complaints/{cid}/comments", json={"body": "a comment to page over"})
    route = data.draw(st.sampled_from(sorted(ROUTES)))
    names = data.draw(st.lists(st.sampled_from(ROUTES[route] or ["x"]), max_size=4, unique=True))
    params = {name: data.draw(value_for(name)) for name in names}
    path = route.replace("{id}", cid).replace("{text}", quote(data.draw(any_text), safe=""))
    assert_no_server_error(client.get(path, params=params), (path, params))


header_bytes = st.binary(max_size=30).filter(lambda b: b"\r" not in b and b"\n" not in b)
etags = header_bytes | digits.map(lambda d: f'"{d}"'.encode())


@hypothesis_settings
@given(etag=etags)
def test_arbitrary_if_match_bytes_never_500(client: TestClient, etag: bytes) -> None:
    cid = client.post("/complaints", json=intake()).json()["id"]
    status, problem = raw_request(
        client, "POST", f"/complaints/{cid}/assign",
        headers=[(b"if-match", etag)], body={"assignee": "bob"},
    )
    assert status < 500, (etag, problem)
