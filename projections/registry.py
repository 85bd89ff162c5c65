"""The registered projections: adding one is a new module in ``projections/`` plus one line here."""

from __future__ import annotations

from collections.abc import Sequence

from infra.settings import Settings
from projections.analytics import AnalyticsProjection
from projections.complaint_list import ComplaintListProjection
from projections.projection import Projection
from projections.store import RENAMED_PROJECTIONS
from projections.workload import WorkloadProjection

REGISTERED: tuple[type[Projection], ...] = (
    ComplaintListProjection,
    WorkloadProjection,
    AnalyticsProjection,
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


def build(settings: Settings, selected: Sequence[str] = ()) -> list[Projection]:
    """Builds the named projections (all when none are named; former names accepted), in
    registration order."""
    selected = [canonical(name) for name in selected]
    unknown = sorted(set(selected) - set(names()))
    if unknown:
        raise UnknownProjectionError(
            f"unknown projection {', '.join(unknown)}; known: {', '.join(names())}"
        )
    return [cls(settings) for cls in REGISTERED if not selected or cls.name in selected]
