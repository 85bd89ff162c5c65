"""The audit routes and commands: who may verify, what the answers say, the exit codes; a
history says whether its complaint's chain verifies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from typer.testing import CliRunner

from api import cli
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import AwaitCustomer, CommentOnComplaint, FileComplaint, RecordCustomerReply
from infra.bootstrap import Services
from infra.settings import Settings
from projections.database import database_of
from tests.audit.tampering import key, run_sql
from tests.intake import intake

runner = CliRunner()


@pytest.fixture
def compliance(app: ComplaintsApp, ctx: CommandContext) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.tokens.issue('cora', 'compliance', ctx).secret}"}


def tamper(database_url: str, app: ComplaintsApp, complaint_id: object) -> None:
    run_sql(
        database_url,
        app,
        "UPDATE {events} SET state = %s WHERE originator_id = %s AND originator_version = 2",
        b"{}",
        key(database_url, complaint_id),
    )


def test_verify_route_reports_clean_then_the_break(
    client: TestClient,
    app: ComplaintsApp,
    ctx: CommandContext,
    database_url: str,
    compliance: dict[str, str],
    services: Services,
) -> None:
    filed = app.file_complaint(FileComplaint(**intake()), ctx)
    services.checkpoints.record(ctx)
    clean = client.get("/audit/verify", headers=compliance)
    assert clean.status_code == 200
    assert clean.json()["ok"] is True and clean.json()["checkpoints_checked"] == 1

    tamper(database_url, app, filed.complaint_id)
    broken = client.get("/audit/verify", headers=compliance).json()
    assert broken["ok"] is False
    assert broken["breaks"][0]["kind"] == "hash_mismatch"
    assert broken["breaks"][0]["aggregate_id"] == str(filed.complaint_id)
    assert broken["breaks"][0]["version"] == 2
    since = client.get("/audit/verify?since_checkpoint=true", headers=compliance).json()
    assert since["scope"] == "since_checkpoint"  # the change predates the checkpoint's events


@pytest.fixture
def agent(app: ComplaintsApp, ctx: CommandContext) -> dict[str, str]:
    """An agent's token, sent explicitly: the default client sends a role the route allows."""
    token = app.tokens.issue("alice", "agent", ctx, teams=["t1"]).secret
    return {"Authorization": f"Bearer {token}"}


def assert_forbidden(answer: Response) -> None:
    assert answer.status_code == 403, answer.text
    assert answer.json()["type"].endswith("/forbidden")


def test_audit_routes_refuse_an_agent(client: TestClient, agent: dict[str, str]) -> None:
    assert_forbidden(client.get("/audit/verify", headers=agent))
    assert_forbidden(client.get("/audit/checkpoints", headers=agent))


def test_checkpoints_route_lists_what_was_recorded(
    client: TestClient, services: Services, ctx: CommandContext, compliance: dict[str, str]
) -> None:
    recorded = services.checkpoints.record(ctx)
    listed = client.get("/audit/checkpoints", headers=compliance).json()
    assert [(c["number"], c["position"], c["root"]) for c in listed] == [
        (recorded.number, recorded.position, recorded.root)
    ]
    assert listed[0]["algorithm"] == "HMAC-SHA256"


def swap_states(
    database_url: str, app: ComplaintsApp, complaint_id: object, first: int, second: int
) -> None:
    """Swaps the stored states of two events of a complaint, around the recorder."""
    rows = {r.originator_version: r for r in database_of(app).chain_of(complaint_id)}
    for version, other in ((first, second), (second, first)):
        run_sql(
            database_url,
            app,
            "UPDATE {events} SET state = %s WHERE {position} = %s",
            rows[other].state,
            rows[version].position,
        )


def test_history_says_whether_the_chain_verifies(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext, database_url: str
) -> None:
    cid = app.file_complaint(FileComplaint(**intake()), ctx).complaint_id
    for status in ("first", "second"):
        app.handle(cid, AwaitCustomer(reason=status), ctx)
        app.handle(cid, RecordCustomerReply(body="Here", channel="phone"), ctx)
    assert client.get(f"/complaints/{cid}/history").json()["chain_verified"] is True
    # The two waits' stored states swapped (no personal field: each still decodes), so the
    # history still reads; neither event matches its hash.
    swap_states(database_url, app, cid, 3, 5)
    history = client.get(f"/complaints/{cid}/history")
    assert history.status_code == 200, history.text
    assert history.json()["chain_verified"] is False
    assert [(b["kind"], b["version"]) for b in history.json()["chain_breaks"]] == [
        ("hash_mismatch", 3),
        ("hash_mismatch", 5),
    ]


def test_an_event_that_no_longer_decodes_is_a_problem_naming_it_and_the_breaks(
    client: TestClient,
    app: ComplaintsApp,
    ctx: CommandContext,
    database_url: str,
    compliance: dict[str, str],
) -> None:
    """Two comments' states swapped: their sealed bodies were sealed for their own version, so
    neither opens where it now is; history and dossier say so instead of an anonymous 500."""
    cid = app.file_complaint(FileComplaint(**intake()), ctx).complaint_id
    for body in ("One", "Two"):
        app.handle(cid, CommentOnComplaint(body=body, visibility="internal"), ctx)
    swap_states(database_url, app, cid, 3, 4)
    for path in (f"/complaints/{cid}/history", f"/complaints/{cid}/dossier"):
        answer = client.get(path, headers=compliance)
        assert answer.status_code == 500, answer.text
        problem = answer.json()
        assert problem["type"].endswith("/undecodable-event")
        assert (problem["complaint_id"], problem["version"]) == (str(cid), 3)
        assert f"event 3 of complaint {cid}" in problem["detail"]
        assert problem["chain_verified"] is False
        assert [(b["kind"], b["version"]) for b in problem["chain_breaks"]] == [
            ("hash_mismatch", 3),
            ("hash_mismatch", 4),
        ]
    assert "One" not in answer.text and "Two" not in answer.text
    # Other reads say the same, named by the mapper (its first read: nothing cached to serve).
    current = client.get(f"/complaints/{cid}", headers=compliance)
    assert current.status_code == 500 and current.json()["type"].endswith("/undecodable-event")
    assert f"complaint {cid} v3" in current.json()["detail"]


def test_cli_verify_exits_1_on_a_break_and_checks_anchors(
    app: ComplaintsApp,
    ctx: CommandContext,
    database_url: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", database_url)
    monkeypatch.setenv("COMPLAINTS_SECRET_KEY_FILE", str(settings.secret_key_file))
    cid = app.file_complaint(FileComplaint(**intake()), ctx).complaint_id
    recorded = runner.invoke(cli.cli, ["audit", "checkpoint"])
    assert recorded.exit_code == 0, recorded.output
    assert runner.invoke(cli.cli, ["audit", "verify"]).exit_code == 0

    listed = runner.invoke(cli.cli, ["audit", "verify", "--json"])
    assert json.loads(listed.stdout)["ok"] is True
    tamper(database_url, app, cid)
    broken = runner.invoke(cli.cli, ["audit", "verify", "--json"])
    assert broken.exit_code == 1
    assert json.loads(broken.stdout)["breaks"][0]["kind"] == "hash_mismatch"


def test_cli_verify_with_a_kept_checkpoint_shows_a_truncation(
    app: ComplaintsApp,
    ctx: CommandContext,
    database_url: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    client: TestClient,
    compliance: dict[str, str],
) -> None:
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", database_url)
    monkeypatch.setenv("COMPLAINTS_SECRET_KEY_FILE", str(settings.secret_key_file))
    app.file_complaint(FileComplaint(**intake()), ctx)
    assert runner.invoke(cli.cli, ["audit", "checkpoint"]).exit_code == 0
    kept = tmp_path / "checkpoints.json"
    kept.write_text(client.get("/audit/checkpoints", headers=compliance).text)
    run_sql(database_url, app, "DELETE FROM {events} WHERE {position} > 1")
    broken = runner.invoke(cli.cli, ["audit", "verify", "--json", "--anchor", str(kept)])
    assert broken.exit_code == 1
    assert "checkpoint_truncated" in [b["kind"] for b in json.loads(broken.stdout)["breaks"]]


def test_dossier_json_holds_intake_events_clocks_and_chain(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext, compliance: dict[str, str]
) -> None:
    cid = app.file_complaint(FileComplaint(**intake()), ctx).complaint_id
    app.handle(cid, CommentOnComplaint(body="Called <b>back</b>", visibility="internal"), ctx)
    got = client.get(f"/complaints/{cid}/dossier", headers=compliance)
    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    body = got.json()
    assert body["generated_by"] == "cora" and body["chain_verified"] is True
    assert body["intake"]["description"] == intake()["description"]
    assert [(e["version"], e["type"], e["actor"]) for e in body["events"]] == [
        (1, "filed", "alice"),
        (2, "sla_applied", "alice"),
        (3, "commented", "alice"),
    ]
    assert all(e["correlation_id"] == "corr-test" for e in body["events"])
    assert body["complaint"]["sla"]["resolution"]["due_at"]
    assert body["events"][2]["data"]["body"] == "Called <b>back</b>"  # compliance reads in clear
    logged = client.get(
        "/audit/access-log", params={"complaint_id": str(cid)}, headers=compliance
    ).json()["items"]
    assert [(e["principal"], e["route"]) for e in logged] == [
        ("cora", "GET /complaints/{complaint_id}/dossier")
    ]
    assert "description" in logged[0]["fields"] and "body" in logged[0]["fields"]


def test_dossier_html_is_one_escaped_page_without_scripts(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext, compliance: dict[str, str]
) -> None:
    cid = app.file_complaint(FileComplaint(**intake()), ctx).complaint_id
    app.handle(
        cid, CommentOnComplaint(body="<script>alert(1)</script>", visibility="internal"), ctx
    )
    page = client.get(f"/complaints/{cid}/dossier", headers={**compliance, "Accept": "text/html"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "src=" not in html and "<link" not in html  # self-contained
    assert "verify against their hash chain" in html and "sla applied" not in html
    assert "sla_applied" in html and "corr-test" in html


def test_dossier_is_refused_to_an_agent(
    client: TestClient, app: ComplaintsApp, ctx: CommandContext, agent: dict[str, str]
) -> None:
    cid = app.file_complaint(FileComplaint(**intake()), ctx).complaint_id
    assert_forbidden(client.get(f"/complaints/{cid}/dossier", headers=agent))


def test_cli_dossier_writes_the_page_by_reference(
    app: ComplaintsApp,
    ctx: CommandContext,
    database_url: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", database_url)
    monkeypatch.setenv("COMPLAINTS_SECRET_KEY_FILE", str(settings.secret_key_file))
    filed = app.file_complaint(FileComplaint(**intake()), ctx)
    reference = app.get_complaint(filed.complaint_id).reference
    out = tmp_path / "dossier.json"
    made = runner.invoke(cli.cli, ["dossier", reference, "--out", str(out), "--format", "json"])
    assert made.exit_code == 0, made.output
    assert json.loads(out.read_text())["reference"] == reference
    assert runner.invoke(cli.cli, ["dossier", "C-0000-0000", "--out", str(out)]).exit_code == 1
