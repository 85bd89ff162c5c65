"""POST /imports and GET /imports/{id} end to end (both stores): an admin uploads a CSV, the job
runs in the background, its progress and result are answered; who may, and what is refused."""

from __future__ import annotations

import csv
import io
import time
from datetime import timedelta
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from aggregates.vocabulary import Role
from api.app import create_app
from commands.context import CommandContext
from infra.bootstrap import bootstrap
from infra.settings import Settings
from tests.application.test_import_files import cfpb_row

CTX = CommandContext(principal="setup", role="admin", correlation_id="corr-setup")


def csv_body(rows: list[dict[str, str]]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode()


def finished(client: TestClient, location: str) -> dict[str, Any]:
    for _ in range(200):
        job: dict[str, Any] = client.get(location).json()
        if job["state"] != "running":
            return job
        time.sleep(0.05)
    raise AssertionError(f"the import at {location} did not finish")


def test_an_upload_is_imported_as_a_job(client: TestClient) -> None:
    body = csv_body([cfpb_row("1"), cfpb_row("2", **{"Submitted via": "Telex"}), cfpb_row("3")])
    started = client.post(
        "/imports?mapping=cfpb", content=body, headers={"Content-Type": "text/csv"}
    )
    assert started.status_code == 202, started.text
    assert started.headers["Location"] == started.json()["location"]
    job = finished(client, started.headers["Location"])
    assert job["state"] == "done", job
    assert (job["rows"], job["imported"], job["rejected"]) == (3, 2, 1)
    assert job["errors"] == [{
        "row": 3, "column": "Submitted via", "value": "Telex",
        "reason": job["errors"][0]["reason"],
    }]
    again = client.post("/imports?mapping=cfpb&dry_run=true", content=body)
    rerun = finished(client, again.headers["Location"])
    assert (rerun["dry_run"], rerun["imported"], rerun["skipped"]) == (True, 0, 2)


def test_only_admins_import(client: TestClient) -> None:
    for role in (Role.SUPERVISOR, Role.ANALYST, Role.AGENT):
        answer = client.post(
            "/imports?mapping=cfpb", content=b"x", headers={
                "Authorization": f"Bearer {client.tokens[role]}"  # type: ignore[attr-defined]
            },
        )
        assert answer.status_code == 403, role


def test_a_mapping_file_path_or_unknown_mapping_is_refused(client: TestClient) -> None:
    for mapping in ("nope", "/etc/passwd", "docs/examples/mapping.yaml"):
        answer = client.post(f"/imports?mapping={mapping}", content=b"a,b\n1,2\n")
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == "mapping"


def test_a_file_that_cannot_be_read_or_lacks_the_columns_is_refused_on_upload(
    client: TestClient,
) -> None:
    """Nothing is started: 422 naming the field, and no job, no event."""
    head = client.get("/projections").json()["head"]
    for body, field in (
        (b"", "file"),  # no header row
        (b"\xff\xfe\x00\xd8garbage\n", "file"),  # neither UTF-8 nor GB18030
        (b"Complaint ID,Product\n1,Mortgage\n", "mapping"),  # the cfpb columns are missing
        (b"PK\x03\x04 not really a workbook", "file"),
    ):
        answer = client.post("/imports?mapping=cfpb", content=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["errors"][0]["field"] == field, answer.text
    assert client.get("/projections").json()["head"] == head


def test_an_unknown_import_is_not_found(client: TestClient) -> None:
    assert client.get("/imports/7d1f3c39-0f0e-4a43-9d7a-7a0f5d1c2b11").status_code == 404


def test_an_upload_past_the_import_limit_is_413_and_other_bodies_keep_theirs(
    settings: Settings, role_tokens: dict[Role, str]
) -> None:
    small = settings.model_copy(update={"import_max_bytes": 4096, "max_body_bytes": 2048})
    body = csv_body([cfpb_row(str(n)) for n in range(40)])
    assert len(body) > 4096
    with bootstrap(small) as services, TestClient(create_app(services)) as http:
        secret = services.app.tokens.issue("root", "admin", CTX).secret
        admin = {"Authorization": f"Bearer {secret}"}
        assert http.post("/imports?mapping=cfpb", content=body, headers=admin).status_code == 413
        fits = csv_body([cfpb_row(str(n)) for n in range(14)])
        assert 2048 < len(fits) <= 4096  # past the general limit, within the import's
        assert http.post("/imports?mapping=cfpb", content=fits, headers=admin).status_code == 202
        # The larger limit is the import route's alone.
        assert http.post("/tokens", content=b"x" * 3000, headers=admin).status_code == 413


def test_a_job_whose_process_died_is_answered_as_failed(
    client: TestClient, services: Any
) -> None:
    """A job left ``running`` with no progress for STALLED_AFTER (its process died mid-import)
    is answered as failed with the reason; a fresh running job is not."""
    from datetime import UTC, datetime

    from infra.import_jobs import STALLED_AFTER

    started = client.post("/imports?mapping=cfpb", content=csv_body([cfpb_row("9")]))
    job = finished(client, started.headers["Location"])
    row = services.import_jobs._row(UUID(job["id"]))
    services.import_jobs._put({**row, "state": "running", "updated_at": datetime.now(UTC)})
    assert client.get(started.headers["Location"]).json()["state"] == "running"
    stalled = datetime.now(UTC) - STALLED_AFTER - timedelta(seconds=1)
    services.import_jobs._put({**row, "state": "running", "updated_at": stalled})
    answer = client.get(started.headers["Location"]).json()
    assert answer["state"] == "failed" and answer["error"].startswith("interrupted"), answer
