"""Quarantined events are visible in GET /projections and `complaints projections status`, and
`complaints projections retry` / POST /projections/{name}/retry apply them again."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import cli
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.models import AssignComplaint, FileComplaint
from infra.settings import Settings
from projections.complaint_list import COMPLAINT_LIST, ComplaintListProjection
from projections.projection import Positioned
from projections.runner import Runner
from projections.store import ReadModelStore, Tx
from queries.projection_status import QuarantinedEvent
from tests.intake import intake
from tests.projections.faults import Refusing, refusing

cli_runner = CliRunner()


@pytest.fixture
def quarantined(app: ComplaintsApp, settings: Settings, ctx: CommandContext) -> UUID:
    """Two complaints; the complaint list could not transcribe the second one's three events
    (filed, SLA applied, assigned)."""
    app.file_complaint(FileComplaint.model_validate(intake(subject="fine")), ctx)
    bad = app.file_complaint(FileComplaint.model_validate(intake(subject="bad")), ctx).complaint_id
    app.handle(bad, AssignComplaint(assignee="bob"), ctx)
    fault = Refusing()
    fault.refused.add(bad)
    Runner(app, [refusing(ComplaintListProjection, fault)]).catch_up()
    return bad


@pytest.fixture(autouse=True)
def use_store(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", database_url)


def test_get_projections_shows_the_quarantined_events(
    client: TestClient, quarantined: UUID
) -> None:
    status = client.get("/projections").json()
    complaint_list = next(p for p in status["projections"] if p["name"] == "complaint_list")
    assert complaint_list["position"] == status["head"] and complaint_list["quarantined"] == 3
    failed, *parked_ones = complaint_list["quarantine"]
    assert len(parked_ones) == 2
    parked = parked_ones[0]
    assert failed["complaint_id"] == str(quarantined) and failed["version"] == 1
    assert (failed["error_class"], failed["error_message"], failed["attempts"]) == (
        "ValueError", "cannot transcribe this complaint", 1
    )
    assert parked["error_class"] == "parked" and parked["parked_behind"] == failed["position"]
    others = [p for p in status["projections"] if p["name"] != "complaint_list"]
    assert all(p["quarantined"] == 0 and p["quarantine"] == [] for p in others)


def test_the_cli_shows_them_and_retry_applies_them(
    quarantined: UUID, app: ComplaintsApp
) -> None:
    shown = cli_runner.invoke(cli.cli, ["projections", "status"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "3 quarantined event(s)" in shown.output
    assert f"complaint {quarantined} v1  ValueError: cannot transcribe" in shown.output

    retried = cli_runner.invoke(cli.cli, ["projections", "retry", "--all"])  # no fault there

    assert retried.exit_code == 0, retried.output
    assert "complaint_list: 3 applied, 0 still failing" in retried.output
    shown = cli_runner.invoke(cli.cli, ["projections", "status"], env={"COLUMNS": "200"})
    assert "quarantined event(s)" not in shown.output
    rows = {r["id"]: r for r in ReadModelStore(app).snapshot(COMPLAINT_LIST)}
    assert rows[quarantined]["assignee"] == "bob"


def test_the_cli_accepts_the_former_name_complaints(quarantined: UUID) -> None:
    helped = cli_runner.invoke(cli.cli, ["projections", "retry", "--help"], env={"COLUMNS": "200"})
    assert "complaints for complaint_list" in helped.output

    retried = cli_runner.invoke(cli.cli, ["projections", "retry", "complaints"])

    assert retried.exit_code == 0, retried.output
    assert "complaint_list: 3 applied, 0 still failing" in retried.output


def test_post_retry_accepts_the_former_name_complaints(
    client: TestClient, quarantined: UUID, admin_token: str
) -> None:
    admin = {"Authorization": f"Bearer {admin_token}"}
    done = client.post("/projections/complaints/retry", headers=admin)
    assert done.status_code == 200, done.text
    assert (done.json()["projection"], done.json()["applied"]) == ("complaint_list", 3)


def test_retry_names_an_unknown_projection(quarantined: UUID) -> None:
    result = cli_runner.invoke(cli.cli, ["projections", "retry", "nonesuch"])
    assert result.exit_code == 2 and "unknown projection nonesuch" in result.output


def test_post_retry_is_for_admins(
    client: TestClient, quarantined: UUID, admin_token: str, agent_token: str
) -> None:
    agent = {"Authorization": f"Bearer {agent_token}"}
    assert client.post("/projections/complaint_list/retry", headers=agent).status_code == 403
    admin = {"Authorization": f"Bearer {admin_token}"}
    missing = client.post("/projections/nonesuch/retry", headers=admin)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"

    done = client.post("/projections/complaint_list/retry", headers=admin)

    assert done.status_code == 200
    assert done.json() == {
        "projection": "complaint_list", "applied": 3, "parked": 0, "still_failing": []
    }
    assert client.get("/projections").json()["projections"][0]["quarantined"] == 0


def test_post_retry_lists_the_events_that_still_fail(
    client: TestClient, quarantined: UUID, admin_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fault = Refusing()
    fault.refused.add(quarantined)
    apply = ComplaintListProjection.apply

    def refused(self: ComplaintListProjection, tx: Tx, events: Sequence[Positioned]) -> None:
        fault.check(events)
        apply(self, tx, events)

    # The view the endpoint builds still cannot apply them: whatever made them fail is not fixed.
    monkeypatch.setattr(ComplaintListProjection, "apply", refused)

    done = client.post("/projections/complaint_list/retry", headers={
        "Authorization": f"Bearer {admin_token}"
    })

    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["applied"], body["parked"]) == (0, 2)
    [failed] = body["still_failing"]
    assert failed["complaint_id"] == str(quarantined)
    assert (failed["version"], failed["attempts"], failed["parked_behind"]) == (1, 2, None)
    assert set(failed) == set(QuarantinedEvent.model_fields)
