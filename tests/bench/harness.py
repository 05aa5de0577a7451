"""`make bench`: real server processes, a separate load process, one table of figures.

A benchmark module `tests/bench/bench_<name>.py` defines `async def run(h: Harness)`
and reports with `h.result(...)`. Servers are real `linli serve` processes on a
migrated, demo-seeded database (SQLite or PostgreSQL); load comes from another process
speaking HTTP/1.1 with keep-alive, so the figures are the server's, not the client's.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = "bench-secret-" + "y" * 40
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PASSWORD = "linli-demo-2026"


@dataclass
class Result:
    name: str
    value: float
    unit: str
    target: str = ""
    ok: bool | None = None
    note: str = ""


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float] = field(repr=False, default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return 0.0
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(len(data) * p / 100))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BenchServer:
    """`linli serve` in a child process on its own database."""

    def __init__(
        self,
        kind: str,
        workers: int = 1,
        env: dict[str, str] | None = None,
        url: str | None = None,
    ) -> None:
        """`url` shares another server's (already prepared) database instead of making
        one; that database is then left for its owner to drop."""
        self.kind = kind
        self.workers = workers
        self.extra_env = env or {}
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = url or ""
        self._tmp: str | None = None
        self._pg_name: str | None = None
        self.log_path: Path | None = None
        self._log_file: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "LINLI_ENV": "prod",
                "LINLI_SECRET_KEY": SECRET,
                "LINLI_DATABASE_URL": self.url,
                "LINLI_LOG_LEVEL": "WARNING",
                "LINLI_COUNT_SQL": "true",
            }
        )
        env.update(self.extra_env)
        return env

    async def prepare_database(self) -> None:
        if self.kind == "sqlite":
            self._tmp = tempfile.mkdtemp(prefix="linli-bench-")
            self.url = f"sqlite+aiosqlite:///{self._tmp}/bench.db"
        else:
            self._pg_name = f"linli_bench_{uuid.uuid4().hex[:8]}"
            conn = await asyncpg.connect(PG_ADMIN)
            await conn.execute(f'CREATE DATABASE "{self._pg_name}"')
            await conn.close()
            self.url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{self._pg_name}"
        for cmd in (["migrate"], ["seed-demo"]):
            subprocess.run(
                [str(BIN / "linli"), *cmd],
                env=self.env(),
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
            )

    async def start(self) -> None:
        if not self.url:
            await self.prepare_database()
        if self.log_path is not None:
            self._log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(BIN / "linli"), "serve", "--port", str(self.port), "--workers", str(self.workers)],
            env=self.env(),
            cwd=ROOT,
            stderr=self._log_file,
        )
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                try:
                    if (await client.get(f"{self.base_url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("bench server did not start")

    async def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self._log_file is not None:
            self._log_file.close()
        if self._pg_name:
            conn = await asyncpg.connect(PG_ADMIN)
            await conn.execute(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)')
            await conn.close()

    async def token(self, login: str) -> str:
        q = (
            "mutation($l: String!, $p: String!) { signIn(input: {login: $l, password: $p}) "
            "{ accessToken } }"
        )
        async with httpx.AsyncClient() as client:
            r = await client.post(
                f"{self.base_url}/graphql",
                json={"query": q, "variables": {"l": login, "p": PASSWORD}},
            )
        return r.json()["data"]["signIn"]["accessToken"]

    async def graphql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(timeout=60) as client:
            return await client.post(
                f"{self.base_url}/graphql",
                headers=headers,
                json={"query": query, "variables": variables or {}},
            )


# ---------------------------------------------------------------- load generation
def _request_bytes(
    host: str, method: str, path: str, body: bytes, headers: dict[str, str]
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:].strip())
    if length:
        await reader.readexactly(length)
    return status


async def _load_async(
    port: int, requests: list[bytes], concurrency: int, seconds: float
) -> tuple[int, int, float, list[float]]:
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    counts = [0, 0]

    async def worker(i: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = i
        while time.perf_counter() < deadline:
            req = requests[n % len(requests)]
            n += concurrency
            t0 = time.perf_counter()
            writer.write(req)
            status = await _read_response(reader)
            latencies.append((time.perf_counter() - t0) * 1000)
            counts[0] += 1
            if status >= 400:
                counts[1] += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return counts[0], counts[1], time.perf_counter() - started, latencies


def _load_process(
    port: int, requests: list[bytes], concurrency: int, seconds: float, out: Any
) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    out.send(asyncio.run(_load_async(port, requests, concurrency, seconds)))


def load(
    port: int, requests: list[bytes], *, concurrency: int = 32, seconds: float = 5.0
) -> LoadResult:
    """Drive the server from another process; returns throughput and latencies."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_load_process, args=(port, requests, concurrency, seconds, child))
    proc.start()
    n, errors, elapsed, lat = parent.recv()
    proc.join()
    return LoadResult(n, errors, elapsed, lat)


def graphql_request(
    port: int,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str | None = None,
    path: str = "/graphql",
) -> bytes:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    return _request_bytes(f"127.0.0.1:{port}", "POST", path, body, headers)


def get_request(port: int, path: str, token: str | None = None) -> bytes:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return _request_bytes(f"127.0.0.1:{port}", "GET", path, b"", headers)


class Harness:
    def __init__(self, quick: bool = False) -> None:
        self.results: list[Result] = []
        self.quick = quick
        self.seconds = 2.0 if quick else 3.0

    def result(
        self,
        name: str,
        value: float,
        unit: str,
        *,
        target: str = "",
        ok: bool | None = None,
        note: str = "",
    ) -> None:
        r = Result(name, round(value, 3), unit, target, ok, note)
        self.results.append(r)
        mark = "" if ok is None else ("  ok" if ok else "  MISSED")
        print(
            f"  {name}: {r.value} {unit} {('(target ' + target + ')') if target else ''}"
            f"{mark} {note}",
            flush=True,
        )

    @asynccontextmanager
    async def server(
        self, kind: str = "sqlite", workers: int = 1, env: dict[str, str] | None = None
    ):
        srv = BenchServer(kind, workers, env)
        try:
            await srv.start()
            yield srv
        finally:
            await srv.stop()

    def load(self, port: int, requests: list[bytes], concurrency: int = 32) -> LoadResult:
        return load(port, requests, concurrency=concurrency, seconds=self.seconds)

    async def sql_count(
        self, srv: BenchServer, query: str, variables: dict[str, Any] | None, token: str | None
    ) -> int:
        # The first request of a token also resolves the principal (then cached for a
        # few seconds); count a warm request, as a client in a session makes.
        await srv.graphql(query, variables, token)
        resp = await srv.graphql(query, variables, token)
        assert "errors" not in resp.json(), resp.text
        return int(resp.headers["x-sql-count"])

    def table(self) -> str:
        w = max((len(r.name) for r in self.results), default=10)
        lines = [f"{'figure':<{w}}  {'value':>12}  unit        target        status"]
        for r in self.results:
            status = "" if r.ok is None else ("ok" if r.ok else "MISSED")
            lines.append(
                f"{r.name:<{w}}  {r.value:>12}  {r.unit:<10}  {r.target:<12}  {status} {r.note}"
            )
        return "\n".join(lines)

    def write_json(self, path: Path) -> None:
        path.write_text(
            json.dumps([asdict(r) for r in self.results], indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
