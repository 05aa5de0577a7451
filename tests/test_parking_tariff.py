"""The parking tariff and plate rules, from tables (pure: no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core import i18n
from domain.parking.errors import InvalidPlate
from domain.parking.plates import normalize_plate
from domain.parking.tariff import Tariff, charge, fee, free_allowance, stay_minutes

# 30 free minutes, 5.00 an hour, 40.00 per 24 h, no forgiveness; grace 15 min.
T = Tariff(hourly_minor=500, free_minutes=30, daily_cap_minor=4000)
# The same with a remainder of up to 10 minutes forgiven.
TF = Tariff(hourly_minor=500, free_minutes=30, daily_cap_minor=4000, forgive_minutes=10)
# 20:00 Shanghai time on 23 Nov 2026 (12:00 UTC): stays cross local midnight.
EVENING = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return EVENING + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("case", "tariff", "minutes", "expected"),
    [
        ("inside free time", T, 29, 0),
        ("exactly the free time", T, 30, 0),
        ("one minute over free time: billed in full", T, 31, 500),
        ("exactly one hour", T, 60, 500),
        ("exactly three hours", T, 180, 1500),
        ("three hours and a minute rounds up", T, 181, 2000),
        ("remainder forgiven", TF, 190, 1500),
        ("remainder past forgiveness", TF, 191, 2000),
        ("daily cap across midnight (20:00 to 08:00)", T, 12 * 60, 4000),
        ("exactly 24 hours", T, 24 * 60, 4000),
        ("24 h plus 2 h", T, 26 * 60, 5000),
        ("two days", T, 48 * 60, 8000),
        ("two days and 10 hours (capped again)", T, 58 * 60, 12000),
    ],
)
def test_fee_table(case: str, tariff: Tariff, minutes: int, expected: int) -> None:
    assert fee(tariff, minutes) == expected, case


def test_cap_is_per_24h_from_entry_not_per_calendar_day() -> None:
    # 20:00 to 22:00 the next evening: one local midnight, 26 hours, one cap + 2 h.
    got = charge(T, entered_at=EVENING, now=at(26 * 60))
    assert (got.minutes, got.due_minor) == (26 * 60, 5000)


def test_minutes_are_started_minutes() -> None:
    assert stay_minutes(EVENING, at(30)) == 30
    assert stay_minutes(EVENING, EVENING + timedelta(minutes=30, seconds=1)) == 31
    assert stay_minutes(EVENING, EVENING - timedelta(minutes=1)) == 0


@pytest.mark.parametrize(
    ("case", "gap", "first_stay", "second_stay", "allowance", "expected"),
    [
        # Left after 20 free minutes; back after 30: 10 free minutes remain, 20 is over.
        ("re-entry after 30 min continues the free period", 30, 20, 20, 10, 500),
        ("re-entry after 30 min, within what remains", 30, 20, 10, 10, 0),
        # Back after 90 minutes: a fresh free period.
        ("re-entry after 90 min starts afresh", 90, 20, 20, 30, 0),
        ("re-entry after a paid stay has no free time", 30, 45, 5, 0, 500),
    ],
)
def test_reentry_table(
    case: str, gap: int, first_stay: int, second_stay: int, allowance: int, expected: int
) -> None:
    left = at(first_stay)
    back = left + timedelta(minutes=gap)
    got_allowance = free_allowance(
        T, entering_at=back, previous_exited_at=left, previous_minutes=first_stay
    )
    assert got_allowance == allowance, case
    got = charge(
        T, entered_at=back, now=back + timedelta(minutes=second_stay), free_allowance=allowance
    )
    assert got.due_minor == expected, case


def test_grace_after_payment_then_meter_resumes_from_paid_until() -> None:
    paid_at = at(120)  # two hours: 10.00 paid
    first = charge(T, entered_at=EVENING, now=paid_at)
    assert first.due_minor == 1000
    # Within the 15 minutes of grace: nothing due, the gate opens.
    inside = charge(T, entered_at=EVENING, now=at(134), paid_minor=1000, paid_until=paid_at)
    assert inside.due_minor == 0 and inside.within_grace
    assert inside.grace_until == paid_at + timedelta(minutes=15)
    # At the last second of grace still free.
    edge = charge(T, entered_at=EVENING, now=at(135), paid_minor=1000, paid_until=paid_at)
    assert edge.due_minor == 0
    # Grace expired: the meter runs from paid-until, the started third hour is due.
    late = charge(T, entered_at=EVENING, now=at(140), paid_minor=1000, paid_until=paid_at)
    assert (late.due_minor, late.total_minor, late.within_grace) == (500, 1500, False)
    # Paid at 1 h 35 min (two hours' worth), then 16 minutes past paid-until: the meter
    # restarted there, so a started hour is due although two hours were paid.
    early = at(95)
    assert charge(T, entered_at=EVENING, now=early).due_minor == 1000
    over = charge(T, entered_at=EVENING, now=at(111), paid_minor=1000, paid_until=early)
    assert (over.due_minor, over.total_minor) == (500, 1500)
    # The daily cap still holds for the stay: paid the cap at 12 h, leaving at 20 h
    # owes nothing more; leaving at 30 h owes at most the next 24 h's cap.
    capped = charge(T, entered_at=EVENING, now=at(20 * 60), paid_minor=4000, paid_until=at(720))
    assert capped.due_minor == 0
    day2 = charge(T, entered_at=EVENING, now=at(30 * 60), paid_minor=4000, paid_until=at(720))
    assert day2.due_minor == 4000
    # A custom grace period.
    long_grace = Tariff(hourly_minor=500, free_minutes=30, grace_minutes=30)
    assert charge(
        long_grace, entered_at=EVENING, now=at(145), paid_minor=1000, paid_until=paid_at
    ).within_grace


def test_no_cap_and_zero_rate() -> None:
    assert fee(Tariff(hourly_minor=300, free_minutes=0), 25 * 60) == 25 * 300
    assert fee(Tariff(hourly_minor=0, free_minutes=0), 500) == 0
    with pytest.raises(ValueError):
        Tariff(hourly_minor=100, forgive_minutes=60)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("京A7B2C9", "京A7B2C9"),
        ("京a·7b2c9", "京A7B2C9"),
        (" 沪 B 12345 ", "沪B12345"),
        ("京AD12345", "京AD12345"),  # new-energy small car, 8 characters
        ("粤BF1234 5", "粤BF12345"),
        ("京A12345D", "京A12345D"),  # new-energy large vehicle
        ("京Ａ７Ｂ２Ｃ９", "京A7B2C9"),  # full-width input
        ("苏E1234学", "苏E1234学"),
    ],
)
def test_plates_normalise(raw: str, expected: str) -> None:
    assert normalize_plate(raw) == expected


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("", "parking.plate.empty"),
        ("A7B2C9X", "parking.plate.province"),
        ("京A7B2C", "parking.plate.malformed"),  # too short
        ("京A7B2C9XY", "parking.plate.malformed"),  # too long
        ("京AI2345", "parking.plate.malformed"),  # I is never a serial letter
        ("京AD1234X", "parking.plate.malformed"),  # new-energy ends in digits
        ("京A1234D5", "parking.plate.malformed"),
        ("京" + "A" * 40, "parking.plate.malformed"),
    ],
)
def test_malformed_plates_say_why(raw: str, key: str) -> None:
    with pytest.raises(InvalidPlate) as err:
        normalize_plate(raw, field=["plate"])
    assert err.value.message_key == key
    assert err.value.field == ["plate"]
    assert err.value.code == "INVALID"
    for locale in ("zh-CN", "en"):
        assert i18n.translate(key, locale, **err.value.params) != key
