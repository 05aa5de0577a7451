"""Booking resolvers: parse input, call one service, map the result."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import DomainError, Invalid
from domain.accounts.models import Community
from domain.accounts.models import User as UserRow
from domain.booking import repository as repo
from domain.booking import service
from domain.booking.models import ServiceOffering as OfferingRow
from domain.booking.slots import OpeningHours
from resolvers.base import (
    ClientError,
    IsAuthenticated,
    IsMember,
    connection,
    input_id,
    page_args,
    parse_id,
    run_mutation,
    unauthenticated,
)
from resolvers.context import Context, Info
from resolvers.loaders import loader
from resolvers.node import loader_fetcher, node_type
from resolvers.roots import extra_types, mutation, query, subscription
from schema import booking as t
from schema.accounts import User
from schema.base import Connection


# ---------------------------------------------------------------- loaders
@loader("merchant_unchecked")
async def load_merchants_unchecked(ctx: Context, ids: list[int]) -> list[t.Merchant | None]:
    # Reached only from an offering or booking the viewer may already see.
    async with ctx.reading() as s:
        rows = await repo.merchants_by_ids(s, ids)
        return [t.Merchant.from_row(rows[i]) if i in rows else None for i in ids]


@loader("merchant")
async def load_merchants(ctx: Context, ids: list[int]) -> list[t.Merchant | None]:
    async with ctx.reading() as s:
        rows = await repo.visible_merchants(s, ctx.principal, ids)
        return [t.Merchant.from_row(rows[i]) if i in rows else None for i in ids]


@loader("offering")
async def load_offerings(ctx: Context, ids: list[int]) -> list[t.ServiceOffering | None]:
    async with ctx.reading() as s:
        rows = await repo.offerings_by_ids(s, ctx.principal, ids)
        return [t.ServiceOffering.from_row(*rows[i]) if i in rows else None for i in ids]


@loader("booking_offering")
async def load_booking_offerings(ctx: Context, ids: list[int]) -> list[t.ServiceOffering | None]:
    # The offering of a booking the viewer sees, even if the viewer (a merchant who
    # left a community) no longer sees that community's catalogue.
    async with ctx.reading() as s:
        rows = await repo.offerings_by_ids(s, ctx.principal, ids, any_community=True)
        return [t.ServiceOffering.from_row(*rows[i]) if i in rows else None for i in ids]


@loader("next_slot")
async def load_next_slots(ctx: Context, refs: list[t.OfferingRef]) -> list[t.Slot | None]:
    async with ctx.reading() as s:
        found = await service.next_available(s, [(r.spec, r.time_zone) for r in refs])
    out: list[t.Slot | None] = []
    for r in refs:
        v = found.get(r.id)
        out.append(None if v is None else t.Slot(start=v.start, end=v.end, _remaining=v.remaining))
    return out


@loader("slot_remaining")
async def load_slot_remaining(ctx: Context, keys: list[tuple[int, datetime]]) -> list[int]:
    async with ctx.reading() as s:
        taken = await repo.counters_for(s, keys)
        caps = dict(
            (
                await s.execute(
                    select(OfferingRow.id, OfferingRow.capacity_per_slot).where(
                        OfferingRow.id.in_({k[0] for k in keys})  # type: ignore[union-attr]
                    )
                )
            ).all()
        )
    return [max(0, caps.get(k[0], 0) - taken.get(k, 0)) for k in keys]


@loader("booker")
async def load_bookers(ctx: Context, ids: list[int]) -> list[User | None]:
    # Reached only from a booking the viewer sees: a merchant sees who booked it
    # (name only), without opening the community's directory.
    async with ctx.reading() as s:
        rows = await s.scalars(select(UserRow).where(UserRow.id.in_(set(ids))))  # type: ignore[union-attr]
        by_id = {u.id: u for u in rows}
        return [User.from_row(by_id[i]) if i in by_id else None for i in ids]


@loader("booking")
async def load_bookings(ctx: Context, ids: list[int]) -> list[t.Booking | None]:
    async with ctx.reading() as s:
        rows = await repo.bookings_by_ids(s, ctx.principal, ids)
        return [t.Booking.from_row(rows[i]) if i in rows else None for i in ids]


node_type("Merchant")(loader_fetcher("merchant"))
node_type("ServiceOffering")(loader_fetcher("offering"))
node_type("Booking")(loader_fetcher("booking"))
extra_types(t.Merchant, t.ServiceOffering, t.Booking)


def _selected(info: Info) -> set[str]:
    """Names of every field selected below this one (fragments included)."""
    names: set[str] = set()
    stack = list(info.selected_fields)
    while stack:
        item = stack.pop()
        name = getattr(item, "name", None)
        if name:
            names.add(name)
        stack.extend(getattr(item, "selections", ()) or ())
    return names


def _query_error(info: Info, exc: DomainError) -> ClientError:
    code = exc.code if exc.code in ("NOT_FOUND", "INVALID", "FORBIDDEN") else "INVALID"
    return ClientError(code, exc.message_key, info.context.locale, **exc.params)


def _aware(info: Info, value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ClientError("INVALID", "booking.naive_time", info.context.locale)
    return value


def _hours(items: list[t.OpeningHoursInput] | None) -> list[OpeningHours] | None:
    if items is None:
        return None
    return [OpeningHours(h.day, h.open, h.close) for h in items]


# ---------------------------------------------------------------- roots
@query
@strawberry.type
class BookingQuery:
    @strawberry.field(permission_classes=[IsMember])
    async def service_offerings(
        self,
        info: Info,
        community_id: strawberry.ID,
        category: t.ServiceCategory | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.ServiceOffering]:
        limit, offset = page_args(info, first, after)
        cid = parse_id(info, community_id, "Community")
        async with info.context.reading() as s:
            rows, total = await repo.list_offerings(
                s,
                info.context.principal,
                cid,
                category=category.value if category else None,
                limit=limit,
                offset=offset,
            )
            nodes = [t.ServiceOffering.from_row(o, tz) for o, tz in rows]
            # The page's merchants and next slots in one query each, not per offering.
            fields = _selected(info)
            if "merchant" in fields:
                merchants = await repo.merchants_by_ids(s, {o.merchant_id for o, _ in rows})
                for node, (o, _) in zip(nodes, rows, strict=True):
                    node._merchant = t.Merchant.from_row(merchants[o.merchant_id])
            if "nextAvailableSlot" in fields:
                nexts = await service.next_available(s, rows)
                for node, (o, _) in zip(nodes, rows, strict=True):
                    v = nexts.get(o.id)  # type: ignore[arg-type]
                    node._next_known = True
                    node._next = v and t.Slot(start=v.start, end=v.end, _remaining=v.remaining)
        return connection(nodes, total, offset)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Slots with room in [from, to) (at most 31 days), never in the past.",
    )
    async def available_slots(
        self,
        info: Info,
        offering_id: strawberry.ID,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> list[t.Slot]:
        oid = parse_id(info, offering_id, "ServiceOffering")
        try:
            async with info.context.reading() as s:
                found = await service.available_slots(
                    s,
                    info.context.principal,
                    offering_id=oid,
                    start=_aware(info, from_),
                    end=_aware(info, to),
                )
        except DomainError as exc:
            raise _query_error(info, exc) from None
        return [t.Slot(start=v.start, end=v.end, _remaining=v.remaining) for v in found]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Bookings of the viewer's units, made by the viewer, or for the "
        "viewer's elders; latest slot first.",
    )
    async def my_bookings(
        self,
        info: Info,
        status: t.BookingStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.Booking]:
        limit, offset = page_args(info, first, after)
        async with info.context.reading() as s:
            rows, total = await repo.my_bookings(
                s,
                info.context.principal,
                status=status.value if status else None,
                limit=limit,
                offset=offset,
            )
            nodes = [t.Booking.from_row(r) for r in rows]
        return connection(nodes, total, offset)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Merchant side: bookings of the viewer's merchant, soonest slot first.",
    )
    async def merchant_bookings(
        self,
        info: Info,
        status: t.BookingStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.Booking]:
        limit, offset = page_args(info, first, after)
        async with info.context.reading() as s:
            rows, total = await repo.merchant_bookings(
                s,
                info.context.principal,
                status=status.value if status else None,
                limit=limit,
                offset=offset,
            )
            nodes = [t.Booking.from_row(r) for r in rows]
        return connection(nodes, total, offset)


def _booking(row: Any) -> dict[str, Any]:
    return {"booking": t.Booking.from_row(row)}


@mutation
@strawberry.type
class BookingMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def book_service(self, info: Info, input: t.BookServiceInput) -> t.BookingPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            slot_start = input.slot_start
            if slot_start is not None and slot_start.tzinfo is None:
                raise Invalid("booking.naive_time", field=["input", "slotStart"])
            result = await service.book(
                s,
                info.context.principal,
                offering_id=input_id(input.offering_id, "ServiceOffering", ["input", "offeringId"]),
                unit_id=input_id(input.unit_id, "Unit", ["input", "unitId"]),
                slot_start=slot_start,
                for_elder_id=(
                    input_id(input.for_elder_id, "Elder", ["input", "forElderId"])
                    if input.for_elder_id is not None
                    else None
                ),
                notes=input.notes,
                idempotency_key=input.idempotency_key,
            )
            return {"booking": t.Booking.from_row(result.booking, remaining=result.remaining)}

        return await run_mutation(info, t.BookingPayload, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def cancel_booking(self, info: Info, input: t.CancelBookingInput) -> t.BookingPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            row = await service.cancel(
                s,
                info.context.principal,
                booking_id=input_id(input.booking_id, "Booking", ["input", "bookingId"]),
                reason=input.reason,
            )
            return _booking(row)

        return await run_mutation(info, t.BookingPayload, work)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Merchant side: confirm, start, complete, cancel or mark a no-show.",
    )
    async def transition_booking(
        self, info: Info, input: t.BookingTransitionInput
    ) -> t.BookingPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            row = await service.transition(
                s,
                info.context.principal,
                booking_id=input_id(input.booking_id, "Booking", ["input", "bookingId"]),
                to=input.to.value,
                note=input.note,
                paid_amount_minor=input.paid_amount_minor,
                payment_method=input.payment_method,
            )
            return _booking(row)

        return await run_mutation(info, t.BookingPayload, work)

    @strawberry.mutation(permission_classes=[IsMember])
    async def create_service_offering(
        self, info: Info, input: t.CreateOfferingInput
    ) -> t.OfferingPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            cid = input_id(input.community_id, "Community", ["input", "communityId"])
            row = await service.create_offering(
                s,
                info.context.principal,
                community_id=cid,
                title=input.title,
                category=input.category.value,
                price_minor=input.price_minor,
                duration_minutes=input.duration_minutes,
                capacity_per_slot=input.capacity_per_slot,
                weekly_hours=_hours(input.weekly_hours) or [],
                closed_dates=input.closed_dates,
                cancel_cutoff_minutes=input.cancel_cutoff_minutes,
            )
            community = await s.get(Community, cid)
            assert community is not None
            return {"offering": t.ServiceOffering.from_row(row, community.time_zone)}

        return await run_mutation(info, t.OfferingPayload, work)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Merchant side: change an own offering (hours, closures, price, ...).",
    )
    async def update_service_offering(
        self, info: Info, input: t.UpdateOfferingInput
    ) -> t.OfferingPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            row = await service.update_offering(
                s,
                info.context.principal,
                offering_id=input_id(input.offering_id, "ServiceOffering", ["input", "offeringId"]),
                active=input.active,
                title=input.title,
                price_minor=input.price_minor,
                duration_minutes=input.duration_minutes,
                capacity_per_slot=input.capacity_per_slot,
                weekly_hours=_hours(input.weekly_hours),
                closed_dates=input.closed_dates,
                cancel_cutoff_minutes=input.cancel_cutoff_minutes,
            )
            found = await repo.offering_with_zone(s, row.id)  # type: ignore[arg-type]
            assert found is not None
            return {"offering": t.ServiceOffering.from_row(*found)}

        return await run_mutation(info, t.OfferingPayload, work)


@subscription
@strawberry.type
class BookingSubscription:
    @strawberry.subscription(
        description="Status changes of the viewer's bookings (resident) or merchant's "
        "bookings (merchant)."
    )
    async def booking_updates(self, info: Info) -> AsyncGenerator[t.Booking, None]:
        ctx: Context = info.context
        principal = ctx.principal
        if principal.user_id is None:
            raise unauthenticated(info)
        # Events go to the people who could see the booking when it changed; the
        # booking is re-read with the subscriber's visibility before it is sent.
        async with ctx.bus.listen(f"bookings:user:{principal.user_id}") as events:
            async for event in events:
                booking_id = int(event["booking_id"])
                async with ctx.db.reader() as s:
                    rows = await repo.bookings_by_ids(s, principal, [booking_id])
                    found = t.Booking.from_row(rows[booking_id]) if booking_id in rows else None
                if found is not None:
                    # Nested fields must not come from an earlier event's cache.
                    ctx.loaders.clear()
                    yield found
