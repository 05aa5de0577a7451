"""Tenancy (organization → community → building → unit), people, roles, credentials."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.base import created_at_field, fk, json_field, utc_field


class Organization(SQLModel, table=True):
    __tablename__ = "organizations"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    created_at: datetime = created_at_field()


class Community(SQLModel, table=True):
    __tablename__ = "communities"
    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = fk("organizations.id")
    name: str = Field(max_length=200)
    time_zone: str = Field(default="Asia/Shanghai", max_length=64)
    currency: str = Field(default="CNY", max_length=3)
    created_at: datetime = created_at_field()


class Building(SQLModel, table=True):
    __tablename__ = "buildings"
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    name: str = Field(max_length=100)
    # Site-plan position in metres, for "nearest building first" dispatch.
    x_m: int = 0
    y_m: int = 0


class Unit(SQLModel, table=True):
    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("building_id", "label"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    building_id: int = fk("buildings.id")
    label: str = Field(max_length=50)
    floor: int | None = None
    # Exclusive floor area from the property register in hundredths of m², so that
    # the council's thresholds use exact integer arithmetic.
    area_centi_m2: int
    # Unsold or undelivered: held by the developer (counts as one owner in votes).
    developer_held: bool = False


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(max_length=100)
    # Personal data: SM4-GCM ciphertext plus a keyed SM3 blind index for look-ups.
    email_enc: bytes | None = Field(default=None, sa_type=LargeBinary)
    email_bidx: str | None = Field(default=None, max_length=64, unique=True)
    phone_enc: bytes | None = Field(default=None, sa_type=LargeBinary)
    phone_bidx: str | None = Field(default=None, max_length=64, unique=True)
    password_hash: str = Field(max_length=255)
    locale: str = Field(default="zh-CN", max_length=10)
    closed_at: datetime | None = utc_field()
    created_at: datetime = created_at_field()


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "community_id", "role"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("users.id")
    community_id: int = fk("communities.id")
    role: str = Field(max_length=20)
    created_at: datetime = created_at_field()


class Ownership(SQLModel, table=True):
    """An owner of a unit; several rows for one unit is co-ownership."""

    __tablename__ = "ownerships"
    __table_args__ = (UniqueConstraint("unit_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = fk("units.id")
    user_id: int = fk("users.id")
    since: date | None = None


class Tenancy(SQLModel, table=True):
    __tablename__ = "tenancies"
    __table_args__ = (UniqueConstraint("unit_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = fk("units.id")
    user_id: int = fk("users.id")
    starts_on: date | None = None
    ends_on: date | None = None


class Invitation(SQLModel, table=True):
    """Issued by the property office per unit(s) and role; redeemed once."""

    __tablename__ = "invitations"
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    role: str = Field(max_length=20)
    # OWNER or TENANT for residents, None for other roles.
    relation: str | None = Field(default=None, max_length=10)
    unit_ids: list[int] = json_field(list)
    code_hash: str = Field(max_length=64, unique=True)
    created_by: int | None = fk("users.id", nullable=True)
    created_at: datetime = created_at_field()
    expires_at: datetime = utc_field(nullable=False)
    redeemed_by: int | None = fk("users.id", nullable=True, index=False)
    redeemed_at: datetime | None = utc_field()


class RefreshToken(SQLModel, table=True):
    """Rotating refresh tokens, stored hashed. Reusing a used one revokes its family."""

    __tablename__ = "refresh_tokens"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("users.id")
    family_id: str = Field(max_length=36, index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = created_at_field()
    expires_at: datetime = utc_field(nullable=False)
    used_at: datetime | None = utc_field()
    revoked_at: datetime | None = utc_field()


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per login (blind index) within a window."""

    __tablename__ = "login_throttles"
    key: str = Field(primary_key=True, max_length=64)
    failures: int = 0
    window_started_at: datetime = utc_field(nullable=False)
    locked_until: datetime | None = utc_field()
