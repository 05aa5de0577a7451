"""Work orders: opened by CRITICAL and MAJOR device alarms (one per alarm, however often
it repeats), dispatched to on-duty staff with the matching skill — nearest building
first, least open work next — due within the severity's SLA, escalated to the
community's managers when overdue."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.db import emit
from core.principal import Principal, Role
from domain.accounts.models import Building, Community, Membership
from domain.alarms import service as alarms
from domain.alarms.models import SEVERITY_RANK, Alarm
from domain.devices.models import Device
from domain.notifications.service import notify
from domain.workorders.errors import BadAssignee, BadTransition, WorkOrderNotFound
from domain.workorders.models import OPEN_STATUSES, DutyShift, StaffProfile, WorkOrder

SLA = {"CRITICAL": timedelta(minutes=30), "MAJOR": timedelta(hours=4)}
DISPATCHED_SEVERITIES = frozenset(SLA)
CATEGORY = "WORK_ORDER"

SKILL_BY_KIND = {
    "SMOKE_DETECTOR": "fire_safety",
    "GAS_DETECTOR": "fire_safety",
    "ELEVATOR": "elevator",
    "WATER_PUMP": "plumber",
    "WATER_METER": "plumber",
    "MANHOLE_COVER": "plumber",
    "TRANSFORMER": "electrician",
    "POWER_METER": "electrician",
    "EV_CHARGER": "electrician",
    "PARKING_GATE": "electrician",
    "DOOR_ACCESS": "electrician",
    "CAMERA": "electrician",
}

TRANSITIONS = {
    "OPEN": {"ASSIGNED", "CANCELLED"},
    "ASSIGNED": {"OPEN", "IN_PROGRESS", "DONE", "CANCELLED"},
    "IN_PROGRESS": {"ASSIGNED", "DONE", "CANCELLED"},
    "DONE": set(),
    "CANCELLED": set(),
}


def workorders_topic(community_id: int) -> str:
    return f"work_orders:{community_id}"


def _changed(session: AsyncSession, wo: WorkOrder) -> None:
    emit(session, workorders_topic(wo.community_id), {"work_order_id": wo.id, "status": wo.status})


async def on_alarm(session: AsyncSession, alarm: Alarm, kind: str) -> None:
    """Alarm listener: open (or tighten) the work order of a serious device alarm."""
    if kind not in (alarms.RAISED, alarms.UPDATED) or alarm.cleared_at is not None:
        return
    if alarm.device_id is None or alarm.severity not in DISPATCHED_SEVERITIES:
        return
    existing = await session.scalar(select(WorkOrder).where(WorkOrder.alarm_id == alarm.id))
    if existing is not None:
        if SEVERITY_RANK[alarm.severity] > SEVERITY_RANK[existing.severity]:
            # The alarm got worse: the tighter SLA applies from the order's creation.
            existing.severity = alarm.severity
            due = existing.created_at + SLA[alarm.severity]
            if existing.due_at is None or due < existing.due_at:
                existing.due_at = due
            _changed(session, existing)
        return
    device = await session.get(Device, alarm.device_id)
    if device is None:
        return
    now = utcnow()
    wo = WorkOrder(
        community_id=alarm.community_id,
        alarm_id=alarm.id,
        building_id=device.building_id,
        title=f"{alarm.type} · {device.code}"
        + (f" · {device.location}" if device.location else ""),
        skill=SKILL_BY_KIND.get(device.kind),
        severity=alarm.severity,
        created_at=now,
        due_at=now + SLA[alarm.severity],
    )
    try:
        # One work order per alarm, enforced by the unique alarm_id.
        async with session.begin_nested():
            session.add(wo)
            await session.flush()
    except IntegrityError:
        return
    await dispatch(session, wo, now=now)


def on_duty(shift: DutyShift, local: datetime) -> bool:
    minute = local.hour * 60 + local.minute
    weekday = local.weekday()
    if shift.start_minute <= shift.end_minute:
        return (shift.weekday is None or shift.weekday == weekday) and (
            shift.start_minute <= minute < shift.end_minute
        )
    # Past midnight: the evening part belongs to `weekday`, the morning to the next day.
    if minute >= shift.start_minute:
        return shift.weekday is None or shift.weekday == weekday
    if minute < shift.end_minute:
        return shift.weekday is None or shift.weekday == (weekday - 1) % 7
    return False


async def on_duty_staff(session: AsyncSession, community_id: int, now: datetime) -> list[int]:
    tz = await session.scalar(select(Community.time_zone).where(Community.id == community_id))
    local = now.astimezone(ZoneInfo(tz or "Asia/Shanghai"))
    staff = set(
        await session.scalars(
            select(Membership.user_id).where(
                Membership.community_id == community_id,
                Membership.role.in_((Role.STAFF.value, Role.MANAGER.value)),  # type: ignore[attr-defined]
            )
        )
    )
    shifts = await session.scalars(select(DutyShift).where(DutyShift.community_id == community_id))
    return sorted({s.user_id for s in shifts if s.user_id in staff and on_duty(s, local)})


async def _open_load(session: AsyncSession, user_ids: list[int]) -> dict[int, int]:
    rows = await session.execute(
        select(WorkOrder.assignee_id, func.count())
        .where(
            WorkOrder.assignee_id.in_(user_ids),  # type: ignore[union-attr]
            WorkOrder.status.in_(OPEN_STATUSES),  # type: ignore[attr-defined]
        )
        .group_by(WorkOrder.assignee_id)
    )
    return {uid: n for uid, n in rows.tuples() if uid is not None}


async def choose_assignee(session: AsyncSession, wo: WorkOrder, now: datetime) -> int | None:
    duty = await on_duty_staff(session, wo.community_id, now)
    if not duty:
        return None
    profiles = {
        p.user_id: p
        for p in await session.scalars(
            select(StaffProfile).where(
                StaffProfile.community_id == wo.community_id,
                StaffProfile.user_id.in_(duty),  # type: ignore[attr-defined]
            )
        )
    }

    def skills(uid: int) -> list[str]:
        profile = profiles.get(uid)
        return profile.skills if profile else []

    skilled = [u for u in duty if wo.skill is None or wo.skill in skills(u)]
    if not skilled:
        return None
    positions = {
        b.id: (b.x_m, b.y_m)
        for b in await session.scalars(
            select(Building).where(Building.community_id == wo.community_id)
        )
    }
    target = positions.get(wo.building_id) if wo.building_id else None
    load = await _open_load(session, skilled)

    def distance(uid: int) -> float:
        profile = profiles.get(uid)
        base = (
            positions.get(profile.base_building_id)
            if profile and profile.base_building_id
            else None
        )
        if target is None or base is None:
            return 0.0
        return math.dist(target, base)

    return min(skilled, key=lambda u: (distance(u), load.get(u, 0), u))


async def _managers(session: AsyncSession, community_id: int) -> list[int]:
    return list(
        await session.scalars(
            select(Membership.user_id).where(
                Membership.community_id == community_id, Membership.role == Role.MANAGER.value
            )
        )
    )


def _due_text(wo: WorkOrder, tz: str) -> str:
    return wo.due_at.astimezone(ZoneInfo(tz)).strftime("%H:%M") if wo.due_at else "-"


async def _tz(session: AsyncSession, community_id: int) -> str:
    tz = await session.scalar(select(Community.time_zone).where(Community.id == community_id))
    return tz or "Asia/Shanghai"


async def dispatch(session: AsyncSession, wo: WorkOrder, *, now: datetime) -> None:
    assignee = await choose_assignee(session, wo, now)
    tz = await _tz(session, wo.community_id)
    data = {"workOrderId": wo.id, "alarmId": wo.alarm_id}
    severity = "CRITICAL" if wo.severity == "CRITICAL" else "NORMAL"
    if assignee is None:
        await notify(
            session,
            user_ids=await _managers(session, wo.community_id),
            category=CATEGORY,
            title_key="workorders.notify.unassigned_title",
            body_key="workorders.notify.unassigned_body",
            params={"title": wo.title},
            data=data,
            severity=severity,
            community_id=wo.community_id,
        )
    else:
        wo.assignee_id = assignee
        wo.status = "ASSIGNED"
        await notify(
            session,
            user_ids=[assignee],
            category=CATEGORY,
            title_key="workorders.notify.assigned_title",
            body_key="workorders.notify.assigned_body",
            params={"title": wo.title, "location": wo.title, "due": _due_text(wo, tz)},
            data=data,
            severity=severity,
            community_id=wo.community_id,
        )
    await session.flush()
    _changed(session, wo)


async def sweep_overdue(session: AsyncSession, *, now: datetime, limit: int = 200) -> int:
    """Escalate each overdue open work order to the community's managers, once."""
    rows = list(
        await session.scalars(
            select(WorkOrder)
            .where(
                WorkOrder.status.in_(OPEN_STATUSES),  # type: ignore[attr-defined]
                WorkOrder.due_at < now,  # type: ignore[operator]
                WorkOrder.escalated_at.is_(None),  # type: ignore[union-attr]
            )
            .order_by(WorkOrder.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for wo in rows:
        wo.escalated_at = now
        tz = await _tz(session, wo.community_id)
        await notify(
            session,
            user_ids=await _managers(session, wo.community_id),
            category=CATEGORY,
            title_key="workorders.notify.overdue_title",
            body_key="workorders.notify.overdue_body",
            params={"title": wo.title, "due": _due_text(wo, tz), "status": wo.status},
            data={"workOrderId": wo.id, "alarmId": wo.alarm_id},
            severity="CRITICAL" if wo.severity == "CRITICAL" else "HIGH",
            community_id=wo.community_id,
        )
        if wo.alarm_id is not None:
            alarm = await session.get(Alarm, wo.alarm_id)
            if alarm is not None and alarm.cleared_at is None:
                # Level 1: the manager now has it, not only the assignee.
                alarm.escalation_level = max(alarm.escalation_level, 1)
                await alarms.publish_change(session, alarm, alarms.UPDATED)
        _changed(session, wo)
    return len(rows)


async def _is_staff_member(session: AsyncSession, user_id: int, community_id: int) -> bool:
    found = await session.scalar(
        select(Membership.id).where(
            Membership.user_id == user_id,
            Membership.community_id == community_id,
            Membership.role.in_((Role.STAFF.value, Role.MANAGER.value)),  # type: ignore[attr-defined]
        )
    )
    return found is not None


async def update_work_order(
    session: AsyncSession,
    principal: Principal,
    *,
    work_order_id: int,
    status: str | None = None,
    assignee_id: int | None = None,
    note: str | None = None,
) -> WorkOrder:
    wo = await session.scalar(
        select(WorkOrder).where(WorkOrder.id == work_order_id).with_for_update()
    )
    if wo is None or not principal.is_staff(wo.community_id):
        raise WorkOrderNotFound(field=["input", "workOrderId"])
    now = utcnow()
    if assignee_id is not None and assignee_id != wo.assignee_id:
        if wo.status not in OPEN_STATUSES:
            raise BadTransition(field=["input", "assigneeId"], current=wo.status, wanted="ASSIGNED")
        if not await _is_staff_member(session, assignee_id, wo.community_id):
            raise BadAssignee(field=["input", "assigneeId"])
        wo.assignee_id = assignee_id
        if wo.status == "OPEN" and status is None:
            status = "ASSIGNED"
        tz = await _tz(session, wo.community_id)
        await notify(
            session,
            user_ids=[assignee_id],
            category=CATEGORY,
            title_key="workorders.notify.assigned_title",
            body_key="workorders.notify.assigned_body",
            params={"title": wo.title, "location": wo.title, "due": _due_text(wo, tz)},
            data={"workOrderId": wo.id, "alarmId": wo.alarm_id},
            community_id=wo.community_id,
        )
    if status is not None and status != wo.status:
        if status not in TRANSITIONS[wo.status]:
            raise BadTransition(field=["input", "status"], current=wo.status, wanted=status)
        if status in ("ASSIGNED", "IN_PROGRESS") and wo.assignee_id is None:
            raise BadTransition(field=["input", "status"], current=wo.status, wanted=status)
        if status == "OPEN":
            wo.assignee_id = None
        wo.status = status
        if status in ("DONE", "CANCELLED"):
            wo.closed_at = now
    if note:
        wo.notes = [
            *wo.notes,
            {"at": now.isoformat(), "by": principal.user_id, "text": note[:1000]},
        ]
    await session.flush()
    _changed(session, wo)
    return wo


alarms.register_alarm_listener(on_alarm)
