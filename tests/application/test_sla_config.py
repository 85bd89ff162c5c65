"""The SLA configuration service (``app.sla``) on both stores: versions, who and why, history,
the lookup the clocks use, If-Match and Idempotency-Key, racing writers."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

from aggregates.business_time import CALENDAR_24X7
from aggregates.errors import FieldError
from aggregates.sla_policy import DEFAULT_POLICY
from commands.application import ComplaintsApp
from commands.context import CommandContext
from commands.errors import (
    ConcurrencyConflictError,
    IdempotencyKeyReusedError,
    PreconditionFailedError,
)
from commands.sla_config import SlaConfigNotFoundError

OFFICE: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "working_hours": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-10-01"],
    "workdays": ["2026-09-27"],
    "reason": "office hours",
}
VIP = {"name": "vip", "when": {"tier": ["vip"]}, "calendar": "cn-office",
       "first_response": "PT1H", "resolution": "P1D"}
DEFAULT = {"name": "default", "first_response": "PT4H", "resolution": "P3D"}


@pytest.fixture
def sam() -> CommandContext:
    return CommandContext(principal="sam", role="supervisor", correlation_id="corr-sam")


def head(app: ComplaintsApp) -> int:
    return app.recorder.max_notification_id() or 0


def test_until_a_policy_is_set_version_0_is_in_force(app: ComplaintsApp) -> None:
    assert app.sla.policy() is DEFAULT_POLICY and app.sla.policy(0) is DEFAULT_POLICY
    assert [v.policy.version for v in app.sla.policy_versions()] == [0]
    policy, rule, calendar = app.sla.terms_for("high", "vip", "billing", "web")
    assert (policy, rule, calendar) == (DEFAULT_POLICY, DEFAULT_POLICY.rules[0], CALENDAR_24X7)
    with pytest.raises(SlaConfigNotFoundError):
        app.sla.policy(1)
    assert [c.calendar for c in app.sla.calendars()] == [CALENDAR_24X7]
    assert app.sla.calendar("24x7") is CALENDAR_24X7


def test_calendar_versions_increment_with_who_and_why(
    app: ComplaintsApp, sam: CommandContext, ctx: CommandContext
) -> None:
    first = app.sla.set_calendar("cn-office", OFFICE, sam)
    assert (first.created, first.recorded) == (True, True)
    assert first.current.calendar.version == 1
    second = app.sla.set_calendar(
        "cn-office", {**OFFICE, "holidays": [], "reason": "holidays moved"}, ctx
    )
    assert (second.created, second.recorded, second.current.calendar.version) == (False, True, 2)

    versions = app.sla.calendar_versions("cn-office")
    assert [(v.calendar.version, v.changed_by, v.reason) for v in versions] == [
        (1, "sam", "office hours"), (2, "alice", "holidays moved"),
    ]
    assert versions[0].changed_at is not None and versions[0].changed_at < versions[1].changed_at
    assert app.sla.calendar("cn-office", 1).holidays and not app.sla.calendar("cn-office").holidays
    assert app.sla.calendar_version("cn-office", 2) == app.sla.calendar_version("cn-office")
    assert [c.calendar.name for c in app.sla.calendars()] == ["24x7", "cn-office"]
    for missing in (("cn-office", 3), ("cn-office", 0), ("nowhere", None), ("24x7", 1)):
        with pytest.raises(SlaConfigNotFoundError):
            app.sla.calendar(*missing)


def test_the_same_definition_again_records_nothing(app: ComplaintsApp, sam: CommandContext) -> None:
    app.sla.set_calendar("cn-office", OFFICE, sam)
    before = head(app)
    again = app.sla.set_calendar("cn-office", {**OFFICE, "reason": "again"}, sam)
    assert (again.created, again.recorded, again.current.calendar.version) == (False, False, 1)
    assert again.current.reason == "office hours" and head(app) == before


def test_policy_versions_increment_with_who_and_why_and_history_is_readable(
    app: ComplaintsApp, sam: CommandContext, ctx: CommandContext
) -> None:
    app.sla.set_calendar("cn-office", OFFICE, sam)
    first = app.sla.set_policy([VIP, DEFAULT], "VIPs first", sam)
    assert first.current.policy.version == 1 and first.created
    second = app.sla.set_policy(
        [VIP, {**DEFAULT, "resolution": "P2D"}], "faster resolution", ctx,
        escalation={"on_resolution_breach": 3, "still_open_after_resolution_breach": 4},
    )
    assert second.current.policy.version == 2 and not second.created

    assert [(v.policy.version, v.changed_by, v.reason) for v in app.sla.policy_versions()] == [
        (0, None, "built in: in force until a policy is set"),
        (1, "sam", "VIPs first"),
        (2, "alice", "faster resolution"),
    ]
    assert app.sla.policy(1).rules[1].resolution.text == "P3D"
    assert app.sla.policy().rules[1].resolution.text == "P2D"
    assert app.sla.policy().escalation.on_resolution_breach == 3
    assert app.sla.policy(1).escalation == DEFAULT_POLICY.escalation

    policy, rule, calendar = app.sla.terms_for("low", "vip", "billing", "web")
    assert (policy.version, rule.name, calendar.name, calendar.version) == (
        2, "vip", "cn-office", 1,
    )
    app.sla.set_calendar("cn-office", {**OFFICE, "holidays": []}, sam)
    assert app.sla.terms_for("low", "vip", "billing", "web")[2].version == 2
    assert app.sla.terms_for("low", "standard", "billing", "web")[1].name == "default"


def test_a_bad_policy_changes_nothing_and_names_the_field(
    app: ComplaintsApp, sam: CommandContext
) -> None:
    before = head(app)
    for rules, field in [
        ([VIP, DEFAULT], "rules.0.calendar"),  # cn-office is not defined
        ([DEFAULT, {**DEFAULT, "name": "other"}], "rules.0.when"),
        ([{**VIP, "calendar": "24x7"}, {**VIP, "calendar": "24x7"}, DEFAULT], "rules.1.name"),
        ([{**DEFAULT, "when": {"severity": ["high"]}}], "rules.0.when"),
    ]:
        with pytest.raises(FieldError) as caught:
            app.sla.set_policy(rules, "try", sam)
        assert caught.value.field == field
    assert head(app) == before and app.sla.policy() is DEFAULT_POLICY


def test_if_match_names_the_version_the_writer_saw(app: ComplaintsApp, sam: CommandContext) -> None:
    app.sla.set_policy([DEFAULT], "first", sam.expecting(0))
    with pytest.raises(PreconditionFailedError) as caught:
        app.sla.set_policy([{**DEFAULT, "resolution": "P2D"}], "second", sam.expecting(0))
    assert caught.value.actual == 1 and "policy is at version 1" in str(caught.value)
    app.sla.set_policy([{**DEFAULT, "resolution": "P2D"}], "second", sam.expecting(1))

    app.sla.set_calendar("cn-office", OFFICE, sam.expecting(0))
    with pytest.raises(PreconditionFailedError):
        app.sla.set_calendar("cn-office", {**OFFICE, "holidays": []}, sam.expecting(0))
    assert app.sla.calendar("cn-office").version == 1


def test_an_idempotency_key_replays_the_first_answer(
    app: ComplaintsApp, sam: CommandContext
) -> None:
    keyed = sam.keyed("k-1")
    first = app.sla.set_policy([DEFAULT], "first", keyed)
    again = app.sla.set_policy([DEFAULT], "first", keyed)
    assert again.replayed and again.current.policy.version == first.current.policy.version == 1
    with pytest.raises(IdempotencyKeyReusedError):
        app.sla.set_policy([{**DEFAULT, "resolution": "P1D"}], "other", keyed)
    with pytest.raises(IdempotencyKeyReusedError):
        app.sla.set_calendar("cn-office", OFFICE, keyed)

    made = app.sla.set_calendar("cn-office", OFFICE, sam.keyed("k-2"))
    app.sla.set_calendar("cn-office", {**OFFICE, "holidays": []}, sam)
    replayed = app.sla.set_calendar("cn-office", OFFICE, sam.keyed("k-2"))
    assert replayed.replayed and replayed.current == made.current


def test_racing_first_definitions_record_one_version(
    app: ComplaintsApp, sam: CommandContext
) -> None:
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def define(i: int) -> None:
        ctx = replace(sam, principal=f"writer-{i}")
        barrier.wait()
        try:
            app.sla.set_policy([{**DEFAULT, "resolution": f"P{i + 1}D"}], f"writer {i}", ctx)
            outcomes.append("saved")
        except ConcurrencyConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=define, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    versions = app.sla.policy_versions()
    # Each writer either recorded the next version or was told it lost the race.
    assert outcomes.count("saved") == len(versions) - 1 >= 1
    assert [v.policy.version for v in versions] == list(range(len(versions)))
