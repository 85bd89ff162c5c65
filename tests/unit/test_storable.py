"""Values every store and Python can hold: instants clamped, NUL stripped (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from projections.storable import EARLIEST, LATEST, storable_instant, storable_rows, storable_text

EAST = timezone(timedelta(hours=1))


def test_instants_are_clamped_into_a_range_every_zone_can_convert() -> None:
    assert storable_instant(datetime(1, 1, 1, tzinfo=EAST)) == EARLIEST
    assert storable_instant(datetime(9999, 12, 31, 23, 30, tzinfo=timezone(-timedelta(hours=1)))
                            ) == LATEST
    ordinary = datetime(2025, 6, 1, 12, tzinfo=EAST)
    assert storable_instant(ordinary) is ordinary
    assert storable_instant(datetime(2025, 6, 1, 12)) == datetime(2025, 6, 1, 12, tzinfo=UTC)
    for zone in (timezone(timedelta(hours=23, minutes=59)), timezone(-timedelta(hours=23))):
        EARLIEST.astimezone(zone), LATEST.astimezone(zone)  # neither overflows


def test_nul_is_stripped_and_other_text_kept() -> None:
    assert storable_text("nul\x00here") == "nulhere"
    assert storable_text("tab\tnew\nline") == "tab\tnew\nline"


def test_rows_are_returned_as_they_are_when_nothing_needs_fixing() -> None:
    rows: list[dict[str, object]] = [
        {"t": "fine", "at": datetime(2025, 1, 1, tzinfo=UTC), "n": 1},
        {"t": None, "at": None, "n": 2},
    ]
    assert storable_rows(rows, ["t"], ["at"]) is rows


def test_rows_with_nul_or_out_of_range_instants_are_fixed_in_a_copy() -> None:
    rows: list[dict[str, object]] = [
        {"t": "a\x00b", "u": 7, "at": datetime(2025, 1, 1)},  # naive; a non-text value
        {"t": "ok", "u": "x\x00", "at": datetime(1, 1, 1, tzinfo=EAST)},
    ]
    fixed = storable_rows(rows, ["t", "u"], ["at"])
    assert fixed == [
        {"t": "ab", "u": 7, "at": datetime(2025, 1, 1, tzinfo=UTC)},
        {"t": "ok", "u": "x", "at": EARLIEST},
    ]
    assert rows[0]["t"] == "a\x00b"  # the caller's rows are left alone
