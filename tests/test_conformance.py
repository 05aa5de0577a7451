"""Protocol conformance with the reference implementations, run by node against the
live server: graphql-http's server audits (GraphQL over HTTP) and the graphql-ws client
(graphql-transport-ws)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import GraphQLClient, service_missing

HERE = Path(__file__).parent / "conformance"

# SHOULD audits we knowingly fail, with the reason (reported in the closing note).
SHOULD_EXCEPTIONS: dict[str, str] = {}


@pytest.fixture(scope="session")
def node() -> str:
    exe = shutil.which("node")
    npm = shutil.which("npm")
    if not exe or not npm:
        service_missing("node/npm", "install Node.js (Debian: nodejs npm)")
    assert exe and npm
    lock = HERE / "package-lock.json"
    stamp = HERE / "node_modules" / ".linli-stamp"
    if not stamp.exists() or stamp.read_text() != lock.read_text():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            check=True,
            timeout=300,
        )
        stamp.write_text(lock.read_text())
    return exe


async def _node(node: str, *args: str, timeout: float = 60) -> str:
    proc = await asyncio.create_subprocess_exec(
        node,
        *args,
        cwd=HERE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_graphql_over_http_audits(api: GraphQLClient, node: str) -> None:
    results = json.loads(await _node(node, "audit.mjs", f"{api.server.base_url}/graphql"))
    assert len(results) >= 50, results
    failed_must = [r for r in results if r["name"].startswith("MUST") and r["status"] != "ok"]
    assert not failed_must, json.dumps(failed_must, indent=1, ensure_ascii=False)
    failed_should = {
        r["name"]: r["reason"]
        for r in results
        if r["name"].startswith("SHOULD") and r["status"] != "ok"
    }
    assert set(failed_should) <= set(SHOULD_EXCEPTIONS), json.dumps(failed_should, indent=1)


async def _ws_client(
    node: str, api: GraphQLClient, token: str | None, query: str, variables: dict[str, Any]
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        node,
        "ws-client.mjs",
        api.ws_url(),
        token or "-",
        query,
        json.dumps(variables),
        "1",
        cwd=HERE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _lines(proc: asyncio.subprocess.Process, timeout: float = 20) -> list[dict[str, Any]]:
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


async def test_graphql_ws_refuses_a_bad_token(api: GraphQLClient, node: str) -> None:
    proc = await _ws_client(node, api, "not-a-token", "subscription { careAlerts { kind } }", {})
    events = await _lines(proc)
    assert not any("next" in e for e in events), events
    closes = [e.get("closed") for e in events if "closed" in e]
    closes += [e["error"]["code"] for e in events if isinstance(e.get("error"), dict)]
    assert 4403 in closes, events
