"""The app factory: settings → database, bus, schema, routes, background components."""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

import resolvers
from api.auth import PrincipalResolver
from api.graphql_http import GraphQLHTTP
from api.observability import PROM_CONTENT_TYPE, Metrics, ObservabilityMiddleware
from core import i18n, keys
from core.bus import EventBus, InProcessBus
from core.db import Database
from core.errors import Unauthenticated
from core.settings import Settings, get_settings
from resolvers.context import Context, Services

log = logging.getLogger("linli.app")


class Component(Protocol):
    """Background work owned by the lifespan: the scheduler, the outbox worker, the
    device bridge. Started after the database is up, stopped before it closes."""

    async def start(self, state: AppState) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class AppState:
    settings: Settings
    db: Database
    bus: EventBus
    principals: PrincipalResolver
    metrics: Metrics
    services: Services = field(default_factory=Services)
    components: list[Component] = field(default_factory=list)

    def context(self, request: Any, principal: Any, *, long_lived: bool = False) -> Context:
        locale = i18n.negotiate(request.headers.get("accept-language")) if request else "zh-CN"
        return Context(
            db=self.db,
            settings=self.settings,
            bus=self.bus,
            principal=principal,
            locale=locale,
            request=request,
            services=self.services,
            long_lived=long_lived,
        )


def make_bus(settings: Settings, db: Database) -> EventBus:
    if settings.bus == "memory":
        return InProcessBus()
    from core.bus_remote import PostgresBus, RedisBus

    if settings.bus == "redis":
        return RedisBus(settings.redis_url)
    return PostgresBus(db.url)


class _TransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """Strawberry's graphql-transport-ws handler, refusing a malformed `subscribe` (a
    payload that is not an object with a string `query`) with close code 4400 as the
    protocol asks, instead of failing inside the handler (found by `make soak`)."""

    async def handle_subscribe(self, message: Any) -> None:
        payload = message.get("payload")
        if (
            not isinstance(message.get("id"), str)
            or not isinstance(payload, dict)
            or not isinstance(payload.get("query"), str)
            or not isinstance(payload.get("variables") or {}, dict)
            or not isinstance(payload.get("operationName") or "", str)
            or not isinstance(payload.get("extensions") or {}, dict)
        ):
            await self.handle_invalid_message("Invalid subscribe message")
            return
        await super().handle_subscribe(message)


class SubscriptionApp(GraphQL):
    """Strawberry's WebSocket handling (graphql-transport-ws and graphql-ws); auth from
    the connection_init payload, refused with 4403."""

    graphql_transport_ws_handler_class = _TransportWSHandler

    def __init__(self, state: AppState) -> None:
        super().__init__(
            resolvers.build(),
            graphql_ide=None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            connection_init_wait_timeout=timedelta(seconds=10),
            keep_alive=True,
            keep_alive_interval=15,
        )
        self.state = state
        # Subscribers sharing one execution (resolvers/shared_streams.py) receive the
        # same result object: its JSON is encoded once, not once per subscriber.
        self._frames: OrderedDict[int, tuple[Any, str]] = OrderedDict()
        # Each subscription holds a task and a bus queue: a ceiling per connection keeps
        # one client from exhausting them. Strawberry answers the extra `subscribe` with
        # an `error` message for that operation and keeps the connection.
        self.max_subscriptions_per_connection = (
            state.settings.graphql_max_subscriptions_per_connection
        )

    def encode_json(self, data: object) -> str:
        if isinstance(data, dict) and data.get("type") == "next":
            payload = data.get("payload")
            if isinstance(payload, dict) and payload.keys() == {"data"}:
                result = payload["data"]
                hit = self._frames.get(id(result))
                if hit is None or hit[0] is not result:
                    hit = (result, super().encode_json(result))
                    self._frames[id(result)] = hit
                    while len(self._frames) > 256:
                        self._frames.popitem(last=False)
                opid = json.dumps(data.get("id"))
                return f'{{"id":{opid},"type":"next","payload":{{"data":{hit[1]}}}}}'
        return super().encode_json(data)

    async def get_context(self, request: Any, response: Any) -> Context:  # type: ignore[override]
        from core.principal import ANONYMOUS

        return self.state.context(request, ANONYMOUS, long_lived=True)

    async def on_ws_connect(self, context: Context) -> Any:  # type: ignore[override]
        params = context.connection_params or {}
        auth = None
        if isinstance(params, dict):
            auth = params.get("Authorization") or params.get("authorization")
        if not isinstance(auth, str) or not auth:
            raise ConnectionRejectionError({"reason": "missing token"})
        try:
            context.principal = await self.state.principals.from_authorization(auth)
        except Unauthenticated:
            raise ConnectionRejectionError({"reason": "invalid token"}) from None
        context.locale = context.principal.locale
        return None


RouteFactory = Callable[[AppState], list[BaseRoute]]
ComponentFactory = Callable[[AppState], list[Component]]
_route_factories: list[RouteFactory] = []
_component_factories: list[ComponentFactory] = []


def add_routes(factory: RouteFactory) -> RouteFactory:
    _route_factories.append(factory)
    return factory


def add_components(factory: ComponentFactory) -> ComponentFactory:
    _component_factories.append(factory)
    return factory


def _load_capabilities() -> None:
    """Import the modules that register routes and components with the factory."""
    import api.capabilities  # noqa: F401


def create_app(
    settings: Settings | None = None,
    *,
    configure: Callable[[AppState], Awaitable[None] | None] | None = None,
) -> Starlette:
    settings = settings or get_settings()
    keys.configure(settings.master_secret(), access_ttl_seconds=settings.access_token_ttl_seconds)
    db = Database(
        settings.database_url, pool_size=settings.database_pool_size, echo=settings.database_echo
    )
    bus = make_bus(settings, db)
    db.set_publisher(bus.publish)
    state = AppState(
        settings=settings, db=db, bus=bus, principals=PrincipalResolver(db), metrics=Metrics()
    )
    state.services.invalidate_principal = state.principals.invalidate
    _load_capabilities()
    schema = resolvers.build()

    async def make_context(request: Request) -> Context:
        principal = await state.principals.from_authorization(request.headers.get("authorization"))
        ctx = state.context(request, principal)
        if not principal.is_anonymous and "accept-language" not in request.headers:
            ctx.locale = principal.locale
        return ctx

    graphql_http = GraphQLHTTP(schema, settings, make_context, graphiql=settings.env == "dev")

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        try:
            async with db.reader() as session:
                await session.execute(text("SELECT 1"))
        except Exception:
            log.exception("readiness check failed")
            return JSONResponse({"status": "unavailable", "database": False}, status_code=503)
        return JSONResponse({"status": "ok", "database": True})

    async def metrics(_: Request) -> Response:
        return Response(state.metrics.render(), media_type=PROM_CONTENT_TYPE)

    routes: list[BaseRoute] = [
        Route("/graphql", graphql_http.handle, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", SubscriptionApp(state)),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
    ]
    for factory in _route_factories:
        routes.extend(factory(state))
    for cfactory in _component_factories:
        state.components.extend(cfactory(state))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await bus.start()
        started: list[Component] = []
        try:
            if configure is not None:
                result = configure(state)
                if result is not None:
                    await result
            if settings.background_jobs:
                for component in state.components:
                    await component.start(state)
                    started.append(component)
            yield
        finally:
            for component in reversed(started):
                try:
                    await component.stop()
                except Exception:
                    log.exception("stopping %r failed", component)
            await bus.stop()
            await db.dispose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.linli = state
    app.add_middleware(ObservabilityMiddleware, metrics=state.metrics, count_sql=settings.count_sql)
    return app
