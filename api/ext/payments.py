"""Payments at the edge: the provider chosen from settings, the Stripe webhook route,
and the sweeps (unprocessed webhook events, daily reconciliation)."""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from api.app import AppState, Component, add_components, add_routes
from api.jobs import job
from core.clock import utcnow
from core.db import Database
from domain.payments import service as payments
from domain.payments.ports import WebhookRejected
from payments import make_provider

log = logging.getLogger("linli.payments")

MAX_WEBHOOK_BYTES = 512 * 1024


class WebhookProcessor:
    """Processes stored events after the 2xx has been sent. Tests `drain()` it to wait
    for the work a webhook started, instead of sleeping."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(self, event_pk: int) -> None:
        task = asyncio.create_task(self._run(event_pk))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, event_pk: int) -> None:
        try:
            await payments.process_event(self.db, event_pk)
        except Exception:
            # Left unprocessed; the pending-events sweep retries it.
            log.exception("processing webhook event %s failed", event_pk)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # As a lifespan component: let in-flight processing finish on shutdown (what does
    # not finish stays stored and unprocessed, for the pending-events sweep).
    async def start(self, state: AppState) -> None:
        return None

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.drain(), timeout=10)
        except TimeoutError:
            log.warning("shutting down with %d webhook events in flight", len(self._tasks))


def processor(state: AppState) -> WebhookProcessor:
    found = state.services.get("payments.webhooks")
    assert isinstance(found, WebhookProcessor)
    return found


@add_components
def payments_component(state: AppState) -> list[Component]:
    # Runs when the app is created: Stripe whenever its key is set, else offline.
    payments.use_provider(make_provider(state.settings))
    webhooks = WebhookProcessor(state.db)
    state.services.extras["payments.webhooks"] = webhooks
    return [webhooks]


@add_routes
def payment_routes(state: AppState) -> list[BaseRoute]:
    async def stripe_webhook(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        provider = payments.current_provider()
        try:
            # Verified over the raw bytes, before anything is parsed or stored.
            event = provider.verify_webhook(body, request.headers.get("stripe-signature"))
        except WebhookRejected as exc:
            log.warning("rejected a webhook: %s", exc)
            return JSONResponse({"error": "invalid signature"}, status_code=400)
        async with state.db.transaction() as session:
            event_pk = await payments.record_event(session, provider.name, event)
        if event_pk is None:
            return JSONResponse({"received": True, "duplicate": True})
        # Stored and committed: answer now, act on it right after.
        processor(state).schedule(event_pk)
        return JSONResponse({"received": True})

    return [Route("/webhooks/stripe", stripe_webhook, methods=["POST"])]


@job("payments.pending_webhook_events", seconds=60)
async def retry_pending_events(state: AppState) -> None:
    await payments.process_pending_events(
        state.db, now=utcnow(), older_than_s=state.settings.stripe_webhook_retry_after_seconds
    )


@job("payments.reconcile", seconds=24 * 3600)
async def reconcile(state: AppState) -> None:
    entries = await payments.reconcile_open_payments(state.db, now=utcnow())
    log.info("payment reconciliation checked %d open payments", len(entries))
