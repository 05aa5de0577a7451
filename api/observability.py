"""JSON logs with a request id, and Prometheus metrics, as plain ASGI middleware."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
import uuid
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST as PROM_CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from core.db import sql_counter

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid:
            entry["request_id"] = rid
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, as_json: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if as_json else logging.Formatter("%(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "linli_http_requests_total",
            "HTTP requests",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "linli_http_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.errors = Counter(
            "linli_http_errors_total",
            "HTTP responses with status >= 500",
            ["route"],
            registry=self.registry,
        )
        self.websockets = Gauge(
            "linli_websockets_open", "Open WebSocket connections", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


KNOWN_ROUTES = (
    "/graphql",
    "/healthz",
    "/readyz",
    "/metrics",
    "/webhooks/stripe",
    "/devices/telemetry",
)


def _route_of(path: str) -> str:
    for route in KNOWN_ROUTES:
        if path == route:
            return route
    return "other"


class ObservabilityMiddleware:
    def __init__(self, app: Any, metrics: Metrics, count_sql: bool = False) -> None:
        self.app = app
        self.metrics = metrics
        self.count_sql = count_sql

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "websocket":
            self.metrics.websockets.inc()
            try:
                await self.app(scope, receive, send)
            finally:
                self.metrics.websockets.dec()
            return
        if kind != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                rid = value.decode("latin-1")[:64]
                break
        rid = rid or uuid.uuid4().hex
        token = request_id_var.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        route = _route_of(scope["path"])
        started = time.perf_counter()
        status_holder = [500]
        counter: list[int] | None = None
        if self.count_sql:
            counter = [0]
            sql_counter.set(counter)

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                headers = message.setdefault("headers", [])
                headers.append((b"x-request-id", rid.encode()))
                if counter is not None:
                    headers.append((b"x-sql-count", str(counter[0]).encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            status = status_holder[0]
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
            if status >= 500:
                self.metrics.errors.labels(route).inc()
            request_id_var.reset(token)


__all__ = ["PROM_CONTENT_TYPE", "Metrics", "ObservabilityMiddleware", "configure_logging"]
