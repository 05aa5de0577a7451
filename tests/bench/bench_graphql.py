"""GraphQL overhead and the cost of the protections, measured in one run.

- GraphQL ÷ plain: the same read through GraphQL and through a plain Starlette endpoint
  running the same SQL (`api/ext/bench.py`), target ≥ 0.5 (DESIGN.md §5), with one and
  with two uvicorn workers.
- Protections on ÷ off: depth/alias/token limits (LINLI_GRAPHQL_PROTECTIONS), target
  ≥ 0.95. Document caches off is reported beside it for scale.
Servers under comparison run side by side and are loaded alternately, several rounds,
medians taken, so that drift on a shared machine hits both sides alike.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from tests.bench.harness import Harness, get_request, graphql_request, median

ME = "{ me { user { displayName } memberships { community { name } units { label areaM2 } } } }"
ROUNDS = 3


async def run(h: Harness) -> None:
    rounds = 1 if h.quick else ROUNDS
    for kind in ("sqlite", "postgres"):
        async with AsyncExitStack() as stack:
            base = {"LINLI_BENCH_ROUTES": "true"}
            on = await stack.enter_async_context(h.server(kind, env=base))
            off = await stack.enter_async_context(
                h.server(kind, env={**base, "LINLI_GRAPHQL_PROTECTIONS": "false"})
            )
            nocache = await stack.enter_async_context(
                h.server(kind, env={**base, "LINLI_GRAPHQL_DOCUMENT_CACHE_SIZE": "0"})
            )
            token = await on.token("resident2@demo.linli")
            samples: dict[str, list[float]] = {"plain": [], "on": [], "off": [], "nocache": []}
            p99: list[float] = []
            plain_req = [get_request(on.port, "/bench/me", token)]
            loads = {
                "plain": (on.port, plain_req),
                "on": (on.port, [graphql_request(on.port, ME, token=token)]),
                "off": (off.port, [graphql_request(off.port, ME, token=token)]),
                "nocache": (nocache.port, [graphql_request(nocache.port, ME, token=token)]),
            }
            order = list(loads)
            for i in range(rounds):
                # Rotate the order each round: the machine's drift hits every side alike.
                for name in order[i % 4 :] + order[: i % 4]:
                    port, req = loads[name]
                    r = h.load(port, req)
                    samples[name].append(r.rps)
                    if name == "on":
                        p99.append(r.pct(99))
            m = {k: median(v) for k, v in samples.items()}
            h.result(f"{kind} 1w: me, plain Starlette", m["plain"], "req/s")
            h.result(f"{kind} 1w: me, GraphQL", m["on"], "req/s", note=f"p99 {median(p99):.1f} ms")
            ratio = m["on"] / m["plain"] if m["plain"] else 0
            h.result(
                f"{kind} 1w: me GraphQL/plain", ratio, "ratio", target=">= 0.5", ok=ratio >= 0.5
            )
            prot = m["on"] / m["off"] if m["off"] else 0
            h.result(
                f"{kind} 1w: protections on/off", prot, "ratio", target=">= 0.95", ok=prot >= 0.95
            )
            h.result(
                f"{kind} 1w: document caches off/on",
                m["nocache"] / m["on"] if m["on"] else 0,
                "ratio",
                note="what the parse/validate cache saves",
            )
            h.result(f"{kind}: me SQL statements", await h.sql_count(on, ME, None, token), "stmts")
        async with h.server(kind, workers=2, env={"LINLI_BENCH_ROUTES": "true"}) as two:
            token = await two.token("resident2@demo.linli")
            plains, gqls = [], []
            for _ in range(max(1, rounds - 1)):
                plains.append(h.load(two.port, [get_request(two.port, "/bench/me", token)]).rps)
                gqls.append(h.load(two.port, [graphql_request(two.port, ME, token=token)]).rps)
            plain_rps, gql_rps = median(plains), median(gqls)
            ratio = gql_rps / plain_rps if plain_rps else 0
            h.result(f"{kind} 2w: me, GraphQL", gql_rps, "req/s", note=f"plain {plain_rps:.0f}")
            h.result(
                f"{kind} 2w: me GraphQL/plain", ratio, "ratio", target=">= 0.5", ok=ratio >= 0.5
            )
