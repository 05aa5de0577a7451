"""Scheduled sweeps. Each job is an idempotent function of the app state that claims
its own rows, so running it on every instance is safe; the scheduler only says when."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler

if TYPE_CHECKING:
    from api.app import AppState

log = logging.getLogger("linli.jobs")

JobFn = Callable[["AppState"], Awaitable[None]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    fn: JobFn
    seconds: float


_jobs: dict[str, JobSpec] = {}


def job(name: str, *, seconds: float) -> Callable[[JobFn], JobFn]:
    """Register `fn(state)` to run every `seconds` in every app process."""

    def register(fn: JobFn) -> JobFn:
        _jobs[name] = JobSpec(name, fn, seconds)
        return fn

    return register


def registered() -> dict[str, JobSpec]:
    return dict(_jobs)


class Scheduler:
    """The lifespan component around APScheduler's AsyncIOScheduler."""

    def __init__(self) -> None:
        self._scheduler: AsyncIOScheduler | None = None

    async def start(self, state: AppState) -> None:
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        overrides = state.settings.job_intervals
        for spec in _jobs.values():
            seconds = overrides.get(spec.name, spec.seconds)
            self._scheduler.add_job(
                _guarded(spec, state),
                "interval",
                seconds=seconds,
                id=spec.name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(seconds)),
            )
        self._scheduler.start()

    async def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None


def _guarded(spec: JobSpec, state: AppState) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await spec.fn(state)
        except Exception:
            log.exception("job %s failed", spec.name)

    return run
