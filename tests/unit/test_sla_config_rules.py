"""The SLA configuration's rules, without a store: what a calendar and a policy must be, each
refusal naming its field, and the stored forms read back as the contract's value types."""

from __future__ import annotations

import copy
from datetime import date, time
from typing import Any

import pytest

from aggregates.business_time import CALENDAR_24X7, Target
from aggregates.errors import InvalidIntakeError
from aggregates.provenance import Provenance
from aggregates.sla_calendar import (
    SlaCalendar,
    calendar_id,
    check_definition,
    to_calendar,
    to_definition,
)
from aggregates.sla_policy import DEFAULT_POLICY, Conditions
from aggregates.sla_policy_book import (
    DEFAULT_ESCALATION,
    DEFAULT_RULES,
    SlaPolicyBook,
    check_escalation,
    check_rules,
    rule_json,
    to_policy,
    to_rule,
)

BY = Provenance("sam", "corr")
CALENDARS = {"24x7", "cn-office"}
OFFICE: dict[str, Any] = {
    "timezone": "Asia/Shanghai",
    "working_hours": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-10-01", "2026-10-02"],
    "workdays": ["2026-09-27"],
}


def rule(name: str = "default", **fields: Any) -> dict[str, Any]:
    return {"name": name, "first_response": "PT4H", "resolution": "P3D", **fields}


def refused(call: Any, *args: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(InvalidIntakeError) as caught:
        call(*args, **kwargs)
    return caught.value.field, caught.value.reason


# ---- calendars --------------------------------------------------------------------------------


def test_a_calendar_is_normalised_and_read_back_as_the_contract_calendar() -> None:
    data = copy.deepcopy(OFFICE)
    data["working_hours"]["mon"] = [["13:00", "18:00"], ["09:00", "12:00"]]
    data["working_hours"]["sat"] = []
    data["working_hours"]["sun"] = [["20:00", "00:00"]]
    data["holidays"] = ["2026-10-02", "2026-10-01", "2026-10-02"]
    stored = check_definition(data)
    assert stored["working_hours"]["mon"] == [["09:00", "12:00"], ["13:00", "18:00"]]
    assert "sat" not in stored["working_hours"]
    assert stored["working_hours"]["sun"] == [["20:00", "24:00"]]
    assert stored["holidays"] == ["2026-10-01", "2026-10-02"]

    calendar = to_calendar("cn-office", 3, stored)
    assert calendar.version == 3 and calendar.timezone == "Asia/Shanghai"
    assert set(calendar.working_hours) == {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
    assert calendar.working_hours["sat"] == ()
    assert calendar.working_hours["sun"] == ((time(20), time(0)),)
    assert calendar.holidays == {date(2026, 10, 1), date(2026, 10, 2)}
    assert calendar.workdays == {date(2026, 9, 27)}
    assert not calendar.always_open
    assert to_definition(calendar) == stored


def test_the_built_in_calendar_has_a_public_form() -> None:
    assert to_definition(CALENDAR_24X7)["working_hours"]["mon"] == [["00:00", "24:00"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../etc/passwd"}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"working_hours": {}}, "working_hours"),
        ({"working_hours": {"mon": []}}, "working_hours"),
        ({"working_hours": {"monday": [["09:00", "18:00"]]}}, "working_hours.monday"),
        ({"working_hours": {"mon": [["18:00", "09:00"]]}}, "working_hours.mon.0"),
        ({"working_hours": {"mon": [["9:00", "18:00"]]}}, "working_hours.mon.0"),
        ({"working_hours": {"mon": [["24:00", "24:00"]]}}, "working_hours.mon.0"),
        ({"working_hours": {"mon": [["09:00"]]}}, "working_hours.mon.0"),
        (
            {"working_hours": {"tue": [["09:00", "12:00"], ["11:00", "18:00"]]}},
            "working_hours.tue.1",
        ),
        ({"holidays": ["2026-02-30"]}, "holidays.0"),
        ({"holidays": ["2026-10-01", "1900-01-01"]}, "holidays.1"),
        ({"workdays": ["2026-09-27", "2026-10-01"]}, "workdays.1"),
        ({"workday_hours": [["10:00", "10:00"]]}, "workday_hours.0"),
        ({"weekends": []}, "weekends"),
    ],
)
def test_a_bad_calendar_is_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    found, reason = refused(check_definition, {**OFFICE, **change})
    assert found == field and reason


@pytest.mark.parametrize("name", ["24x7", "CN", "-x", "", "a" * 65, "has space"])
def test_calendar_names_are_checked_and_24x7_is_built_in(name: str) -> None:
    assert refused(SlaCalendar.define, name, OFFICE, reason=None, by=BY)[0] == "name"


def test_a_calendar_records_who_and_why_and_a_same_definition_records_nothing() -> None:
    calendar = SlaCalendar.define("cn-office", OFFICE, reason="office hours", by=BY)
    assert calendar.id == calendar_id("cn-office") and calendar.version == 1
    assert (calendar.changed_by, calendar.reason) == ("sam", "office hours")
    assert not calendar.redefine(copy.deepcopy(OFFICE), reason="again", by=BY)
    assert calendar.version == 1
    assert calendar.redefine({**OFFICE, "holidays": []}, reason="no holidays",
                             by=Provenance("lee", "c2"))
    assert calendar.version == 2
    assert (calendar.changed_by, calendar.reason) == ("lee", "no holidays")
    assert calendar.calendar().holidays == frozenset()


# ---- the policy -------------------------------------------------------------------------------


def test_rules_are_normalised_and_read_back_as_the_contract_policy() -> None:
    rules = check_rules(
        [
            rule("vip", when={"tier": ["vip"], "severity": ["critical", "high", "high"]},
                 calendar="cn-office", first_response="PT30S", at_risk_ratio=0.25),
            rule(),
        ],
        CALENDARS,
    )
    assert rules[0]["when"] == {
        "severity": ["high", "critical"], "tier": ["vip"], "category": None, "channel": None,
    }
    policy = to_policy(2, rules, check_escalation(None))
    assert policy.version == 2 and policy.escalation == DEFAULT_POLICY.escalation
    vip = policy.rules[0]
    assert vip.when == Conditions(severity=frozenset({"high", "critical"}),
                                  tier=frozenset({"vip"}))
    assert vip.first_response == Target(0, 30, "PT30S") and vip.at_risk_ratio == 0.25
    assert policy.rules[1].calendar == "24x7" and policy.rules[1].at_risk_ratio == 0.2
    assert [rule_json(r) for r in policy.rules] == rules
    assert policy.rule_for(severity="high", tier="vip", category="other", channel="web") is vip
    assert policy.rule_for(severity="low", tier="vip", category="other", channel="web").name == (
        "default"
    )


def test_the_built_in_policy_has_a_stored_form() -> None:
    assert to_policy(0, DEFAULT_RULES, DEFAULT_ESCALATION) == DEFAULT_POLICY
    assert [to_rule(r) for r in DEFAULT_RULES] == list(DEFAULT_POLICY.rules)


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([], "rules"),
        ([rule(when={"tier": ["vip"]})], "rules.0.when"),
        ([rule("a"), rule("b")], "rules.0.when"),
        ([rule("a", when={"tier": ["vip"]}), rule("a")], "rules.1.name"),
        ([rule(calendar="nowhere")], "rules.0.calendar"),
        ([rule(first_response="4 hours")], "rules.0.first_response"),
        ([rule(first_response="PT0S")], "rules.0.first_response"),
        ([rule(resolution="P1Y")], "rules.0.resolution"),
        ([rule(resolution="P400D")], "rules.0.resolution"),
        ([rule(resolution="P\u0661D")], "rules.0.resolution"),
        ([rule(at_risk_ratio=0)], "rules.0.at_risk_ratio"),
        ([rule(at_risk_ratio=1)], "rules.0.at_risk_ratio"),
        ([rule(at_risk_ratio=True)], "rules.0.at_risk_ratio"),
        ([rule(at_risk_ratio=float("nan"))], "rules.0.at_risk_ratio"),
        ([rule("a", when={"severity": ["urgent"]}), rule()], "rules.0.when.severity.0"),
        ([rule("a", when={"tier": []}), rule()], "rules.0.when.tier"),
        ([rule("a", when={"region": ["north"]}), rule()], "rules.0.when.region"),
        ([rule(name="")], "rules.0.name"),
        ([rule(colour="red")], "rules.0.colour"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_field(rules: list[Any], field: str) -> None:
    found, reason = refused(check_rules, rules, CALENDARS)
    assert found == field and reason


@pytest.mark.parametrize(
    ("escalation", "field"),
    [
        ({"on_resolution_breach": 0}, "escalation.on_resolution_breach"),
        ({"critical_at_filing": 11}, "escalation.critical_at_filing"),
        ({"still_open_after": "soon"}, "escalation.still_open_after"),
        ({"never": 1}, "escalation.never"),
    ],
)
def test_bad_escalation_is_refused_naming_the_field(escalation: Any, field: str) -> None:
    assert refused(check_escalation, escalation)[0] == field


def test_a_policy_needs_a_reason_and_records_who_and_why() -> None:
    assert refused(SlaPolicyBook.adopt, [rule()], reason=" ", calendars=CALENDARS, by=BY)[0] == (
        "reason"
    )
    book = SlaPolicyBook.adopt([rule()], reason="first", calendars=CALENDARS, by=BY)
    assert book.version == 1 and (book.changed_by, book.reason) == ("sam", "first")
    assert not book.revise([rule()], reason="same again", calendars=CALENDARS, by=BY)
    assert book.revise([rule(resolution="P2D")], reason="faster", calendars=CALENDARS, by=BY)
    assert book.version == 2 and book.policy().rules[0].resolution.text == "P2D"
