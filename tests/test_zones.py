"""newsletter.zones: accepted names, and local wall-clock times as UTC across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from newsletter.errors import InvalidInput
from newsletter.zones import clean_zone, moments_by_zone, next_local_time, parse_local_time

SEVEN = time(7, 0)


def test_known_names_pass_and_unknown_ones_name_the_field() -> None:
    assert clean_zone(" Asia/Kathmandu ") == "Asia/Kathmandu"
    assert clean_zone("") is None and clean_zone(None) is None
    for bad in ("Mars/Olympus_Mons", "../etc/passwd", "x" * 200, "europe/berlin"):
        with pytest.raises(InvalidInput) as caught:
            clean_zone(bad, "tz")
        assert caught.value.field == "tz" and "unknown time zone" in caught.value.reason


def test_local_times_are_hh_mm() -> None:
    assert parse_local_time("07:00") == SEVEN and parse_local_time("7:05") == time(7, 5)
    for bad in ("24:00", "07:60", "7", "07:00:00", "seven"):
        with pytest.raises(InvalidInput):
            parse_local_time(bad)


def test_the_next_occurrence_is_today_or_tomorrow() -> None:
    now = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
    assert next_local_time("UTC", SEVEN, now) == datetime(2026, 6, 1, 7, 0, tzinfo=UTC)
    assert next_local_time("Europe/Berlin", SEVEN, now) == datetime(2026, 6, 2, 5, 0, tzinfo=UTC)
    exactly = datetime(2026, 6, 1, 7, 0, tzinfo=UTC)
    assert next_local_time("UTC", SEVEN, exactly) == exactly
    assert next_local_time("Asia/Kathmandu", SEVEN, now) == datetime(2026, 6, 2, 1, 15, tzinfo=UTC)


def test_daylight_saving_in_new_york() -> None:
    before = datetime(2026, 3, 7, 13, 0, tzinfo=UTC)  # Saturday, still EST
    assert next_local_time("America/New_York", SEVEN, before) == datetime(
        2026,
        3,
        8,
        11,
        0,
        tzinfo=UTC,  # Sunday 07:00 EDT
    )
    # 02:30 does not exist on 8 March (02:00 → 03:00): it moves forward to 03:30 EDT
    gap = next_local_time("America/New_York", time(2, 30), before)
    assert gap == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    # 01:30 happens twice on 1 November: the first, EDT (-04:00)
    fall = next_local_time("America/New_York", time(1, 30), datetime(2026, 11, 1, tzinfo=UTC))
    assert fall == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_unknown_zones_fall_back_to_the_default() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    by_zone, default = moments_by_zone(["Asia/Tokyo", None, "Nowhere/Else"], SEVEN, now, "UTC")
    assert set(by_zone) == {"Asia/Tokyo"}
    assert default == datetime(2026, 6, 1, 7, 0, tzinfo=UTC)
