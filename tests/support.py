"""Test harness: a real server (uvicorn) per database backend, a fresh database per
test cloned from a migrated and demo-seeded template, and small HTTP/WS clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import sqlite3
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
import websockets

from api.app import AppState, create_app
from api.migrate import upgrade
from api.seed import Demo, seed
from core import keys
from core.db import Database
from core.settings import Settings

PG_DSN = os.environ.get("LINLI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET = "test-secret-" + "x" * 40
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
RUN_ID = uuid.uuid4().hex[:8]


def service_missing(what: str, how: str) -> None:
    """Skip on a laptop; fail in CI, where every service must be running."""
    message = f"{what} is not reachable: {how}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


async def pg_reachable() -> bool:
    try:
        conn = await asyncpg.connect(PG_DSN, timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


def mqtt_reachable(host: str = "127.0.0.1", port: int = 1883) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=2):
        return True
    return False


def test_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": url,
        "secret_key": SECRET,
        "background_jobs": False,
        "log_json": False,
        "database_pool_size": 20,
        # Uploaded files of a test run stay out of the working tree.
        "upload_dir": Path(tempfile.mkdtemp(prefix="linli-uploads-")),
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Backend:
    """One database kind: a template with the demo seed, and the test database."""

    name: str
    url: str = ""
    template: str = ""
    tmpdir: Path | None = None
    demo: Demo = field(default_factory=Demo)

    async def prepare(self) -> None:
        keys.configure(SECRET.encode())
        if self.name == "sqlite":
            self.tmpdir = Path(tempfile.mkdtemp(prefix="linli-test-"))
            tpl = self.tmpdir / "template.db"
            self.template = str(tpl)
            self.url = f"sqlite+aiosqlite:///{self.tmpdir / 'test.db'}"
            tpl_url = f"sqlite+aiosqlite:///{tpl}"
        else:
            self.template = f"linli_test_tpl_{RUN_ID}"
            self.url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/linli_test_{RUN_ID}"
            tpl_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{self.template}"
            await _pg_exec(f'CREATE DATABASE "{self.template}"')
        await asyncio.to_thread(upgrade, tpl_url)
        db = Database(tpl_url)
        demo = await seed(db)
        assert demo is not None
        self.demo = demo
        await db.dispose()
        if self.name == "sqlite":
            # Fold the WAL into the main file so that copying that one file is enough.
            with contextlib.closing(sqlite3.connect(self.template)) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        await self.reset(None)

    async def reset(self, db: Database | None) -> None:
        """Give the next test a database equal to the template."""
        if db is not None:
            await db.dispose()
        if self.name == "sqlite":
            assert self.tmpdir is not None
            target = self.tmpdir / "test.db"
            for suffix in ("-wal", "-shm"):
                Path(str(target) + suffix).unlink(missing_ok=True)
            shutil.copyfile(self.template, target)
        else:
            name = self.url.rsplit("/", 1)[1]
            await _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await _pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')

    async def cleanup(self) -> None:
        if self.name == "sqlite":
            if self.tmpdir:
                shutil.rmtree(self.tmpdir, ignore_errors=True)
        else:
            name = self.url.rsplit("/", 1)[1]
            await _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await _pg_exec(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')


async def _pg_exec(sql: str) -> None:
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def new_pg_database(prefix: str) -> str:
    """An empty PostgreSQL database of our own; returns its SQLAlchemy URL."""
    name = f"{prefix}_{RUN_ID}_{uuid.uuid4().hex[:6]}"
    await _pg_exec(f'CREATE DATABASE "{name}"')
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    assert name.startswith("linli_"), "only drop databases we created"
    await _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class LiveServer:
    """The real app under uvicorn on an ephemeral port, in the test event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.state: AppState = self.app.state.linli
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    async def start(self) -> None:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=0,
            lifespan="on",
            log_level="warning",
            ws_max_size=1 << 20,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(500):
            if self._server.started:
                break
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        sock = self._server.servers[0].sockets[0]
        self.port = sock.getsockname()[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            await self._task


class GraphQLClient:
    def __init__(self, server: LiveServer, backend: Backend, http: httpx.AsyncClient) -> None:
        self.server = server
        self.backend = backend
        self.http = http

    @property
    def demo(self) -> Demo:
        return self.backend.demo

    @property
    def db(self) -> Database:
        return self.server.state.db

    def token(self, login: str) -> str:
        """An access token for a demo login, minted directly (sign-in has its own tests)."""
        if "@" not in login:
            login = f"{login}@demo.linli"
        return keys.issue_access_token(self.demo.users[login])

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        as_: str | None = None,
        token: str | None = None,
        lang: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        h = {"content-type": "application/json"}
        if as_ is not None:
            token = self.token(as_)
        if token is not None:
            h["authorization"] = f"Bearer {token}"
        if lang is not None:
            h["accept-language"] = lang
        h.update(headers or {})
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return await self.http.post("/graphql", content=json.dumps(body), headers=h)

    async def gql(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        """Run and return `data`, asserting there were no GraphQL errors."""
        resp = await self.post(query, variables, **kw)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def errors(
        self, query: str, variables: dict[str, Any] | None = None, **kw: Any
    ) -> list[dict[str, Any]]:
        """Run and return the GraphQL errors, asserting there were some."""
        resp = await self.post(query, variables, **kw)
        assert resp.status_code < 500, resp.text
        body = resp.json()
        assert body.get("errors"), body
        return body["errors"]

    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/graphql"

    def gid(self, type_name: str, pk: int) -> str:
        from core.ids import encode_gid

        return encode_gid(type_name, pk)

    def unit_gid(self, label: str) -> str:
        units = self.demo.heights_units if label.startswith("A-") else self.demo.units
        return self.gid("Unit", units[label])

    @property
    def garden(self) -> str:
        return self.gid("Community", self.demo.garden_id)

    @property
    def heights(self) -> str:
        return self.gid("Community", self.demo.heights_id)


class WSClient:
    """A graphql-transport-ws client on a real WebSocket."""

    def __init__(self, url: str, protocol: str = "graphql-transport-ws") -> None:
        self.url = url
        self.protocol = protocol
        self.ws: Any = None
        self._next_id = 0

    async def connect(self, token: str | None) -> None:
        self.ws = await websockets.connect(self.url, subprotocols=[self.protocol])
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        init = "connection_init"
        await self.ws.send(json.dumps({"type": init, "payload": payload}))
        msg = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
        if msg["type"] != "connection_ack":
            raise AssertionError(msg)

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._next_id += 1
        sid = str(self._next_id)
        kind = "subscribe" if self.protocol == "graphql-transport-ws" else "start"
        await self.ws.send(
            json.dumps(
                {"id": sid, "type": kind, "payload": {"query": query, "variables": variables or {}}}
            )
        )
        return sid

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if msg["type"] in ("ping", "pong", "ka"):
                continue
            return msg

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
