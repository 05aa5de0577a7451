"""Devices, alarms, work orders and the live `alerts` subscription."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime, timedelta
from typing import Annotated, Any

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.bus import EventBus
from core.db import Database
from core.principal import Principal
from domain.alarms import repository as alarm_repo
from domain.alarms import service as alarm_service
from domain.alarms.models import SEVERITY_RANK, Alarm
from domain.devices import repository as device_repo
from domain.devices.models import Device
from domain.workorders import repository as wo_repo
from domain.workorders import service as wo_service
from domain.workorders.models import WorkOrder
from resolvers.base import (
    ClientError,
    IsAuthenticated,
    IsMember,
    IsStaff,
    connection,
    forbidden,
    input_id,
    page_args,
    parse_id,
    run_mutation,
    unauthenticated,
)
from resolvers.context import Context, Info
from resolvers.loaders import loader
from resolvers.node import loader_fetcher, node_type
from resolvers.roots import extra_types, mutation, query, share_subscription, subscription
from schema import devices as t
from schema.base import Connection

log = logging.getLogger("linli.alerts")


# ---------------------------------------------------------------- loaders
@loader("device")
async def load_devices(ctx: Context, ids: list[int]) -> list[t.Device | None]:
    async with ctx.reading() as s:
        rows = await device_repo.devices_by_ids(s, ctx.principal, ids)
    return [t.Device.from_row(rows[i]) if i in rows else None for i in ids]


@loader("alarm")
async def load_alarms(ctx: Context, ids: list[int]) -> list[t.Alarm | None]:
    async with ctx.reading() as s:
        rows = await alarm_repo.alarms_by_ids(s, ctx.principal, ids)
    return [t.Alarm.from_row(rows[i]) if i in rows else None for i in ids]


@loader("work_order")
async def load_work_orders(ctx: Context, ids: list[int]) -> list[t.WorkOrder | None]:
    async with ctx.reading() as s:
        rows = await wo_repo.work_orders_by_ids(s, ctx.principal, ids)
    return [t.WorkOrder.from_row(rows[i]) if i in rows else None for i in ids]


@loader("work_order_of_alarm")
async def load_work_orders_of_alarms(ctx: Context, ids: list[int]) -> list[t.WorkOrder | None]:
    async with ctx.reading() as s:
        rows = await wo_repo.work_orders_of_alarms(s, ctx.principal, ids)
    return [t.WorkOrder.from_row(rows[i]) if i in rows else None for i in ids]


node_type("Device")(loader_fetcher("device"))
node_type("Alarm")(loader_fetcher("alarm"))
node_type("WorkOrder")(loader_fetcher("work_order"))
extra_types(t.Device, t.Alarm, t.WorkOrder)


# ---------------------------------------------------------------- the alert feed
class AlertFeed:
    """One bus listener per community and process, however many subscribers: each event
    is loaded from the database once and the same `Alarm` object (device and work order
    preloaded) goes to every subscriber allowed to see it."""

    QUEUE = 256

    def __init__(self, bus: EventBus, db: Database) -> None:
        self._bus = bus
        self._db = db
        self._subs: dict[int, set[asyncio.Queue[tuple[str, t.Alarm, datetime]]]] = {}
        self._pumps: dict[int, asyncio.Task[None]] = {}
        self._ready: dict[int, asyncio.Event] = {}

    def count(self, community_id: int) -> int:
        return len(self._subs.get(community_id, ()))

    @contextlib.asynccontextmanager
    async def subscribe(
        self, community_id: int
    ) -> AsyncIterator[asyncio.Queue[tuple[str, t.Alarm, datetime]]]:
        queue: asyncio.Queue[tuple[str, t.Alarm, datetime]] = asyncio.Queue(self.QUEUE)
        self._subs.setdefault(community_id, set()).add(queue)
        if community_id not in self._pumps:
            ready = self._ready[community_id] = asyncio.Event()
            self._pumps[community_id] = asyncio.create_task(self._pump(community_id, ready))
        # Listening on the bus before the subscriber is told it is subscribed, so an
        # event published right after cannot slip past.
        await self._ready[community_id].wait()
        try:
            yield queue
        finally:
            subs = self._subs.get(community_id)
            if subs is not None:
                subs.discard(queue)
                if not subs:
                    del self._subs[community_id]
                    self._ready.pop(community_id, None)
                    task = self._pumps.pop(community_id, None)
                    if task is not None:
                        task.cancel()

    async def _pump(self, community_id: int, ready: asyncio.Event) -> None:
        topic = alarm_service.alerts_topic(community_id)
        async with self._bus.listen(topic) as events:
            ready.set()
            async for event in events:
                try:
                    item = await self._load(event)
                except Exception:
                    log.exception("loading alert %s failed", event.get("alarm_id"))
                    continue
                if item is None:
                    continue
                for queue in tuple(self._subs.get(community_id, ())):
                    if queue.full():
                        queue.get_nowait()  # a slow subscriber loses its oldest alert
                    queue.put_nowait(item)

    async def _load(self, event: dict[str, Any]) -> tuple[str, t.Alarm, datetime] | None:
        async with self._db.reader() as s:
            alarm = await s.get(Alarm, event["alarm_id"])
            if alarm is None:
                return None
            device = await s.get(Device, alarm.device_id) if alarm.device_id else None
            work_order = await s.scalar(select(WorkOrder).where(WorkOrder.alarm_id == alarm.id))
            node = t.Alarm.from_row(alarm)
            node._device = t.Device.from_row(device) if device is not None else None
            node._work_order = t.WorkOrder.from_row(work_order) if work_order else None
            node._preloaded = True
        return event["kind"], node, datetime.fromisoformat(event["at"])


def alert_feed(ctx: Context) -> AlertFeed:
    feed = ctx.services.extras.get("alert_feed")
    if feed is None:
        feed = ctx.services.extras["alert_feed"] = AlertFeed(ctx.bus, ctx.db)
    return feed


def _severity(value: t.Severity | None) -> str | None:
    return value.value if value is not None else None


# ---------------------------------------------------------------- roots
@query
@strawberry.type
class DevicesQuery:
    @strawberry.field(permission_classes=[IsStaff], description="Staff of the community.")
    async def devices(
        self,
        info: Info,
        community_id: strawberry.ID,
        kind: t.DeviceKind | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.Device]:
        limit, offset = page_args(info, first, after)
        cid = parse_id(info, community_id, "Community")
        async with info.context.reading() as s:
            rows, total = await device_repo.devices_page(
                s,
                info.context.principal,
                cid,
                kind=kind.value if kind else None,
                limit=limit,
                offset=offset,
            )
        return connection([t.Device.from_row(r) for r in rows], total, offset)

    @strawberry.field(
        permission_classes=[IsMember],
        description="Staff see every alarm of the community; residents those of their "
        "units, caregivers those of their elders.",
    )
    async def alarms(
        self,
        info: Info,
        community_id: strawberry.ID,
        status: t.AlarmStatus | None = None,
        min_severity: t.Severity | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.Alarm]:
        limit, offset = page_args(info, first, after)
        cid = parse_id(info, community_id, "Community")
        async with info.context.reading() as s:
            rows, total = await alarm_repo.alarms_page(
                s,
                info.context.principal,
                cid,
                status=status.value if status else None,
                min_severity=_severity(min_severity),
                limit=limit,
                offset=offset,
            )
        return connection([t.Alarm.from_row(r) for r in rows], total, offset)

    @strawberry.field(permission_classes=[IsStaff], description="Staff of the community.")
    async def work_orders(
        self,
        info: Info,
        community_id: strawberry.ID,
        status: t.WorkOrderStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.WorkOrder]:
        limit, offset = page_args(info, first, after)
        cid = parse_id(info, community_id, "Community")
        async with info.context.reading() as s:
            rows, total = await wo_repo.work_orders_page(
                s,
                info.context.principal,
                cid,
                status=status.value if status else None,
                limit=limit,
                offset=offset,
            )
        return connection([t.WorkOrder.from_row(r) for r in rows], total, offset)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Hourly min/max/avg/count of one metric over [from, to) (at most 366 "
        "days), with the peak and valley hours. Null for a device the viewer cannot see.",
    )
    async def device_usage(
        self,
        info: Info,
        device_id: strawberry.ID,
        metric: str,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> t.DeviceUsage | None:
        pk = parse_id(info, device_id, "Device")
        if to <= from_ or to - from_ > timedelta(days=366) or len(metric) > 64:
            raise ClientError("INVALID", "error.invalid", info.context.locale)
        device = await info.context.loaders.device.load(pk)
        if device is None:
            return None
        async with info.context.reading() as s:
            rows = await device_repo.usage(s, pk, metric, from_, to)
        hours = [
            t.UsageHour(
                hour=r.hour,
                min=r.min_value,
                max=r.max_value,
                avg=r.sum_value / r.count if r.count else 0.0,
                count=r.count,
            )
            for r in rows
        ]
        return t.DeviceUsage(
            metric=metric,
            hours=hours,
            peak=max(hours, key=lambda h: h.avg) if hours else None,
            valley=min(hours, key=lambda h: h.avg) if hours else None,
            consumption=(max(h.max for h in hours) - min(h.min for h in hours)) if hours else None,
        )


@mutation
@strawberry.type
class DevicesMutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Staff of the community; for an elder's alarm also her caregivers.",
    )
    async def acknowledge_alarm(self, info: Info, input: t.AlarmActionInput) -> t.AlarmPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            alarm = await alarm_service.acknowledge(
                s,
                info.context.principal,
                input_id(input.alarm_id, "Alarm", ["input", "alarmId"]),
                note=input.note,
            )
            return {"alarm": t.Alarm.from_row(alarm)}

        return await run_mutation(info, t.AlarmPayload, work)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Staff of the community; for an elder's alarm also her caregivers.",
    )
    async def clear_alarm(self, info: Info, input: t.AlarmActionInput) -> t.AlarmPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            alarm = await alarm_service.clear_by(
                s,
                info.context.principal,
                input_id(input.alarm_id, "Alarm", ["input", "alarmId"]),
                note=input.note,
            )
            return {"alarm": t.Alarm.from_row(alarm)}

        return await run_mutation(info, t.AlarmPayload, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated], description="Staff only.")
    async def update_work_order(
        self, info: Info, input: t.UpdateWorkOrderInput
    ) -> t.WorkOrderPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            wo = await wo_service.update_work_order(
                s,
                info.context.principal,
                work_order_id=input_id(input.work_order_id, "WorkOrder", ["input", "workOrderId"]),
                status=input.status.value if input.status else None,
                assignee_id=(
                    input_id(input.assignee_id, "User", ["input", "assigneeId"])
                    if input.assignee_id is not None
                    else None
                ),
                note=input.note,
            )
            return {"work_order": t.WorkOrder.from_row(wo)}

        return await run_mutation(info, t.WorkOrderPayload, work)


async def _audience(ctx: Context, community_id: int) -> tuple[bool, set[int], set[int]]:
    principal: Principal = ctx.principal
    if principal.is_staff(community_id):
        return True, set(), set()
    async with ctx.db.reader() as s:
        units = await device_repo.personal_unit_ids(s, principal)
        elders = await alarm_repo.personal_elder_ids(s, principal)
    return False, units, elders


# Staff subscribers of a community with the same document share one execution.
share_subscription("alerts")


@subscription
@strawberry.type
class DevicesSubscription:
    @strawberry.subscription(
        description="Alarm events of a community, for staff; caregivers get those of "
        "their elders' units."
    )
    async def alerts(
        self, info: Info, community_id: strawberry.ID, min_severity: t.Severity | None = None
    ) -> AsyncGenerator[t.AlertEvent, None]:
        ctx: Context = info.context
        if ctx.principal.is_anonymous:
            raise unauthenticated(info)
        cid = parse_id(info, community_id, "Community")
        if not ctx.principal.in_community(cid):
            raise forbidden(info)
        everything, units, elders = await _audience(ctx, cid)
        floor = SEVERITY_RANK[min_severity.value] if min_severity else 0
        async with alert_feed(ctx).subscribe(cid) as queue:
            while True:
                kind, alarm, at = await queue.get()
                if SEVERITY_RANK[alarm.severity.value] < floor:
                    continue
                if not everything and alarm._unit_id not in units and alarm._elder_id not in elders:
                    continue
                if not everything:
                    # Caregiver links (and tenancies) can end while subscribed: a
                    # caregiver removed by the elder must get nothing more, at once.
                    everything, units, elders = await _audience(ctx, cid)
                    if (
                        not everything
                        and alarm._unit_id not in units
                        and alarm._elder_id not in elders
                    ):
                        continue
                yield t.AlertEvent(kind=t.AlertEventKind(kind), alarm=alarm, at=at)
