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

from tests.support import GraphQLClient, WSClient, service_missing

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


ALERTS = "subscription($c: ID!) { alerts(communityId: $c) { kind alarm { type severity } } }"


async def _smoke(api: GraphQLClient) -> None:
    import base64

    auth = base64.b64encode(b"G-1-SMOKE-L1:linli-demo-2026").decode()
    resp = await api.http.post(
        "/devices/telemetry",
        content=json.dumps({"smoke": 9.5, "alarm": True}),
        headers={"authorization": f"Basic {auth}", "content-type": "application/json"},
    )
    assert resp.status_code == 200, resp.text


async def test_graphql_ws_client_receives_an_alert(api: GraphQLClient, node: str) -> None:
    proc = await _ws_client(node, api, api.token("staff1"), ALERTS, {"c": api.garden})
    assert proc.stdout is not None
    ready = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
    assert ready == {"ready": True}
    # The subscribe message follows the ack; keep the smoke detector reporting until the
    # subscription is in place and the event arrives (repeats are UPDATED events).
    for _ in range(50):
        await _smoke(api)
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), 0.2)
            break
        except TimeoutError:
            continue
    events = await _lines(proc)
    nexts = [e["next"] for e in events if "next" in e]
    assert nexts, events
    event = nexts[0]["data"]["alerts"]
    assert event["kind"] in ("RAISED", "UPDATED")
    assert event["alarm"]["type"] == "SMOKE"


async def test_subscriptions_beyond_the_limit_are_refused(api: GraphQLClient) -> None:
    limit = api.server.settings.graphql_max_subscriptions_per_connection
    ws = WSClient(api.ws_url())
    await ws.connect(api.token("staff1"))
    try:
        for _ in range(limit):
            await ws.subscribe(ALERTS, {"c": api.garden})
        extra = await ws.subscribe(ALERTS, {"c": api.garden})
        msg = await ws.next()
        assert msg["id"] == extra and msg["type"] == "error", msg
        assert "limit" in msg["payload"][0]["message"]
        # The connection and the earlier subscriptions stay up.
        await _smoke(api)
        msg = await ws.next()
        assert msg["type"] == "next" and msg["data" if "data" in msg else "payload"]
    finally:
        await ws.close()


async def test_malformed_subscribe_is_closed_with_4400(api: GraphQLClient) -> None:
    """A `subscribe` whose payload is not an object with a string query is a protocol
    error (close 4400), not a failure inside the server; the next client is served."""
    import websockets

    for bad in ("just a string", {"query": 42}, {"query": ALERTS, "variables": [1]}):
        ws = WSClient(api.ws_url())
        await ws.connect(api.token("staff1"))
        try:
            await ws.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": bad}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.next()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4400, bad
        finally:
            await ws.close()
    ws = WSClient(api.ws_url())
    await ws.connect(api.token("staff1"))
    await ws.subscribe(ALERTS, {"c": api.garden})
    await _smoke(api)
    assert (await ws.next())["type"] == "next"
    await ws.close()
