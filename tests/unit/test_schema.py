"""The short column declarations of read-model tables (projections/schema.py)."""

from __future__ import annotations

import pytest

from projections.schema import Column, columns


def test_columns_are_read_in_order_with_their_nullability() -> None:
    assert columns("id uuid, region text?, ", "filed_at timestamp") == (
        Column("id", "uuid"),
        Column("region", "text", nullable=True),
        Column("filed_at", "timestamp"),
    )


@pytest.mark.parametrize("bad", ["id uuids", "id", "id uuid text", "region text??"])
def test_a_misspelt_declaration_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        columns(bad)
