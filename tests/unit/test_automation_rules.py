"""The automation rule language and engine without a store: conditions, actions, term matching
(Chinese and English, word boundaries), the loop guard, and the shipped defaults."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest

from aggregates.complaint import Complaint
from aggregates.errors import InvalidIntakeError
from aggregates.event_ids import event_id
from aggregates.provenance import Provenance
from aggregates.values import Customer, Product
from commands.automation import Automation, ComplaintFacts, perform_due_follow_ups
from commands.automation_config import _DEFAULTS, normal
from commands.automation_models import (
    EVENT_NAMES,
    CompiledRule,
    compile_condition,
    compile_rule,
    term_pattern,
)
from commands.customer_history import NoHistory, PriorComplaint
from commands.directory_lookup import EmptyDirectory, TeamProfile
from commands.reactions import AutomationLoopError, react
from queries.history import EVENT_TYPES

BY = Provenance("alice", "corr-1", "req-1")
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def filed(**overrides: Any) -> Complaint:
    fields: dict[str, Any] = {
        "reference": "C-7KQ4-MZ9P",
        "customer": Customer(id="CUST-1", name="张伟", phone="13800138000", tier="vip"),
        "product": Product(name="X9 phone", order_number="SO-1"),
        "category": "product_quality",
        "subject": "Screen cracked",
        "description": "Arrived cracked",
        "channel": "web",
        "severity": "low",
        "received_at": NOW,
    }
    fields.update(overrides)
    return Complaint.file(by=BY, **fields)


class Rules:
    def __init__(self, rules: Sequence[CompiledRule]) -> None:
        self._rules = list(rules)

    def rules(self) -> Sequence[CompiledRule]:
        return self._rules


class FakeApp(SimpleNamespace):
    def __init__(self, history: Any = None, directory: Any = None) -> None:
        super().__init__(
            customer_history=history or NoHistory(), directory=directory or EmptyDirectory(),
            clock=lambda: NOW, reapplied=[],
        )

    def _apply_sla(self, complaint: Complaint, reason: str, by: Provenance) -> None:
        self.reapplied.append(reason)


def rule(rule_id: str, **definition: Any) -> CompiledRule:
    return compile_rule(rule_id, 1, normal(rule_id, definition))


def run(complaint: Complaint, *rules: CompiledRule, app: Any = None) -> list[Any]:
    react(app or FakeApp(), complaint, [Automation(Rules(rules))])
    return complaint.pending_events


def facts(complaint: Complaint, event: Any = None, app: Any = None) -> ComplaintFacts:
    return ComplaintFacts(app or FakeApp(), complaint, event, NOW)


# ---- the language ----------------------------------------------------------------------------


def test_public_types_are_the_published_ones() -> None:
    assert sorted(EVENT_NAMES) == sorted(EVENT_TYPES.values())


@pytest.mark.parametrize(
    ("terms", "text", "found"),
    [
        (["sue"], "This is an issue with my order", False),
        (["sue"], "I will SUE you", True),
        (["sue"], "sue.", True),
        (["court"], "a courteous agent", False),
        (["court"], "see you in court!", True),
        (["legal action"], "I'll take Legal  action", False),
        (["legal action"], "I'll take LEGAL ACTION now", True),
        (["律师"], "我已经联系了律师", True),
        (["12315"], "我要打12315投诉", True),
        (["12315"], "order 123156", False),
        (["lawyer"], "我会找lawyer处理", True),
        (["media"], "multimedia player broken", False),
    ],
)
def test_terms_match_case_insensitively_with_word_boundaries_for_english(
    terms: list[str], text: str, found: bool
) -> None:
    assert bool(term_pattern(terms).search(text)) is found


def test_conditions_over_state_and_event() -> None:
    c = filed(severity="medium")
    c.tag("vip_watch", by=BY)
    c.comment("我要起诉你们", visibility="customer", by=BY)
    comment = c.pending_events[-1]
    f = facts(c, comment)
    holds = {
        "severity in": {"field": "severity", "in": ["low", "medium"]},
        "status eq": {"field": "status", "eq": "new"},
        "tags contains": {"field": "tags", "contains": "vip_watch"},
        "tier": {"field": "tier", "eq": "vip"},
        "event type": {"field": "event.type", "eq": "commented"},
        "comment text": {"text": ["comments"], "contains_any": ["起诉"]},
        "all": {"all": [{"field": "category", "eq": "product_quality"},
                        {"field": "escalation_level", "lt": 1}]},
        "any": {"any": [{"field": "channel", "eq": "phone"}, {"field": "channel", "eq": "web"}]},
        "not": {"not": {"field": "tags", "contains": "legal_risk"}},
    }
    for name, data in holds.items():
        assert compile_condition(data).holds(f), name
    # The filing's text is the filing's: a comment's trigger does not read the subject.
    assert not compile_condition({"text": ["subject"], "contains_any": ["cracked"]}).holds(f)
    assert compile_condition({"text": ["subject"], "contains_any": ["CRACKED"]}).holds(
        facts(c, c.collect_events()[0])
    )


def test_complaints_in_30_days_count_this_one_and_only_the_customers_recent_ones() -> None:
    c = filed()

    class History:
        def prior(self, customer_id: str, order: str | None, since: datetime) -> list[Any]:
            assert customer_id == "CUST-1" and since == NOW - timedelta(days=30)
            def mk(days: int, cid: str = "CUST-1", i: Any = None) -> PriorComplaint:
                return PriorComplaint(
                    i or uuid4(), "C-1", cid, None, NOW - timedelta(days=days), None
                )

            return [mk(1), mk(29), mk(31), mk(2, "OTHER"), mk(0, i=c.id)]

    count = facts(c, app=FakeApp(History())).field("customer.complaints_last_30_days")
    assert count == 3  # two recent others and this one


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        ({"on": ["filed"], "then": [{"add_tag": "x"}], "if": {"field": "colour", "eq": "r"}},
         "if.field"),
        ({"on": ["filed"], "then": [{"add_tag": "x"}],
          "if": {"all": [{"field": "severity", "in": ["urgent"]}]}}, "if.all.0.in.0"),
        ({"on": ["filed"], "then": [{"add_tag": "x"}],
          "if": {"field": "tags", "eq": "x"}}, "if"),
        ({"on": ["filed"], "then": [{"add_tag": "x"}],
          "if": {"text": ["notes"], "contains_any": ["a"]}}, "if.text.0"),
        ({"on": ["opened"], "then": [{"add_tag": "x"}]}, "on.0"),
        ({"on": ["filed"], "then": [{"add_tag": "Bad Tag"}]}, "then.0.add_tag"),
        ({"on": ["filed"], "then": [{"set_severity": {"at_least": "huge"}}]},
         "then.0.set_severity.at_least"),
        ({"on": ["filed"], "then": [{"notify": {"template": "t", "audience": "boss"}}]},
         "then.0.notify.audience"),
        ({"on": ["filed"], "then": [{"follow_up": {"after": "soon", "then": [{"add_tag": "x"}]}}]},
         "then.0.follow_up.after"),
        ({"on": ["filed"], "then": [{"launch": {}}]}, "then.0"),
        ({"on": ["filed"]}, "then"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(definition: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidIntakeError) as refused:
        compile_rule("r", 1, normal("r", definition))
    assert refused.value.field == field


# ---- actions ---------------------------------------------------------------------------------


def test_actions_are_recorded_with_the_rule_actor_and_cause() -> None:
    c = filed(severity="low")
    c.assign("bob", team="east", by=BY)
    directory = SimpleNamespace(team=lambda t: TeamProfile(t, "East", "sara"))
    app = FakeApp(directory=directory)
    r = rule("watch", on=["assigned"], then=[
        {"set_severity": {"at_least": "high"}}, {"add_tag": "watch"},
        {"notify": {"template": "heads_up", "audience": "team_supervisor"}},
        {"escalate": {"reason": "watched"}}, {"assign": {"assignee": "eve", "team": "east"}},
    ])
    new = run(c, r, app=app)[2:]
    assert [type(e).__name__ for e in new] == [
        "SeverityChanged", "Tagged", "NotificationRequested", "Escalated", "Assigned"]
    assigned_id = str(event_id(c.id, 2))
    for e in new:
        assert (e.actor, e.causation_id, e.rule) == ("automation", assigned_id, "watch@v1")
    assert c.severity == "high" and c.tags == ("watch",) and c.assignee == "eve"
    assert new[2].recipient == "sara" and new[2].audience == "team_supervisor"
    assert app.reapplied == []  # no SLA clocks on this complaint: nothing to re-apply


def test_actions_that_change_nothing_record_nothing() -> None:
    c = filed(severity="critical")
    c.tag("legal_risk", by=BY)
    r = rule("noop", on=["filed"], then=[
        {"set_severity": {"at_least": "high"}}, {"add_tag": "legal_risk"},
        {"remove_tag": "absent"},
    ])
    assert len(run(c, r)) == 2  # Filed and the person's tag only


def test_a_rule_does_not_answer_its_own_action() -> None:
    # Tagging triggers "tagged", which the rule listens to: it fires once, not again.
    c = filed()
    r = rule("echo", on=["filed", "tagged"], then=[{"notify": {"template": "t",
                                                                 "audience": "team"}}])
    events = run(c, r)
    assert [type(e).__name__ for e in events] == ["Filed", "NotificationRequested"]
    r2 = rule("tagger", on=["filed", "tagged"],
              then=[{"add_tag": "again"}, {"escalate": {"reason": "r"}}])
    events = run(filed(), r2)
    assert [type(e).__name__ for e in events] == ["Filed", "Tagged", "Escalated"]


def test_two_rules_feeding_each_other_stop_at_the_guard() -> None:
    ping = rule("ping", on=["tagged", "untagged", "filed"], then=[{"escalate": {"reason": "p"}}])
    pong = rule("pong", on=["escalated"], then=[{"add_tag": "pong"}])
    events = run(filed(), ping, pong)
    # filed -> ping escalates -> pong tags -> ping is in the chain of that tag: stops.
    assert [type(e).__name__ for e in events] == ["Filed", "Escalated", "Tagged"]
    assert events[2].rule == "pong@v1"


def test_the_cap_stops_what_the_guard_cannot_see() -> None:
    # Rules named differently each time are not a loop the guard knows: the cap refuses it.
    class Endless:
        def react(self, app: Any, complaint: Complaint, trigger: Any) -> None:
            complaint.request_notification("t", audience="team", reason="r",
                                           by=trigger.automatic(f"r{uuid4().hex}@v1"))

    with pytest.raises(AutomationLoopError):
        react(FakeApp(), filed(), [Endless()])


def test_follow_up_is_scheduled_and_taken_up_once_when_due() -> None:
    c = filed()
    r = rule("remind", on=["filed"], then=[{"follow_up": {
        "after": "48h", "then": [{"add_tag": "reminded"}],
        "if_still": {"field": "status", "eq": "new"}}}])
    events = run(c, r)
    scheduled = events[-1]
    assert isinstance(scheduled, Complaint.FollowUpScheduled)
    assert scheduled.due_at == NOW + timedelta(hours=48) and scheduled.rule == "remind@v1"
    assert perform_due_follow_ups(FakeApp(), c, NOW + timedelta(hours=47), "w") == 0
    assert perform_due_follow_ups(FakeApp(), c, NOW + timedelta(hours=48), "w") == 1
    tagged, done = c.pending_events[-2:]
    assert isinstance(tagged, Complaint.Tagged) and tagged.rule == "remind@v1"
    assert isinstance(done, Complaint.FollowUpDone) and done.performed
    assert c.follow_ups == ()
    assert perform_due_follow_ups(FakeApp(), c, NOW + timedelta(days=9), "w") == 0


def test_follow_up_not_performed_when_its_condition_no_longer_holds() -> None:
    c = filed()
    run(c, rule("remind", on=["filed"], then=[{"follow_up": {
        "after": "1d", "then": [{"add_tag": "reminded"}],
        "if_still": {"field": "status", "eq": "new"}}}]))
    c.assign("bob", by=BY)
    assert perform_due_follow_ups(FakeApp(), c, NOW + timedelta(days=1), "w") == 1
    assert isinstance(c.pending_events[-1], Complaint.FollowUpDone)
    assert not c.pending_events[-1].performed and "reminded" not in c.tags


# ---- the shipped defaults ---------------------------------------------------------------------


def defaults() -> list[CompiledRule]:
    return [v.rule for v in _DEFAULTS.values()]


@pytest.mark.parametrize(
    ("text", "tag"),
    [("我要去法院起诉你们", "legal_risk"), ("I will sue you", "legal_risk"),
     ("已经投诉到12315", "legal_risk"), ("我要找记者曝光", "media_risk"),
     ("a journalist friend", "media_risk"), ("this issue is annoying", None)],
)
def test_risk_defaults_tag_raise_and_notify(text: str, tag: str | None) -> None:
    c = filed(severity="low", description=text)
    run(c, *defaults())
    if tag is None:
        assert c.tags == () and c.severity == "low"
        return
    assert tag in c.tags and c.severity == "high"
    assert any(isinstance(e, Complaint.NotificationRequested) and e.template == tag
               for e in c.pending_events)


def test_risk_default_on_a_comment_fires_once_while_tagged() -> None:
    c = filed(severity="medium")
    c.collect_events()
    c.comment("my lawyer will call", visibility="customer", by=BY)
    run(c, *defaults())
    assert c.tags == ("legal_risk",) and c.severity == "high"
    c.collect_events()
    c.comment("my lawyer again", visibility="customer", by=BY)
    assert len(run(c, *defaults())) == 1  # the comment only
