from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from domain.base import created_at_field, fk, json_field


class AuditEntry(SQLModel, table=True):
    """Append-only: the application never updates or deletes these rows, and the
    PostgreSQL migration adds a trigger that refuses it."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = created_at_field()
    actor_user_id: int | None = fk("users.id", nullable=True)
    community_id: int | None = fk("communities.id", nullable=True)
    action: str = Field(max_length=64, index=True)
    target: str | None = Field(default=None, max_length=100)
    details: dict[str, Any] = json_field()
