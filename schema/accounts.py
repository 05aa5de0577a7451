"""Accounts and tenancy types."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from core.ids import encode_gid
from core.principal import Role as RoleValue
from domain.accounts import models as m
from schema.base import Node, UserError

# Nested fields load through the request's DataLoaders (registered by resolvers/);
# `info.context` is resolvers.context.Context.
Info = strawberry.Info

Role = strawberry.enum(RoleValue, name="Role")


@strawberry.type
class User(Node):
    display_name: str
    phone_masked: str | None
    locale: str
    _pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: m.User, *, phone_masked: str | None = None) -> User:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("User", row.id)),
            display_name=row.display_name,
            phone_masked=phone_masked,
            locale=row.locale,
            _pk=row.id,
        )


@strawberry.type
class Unit(Node):
    label: str
    area_m2: float
    _pk: strawberry.Private[int]
    _building_id: strawberry.Private[int]
    _community_id: strawberry.Private[int]

    @strawberry.field
    async def building(self, info: Info) -> Annotated[Building, strawberry.lazy("schema.accounts")]:
        return await info.context.loaders.building.load(self._building_id)

    @classmethod
    def from_row(cls, row: m.Unit) -> Unit:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("Unit", row.id)),
            label=row.label,
            area_m2=row.area_centi_m2 / 100,
            _pk=row.id,
            _building_id=row.building_id,
            _community_id=row.community_id,
        )


@strawberry.type
class Building(Node):
    name: str
    _pk: strawberry.Private[int]
    _community_id: strawberry.Private[int]

    @strawberry.field
    async def units(self, info: Info) -> list[Unit]:
        return await info.context.loaders.units_of_building.load(self._pk)

    @classmethod
    def from_row(cls, row: m.Building) -> Building:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("Building", row.id)),
            name=row.name,
            _pk=row.id,
            _community_id=row.community_id,
        )


@strawberry.type
class Community(Node):
    name: str
    time_zone: str
    _pk: strawberry.Private[int]
    _currency: strawberry.Private[str]

    @strawberry.field
    async def buildings(self, info: Info) -> list[Building]:
        return await info.context.loaders.buildings_of_community.load(self._pk)

    @classmethod
    def from_row(cls, row: m.Community) -> Community:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("Community", row.id)),
            name=row.name,
            time_zone=row.time_zone,
            _pk=row.id,
            _currency=row.currency,
        )


@strawberry.type
class Membership:
    community: Community
    roles: list[Role]  # type: ignore[valid-type]
    units: list[Unit]


@strawberry.type
class Viewer:
    user: User
    memberships: list[Membership]


@strawberry.type
class AuthPayload:
    access_token: str | None = None
    refresh_token: str | None = None
    viewer: Viewer | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SignInInput:
    login: str
    password: str


@strawberry.input
class RefreshInput:
    refresh_token: str


@strawberry.input(
    description="An invitation issued by the property office ties a new account to its "
    "unit(s) and role."
)
class RedeemInviteInput:
    code: str
    display_name: str
    phone: str
    password: str
    locale: str | None = None


@strawberry.enum
class UnitRelation(enum.Enum):
    OWNER = "OWNER"
    TENANT = "TENANT"


@strawberry.input
class CreateInviteInput:
    community_id: strawberry.ID
    role: Role  # type: ignore[valid-type]
    "For residents: the units the account will own or rent."
    unit_ids: list[strawberry.ID] | None = None
    relation: UnitRelation | None = None


@strawberry.type
class InvitePayload:
    "The code is shown once; only its digest is stored."

    code: str | None = None
    expires_at: datetime | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SignOutInput:
    refresh_token: str
    push_token: str | None = strawberry.field(
        default=None, description="This device's push token, so it stops getting pushes."
    )


@strawberry.input
class CloseAccountInput:
    password: str


@strawberry.type
class DataExportPayload:
    data: JSON | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AuditEntry(Node):
    at: datetime
    action: str
    target: str | None
    actor: User | None
    details: JSON
