"""The registered projections: adding one is a new module in ``projections/`` plus one line here."""

from __future__ import annotations

from collections.abc import Sequence

from projections.analytics import AnalyticsProjection
from projections.complaints import ComplaintsProjection
from projections.projection import Projection
from projections.workload import WorkloadProjection

REGISTERED: tuple[type[Projection], ...] = (
    ComplaintsProjection,
    WorkloadProjection,
    AnalyticsProjection,
)


class UnknownProjectionError(LookupError):
    """Raised when a projection name is not registered."""


def names() -> list[str]:
    return [cls.name for cls in REGISTERED]


def check(selected: Sequence[str]) -> None:
    """Raises UnknownProjectionError unless every name in ``selected`` is registered."""
    unknown = sorted(set(selected) - set(names()))
    if unknown:
        raise UnknownProjectionError(
            f"unknown projection {', '.join(unknown)}; known: {', '.join(names())}"
        )


def build(selected: Sequence[str] = (), *, report_tz: str = "UTC") -> list[Projection]:
    """Builds the named projections (all when none are named), in registration order;
    ``report_tz`` is the zone analytics cuts days in."""
    check(selected)
    return [
        AnalyticsProjection(report_tz) if cls is AnalyticsProjection else cls()
        for cls in REGISTERED
        if not selected or cls.name in selected
    ]
