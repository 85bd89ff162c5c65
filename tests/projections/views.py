"""Every read-model table, and all their rows at once: to compare a rebuilt, resumed or
restarted runner's views with the ones kept incrementally."""

from __future__ import annotations

from typing import Any

from projections.registry import REGISTERED
from projections.store import ReadModelStore

ALL_TABLES = [t for cls in REGISTERED for t in cls.tables]


def snapshot(store: ReadModelStore) -> dict[str, list[dict[str, Any]]]:
    """Every table's rows, in key order, by table name."""
    return {t.name: store.snapshot(t) for t in ALL_TABLES}
