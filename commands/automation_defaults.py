"""The shipped automation rules (issue 12): version 0 of their ids, built in, in force until an
admin PUTs the same id (``{"enabled": false}`` switches one off). ``docs/automation.md`` lists
them with their terms; keep the two in step.

The risk rules look at the subject and description when a complaint is filed and at the body of
each comment or customer reply; they do not fire again while the complaint carries their tag
(one supervisor notice per complaint, not one per message; a person who removes the tag re-arms
the rule).
"""

from __future__ import annotations

from typing import Any

LEGAL_TERMS = (
    "律师", "起诉", "法院", "诉讼", "仲裁", "法律途径", "12315", "12345", "消费者协会", "消协",
    "投诉到", "监管", "工商局", "市场监管", "市场监督管理局",
    "lawyer", "lawyers", "attorney", "solicitor", "sue", "suing", "sued", "lawsuit",
    "legal action", "court", "small claims", "regulator", "regulators", "ombudsman",
    "consumer association", "consumer council",
)
MEDIA_TERMS = (
    "曝光", "媒体", "记者", "报社", "电视台", "上热搜", "微博", "抖音", "小红书", "朋友圈",
    "media", "journalist", "journalists", "reporter", "reporters", "newspaper", "go public",
    "going public", "social media", "viral", "weibo", "douyin", "tiktok",
)
REPEAT_THRESHOLD = 3
"""More complaints than this from one customer in 30 days (this one counted): high attention."""

_TEXT = ["subject", "description", "comments"]
_ON = ["filed", "commented", "customer_replied"]


def _risk(name: str, terms: tuple[str, ...], tag: str) -> dict[str, Any]:
    return {
        "name": name,
        "enabled": True,
        "on": list(_ON),
        "if": {"all": [
            {"text": list(_TEXT), "contains_any": list(terms)},
            {"not": {"field": "tags", "contains": tag}},
        ]},
        "then": [
            {"set_severity": {"at_least": "high"}},
            {"add_tag": tag},
            {"notify": {"template": tag, "audience": "team_supervisor"}},
        ],
    }


DEFAULT_RULES: dict[str, dict[str, Any]] = {
    "legal-risk": _risk("Legal threat or regulator named", LEGAL_TERMS, "legal_risk"),
    "media-risk": _risk("Media exposure threatened", MEDIA_TERMS, "media_risk"),
    "repeat-customer": {
        "name": f"More than {REPEAT_THRESHOLD} complaints from the customer in 30 days",
        "enabled": True,
        "on": ["filed"],
        # The tag first: "all" stops at the first false, and the count is a read of the view.
        "if": {"all": [
            {"not": {"field": "tags", "contains": "high_attention"}},
            {"field": "customer.complaints_last_30_days", "gt": REPEAT_THRESHOLD},
        ]},
        "then": [{"add_tag": "high_attention"}],
    },
}
"""Rule id -> definition (the shape of ``PUT /automation/rules/{rule_id}``)."""
