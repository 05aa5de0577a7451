"""Parking resolvers: quotes by exit-lane QR code or plate; paying for a stay."""

from __future__ import annotations

import strawberry

from core.errors import DomainError
from domain.parking import service
from resolvers.base import ClientError, IsAuthenticated
from resolvers.context import Info
from resolvers.node import node_type
from resolvers.roots import extra_types, query
from schema import parking as t

extra_types(t.ParkingSession)


async def _session_node(info: Info, pk: int) -> t.ParkingSession | None:
    principal = info.context.principal
    async with info.context.reading() as s:
        row = await service.repo.parking_session(s, pk)
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
