"""Filing complaints with photos, the staff workflow, city forwarding and rating."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.db import on_rollback
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.ids import encode_gid
from core.principal import Principal, Role
from core.storage import BlobStorage, Upload
from domain.accounts.models import Building, Membership
from domain.audit import service as audit
from domain.complaints.errors import CATEGORY_NAMES, STATUS_NAMES, BadTransition, PhotoInvalid
from domain.complaints.models import CATEGORIES, Complaint, ComplaintEvent, ComplaintPhoto
from domain.complaints.photos import sniff_image
from domain.notifications.service import HIGH, notify
from domain.workorders import service as workorders
from domain.workorders.models import WorkOrder

CATEGORY = "COMPLAINT"

# Staff moves; RESOLVED and REJECTED are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "OPEN": frozenset({"ACCEPTED", "REJECTED"}),
    "ACCEPTED": frozenset({"IN_PROGRESS", "RESOLVED", "REJECTED"}),
    "IN_PROGRESS": frozenset({"RESOLVED", "REJECTED"}),
    "RESOLVED": frozenset(),
    "REJECTED": frozenset(),
}
# Handing over (work order, city channel) is for an accepted complaint.
HANDOVER_FROM = frozenset({"ACCEPTED", "IN_PROGRESS"})
# Work orders opened from complaints: not an emergency, due within three days.
WORK_ORDER_SEVERITY = "MINOR"
WORK_ORDER_DUE = timedelta(days=3)


@dataclass(frozen=True)
class UploadPolicy:
    max_bytes: int = 5 * 1024 * 1024
    max_files: int = 6


@dataclass(frozen=True)
class _Checked:
    data: bytes
    content_type: str
    suffix: str


def _check_photos(photos: Sequence[Any], policy: UploadPolicy) -> list[_Checked]:
    """Every photo is checked before anything is written, so a bad one stores nothing."""
    if len(photos) > policy.max_files:
        raise Invalid("complaints.too_many_photos", field=["input", "photos"], max=policy.max_files)
    out = []
    for i, photo in enumerate(photos):
        field, n = ["input", "photos", str(i)], i + 1
        if not isinstance(photo, Upload):
            raise PhotoInvalid("complaints.photo_not_file", field=field, n=n)
        if photo.size > policy.max_bytes:
            mb = round(policy.max_bytes / (1024 * 1024), 1)
            raise PhotoInvalid("complaints.photo_too_large", field=field, n=n, mb=mb)
        sniffed = sniff_image(photo.data)
        if sniffed is None:
            raise PhotoInvalid("complaints.photo_type", field=field, n=n)
        out.append(_Checked(photo.data, *sniffed))
    return out


def _event(
    session: AsyncSession, row: Complaint, principal: Principal, action: str, note: str | None
) -> None:
    assert row.id is not None
    session.add(
        ComplaintEvent(
            complaint_id=row.id,
            actor_id=principal.user_id,
            action=action,
            status=row.status,
            note=note,
        )
    )


async def file_complaint(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int,
    category: str,
    body: str,
    building_id: int | None,
    location_text: str | None,
    photos: Sequence[Any],
    storage: BlobStorage,
    policy: UploadPolicy,
) -> Complaint:
    if not principal.has_role(community_id, Role.RESIDENT):
        raise Forbidden("complaints.not_resident", field=["input", "communityId"])
    if category not in CATEGORIES:
        raise Invalid("complaints.category", field=["input", "category"])
    body = (body or "").strip()
    if not body or len(body) > 2000:
        raise Invalid("complaints.body", field=["input", "body"])
    location_text = (location_text or "").strip() or None
    if location_text and len(location_text) > 200:
        raise Invalid("complaints.location", field=["input", "locationText"])
    if building_id is not None:
        found = await session.scalar(
            select(Building.id).where(
                Building.id == building_id, Building.community_id == community_id
            )
        )
        if found is None:
            raise Invalid("complaints.building", field=["input", "buildingId"])
    checked = _check_photos(photos, policy)
    assert principal.user_id is not None
    row = Complaint(
        community_id=community_id,
        reporter_id=principal.user_id,
        category=category,
        body=body,
        building_id=building_id,
        location_text=location_text,
    )
    session.add(row)
    await session.flush()
    assert row.id is not None
    for position, photo in enumerate(checked):
        key = storage.put(photo.data, prefix=f"complaints/{community_id}", suffix=photo.suffix)
        # The file exists before the commit; if the transaction fails, it goes too.
        on_rollback(session, lambda key=key: storage.delete(key))  # type: ignore[misc]
        session.add(
            ComplaintPhoto(
                complaint_id=row.id,
                position=position,
                storage_key=key,
                content_type=photo.content_type,
                size_bytes=len(photo.data),
                sha256=hashlib.sha256(photo.data).hexdigest(),
            )
        )
    _event(session, row, principal, "FILED", None)
    await session.flush()
    staff = await session.scalars(
        select(Membership.user_id)
        .where(
            Membership.community_id == community_id,
            Membership.role.in_([Role.STAFF.value, Role.MANAGER.value]),  # type: ignore[attr-defined]
        )
        .distinct()
    )
    zh, en = CATEGORY_NAMES[category]
    await notify(
        session,
        user_ids=list(staff),
        category=CATEGORY,
        title_key="complaints.notify.filed.title",
        body_key="complaints.notify.filed.body",
        params={"category_zh": zh, "category_en": en},
        data={"complaintId": encode_gid("Complaint", row.id)},
        severity=HIGH,
        community_id=community_id,
    )
    return row


async def _for_staff(session: AsyncSession, principal: Principal, complaint_id: int) -> Complaint:
    # Locked for the change: two staff members acting at once serialise here.
    row = await session.scalar(
        select(Complaint).where(Complaint.id == complaint_id).with_for_update()
    )
    if row is None or not principal.is_staff(row.community_id):
        raise NotFound(field=["input", "complaintId"])
    return row


def _move(row: Complaint, to: str) -> None:
    if to not in TRANSITIONS[row.status]:
        raise BadTransition(
            field=["input", "status"],
            status_zh=STATUS_NAMES[row.status][0],
            status_en=STATUS_NAMES[row.status][1],
            to_zh=STATUS_NAMES[to][0],
            to_en=STATUS_NAMES[to][1],
        )
    row.status = to
    if to in ("RESOLVED", "REJECTED"):
        row.resolved_at = utcnow()


async def update_complaint(
    session: AsyncSession,
    principal: Principal,
    *,
    complaint_id: int,
    status: str | None = None,
    reason: str | None = None,
    note: str | None = None,
    forward_channel: str | None = None,
    forward_reference: str | None = None,
    create_work_order: bool = False,
) -> Complaint:
    """Staff: move the status, open a work order for it (dispatched like any other),
    or forward it to the city-management channel (with the reference it gave). Each
    change is in the history and the reporter is told of a new status."""
    row = await _for_staff(session, principal, complaint_id)
    before = row.status
    reason = (reason or "").strip() or None
    note = (note or "").strip() or None
    if reason and len(reason) > 1000:
        raise Invalid("complaints.reason_required", field=["input", "reason"])
    if note and len(note) > 1000:
        raise Invalid(field=["input", "note"])
    forwarding = forward_reference is not None or forward_channel is not None
    if status is None and not forwarding and not create_work_order:
        raise Invalid("complaints.nothing_to_do", field=["input"])
    if forwarding or create_work_order:
        if row.status not in HANDOVER_FROM:
            to = "IN_PROGRESS"
            raise BadTransition(
                field=["input", "status"],
                status_zh=STATUS_NAMES[row.status][0],
                status_en=STATUS_NAMES[row.status][1],
                to_zh=STATUS_NAMES[to][0],
                to_en=STATUS_NAMES[to][1],
            )
    if forwarding:
        ref = (forward_reference or "").strip()
        if not ref or len(ref) > 100:
            raise Invalid("complaints.reference_required", field=["input", "forwardToCity"])
        if row.city_reference is not None:
            raise Conflict("complaints.already_forwarded", field=["input", "forwardToCity"])
        row.city_channel = ((forward_channel or "").strip() or "12319")[:40]
        row.city_reference = ref
        row.city_forwarded_at = utcnow()
        if row.status == "ACCEPTED":
            row.status = "IN_PROGRESS"
        _event(session, row, principal, "FORWARDED", f"{row.city_channel} {ref}")
    if create_work_order:
        await _open_work_order(session, principal, row)
    if status is not None:
        if status == "REJECTED" and not reason:
            raise Invalid("complaints.reason_required", field=["input", "reason"])
        # "IN_PROGRESS" alongside a hand-over that already moved it there is fine.
        if not ((forwarding or create_work_order) and status == row.status):
            _move(row, status)
        if reason:
            row.reason = reason
        _event(session, row, principal, status, reason or note)
    row.updated_at = utcnow()
    session.add(row)
    await session.flush()
    audit.record(
        session,
        principal,
        "complaint.update",
        community_id=row.community_id,
        target=f"Complaint:{row.id}",
        before=before,
        after=row.status,
        forwarded=forwarding,
        work_order=create_work_order,
    )
    if row.status != before:
        assert row.id is not None
        zh, en = STATUS_NAMES[row.status]
        await notify(
            session,
            user_ids=[row.reporter_id],
            category=CATEGORY,
            title_key="complaints.notify.status.title",
            body_key="complaints.notify.status.body",
            params={"status_zh": zh, "status_en": en},
            data={"complaintId": encode_gid("Complaint", row.id), "status": row.status},
            # Personal news: respects quiet hours, not capped like announcements.
            severity=HIGH,
            community_id=row.community_id,
        )
    return row


async def _open_work_order(session: AsyncSession, principal: Principal, row: Complaint) -> None:
    if row.work_order_id is not None:
        raise Conflict("complaints.already_has_work_order", field=["input", "createWorkOrder"])
    assert row.id is not None
    now = utcnow()
    zh, en = CATEGORY_NAMES[row.category]
    # The title names the complaint, not the reporter: work orders are seen by staff who
    # need no more than the place and the problem.
    where = f" · {row.location_text}" if row.location_text else ""
    wo = WorkOrder(
        community_id=row.community_id,
        building_id=row.building_id,
        title=f"投诉 Complaint #{row.id} · {zh} {en}{where}"[:200],
        skill=None,
        severity=WORK_ORDER_SEVERITY,
        created_at=now,
        due_at=now + WORK_ORDER_DUE,
        notes=[{"at": now.isoformat(), "by": principal.user_id, "complaint": row.id}],
    )
    session.add(wo)
    await session.flush()
    assert wo.id is not None
    row.work_order_id = wo.id
    if row.status == "ACCEPTED":
        row.status = "IN_PROGRESS"
    # Assigned to on-duty staff by the work-order rules (nearest, least loaded).
    await workorders.dispatch(session, wo, now=now)
    _event(session, row, principal, "WORK_ORDER", f"WorkOrder:{wo.id}")


async def rate_complaint(
    session: AsyncSession,
    principal: Principal,
    *,
    complaint_id: int,
    rating: int,
    comment: str | None,
) -> Complaint:
    """The reporter rates the resolution, once."""
    row = await session.get(Complaint, complaint_id)
    if row is None or row.reporter_id != principal.user_id:
        raise NotFound(field=["input", "complaintId"])
    if not 1 <= rating <= 5:
        raise Invalid("complaints.rating", field=["input", "rating"])
    comment = (comment or "").strip() or None
    if comment and len(comment) > 500:
        raise Invalid(field=["input", "comment"])
    if row.status != "RESOLVED":
        raise Conflict("complaints.not_resolved", field=["input", "complaintId"])
    now = utcnow()
    # Conditional: of two concurrent ratings exactly one lands.
    done = await session.execute(
        update(Complaint)
        .where(Complaint.id == complaint_id, Complaint.rated_at.is_(None))  # type: ignore[union-attr]
        .values(rating=rating, rating_comment=comment, rated_at=now, updated_at=now)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("complaints.already_rated", field=["input", "complaintId"])
    await session.refresh(row)
    _event(session, row, principal, "RATED", comment)
    return row
