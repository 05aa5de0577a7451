"""Plain Starlette twins of GraphQL queries, running the same SQL, for `make bench`'s
"GraphQL overhead" ratio. Served only when LINLI_BENCH_ROUTES=true."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.app import AppState, add_routes
from core.errors import Unauthenticated
from core.ids import encode_gid
from domain.accounts import service as accounts


@add_routes
def bench_routes(state: AppState) -> list[BaseRoute]:
    if not state.settings.bench_routes:
        return []

    async def me_plain(request: Request) -> Response:
        try:
            principal = await state.principals.from_authorization(
                request.headers.get("authorization")
            )
        except Unauthenticated:
            return Response(status_code=401)
        async with state.db.reader() as s:
            user, memberships = await accounts.viewer(s, principal)
            body = {
                "data": {
                    "me": {
                        "user": {"displayName": user.display_name},
                        "memberships": [
                            {
                                "community": {"name": m.community.name},
                                "units": [
                                    {"label": u.label, "areaM2": u.area_centi_m2 / 100}
                                    for u in m.units
                                ],
                            }
                            for m in memberships
                        ],
                    }
                }
            }
        return Response(orjson.dumps(body), media_type="application/json")

    return [Route("/bench/me", me_plain, methods=["GET"])]


__all__ = ["bench_routes", "encode_gid"]
