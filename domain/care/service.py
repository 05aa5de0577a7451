"""Elder care rules: profiles, caregiver consent, check-in plans, check-ins, visits.

Who may act for an elder:
- the elder themselves;
- a caregiver the elder consented to (and has not removed) — checked in the database
  on every call, never from a cache, so a removal takes effect at once;
- property staff (STAFF or MANAGER) of the elder's community, for what the property
  office does (registering elders, linking caregivers on the elder's request, visits).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.errors import Invalid
from core.principal import Principal
from domain.accounts import repository as accounts_repo
from domain.accounts.models import Community, Unit, User
from domain.audit import service as audit
from domain.care import alerts, schedule
from domain.care import repository as repo
from domain.care.errors import (
    AlreadyLinked,
    ElderNotFound,
    InvalidPlan,
    LinkNotFound,
    NotAllowed,
)
from domain.care.models import CaregiverLink, CheckIn, CheckInPlan, Elder, Visit
from domain.notifications.service import notify

MAX_WINDOWS = 6
MAX_GRACE_MINUTES = 240
MIN_ACK_TIMEOUT = 1
MAX_ACK_TIMEOUT = 240
DEFAULT_ACK_TIMEOUT = 15
MAX_PAUSE_DAYS = 30
NOTE_MAX = 500
VISIT_NOTES_MAX = 2000


class Actor(enum.StrEnum):
    ELDER = "ELDER"
    CAREGIVER = "CAREGIVER"
    STAFF = "STAFF"


ANYONE = frozenset(Actor)


# ---------------------------------------------------------------- access
async def actor_for(session: AsyncSession, principal: Principal, elder: Elder) -> Actor | None:
    if principal.is_anonymous or principal.user_id is None:
        return None
    if elder.user_id == principal.user_id:
        return Actor.ELDER
    assert elder.id is not None
    if await repo.is_caregiver_of(session, principal.user_id, elder.id):
        return Actor.CAREGIVER
    if principal.is_staff(elder.community_id):
        return Actor.STAFF
    return None


async def elder_for(
    session: AsyncSession,
    principal: Principal,
    elder_id: int,
    allowed: frozenset[Actor] = ANYONE,
    *,
    field: list[str] | None = None,
    lock: bool = False,
) -> tuple[Elder, Actor]:
    """The elder, if the principal may act for them in one of the `allowed` ways.
    Someone who may not see the elder at all is told it does not exist."""
    q = select(Elder).where(Elder.id == elder_id)
    if lock:
        q = q.with_for_update()
    elder = await session.scalar(q)
    actor = await actor_for(session, principal, elder) if elder is not None else None
    if elder is None or actor is None:
        raise ElderNotFound(field=field)
    if actor not in allowed:
        raise NotAllowed(field=field)
    return elder, actor


async def _community(session: AsyncSession, community_id: int) -> Community:
    community = await session.get(Community, community_id)
    assert community is not None
    return community


async def _display_name(session: AsyncSession, user_id: int) -> str:
    user = await session.get(User, user_id)
    return user.display_name if user is not None else ""


# ---------------------------------------------------------------- profiles
async def register_elder(
    session: AsyncSession, principal: Principal, *, user_id: int, unit_id: int
) -> Elder:
    """Staff flag a resident of a unit as an elder living alone."""
    unit = await session.get(Unit, unit_id)
    if unit is None or not principal.is_staff(unit.community_id):
        raise NotAllowed(field=["input", "unitId"])
    if not await accounts_repo.occupies(session, user_id, unit_id):
        raise Invalid("care.not_resident_of_unit", field=["input", "userId"])
    if await repo.elder_of_user(session, user_id) is not None:
        raise AlreadyLinked("care.already_elder", field=["input", "userId"])
    elder = Elder(user_id=user_id, community_id=unit.community_id, unit_id=unit_id)
    session.add(elder)
    await session.flush()
    audit.record(
        session,
        principal,
        "care.elder.register",
        community_id=unit.community_id,
        target=f"Elder:{elder.id}",
        user_id=user_id,
    )
    return elder


# ---------------------------------------------------------------- caregiver consent
async def invite_caregiver(
    session: AsyncSession,
    principal: Principal,
    *,
    elder_id: int,
    caregiver_user_id: int,
) -> CaregiverLink:
    """The property office (on a family's request) or the elder names a caregiver.

    Staff create a pending invitation that the elder must accept; an elder who names a
    caregiver themselves has consented by doing so."""
    elder, actor = await elder_for(
        session,
        principal,
        elder_id,
        frozenset({Actor.ELDER, Actor.STAFF}),
        field=["input", "elderId"],
        lock=True,
    )
    assert elder.id is not None
    if caregiver_user_id == elder.user_id:
        raise Invalid("care.self_caregiver", field=["input", "caregiverUserId"])
    if not await repo.is_member(session, caregiver_user_id, elder.community_id):
        raise Invalid("care.caregiver_not_member", field=["input", "caregiverUserId"])
    now = utcnow()
    link = await session.scalar(
        select(CaregiverLink).where(
            CaregiverLink.elder_id == elder.id,
            CaregiverLink.caregiver_user_id == caregiver_user_id,
        )
    )
    last = await session.scalar(
        select(CaregiverLink.position)
        .where(CaregiverLink.elder_id == elder.id, CaregiverLink.removed_at.is_(None))  # type: ignore[union-attr]
        .order_by(CaregiverLink.position.desc())  # type: ignore[attr-defined]
        .limit(1)
    )
    position = (last + 1) if last is not None else 0
    if link is not None:
        if link.removed_at is None:
            raise AlreadyLinked(field=["input", "caregiverUserId"])
        # A removed caregiver invited again starts over: consent is asked anew.
        link.removed_at = None
        link.removed_by = None
        link.invited_at = now
        link.position = position
    else:
        link = CaregiverLink(
            elder_id=elder.id,
            caregiver_user_id=caregiver_user_id,
            position=position,
            invited_at=now,
        )
        session.add(link)
    link.invited_by = principal.user_id
    link.consented_at = now if actor is Actor.ELDER else None
    link.consented_by = principal.user_id if actor is Actor.ELDER else None
    await session.flush()
    audit.record(
        session,
        principal,
        "care.caregiver.invite",
        community_id=elder.community_id,
        target=f"CaregiverLink:{link.id}",
        elder_id=elder.id,
        caregiver_user_id=caregiver_user_id,
    )
    if actor is not Actor.ELDER:
        await notify(
            session,
            user_ids=[elder.user_id],
            category="CARE",
            title_key="care.invited.title",
            body_key="care.invited.body",
            params={"caregiver": await _display_name(session, caregiver_user_id)},
            data={"caregiverLinkId": link.id},
            severity="HIGH",
            community_id=elder.community_id,
        )
    return link


async def _link_for(
    session: AsyncSession, principal: Principal, link_id: int, allowed: frozenset[Actor]
) -> tuple[CaregiverLink, Elder, Actor]:
    link = await session.get(CaregiverLink, link_id, with_for_update=True)
    if link is None:
        raise LinkNotFound(field=["input", "linkId"])
    elder = await session.get(Elder, link.elder_id)
    assert elder is not None
    actor = await actor_for(session, principal, elder)
    # The caregiver named by the link may see (and step down from) their own link.
    if actor is None and link.caregiver_user_id == principal.user_id:
        actor = Actor.CAREGIVER
    if actor is None:
        raise LinkNotFound(field=["input", "linkId"])
    if actor not in allowed:
        raise NotAllowed(field=["input", "linkId"])
    return link, elder, actor


async def accept_caregiver(
    session: AsyncSession, principal: Principal, *, link_id: int
) -> CaregiverLink:
    """The elder consents; staff may record consent given to them in person, which is
    audited as given on the elder's behalf."""
    link, elder, actor = await _link_for(
        session, principal, link_id, frozenset({Actor.ELDER, Actor.STAFF})
    )
    if link.removed_at is not None:
        raise Invalid("care.link_removed", field=["input", "linkId"])
    if link.consented_at is None:
        link.consented_at = utcnow()
        link.consented_by = principal.user_id
        audit.record(
            session,
            principal,
            "care.caregiver.consent",
            community_id=elder.community_id,
            target=f"CaregiverLink:{link.id}",
            on_behalf=actor is Actor.STAFF,
        )
    await session.flush()
    return link


async def remove_caregiver(
    session: AsyncSession, principal: Principal, *, link_id: int
) -> CaregiverLink:
    """The elder (or staff on their behalf) removes a caregiver, or a caregiver steps
    down. Access ends with this commit: every check reads the link."""
    link, elder, actor = await _link_for(session, principal, link_id, ANYONE)
    if actor is Actor.CAREGIVER and link.caregiver_user_id != principal.user_id:
        raise NotAllowed(field=["input", "linkId"])
    if link.removed_at is None:
        link.removed_at = utcnow()
        link.removed_by = principal.user_id
        plan = await session.scalar(
            select(CheckInPlan).where(CheckInPlan.elder_id == elder.id).with_for_update()
        )
        if plan is not None and link.caregiver_user_id in plan.escalation_user_ids:
            plan.escalation_user_ids = [
                u for u in plan.escalation_user_ids if u != link.caregiver_user_id
            ]
        audit.record(
            session,
            principal,
            "care.caregiver.remove",
            community_id=elder.community_id,
            target=f"CaregiverLink:{link.id}",
            on_behalf=actor is Actor.STAFF,
        )
    await session.flush()
    return link


# ---------------------------------------------------------------- plans
def _validate_windows(raw: list[tuple[str, str]]) -> list[dict[str, str]]:
    if not raw or len(raw) > MAX_WINDOWS:
        raise InvalidPlan("care.windows_required", field=["input", "windows"], max=MAX_WINDOWS)
    parsed = []
    for i, (start, end) in enumerate(raw):
        s, e = schedule.parse_hhmm(start), schedule.parse_hhmm(end)
        if s is None or e is None or s == e:
            raise InvalidPlan("care.window_format", field=["input", "windows", str(i)])
        parsed.append((s, e))
    if schedule.windows_overlap(parsed):
        raise InvalidPlan("care.windows_overlap", field=["input", "windows"])
    return [{"start": s.strftime("%H:%M"), "end": e.strftime("%H:%M")} for s, e in parsed]


async def set_plan(
    session: AsyncSession,
    principal: Principal,
    *,
    elder_id: int,
    windows: list[tuple[str, str]],
    grace_minutes: int,
    escalation_user_ids: list[int],
    ack_timeout_minutes: list[int] | None = None,
) -> CheckInPlan:
    elder, _ = await elder_for(session, principal, elder_id, field=["input", "elderId"])
    assert elder.id is not None
    clean = _validate_windows(windows)
    if not 0 <= grace_minutes <= MAX_GRACE_MINUTES:
        raise InvalidPlan(
            "care.grace_range", field=["input", "graceMinutes"], max=MAX_GRACE_MINUTES
        )
    timeouts = list(ack_timeout_minutes or [DEFAULT_ACK_TIMEOUT])
    if len(timeouts) > 20 or any(not MIN_ACK_TIMEOUT <= t <= MAX_ACK_TIMEOUT for t in timeouts):
        raise InvalidPlan(
            "care.ack_timeout_range",
            field=["input", "ackTimeoutMinutes"],
            min=MIN_ACK_TIMEOUT,
            max=MAX_ACK_TIMEOUT,
        )
    if len(set(escalation_user_ids)) != len(escalation_user_ids):
        raise InvalidPlan("care.escalation_duplicate", field=["input", "escalationUserIds"])
    if escalation_user_ids:
        caregivers = set(await repo.caregivers_in_order(session, elder.id))
        staff = set(await repo.staff_of_community(session, elder.community_id))
        if any(u not in caregivers and u not in staff for u in escalation_user_ids):
            raise InvalidPlan("care.escalation_member", field=["input", "escalationUserIds"])
    plan = await session.scalar(
        select(CheckInPlan).where(CheckInPlan.elder_id == elder.id).with_for_update()
    )
    if plan is None:
        plan = CheckInPlan(
            elder_id=elder.id,
            community_id=elder.community_id,
            last_check_in_at=elder.last_check_in_at,
        )
        session.add(plan)
    now = utcnow()
    plan.windows = clean
    plan.grace_minutes = grace_minutes
    plan.escalation_user_ids = list(escalation_user_ids)
    plan.ack_timeout_minutes = timeouts
    plan.updated_at = now
    plan.updated_by = principal.user_id
    community = await _community(session, elder.community_id)
    occ = schedule.next_occurrence(clean, grace_minutes, community.time_zone, after=now)
    plan.next_window_start = occ.start if occ else None
    plan.next_due_at = occ.due if occ else None
    await session.flush()
    return plan


async def pause_plan(
    session: AsyncSession,
    principal: Principal,
    *,
    elder_id: int,
    until: datetime | None,
    reason: str | None = None,
) -> CheckInPlan:
    """Pause (travel, hospital) until a bounded end; `until=None` resumes now."""
    elder, _ = await elder_for(session, principal, elder_id, field=["input", "elderId"])
    plan = await session.scalar(
        select(CheckInPlan).where(CheckInPlan.elder_id == elder.id).with_for_update()
    )
    if plan is None:
        raise Invalid("care.no_plan", field=["input", "elderId"])
    now = utcnow()
    until = _aware(until)
    if until is not None and not now < until <= now + timedelta(days=MAX_PAUSE_DAYS):
        raise Invalid("care.pause_range", field=["input", "until"], days=MAX_PAUSE_DAYS)
    if reason is not None and len(reason) > 200:
        raise Invalid("care.note_too_long", field=["input", "reason"], max=200)
    plan.paused_until = until
    plan.pause_reason = reason if until is not None else None
    plan.updated_at = now
    plan.updated_by = principal.user_id
    await session.flush()
    return plan


def _aware(value: datetime | None) -> datetime | None:
    """A client's time without an offset is taken as UTC (the API speaks UTC)."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def is_paused(plan: CheckInPlan, at: datetime) -> bool:
    return plan.paused_until is not None and plan.paused_until > at


# ---------------------------------------------------------------- check-ins
async def check_in(
    session: AsyncSession,
    principal: Principal,
    *,
    kind: str,
    note: str | None = None,
    elder_id: int | None = None,
) -> CheckIn:
    """The elder's big button, or a caregiver checking in on the elder's behalf."""
    if note is not None and len(note) > NOTE_MAX:
        raise Invalid("care.note_too_long", field=["input", "note"], max=NOTE_MAX)
    if kind not in ("OK", "NEED_HELP"):
        raise Invalid(field=["input", "kind"])
    if elder_id is None:
        assert principal.user_id is not None
        own = await repo.elder_of_user(session, principal.user_id)
        if own is None or own.id is None:
            raise Invalid("care.not_elder", field=["input", "elderId"])
        elder_id = own.id
    elder, actor = await elder_for(
        session,
        principal,
        elder_id,
        frozenset({Actor.ELDER, Actor.CAREGIVER}),
        field=["input", "elderId"],
    )
    assert elder.id is not None
    # The plan row is the lock the sweep takes: a check-in and the judgement of its
    # window never interleave.
    plan = await session.scalar(
        select(CheckInPlan).where(CheckInPlan.elder_id == elder.id).with_for_update()
    )
    now = utcnow()
    row = CheckIn(
        elder_id=elder.id,
        kind=kind,
        at=now,
        note=note,
        by_user_id=principal.user_id or 0,
        on_behalf=actor is not Actor.ELDER,
    )
    session.add(row)
    elder.last_check_in_at = now
    if plan is not None:
        plan.last_check_in_at = now
    await session.flush()
    if row.on_behalf:
        audit.record(
            session,
            principal,
            "care.check_in.on_behalf",
            community_id=elder.community_id,
            target=f"CheckIn:{row.id}",
            kind=kind,
        )
    await alerts.on_check_in(session, elder, plan, kind=kind, note=note, by=principal.user_id or 0)
    return row


# ---------------------------------------------------------------- visits (定期寻访)
async def set_visit_cadence(
    session: AsyncSession, principal: Principal, *, elder_id: int, days: int | None
) -> Elder:
    elder, _ = await elder_for(
        session,
        principal,
        elder_id,
        frozenset({Actor.STAFF}),
        field=["input", "elderId"],
        lock=True,
    )
    elder.visit_cadence_days = days
    _schedule_next_visit(elder)
    await session.flush()
    return elder


def _schedule_next_visit(elder: Elder) -> None:
    if elder.visit_cadence_days is None:
        elder.next_visit_due_at = None
        return
    since = elder.last_visit_at or utcnow()
    elder.next_visit_due_at = since + timedelta(days=elder.visit_cadence_days)


async def log_visit(
    session: AsyncSession,
    principal: Principal,
    *,
    elder_id: int,
    visited_at: datetime | None,
    visitor_user_id: int | None,
    notes: str | None,
    wellbeing: str,
) -> Visit:
    elder, _ = await elder_for(
        session,
        principal,
        elder_id,
        frozenset({Actor.STAFF}),
        field=["input", "elderId"],
        lock=True,
    )
    assert elder.id is not None and principal.user_id is not None
    now = utcnow()
    at = _aware(visited_at) or now
    if at > now + timedelta(minutes=5):
        raise Invalid("care.visit_time", field=["input", "visitedAt"])
    if notes is not None and len(notes) > VISIT_NOTES_MAX:
        raise Invalid("care.note_too_long", field=["input", "notes"], max=VISIT_NOTES_MAX)
    visitor = visitor_user_id or principal.user_id
    if visitor not in await repo.staff_of_community(session, elder.community_id):
        raise Invalid("care.visitor_not_staff", field=["input", "visitorId"])
    visit = Visit(
        elder_id=elder.id,
        community_id=elder.community_id,
        visited_at=at,
        visitor_user_id=visitor,
        logged_by=principal.user_id,
        notes=notes,
        wellbeing=wellbeing,
    )
    session.add(visit)
    if elder.last_visit_at is None or at > elder.last_visit_at:
        elder.last_visit_at = at
        _schedule_next_visit(elder)
    await session.flush()
    if wellbeing != "WELL":
        caregivers = await repo.caregivers_in_order(session, elder.id)
        if caregivers:
            await notify(
                session,
                user_ids=caregivers,
                category="CARE",
                title_key="care.visit_concern.title",
                body_key="care.visit_concern.body",
                params={"elder": await _display_name(session, elder.user_id)},
                data={"elderId": elder.id, "visitId": visit.id, "wellbeing": wellbeing},
                severity="CRITICAL" if wellbeing == "URGENT" else "HIGH",
                community_id=elder.community_id,
            )
    return visit


async def sweep_visit_reminders(session: AsyncSession, *, now: datetime, batch: int = 500) -> int:
    """Remind the community's staff once per overdue visit. Claims elders with
    FOR UPDATE SKIP LOCKED, so several instances share the work without repeats."""
    rows = list(
        await session.scalars(
            select(Elder)
            .where(
                Elder.next_visit_due_at <= now,  # type: ignore[operator]
                (Elder.visit_reminded_for.is_(None))  # type: ignore[union-attr]
                | (Elder.visit_reminded_for != Elder.next_visit_due_at),
            )
            .order_by(Elder.next_visit_due_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
    )
    staff_cache: dict[int, list[int]] = {}
    for elder in rows:
        if elder.community_id not in staff_cache:
            staff_cache[elder.community_id] = await repo.staff_of_community(
                session, elder.community_id
            )
        unit = await session.get(Unit, elder.unit_id)
        await notify(
            session,
            user_ids=staff_cache[elder.community_id],
            category="CARE_VISIT",
            title_key="care.visit_due.title",
            body_key="care.visit_due.body",
            params={
                "elder": await _display_name(session, elder.user_id),
                "unit": unit.label if unit else "",
            },
            data={"elderId": elder.id},
            community_id=elder.community_id,
        )
        elder.visit_reminded_for = elder.next_visit_due_at
    await session.flush()
    return len(rows)


# ---------------------------------------------------------------- status
async def statuses(session: AsyncSession, elders: list[Elder], *, now: datetime) -> dict[int, str]:
    """OK, DUE (inside a window, not yet checked in), MISSED (an open missed-check-in
    alarm) or HELP_REQUESTED (an open help alarm), for many elders in a few queries."""
    ids = [e.id for e in elders if e.id is not None]
    plans = await repo.plans_by_elder_ids(session, ids)
    open_types = await alerts.open_care_alarm_types(session, ids)
    zones: dict[int, str] = {}
    out: dict[int, str] = {}
    for elder in elders:
        assert elder.id is not None
        kinds = open_types.get(elder.id, set())
        if "HELP_REQUESTED" in kinds:
            out[elder.id] = "HELP_REQUESTED"
            continue
        if "CHECK_IN_MISSED" in kinds:
            out[elder.id] = "MISSED"
            continue
        plan = plans.get(elder.id)
        status = "OK"
        if plan is not None and not is_paused(plan, now):
            if elder.community_id not in zones:
                zones[elder.community_id] = (
                    await _community(session, elder.community_id)
                ).time_zone
            occ = schedule.current_occurrence(
                plan.windows, plan.grace_minutes, zones[elder.community_id], at=now
            )
            last = plan.last_check_in_at
            if occ is not None and (last is None or last < occ.start):
                status = "DUE"
        out[elder.id] = status
    return out
