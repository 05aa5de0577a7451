"""Inbox, push tokens and notification settings: the caller's own, always."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from domain.notifications import repository as repo
from domain.notifications import service
from resolvers.base import IsAuthenticated, input_id, page_args, run_mutation
from resolvers.context import Context, Info
from resolvers.loaders import loader
from resolvers.node import loader_fetcher, node_type
from resolvers.roots import extra_types, mutation, query
from schema import notifications as t
from schema.base import OkPayload, PageInfo, edges_of


@loader("notification")
async def load_notifications(ctx: Context, ids: list[int]) -> list[t.Notification | None]:
    async with ctx.reading() as s:
        rows = await repo.notifications_by_ids(s, ctx.principal, ids)
    return [t.Notification.from_row(rows[i], ctx.locale) if i in rows else None for i in ids]


node_type("Notification")(loader_fetcher("notification"))
extra_types(t.Notification)


async def _settings(s: AsyncSession, ctx: Context) -> t.NotificationSettings:
    prefs, quiet = await repo.settings_of(s, ctx.principal)
    return t.NotificationSettings(
        preferences=[
            t.NotificationPreference(category=p.category, push_enabled=p.push_enabled)
            for p in prefs
        ],
        quiet_hours=t.QuietHours(start=quiet.start, end=quiet.end) if quiet else None,
    )


@query
@strawberry.type
class NotificationsQuery:
    @strawberry.field(permission_classes=[IsAuthenticated])
    async def notifications(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> t.NotificationConnection:
        limit, offset = page_args(info, first, after)
        ctx = info.context
        async with ctx.reading() as s:
            rows, total, unread = await repo.inbox(s, ctx.principal, limit=limit, offset=offset)
        nodes = [t.Notification.from_row(r, ctx.locale) for r in rows]
        edges = edges_of(nodes, offset)
        return t.NotificationConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=offset + len(nodes) < total,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=total,
            unread_count=unread,
        )

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="The viewer's push preferences per category and quiet hours.",
    )
    async def notification_settings(self, info: Info) -> t.NotificationSettings:
        async with info.context.reading() as s:
            return await _settings(s, info.context)


@mutation
@strawberry.type
class NotificationsMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def register_push_token(self, info: Info, input: t.RegisterPushTokenInput) -> OkPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            await service.register_push_token(
                s, info.context.principal, token=input.token, platform=input.platform.value
            )
            return {"ok": True}

        return await run_mutation(info, _ok, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def mark_notifications_read(
        self, info: Info, input: t.MarkNotificationsReadInput
    ) -> OkPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            ids = [input_id(i, "Notification", ["input", "ids"]) for i in input.ids]
            await service.mark_read(s, info.context.principal, ids=ids)
            return {"ok": True}

        return await run_mutation(info, _ok, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def set_notification_preference(
        self, info: Info, input: t.SetNotificationPreferenceInput
    ) -> t.NotificationSettingsPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            await service.set_preference(
                s, info.context.principal, category=input.category, push_enabled=input.push_enabled
            )
            return {"settings": await _settings(s, info.context)}

        return await run_mutation(info, t.NotificationSettingsPayload, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def set_quiet_hours(
        self, info: Info, input: t.SetQuietHoursInput
    ) -> t.NotificationSettingsPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            await service.set_quiet_hours(
                s, info.context.principal, start=input.start, end=input.end
            )
            return {"settings": await _settings(s, info.context)}

        return await run_mutation(info, t.NotificationSettingsPayload, work)


def _ok(*, user_errors: list[Any], ok: bool = False) -> OkPayload:
    return OkPayload(ok=ok and not user_errors, user_errors=user_errors)
