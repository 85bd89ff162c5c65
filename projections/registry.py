"""The registered projections: adding one is a new module in ``projections/`` plus one line here."""

from __future__ import annotations

from collections.abc import Sequence

from infra.settings import Settings
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


def build(settings: Settings, selected: Sequence[str] = ()) -> list[Projection]:
    """Builds the named projections (all when none are named), in registration order."""
    unknown = sorted(set(selected) - set(names()))
    if unknown:
        raise UnknownProjectionError(
            f"unknown projection {', '.join(unknown)}; known: {', '.join(names())}"
        )
    return [cls(settings) for cls in REGISTERED if not selected or cls.name in selected]
