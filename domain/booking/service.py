"""Booking rules: offerings, derived slots, one-tap booking, the status machine."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.db import emit
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.ids import encode_gid
from core.principal import Principal, Role
from domain.accounts.models import Community, Unit, User
from domain.accounts.repository import occupies
from domain.audit import service as audit
from domain.booking import repository as repo
from domain.booking import slots as slotgen
from domain.booking.errors import BookingNotFound, IllegalTransition, OfferingNotFound, SlotFull
from domain.booking.models import Booking, Merchant, ServiceOffering
from domain.care.models import Elder
from domain.care.repository import is_caregiver_of
from domain.notifications.service import notify

CATEGORIES = frozenset(
    {
        "HOUSEKEEPING",
        "REPAIR",
        "BEAUTY_HAIR",
        "MEAL_ASSIST",
        "BATH_ASSIST",
        "CLEANING",
        "MEDICINE_DELIVERY",
        "PARCEL",
        "ERRAND",
        "OTHER",
    }
)
REQUESTED, CONFIRMED, IN_PROGRESS = "REQUESTED", "CONFIRMED", "IN_PROGRESS"
COMPLETED, CANCELLED, NO_SHOW = "COMPLETED", "CANCELLED", "NO_SHOW"
# What a merchant may do with a booking in each status.
MERCHANT_MOVES: dict[str, frozenset[str]] = {
    REQUESTED: frozenset({CONFIRMED, CANCELLED, NO_SHOW}),
    CONFIRMED: frozenset({IN_PROGRESS, CANCELLED, NO_SHOW}),
    IN_PROGRESS: frozenset({COMPLETED}),
}
OPEN_STATUSES = (REQUESTED, CONFIRMED)
# How far ahead slots are offered and searched for the one tap.
HORIZON = timedelta(days=60)
MAX_WINDOW = timedelta(days=31)
# Under heavy contention the one tap tries this many slots before giving up.
MAX_ATTEMPTS = 50


@dataclass(frozen=True, slots=True)
class SlotSpec:
    """What slot generation needs of an offering: a cheap, session-free snapshot."""

    id: int
    active: bool
    capacity_per_slot: int
    duration_minutes: int
    weekly_hours: list[dict[str, object]]
    closed_dates: list[str]

    @classmethod
    def of(cls, row: ServiceOffering) -> SlotSpec:
        assert row.id is not None
        return cls(
            row.id,
            row.active,
            row.capacity_per_slot,
            row.duration_minutes,
            row.weekly_hours,
            row.closed_dates,
        )


@dataclass(frozen=True, slots=True)
class SlotView:
    start: datetime
    end: datetime
    remaining: int


def _check_range(value: int, low: int, high: int, field: str) -> None:
    if not low <= value <= high:
        raise Invalid("booking.bad_range", field=["input", field], min=low, max=high)


def _hours(raw: Iterable[dict[str, object]]) -> list[slotgen.OpeningHours]:
    return [
        slotgen.OpeningHours(int(h["day"]), str(h["open"]), str(h["close"]))  # type: ignore[call-overload]
        for h in raw
    ]


def slots_of(
    offering: ServiceOffering | SlotSpec, time_zone: str, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    return slotgen.generate(
        _hours(offering.weekly_hours),
        duration_minutes=offering.duration_minutes,
        time_zone=time_zone,
        closed=slotgen.parse_dates(offering.closed_dates),
        start=start,
        end=end,
    )


def local_text(at: datetime, time_zone: str) -> str:
    return at.astimezone(ZoneInfo(time_zone)).strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------- offerings
async def _merchant_for(session: AsyncSession, principal: Principal) -> Merchant:
    """The caller's merchant record, created on first use."""
    assert principal.user_id is not None
    merchant = await repo.merchant_of_user(session, principal.user_id)
    if merchant is None:
        user = await session.get(User, principal.user_id)
        assert user is not None
        merchant = Merchant(user_id=principal.user_id, name=user.display_name)
        session.add(merchant)
        await session.flush()
    return merchant


def _validated_offering_fields(
    *,
    title: str | None = None,
    category: str | None = None,
    price_minor: int | None = None,
    duration_minutes: int | None = None,
    capacity_per_slot: int | None = None,
    weekly_hours: list[slotgen.OpeningHours] | None = None,
    closed_dates: list[date] | None = None,
    cancel_cutoff_minutes: int | None = None,
) -> dict[str, object]:
    out: dict[str, object] = {}
    if title is not None:
        title = title.strip()
        if not 1 <= len(title) <= 100:
            raise Invalid("booking.bad_title", field=["input", "title"])
        out["title"] = title
    if category is not None:
        if category not in CATEGORIES:
            raise Invalid(field=["input", "category"])
        out["category"] = category
    if price_minor is not None:
        _check_range(price_minor, 0, 100_000_000, "priceMinor")
        out["price_minor"] = price_minor
    if duration_minutes is not None:
        _check_range(duration_minutes, 5, 720, "durationMinutes")
        out["duration_minutes"] = duration_minutes
    if capacity_per_slot is not None:
        _check_range(capacity_per_slot, 1, 1000, "capacityPerSlot")
        out["capacity_per_slot"] = capacity_per_slot
    if weekly_hours is not None:
        try:
            hours = slotgen.validate_hours(weekly_hours)
        except ValueError:
            raise Invalid("booking.bad_hours", field=["input", "weeklyHours"]) from None
        if len(hours) > 50:
            raise Invalid("booking.bad_hours", field=["input", "weeklyHours"])
        out["weekly_hours"] = [{"day": h.day, "open": h.open, "close": h.close} for h in hours]
    if closed_dates is not None:
        if len(closed_dates) > 366:
            raise Invalid("booking.bad_range", field=["input", "closedDates"], min=0, max=366)
        out["closed_dates"] = sorted({d.isoformat() for d in closed_dates})
    if cancel_cutoff_minutes is not None:
        _check_range(cancel_cutoff_minutes, 0, 7 * 24 * 60, "cancelCutoffMinutes")
        out["cancel_cutoff_minutes"] = cancel_cutoff_minutes
    return out


async def create_offering(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int,
    title: str,
    category: str,
    price_minor: int,
    duration_minutes: int,
    capacity_per_slot: int,
    weekly_hours: list[slotgen.OpeningHours],
    closed_dates: list[date] | None = None,
    cancel_cutoff_minutes: int | None = None,
) -> ServiceOffering:
    if not principal.has_role(community_id, Role.MERCHANT):
        raise Forbidden("booking.not_merchant", field=["input", "communityId"])
    fields = _validated_offering_fields(
        title=title,
        category=category,
        price_minor=price_minor,
        duration_minutes=duration_minutes,
        capacity_per_slot=capacity_per_slot,
        weekly_hours=weekly_hours,
        closed_dates=closed_dates or [],
        cancel_cutoff_minutes=120 if cancel_cutoff_minutes is None else cancel_cutoff_minutes,
    )
    community = await session.get(Community, community_id)
    if community is None:
        raise NotFound(field=["input", "communityId"])
    merchant = await _merchant_for(session, principal)
    offering = ServiceOffering(
        merchant_id=merchant.id,  # type: ignore[arg-type]
        community_id=community_id,
        currency=community.currency,
        **fields,  # type: ignore[arg-type]
    )
    session.add(offering)
    await session.flush()
    audit.record(
        session,
        principal,
        "booking.offering_created",
        community_id=community_id,
        target=f"ServiceOffering:{offering.id}",
    )
    return offering


async def update_offering(
    session: AsyncSession,
    principal: Principal,
    *,
    offering_id: int,
    active: bool | None = None,
    **changes: object,
) -> ServiceOffering:
    """The merchant changes its own offering; bookings already made keep their slot and
    price (a slot closed afterwards is the merchant's to cancel)."""
    assert principal.user_id is not None
    found = await repo.offering_with_zone(session, offering_id)
    merchant = await repo.merchant_of_user(session, principal.user_id)
    if found is None or merchant is None or found[0].merchant_id != merchant.id:
        raise OfferingNotFound(field=["input", "offeringId"])
    offering = found[0]
    if not principal.has_role(offering.community_id, Role.MERCHANT):
        raise OfferingNotFound(field=["input", "offeringId"])
    fields = _validated_offering_fields(**{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]
    for name, value in fields.items():
        setattr(offering, name, value)
    if active is not None:
        offering.active = active
    session.add(offering)
    await session.flush()
    return offering


# ---------------------------------------------------------------- slots
async def available_slots(
    session: AsyncSession, principal: Principal, *, offering_id: int, start: datetime, end: datetime
) -> list[SlotView]:
    """Slots with room in [start, end) (at most 31 days), never in the past."""
    if end <= start or end - start > MAX_WINDOW:
        raise Invalid("booking.bad_window", field=["to"], days=MAX_WINDOW.days)
    found = (await repo.offerings_by_ids(session, principal, [offering_id])).get(offering_id)
    if found is None or not found[0].active:
        raise OfferingNotFound(field=["offeringId"])
    offering, tz = found
    now = utcnow()
    start = max(start, now + timedelta(microseconds=1))
    end = min(end, now + HORIZON)
    if end <= start:
        return []
    taken = await repo.counters(session, [offering_id], start, end)
    cap = offering.capacity_per_slot
    out = []
    for s, e in slots_of(offering, tz, start, end):
        left = cap - taken.get((offering_id, s), 0)
        if left > 0:
            out.append(SlotView(s, e, left))
    return out


async def next_available(
    session: AsyncSession, offerings: list[tuple[ServiceOffering | SlotSpec, str]]
) -> dict[int, SlotView | None]:
    """The earliest slot with room of each offering: one query for all of them."""
    now = utcnow()
    start, end = now + timedelta(microseconds=1), now + HORIZON
    ids = [o.id for o, _ in offerings if o.id is not None]
    taken = await repo.counters(session, ids, start, end)
    out: dict[int, SlotView | None] = {}
    for offering, tz in offerings:
        assert offering.id is not None
        out[offering.id] = None
        if not offering.active:
            continue
        for s, e in slots_of(offering, tz, start, end):
            left = offering.capacity_per_slot - taken.get((offering.id, s), 0)
            if left > 0:
                out[offering.id] = SlotView(s, e, left)
                break
    return out


# ---------------------------------------------------------------- booking
@dataclass(frozen=True, slots=True)
class BookResult:
    booking: Booking
    created: bool
    # Seats left in the booked slot right after this booking (None on a replay).
    remaining: int | None = None


async def book(
    session: AsyncSession,
    principal: Principal,
    *,
    offering_id: int,
    unit_id: int,
    idempotency_key: str,
    slot_start: datetime | None = None,
    for_elder_id: int | None = None,
    notes: str | None = None,
) -> BookResult:
    """Book a seat: in `slot_start`, or (one tap) in the earliest slot with room.

    The idempotency key is claimed first, by inserting the booking under a unique
    (booker, key) constraint with ON CONFLICT DO NOTHING: a concurrent retry waits for
    the first request's transaction and then finds its booking. The seat is taken last,
    with one conditional upsert per slot tried; if none is left the whole transaction
    rolls back, the key included.
    """
    assert principal.user_id is not None
    key = idempotency_key.strip()
    if not 1 <= len(key) <= 100:
        raise Invalid("error.idempotency_key", field=["input", "idempotencyKey"])
    if notes is not None and len(notes) > 500:
        raise Invalid("booking.bad_notes", field=["input", "notes"])

    existing = await repo.booking_by_key(session, principal.user_id, key)
    if existing is not None:
        return BookResult(_same_request(existing, offering_id, unit_id, slot_start), False)

    found = await repo.offering_with_zone(session, offering_id)
    if found is None or not found[0].active or not principal.in_community(found[0].community_id):
        raise OfferingNotFound(field=["input", "offeringId"])
    offering, tz = found
    unit = await session.get(Unit, unit_id)
    if unit is None or not principal.in_community(unit.community_id):
        raise NotFound(field=["input", "unitId"])
    if for_elder_id is not None:
        elder = await session.get(Elder, for_elder_id)
        if elder is None or not await is_caregiver_of(session, principal.user_id, elder.id):  # type: ignore[arg-type]
            raise Forbidden("booking.not_caregiver", field=["input", "forElderId"])
        if elder.unit_id != unit_id:
            raise Invalid("booking.elder_unit", field=["input", "unitId"])
    elif not await occupies(session, principal.user_id, unit_id):
        raise Forbidden("booking.unit_not_yours", field=["input", "unitId"])
    if offering.community_id != unit.community_id:
        raise Invalid("booking.other_community", field=["input", "offeringId"])

    candidates = await _candidates(session, offering, tz, slot_start)
    first = next(candidates, None)
    if first is None:
        raise SlotFull("booking.no_slot" if slot_start is None else "booking.slot_full")
    now = utcnow()
    claimed = await repo.claim_key(
        session,
        {
            "offering_id": offering_id,
            "merchant_id": offering.merchant_id,
            "community_id": offering.community_id,
            "unit_id": unit_id,
            "booked_by": principal.user_id,
            "for_elder_id": for_elder_id,
            "slot_start": first[0],
            "slot_end": first[1],
            "status": REQUESTED,
            "notes": notes.strip() if notes else None,
            "price_minor": offering.price_minor,
            "currency": offering.currency,
            "idempotency_key": key,
            "created_at": now,
            "updated_at": now,
        },
    )
    if claimed is None:
        # A concurrent request with this key committed first: answer with its booking.
        existing = await repo.booking_by_key(session, principal.user_id, key)
        assert existing is not None
        return BookResult(_same_request(existing, offering_id, unit_id, slot_start), False)
    booking = claimed

    # Everything else is written before the seat is taken: the counter's row lock is
    # then held only until the commit that follows, which keeps a popular slot's
    # bookings from queueing behind each other's notification writes.
    merchant = await session.get(Merchant, offering.merchant_id)
    assert merchant is not None
    params = {"service": offering.title, "time": local_text(first[0], tz), "unit": unit.label}
    told = await notify(
        session,
        user_ids=[merchant.user_id],
        category="BOOKING",
        title_key="booking.notify.new.title",
        body_key="booking.notify.new.body",
        params=params,
        data={"bookingId": encode_gid("Booking", booking.id or 0)},
        community_id=offering.community_id,
    )
    await _announce(session, booking)

    slot: tuple[datetime, datetime] | None = first
    attempts = 0
    taken: int | None = None
    while slot is not None and attempts < MAX_ATTEMPTS:
        attempts += 1
        taken = await repo.take_seat(session, offering_id, slot[0], offering.capacity_per_slot)
        if taken is not None:
            break
        slot = next(candidates, None)
    else:
        slot = None
    if slot is None:
        raise SlotFull("booking.slot_full" if slot_start is not None else "booking.no_slot")
    if slot != first:
        # Someone took the last seat of the first candidate meanwhile (one tap only).
        booking.slot_start, booking.slot_end = slot
        session.add(booking)
        for n in told:
            n.params = {**params, "time": local_text(slot[0], tz)}
            session.add(n)
        await session.flush()
    assert taken is not None
    return BookResult(booking, True, offering.capacity_per_slot - taken)


def _same_request(
    existing: Booking, offering_id: int, unit_id: int, slot_start: datetime | None
) -> Booking:
    if (
        existing.offering_id != offering_id
        or existing.unit_id != unit_id
        or (slot_start is not None and existing.slot_start != slot_start)
    ):
        raise Conflict("error.idempotency_reuse", field=["input", "idempotencyKey"])
    return existing


async def _candidates(
    session: AsyncSession, offering: ServiceOffering, tz: str, slot_start: datetime | None
) -> Iterator[tuple[datetime, datetime]]:
    now = utcnow()
    if slot_start is not None:
        if slot_start <= now:
            raise Invalid("booking.slot_past", field=["input", "slotStart"])
        match = next(
            slots_of(offering, tz, slot_start, slot_start + timedelta(microseconds=1)), None
        )
        if match is None or slot_start > now + HORIZON:
            raise Invalid("booking.not_a_slot", field=["input", "slotStart"])
        return iter([match])
    start, end = now + timedelta(microseconds=1), now + HORIZON
    assert offering.id is not None
    taken = await repo.counters(session, [offering.id], start, end)
    cap = offering.capacity_per_slot
    return (
        s for s in slots_of(offering, tz, start, end) if taken.get((offering.id, s[0]), 0) < cap
    )


async def _announce(session: AsyncSession, booking: Booking) -> None:
    """`bookingUpdates`: one event per person who may see the booking, after commit."""
    for user_id in sorted(await repo.interested_users(session, booking)):
        emit(
            session,
            f"bookings:user:{user_id}",
            {"booking_id": booking.id, "status": booking.status},
        )


async def _tell_resident(session: AsyncSession, booking: Booking) -> None:
    found = await repo.offering_with_zone(session, booking.offering_id)
    assert found is not None
    offering, tz = found
    recipients = {booking.booked_by}
    if booking.for_elder_id is not None:
        elder = await session.get(Elder, booking.for_elder_id)
        if elder is not None:
            recipients.add(elder.user_id)
    await notify(
        session,
        user_ids=recipients,
        category="BOOKING",
        title_key="booking.notify.status.title",
        body_key=f"booking.notify.status.{booking.status}",
        params={"service": offering.title, "time": local_text(booking.slot_start, tz)},
        data={"bookingId": encode_gid("Booking", booking.id or 0), "status": booking.status},
        community_id=booking.community_id,
    )


# ---------------------------------------------------------------- status machine
async def transition(
    session: AsyncSession,
    principal: Principal,
    *,
    booking_id: int,
    to: str,
    note: str | None = None,
    paid_amount_minor: int | None = None,
    payment_method: str | None = None,
) -> Booking:
    """A merchant moves its own booking along the status machine."""
    assert principal.user_id is not None
    booking = await repo.booking_for_update(session, principal, booking_id)
    merchant = await repo.merchant_of_user(session, principal.user_id)
    if booking is None or merchant is None or booking.merchant_id != merchant.id:
        raise BookingNotFound(field=["input", "bookingId"])
    if to not in MERCHANT_MOVES.get(booking.status, frozenset()):
        raise IllegalTransition(field=["input", "to"], from_status=booking.status, to_status=to)
    now = utcnow()
    if to == NO_SHOW and now < booking.slot_start:
        raise Invalid("booking.too_early", field=["input", "to"])
    if (paid_amount_minor is not None or payment_method) and to != COMPLETED:
        raise Invalid("booking.payment_only_on_completion", field=["input", "paymentMethod"])
    if note is not None and len(note) > 500:
        raise Invalid("booking.bad_notes", field=["input", "note"])
    if to == COMPLETED and (paid_amount_minor is not None or payment_method):
        if paid_amount_minor is not None:
            _check_range(paid_amount_minor, 0, 100_000_000, "paidAmountMinor")
        booking.paid_at = now
        booking.paid_amount_minor = (
            booking.price_minor if paid_amount_minor is None else paid_amount_minor
        )
        booking.payment_method = (payment_method or "OFFLINE")[:30]
    if to == CANCELLED:
        booking.cancel_reason = note
        await repo.release_seat(session, booking.offering_id, booking.slot_start)
    booking.status = to
    booking.updated_at = now
    session.add(booking)
    await session.flush()
    audit.record(
        session,
        principal,
        f"booking.{to.lower()}",
        community_id=booking.community_id,
        target=f"Booking:{booking.id}",
    )
    await _tell_resident(session, booking)
    await _announce(session, booking)
    return booking


async def cancel(
    session: AsyncSession, principal: Principal, *, booking_id: int, reason: str | None = None
) -> Booking:
    """The resident side (booker, household, the elder's caregiver) cancels before the
    offering's cut-off; the seat is freed at once."""
    assert principal.user_id is not None
    booking = await repo.booking_for_update(session, principal, booking_id, resident_side=True)
    if booking is None:
        raise BookingNotFound(field=["input", "bookingId"])
    if booking.status not in OPEN_STATUSES:
        raise IllegalTransition(
            field=["input", "bookingId"], from_status=booking.status, to_status=CANCELLED
        )
    offering = await session.get(ServiceOffering, booking.offering_id)
    assert offering is not None
    now = utcnow()
    if now > booking.slot_start - timedelta(minutes=offering.cancel_cutoff_minutes):
        raise Invalid(
            "booking.cancel_cutoff",
            field=["input", "bookingId"],
            minutes=offering.cancel_cutoff_minutes,
        )
    if reason is not None and len(reason) > 500:
        raise Invalid("booking.bad_notes", field=["input", "reason"])
    booking.status = CANCELLED
    booking.cancel_reason = reason
    booking.updated_at = now
    session.add(booking)
    await repo.release_seat(session, booking.offering_id, booking.slot_start)
    await session.flush()
    merchant = await session.get(Merchant, booking.merchant_id)
    assert merchant is not None
    tz = await session.get(Community, booking.community_id)
    await notify(
        session,
        user_ids=[merchant.user_id, booking.booked_by],
        category="BOOKING",
        title_key="booking.notify.status.title",
        body_key="booking.notify.status.CANCELLED",
        params={
            "service": offering.title,
            "time": local_text(booking.slot_start, tz.time_zone if tz else "Asia/Shanghai"),
        },
        data={"bookingId": encode_gid("Booking", booking.id or 0), "status": CANCELLED},
        community_id=booking.community_id,
    )
    await _announce(session, booking)
    return booking
