"""The resident home screen (bills, bookings, notices): GraphQL ÷ a plain Starlette
endpoint running the same SQL (target ≥ 0.5, DESIGN.md §5), and SQL statements per
request at list sizes 1 and 100 (target: equal, i.e. DataLoaders, no N+1)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.bench.harness import BenchServer, Harness, get_request, graphql_request, median

HOME = """query Home($c: ID!, $n: Int!) {
  myBills(first: $n) { totalCount edges { node {
    id kind period amount { amountMinor currency } dueDate status } } }
  myBookings(first: $n) { totalCount edges { node {
    id status price { amountMinor currency } slot { start end } } } }
  announcements(communityId: $c, first: $n) { totalCount edges { node {
    id kind title pinned publishedAt } } }
}"""


async def _ok(srv: BenchServer, query: str, variables: dict[str, Any], token: str) -> Any:
    body = (await srv.graphql(query, variables, token)).json()
    assert not body.get("errors"), body
    return body["data"]


async def _fill(srv: BenchServer, staff: str, resident: str) -> tuple[str, int, str]:
    """100 bills for the resident's unit and 100 notices, so that lists of 100 exist."""
    me = await _ok(
        srv, "{ me { memberships { community { id } units { id label } } } }", {}, resident
    )
    membership = me["me"]["memberships"][0]
    community = membership["community"]["id"]
    unit = membership["units"][0]["id"]
    issue = (
        "mutation($i: IssueBillsInput!) { issueBills(input: $i) { userErrors { code message } } }"
    )
    publish = (
        "mutation($i: PublishAnnouncementInput!) { publishAnnouncement(input: $i) "
        "{ userErrors { code message } } }"
    )

    async def bill(n: int) -> None:
        period = f"{2010 + n // 12}-{n % 12 + 1:02d}"
        data = await _ok(
            srv,
            issue,
            {
                "i": {
                    "communityId": community,
                    "kind": "PROPERTY_FEE",
                    "period": period,
                    "dueDate": f"{2010 + n // 12}-{n % 12 + 1:02d}-28",
                    "lines": [{"unitId": unit, "amountMinor": 10000 + n}],
                }
            },
            staff,
        )
        assert not data["issueBills"]["userErrors"], data

    async def notice(n: int) -> None:
        data = await _ok(
            srv,
            publish,
            {
                "i": {
                    "communityId": community,
                    "titleZh": f"通知 {n}",
                    "titleEn": f"Notice {n}",
                    "bodyZh": "内容",
                    "bodyEn": "Body",
                }
            },
            staff,
        )
        assert not data["publishAnnouncement"]["userErrors"], data

    for batch in range(0, 100, 10):
        await asyncio.gather(*(bill(n) for n in range(batch, batch + 10)))
        await asyncio.gather(*(notice(n) for n in range(batch, batch + 10)))
    from core.ids import decode_gid

    return community, decode_gid(community)[1], unit


async def run(h: Harness) -> None:
    rounds = 1 if h.quick else 3
    for kind in ("sqlite", "postgres"):
        async with h.server(kind, env={"LINLI_BENCH_ROUTES": "true"}) as srv:
            staff = await srv.token("staff1@demo.linli")
            token = await srv.token("resident2@demo.linli")
            community, community_pk, _ = await _fill(srv, staff, token)
            counts = {}
            for n in (1, 100):
                counts[n] = await h.sql_count(srv, HOME, {"c": community, "n": n}, token)
                h.result(f"{kind}: home query SQL statements, lists of {n}", counts[n], "stmts")
            h.result(
                f"{kind}: home query SQL, 100 ÷ 1",
                counts[100] / counts[1],
                "ratio",
                target="= 1",
                ok=counts[100] == counts[1],
            )
            gql_req = [graphql_request(srv.port, HOME, {"c": community, "n": 10}, token=token)]
            plain_req = [get_request(srv.port, f"/bench/home?c={community_pk}&first=10", token)]
            plain, gql, p99 = [], [], []
            for _ in range(rounds):
                plain.append(h.load(srv.port, plain_req).rps)
                r = h.load(srv.port, gql_req)
                gql.append(r.rps)
                p99.append(r.pct(99))
            ratio = median(gql) / median(plain) if median(plain) else 0
            h.result(f"{kind} 1w: home, plain Starlette", median(plain), "req/s")
            h.result(
                f"{kind} 1w: home, GraphQL", median(gql), "req/s", note=f"p99 {median(p99):.1f} ms"
            )
            h.result(
                f"{kind} 1w: home GraphQL/plain", ratio, "ratio", target=">= 0.5", ok=ratio >= 0.5
            )
