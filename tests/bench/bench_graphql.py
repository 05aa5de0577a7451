"""GraphQL overhead: the same read through GraphQL and through a plain Starlette
endpoint running the same SQL, on one uvicorn worker, in one run."""

from __future__ import annotations

from tests.bench.harness import Harness, get_request, graphql_request

ME = "{ me { user { displayName } memberships { community { name } units { label areaM2 } } } }"


async def run(h: Harness) -> None:
    for kind in ("sqlite", "postgres"):
        async with h.server(kind, env={"LINLI_BENCH_ROUTES": "true"}) as srv:
            token = await srv.token("resident2@demo.linli")
            plain = h.load(srv.port, [get_request(srv.port, "/bench/me", token)])
            gql = h.load(srv.port, [graphql_request(srv.port, ME, token=token)])
            ratio = gql.rps / plain.rps if plain.rps else 0
            h.result(f"{kind}: me query, plain Starlette", plain.rps, "req/s")
            h.result(
                f"{kind}: me query, GraphQL",
                gql.rps,
                "req/s",
                note=f"p99 {gql.pct(99):.1f} ms, errors {gql.errors}",
            )
            h.result(
                f"{kind}: me query GraphQL/plain", ratio, "ratio", target=">= 0.5", ok=ratio >= 0.5
            )
            h.result(
                f"{kind}: me query SQL statements", await h.sql_count(srv, ME, None, token), "stmts"
            )
