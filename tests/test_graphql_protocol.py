"""GraphQL over HTTP and WebSocket: limits, bad input, media types, masking, operations."""

from __future__ import annotations

import json

import pytest
from graphql import GraphQLError
from starlette.requests import Request

import resolvers
from api.graphql_http import GraphQLHTTP, mask_errors
from tests.support import WSClient

ME = "{ me { user { displayName } } }"


async def test_unknown_field_is_a_validation_error(api):
    resp = await api.post("{ me { user { password } } }", as_="resident1")
    assert resp.status_code == 200
    assert "Cannot query field 'password'" in resp.json()["errors"][0]["message"]
    resp = await api.post(
        "{ me { user { password } } }",
        as_="resident1",
        headers={"accept": "application/graphql-response+json"},
    )
    assert resp.status_code == 400
    assert resp.headers["content-type"].startswith("application/graphql-response+json")


async def test_deep_query_is_refused(api):
    # Build a balanced 20-level query over the recursive Unit.building/Building.units.
    inner = "name"
    for _i in range(10):
        inner = f"units {{ building {{ {inner} }} }}"
    query = "{ me { memberships { community { buildings { " + inner + " } } } } }"
    resp = await api.post(query, as_="resident1")
    body = resp.json()
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"
    assert "data" not in body or body["data"] is None


async def test_many_aliases_are_refused(api):
    fields = " ".join(f"a{i}: me {{ user {{ displayName }} }}" for i in range(100))
    resp = await api.post("{ " + fields + " }", as_="resident1")
    body = resp.json()
    assert body["errors"][0]["extensions"]["code"] == "TOO_MANY_ALIASES"
    assert body.get("data") is None
    # 500 aliases do not even get past the parser's token limit.
    fields = " ".join(f"a{i}: me {{ user {{ displayName }} }}" for i in range(500))
    resp = await api.post("{ " + fields + " }", as_="resident1")
    assert resp.status_code == 200 and "tokens" in resp.json()["errors"][0]["message"]


async def test_huge_query_is_refused_early(api):
    big = "{ me { user { displayName } } }" + " " * (1024 * 1024)
    resp = await api.post(big, as_="resident1")
    assert resp.status_code == 413


async def test_token_limit(api):
    query = "{ me { user { " + " ".join(["displayName"] * 5000) + " } } }"
    resp = await api.post(query, as_="resident1")
    assert resp.status_code == 200
    assert "more than 4000 tokens" in resp.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("body", "ctype", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[]", "application/json", 400),
        (b'{"query": 42}', "application/json", 400),
        (
            b'{"query": "{ me { user { displayName } } }", "variables": [1]}',
            "application/json",
            400,
        ),
        (b"query=%7Bme%7D", "application/x-www-form-urlencoded", 415),
    ],
)
async def test_malformed_requests_get_4xx(api, body, ctype, status):
    resp = await api.http.post("/graphql", content=body, headers={"content-type": ctype})
    assert resp.status_code == status
    assert resp.json()["errors"][0]["message"]


async def test_get_allows_queries_only(api):
    token = api.token("resident1")
    ok = await api.http.get(
        "/graphql", params={"query": ME}, headers={"authorization": f"Bearer {token}"}
    )
    assert ok.status_code == 200 and ok.json()["data"]["me"]["user"]["displayName"]
    m = 'mutation { signIn(input: {login: "a", password: "b"}) { accessToken } }'
    refused = await api.http.get("/graphql", params={"query": m})
    assert refused.status_code == 405


async def test_not_acceptable(api):
    resp = await api.post(ME, headers={"accept": "text/plain"})
    assert resp.status_code == 406


async def test_malformed_global_id(api):
    for bad in ("!!!", "Zm9vOmJhcg", "VW5pdDotMQ"):
        errs = await api.errors(
            "query($id: ID!) { node(id: $id) { id } }", {"id": bad}, as_="resident1", lang="en"
        )
        assert errs[0]["extensions"]["code"] == "INVALID"
        assert errs[0]["message"] == "The ID is malformed."


async def test_variables_of_the_wrong_type(api):
    resp = await api.post(
        "query($id: ID!) { node(id: $id) { id } }",
        {"id": {"x": 1}},
        as_="resident1",
        headers={"accept": "application/graphql-response+json"},
    )
    assert resp.status_code == 400


async def test_pagination_arguments_are_checked(api):
    q = (
        "query($c: ID!, $f: Int, $a: String) { auditLog(communityId: $c, first: $f, after: $a) "
        "{ totalCount } }"
    )
    errs = await api.errors(q, {"c": api.garden, "f": 1000}, as_="manager")
    assert errs[0]["extensions"]["code"] == "INVALID"
    errs = await api.errors(q, {"c": api.garden, "a": "%%%"}, as_="manager")
    assert errs[0]["extensions"]["code"] == "INVALID"


def test_unexpected_errors_are_masked():
    original = RuntimeError("secret detail")
    err = GraphQLError("secret detail", original_error=original, path=["me"])
    [masked] = mask_errors([err], "en", "rid-1")
    assert masked["message"] == "Internal server error; please try again later."
    assert "secret" not in json.dumps(masked)
    assert masked["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "rid-1"}


async def test_document_cache_hits_with_the_protections_on(api):
    handler = next(r for r in api.server.app.routes if getattr(r, "path", "") == "/graphql")
    cache = handler.endpoint.__self__.cache
    query = "{ me { user { locale } } }"
    await api.gql(query, as_="resident1")
    hits = cache.hits
    await api.gql(query, as_="resident1")
    await api.gql(query, as_="resident2")
    assert cache.hits == hits + 2


async def test_health_and_metrics(api):
    assert (await api.http.get("/healthz")).json() == {"status": "ok"}
    ready = await api.http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] is True
    await api.gql(ME, as_="resident1")
    metrics = (await api.http.get("/metrics")).text
    assert 'linli_http_requests_total{method="POST",route="/graphql",status="200"}' in metrics
    assert "linli_http_request_seconds_bucket" in metrics
    assert "linli_websockets_open" in metrics
    resp = await api.post(ME, headers={"x-request-id": "abc123"})
    assert resp.headers["x-request-id"] == "abc123"


async def test_websocket_requires_a_valid_token(api):
    import websockets

    for payload in ({}, {"Authorization": "Bearer nope"}):
        ws = await websockets.connect(api.ws_url(), subprotocols=["graphql-transport-ws"])
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd.code == 4403
    client = WSClient(api.ws_url())
    await client.connect(api.token("resident1"))
    await client.subscribe(ME)
    msg = await client.next()
    assert msg["type"] == "next"
    assert msg["payload"]["data"]["me"]["user"]["displayName"] == "王芳 Wang Fang"
    await client.close()


async def test_anonymous_callers_reach_only_the_auth_mutations(api):
    assert (await api.gql(ME))["me"] is None
    errs = await api.errors(
        "query($id: ID!) { node(id: $id) { id } }", {"id": api.unit_gid("1-101")}
    )
    assert errs[0]["extensions"]["code"] == "UNAUTHENTICATED"
    errs = await api.errors(
        "query($c: ID!) { auditLog(communityId: $c) { totalCount } }", {"c": api.garden}
    )
    assert errs[0]["extensions"]["code"] == "UNAUTHENTICATED"
    errs = await api.errors(
        "mutation($c: ID!) { createInvite(input: {communityId: $c, role: STAFF}) { code } }",
        {"c": api.garden},
    )
    assert errs[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_graphiql_only_in_dev(api):
    # The test server runs with LINLI_ENV=test: no IDE, a plain 4xx for a browser GET.
    resp = await api.http.get("/graphql", headers={"accept": "text/html"})
    assert resp.status_code in (400, 406)
    dev = GraphQLHTTP(resolvers.build(), api.server.settings, make_context=None, graphiql=True)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/graphql",
        "query_string": b"",
        "headers": [(b"accept", b"text/html")],
    }
    page = await dev.handle(Request(scope))
    assert page.status_code == 200 and b"GraphiQL" in page.body
