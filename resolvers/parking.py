"""Parking resolvers: quotes by exit-lane QR code or plate; paying for a stay or an EV
charge; the viewer's charges."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import DomainError
from core.principal import Role
from domain.parking import payments, service
from domain.parking import repository as repo
from resolvers.base import (
    ClientError,
    IsAuthenticated,
    IsMember,
    IsStaff,
    connection,
    input_id,
    page_args,
    parse_id,
    require_user,
    run_mutation,
)
from resolvers.context import Info
from resolvers.node import node_type
from resolvers.payments import payment_payload
from resolvers.roots import extra_types, mutation, query
from schema import parking as t
from schema.base import Connection
from schema.payments import PaymentPayload

extra_types(t.ParkingSession, t.ChargingSession, t.VisitorVehicle, t.ResidentVehicle, t.EvCharger)


async def _session_node(info: Info, pk: int) -> t.ParkingSession | None:
    principal = info.context.principal
    async with info.context.reading() as s:
        row = await repo.parking_session(s, pk)
        if row is None or not await service.may_pay(s, principal, row):
            return None
        return t.ParkingSession.from_quote(await service.quote_session(s, row))


node_type("ParkingSession")(_session_node)


@query
@strawberry.type
class ParkingQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The session at the exit lane whose QR code was scanned, or at a plate "
        "(prepay).",
    )
    async def parking_quote(
        self, info: Info, qr: str | None = None, plate: str | None = None
    ) -> t.ParkingQuote | None:
        ctx = info.context
        if (qr is None) == (plate is None):
            raise ClientError("INVALID", "parking.quote.args", ctx.locale)
        try:
            async with ctx.reading() as s:
                if qr is not None:
                    quote = await service.quote_by_qr(s, ctx.principal, qr)
                else:
                    quote = await service.quote_by_plate(s, ctx.principal, plate or "")
        except DomainError as exc:
            # A query has no userErrors: a bad code or plate is a client error.
            raise ClientError(exc.code, exc.message_key, ctx.locale, **exc.params) from None
        return t.ParkingQuote.from_quote(quote) if quote is not None else None

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="EV charges of the viewer's registered cars, newest first.",
    )
    async def my_charging_sessions(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[t.ChargingSession]:
        principal = require_user(info)
        limit, offset = page_args(info, first, after)
        async with info.context.reading() as s:
            rows, total = await repo.my_charges(
                s, principal.user_id or 0, limit=limit, offset=offset
            )
        nodes = [t.ChargingSession.from_row(row, charger) for row, charger in rows]
        return connection(nodes, total, offset)

    @strawberry.field(
        permission_classes=[IsMember],
        description="The community's EV chargers with their status and prices (residents "
        "and staff).",
    )
    async def ev_chargers(self, info: Info, community_id: strawberry.ID) -> list[t.EvCharger]:
        principal = info.context.principal
        cid = parse_id(info, community_id, "Community")
        if not principal.has_role(cid, Role.RESIDENT, Role.STAFF, Role.MANAGER):
            return []
        async with info.context.reading() as s:
            rows = await repo.chargers_of(s, cid)
        return [t.EvCharger.from_row(row) for row in rows]

    @strawberry.field(
        permission_classes=[IsStaff],
        description="Staff: the community's stays, newest first (only open ones by default).",
    )
    async def parking_sessions(
        self,
        info: Info,
        community_id: strawberry.ID,
        open_only: bool = True,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.ParkingSession]:
        cid = parse_id(info, community_id, "Community")
        limit, offset = page_args(info, first, after)
        async with info.context.reading() as s:
            quotes, total = await service.stays_of(
                s,
                info.context.principal,
                community_id=cid,
                open_only=open_only,
                limit=limit,
                offset=offset,
            )
        return connection([t.ParkingSession.from_quote(q) for q in quotes], total, offset)


@mutation
@strawberry.type
class ParkingMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def pay_parking(self, info: Info, input: t.PayParkingInput) -> PaymentPayload:
        principal = info.context.principal

        async def work(session: AsyncSession) -> dict[str, Any]:
            sid = input_id(input.session_id, "ParkingSession", ["input", "sessionId"])
            payment = await payments.pay_parking(
                session, principal, session_id=sid, idempotency_key=input.idempotency_key
            )
            return {"payment": payment}

        return await run_mutation(info, payment_payload(info), work)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Pay for a finished EV charge (the charge's driver, or staff).",
    )
    async def pay_charging(self, info: Info, input: t.PayChargingInput) -> PaymentPayload:
        principal = info.context.principal

        async def work(session: AsyncSession) -> dict[str, Any]:
            cid = input_id(
                input.charging_session_id, "ChargingSession", ["input", "chargingSessionId"]
            )
            payment = await payments.pay_charging(
                session,
                principal,
                charging_session_id=cid,
                idempotency_key=input.idempotency_key,
            )
            return {"payment": payment}

        return await run_mutation(info, payment_payload(info), work)

    @strawberry.mutation(
        permission_classes=[IsMember],
        description="A resident registers a visitor's car for a while: they may then look "
        "its plate up, pay for it ahead and are told when it is paid.",
    )
    async def register_visitor_vehicle(
        self, info: Info, input: t.RegisterVisitorVehicleInput
    ) -> t.VisitorVehiclePayload:
        principal = info.context.principal

        async def work(session: AsyncSession) -> dict[str, Any]:
            cid = input_id(input.community_id, "Community", ["input", "communityId"])
            row = await service.register_visitor(
                session, principal, community_id=cid, plate=input.plate, hours=input.hours
            )
            return {"visitor_vehicle": t.VisitorVehicle.from_row(row)}

        return await run_mutation(info, t.VisitorVehiclePayload, work)

    @strawberry.mutation(
        permission_classes=[IsStaff],
        description="Staff register a resident's car or change its owner or monthly pass "
        "(by plate).",
    )
    async def register_resident_vehicle(
        self, info: Info, input: t.RegisterResidentVehicleInput
    ) -> t.ResidentVehiclePayload:
        principal = info.context.principal

        async def work(session: AsyncSession) -> dict[str, Any]:
            cid = input_id(input.community_id, "Community", ["input", "communityId"])
            owner = input_id(input.owner_id, "User", ["input", "ownerId"])
            unit = (
                input_id(input.unit_id, "Unit", ["input", "unitId"])
                if input.unit_id is not None
                else None
            )
            row = await service.register_resident_vehicle(
                session,
                principal,
                community_id=cid,
                plate=input.plate,
                owner_user_id=owner,
                unit_id=unit,
                pass_valid_from=input.pass_valid_from,
                pass_valid_until=input.pass_valid_until,
            )
            return {"resident_vehicle": t.ResidentVehicle.from_row(row)}

        return await run_mutation(info, t.ResidentVehiclePayload, work)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Staff change a lot's tariff (fields left out keep their value).",
    )
    async def update_parking_tariff(
        self, info: Info, input: t.UpdateParkingTariffInput
    ) -> t.ParkingTariffPayload:
        principal = info.context.principal
        names = (
            "hourly_minor",
            "free_minutes",
            "daily_cap_minor",
            "forgive_minutes",
            "reentry_minutes",
            "grace_minutes",
        )
        changes = {
            name: getattr(input, name)
            for name in names
            if getattr(input, name) is not strawberry.UNSET
        }

        async def work(session: AsyncSession) -> dict[str, Any]:
            tid = input_id(input.tariff_id, "ParkingTariff", ["input", "tariffId"])
            row = await service.update_tariff(session, principal, tariff_id=tid, changes=changes)
            return {"tariff": t.ParkingTariff.from_row(row)}

        return await run_mutation(info, t.ParkingTariffPayload, work)
