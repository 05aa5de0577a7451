"""Care alarms on the shared alarm model: missed check-ins, help requests, escalation.

- A window judged missed raises CHECK_IN_MISSED (MAJOR) with the elder as originator and
  tells level 0 of the chain; unacknowledged after that level's timeout the escalation
  sweep tells the next level (caregivers in order, then the on-duty staff), raising the
  alarm's `escalation_level`.
- NEED_HELP raises HELP_REQUESTED (CRITICAL) and tells the whole chain and the on-duty
  staff at once.
- Acknowledging a care alarm (`acknowledgeAlarm`) stops its escalation; clearing it (a
  late check-in, or by hand) sends "all clear" to everyone who was told.
- Alarms of devices in an elder's unit (smoke, gas) also go to the elder's caregivers.
- Every change of an alarm that concerns an elder is published to each of that elder's
  consented caregivers on the bus topic `care_alerts:<user_id>` (the `careAlerts`
  subscription), decided at the moment of the change: a caregiver removed a moment ago
  gets nothing more.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.db import emit
from domain.accounts.models import Community, User
from domain.alarms import service as alarms
from domain.alarms.models import Alarm
from domain.care import repository as repo
from domain.care import schedule
from domain.care.models import CareEscalation, CaregiverLink, CheckInPlan, Elder
from domain.notifications.service import notify

MISSED = "CHECK_IN_MISSED"
HELP = "HELP_REQUESTED"
CARE_TYPES = (MISSED, HELP)
DEFAULT_ACK_TIMEOUT = 15


# ---------------------------------------------------------------- per-transaction cache
# A sweep handles hundreds of elders in one transaction: who cares for them, their
# names and the community's staff are read once per batch (`_prefetch`) and kept on
# the session for the rest of that transaction only.
def _cache(session: AsyncSession, name: str) -> dict[Any, Any]:
    store: dict[str, dict[Any, Any]] = session.info.setdefault("care_cache", {})
    return store.setdefault(name, {})


async def _caregivers(session: AsyncSession, elder_id: int) -> list[int]:
    cache = _cache(session, "caregivers")
    if elder_id not in cache:
        cache[elder_id] = await repo.caregivers_in_order(session, elder_id)
    return list(cache[elder_id])


async def _staff(session: AsyncSession, community_id: int) -> list[int]:
    cache = _cache(session, "staff")
    if community_id not in cache:
        cache[community_id] = await repo.staff_of_community(session, community_id)
    return list(cache[community_id])


async def _on_duty(session: AsyncSession, community_id: int, now: datetime) -> list[int]:
    cache = _cache(session, "on_duty")
    key = (community_id, now)
    if key not in cache:
        cache[key] = await repo.on_duty_staff(session, community_id, at=now)
    return list(cache[key])


async def _prefetch(session: AsyncSession, elders: list[Elder]) -> None:
    ids = [e.id for e in elders if e.id is not None and e.id not in _cache(session, "caregivers")]
    if ids:
        found: dict[int, list[int]] = {i: [] for i in ids}
        rows = await session.execute(
            select(CaregiverLink.elder_id, CaregiverLink.caregiver_user_id)
            .where(CaregiverLink.elder_id.in_(ids), *repo.active_link_filter())  # type: ignore[attr-defined]
            .order_by(CaregiverLink.elder_id, CaregiverLink.position, CaregiverLink.id)
        )
        for elder_id, user_id in rows.all():
            found[elder_id].append(user_id)
        _cache(session, "caregivers").update(found)
    names = _cache(session, "names")
    user_ids = [e.user_id for e in elders if e.user_id not in names]
    if user_ids:
        rows = await session.execute(
            select(User.id, User.display_name).where(User.id.in_(user_ids))  # type: ignore[union-attr]
        )
        names.update(dict(rows.all()))


def care_topic(user_id: int) -> str:
    return f"care_alerts:{user_id}"


def ack_timeout(plan: CheckInPlan | None, level: int) -> timedelta:
    timeouts = (plan.ack_timeout_minutes if plan is not None else None) or [DEFAULT_ACK_TIMEOUT]
    return timedelta(minutes=timeouts[min(level, len(timeouts) - 1)])


async def escalation_chain(
    session: AsyncSession, plan: CheckInPlan | None, elder: Elder
) -> list[int]:
    """Who is called on, in order, before the on-duty staff: the plan's explicit chain
    (or, without one, the caregivers in the order the elder gave) restricted to people
    who may still be called — a caregiver removed since is skipped."""
    assert elder.id is not None
    caregivers = await _caregivers(session, elder.id)
    explicit = plan.escalation_user_ids if plan is not None else []
    if not explicit:
        return caregivers
    staff = set(await _staff(session, elder.community_id))
    allowed = set(caregivers) | staff
    return [u for u in explicit if u in allowed]


async def level_recipients(
    session: AsyncSession, elder: Elder, plan: CheckInPlan | None, level: int, *, now: datetime
) -> tuple[list[int], bool]:
    """The people of one level, and whether it is the last (the on-duty staff)."""
    chain = await escalation_chain(session, plan, elder)
    if level < len(chain):
        return [chain[level]], False
    return await _on_duty(session, elder.community_id, now), True


async def _name(session: AsyncSession, user_id: int) -> str:
    names = _cache(session, "names")
    if user_id not in names:
        user = await session.get(User, user_id)
        names[user_id] = user.display_name if user is not None else ""
    return str(names[user_id])


async def _tell(
    session: AsyncSession,
    alarm: Alarm,
    elder: Elder,
    user_ids: list[int],
    *,
    title_key: str,
    body_key: str,
    params: dict[str, Any] | None = None,
    severity: str = "CRITICAL",
) -> None:
    """Tell people about a care alarm. Alarms are CRITICAL pushes by default: an
    escalation chain only works if the person called is reached at once, so quiet
    hours and the hourly push limit must not hold them back."""
    if not user_ids:
        return
    await notify(
        session,
        user_ids=user_ids,
        category="CARE_ALERT",
        title_key=title_key,
        body_key=body_key,
        params={"elder": await _name(session, elder.user_id), **(params or {})},
        data={
            "alarmId": alarm.id,
            "elderId": elder.id,
            "type": alarm.type,
            "level": alarm.escalation_level,
        },
        severity=severity,
        community_id=elder.community_id,
    )


# ---------------------------------------------------------------- raising
async def raise_missed(
    session: AsyncSession,
    elder: Elder,
    plan: CheckInPlan,
    *,
    window_start: datetime,
    due: datetime,
    window_label: str,
    now: datetime,
) -> Alarm:
    assert elder.id is not None
    alarm, kind = await alarms.raise_alarm(
        session,
        community_id=elder.community_id,
        type=MISSED,
        severity="MAJOR",
        elder_id=elder.id,
        unit_id=elder.unit_id,
        details={"window": window_label, "windowStart": window_start.isoformat()},
        at=now,
    )
    if kind == alarms.RAISED:
        # Still open from an earlier window: that escalation carries on, no restart.
        recipients, final = await level_recipients(session, elder, plan, 0, now=now)
        session.add(
            CareEscalation(
                alarm_id=alarm.id,  # type: ignore[arg-type]
                elder_id=elder.id,
                level=0,
                next_at=None if final else now + ack_timeout(plan, 0),
                alerted=recipients,
            )
        )
        await _tell(
            session,
            alarm,
            elder,
            recipients,
            title_key="care.missed.title",
            body_key="care.missed.body",
            params={"window": window_label},
        )
        await session.flush()
    return alarm


async def raise_help(
    session: AsyncSession,
    elder: Elder,
    plan: CheckInPlan | None,
    *,
    now: datetime,
    note: str | None,
) -> Alarm:
    assert elder.id is not None
    # A help request supersedes a missed check-in: the elder is alive and needs help.
    missed = await alarms.open_alarm(session, alarms.originator_of(None, elder.id, None), MISSED)
    if missed is not None:
        missed.details = {**missed.details, "supersededByHelp": True}
        await alarms.clear_alarm(session, missed, note="help requested")
    alarm, kind = await alarms.raise_alarm(
        session,
        community_id=elder.community_id,
        type=HELP,
        severity="CRITICAL",
        elder_id=elder.id,
        unit_id=elder.unit_id,
        details={"note": note} if note else None,
        at=now,
    )
    esc = await _escalation_of(session, alarm.id)
    if kind == alarms.RAISED or esc is None or alarm.acknowledged_at is None:
        chain = await escalation_chain(session, plan, elder)
        staff = await _on_duty(session, elder.community_id, now)
        everyone = list(dict.fromkeys([*chain, *staff]))
        if esc is None:
            esc = CareEscalation(alarm_id=alarm.id, elder_id=elder.id, level=0, alerted=[])  # type: ignore[arg-type]
            session.add(esc)
        esc.alerted = sorted(set(esc.alerted) | set(everyone))
        esc.next_at = None  # everyone is told at once: nothing left to escalate
        await _tell(
            session, alarm, elder, everyone, title_key="care.help.title", body_key="care.help.body"
        )
        await session.flush()
    return alarm


async def _escalation_of(
    session: AsyncSession, alarm_id: int | None, *, lock: bool = False
) -> CareEscalation | None:
    q = select(CareEscalation).where(CareEscalation.alarm_id == alarm_id)
    if lock:
        q = q.with_for_update()
    found: CareEscalation | None = await session.scalar(q)
    return found


async def on_check_in(
    session: AsyncSession,
    elder: Elder,
    plan: CheckInPlan | None,
    *,
    kind: str,
    note: str | None,
    by: int,
) -> None:
    """A check-in clears an open missed-check-in alarm (late check-in: "all clear");
    NEED_HELP raises the help alarm."""
    now = utcnow()
    if kind == "NEED_HELP":
        await raise_help(session, elder, plan, now=now, note=note)
        return
    assert elder.id is not None
    missed = await alarms.open_alarm(session, alarms.originator_of(None, elder.id, None), MISSED)
    if missed is not None:
        await alarms.clear_alarm(session, missed, by=by, note="checked in")


# ---------------------------------------------------------------- listener
async def on_alarm_change(session: AsyncSession, alarm: Alarm, kind: str) -> None:
    """Runs in the transaction of every alarm change (domain.alarms)."""
    elders: list[Elder] = []
    if alarm.elder_id is not None:
        elder = await session.get(Elder, alarm.elder_id)
        if elder is not None:
            elders.append(elder)
    elif alarm.unit_id is not None:
        elders = list(await session.scalars(select(Elder).where(Elder.unit_id == alarm.unit_id)))
    if not elders:
        return
    if alarm.type in CARE_TYPES and alarm.elder_id is not None:
        if kind in (alarms.ACKNOWLEDGED, alarms.CLEARED):
            esc = await _escalation_of(session, alarm.id, lock=True)
            if esc is not None:
                esc.next_at = None
                if kind == alarms.CLEARED and not alarm.details.get("supersededByHelp"):
                    await _tell(
                        session,
                        alarm,
                        elders[0],
                        list(esc.alerted),
                        title_key="care.allclear.title",
                        body_key="care.allclear.body",
                        severity="HIGH",
                    )
    elif alarm.device_id is not None and kind == alarms.RAISED:
        # A device alarm in an elder's home: their caregivers hear of it too.
        for elder in elders:
            assert elder.id is not None
            await _tell(
                session,
                alarm,
                elder,
                await _caregivers(session, elder.id),
                title_key="care.device.title",
                body_key="care.device.body",
                severity="CRITICAL" if alarm.severity in ("CRITICAL", "MAJOR") else "HIGH",
                params={"type": alarm.type},
            )
    payload = alarms.event_payload(alarm, kind, utcnow())
    for elder in elders:
        assert elder.id is not None
        for caregiver in await _caregivers(session, elder.id):
            emit(session, care_topic(caregiver), payload)


alarms.register_alarm_listener(on_alarm_change)


# ---------------------------------------------------------------- sweeps
async def sweep_missed_check_ins(session: AsyncSession, *, now: datetime, batch: int = 500) -> int:
    """Judge every window whose end plus grace has passed; raise CHECK_IN_MISSED for
    those without a check-in since the window opened. Plans are claimed with
    FOR UPDATE SKIP LOCKED and moved on to their next window in the same transaction,
    so concurrent sweeps (several instances) judge each window exactly once.
    Returns the number of plans claimed (a full batch means: run again)."""
    plans = list(
        await session.scalars(
            select(CheckInPlan)
            .where(CheckInPlan.next_due_at <= now)  # type: ignore[operator]
            .order_by(CheckInPlan.next_due_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    )
    if not plans:
        return 0
    elders = {
        e.id: e
        for e in await session.scalars(
            select(Elder).where(Elder.id.in_([p.elder_id for p in plans]))  # type: ignore[union-attr]
        )
    }
    await _prefetch(
        session,
        [
            elders[p.elder_id]
            for p in plans
            if p.last_check_in_at is None or p.last_check_in_at < (p.next_window_start or now)
        ],
    )
    zones = {
        c.id: c.time_zone
        for c in await session.scalars(
            select(Community).where(Community.id.in_({p.community_id for p in plans}))  # type: ignore[union-attr]
        )
    }
    for plan in plans:
        elder = elders[plan.elder_id]
        start, due = plan.next_window_start, plan.next_due_at
        assert start is not None and due is not None
        tz = zones[plan.community_id]
        paused = plan.paused_until is not None and plan.paused_until > due
        checked = plan.last_check_in_at is not None and plan.last_check_in_at >= start
        if not paused and not checked:
            await raise_missed(
                session,
                elder,
                plan,
                window_start=start,
                due=due,
                window_label=_label(plan, start, tz),
                now=now,
            )
        occ = schedule.next_occurrence(plan.windows, plan.grace_minutes, tz, after=max(now, due))
        plan.next_window_start = occ.start if occ else None
        plan.next_due_at = occ.due if occ else None
    await session.flush()
    return len(plans)


def _label(plan: CheckInPlan, start: datetime, tz: str) -> str:
    from zoneinfo import ZoneInfo

    local = start.astimezone(ZoneInfo(tz)).strftime("%H:%M")
    for w in plan.windows:
        if w["start"] == local:
            return f"{w['start']}–{w['end']}"
    return local


async def sweep_escalations(session: AsyncSession, *, now: datetime, batch: int = 500) -> int:
    """Move every unacknowledged care alarm whose level timed out to the next level.
    Returns the number of escalation rows claimed."""
    rows = list(
        await session.scalars(
            select(CareEscalation)
            .where(CareEscalation.next_at <= now)  # type: ignore[operator]
            .order_by(CareEscalation.next_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    )
    if not rows:
        return 0
    # Alarms being acknowledged right now are skipped (not waited for): the
    # acknowledgement locks the alarm, then this row, so waiting here could deadlock.
    by_id = {
        a.id: a
        for a in await session.scalars(
            select(Alarm)
            .where(Alarm.id.in_([e.alarm_id for e in rows]))  # type: ignore[union-attr]
            .with_for_update(skip_locked=True)
        )
    }
    elders = {
        e.id: e
        for e in await session.scalars(
            select(Elder).where(Elder.id.in_({e.elder_id for e in rows}))  # type: ignore[union-attr]
        )
    }
    plans = await repo.plans_by_elder_ids(session, list(elders))
    await _prefetch(session, list(elders.values()))
    for esc in rows:
        alarm = by_id.get(esc.alarm_id)
        if alarm is None:
            continue
        if alarm.cleared_at is not None or alarm.acknowledged_at is not None:
            esc.next_at = None
            continue
        elder = elders[esc.elder_id]
        plan = plans.get(esc.elder_id)
        level = esc.level + 1
        recipients, final = await level_recipients(session, elder, plan, level, now=now)
        esc.level = level
        esc.alerted = sorted(set(esc.alerted) | set(recipients))
        esc.next_at = None if final else now + ack_timeout(plan, level)
        alarm.escalation_level = level
        await alarms.publish_change(session, alarm, alarms.UPDATED)
        await _tell(
            session,
            alarm,
            elder,
            recipients,
            title_key="care.missed.title" if alarm.type == MISSED else "care.help.title",
            body_key="care.missed.body" if alarm.type == MISSED else "care.help.body",
            params={"window": alarm.details.get("window", "")},
        )
    await session.flush()
    return len(rows)


async def open_care_alarm_types(session: AsyncSession, elder_ids: list[int]) -> dict[int, set[str]]:
    if not elder_ids:
        return {}
    rows = await session.execute(
        select(Alarm.elder_id, Alarm.type).where(
            Alarm.elder_id.in_(elder_ids),  # type: ignore[union-attr]
            Alarm.type.in_(CARE_TYPES),  # type: ignore[attr-defined]
            Alarm.cleared_at.is_(None),  # type: ignore[union-attr]
        )
    )
    out: dict[int, set[str]] = {}
    for elder_id, type_ in rows.all():
        out.setdefault(elder_id, set()).add(type_)
    return out
