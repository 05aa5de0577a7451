from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from core import clock as clock_module
from core.clock import FrozenClock
from tests.stubs.stripe_stub import StripeStub
from tests.support import (
    Backend,
    GraphQLClient,
    LiveServer,
    pg_reachable,
    service_missing,
    test_settings,
)

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session", params=BACKENDS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "postgres" and not await pg_reachable():
        service_missing(
            "PostgreSQL",
            "start it with `pg_ctlcluster --skip-systemctl-redirect "
            "$(ls /etc/postgresql) main start`",
        )
    b = Backend(request.param)
    await b.prepare()
    yield b
    await b.cleanup()


@pytest.fixture(scope="session")
async def server(backend: Backend) -> AsyncIterator[LiveServer]:
    live = LiveServer(test_settings(backend.url))
    await live.start()
    yield live
    await live.stop()


@pytest.fixture
async def api(backend: Backend, server: LiveServer) -> AsyncIterator[GraphQLClient]:
    await backend.reset(server.state.db)
    server.state.principals.invalidate()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        yield GraphQLClient(server, backend, http)


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    """Freeze time at a fixed instant; tests move it with `clock.advance(minutes=...)`."""
    from datetime import UTC, datetime

    frozen = FrozenClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai
    clock_module.set_clock(frozen)
    yield frozen
    clock_module.set_clock(None)


@pytest.fixture(scope="session")
async def stripe_stub_server() -> AsyncIterator[StripeStub]:
    async with StripeStub() as stub:
        yield stub


@pytest.fixture
async def stripe_stub(stripe_stub_server: StripeStub) -> AsyncIterator[StripeStub]:
    """The Stripe stub, with the app's payment provider pointed at it for this test."""
    from domain.payments import service as payments

    previous = payments.installed_provider()
    stripe_stub_server.reset()
    payments.use_provider(stripe_stub_server.provider())
    yield stripe_stub_server
    payments.use_provider(previous)
