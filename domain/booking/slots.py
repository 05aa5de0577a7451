"""Slots derived from weekly opening hours, in the community's time zone.

Nothing here touches the database: an offering's slots are a pure function of its
hours, duration, closed dates and zone. Opening hours are wall-clock times, so a slot
at 09:00 stays at 09:00 local across a DST change (its UTC instant moves). A start
that does not exist locally (the hour skipped when clocks go forward) is no slot; an
ambiguous one (clocks going back) is taken at its first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


@dataclass(frozen=True, slots=True)
class OpeningHours:
    day: int  # ISO weekday: Monday = 1 … Sunday = 7
    open: str  # "HH:MM"
    close: str  # "HH:MM" ("24:00" = midnight at the end of the day)


def _minutes(hhmm: str) -> int:
    if not _HHMM.match(hhmm):
        raise ValueError(hhmm)
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def validate_hours(hours: Iterable[OpeningHours]) -> list[OpeningHours]:
    """Checked and sorted; raises ValueError on a bad day, time or overlap."""
    out = sorted(hours, key=lambda h: (h.day, _minutes(h.open)))
    last: dict[int, int] = {}
    for h in out:
        if not 1 <= h.day <= 7:
            raise ValueError(f"day {h.day}")
        opens, closes = _minutes(h.open), _minutes(h.close)
        if opens >= closes or opens >= 24 * 60:
            raise ValueError(f"{h.open}-{h.close}")
        if opens < last.get(h.day, -1):
            raise ValueError("overlap")
        last[h.day] = closes
    return out


def _exists(naive: datetime, zone: ZoneInfo) -> bool:
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive


def generate(
    hours: Iterable[OpeningHours],
    *,
    duration_minutes: int,
    time_zone: str,
    closed: Iterable[date] = (),
    start: datetime,
    end: datetime,
) -> Iterator[tuple[datetime, datetime]]:
    """(start, end) in UTC of every slot starting in [start, end), in order."""
    zone = ZoneInfo(time_zone)
    closed_days = set(closed)
    by_day: dict[int, list[tuple[int, int]]] = {}
    for h in hours:
        by_day.setdefault(h.day, []).append((_minutes(h.open), _minutes(h.close)))
    for windows in by_day.values():
        windows.sort()
    duration = timedelta(minutes=duration_minutes)
    # A slot of an earlier local day starts before `start`'s local day: none qualifies.
    first_local = start.astimezone(zone).replace(tzinfo=None)
    day = first_local.date()
    last_day = end.astimezone(zone).date()
    one_day = timedelta(days=1)
    while day <= last_day:
        windows = [] if day in closed_days else by_day.get(day.isoweekday(), [])
        if windows:
            midnight = datetime.combine(day, time())
            # Most days have one UTC offset throughout: plain arithmetic then. A day
            # with a transition checks each start for existence.
            offset = midnight.replace(tzinfo=zone).utcoffset()
            steady = offset == (midnight + one_day).replace(tzinfo=zone).utcoffset()
            # Skip the grid points well before `start` on its own day (an hour of
            # margin covers a DST shift; exact filtering follows).
            skip_to = -1
            if day == first_local.date():
                skip_to = first_local.hour * 60 + first_local.minute - 60
            for opens, closes in windows:
                at = opens
                if skip_to > at:
                    at += (skip_to - at) // duration_minutes * duration_minutes
                while at + duration_minutes <= closes:
                    naive = midnight + timedelta(minutes=at)
                    at += duration_minutes
                    if steady and offset is not None:
                        slot_start = (naive - offset).replace(tzinfo=UTC)
                    elif not _exists(naive, zone):
                        continue
                    else:
                        slot_start = naive.replace(tzinfo=zone).astimezone(UTC)
                    if slot_start < start:
                        continue
                    if slot_start >= end:
                        return
                    # Absolute duration: a 60-minute service lasts 60 minutes even
                    # when the clocks change during it.
                    yield slot_start, slot_start + duration
        day += one_day


def parse_dates(values: Iterable[str]) -> set[date]:
    return {date.fromisoformat(v) for v in values}
