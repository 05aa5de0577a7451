"""Notifications: the outbox worker in the lifespan, the stale-token and outbox
retention jobs."""

from __future__ import annotations

from api.app import AppState, Component, add_components
from api.jobs import job
from core.clock import utcnow
from domain.notifications import service
from notifications.worker import OutboxWorker


@add_components
def outbox_component(state: AppState) -> list[Component]:
    worker = OutboxWorker.from_settings(state.db, state.settings)
    # Reachable for tests and the CLI even when background work is off.
    state.services.extras["outbox"] = worker
    return [worker]


@job("retire_push_tokens", seconds=3600)
async def retire_push_tokens(state: AppState) -> None:
    async with state.db.transaction() as session:
        await service.retire_stale_tokens(
            session, now=utcnow(), max_age_days=state.settings.push_token_max_age_days
        )


@job("purge_settled_outbox", seconds=6 * 3600)
async def purge_settled_outbox(state: AppState) -> None:
    async with state.db.transaction() as session:
        await service.purge_settled_outbox(
            session, now=utcnow(), keep_days=state.settings.outbox_keep_days
        )
