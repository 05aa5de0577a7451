"""Community services: the residents' announcements feed (req/s, p99) and its
database round-trips, which must not grow with the page size (DataLoaders)."""

from __future__ import annotations

from tests.bench.harness import Harness, graphql_request, median

FEED = (
    "query($c: ID!, $n: Int) { announcements(communityId: $c, first: $n) { totalCount "
    "edges { node { id title body kind pinned publishedAt readAt "
    "buildings { name } } } } }"
)
PUBLISH = (
    "mutation($i: PublishAnnouncementInput!) { publishAnnouncement(input: $i) "
    "{ announcement { id } userErrors { code } } }"
)
ME = "{ me { memberships { community { id buildings { id } } } } }"
ROUNDS = 3


async def run(h: Harness) -> None:
    rounds = 1 if h.quick else ROUNDS
    for kind in ("sqlite", "postgres"):
        async with h.server(kind) as srv:
            staff = await srv.token("staff1@demo.linli")
            resident = await srv.token("resident1@demo.linli")
            me = (await srv.graphql(ME, None, resident)).json()["data"]["me"]
            community = me["memberships"][0]["community"]
            building = community["buildings"][0]["id"]
            for i in range(40):
                scope = {"buildingIds": [building]} if i % 2 else {}
                resp = await srv.graphql(
                    PUBLISH,
                    {
                        "i": {
                            "communityId": community["id"],
                            "titleZh": f"公告 {i}",
                            "titleEn": f"Notice {i}",
                            "bodyZh": "正文" * 50,
                            # Pinned ones (listed first) are building-scoped, so a page
                            # of one already loads buildings: equal statement counts.
                            "pinned": i % 10 == 1,
                            **scope,
                        }
                    },
                    staff,
                )
                assert not resp.json()["data"]["publishAnnouncement"]["userErrors"]
            variables = {"c": community["id"], "n": 20}
            rps, p99 = [], []
            for _ in range(rounds):
                r = h.load(srv.port, [graphql_request(srv.port, FEED, variables, resident)])
                rps.append(r.rps)
                p99.append(r.pct(99))
            h.result(
                f"{kind}: announcements feed (20 of 42)",
                median(rps),
                "req/s",
                note=f"p99 {median(p99):.1f} ms",
            )
            one = await h.sql_count(srv, FEED, {**variables, "n": 1}, resident)
            twenty = await h.sql_count(srv, FEED, variables, resident)
            h.result(
                f"{kind}: feed SQL statements 1 vs 20 items",
                twenty,
                "stmts",
                target=f"== {one}",
                ok=twenty == one,
            )
