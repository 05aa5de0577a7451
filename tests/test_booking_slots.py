"""Slots derived from weekly hours: closed dates, a zone without DST (Asia/Shanghai)
and one with it (Europe/Berlin), through the generator and through the API."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from domain.accounts.models import Community
from domain.booking.slots import OpeningHours, generate, validate_hours

BERLIN, SHANGHAI = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Shanghai")
MORNINGS = [OpeningHours(d, "09:00", "11:00") for d in range(1, 8)]


def local(slots, zone):
    return [s.astimezone(zone).strftime("%a %m-%d %H:%M") for s, _ in slots]


def test_berlin_week_across_spring_forward_with_a_closed_day():
    slots = list(
        generate(
            MORNINGS,
            duration_minutes=60,
            time_zone="Europe/Berlin",
            closed=[date(2027, 3, 24)],
            start=datetime(2027, 3, 22, tzinfo=BERLIN),
            end=datetime(2027, 3, 29, tzinfo=BERLIN),
        )
    )
    days = ["Mon 03-22", "Tue 03-23", "Thu 03-25", "Fri 03-26", "Sat 03-27", "Sun 03-28"]
    assert local(slots, BERLIN) == [f"{d} {h}" for d in days for h in ("09:00", "10:00")]
    # Same wall-clock time, different instants: CET (+1) before, CEST (+2) from Sunday.
    assert slots[0][0] == datetime(2027, 3, 22, 8, 0, tzinfo=UTC)
    assert slots[-2][0] == datetime(2027, 3, 28, 7, 0, tzinfo=UTC)
    assert all((e - s).total_seconds() == 3600 for s, e in slots)


def test_berlin_skipped_and_repeated_hours():
    night = [OpeningHours(7, "01:00", "04:00")]
    spring = list(
        generate(
            night,
            duration_minutes=60,
            time_zone="Europe/Berlin",
            start=datetime(2027, 3, 27, 20, tzinfo=UTC),
            end=datetime(2027, 3, 29, tzinfo=UTC),
        )
    )
    # 02:00 does not exist that night: no slot there.
    assert local(spring, BERLIN) == ["Sun 03-28 01:00", "Sun 03-28 03:00"]
    assert [s for s, _ in spring] == [
        datetime(2027, 3, 28, 0, 0, tzinfo=UTC),
        datetime(2027, 3, 28, 1, 0, tzinfo=UTC),
    ]
    autumn = list(
        generate(
            night,
            duration_minutes=60,
            time_zone="Europe/Berlin",
            start=datetime(2026, 10, 24, 20, tzinfo=UTC),
            end=datetime(2026, 10, 26, tzinfo=UTC),
        )
    )
    # 02:00 happens twice: the slot is at its first occurrence (still CEST).
    assert [s for s, _ in autumn] == [
        datetime(2026, 10, 24, 23, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 2, 0, tzinfo=UTC),
    ]


def test_shanghai_week_with_a_closed_day_and_split_hours():
    hours = [OpeningHours(d, "11:00", "13:00") for d in range(1, 8)] + [
        OpeningHours(d, "17:00", "18:30") for d in range(1, 6)
    ]
    slots = list(
        generate(
            hours,
            duration_minutes=45,
            time_zone="Asia/Shanghai",
            closed=[date(2026, 11, 26)],
            start=datetime(2026, 11, 23, tzinfo=SHANGHAI),
            end=datetime(2026, 11, 30, tzinfo=SHANGHAI),
        )
    )
    texts = local(slots, SHANGHAI)
    assert texts[:5] == [
        "Mon 11-23 11:00",
        "Mon 11-23 11:45",
        "Mon 11-23 17:00",
        "Mon 11-23 17:45",
        "Tue 11-24 11:00",
    ]
    assert not any("11-26" in t for t in texts)
    assert len(texts) == 6 * 2 + 4 * 2  # 6 open days at noon, 4 open weekdays evenings
    assert slots[0][0] == datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def test_hours_validation():
    with pytest.raises(ValueError):
        validate_hours([OpeningHours(1, "09:00", "12:00"), OpeningHours(1, "11:59", "13:00")])
    with pytest.raises(ValueError):
        validate_hours([OpeningHours(0, "09:00", "12:00")])
    with pytest.raises(ValueError):
        validate_hours([OpeningHours(1, "24:00", "24:00")])
    ok = validate_hours([OpeningHours(2, "13:00", "24:00"), OpeningHours(2, "08:00", "12:00")])
    assert [h.open for h in ok] == ["08:00", "13:00"]


SLOTS = """query($o: ID!, $from: DateTime!, $to: DateTime!) {
  availableSlots(offeringId: $o, from: $from, to: $to) { start end remaining } }"""
CREATE = """mutation($i: CreateOfferingInput!) { createServiceOffering(input: $i) {
  offering { id } userErrors { code field } } }"""


async def test_available_slots_in_the_communitys_zone(api, clock):
    async def offering(closed):
        data = await api.gql(
            CREATE,
            {
                "i": {
                    "communityId": api.garden,
                    "title": "助浴 Bath",
                    "category": "BATH_ASSIST",
                    "priceMinor": 5000,
                    "durationMinutes": 60,
                    "capacityPerSlot": 1,
                    "weeklyHours": [
                        {"day": d, "open": "09:00", "close": "11:00"} for d in range(1, 8)
                    ],
                    "closedDates": [closed],
                }
            },
            as_="merchant1",
        )
        return data["createServiceOffering"]["offering"]["id"]

    # Asia/Shanghai (the demo community's zone), Monday 2026-11-23 10:00.
    oid = await offering("2026-11-26")
    got = await api.gql(
        SLOTS,
        {"o": oid, "from": "2026-11-23T00:00:00+08:00", "to": "2026-11-30T00:00:00+08:00"},
        as_="resident1",
    )
    starts = [datetime.fromisoformat(s["start"]) for s in got["availableSlots"]]
    texts = [s.astimezone(SHANGHAI).strftime("%m-%d %H:%M") for s in starts]
    # Monday 09:00 is past and 10:00 has started; Thursday is closed.
    days = ["11-24", "11-25", "11-27", "11-28", "11-29"]
    assert texts == [f"{d} {h}" for d in days for h in ("09:00", "10:00")]
    assert all(s["remaining"] == 1 for s in got["availableSlots"])

    # The same community in Europe/Berlin, the week clocks go forward.
    async with api.db.transaction() as s:
        await s.execute(
            update(Community)
            .where(Community.id == api.demo.garden_id)
            .values(time_zone="Europe/Berlin")
        )
    clock.set(datetime(2027, 3, 20, 12, 0, tzinfo=UTC))
    oid = await offering("2027-03-24")
    got = await api.gql(
        SLOTS,
        {"o": oid, "from": "2027-03-22T00:00:00+01:00", "to": "2027-03-29T00:00:00+02:00"},
        as_="resident1",
    )
    starts = [datetime.fromisoformat(s["start"]) for s in got["availableSlots"]]
    texts = [s.astimezone(BERLIN).strftime("%m-%d %H:%M") for s in starts]
    days = ["03-22", "03-23", "03-25", "03-26", "03-27", "03-28"]
    assert texts == [f"{d} {h}" for d in days for h in ("09:00", "10:00")]
    assert starts[0] == datetime(2027, 3, 22, 8, 0, tzinfo=UTC)
    assert starts[-1] == datetime(2027, 3, 28, 8, 0, tzinfo=UTC)

    # Bad windows are refused, not served.
    for variables in (
        {"o": oid, "from": "2027-03-22T00:00:00+01:00", "to": "2027-05-01T00:00:00+02:00"},
        {"o": oid, "from": "2027-03-22T00:00:00+01:00", "to": "2027-03-21T00:00:00+01:00"},
        {"o": oid, "from": "2027-03-22T00:00:00", "to": "2027-03-23T00:00:00"},
    ):
        errors = await api.errors(SLOTS, variables, as_="resident1")
        assert errors[0]["extensions"]["code"] == "INVALID", variables
