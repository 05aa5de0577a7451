"""The outbox, claimed and settled. A sweep is: claim due rows (one short
transaction), send outside any transaction, record the answers (another short one).

Claiming sets `status=SENDING` and a lease (`lease_until`, mirrored into
`next_attempt_at`): a worker that dies after claiming leaves its rows due again once
the lease runs out, and the lease value fences the record step, so a worker whose
lease was taken over records nothing. On PostgreSQL the claim uses
`FOR UPDATE SKIP LOCKED`, so concurrent workers take disjoint rows; SQLite serialises
writers (BEGIN IMMEDIATE).

Policy (preferences, quiet hours, one NORMAL push per user per hour) is decided at the
first claim of a row; CRITICAL skips it. A retry never re-decides.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core import i18n
from core.ids import encode_gid
from domain.accounts.models import Community, Membership, User
from domain.notifications.models import (
    Delivery,
    Notification,
    NotificationPreference,
    OutboxMessage,
    PushToken,
    PushWindow,
    QuietHours,
)
from domain.notifications.push import Outcome, PushMessage, SendResult
from domain.notifications.service import CRITICAL, NORMAL

DEFAULT_TZ = "Asia/Shanghai"
RATE_WINDOW = timedelta(hours=1)
_NEEDS_WINDOW = "NEEDS_WINDOW"  # decided once the windows of the whole batch are taken


@dataclass
class ClaimedPush:
    outbox_id: int
    user_id: int
    attempt: int
    delivered_before: bool
    # (token row id, message) for every device still to be reached
    sends: list[tuple[int, PushMessage]] = field(default_factory=list)


@dataclass
class Claim:
    claimed_at: datetime
    lease_until: datetime
    pushes: list[ClaimedPush] = field(default_factory=list)
    skipped: int = 0  # settled at claim time without sending (policy, no device)

    @property
    def claimed(self) -> int:
        return len(self.pushes) + self.skipped


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    backoff_seconds: float = 30.0
    cap_seconds: float = 3600.0

    def delay(self, attempt: int, retry_after: float | None = None) -> timedelta:
        seconds = min(self.cap_seconds, self.backoff_seconds * (2 ** max(0, attempt - 1)))
        if retry_after is not None:
            seconds = max(seconds, min(retry_after, self.cap_seconds))
        return timedelta(seconds=seconds)


def _insert(session: AsyncSession, model: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


async def _take_push_windows(session: AsyncSession, user_ids: list[int], now: datetime) -> set[int]:
    """One NORMAL push per user per hour, decided by the database: a conditional
    UPDATE (or the first INSERT) succeeds for exactly one of any concurrent claimers.
    Rows are locked in user order, so two claimers with overlapping users cannot
    deadlock. Returns the users whose window this transaction took."""
    if not user_ids:
        return set()
    ids = sorted(set(user_ids))
    await session.execute(
        select(PushWindow.user_id)
        .where(PushWindow.user_id.in_(ids))  # type: ignore[attr-defined]
        .order_by(PushWindow.user_id)
        .with_for_update()
    )
    taken = set(
        (
            await session.execute(
                update(PushWindow)
                .where(
                    PushWindow.user_id.in_(ids),  # type: ignore[attr-defined]
                    PushWindow.last_push_at <= now - RATE_WINDOW,
                )
                .values(last_push_at=now)
                .returning(PushWindow.user_id)
                .execution_options(synchronize_session=False)
            )
        ).scalars()
    )
    rest = [u for u in ids if u not in taken]
    if rest:
        taken |= set(
            (
                await session.execute(
                    _insert(session, PushWindow)
                    .values([{"user_id": u, "last_push_at": now} for u in rest])
                    .on_conflict_do_nothing(index_elements=["user_id"])
                    .returning(PushWindow.user_id)
                )
            ).scalars()
        )
    return taken


def in_quiet_hours(quiet: QuietHours, local: datetime) -> bool:
    start = time.fromisoformat(quiet.start)
    end = time.fromisoformat(quiet.end)
    now = local.time().replace(second=0, microsecond=0)
    if start < end:
        return start <= now < end
    return now >= start or now < end  # the window crosses midnight


def _data_of(n: Notification) -> dict[str, str]:
    # FCM data values must be strings; structured values travel as JSON text.
    data = {
        str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
        for k, v in (n.data or {}).items()
    }
    assert n.id is not None
    data["notificationId"] = encode_gid("Notification", n.id)
    data["category"] = n.category
    return data


async def claim_due(
    session: AsyncSession, *, now: datetime, limit: int, lease_seconds: float
) -> Claim:
    lease_until = now + timedelta(seconds=lease_seconds)
    claim = Claim(claimed_at=now, lease_until=lease_until)
    rows = list(
        (
            await session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.status.in_(("PENDING", "SENDING")),  # type: ignore[attr-defined]
                    OutboxMessage.next_attempt_at <= now,
                )
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )
    if not rows:
        return claim
    ids = [r.id for r in rows]
    user_ids = sorted({r.user_id for r in rows})
    notes = {
        n.id: n
        for n in await session.scalars(
            select(Notification).where(
                Notification.id.in_([r.notification_id for r in rows])  # type: ignore[union-attr]
            )
        )
    }
    locales: dict[int, str] = dict(
        (await session.execute(select(User.id, User.locale).where(User.id.in_(user_ids)))).all()  # type: ignore[union-attr]
    )
    tokens: dict[int, list[PushToken]] = defaultdict(list)
    for t in await session.scalars(
        select(PushToken).where(PushToken.user_id.in_(user_ids)).order_by(PushToken.id)  # type: ignore[attr-defined]
    ):
        tokens[t.user_id].append(t)
    delivered: dict[int, set[int]] = defaultdict(set)
    for oid, tid in (
        await session.execute(
            select(Delivery.outbox_id, Delivery.token_id).where(
                Delivery.outbox_id.in_(ids),  # type: ignore[attr-defined]
                Delivery.status == Outcome.DELIVERED.value,
            )
        )
    ).all():
        delivered[oid].add(tid)
    off = {
        (p.user_id, p.category)
        for p in await session.scalars(
            select(NotificationPreference).where(
                NotificationPreference.user_id.in_(user_ids),  # type: ignore[attr-defined]
                NotificationPreference.push_enabled.is_(False),  # type: ignore[attr-defined]
            )
        )
    }
    quiet = {
        q.user_id: q
        for q in await session.scalars(
            select(QuietHours).where(QuietHours.user_id.in_(user_ids))  # type: ignore[attr-defined]
        )
    }
    zones = await _time_zones(session, [r for r in rows if r.user_id in quiet], notes)
    unread: dict[int, int] = dict(
        (
            await session.execute(
                select(Notification.user_id, func.count())
                .where(
                    Notification.user_id.in_(user_ids),  # type: ignore[attr-defined]
                    Notification.read_at.is_(None),  # type: ignore[union-attr]
                )
                .group_by(Notification.user_id)
            )
        ).all()
    )

    # First pass: what the recipient's settings and devices say, without writing.
    decided: list[tuple[OutboxMessage, str | None, list[PushToken]]] = []
    wants_window: list[int] = []
    with session.no_autoflush:
        for row in rows:
            assert row.id is not None
            note = notes[row.notification_id]
            first_claim = row.attempts == 0 and row.status == "PENDING"
            devices = [t for t in tokens.get(row.user_id, []) if t.id not in delivered[row.id]]
            reason: str | None = None
            if first_claim and note.severity != CRITICAL:
                if (row.user_id, note.category) in off:
                    reason = "PREFERENCE_OFF"
                elif row.user_id in quiet and in_quiet_hours(
                    quiet[row.user_id], now.astimezone(ZoneInfo(zones.get(row.id, DEFAULT_TZ)))
                ):
                    reason = "QUIET_HOURS"
            if reason is None and not devices and not delivered[row.id]:
                reason = "NO_DEVICE"
            if reason is None and devices and first_claim and note.severity == NORMAL:
                wants_window.append(row.user_id)
                reason = _NEEDS_WINDOW
            decided.append((row, reason, devices))
    windows = await _take_push_windows(session, wants_window, now)

    for row, reason, devices in decided:
        assert row.id is not None
        note = notes[row.notification_id]
        if reason == _NEEDS_WINDOW:
            # The first of a user's NORMAL rows in this batch uses the window taken.
            reason = None if row.user_id in windows else "RATE_LIMITED"
            windows.discard(row.user_id)
        if reason is None and not devices:  # every device got it on an earlier attempt
            row.status, row.sent_at, row.lease_until = "SENT", now, None
            claim.skipped += 1
            continue
        if reason is not None:
            row.status, row.last_error, row.lease_until = "SKIPPED", reason, None
            claim.skipped += 1
            continue
        row.status = "SENDING"
        row.attempts += 1
        row.lease_until = lease_until
        row.next_attempt_at = lease_until
        locale = i18n.normalize_locale(locales.get(row.user_id))
        title = i18n.translate(note.title_key, locale, **(note.params or {}))
        body = i18n.translate(note.body_key, locale, **(note.params or {}))
        data = _data_of(note)
        push = ClaimedPush(row.id, row.user_id, row.attempts, bool(delivered[row.id]))
        for t in devices:
            assert t.id is not None
            push.sends.append(
                (
                    t.id,
                    PushMessage(
                        token=t.token,
                        platform=t.platform,
                        title=title,
                        body=body,
                        data=data,
                        severity=note.severity,
                        category=note.category,
                        collapse_id=data["notificationId"],
                        badge=int(unread.get(row.user_id, 0)),
                    ),
                )
            )
        claim.pushes.append(push)
    await session.flush()
    return claim


async def _time_zones(
    session: AsyncSession, rows: list[OutboxMessage], notes: dict[Any, Notification]
) -> dict[int, str]:
    """Outbox id → the IANA zone its quiet hours are read in: the notification's
    community, else the recipient's first community."""
    if not rows:
        return {}
    community_of: dict[int, int | None] = {
        r.id: notes[r.notification_id].community_id for r in rows if r.id is not None
    }
    missing = sorted({r.user_id for r in rows if community_of.get(r.id or 0) is None})
    first_membership: dict[int, int] = {}
    if missing:
        for uid, cid in (
            await session.execute(
                select(Membership.user_id, func.min(Membership.community_id))
                .where(Membership.user_id.in_(missing))  # type: ignore[attr-defined]
                .group_by(Membership.user_id)
            )
        ).all():
            first_membership[uid] = cid
    for r in rows:
        if r.id is not None and community_of.get(r.id) is None:
            community_of[r.id] = first_membership.get(r.user_id)
    cids = sorted({c for c in community_of.values() if c is not None})
    zones: dict[int, str] = dict(
        (
            await session.execute(
                select(Community.id, Community.time_zone).where(Community.id.in_(cids))  # type: ignore[union-attr]
            )
        ).all()
    )
    return {oid: zones.get(cid, DEFAULT_TZ) for oid, cid in community_of.items() if cid}


@dataclass
class Settled:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    lost_lease: int = 0
    tokens_removed: int = 0
    deliveries: int = 0


async def record_results(
    session: AsyncSession,
    claim: Claim,
    results: dict[int, list[SendResult]],
    *,
    now: datetime,
    retry: RetryPolicy,
) -> Settled:
    """Settle claimed rows with the provider's answers, one per `sends` entry."""
    settled = Settled()
    if not claim.pushes:
        return settled
    rows = {
        r.id: r
        for r in await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.id.in_([p.outbox_id for p in claim.pushes]))  # type: ignore[union-attr]
            .with_for_update()
        )
    }
    gone: list[tuple[int, str]] = []
    for push in claim.pushes:
        row = rows.get(push.outbox_id)
        if row is None or row.status != "SENDING" or row.lease_until != claim.lease_until:
            # Our lease ran out and another worker took the row over: it settles it.
            settled.lost_lease += 1
            continue
        answers = results.get(push.outbox_id, [])
        delivered = push.delivered_before
        transient: list[SendResult] = []
        errors: list[str] = []
        for (token_id, message), answer in zip(push.sends, answers, strict=True):
            session.add(
                Delivery(
                    outbox_id=push.outbox_id,
                    token_id=token_id,
                    status=answer.outcome.value,
                    provider_message_id=answer.message_id,
                    error=(answer.error or "")[:500] or None,
                    at=now,
                )
            )
            settled.deliveries += 1
            if answer.outcome is Outcome.DELIVERED:
                delivered = True
            elif answer.outcome is Outcome.RETRY:
                transient.append(answer)
            elif answer.outcome in (Outcome.TOKEN_GONE, Outcome.TOKEN_INVALID):
                gone.append((token_id, message.token))
                errors.append(answer.outcome.value)
            else:
                errors.append(answer.error or answer.outcome.value)
        row.lease_until = None
        if transient:
            reason = transient[0].error or "transient failure"
            if row.attempts >= retry.max_attempts:
                row.status = "FAILED"
                row.last_error = f"gave up after {row.attempts} attempts: {reason}"[:500]
                settled.failed += 1
            else:
                after = max((t.retry_after or 0.0) for t in transient) or None
                row.status = "PENDING"
                row.next_attempt_at = now + retry.delay(row.attempts, after)
                row.last_error = reason[:500]
                settled.retrying += 1
        elif delivered:
            row.status, row.sent_at = "SENT", now
            row.last_error = "; ".join(errors)[:500] or None
            settled.sent += 1
        else:
            row.status = "FAILED"
            row.last_error = ("; ".join(errors) or "no device accepted the push")[:500]
            settled.failed += 1
    for token_id, token in gone:
        # Not if the app registered the token again after we claimed: FCM's answer
        # was about the registration we used, and the fresh one may well be valid.
        token_row = await session.get(PushToken, token_id)
        if (
            token_row is not None
            and token_row.token == token
            and token_row.last_registered_at <= claim.claimed_at
        ):
            await session.delete(token_row)
            settled.tokens_removed += 1
    await session.flush()
    return settled
