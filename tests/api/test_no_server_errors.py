"""No input may produce a 500: arbitrary JSON and headers against every command endpoint."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.server_errors import assert_no_server_error
from tests.intake import intake

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
# Mostly well-formed bodies with one field replaced by something arbitrary, plus pure noise.
intake_fields = st.sampled_from(sorted(intake()))
mangled_intakes = st.builds(
    lambda field, value: {**intake(), field: value}, intake_fields, json_values
)
bodies = mangled_intakes | json_values
paths = st.sampled_from(["", "/assign", "/comments", "/escalate", "/close", "/reopen"])
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12)
headers = st.fixed_dictionaries(
    {},
    optional={
        "If-Match": header_text,
        "Idempotency-Key": header_text,
        "X-Correlation-ID": header_text,
    },
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=paths, body=bodies, extra=headers)
def test_arbitrary_requests_never_500(
    client: TestClient, path: str, body: Any, extra: dict[str, str]
) -> None:
    cid = client.post("/complaints", json=intake()).json()["id"]
    target = "/complaints" if path == "" else f"/complaints/{cid}{path}"
    response = client.post(target, json=body, headers=extra)
    assert_no_server_error(response, (target, body, extra))
