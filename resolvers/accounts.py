"""Accounts, tenancy and auth resolvers."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import encode_gid
from core.principal import Principal
from core.principal import Role as RoleValue
from domain.accounts import repository as repo
from domain.accounts import service
from domain.accounts.service import AuthPolicy, AuthResult, MembershipView
from domain.audit import service as audit_service
from domain.notifications import service as notifications
from resolvers.base import (
    IsAuthenticated,
    IsManager,
    IsStaff,
    connection,
    input_id,
    page_args,
    parse_id,
    run_mutation,
)
from resolvers.context import Context, Info
from resolvers.loaders import loader
from resolvers.node import loader_fetcher, node_type
from resolvers.roots import extra_types, mutation, query
from schema import accounts as t
from schema.base import Connection, OkPayload


def policy(ctx: Context) -> AuthPolicy:
    s = ctx.settings
    return AuthPolicy(
        max_failures=s.login_max_failures,
        lockout_seconds=s.login_lockout_seconds,
        refresh_ttl_days=s.refresh_token_ttl_days,
    )


# ---------------------------------------------------------------- loaders
@loader("community")
async def load_communities(ctx: Context, ids: list[int]) -> list[t.Community | None]:
    async with ctx.reading() as s:
        rows = await repo.communities_by_ids(s, ctx.principal, ids)
        return [t.Community.from_row(rows[i]) if i in rows else None for i in ids]


@loader("building")
async def load_buildings(ctx: Context, ids: list[int]) -> list[t.Building | None]:
    async with ctx.reading() as s:
        rows = await repo.buildings_by_ids(s, ctx.principal, ids)
        return [t.Building.from_row(rows[i]) if i in rows else None for i in ids]


@loader("unit")
async def load_units(ctx: Context, ids: list[int]) -> list[t.Unit | None]:
    async with ctx.reading() as s:
        rows = await repo.units_by_ids(s, ctx.principal, ids)
        return [t.Unit.from_row(rows[i]) if i in rows else None for i in ids]


@loader("buildings_of_community")
async def load_buildings_of(ctx: Context, ids: list[int]) -> list[list[t.Building]]:
    async with ctx.reading() as s:
        rows = await repo.buildings_of_communities(s, ctx.principal, ids)
        return [[t.Building.from_row(b) for b in rows.get(i, [])] for i in ids]


@loader("units_of_building")
async def load_units_of(ctx: Context, ids: list[int]) -> list[list[t.Unit]]:
    async with ctx.reading() as s:
        rows = await repo.units_of_buildings(s, ctx.principal, ids)
        return [[t.Unit.from_row(u) for u in rows.get(i, [])] for i in ids]


@loader("user")
async def load_users(ctx: Context, ids: list[int]) -> list[t.User | None]:
    principal = ctx.principal
    async with ctx.reading() as s:
        rows = await repo.users_by_ids(s, principal, ids)
        staff_in = principal.communities_with(RoleValue.STAFF, RoleValue.MANAGER)
        shared = await repo.user_communities(s, list(rows)) if staff_in else {}
        # Built inside the session: on a WebSocket the rows expire when it ends.
        out: list[t.User | None] = []
        for i in ids:
            row = rows.get(i)
            if row is None:
                out.append(None)
                continue
            # The masked phone is for the person and for staff of their community only.
            show = i == principal.user_id or bool(shared.get(i, set()) & staff_in)
            out.append(
                t.User.from_row(row, phone_masked=service.masked_phone(row) if show else None)
            )
    return out


node_type("Community")(loader_fetcher("community"))
node_type("Building")(loader_fetcher("building"))
node_type("Unit")(loader_fetcher("unit"))
node_type("User")(loader_fetcher("user"))


# ---------------------------------------------------------------- mapping
def viewer_of(user: Any, memberships: list[MembershipView]) -> t.Viewer:
    return t.Viewer(
        user=t.User.from_row(user, phone_masked=service.masked_phone(user)),
        memberships=[
            t.Membership(
                community=t.Community.from_row(m.community),
                roles=list(m.roles),
                units=[t.Unit.from_row(u) for u in m.units],
            )
            for m in memberships
        ],
    )


async def _auth_fields(ctx: Context, session: AsyncSession, result: AuthResult) -> dict[str, Any]:
    assert result.user.id is not None
    user, rows = await repo.load_principal_rows(session, result.user.id)
    principal = Principal.build(result.user.id, rows, result.user.locale)
    _, memberships = await service.viewer(session, principal)
    # The rest of this response (the viewer's nested fields) is read as the new user.
    ctx.principal = principal
    return {
        "access_token": result.access_token,
        "refresh_token": result.refresh_token,
        "viewer": viewer_of(user, memberships),
    }


# ---------------------------------------------------------------- roots
extra_types(t.User, t.Unit, t.Building, t.Community, t.AuditEntry)


@query
@strawberry.type
class AccountsQuery:
    @strawberry.field
    async def me(self, info: Info) -> t.Viewer | None:
        principal = info.context.principal
        if principal.is_anonymous:
            return None
        async with info.context.reading() as s:
            user, memberships = await service.viewer(s, principal)
            return viewer_of(user, memberships)

    @strawberry.field(permission_classes=[IsManager], description="Managers only.")
    async def audit_log(
        self,
        info: Info,
        community_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.AuditEntry]:
        limit, offset = page_args(info, first, after)
        cid = parse_id(info, community_id, "Community")
        async with info.context.reading() as s:
            rows, total = await audit_service.list_for_community(
                s, info.context.principal, cid, limit=limit, offset=offset
            )
        actors = await info.context.loaders.user.load_many(
            [r.actor_user_id for r in rows if r.actor_user_id]
        )
        by_id = {a._pk: a for a in actors if a}
        nodes = [
            t.AuditEntry(
                id=strawberry.ID(encode_gid("AuditEntry", r.id or 0)),
                at=r.at,
                action=r.action,
                target=r.target,
                actor=by_id.get(r.actor_user_id) if r.actor_user_id else None,
                details=r.details,
            )
            for r in rows
        ]
        return connection(nodes, total, offset)


@mutation
@strawberry.type
class AccountsMutation:
    @strawberry.mutation
    async def sign_in(self, info: Info, input: t.SignInInput) -> t.AuthPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            result = await service.sign_in(
                s, login=input.login, password=input.password, policy=policy(info.context)
            )
            return await _auth_fields(info.context, s, result)

        return await run_mutation(info, t.AuthPayload, work)

    @strawberry.mutation
    async def refresh_session(self, info: Info, input: t.RefreshInput) -> t.AuthPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            result = await service.refresh_session(
                s, refresh_token=input.refresh_token, policy=policy(info.context)
            )
            return await _auth_fields(info.context, s, result)

        return await run_mutation(info, t.AuthPayload, work)

    @strawberry.mutation
    async def redeem_invite(self, info: Info, input: t.RedeemInviteInput) -> t.AuthPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            result = await service.redeem_invite(
                s,
                info.context.principal,
                code=input.code,
                display_name=input.display_name,
                phone=input.phone,
                password=input.password,
                locale=input.locale,
                policy=policy(info.context),
            )
            return await _auth_fields(info.context, s, result)

        return await run_mutation(info, t.AuthPayload, work)

    @strawberry.mutation(permission_classes=[IsStaff])
    async def create_invite(self, info: Info, input: t.CreateInviteInput) -> t.InvitePayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            invitation, code = await service.create_invitation(
                s,
                info.context.principal,
                community_id=input_id(input.community_id, "Community", ["input", "communityId"]),
                role=RoleValue(input.role.value if hasattr(input.role, "value") else input.role),
                relation=input.relation.value if input.relation else None,
                unit_ids=[
                    input_id(u, "Unit", ["input", "unitIds"]) for u in (input.unit_ids or [])
                ],
                ttl_days=info.context.settings.invite_ttl_days,
            )
            return {"code": code, "expires_at": invitation.expires_at}

        return await run_mutation(info, t.InvitePayload, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def sign_out(self, info: Info, input: t.SignOutInput) -> OkPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            await service.sign_out(s, info.context.principal, refresh_token=input.refresh_token)
            if input.push_token:
                await notifications.unregister_push_token(
                    s, info.context.principal, token=input.push_token
                )
            return {"ok": True}

        return await run_mutation(info, _ok, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def export_my_data(self, info: Info) -> t.DataExportPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            return {"data": await service.export_my_data(s, info.context.principal)}

        return await run_mutation(info, t.DataExportPayload, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def close_account(self, info: Info, input: t.CloseAccountInput) -> OkPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            await service.close_account(s, info.context.principal, password=input.password)
            return {"ok": True}

        payload = await run_mutation(info, _ok, work)
        if payload.ok:
            info.context.services.invalidate_principal(info.context.principal.user_id)
        return payload


def _ok(*, user_errors: list[Any], ok: bool = False) -> OkPayload:
    return OkPayload(ok=ok and not user_errors, user_errors=user_errors)
