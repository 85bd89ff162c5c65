"""The registered projections: adding one is a new module in ``projections/`` plus one line here."""

from __future__ import annotations

from collections.abc import Sequence

from projections.analytics import AnalyticsProjection
from projections.complaint_list import ComplaintListProjection
from projections.customers import CustomersProjection
from projections.product_issues import ProductIssuesProjection
from projections.projection import Projection
from projections.sla import Calendars, SlaProjection
from projections.store import RENAMED_PROJECTIONS
from projections.workload import WorkloadProjection

REGISTERED: tuple[type[Projection], ...] = (
    ComplaintListProjection,
    WorkloadProjection,
    AnalyticsProjection,
    SlaProjection,
    CustomersProjection,
    ProductIssuesProjection,
)

FORMER_NAMES = "former names accepted: " + ", ".join(
    f"{former} for {name}" for former, name in RENAMED_PROJECTIONS.items()
)
"""For help texts: the former names that ``build`` (so the CLI and the retry route) accepts."""


class UnknownProjectionError(LookupError):
    """Raised when a projection name is not registered."""


def names() -> list[str]:
    return [cls.name for cls in REGISTERED]


def canonical(name: str) -> str:
    """The projection's name now, for a former name (``complaints``: ``complaint_list``)."""
    return RENAMED_PROJECTIONS.get(name, name)


def check(selected: Sequence[str]) -> list[str]:
    """The names now of ``selected`` (former names accepted); raises UnknownProjectionError
    unless every one is registered."""
    current = [canonical(name) for name in selected]
    unknown = sorted(set(current) - set(names()))
    if unknown:
        raise UnknownProjectionError(
            f"unknown projection {', '.join(unknown)}; known: {', '.join(names())}"
        )
    return current


def build(
    selected: Sequence[str] = (), *, report_tz: str = "UTC", calendars: Calendars | None = None
) -> list[Projection]:
    """Builds the named projections (all when none are named; former names accepted), in
    registration order; ``report_tz`` is the zone analytics cuts days in, ``calendars`` where
    the SLA view finds the calendars it measures business seconds on (default: built-in only)."""
    current = check(selected)
    built: list[Projection] = []
    for cls in REGISTERED:
        if current and cls.name not in current:
            continue
        if cls is AnalyticsProjection:
            built.append(AnalyticsProjection(report_tz))
        elif cls is SlaProjection:
            built.append(SlaProjection(calendars))
        else:
            built.append(cls())
    return built
