"""The complaint's cheap deep copy (Complaint.__deepcopy__) is as good as a generic one."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from aggregates.complaint import Complaint
from tests.unit.test_sla_clock import BY, with_sla

MUTABLE = {"comments", "_pending_events"}


def worked_complaint() -> Complaint:
    complaint = with_sla()
    complaint.assign("agent-1", team="east", reason=None, by=BY)
    complaint.comment("first", visibility="customer", by=BY)
    complaint.escalate("slow", level=1, by=BY)
    complaint.close("resolved", "done", by=BY)
    complaint.reopen("not fixed", by=BY)
    return complaint


def test_every_shared_attribute_is_immutable() -> None:
    # Sharing is safe only for values nothing can change in place: hashable ones.
    for name, value in vars(worked_complaint()).items():
        if name not in MUTABLE:
            hash(value)  # raises TypeError for a list, dict, set or unfrozen dataclass


def test_copy_equals_a_generic_deep_copy_and_is_independent() -> None:
    complaint = worked_complaint()
    complaint.collect_events()
    mine = copy.deepcopy(complaint)
    generic = object.__new__(Complaint)
    generic.__dict__.update(copy.deepcopy(vars(complaint)))
    assert vars(mine) == vars(generic)
    mine.comment("second", visibility="internal", by=BY)
    assert len(complaint.comments) == 1 and complaint.pending_events == []
    assert len(mine.comments) == 2 and len(mine.pending_events) == 1
    assert mine.modified_on >= complaint.modified_on > datetime(2000, 1, 1, tzinfo=UTC)
