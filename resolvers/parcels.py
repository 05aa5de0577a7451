"""Parcel lockers: the viewer's parcels, the desk's view, pickup and hand-over."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal
from domain.accounts.repository import occupied_unit_ids
from domain.parcels import models as m
from domain.parcels import repository as repo
from domain.parcels import service
from resolvers.base import (
    IsAuthenticated,
    IsStaff,
    connection,
    input_id,
    page_args,
    parse_id,
    run_mutation,
)
from resolvers.context import Context, Info
from resolvers.loaders import loader
from resolvers.node import node_type
from resolvers.roots import extra_types, mutation, query
from schema import parcels as t
from schema.base import Connection


async def _to_types(
    ctx: Context, rows: list[m.Parcel], *, own_units: set[int] | None = None
) -> list[t.Parcel]:
    """The code is shown only to the unit's residents, and only while it waits."""
    principal: Principal = ctx.principal
    if own_units is None and principal.user_id is not None and rows:
        async with ctx.reading() as s:
            own_units = set(await s.scalars(occupied_unit_ids(principal.user_id)))
    own = own_units or set()
    return [
        t.Parcel.from_row(
            r,
            pickup_code=(
                service.pickup_code(r) if r.status == "WAITING" and r.unit_id in own else None
            ),
        )
        for r in rows
    ]


@loader("parcel")
async def load_parcels(ctx: Context, ids: list[int]) -> list[t.Parcel | None]:
    async with ctx.reading() as s:
        rows = await repo.by_ids(s, ctx.principal, ids)
    typed = {p._pk: p for p in await _to_types(ctx, list(rows.values()))}
    return [typed.get(i) for i in ids]


@loader("parcel_location")
async def load_locations(ctx: Context, ids: list[int]) -> list[t.ParcelLocation | None]:
    async with ctx.reading() as s:
        found = await repo.lockers_and_compartments(s, ids)
    out: list[t.ParcelLocation | None] = []
    for i in ids:
        if i not in found:
            out.append(None)
            continue
        comp, locker = found[i]
        out.append(
            t.ParcelLocation(
                locker_code=locker.code, locker_location=locker.location, compartment=comp.label
            )
        )
    return out


async def _fetch_parcel(info: Info, pk: int) -> Any:
    return await info.context.loaders.parcel.load(pk)


node_type("Parcel")(_fetch_parcel)
extra_types(t.Parcel)


@query
@strawberry.type
class ParcelsQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Parcels for the viewer's units, waiting ones first.",
    )
    async def my_parcels(
        self,
        info: Info,
        status: t.ParcelStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.Parcel]:
        limit, offset = page_args(info, first, after)
        async with info.context.reading() as s:
            rows, total = await repo.mine(
                s,
                info.context.principal,
                status=status.value if status else None,
                limit=limit,
                offset=offset,
            )
        own = {r.unit_id for r in rows}  # they are all the viewer's units
        return connection(await _to_types(info.context, rows, own_units=own), total, offset)

    @strawberry.field(
        permission_classes=[IsStaff], description="Staff (the desk): a community's parcels."
    )
    async def parcels(
        self,
        info: Info,
        community_id: strawberry.ID,
        unit_id: strawberry.ID | None = None,
        status: t.ParcelStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.Parcel]:
        limit, offset = page_args(info, first, after)
        cid = parse_id(info, community_id, "Community")
        uid = parse_id(info, unit_id, "Unit") if unit_id is not None else None
        async with info.context.reading() as s:
            rows, total = await repo.for_staff(
                s,
                info.context.principal,
                cid,
                unit_id=uid,
                status=status.value if status else None,
                limit=limit,
                offset=offset,
            )
        return connection(await _to_types(info.context, rows), total, offset)


@mutation
@strawberry.type
class ParcelsMutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="A resident at the locker: the right code opens the compartment.",
    )
    async def pick_up_parcel(self, info: Info, input: t.CollectParcelInput) -> t.ParcelPayload:
        return await _collect(info, input, at_desk=False)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Staff at the desk hand a parcel over to the resident who gives the code.",
    )
    async def hand_over_parcel(self, info: Info, input: t.CollectParcelInput) -> t.ParcelPayload:
        return await _collect(info, input, at_desk=True)


async def _collect(info: Info, input: t.CollectParcelInput, *, at_desk: bool) -> t.ParcelPayload:
    async def work(s: AsyncSession) -> dict[str, Any]:
        row = await service.collect(
            s,
            info.context.principal,
            parcel_id=input_id(input.parcel_id, "Parcel", ["input", "parcelId"]),
            code=input.code,
            at_desk=at_desk,
        )
        return {"parcel": t.Parcel.from_row(row, pickup_code=None)}

    return await run_mutation(info, t.ParcelPayload, work)
