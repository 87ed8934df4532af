"""Readers' time zones: which IANA names we accept, and when a local wall-clock time falls.

A campaign sent "at 07:00 local time" gives each reader's delivery a not-before moment: the
next 07:00 on their own clock, as UTC. Daylight saving is zoneinfo's: a local time that does
not exist that day (the clocks spring forward over it) moves forward by the gap, an ambiguous
one (the clocks fall back) is the first of the two (PEP 495's ``fold=0`` gives both).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from newsletter.errors import InvalidInput

MAX_ZONE_LENGTH = 64  # the subscribers.time_zone column
_HH_MM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    """Every IANA name this machine's zoneinfo (or the ``tzdata`` package) knows."""
    return frozenset(available_timezones())


def is_known_zone(name: str) -> bool:
    return name in known_zones()


def clean_zone(value: str | None, field: str = "time_zone") -> str | None:
    """A submitted zone name, stripped; ``None`` for empty (the default zone applies).

    Raises :class:`~newsletter.errors.InvalidInput` naming ``field`` for an unknown name."""
    if value is None or not value.strip():
        return None
    name = value.strip()
    if len(name) > MAX_ZONE_LENGTH or not is_known_zone(name):
        shown = name[:MAX_ZONE_LENGTH]
        raise InvalidInput(
            field, f"unknown time zone {shown!r} (use an IANA name, e.g. Europe/Berlin)"
        )
    return name


def parse_local_time(value: str, field: str = "local_time") -> time:
    """``HH:MM`` (24-hour clock) as a :class:`datetime.time`; anything else is an error."""
    match = _HH_MM.fullmatch(value.strip())
    if match is None:
        raise InvalidInput(
            field, f"{value.strip()[:20]!r} is not a time of day: write HH:MM, e.g. 07:00"
        )
    return time(int(match.group(1)), int(match.group(2)))


def next_local_time(zone: str, at: time, now: datetime) -> datetime:
    """The first moment at or after ``now`` when clocks in ``zone`` show ``at``, in UTC."""
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    for days in (0, 1, 2):  # 2: a day without that hour (a zone that skipped a date)
        local = datetime.combine(today + timedelta(days=days), at, tzinfo=tz)  # fold=0
        moment = local.astimezone(UTC)
        if moment >= now:
            return moment
    raise AssertionError(f"no {at} in {zone} within two days of {now}")  # pragma: no cover


def moments_by_zone(
    zones: Iterable[str | None], at: time, now: datetime, default_zone: str
) -> tuple[dict[str, datetime], datetime]:
    """Each known zone's next ``at`` after ``now``, and the default zone's (for readers with
    no zone, or one this machine no longer knows)."""
    default = next_local_time(default_zone, at, now)
    return {z: next_local_time(z, at, now) for z in set(zones) if z and is_known_zone(z)}, default
