"""Check-in windows: local "HH:MM" times in the community's time zone → UTC instants.

A window whose end is not after its start crosses midnight (22:00–02:00 ends the next
day). A window occurrence is judged at its end plus the grace period ("due"): a
check-in at or after the window's start and before the judgement satisfies it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(value: str) -> time | None:
    m = _HHMM.match(value.strip())
    if m is None:
        return None
    return time(int(m.group(1)), int(m.group(2)))


@dataclass(frozen=True)
class Occurrence:
    start: datetime  # UTC
    end: datetime  # UTC
    due: datetime  # UTC: end + grace


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    # zoneinfo resolves a wall time skipped or repeated by a DST change to one instant;
    # good enough for a daily reminder window.
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def occurrences_on(
    day: date, windows: list[dict[str, str]], grace_minutes: int, tz: ZoneInfo
) -> list[Occurrence]:
    out = []
    for w in windows:
        start_t, end_t = parse_hhmm(w["start"]), parse_hhmm(w["end"])
        if start_t is None or end_t is None:
            continue
        end_day = day if end_t > start_t else day + timedelta(days=1)
        start = _local(day, start_t, tz)
        end = _local(end_day, end_t, tz)
        out.append(Occurrence(start, end, end + timedelta(minutes=grace_minutes)))
    return out


def next_occurrence(
    windows: list[dict[str, str]], grace_minutes: int, tz_name: str, *, after: datetime
) -> Occurrence | None:
    """The occurrence with the earliest judgement strictly after `after`."""
    if not windows:
        return None
    tz = ZoneInfo(tz_name)
    local_day = after.astimezone(tz).date()
    # Yesterday's midnight-crossing windows may still be open today.
    candidates = [
        occ
        for offset in (-1, 0, 1, 2)
        for occ in occurrences_on(local_day + timedelta(days=offset), windows, grace_minutes, tz)
        if occ.due > after
    ]
    return min(candidates, key=lambda o: o.due) if candidates else None


def current_occurrence(
    windows: list[dict[str, str]], grace_minutes: int, tz_name: str, *, at: datetime
) -> Occurrence | None:
    """The occurrence `at` falls in (between its start and its judgement), if any."""
    if not windows:
        return None
    tz = ZoneInfo(tz_name)
    local_day = at.astimezone(tz).date()
    inside = [
        occ
        for offset in (-1, 0)
        for occ in occurrences_on(local_day + timedelta(days=offset), windows, grace_minutes, tz)
        if occ.start <= at < occ.due
    ]
    return min(inside, key=lambda o: o.due) if inside else None


def windows_overlap(windows: list[tuple[time, time]]) -> bool:
    """True if two windows share a minute (on the 24 h circle)."""

    def minutes(w: tuple[time, time]) -> tuple[int, int]:
        s = w[0].hour * 60 + w[0].minute
        e = w[1].hour * 60 + w[1].minute
        return s, e if e > s else e + 24 * 60

    spans = sorted(minutes(w) for w in windows)
    for earlier, later in pairwise(spans):
        if later[0] < earlier[1]:
            return True
    # The last one may wrap past midnight into the first one.
    if len(spans) > 1:
        wrapped_end = spans[-1][1] - 24 * 60
        if wrapped_end > spans[0][0]:
            return True
    return False
