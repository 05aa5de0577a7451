"""The outbox worker: claims due pushes, sends them, records what happened.

Started by the app lifespan (api/ext/notifications.py). It sweeps when a commit that
queued notifications wakes it (`register_waker`) and otherwise every
`outbox_poll_seconds` (retries come due, leases of dead workers run out). Tests call
`run_once()` / `drain()` directly: background work is off there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime

from core.clock import utcnow
from core.db import Database
from core.settings import Settings
from domain.notifications import outbox
from domain.notifications.outbox import RetryPolicy
from domain.notifications.push import SendResult
from domain.notifications.service import register_waker, unregister_waker
from notifications.sender import LogSender, PushSender

log = logging.getLogger("linli.outbox")


def make_sender(settings: Settings) -> PushSender:
    if settings.fcm_credentials is None:
        return LogSender()
    from notifications.fcm import FcmSender

    return FcmSender(
        credentials_path=settings.fcm_credentials,
        endpoint=settings.fcm_endpoint,
        batch_size=settings.fcm_batch_size,
        timeout_seconds=settings.fcm_timeout_seconds,
    )


@dataclass
class SweepStats:
    claimed: int = 0
    skipped: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    lost_lease: int = 0
    tokens_removed: int = 0
    deliveries: int = 0

    def add(self, other: SweepStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        sender: PushSender,
        *,
        batch_size: int = 500,
        lease_seconds: float = 120,
        poll_seconds: float = 5.0,
        retry: RetryPolicy | None = None,
        concurrency: int = 1,
    ) -> None:
        self.db = db
        self.sender = sender
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.retry = retry or RetryPolicy()
        # Sweeps running side by side in this process: one sends while another
        # claims or records (claims never overlap, see domain.notifications.outbox).
        self.concurrency = max(1, concurrency)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.stop_grace_seconds = 10.0

    @classmethod
    def from_settings(
        cls, db: Database, settings: Settings, sender: PushSender | None = None
    ) -> OutboxWorker:
        return cls(
            db,
            sender or make_sender(settings),
            batch_size=settings.outbox_batch_size,
            lease_seconds=settings.outbox_lease_seconds,
            poll_seconds=settings.outbox_poll_seconds,
            concurrency=settings.outbox_concurrency,
            retry=RetryPolicy(
                max_attempts=settings.outbox_max_attempts,
                backoff_seconds=settings.outbox_backoff_seconds,
                cap_seconds=settings.outbox_backoff_cap_seconds,
            ),
        )

    async def run_once(self, now: datetime | None = None) -> SweepStats:
        """One sweep: claim up to `batch_size` due rows, send, record."""
        now = now or utcnow()
        async with self.db.transaction() as session:
            claim = await outbox.claim_due(
                session, now=now, limit=self.batch_size, lease_seconds=self.lease_seconds
            )
        stats = SweepStats(claimed=claim.claimed, skipped=claim.skipped)
        if not claim.pushes:
            return stats
        flat = [m for push in claim.pushes for _, m in push.sends]
        answers = await self.sender.send(flat) if flat else []
        results: dict[int, list[SendResult]] = {}
        position = 0
        for push in claim.pushes:
            results[push.outbox_id] = answers[position : position + len(push.sends)]
            position += len(push.sends)
        async with self.db.transaction() as session:
            settled = await outbox.record_results(
                session, claim, results, now=utcnow(), retry=self.retry
            )
        for name in ("sent", "retrying", "failed", "lost_lease", "tokens_removed", "deliveries"):
            setattr(stats, name, getattr(settled, name))
        return stats

    async def drain(self, now: datetime | None = None, max_rounds: int = 1000) -> SweepStats:
        """Sweep until nothing is due (at `now`): what tests and the bench call."""
        total = SweepStats()
        for _ in range(max_rounds):
            stats = await self.run_once(now)
            total.add(stats)
            if stats.claimed == 0:
                break
        return total

    # ------------------------------------------------------------ lifespan
    def wake(self) -> None:
        self._wake.set()

    async def start(self, state: object = None) -> None:
        register_waker(self.wake)
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self._loop(), name=f"outbox-worker-{i}")
            for i in range(self.concurrency)
        ]

    async def stop(self) -> None:
        """Let a sweep in flight finish (its sends get recorded), then stop; cancel
        only what outlasts `stop_grace_seconds` (its rows return when their lease ends)."""
        unregister_waker(self.wake)
        self._stopping = True
        self._wake.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=self.stop_grace_seconds)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._tasks = []
        await self.sender.close()

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                stats = await self.run_once()
                if stats.claimed >= self.batch_size:
                    continue  # more is due right now
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox sweep failed")
            if self._stopping:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
