"""Publishing announcements, scheduled publishing and read receipts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.db import emit
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.ids import encode_gid
from core.principal import Principal
from domain.accounts.models import Building
from domain.announcements import repository as repo
from domain.announcements.errors import BodyRequired, BuildingsInvalid, TitleRequired
from domain.announcements.models import Announcement, AnnouncementBuilding, AnnouncementRead
from domain.audit import service as audit
from domain.notifications.service import CRITICAL, notify

KINDS = ("NORMAL", "EMERGENCY")
CATEGORY = "ANNOUNCEMENT"
EXCERPT = 80


def _clean(text: str | None) -> str | None:
    text = (text or "").strip()
    return text or None


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


async def publish(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int,
    kind: str,
    title_zh: str | None,
    title_en: str | None,
    body_zh: str | None,
    body_en: str | None,
    building_ids: Sequence[int] = (),
    pinned: bool = False,
    publish_at: datetime | None = None,
    idempotency_key: str | None = None,
) -> Announcement:
    """Create an announcement; it goes out now, or at `publish_at` through the sweep.

    With `idempotency_key`, a retry by the same author returns the first announcement
    (racing retries included: the database's unique key decides) and sends nothing.

    EMERGENCY goes out at once to everyone in scope as a CRITICAL notification (which
    the notification rules push through quiet hours and the hourly cap); NORMAL is an
    ordinary notification subject to those rules.
    """
    if not principal.is_staff(community_id):
        raise Forbidden()
    if kind not in KINDS:
        raise Invalid(field=["input", "kind"])
    if idempotency_key is not None:
        if not idempotency_key or len(idempotency_key) > 100:
            raise Invalid("error.idempotency_key", field=["input", "idempotencyKey"])
        earlier = await _by_key(session, principal, idempotency_key, community_id)
        if earlier is not None:
            return earlier
    title_zh, title_en = _clean(title_zh), _clean(title_en)
    body_zh, body_en = _clean(body_zh), _clean(body_en)
    if not (title_zh or title_en) or any(t and len(t) > 200 for t in (title_zh, title_en)):
        raise TitleRequired(field=["input", "titleZh"])
    if not (body_zh or body_en) or any(b and len(b) > 10000 for b in (body_zh, body_en)):
        raise BodyRequired(field=["input", "bodyZh"])
    wanted = sorted(set(building_ids))
    if wanted:
        found = set(
            await session.scalars(
                select(Building.id).where(
                    Building.id.in_(wanted),  # type: ignore[union-attr]
                    Building.community_id == community_id,
                )
            )
        )
        if found != set(wanted):
            raise BuildingsInvalid(field=["input", "buildingIds"])
    now = utcnow()
    scheduled = publish_at is not None and publish_at > now
    if scheduled and kind == "EMERGENCY":
        raise Invalid("announcements.emergency_not_scheduled", field=["input", "publishAt"])
    assert principal.user_id is not None
    row = Announcement(
        community_id=community_id,
        kind=kind,
        title_zh=title_zh,
        title_en=title_en,
        body_zh=body_zh,
        body_en=body_en,
        pinned=pinned,
        whole_community=not wanted,
        publish_at=publish_at if scheduled and publish_at else now,
        created_by=principal.user_id,
        idempotency_key=idempotency_key,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        # A concurrent request with the same key committed first (PostgreSQL waited on
        # the unique index for it): answer with its announcement.
        earlier = await _by_key(session, principal, idempotency_key or "", community_id)
        if idempotency_key is None or earlier is None:
            raise
        return earlier
    assert row.id is not None
    session.add_all(AnnouncementBuilding(announcement_id=row.id, building_id=b) for b in wanted)
    await session.flush()
    audit.record(
        session,
        principal,
        "announcement.publish",
        community_id=community_id,
        target=f"Announcement:{row.id}",
        kind=kind,
        scheduled=scheduled,
        buildings=wanted,
    )
    if not scheduled:
        await _go_out(session, row, wanted, now)
    return row


async def _go_out(
    session: AsyncSession, row: Announcement, building_ids: Sequence[int], now: datetime
) -> None:
    """Publish: claim the row (only one caller wins), notify the audience, tell
    subscribers. Runs in the caller's transaction, so all of it lands or none."""
    assert row.id is not None
    claimed = await session.execute(
        update(Announcement)
        .where(Announcement.id == row.id, Announcement.published_at.is_(None))  # type: ignore[union-attr]
        .values(published_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return
    people = await repo.audience(session, row.community_id, building_ids)
    row.published_at = now
    row.audience_count = len(people)
    await session.execute(
        update(Announcement).where(Announcement.id == row.id).values(audience_count=len(people))
    )
    title_zh = row.title_zh or row.title_en or ""
    title_en = row.title_en or row.title_zh or ""
    emergency = row.kind == "EMERGENCY"
    gid = encode_gid("Announcement", row.id)
    await notify(
        session,
        user_ids=people,
        category=CATEGORY,
        title_key=(
            "announcements.notify.title_emergency" if emergency else "announcements.notify.title"
        ),
        body_key="announcements.notify.body",
        params={
            "title_zh": title_zh,
            "title_en": title_en,
            "excerpt_zh": _excerpt(row.body_zh or row.body_en or ""),
            "excerpt_en": _excerpt(row.body_en or row.body_zh or ""),
        },
        data={"announcementId": gid, "kind": row.kind},
        severity=CRITICAL if emergency else "NORMAL",
        community_id=row.community_id,
    )
    emit(
        session,
        f"announcements:{row.community_id}",
        {"announcementId": row.id, "kind": row.kind},
    )


async def _by_key(
    session: AsyncSession, principal: Principal, key: str, community_id: int
) -> Announcement | None:
    row = await session.scalar(
        select(Announcement).where(
            Announcement.created_by == principal.user_id, Announcement.idempotency_key == key
        )
    )
    if row is not None and row.community_id != community_id:
        raise Conflict("error.idempotency_key", field=["input", "idempotencyKey"])
    return row


async def publish_due(session: AsyncSession, *, now: datetime, limit: int = 100) -> int:
    """The scheduled-publishing sweep: every announcement whose time has come goes out
    once. Rows are claimed with SKIP LOCKED, so several instances never double-send."""
    due = list(
        await session.scalars(
            select(Announcement)
            .where(
                Announcement.published_at.is_(None),  # type: ignore[union-attr]
                Announcement.publish_at <= now,  # type: ignore[operator]
            )
            .order_by(Announcement.publish_at, Announcement.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    scopes = await repo.building_ids_of(session, [a.id for a in due if a.id is not None])
    for row in due:
        assert row.id is not None
        await _go_out(session, row, scopes[row.id], now)
    return len(due)


async def mark_read(
    session: AsyncSession, principal: Principal, *, announcement_id: int
) -> Announcement:
    """Record the first read; reading again changes nothing."""
    row = await repo.get_visible(session, principal, announcement_id)
    if row is None or row.published_at is None:
        raise NotFound(field=["input", "announcementId"])
    assert principal.user_id is not None
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(AnnouncementRead)
        .values(announcement_id=announcement_id, user_id=principal.user_id, read_at=utcnow())
        .on_conflict_do_nothing(index_elements=["announcement_id", "user_id"])
    )
    return row
