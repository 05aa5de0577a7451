"""The alarm lifecycle: raise (or fold a repeat into the open alarm), acknowledge, clear.

Every change runs the registered listeners inside the same transaction (work orders,
elder care's caregiver routing) and is published on the bus topic
`alerts:<community_id>` after commit, for the `alerts` and `careAlerts` subscriptions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.db import emit
from core.principal import Principal
from domain.alarms.errors import AlarmNotFound
from domain.alarms.models import SEVERITIES, SEVERITY_RANK, Alarm
from domain.care.models import Elder
from domain.care.repository import is_caregiver_of

AlarmListener = Callable[[AsyncSession, Alarm, str], Awaitable[None]]
_listeners: list[AlarmListener] = []

RAISED, UPDATED, ACKNOWLEDGED, CLEARED = "RAISED", "UPDATED", "ACKNOWLEDGED", "CLEARED"


def register_alarm_listener(fn: AlarmListener) -> AlarmListener:
    """`async def fn(session, alarm, kind)`, run in the transaction of every change."""
    if fn not in _listeners:
        _listeners.append(fn)
    return fn


def alerts_topic(community_id: int) -> str:
    return f"alerts:{community_id}"


def originator_of(device_id: int | None, elder_id: int | None, unit_id: int | None) -> str:
    if device_id is not None:
        return f"device:{device_id}"
    if elder_id is not None:
        return f"elder:{elder_id}"
    if unit_id is not None:
        return f"unit:{unit_id}"
    raise ValueError("an alarm needs an originator: a device, an elder or a unit")


def event_payload(alarm: Alarm, kind: str, at: datetime) -> dict[str, Any]:
    """What the bus carries: ids and the fields subscribers filter on (small enough for
    PostgreSQL NOTIFY); subscribers load the alarm itself."""
    return {
        "kind": kind,
        "alarm_id": alarm.id,
        "community_id": alarm.community_id,
        "device_id": alarm.device_id,
        "elder_id": alarm.elder_id,
        "unit_id": alarm.unit_id,
        "type": alarm.type,
        "severity": alarm.severity,
        "status": alarm.status,
        "at": at.isoformat(),
    }


async def publish_change(session: AsyncSession, alarm: Alarm, kind: str) -> None:
    """Run the listeners now and publish the event after commit. Other capabilities call
    it after changing an alarm themselves (elder care raising the escalation level)."""
    await session.flush()
    for listener in list(_listeners):
        await listener(session, alarm, kind)
    emit(session, alerts_topic(alarm.community_id), event_payload(alarm, kind, utcnow()))


async def open_alarm(
    session: AsyncSession, originator: str, type: str, *, lock: bool = True
) -> Alarm | None:
    stmt = select(Alarm).where(
        Alarm.originator == originator,
        Alarm.type == type,
        Alarm.cleared_at.is_(None),  # type: ignore[union-attr]
    )
    if lock:
        stmt = stmt.with_for_update()
    return (await session.scalars(stmt)).first()


def _fold(alarm: Alarm, severity: str, details: dict[str, Any] | None, now: datetime) -> None:
    alarm.occurrences += 1
    alarm.last_seen_at = now
    # Severity only rises while the alarm is active.
    if SEVERITY_RANK[severity] > SEVERITY_RANK[alarm.severity]:
        alarm.severity = severity
    if details:
        merged = {**alarm.details, **details}
        value, peak = details.get("value"), alarm.details.get("peak")
        if isinstance(value, int | float) and isinstance(peak, int | float):
            low = details.get("direction") == "low"
            merged["peak"] = min(peak, value) if low else max(peak, value)
        alarm.details = merged


async def raise_alarm(
    session: AsyncSession,
    *,
    community_id: int,
    type: str,
    severity: str,
    device_id: int | None = None,
    elder_id: int | None = None,
    unit_id: int | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> tuple[Alarm, str]:
    """Raise an alarm, or fold this occurrence into the open one of the same originator
    and type. Returns the alarm and "RAISED" or "UPDATED"."""
    if severity not in SEVERITY_RANK:
        raise ValueError(f"unknown severity {severity!r}")
    now = at or utcnow()
    originator = originator_of(device_id, elder_id, unit_id)
    alarm = await open_alarm(session, originator, type)
    kind = UPDATED
    if alarm is None:
        start = dict(details or {})
        if isinstance(start.get("value"), int | float):
            start.setdefault("peak", start["value"])
        alarm = Alarm(
            community_id=community_id,
            device_id=device_id,
            elder_id=elder_id,
            unit_id=unit_id,
            originator=originator,
            type=type,
            severity=severity,
            started_at=now,
            last_seen_at=now,
            details=start,
        )
        try:
            # A concurrent raise of the same alarm loses on the unique partial index;
            # the savepoint lets us fold into the winner instead of failing.
            async with session.begin_nested():
                session.add(alarm)
                await session.flush()
            kind = RAISED
        except IntegrityError:
            found = await open_alarm(session, originator, type)
            if found is None:
                raise
            alarm = found
            _fold(alarm, severity, details, now)
    else:
        _fold(alarm, severity, details, now)
    await publish_change(session, alarm, kind)
    return alarm, kind


async def clear_alarm(
    session: AsyncSession, alarm: Alarm, *, by: int | None = None, note: str | None = None
) -> Alarm:
    if alarm.cleared_at is not None:
        return alarm
    alarm.cleared_at = utcnow()
    alarm.cleared_by = by
    alarm.status = "CLEARED_ACK" if alarm.status == "ACTIVE_ACK" else "CLEARED_UNACK"
    if note:
        alarm.details = {**alarm.details, "clear_note": note[:500]}
    await publish_change(session, alarm, CLEARED)
    return alarm


async def may_act_on(session: AsyncSession, principal: Principal, alarm: Alarm) -> bool:
    """Staff of the alarm's community; for an elder's alarm (or one in an elder's unit)
    also the elder's consented caregivers."""
    if principal.user_id is None:
        return False
    if principal.is_staff(alarm.community_id):
        return True
    elder_ids: list[int] = []
    if alarm.elder_id is not None:
        elder_ids.append(alarm.elder_id)
    if alarm.unit_id is not None:
        rows = await session.scalars(select(Elder.id).where(Elder.unit_id == alarm.unit_id))
        elder_ids.extend(rows)
    for elder_id in elder_ids:
        if await is_caregiver_of(session, principal.user_id, elder_id):
            return True
    return False


async def _actionable(session: AsyncSession, principal: Principal, alarm_id: int) -> Alarm:
    alarm = await session.scalar(select(Alarm).where(Alarm.id == alarm_id).with_for_update())
    # An alarm the caller may not act on is reported as absent: existence is not revealed.
    if alarm is None or not await may_act_on(session, principal, alarm):
        raise AlarmNotFound(field=["input", "alarmId"])
    return alarm


async def acknowledge(
    session: AsyncSession, principal: Principal, alarm_id: int, note: str | None = None
) -> Alarm:
    alarm = await _actionable(session, principal, alarm_id)
    if alarm.acknowledged_at is not None:
        return alarm  # acknowledging twice changes nothing
    alarm.acknowledged_at = utcnow()
    alarm.acknowledged_by = principal.user_id
    alarm.status = "CLEARED_ACK" if alarm.cleared_at is not None else "ACTIVE_ACK"
    if note:
        alarm.details = {**alarm.details, "ack_note": note[:500]}
    await publish_change(session, alarm, ACKNOWLEDGED)
    return alarm


async def clear_by(
    session: AsyncSession, principal: Principal, alarm_id: int, note: str | None = None
) -> Alarm:
    """A person clears an alarm by hand (the cause is dealt with)."""
    alarm = await _actionable(session, principal, alarm_id)
    return await clear_alarm(session, alarm, by=principal.user_id, note=note)


def severity_at_least(severity: str, minimum: str | None) -> bool:
    return minimum is None or SEVERITY_RANK[severity] >= SEVERITY_RANK[minimum]


__all__ = [
    "ACKNOWLEDGED",
    "CLEARED",
    "RAISED",
    "SEVERITIES",
    "UPDATED",
    "acknowledge",
    "clear_alarm",
    "clear_by",
    "raise_alarm",
    "register_alarm_listener",
]
