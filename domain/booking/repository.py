"""Every booking query. Which bookings a principal may see is decided here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, false, func, or_, select, union, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal
from domain.accounts.models import Community, Ownership, Tenancy
from domain.accounts.repository import occupied_unit_ids
from domain.booking.models import Booking, Merchant, ServiceOffering, SlotCounter
from domain.care.models import CaregiverLink
from domain.care.repository import active_link_filter


# ---------------------------------------------------------------- merchants
async def merchant_of_user(session: AsyncSession, user_id: int) -> Merchant | None:
    return await session.scalar(select(Merchant).where(Merchant.user_id == user_id))


async def merchants_by_ids(session: AsyncSession, ids: Iterable[int]) -> dict[int, Merchant]:
    ids = list(set(ids))
    if not ids:
        return {}
    rows = await session.scalars(select(Merchant).where(Merchant.id.in_(ids)))  # type: ignore[union-attr]
    return {m.id: m for m in rows if m.id is not None}


async def visible_merchants(
    session: AsyncSession, principal: Principal, ids: Iterable[int]
) -> dict[int, Merchant]:
    """Merchants serving one of the principal's communities, and the principal's own."""
    ids = list(set(ids))
    if not ids or principal.user_id is None:
        return {}
    serves = (
        select(ServiceOffering.id)
        .where(
            ServiceOffering.merchant_id == Merchant.id,
            ServiceOffering.community_id.in_(principal.community_ids),  # type: ignore[attr-defined]
        )
        .exists()
    )
    rows = await session.scalars(
        select(Merchant).where(
            Merchant.id.in_(ids),  # type: ignore[union-attr]
            or_(Merchant.user_id == principal.user_id, serves),
        )
    )
    return {m.id: m for m in rows if m.id is not None}


def _merchant_ids_of(user_id: int):
    return select(Merchant.id).where(Merchant.user_id == user_id).scalar_subquery()


# ---------------------------------------------------------------- offerings
OfferingRow = tuple[ServiceOffering, str]  # the offering and its community's time zone


def _with_zone():
    return select(ServiceOffering, Community.time_zone).join(
        Community, Community.id == ServiceOffering.community_id
    )


async def offerings_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[int], *, any_community: bool = False
) -> dict[int, OfferingRow]:
    """Offerings of the principal's communities (or any, when the caller has already
    established the right to see it, e.g. through a visible booking)."""
    ids = list(set(ids))
    if not ids or principal.is_anonymous:
        return {}
    stmt = _with_zone().where(ServiceOffering.id.in_(ids))  # type: ignore[union-attr]
    if not any_community:
        stmt = stmt.where(
            ServiceOffering.community_id.in_(principal.community_ids)  # type: ignore[attr-defined]
        )
    rows = await session.execute(stmt)
    return {o.id: (o, tz) for o, tz in rows.all() if o.id is not None}


async def offering_with_zone(session: AsyncSession, offering_id: int) -> OfferingRow | None:
    row = (await session.execute(_with_zone().where(ServiceOffering.id == offering_id))).first()
    return (row[0], row[1]) if row else None


async def list_offerings(
    session: AsyncSession,
    principal: Principal,
    community_id: int,
    *,
    category: str | None,
    limit: int,
    offset: int,
) -> tuple[list[OfferingRow], int]:
    if not principal.in_community(community_id):
        return [], 0
    where = [ServiceOffering.community_id == community_id, ServiceOffering.active.is_(True)]  # type: ignore[attr-defined]
    if category is not None:
        where.append(ServiceOffering.category == category)
    total = await session.scalar(select(func.count(ServiceOffering.id)).where(*where))  # type: ignore[arg-type]
    if not total or limit == 0:
        return [], int(total or 0)
    rows = await session.execute(
        _with_zone().where(*where).order_by(ServiceOffering.id).limit(limit).offset(offset)
    )
    return [(o, tz) for o, tz in rows.all()], int(total)


# ---------------------------------------------------------------- seats
async def counters(
    session: AsyncSession, offering_ids: Sequence[int], start: datetime, end: datetime
) -> dict[tuple[int, datetime], int]:
    """Seats taken per (offering, slot start) for booked slots in [start, end)."""
    if not offering_ids:
        return {}
    rows = await session.execute(
        select(SlotCounter.offering_id, SlotCounter.slot_start, SlotCounter.taken).where(
            SlotCounter.offering_id.in_(offering_ids),  # type: ignore[attr-defined]
            SlotCounter.slot_start >= start,  # type: ignore[arg-type]
            SlotCounter.slot_start < end,  # type: ignore[arg-type]
            SlotCounter.taken > 0,  # type: ignore[arg-type]
        )
    )
    return {(o, s): t for o, s, t in rows.all()}


async def counters_for(
    session: AsyncSession, keys: Sequence[tuple[int, datetime]]
) -> dict[tuple[int, datetime], int]:
    if not keys:
        return {}
    offering_ids = sorted({k[0] for k in keys})
    starts = sorted({k[1] for k in keys})
    rows = await session.execute(
        select(SlotCounter.offering_id, SlotCounter.slot_start, SlotCounter.taken).where(
            SlotCounter.offering_id.in_(offering_ids),  # type: ignore[attr-defined]
            SlotCounter.slot_start.in_(starts),  # type: ignore[attr-defined]
        )
    )
    return {(o, s): t for o, s, t in rows.all()}


async def take_seat(
    session: AsyncSession, offering_id: int, slot_start: datetime, capacity: int
) -> int | None:
    """Take one seat if one is left, atomically, in one statement; the seats now taken
    (None when the slot is full).

    INSERT … ON CONFLICT DO UPDATE … WHERE taken < capacity: the first booking of a slot
    creates its counter; later ones increment it only while there is room. On
    PostgreSQL concurrent callers queue on the counter's row lock and each re-checks
    the condition against the committed count, so capacity holds under any
    concurrency; SQLite serialises writers anyway.
    """
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = SlotCounter.__table__  # type: ignore[attr-defined]
    stmt = (
        insert(table)
        .values(offering_id=offering_id, slot_start=slot_start, taken=1)
        .on_conflict_do_update(
            index_elements=[table.c.offering_id, table.c.slot_start],
            set_={"taken": table.c.taken + 1},
            where=table.c.taken < capacity,
        )
        .returning(table.c.taken)
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else int(row[0])


async def release_seat(session: AsyncSession, offering_id: int, slot_start: datetime) -> None:
    await session.execute(
        update(SlotCounter)
        .where(
            SlotCounter.offering_id == offering_id,  # type: ignore[arg-type]
            SlotCounter.slot_start == slot_start,  # type: ignore[arg-type]
            SlotCounter.taken > 0,  # type: ignore[arg-type]
        )
        .values(taken=SlotCounter.taken - 1)
        .execution_options(synchronize_session=False)
    )


# ---------------------------------------------------------------- bookings
def _resident_side(user_id: int) -> ColumnElement[bool]:
    """Bookings a person sees as a household member, booker or caregiver."""
    cared = select(CaregiverLink.elder_id).where(
        CaregiverLink.caregiver_user_id == user_id, *active_link_filter()
    )
    return or_(
        Booking.booked_by == user_id,
        Booking.unit_id.in_(occupied_unit_ids(user_id)),  # type: ignore[attr-defined]
        Booking.for_elder_id.in_(cared),  # type: ignore[union-attr]
    )


def readable(principal: Principal) -> ColumnElement[bool]:
    """Every booking the principal may see: resident side, or their merchant's."""
    if principal.user_id is None:
        return false()
    return or_(
        _resident_side(principal.user_id),
        Booking.merchant_id == _merchant_ids_of(principal.user_id),
    )


async def bookings_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[int]
) -> dict[int, Booking]:
    ids = list(set(ids))
    if not ids or principal.is_anonymous:
        return {}
    rows = await session.scalars(
        select(Booking).where(Booking.id.in_(ids), readable(principal))  # type: ignore[union-attr]
    )
    return {b.id: b for b in rows if b.id is not None}


async def booking_for_update(
    session: AsyncSession, principal: Principal, booking_id: int, *, resident_side: bool = False
) -> Booking | None:
    """A visible booking (only as household/booker/caregiver with `resident_side`),
    row-locked for a status change (PostgreSQL; SQLite serialises writers)."""
    if principal.user_id is None:
        return None
    visible = _resident_side(principal.user_id) if resident_side else readable(principal)
    return await session.scalar(
        select(Booking).where(Booking.id == booking_id, visible).with_for_update(of=Booking)  # type: ignore[arg-type]
    )


async def claim_key(session: AsyncSession, values: dict[str, object]) -> Booking | None:
    """Insert the booking unless (booker, key) exists: None when it does.

    INSERT … ON CONFLICT DO NOTHING: on PostgreSQL a concurrent insert of the same key
    makes this wait until that transaction ends, then either conflict (it committed:
    the caller returns its booking) or insert (it rolled back, e.g. the slot was full).
    """
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(Booking)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["booked_by", "idempotency_key"])
        .returning(Booking)
    )
    return (await session.scalars(stmt)).first()


async def booking_by_key(session: AsyncSession, user_id: int, key: str) -> Booking | None:
    return await session.scalar(
        select(Booking).where(Booking.booked_by == user_id, Booking.idempotency_key == key)
    )


async def _page(
    session: AsyncSession, where: list[ColumnElement[bool]], *, limit: int, offset: int, order
) -> tuple[list[Booking], int]:
    total = await session.scalar(select(func.count(Booking.id)).where(*where))  # type: ignore[arg-type]
    if not total or limit == 0:
        return [], int(total or 0)
    rows = await session.scalars(
        select(Booking).where(*where).order_by(*order).limit(limit).offset(offset)
    )
    return list(rows), int(total)


async def my_bookings(
    session: AsyncSession, principal: Principal, *, status: str | None, limit: int, offset: int
) -> tuple[list[Booking], int]:
    if principal.user_id is None:
        return [], 0
    where = [_resident_side(principal.user_id)]
    if status is not None:
        where.append(Booking.status == status)  # type: ignore[arg-type]
    order = (Booking.slot_start.desc(), Booking.id.desc())  # type: ignore[attr-defined,union-attr]
    return await _page(session, where, limit=limit, offset=offset, order=order)


async def merchant_bookings(
    session: AsyncSession, principal: Principal, *, status: str | None, limit: int, offset: int
) -> tuple[list[Booking], int]:
    if principal.user_id is None:
        return [], 0
    where: list[ColumnElement[bool]] = [
        Booking.merchant_id == _merchant_ids_of(principal.user_id)  # type: ignore[arg-type]
    ]
    if status is not None:
        where.append(Booking.status == status)  # type: ignore[arg-type]
    # The merchant's work list: soonest first.
    order = (Booking.slot_start, Booking.id)
    return await _page(session, where, limit=limit, offset=offset, order=order)


async def interested_users(session: AsyncSession, booking: Booking) -> set[int]:
    """Everyone who sees this booking: booker, the unit's household, the elder's
    caregivers and the merchant (for `bookingUpdates`), in one statement."""
    parts = [
        select(Ownership.user_id).where(Ownership.unit_id == booking.unit_id),
        select(Tenancy.user_id).where(Tenancy.unit_id == booking.unit_id),
        select(Merchant.user_id).where(Merchant.id == booking.merchant_id),
    ]
    if booking.for_elder_id is not None:
        parts.append(
            select(CaregiverLink.caregiver_user_id).where(
                CaregiverLink.elder_id == booking.for_elder_id, *active_link_filter()
            )
        )
    rows = await session.scalars(union(*parts))
    return {booking.booked_by, *rows}
