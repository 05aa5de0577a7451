"""Check-in windows in local time (pure functions; no database)."""

from __future__ import annotations

from datetime import UTC, datetime, time

from domain.care import schedule

W = [{"start": "22:00", "end": "01:00"}, {"start": "08:00", "end": "09:00"}]


def test_next_occurrence_crosses_midnight_in_local_time():
    # 23:30 in Shanghai (15:30 UTC): inside 22:00–01:00, judged at 01:10 local.
    occ = schedule.next_occurrence(
        W, 10, "Asia/Shanghai", after=datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
    )
    assert occ is not None
    assert occ.start == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert occ.due == datetime(2026, 11, 23, 17, 10, tzinfo=UTC)
    # Just after that judgement the next one is the morning window.
    nxt = schedule.next_occurrence(W, 10, "Asia/Shanghai", after=occ.due)
    assert nxt is not None and nxt.start == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


def test_current_occurrence_after_midnight_belongs_to_yesterday_window():
    at = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)  # 00:30 on the 24th in Shanghai
    occ = schedule.current_occurrence(W, 10, "Asia/Shanghai", at=at)
    assert occ is not None and occ.start == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert schedule.current_occurrence(W, 10, "Asia/Shanghai", at=at.replace(hour=20)) is None


def test_daylight_saving_day_keeps_local_wall_times():
    # New York springs forward on 2026-03-08: 08:00 local is 12:00 UTC that day (EDT),
    # 13:00 UTC the day before (EST).
    w = [{"start": "08:00", "end": "09:00"}]
    before = schedule.next_occurrence(
        w, 0, "America/New_York", after=datetime(2026, 3, 7, 5, 0, tzinfo=UTC)
    )
    after = schedule.next_occurrence(
        w, 0, "America/New_York", after=datetime(2026, 3, 8, 5, 0, tzinfo=UTC)
    )
    assert before is not None and before.start == datetime(2026, 3, 7, 13, 0, tzinfo=UTC)
    assert after is not None and after.start == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


def test_overlap_and_parsing():
    t = schedule.parse_hhmm
    assert t("24:00") is None and t("7:00") is None and t("07:00") == time(7, 0)
    assert schedule.windows_overlap([(time(22), time(1)), (time(0, 30), time(2))])
    assert schedule.windows_overlap([(time(8), time(10)), (time(9), time(11))])
    assert not schedule.windows_overlap([(time(22), time(1)), (time(1), time(2))])
    assert not schedule.windows_overlap([(time(8), time(9)), (time(20), time(21))])
