"""Schemathesis in GraphQL mode against a real server process, as a resident and as
staff: no 5xx and no unmasked tracebacks, whatever the generated queries and inputs.
Bounded for `make test` (fixed seed, few examples); `make fuzz` runs longer.

Schemathesis' own `not_a_server_error` check counts every GraphQL field error as a
server error, but ours are deliberate client errors (a malformed ID in a query
argument is an INVALID error, as the contract allows). So the verdict on 5xx and on
masked internal errors comes from the server itself: its `/metrics` 5xx counter and
its log, where every masked error is written with its traceback. Schemathesis checks
that responses conform to the schema (e.g. no null in a non-null field)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.bench.harness import BenchServer
from tests.support import pg_reachable, service_missing

EXAMPLES = int(os.environ.get("LINLI_FUZZ_EXAMPLES", "3"))
SEED = os.environ.get("LINLI_FUZZ_SEED", "20261123")
BIN = Path(sys.executable).parent


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_fuzz_graphql(kind):
    if kind == "postgres" and not await pg_reachable():
        service_missing("PostgreSQL", "start PostgreSQL on 127.0.0.1:5432")
    # Not tmp_path: other pytest runs on the machine prune pytest's numbered temp dirs.
    log = Path(tempfile.mkdtemp(prefix="linli-fuzz-")) / "server.log"
    srv = BenchServer(kind, env={"LINLI_LOG_JSON": "true", "LINLI_LOG_LEVEL": "WARNING"})
    srv.log_path = log
    await srv.start()
    try:
        for login in ("resident1@demo.linli", "staff1@demo.linli"):
            token = await srv.token(login)
            cmd = [
                str(BIN / "schemathesis"),
                "run",
                f"{srv.base_url}/graphql",
                "--checks",
                "response_schema_conformance",
                "--max-examples",
                str(EXAMPLES),
                "--seed",
                SEED,
                "--no-shrink",
                "--header",
                f"Authorization: Bearer {token}",
                "--no-color",
            ]
            proc = await asyncio.to_thread(
                subprocess.run, cmd, capture_output=True, text=True, timeout=600
            )
            assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
            assert "Traceback" not in proc.stdout
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"{srv.base_url}/metrics")).text
        requests = sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("linli_http_requests_total{")
        )
        assert requests > 20, "the fuzzer barely reached the server"
        assert "linli_http_errors_total{" not in metrics, metrics
    finally:
        await srv.stop()
    server_log = log.read_text(encoding="utf-8", errors="replace")
    # Masked errors are still bugs: the server logs each one with its traceback.
    assert "unexpected error" not in server_log, server_log[-4000:]
