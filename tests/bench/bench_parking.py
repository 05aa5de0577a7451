"""Parking: exit-lane QR quotes and pay-ahead plate quotes per second, on one uvicorn
worker, with a visitor's car waiting at the demo exit lane with a fee due."""

from __future__ import annotations

import base64
import time

import httpx

from core import keys
from domain.parking import qr
from tests.bench.harness import SECRET, Harness, graphql_request

QUOTE = (
    "query($qr: String, $plate: String) { parkingQuote(qr: $qr, plate: $plate) "
    "{ amountDue { amountMinor } graceMinutes session { id plate status enteredAt } } }"
)
PLATE = "沪B12345"
CREDENTIAL = "linli-demo-2026"
# The demo seed makes the entry lane first and the exit lane second.
EXIT_LANE = 2


async def _camera(base_url: str, code: str, direction: str, ago_s: int = 0) -> None:
    auth = base64.b64encode(f"{code}:{CREDENTIAL}".encode()).decode()
    reading = {
        "ts": int((time.time() - ago_s) * 1000),
        "values": {"plate": PLATE, "direction": direction},
    }
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{base_url}/devices/telemetry",
            json=reading,
            headers={"authorization": f"Basic {auth}"},
        )
        r.raise_for_status()


async def run(h: Harness) -> None:
    keys.configure(SECRET.encode())
    code = qr.lane_token(EXIT_LANE, 1)
    for kind in ("sqlite", "postgres"):
        async with h.server(kind) as srv:
            # Entered two hours ago (a buffered camera reading), now at the exit lane.
            await _camera(srv.base_url, "G-CAM-N-IN", "entry", ago_s=2 * 3600)
            await _camera(srv.base_url, "G-CAM-N-OUT", "exit")
            token = await srv.token("staff1@demo.linli")
            for label, variables in (("qr", {"qr": code}), ("plate", {"plate": PLATE})):
                check = (await srv.graphql(QUOTE, variables, token)).json()
                got = check["data"]["parkingQuote"]
                assert got is not None and got["amountDue"]["amountMinor"] > 0, check
                load = h.load(srv.port, [graphql_request(srv.port, QUOTE, variables, token)])
                h.result(
                    f"{kind}: parkingQuote({label}:)",
                    load.rps,
                    "req/s",
                    note=f"p99 {load.pct(99):.1f} ms, errors {load.errors}",
                )
                h.result(
                    f"{kind}: parkingQuote({label}:) SQL statements",
                    await h.sql_count(srv, QUOTE, variables, token),
                    "stmts",
                )
