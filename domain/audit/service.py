"""The append-only audit log of sensitive actions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Forbidden
from core.principal import Principal, Role
from domain.audit.models import AuditEntry


def record(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    *,
    community_id: int | None = None,
    target: str | None = None,
    **details: Any,
) -> AuditEntry:
    """Add an audit entry to the caller's transaction: it lands iff the action does."""
    entry = AuditEntry(
        actor_user_id=principal.user_id if principal else None,
        community_id=community_id,
        action=action,
        target=target,
        details=details,
    )
    session.add(entry)
    return entry


async def list_for_community(
    session: AsyncSession, principal: Principal, community_id: int, *, limit: int, offset: int
) -> tuple[list[AuditEntry], int]:
    if not principal.has_role(community_id, Role.MANAGER):
        raise Forbidden()
    base = select(AuditEntry).where(AuditEntry.community_id == community_id)
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    rows = await session.scalars(
        base.order_by(AuditEntry.id.desc()).limit(limit).offset(offset)  # type: ignore[union-attr]
    )
    return list(rows), int(total or 0)
