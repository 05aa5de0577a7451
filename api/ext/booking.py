"""Booking: the reminder sweep and the demo catalogue (merchant1's housekeeping and
care services, merchant2's repairs) with a few bookings in it."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from api.jobs import job
from api.seed import Demo, seed_step
from core.clock import utcnow
from domain.booking.jobs import sweep_booking_reminders
from domain.booking.models import Booking, Merchant, ServiceOffering, SlotCounter
from domain.booking.service import slots_of

if TYPE_CHECKING:
    from api.app import AppState


@job("booking_reminders", seconds=60)
async def booking_reminders(state: AppState) -> None:
    async with state.db.transaction() as session:
        await sweep_booking_reminders(session, now=utcnow())


def _hours(days: range, *windows: tuple[str, str]) -> list[dict[str, object]]:
    return [{"day": d, "open": o, "close": c} for d in days for o, c in windows]


WEEKDAYS, ALL_WEEK = range(1, 6), range(1, 8)

# (key, merchant login, title, category, price in fen, minutes, seats, weekly hours)
CATALOGUE = [
    (
        "housekeeping",
        "merchant1",
        "日常保洁 2 小时 Housekeeping (2 h)",
        "HOUSEKEEPING",
        8000,
        120,
        3,
        _hours(range(1, 7), ("08:00", "18:00")),
    ),
    (
        "meal",
        "merchant1",
        "助餐送餐 Meal assistance",
        "MEAL_ASSIST",
        1500,
        60,
        5,
        _hours(ALL_WEEK, ("11:00", "13:00"), ("17:00", "19:00")),
    ),
    (
        "bath",
        "merchant1",
        "助浴服务 Bathing assistance",
        "BATH_ASSIST",
        6000,
        90,
        1,
        _hours(WEEKDAYS, ("09:00", "16:30")),
    ),
    (
        "medicine",
        "merchant1",
        "送药上门 Medicine delivery",
        "MEDICINE_DELIVERY",
        500,
        30,
        4,
        _hours(ALL_WEEK, ("09:00", "20:00")),
    ),
    (
        "repair",
        "merchant2",
        "上门维修 Home repair",
        "REPAIR",
        5000,
        60,
        2,
        _hours(ALL_WEEK, ("09:00", "18:00")),
    ),
]
# New Year's Day: the demo merchants close.
CLOSED = ["2027-01-01"]


@seed_step
async def seed_booking(session: AsyncSession, demo: Demo) -> None:
    merchants: dict[str, Merchant] = {}
    for login in ("merchant1", "merchant2"):
        uid = demo.users[f"{login}@demo.linli"]
        name = "好帮手家政 Helping Hands" if login == "merchant1" else "快修师傅 QuickFix"
        merchants[login] = Merchant(user_id=uid, name=name, rating=4.8)
        session.add(merchants[login])
    await session.flush()
    offerings: dict[str, ServiceOffering] = {}
    for key, login, title, category, price, minutes, seats, hours in CATALOGUE:
        offering = ServiceOffering(
            merchant_id=merchants[login].id,  # type: ignore[arg-type]
            community_id=demo.garden_id,
            title=title,
            category=category,
            price_minor=price,
            duration_minutes=minutes,
            capacity_per_slot=seats,
            weekly_hours=hours,
            closed_dates=list(CLOSED),
        )
        session.add(offering)
        offerings[key] = offering
    await session.flush()
    demo.extra["offerings"] = {k: o.id for k, o in offerings.items()}  # type: ignore[misc]
    demo.extra["merchants"] = {k: m.id for k, m in merchants.items()}  # type: ignore[misc]

    # Bookings a few days out, so the merchant's list and the resident's are not empty.
    start = utcnow() + timedelta(days=3)
    demo_bookings = [
        ("resident1_housekeeping", "housekeeping", "resident1", "1-101", "CONFIRMED"),
        ("resident2_repair", "repair", "resident2", "1-102", "REQUESTED"),
    ]
    demo.extra["bookings"] = {}
    for name, key, login, label, status in demo_bookings:
        offering = offerings[key]
        slot = next(slots_of(offering, "Asia/Shanghai", start, start + timedelta(days=14)))
        booking = Booking(
            offering_id=offering.id,  # type: ignore[arg-type]
            merchant_id=offering.merchant_id,
            community_id=demo.garden_id,
            unit_id=demo.units[label],
            booked_by=demo.users[f"{login}@demo.linli"],
            slot_start=slot[0],
            slot_end=slot[1],
            status=status,
            price_minor=offering.price_minor,
            idempotency_key=f"demo-{name}",
        )
        session.add(booking)
        session.add(SlotCounter(offering_id=offering.id, slot_start=slot[0], taken=1))  # type: ignore[arg-type]
        await session.flush()
        demo.extra["bookings"][name] = booking.id  # type: ignore[assignment]
