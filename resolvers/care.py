"""Elder care resolvers: thin mappings onto domain.care.service."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from domain.accounts.models import User
from domain.alarms.models import Alarm
from domain.care import alerts, service
from domain.care import repository as repo
from domain.care.models import Elder
from domain.devices.models import Device
from domain.workorders.models import WorkOrder
from resolvers.base import (
    IsAuthenticated,
    IsStaff,
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
from schema import care as t
from schema import devices as dt
from schema.base import Connection


async def _elder_types(session: AsyncSession, elders: list[Elder]) -> list[t.Elder]:
    names = dict(
        (
            await session.execute(
                select(User.id, User.display_name).where(
                    User.id.in_([e.user_id for e in elders])  # type: ignore[union-attr]
                )
            )
        ).all()
    )
    return [t.Elder.from_row(e, names.get(e.user_id, "")) for e in elders]


# ---------------------------------------------------------------- loaders
@loader("elder")
async def load_elders(ctx: Context, ids: list[int]) -> list[t.Elder | None]:
    async with ctx.reading() as s:
        rows = await repo.elders_by_ids(s, ctx.principal, ids)
        types = {e._pk: e for e in await _elder_types(s, list(rows.values()))}
    return [types.get(i) for i in ids]


@loader("care_plan")
async def load_plans(ctx: Context, elder_ids: list[int]) -> list[t.CheckInPlan | None]:
    async with ctx.reading() as s:
        plans = await repo.plans_by_elder_ids(s, elder_ids)
    return [t.CheckInPlan.from_row(plans[i]) if i in plans else None for i in elder_ids]


@loader("care_chain")
async def load_chains(ctx: Context, elder_ids: list[int]) -> list[list[int]]:
    async with ctx.reading() as s:
        plans = await repo.plans_by_elder_ids(s, elder_ids)
        elders = await repo.elders_by_ids(s, ctx.principal, elder_ids)
        out = []
        for i in elder_ids:
            elder = elders.get(i)
            out.append(await alerts.escalation_chain(s, plans.get(i), elder) if elder else [])
    return out


@loader("elder_status")
async def load_statuses(ctx: Context, elder_ids: list[int]) -> list[str]:
    async with ctx.reading() as s:
        elders = await repo.elders_by_ids(s, ctx.principal, elder_ids)
        found = await service.statuses(s, list(elders.values()), now=utcnow())
    return [found.get(i, "OK") for i in elder_ids]


@loader("care_links")
async def load_links(ctx: Context, elder_ids: list[int]) -> list[list[t.CaregiverLink]]:
    principal = ctx.principal
    async with ctx.reading() as s:
        elders = await repo.elders_by_ids(s, principal, elder_ids)
        # The list of who cares for an elder is for the elder and the property office.
        shown = [
            e.id
            for e in elders.values()
            if e.id is not None
            and (e.user_id == principal.user_id or principal.is_staff(e.community_id))
        ]
        links = await repo.links_of_elders(s, shown)
    return [[t.CaregiverLink.from_row(link) for link in links.get(i, [])] for i in elder_ids]


@loader("elder_visits")
async def load_visits(ctx: Context, keys: list[tuple[int, int]]) -> list[list[t.Visit]]:
    async with ctx.reading() as s:
        visible = await repo.elders_by_ids(s, ctx.principal, [k[0] for k in keys])
        out = []
        for elder_id, first in keys:
            rows = (
                await repo.visits_of_elder(s, elder_id, limit=first) if elder_id in visible else []
            )
            out.append([t.Visit.from_row(v) for v in rows])
    return out


node_type("Elder")(loader_fetcher("elder"))
extra_types(t.Elder, t.CheckIn, t.CaregiverLink, t.Visit)


# ---------------------------------------------------------------- roots
@query
@strawberry.type
class CareQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Caregiver side: the elders who chose the viewer as a caregiver.",
    )
    async def my_elders(self, info: Info) -> list[t.Elder]:
        user_id = info.context.principal.user_id
        assert user_id is not None
        async with info.context.reading() as s:
            elders = await repo.elders_cared_for(s, user_id)
            return await _elder_types(s, elders)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Elder side: the viewer's own elder profile, if they have one.",
    )
    async def my_elder_profile(self, info: Info) -> t.Elder | None:
        user_id = info.context.principal.user_id
        assert user_id is not None
        async with info.context.reading() as s:
            elder = await repo.elder_of_user(s, user_id)
            return (await _elder_types(s, [elder]))[0] if elder else None

    @strawberry.field(permission_classes=[IsStaff], description="Staff: the community's elders.")
    async def elders(
        self,
        info: Info,
        community_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.Elder]:
        limit, offset = page_args(info, first, after)
        cid = parse_id(info, community_id, "Community")
        async with info.context.reading() as s:
            rows, total = await repo.elders_of_community(s, cid, limit=limit, offset=offset)
            nodes = await _elder_types(s, rows)
        return connection(nodes, total, offset)

    @strawberry.field(
        permission_classes=[IsStaff],
        description="Staff: elders whose periodic visit (定期寻访) is overdue, most overdue first.",
    )
    async def overdue_visits(self, info: Info, community_id: strawberry.ID) -> list[t.Elder]:
        cid = parse_id(info, community_id, "Community")
        async with info.context.reading() as s:
            rows = await repo.overdue_visits(s, cid, now=utcnow())
            return await _elder_types(s, rows)


def _elder_payload(elder: Elder, name: str) -> dict[str, Any]:
    return {"elder": t.Elder.from_row(elder, name)}


@mutation
@strawberry.type
class CareMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def check_in(self, info: Info, input: t.CheckInInput) -> t.CheckInPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            row = await service.check_in(
                s,
                info.context.principal,
                kind=input.kind.value,
                note=input.note,
                elder_id=(
                    input_id(input.elder_id, "Elder", ["input", "elderId"])
                    if input.elder_id is not None
                    else None
                ),
            )
            return {"check_in": t.CheckIn.from_row(row)}

        return await run_mutation(info, t.CheckInPayload, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def set_check_in_plan(
        self, info: Info, input: t.SetCheckInPlanInput
    ) -> t.CheckInPlanPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            plan = await service.set_plan(
                s,
                info.context.principal,
                elder_id=input_id(input.elder_id, "Elder", ["input", "elderId"]),
                windows=[(w.start, w.end) for w in input.windows],
                grace_minutes=input.grace_minutes,
                escalation_user_ids=[
                    input_id(u, "User", ["input", "escalationUserIds"])
                    for u in input.escalation_user_ids
                ],
                ack_timeout_minutes=input.ack_timeout_minutes,
            )
            return {"plan": t.CheckInPlan.from_row(plan)}

        return await run_mutation(info, t.CheckInPlanPayload, work)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Pause check-ins (travel, hospital) for at most 30 days, or resume.",
    )
    async def pause_check_in_plan(
        self, info: Info, input: t.PauseCheckInPlanInput
    ) -> t.CheckInPlanPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            plan = await service.pause_plan(
                s,
                info.context.principal,
                elder_id=input_id(input.elder_id, "Elder", ["input", "elderId"]),
                until=input.until,
                reason=input.reason,
            )
            return {"plan": t.CheckInPlan.from_row(plan)}

        return await run_mutation(info, t.CheckInPlanPayload, work)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Staff: flag a resident of a unit as an elder living alone.",
    )
    async def register_elder(self, info: Info, input: t.RegisterElderInput) -> t.ElderPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            elder = await service.register_elder(
                s,
                info.context.principal,
                user_id=input_id(input.user_id, "User", ["input", "userId"]),
                unit_id=input_id(input.unit_id, "Unit", ["input", "unitId"]),
            )
            return {"elder": (await _elder_types(s, [elder]))[0]}

        return await run_mutation(info, t.ElderPayload, work)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Staff or the elder name a caregiver; staff invitations wait for the "
        "elder's consent.",
    )
    async def invite_caregiver(
        self, info: Info, input: t.InviteCaregiverInput
    ) -> t.CaregiverLinkPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            link = await service.invite_caregiver(
                s,
                info.context.principal,
                elder_id=input_id(input.elder_id, "Elder", ["input", "elderId"]),
                caregiver_user_id=input_id(
                    input.caregiver_user_id, "User", ["input", "caregiverUserId"]
                ),
            )
            return {"link": t.CaregiverLink.from_row(link)}

        return await run_mutation(info, t.CaregiverLinkPayload, work)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="The elder consents to a caregiver (staff may record it on their "
        "behalf; audited).",
    )
    async def accept_caregiver(
        self, info: Info, input: t.CaregiverLinkInput
    ) -> t.CaregiverLinkPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            link = await service.accept_caregiver(
                s,
                info.context.principal,
                link_id=input_id(input.link_id, "CaregiverLink", ["input", "linkId"]),
            )
            return {"link": t.CaregiverLink.from_row(link)}

        return await run_mutation(info, t.CaregiverLinkPayload, work)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="The elder (or staff on their behalf) removes a caregiver, or a "
        "caregiver steps down; access ends at once.",
    )
    async def remove_caregiver(
        self, info: Info, input: t.CaregiverLinkInput
    ) -> t.CaregiverLinkPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            link = await service.remove_caregiver(
                s,
                info.context.principal,
                link_id=input_id(input.link_id, "CaregiverLink", ["input", "linkId"]),
            )
            return {"link": t.CaregiverLink.from_row(link)}

        return await run_mutation(info, t.CaregiverLinkPayload, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated], description="Staff only.")
    async def set_visit_cadence(self, info: Info, input: t.SetVisitCadenceInput) -> t.ElderPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            elder = await service.set_visit_cadence(
                s,
                info.context.principal,
                elder_id=input_id(input.elder_id, "Elder", ["input", "elderId"]),
                days=input.cadence.value if input.cadence is not None else None,
            )
            return {"elder": (await _elder_types(s, [elder]))[0]}

        return await run_mutation(info, t.ElderPayload, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated], description="Staff only.")
    async def log_visit(self, info: Info, input: t.LogVisitInput) -> t.VisitPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            visit = await service.log_visit(
                s,
                info.context.principal,
                elder_id=input_id(input.elder_id, "Elder", ["input", "elderId"]),
                visited_at=input.visited_at,
                visitor_user_id=(
                    input_id(input.visitor_id, "User", ["input", "visitorId"])
                    if input.visitor_id is not None
                    else None
                ),
                notes=input.notes,
                wellbeing=input.wellbeing.value,
            )
            return {"visit": t.Visit.from_row(visit)}

        return await run_mutation(info, t.VisitPayload, work)


# ---------------------------------------------------------------- careAlerts
async def _care_event(ctx: Context, user_id: int, event: dict[str, Any]) -> dt.AlertEvent | None:
    """Load the alarm of a bus event for one caregiver, if they still care for its elder
    (checked now, so a removal made a moment ago already holds)."""
    async with ctx.db.reader() as s:
        alarm = await s.get(Alarm, event["alarm_id"])
        if alarm is None:
            return None
        elder_ids = [alarm.elder_id] if alarm.elder_id is not None else []
        if alarm.unit_id is not None and not elder_ids:
            elder_ids = list(
                await s.scalars(select(Elder.id).where(Elder.unit_id == alarm.unit_id))
            )
        allowed = False
        for elder_id in elder_ids:
            if await repo.is_caregiver_of(s, user_id, elder_id):
                allowed = True
                break
        if not allowed:
            return None
        device = await s.get(Device, alarm.device_id) if alarm.device_id else None
        work_order = await s.scalar(select(WorkOrder).where(WorkOrder.alarm_id == alarm.id))
        node = dt.Alarm.from_row(alarm)
        node._device = dt.Device.from_row(device) if device is not None else None
        node._work_order = dt.WorkOrder.from_row(work_order) if work_order else None
        node._preloaded = True
    return dt.AlertEvent(
        kind=dt.AlertEventKind(event["kind"]), alarm=node, at=datetime.fromisoformat(event["at"])
    )


@subscription
@strawberry.type
class CareSubscription:
    @strawberry.subscription(
        description="Missed check-ins and help requests of the viewer's elders (and alarms "
        "of devices in their homes)."
    )
    async def care_alerts(self, info: Info) -> AsyncGenerator[dt.AlertEvent, None]:
        ctx: Context = info.context
        if ctx.principal.is_anonymous or ctx.principal.user_id is None:
            raise unauthenticated(info)
        user_id = ctx.principal.user_id
        # Events are addressed per caregiver when the alarm changes (domain.care.alerts),
        # so a caregiver's connection never sees, or filters, other elders' alarms.
        async with ctx.bus.listen(alerts.care_topic(user_id)) as events:
            async for event in events:
                item = await _care_event(ctx, user_id, event)
                if item is not None:
                    # Nested fields (elder, unit) load fresh for every event.
                    ctx.loaders.clear()
                    yield item
