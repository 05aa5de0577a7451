"""Capacity and idempotency under real concurrency, against the live server.

On PostgreSQL the requests really run in parallel (a pool of connections), so these
tests prove that the database, not a read-then-write in Python, keeps the promises.
SQLite serialises writers and must give the same answers.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import func, select

from domain.booking.models import Booking, SlotCounter
from tests.test_booking import BOOK, CLEANING, api_pk, create_offering


async def _book(api, offering, key, **extra):
    data = await api.gql(
        BOOK,
        {
            "i": {
                "offeringId": offering,
                "unitId": api.unit_gid("1-101"),
                "idempotencyKey": key,
                **extra,
            }
        },
        as_="resident1",
    )
    return data["bookService"]


async def test_fifty_concurrent_bookings_for_three_seats(api, clock):
    oid = (await create_offering(api, capacityPerSlot=3))["id"]
    slot = "2026-11-25T09:00:00+08:00"
    results = await asyncio.gather(*(_book(api, oid, f"c{i}", slotStart=slot) for i in range(50)))
    booked = [r["booking"] for r in results if r["booking"]]
    codes = Counter(e["code"] for r in results for e in r["userErrors"])
    assert len(booked) == 3 and codes == {"SLOT_FULL": 47}
    async with api.db.reader() as s:
        rows = await s.scalar(
            select(func.count(Booking.id)).where(Booking.offering_id == api_pk(oid))
        )
        taken = await s.scalar(
            select(SlotCounter.taken).where(SlotCounter.offering_id == api_pk(oid))
        )
    assert rows == 3 and taken == 3


async def test_twenty_retries_of_one_key_make_one_booking(api, clock):
    oid = (await create_offering(api))["id"]
    results = await asyncio.gather(*(_book(api, oid, "same-key") for _ in range(20)))
    assert all(r["userErrors"] == [] for r in results), results
    assert len({r["booking"]["id"] for r in results}) == 1
    async with api.db.reader() as s:
        rows = await s.scalar(
            select(func.count(Booking.id)).where(Booking.offering_id == api_pk(oid))
        )
        taken = await s.scalar(
            select(func.sum(SlotCounter.taken)).where(SlotCounter.offering_id == api_pk(oid))
        )
    assert rows == 1 and taken == 1


async def test_concurrent_one_taps_fill_slots_in_order_never_beyond_capacity(api, clock):
    # Monday 11:00 and the Wednesday slots: 2 seats each; 9 one-taps take the first 9
    # seats in time order, whatever order they arrive in.
    oid = (await create_offering(api, **{**CLEANING, "capacityPerSlot": 2}))["id"]
    results = await asyncio.gather(*(_book(api, oid, f"tap{i}") for i in range(9)))
    assert all(r["userErrors"] == [] for r in results), results
    per_slot = Counter(r["booking"]["slot"]["start"] for r in results)
    assert per_slot == {
        "2026-11-23T03:00:00+00:00": 2,
        "2026-11-25T01:00:00+00:00": 2,
        "2026-11-25T02:00:00+00:00": 2,
        "2026-11-25T03:00:00+00:00": 2,
        "2026-11-26T01:00:00+00:00": 1,
    }


async def test_concurrent_reminder_sweeps_remind_once(api, clock):
    from datetime import UTC, datetime

    from domain.booking.jobs import sweep_booking_reminders
    from domain.notifications.models import Notification

    oid = (await create_offering(api, capacityPerSlot=3))["id"]
    made = [
        (await _book(api, oid, f"r{i}", slotStart="2026-11-25T11:00:00+08:00"))["booking"]["id"]
        for i in range(3)
    ]

    async def sweep() -> int:
        async with api.db.transaction() as s:
            return await sweep_booking_reminders(s, now=datetime(2026, 11, 25, 2, 30, tzinfo=UTC))

    # Several instances sweeping at once: rows are claimed, never reminded twice.
    counts = await asyncio.gather(*(sweep() for _ in range(4)))
    assert sum(counts) == 3
    async with api.db.reader() as s:
        rows = list(
            await s.scalars(
                select(Notification.data).where(
                    Notification.body_key == "booking.notify.reminder.body",
                    Notification.user_id == api.demo.users["resident1@demo.linli"],
                )
            )
        )
    assert sorted(d["bookingId"] for d in rows if d["bookingId"] in made) == sorted(made)
