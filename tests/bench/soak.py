"""`make soak`: mixed traffic against two `linli serve` processes sharing one PostgreSQL
database (bus over PostgreSQL LISTEN/NOTIFY), for `--minutes` (default 15).

Virtual users alternate between the two processes: residents browse (me, inbox, bills,
bookings, announcements, proposals, ledger) and act (book, pay, mark read), caregivers
and staff hold WebSocket subscriptions, devices publish telemetry over MQTT. Operations
whose root field the server does not serve are left out, so the soak grows with the
schema. It reports errors (target 0), p99 latency per operation, and each process's
resident memory after warm-up and at the end (target: flat).

    .venv/bin/python -m tests.bench.soak --minutes 15
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.bench.harness import ROOT, BenchServer, median

PASSWORD = "linli-demo-2026"
RESIDENTS = ["resident1@demo.linli", "resident2@demo.linli"]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn workers), in MB."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except FileNotFoundError:
            pass
    return total


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)

    def record(self, op: str, ms: float, error: str | None) -> None:
        self.latencies[op].append(ms)
        if error:
            self.errors[op] += 1
            if len(self.samples) < 20:
                self.samples.append(f"{op}: {error[:300]}")


Op = Callable[["Soak", httpx.AsyncClient, str], Awaitable[str | None]]


@dataclass
class Operation:
    name: str
    needs: str  # the root field ("Query.x" / "Mutation.y") that must be served
    fn: Op
    weight: int = 1


class Soak:
    def __init__(self, servers: list[BenchServer]) -> None:
        self.servers = servers
        self.tokens: dict[str, str] = {}
        self.fields: set[str] = set()
        self.ids: dict[str, Any] = {}
        self.stats = Stats()

    async def gql(
        self, client: httpx.AsyncClient, base: str, query: str, variables: dict[str, Any], who: str
    ) -> tuple[dict[str, Any] | None, str | None]:
        resp = await client.post(
            f"{base}/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {self.tokens[who]}"},
        )
        if resp.status_code >= 400:
            return None, f"HTTP {resp.status_code}: {resp.text}"
        body = resp.json()
        if body.get("errors"):
            return body.get("data"), json.dumps(body["errors"], ensure_ascii=False)
        return body["data"], None

    async def discover(self) -> None:
        base = self.servers[0].base_url
        async with httpx.AsyncClient(timeout=30) as client:
            for login in [*RESIDENTS, "staff1@demo.linli", "carer1@demo.linli"]:
                self.tokens[login] = await self.servers[0].token(login)
            resp = await client.post(
                f"{base}/graphql",
                json={
                    "query": "{ __schema { queryType { fields { name } } "
                    "mutationType { fields { name } } subscriptionType { fields { name } } } }"
                },
            )
            schema = resp.json()["data"]["__schema"]
            for root, key in (("Query", "queryType"), ("Mutation", "mutationType")):
                for f in (schema.get(key) or {}).get("fields") or []:
                    self.fields.add(f"{root}.{f['name']}")
            for f in (schema.get("subscriptionType") or {}).get("fields") or []:
                self.fields.add(f"Subscription.{f['name']}")
            self.tokens["anon"] = ""
            data, _ = await self.gql(
                client,
                base,
                "{ me { memberships { community { id } units { id } } } }",
                {},
                RESIDENTS[0],
            )
            assert data is not None
            self.ids["community"] = data["me"]["memberships"][0]["community"]["id"]
            self.ids["unit"] = data["me"]["memberships"][0]["units"][0]["id"]


# ---------------------------------------------------------------- operations
async def op_me(s: Soak, c: httpx.AsyncClient, base: str) -> str | None:
    q = "{ me { user { displayName } memberships { community { name } units { label } } } }"
    return (await s.gql(c, base, q, {}, random.choice(RESIDENTS)))[1]


async def op_inbox(s: Soak, c: httpx.AsyncClient, base: str) -> str | None:
    q = "{ notifications(first: 20) { unreadCount edges { node { id title } } } }"
    return (await s.gql(c, base, q, {}, random.choice(RESIDENTS)))[1]


async def op_mark_read(s: Soak, c: httpx.AsyncClient, base: str) -> str | None:
    who = random.choice(RESIDENTS)
    data, err = await s.gql(
        c, base, "{ notifications(first: 5) { edges { node { id } } } }", {}, who
    )
    if err or not data:
        return err
    ids = [e["node"]["id"] for e in data["notifications"]["edges"]]
    if not ids:
        return None
    q = "mutation($i: [ID!]!) { markNotificationsRead(input: {ids: $i}) { userErrors { code } } }"
    return (await s.gql(c, base, q, {"i": ids}, who))[1]


async def op_bills(s: Soak, c: httpx.AsyncClient, base: str) -> str | None:
    q = "{ myBills(first: 24) { totalCount edges { node { id kind status } } } }"
    return (await s.gql(c, base, q, {}, random.choice(RESIDENTS)))[1]


async def op_bookings(s: Soak, c: httpx.AsyncClient, base: str) -> str | None:
    q = "{ myBookings(first: 20) { totalCount edges { node { id status } } } }"
    return (await s.gql(c, base, q, {}, random.choice(RESIDENTS)))[1]


async def op_offerings(s: Soak, c: httpx.AsyncClient, base: str) -> str | None:
    q = "query($c: ID!) { serviceOfferings(communityId: $c, first: 20) { edges { node { id } } } }"
    return (await s.gql(c, base, q, {"c": s.ids["community"]}, random.choice(RESIDENTS)))[1]


async def op_book(s: Soak, c: httpx.AsyncClient, base: str) -> str | None:
    q = "query($c: ID!) { serviceOfferings(communityId: $c, first: 5) { edges { node { id } } } }"
    data, err = await s.gql(c, base, q, {"c": s.ids["community"]}, RESIDENTS[0])
    if err or not data or not data["serviceOfferings"]["edges"]:
        return err
    offering = random.choice(data["serviceOfferings"]["edges"])["node"]["id"]
    m = (
        "mutation($o: ID!, $u: ID!, $k: String!) { bookService(input: {offeringId: $o, "
        "unitId: $u, idempotencyKey: $k}) { booking { id } userErrors { code } } }"
    )
    variables = {"o": offering, "u": s.ids["unit"], "k": uuid.uuid4().hex}
    data, err = await s.gql(c, base, m, variables, RESIDENTS[0])
    if err:
        return err
    codes = {e["code"] for e in (data or {}).get("bookService", {}).get("userErrors", [])}
    return None if codes <= {"SLOT_FULL", "CLOSED"} else f"userErrors {codes}"


async def op_announcements(s: Soak, c: httpx.AsyncClient, base: str) -> str | None:
    q = "query($c: ID!) { announcements(communityId: $c, first: 10) { edges { node { id } } } }"
    return (await s.gql(c, base, q, {"c": s.ids["community"]}, random.choice(RESIDENTS)))[1]


async def op_proposals(s: Soak, c: httpx.AsyncClient, base: str) -> str | None:
    q = "query($c: ID!) { proposals(communityId: $c, first: 10) { edges { node { id } } } }"
    return (await s.gql(c, base, q, {"c": s.ids["community"]}, random.choice(RESIDENTS)))[1]


async def op_ledger(s: Soak, c: httpx.AsyncClient, base: str) -> str | None:
    q = (
        "query($c: ID!) { ledgerSummary(communityId: $c, account: COMMON_INCOME) { account } "
        "ledger(communityId: $c, account: COMMON_INCOME, first: 20) { totalCount } }"
    )
    return (await s.gql(c, base, q, {"c": s.ids["community"]}, random.choice(RESIDENTS)))[1]


async def op_my_elders(s: Soak, c: httpx.AsyncClient, base: str) -> str | None:
    q = "{ myElders { id status } }"
    return (await s.gql(c, base, q, {}, "carer1@demo.linli"))[1]


async def op_alarms(s: Soak, c: httpx.AsyncClient, base: str) -> str | None:
    q = "query($c: ID!) { alarms(communityId: $c, first: 20) { totalCount } }"
    return (await s.gql(c, base, q, {"c": s.ids["community"]}, "staff1@demo.linli"))[1]


OPERATIONS = [
    Operation("me", "Query.me", op_me, 4),
    Operation("inbox", "Query.notifications", op_inbox, 3),
    Operation("markRead", "Mutation.markNotificationsRead", op_mark_read, 1),
    Operation("myBills", "Query.myBills", op_bills, 3),
    Operation("myBookings", "Query.myBookings", op_bookings, 2),
    Operation("serviceOfferings", "Query.serviceOfferings", op_offerings, 2),
    Operation("bookService", "Mutation.bookService", op_book, 1),
    Operation("announcements", "Query.announcements", op_announcements, 2),
    Operation("proposals", "Query.proposals", op_proposals, 1),
    Operation("ledger", "Query.ledgerSummary", op_ledger, 1),
    Operation("myElders", "Query.myElders", op_my_elders, 1),
    Operation("alarms", "Query.alarms", op_alarms, 1),
]


async def user_loop(s: Soak, ops: list[Operation], deadline: float, i: int) -> None:
    weights = [o.weight for o in ops]
    async with httpx.AsyncClient(timeout=30) as client:
        n = i
        while time.monotonic() < deadline:
            base = s.servers[n % len(s.servers)].base_url
            n += 1
            op = random.choices(ops, weights)[0]
            t0 = time.perf_counter()
            try:
                error = await op.fn(s, client, base)
            except Exception as exc:  # the soak counts failures; it must not stop on one
                error = f"{type(exc).__name__}: {exc}"
            s.stats.record(op.name, (time.perf_counter() - t0) * 1000, error)
            await asyncio.sleep(random.uniform(0.02, 0.1))


async def subscriber(s: Soak, deadline: float, i: int, who: str, doc: str) -> None:
    """A WebSocket subscriber held open for the whole soak (reconnecting if dropped)."""
    import websockets

    server = s.servers[i % len(s.servers)]
    url = f"ws://127.0.0.1:{server.port}/graphql"
    while time.monotonic() < deadline:
        try:
            async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
                await ws.send(
                    json.dumps(
                        {
                            "type": "connection_init",
                            "payload": {"Authorization": f"Bearer {s.tokens[who]}"},
                        }
                    )
                )
                await ws.recv()
                await ws.send(
                    json.dumps({"id": "1", "type": "subscribe", "payload": json.loads(doc)})
                )
                while time.monotonic() < deadline:
                    try:
                        await asyncio.wait_for(ws.recv(), 5)
                    except TimeoutError:
                        continue
        except Exception as exc:
            s.stats.record("subscription", 0, f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(1)


async def devices(s: Soak, deadline: float) -> None:
    """Every demo device publishes a normal reading about once a second over MQTT."""
    try:
        import aiomqtt
    except ImportError:
        return
    base = s.servers[0].base_url
    async with httpx.AsyncClient(timeout=30) as client:
        q = (
            "query($c: ID!) { devices(communityId: $c, first: 100) "
            "{ edges { node { code kind } } } }"
        )
        data, err = await s.gql(client, base, q, {"c": s.ids["community"]}, "staff1@demo.linli")
    if err or not data:
        return
    codes = [e["node"]["code"] for e in data["devices"]["edges"]]
    from core.ids import decode_gid

    community = decode_gid(s.ids["community"])[1]  # topics carry the numeric id
    try:
        async with aiomqtt.Client("127.0.0.1", 1883) as mqtt:
            while time.monotonic() < deadline:
                t0 = time.perf_counter()
                for code in codes:
                    payload = {
                        "ts": int(time.time() * 1000),
                        "values": {"battery": 90, "rssi": -60},
                    }
                    await mqtt.publish(
                        f"linli/{community}/{code}/telemetry", json.dumps(payload), qos=1
                    )
                s.stats.record("mqttPublish", (time.perf_counter() - t0) * 1000, None)
                await asyncio.sleep(1)
    except Exception as exc:
        s.stats.record("mqttPublish", 0, f"{type(exc).__name__}: {exc}")


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--subscribers", type=int, default=20)
    parser.add_argument("--bus", default="postgres", help="memory | postgres | redis")
    args = parser.parse_args(argv)

    # Both processes run the bridge; a shared subscription splits the readings between
    # them (as in production) instead of ingesting each twice.
    env = {
        "LINLI_BUS": args.bus,
        "LINLI_MQTT_URL": "mqtt://127.0.0.1:1883",
        "LINLI_MQTT_SHARED_GROUP": "soak",
    }
    first = BenchServer("postgres", env=env)
    await first.prepare_database()
    second = BenchServer("postgres", env=env, url=first.url)
    servers = [first, second]
    try:
        for srv in servers:
            await srv.start()
        soak = Soak(servers)
        await soak.discover()
        ops = [o for o in OPERATIONS if o.needs in soak.fields]
        subs = [
            (who, doc)
            for who, doc, needs in (
                (
                    "carer1@demo.linli",
                    {"query": "subscription { careAlerts { kind } }"},
                    "careAlerts",
                ),
                (
                    "staff1@demo.linli",
                    {
                        "query": "subscription($c: ID!) { alerts(communityId: $c) { kind } }",
                        "variables": {"c": soak.ids["community"]},
                    },
                    "alerts",
                ),
            )
            if f"Subscription.{needs}" in soak.fields
        ]
        print(f"operations: {[o.name for o in ops]}; subscriptions: {[w for w, _ in subs]}")
        seconds = args.minutes * 60
        start = time.monotonic()
        deadline = start + seconds
        warmup = min(120.0, seconds / 5)
        memory: dict[int, list[tuple[float, float]]] = {i: [] for i in range(len(servers))}

        async def sample_memory() -> None:
            while time.monotonic() < deadline:
                for i, srv in enumerate(servers):
                    assert srv.proc is not None
                    memory[i].append((time.monotonic() - start, rss_mb(srv.proc.pid)))
                await asyncio.sleep(10)

        tasks = [user_loop(soak, ops, deadline, i) for i in range(args.users)]
        for i in range(args.subscribers if subs else 0):
            who, doc = subs[i % len(subs)]
            tasks.append(subscriber(soak, deadline, i, who, json.dumps(doc)))
        tasks += [devices(soak, deadline), sample_memory()]
        await asyncio.gather(*tasks)
    finally:
        for srv in reversed(servers):
            await srv.stop()

    stats = soak.stats
    total = sum(len(v) for v in stats.latencies.values())
    errors = sum(stats.errors.values())
    print(f"\nsoak: {args.minutes:g} min, 2 processes on PostgreSQL, {total} operations")
    print(f"{'operation':<18} {'count':>8} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8}")
    report: dict[str, Any] = {"minutes": args.minutes, "operations": {}, "memory": {}}
    for name, lat in sorted(stats.latencies.items()):
        data = sorted(lat)
        p99 = data[min(len(data) - 1, int(len(data) * 0.99))]
        print(f"{name:<18} {len(data):>8} {stats.errors[name]:>7} {median(data):>8.1f} {p99:>8.1f}")
        report["operations"][name] = {
            "count": len(data),
            "errors": stats.errors[name],
            "p99_ms": p99,
        }
    for i, series in memory.items():
        after = [mb for t, mb in series if t >= warmup]
        if after:
            growth = after[-1] - after[0]
            print(
                f"process {i}: RSS {after[0]:.0f} MB after warm-up, {after[-1]:.0f} MB at end "
                f"({growth:+.1f} MB)"
            )
            report["memory"][f"process{i}"] = {"after_warmup_mb": after[0], "end_mb": after[-1]}
    print(f"errors: {errors} (target 0)")
    for sample in stats.samples:
        print("  ", sample)
    (ROOT / "soak-results.json").write_text(json.dumps(report, indent=2) + "\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
