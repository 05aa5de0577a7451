"""Booking reminders: one notification per booking, about an hour before its slot."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import encode_gid
from domain.accounts.models import Community
from domain.booking.models import Booking, Merchant, ServiceOffering
from domain.booking.service import OPEN_STATUSES, local_text
from domain.notifications.service import notify

REMIND_BEFORE = timedelta(hours=1)


async def sweep_booking_reminders(session: AsyncSession, *, now: datetime) -> int:
    """Remind the booker and the merchant of open bookings starting within the hour.

    Idempotent: a booking is claimed by setting `reminded_at` in the same transaction
    as its notifications, and rows another instance is working on are skipped
    (FOR UPDATE SKIP LOCKED on PostgreSQL). A slot already started gets no reminder.
    """
    rows = (
        await session.execute(
            select(Booking, ServiceOffering.title, Community.time_zone, Merchant.user_id)
            .join(ServiceOffering, ServiceOffering.id == Booking.offering_id)
            .join(Community, Community.id == Booking.community_id)
            .join(Merchant, Merchant.id == Booking.merchant_id)
            .where(
                Booking.status.in_(OPEN_STATUSES),  # type: ignore[attr-defined]
                Booking.reminded_at.is_(None),  # type: ignore[union-attr]
                Booking.slot_start > now,  # type: ignore[arg-type]
                Booking.slot_start <= now + REMIND_BEFORE,  # type: ignore[arg-type]
            )
            .order_by(Booking.slot_start)
            .limit(500)
            .with_for_update(of=Booking, skip_locked=True)  # type: ignore[arg-type]
        )
    ).all()
    for booking, title, tz, merchant_user in rows:
        booking.reminded_at = now
        session.add(booking)
        await notify(
            session,
            user_ids=[booking.booked_by, merchant_user],
            category="BOOKING_REMINDER",
            title_key="booking.notify.reminder.title",
            body_key="booking.notify.reminder.body",
            params={"service": title, "time": local_text(booking.slot_start, tz)},
            data={"bookingId": encode_gid("Booking", booking.id or 0)},
            community_id=booking.community_id,
        )
    await session.flush()
    return len(rows)
