"""Booking: one-tap bookService and the serviceOfferings catalogue, per backend, with
the SQL statements per request at 1 and at 50 offerings (constant: DataLoaders)."""

from __future__ import annotations

from tests.bench.harness import BenchServer, Harness, graphql_request

OFFERINGS = """query($c: ID!, $n: Int) { serviceOfferings(communityId: $c, first: $n) {
  totalCount edges { node { id title price { formatted } durationMinutes
  merchant { name } nextAvailableSlot { start remaining } } } } }"""
BOOK = """mutation($i: BookServiceInput!) { bookService(input: $i) {
  booking { id status slot { start remaining } price { formatted } } userErrors { code } } }"""
CREATE = """mutation($i: CreateOfferingInput!) { createServiceOffering(input: $i) {
  offering { id } userErrors { code } } }"""
ME = "{ me { memberships { community { id } units { id label } } } }"


async def _ids(srv: BenchServer, token: str) -> tuple[str, str]:
    me = (await srv.graphql(ME, token=token)).json()["data"]["me"]["memberships"][0]
    unit = next(u["id"] for u in me["units"] if u["label"] == "1-101")
    return me["community"]["id"], unit


async def _offering(srv: BenchServer, token: str, community: str, title: str) -> str:
    every_day = [{"day": d, "open": "00:00", "close": "24:00"} for d in range(1, 8)]
    resp = await srv.graphql(
        CREATE,
        {
            "i": {
                "communityId": community,
                "title": title,
                "category": "ERRAND",
                "priceMinor": 1000,
                "durationMinutes": 15,
                "capacityPerSlot": 1000,
                "weeklyHours": every_day,
            }
        },
        token,
    )
    return resp.json()["data"]["createServiceOffering"]["offering"]["id"]


async def run(h: Harness) -> None:
    for kind in ("sqlite", "postgres"):
        async with h.server(kind) as srv:
            resident = await srv.token("resident1@demo.linli")
            merchant = await srv.token("merchant1@demo.linli")
            community, unit = await _ids(srv, resident)
            errand = await _offering(srv, merchant, community, "bench errand")

            # bookService: every request a new idempotency key, all one-taps on the same
            # offering, so they contend for the same earliest slot's counter row.
            n = 4000 if h.quick else 12000
            requests = [
                graphql_request(
                    srv.port,
                    BOOK,
                    {"i": {"offeringId": errand, "unitId": unit, "idempotencyKey": f"b{i}"}},
                    resident,
                )
                for i in range(n)
            ]
            booked = h.load(srv.port, requests)
            h.result(
                f"{kind}: bookService (one tap)",
                booked.rps,
                "req/s",
                note=f"p99 {booked.pct(99):.1f} ms, errors {booked.errors}"
                + (" (keys reused: replays)" if booked.requests > n else ""),
            )
            one_book = await h.sql_count(
                srv,
                BOOK,
                {"i": {"offeringId": errand, "unitId": unit, "idempotencyKey": "sql-count"}},
                resident,
            )
            h.result(f"{kind}: bookService SQL statements", one_book, "stmts")
            replay = await h.sql_count(
                srv,
                BOOK,
                {"i": {"offeringId": errand, "unitId": unit, "idempotencyKey": "sql-count"}},
                resident,
            )
            h.result(f"{kind}: bookService replay SQL statements", replay, "stmts")

            # serviceOfferings: the catalogue with each offering's next slot and merchant.
            # Each count is taken on a second identical request, so that the principal
            # cache's first fill (user and roles) is not counted.
            await h.sql_count(srv, OFFERINGS, {"c": community, "n": 1}, resident)
            at_one = await h.sql_count(srv, OFFERINGS, {"c": community, "n": 1}, resident)
            for i in range(50):
                await _offering(srv, merchant, community, f"bench offering {i}")
            await h.sql_count(srv, OFFERINGS, {"c": community, "n": 50}, resident)
            at_fifty = await h.sql_count(srv, OFFERINGS, {"c": community, "n": 50}, resident)
            h.result(
                f"{kind}: serviceOfferings SQL statements, 1 vs 50 offerings",
                at_fifty,
                "stmts",
                target=f"= {at_one}",
                ok=at_fifty == at_one,
                note=f"at 1 offering: {at_one}",
            )
            for size in (1, 50):
                listed = h.load(
                    srv.port,
                    [graphql_request(srv.port, OFFERINGS, {"c": community, "n": size}, resident)],
                )
                h.result(
                    f"{kind}: serviceOfferings ({size} offerings)",
                    listed.rps,
                    "req/s",
                    note=f"p99 {listed.pct(99):.1f} ms, errors {listed.errors}",
                )
