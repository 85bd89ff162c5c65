"""Personal fields sealed per customer in the stored events (commands/personal_data_mapper.py,
infra/data_keys.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from aggregates.personal_data import ERASED
from api import cli
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.erasure import erase_customer
from commands.models import CommentOnComplaint, EraseCustomerData, FileComplaint
from commands.personal_data_mapper import DataKeyUnavailableError
from infra.bootstrap import Services, bootstrap
from infra.data_keys import DataKeyStore, MasterKeys
from infra.secrets import load_key
from infra.settings import Settings
from queries.customer_complaints import complaints_of_customer
from stream.feed import read_page
from tests.application.test_stored_events_load import CAPTURED, insert_captured_rows
from tests.intake import intake

PERSONAL_TEXT = ["张伟", "13800138000", "zhang.wei@example.com", "Shanghai", "parcel arrived"]
COMMENT = "Called her back on 555-0199"


def file(app: ComplaintsApp, ctx: CommandContext, **overrides: object) -> UUID:
    return app.file_complaint(FileComplaint.model_validate(intake(**overrides)), ctx).complaint_id


def stored_states(app: ComplaintsApp, complaint_id: UUID) -> list[bytes]:
    return [bytes(e.state) for e in app.recorder.select_events(complaint_id)]


def assert_absent(texts: list[str], state: bytes) -> None:
    for text in texts:
        assert text.encode() not in state, text
        assert json.dumps(text).encode()[1:-1] not in state, text  # nor \\u-escaped


def erase(services: Services, customer_id: str, ctx: CommandContext) -> None:
    complaints = complaints_of_customer(services.read_models, customer_id)
    command = EraseCustomerData(reason="request #1")
    erase_customer(services.app, services.data_keys, customer_id, command, complaints, ctx)


def test_stored_filed_and_commented_events_hold_no_personal_text(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    cid = file(app, ctx)
    app.handle(cid, CommentOnComplaint(body=COMMENT, visibility="internal"), ctx)
    filed, *_, commented = stored_states(app, cid)
    assert_absent(PERSONAL_TEXT, filed)
    assert_absent([COMMENT], commented)
    assert b'"id":"CUST-1001"' in filed  # the customer id stays in the clear
    assert b'"subject":"Screen cracked on arrival"' in filed


def test_sealed_fields_read_back_as_written(app: ComplaintsApp, ctx: CommandContext) -> None:
    cid = file(app, ctx)
    app.handle(cid, CommentOnComplaint(body=COMMENT, visibility="internal"), ctx)
    filed, *_, commented = app.events.get(cid)  # decoded from the store, not the cache
    assert filed.customer["phone"] == "13800138000"  # type: ignore[attr-defined]
    assert filed.location == "Shanghai"  # type: ignore[attr-defined]
    assert commented.body == COMMENT  # type: ignore[attr-defined]


def test_a_sealed_value_moved_to_another_event_does_not_open(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    cid = file(app, ctx)
    for body in ("first", "second"):
        app.handle(cid, CommentOnComplaint(body=body, visibility="internal"), ctx)
    *_, first, second = app.recorder.select_events(cid)
    moved = json.loads(second.state) | {"body": json.loads(first.state)["body"]}
    forged = dataclasses.replace(second, state=json.dumps(moved).encode())
    with pytest.raises(MapperDeserialisationError, match="does not open"):
        app.mapper.to_domain_event(forged)


def test_a_sealed_value_moved_to_another_field_does_not_open(
    app: ComplaintsApp, ctx: CommandContext
) -> None:
    cid = file(app, ctx)
    (filed,) = app.recorder.select_events(cid, lte=1)
    state = json.loads(filed.state)
    state["customer"]["name"] = state["customer"]["phone"]
    forged = StoredEvent(cid, 1, filed.topic, json.dumps(state).encode())
    with pytest.raises(MapperDeserialisationError, match="customer.name"):
        app.mapper.to_domain_event(forged)


def test_each_customer_has_a_key_of_their_own(app: ComplaintsApp, ctx: CommandContext) -> None:
    first = file(app, ctx)
    other = file(app, ctx, customer=intake()["customer"] | {"id": "CUST-2"})
    key_of = [
        json.loads(stored_states(app, c)[0])["description"].split(":")[2] for c in (first, other)
    ]
    assert key_of[0] != key_of[1]


def test_old_plaintext_events_load_and_read_erased_once_their_customer_is(
    client: TestClient, services: Services, ctx: CommandContext
) -> None:
    insert_captured_rows(services.app)
    full = CAPTURED["ids"]["full"]
    assert client.get(f"/complaints/{full}").json()["customer"]["name"] == "张伟"
    services.runner().catch_up()
    erase(services, "CUST-1001", ctx)
    history = client.get(f"/complaints/{full}/history").json()["events"]
    assert history[0]["data"]["customer"]["name"] == ERASED
    assert {e["data"]["body"] for e in history if e["type"] == "commented"} == {ERASED}
    assert client.get(f"/complaints/{full}").json()["customer"]["phone"] == ERASED
    sparse = CAPTURED["ids"]["sparse"]  # another customer
    assert client.get(f"/complaints/{sparse}").json()["customer"]["name"] == "Legacy"


def test_a_comment_on_a_complaint_filed_before_encryption_is_sealed(
    services: Services, ctx: CommandContext
) -> None:
    insert_captured_rows(services.app)
    sparse = UUID(CAPTURED["ids"]["sparse"])
    services.app.handle(sparse, CommentOnComplaint(body=COMMENT, visibility="internal"), ctx)
    assert_absent([COMMENT], stored_states(services.app, sparse)[-1])
    assert services.app.get_complaint(sparse).comments[-1].body == COMMENT


def test_with_encryption_off_new_events_are_plain_and_erasure_still_reaches_them(
    settings: Settings, ctx: CommandContext
) -> None:
    with bootstrap(settings.model_copy(update={"encrypt_personal_data": False})) as services:
        cid = file(services.app, ctx)
        assert b"13800138000" in stored_states(services.app, cid)[0]
        erase(services, "CUST-1001", ctx)
        (filed,) = services.app.events.get(cid, lte=1)
        assert filed.customer["phone"] == ERASED  # type: ignore[attr-defined]


@pytest.fixture
def other_process(settings: Settings) -> Iterator[Services]:
    with bootstrap(settings.model_copy(update={"data_key_cache_seconds": 0})) as services:
        yield services


def test_an_erasure_made_by_another_process_is_seen_here(
    services: Services, other_process: Services, ctx: CommandContext
) -> None:
    cid = file(services.app, ctx)
    assert list(other_process.app.events.get(cid, lte=1))  # its caches warm
    erase(services, "CUST-1001", ctx)
    (filed,) = other_process.app.events.get(cid, lte=1)  # cache_seconds=0: at once
    assert filed.description == ERASED  # type: ignore[attr-defined]


def test_rotation_rewraps_every_key_and_the_old_key_alone_cannot_unwrap_them(
    services: Services, settings: Settings, ctx: CommandContext
) -> None:
    cid = file(services.app, ctx)
    old = load_key(settings)
    new = "q" * 43 + "="  # 32 bytes, base64
    rotated = settings.model_copy(
        update={"secret_key": SecretStr(new), "previous_secret_keys": SecretStr(old)}
    )
    with bootstrap(rotated) as after:
        assert list(after.app.events.get(cid, lte=1))  # readable during the rotation
        assert after.data_keys.rewrap() == 1
        assert after.data_keys.rewrap() == 0  # again: nothing left
        (filed,) = after.app.events.get(cid, lte=1)
        assert filed.customer["name"] == "张伟"  # type: ignore[attr-defined]
    only_old = DataKeyStore(services.app, MasterKeys(old), cache_seconds=0)
    services.app.mapper.protect_with(only_old)
    with pytest.raises(DataKeyUnavailableError, match="not configured"):
        list(services.app.events.get(cid, lte=1))


def test_the_cli_rotates_data_keys_and_webhook_secrets(
    services: Services, settings: Settings, ctx: CommandContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = file(services.app, ctx)
    subscription = services.webhook_store.add(
        url="https://example.com/hook", types=[], secret="s3cret", position=0, created_by="t"
    )
    old, new = load_key(settings), "q" * 43 + "="
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COMPLAINTS_SECRET_KEY", new)
    monkeypatch.setenv("COMPLAINTS_PREVIOUS_SECRET_KEYS", old)
    result = CliRunner().invoke(cli.cli, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "1 data key(s) re-wrapped, 1 webhook secret(s) re-sealed" in result.output
    monkeypatch.delenv("COMPLAINTS_PREVIOUS_SECRET_KEYS")
    with bootstrap(Settings()) as rotated:  # the new key alone
        (filed,) = rotated.app.events.get(cid, lte=1)
        assert filed.customer["email"] == "zhang.wei@example.com"  # type: ignore[attr-defined]
        (stored,) = [s for s in rotated.webhook_store.all() if s.id == subscription.id]
        assert rotated.webhook_store.signing_secret(stored) == "s3cret"


def test_concurrent_filings_share_one_key_per_customer(
    services: Services, ctx: CommandContext
) -> None:
    customers = [intake()["customer"] | {"id": f"CUST-{n % 4}"} for n in range(16)]
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda c: file(services.app, ctx, customer=c), customers))
    for cid, customer in zip(ids, customers, strict=True):
        (filed,) = services.app.events.get(cid, lte=1)
        assert filed.customer == customer | {"company": None}  # type: ignore[attr-defined]
    alive = services.data_keys.wrapping_keys()
    assert sum(alive.values()) == 4


def test_a_missing_master_key_stops_projections_instead_of_quarantining_events(
    services: Services, ctx: CommandContext
) -> None:
    file(services.app, ctx)
    other_key = "w" * 43 + "="
    services.app.mapper.protect_with(DataKeyStore(services.app, MasterKeys(other_key)))
    with pytest.raises(DataKeyUnavailableError):
        services.runner().catch_up()
    with services.read_models.read() as tx:
        assert tx.rows(f"SELECT * FROM {tx.table('projection_quarantine')}") == []


def test_a_missing_master_key_fails_the_event_feed_instead_of_skipping_events(
    services: Services, ctx: CommandContext
) -> None:
    file(services.app, ctx)
    other_key = "w" * 43 + "="
    services.app.mapper.protect_with(DataKeyStore(services.app, MasterKeys(other_key)))
    with pytest.raises(DataKeyUnavailableError):
        read_page(services.app, after=0, limit=100)  # webhooks and the relay retry it later


def test_a_feed_page_reads_its_data_keys_at_once_and_erased_ones_stay_erased(
    services: Services, ctx: CommandContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        file(services.app, ctx, customer=intake()["customer"] | {"id": f"CUST-P{n}"})
    erase(services, "CUST-P1", ctx)
    cold = DataKeyStore(services.app, services.data_keys.master)  # nothing cached
    services.app.mapper.protect_with(cold)
    reads = counted_reads(cold, monkeypatch)
    page = read_page(services.app, after=0, limit=1000, personal_data=True)
    filed = [e for e in page.events if e["type"] == "complaint.filed"]
    assert [e["data"]["customer"]["name"] for e in filed] == ["张伟", ERASED, "张伟"]
    assert len([r for r in reads if "personal_data_keys" in r]) == 1  # one read for the page


def counted_reads(keys: DataKeyStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The statements ``keys`` reads its rows with from now on, in order."""
    reads: list[str] = []
    rows = keys._rows  # noqa: SLF001 - counting the store's reads

    def counted(statement: str, params: tuple[object, ...] = ()) -> list[object]:
        reads.append(statement)
        return rows(statement, params)

    monkeypatch.setattr(keys, "_rows", counted)
    return reads
