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
from domain.announcements import repository as announcements_repo
from domain.bills import repository as bills_repo
from domain.booking import repository as booking_repo


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

    async def home_plain(request: Request) -> Response:
        """The resident home screen (bills, bookings, notices) without GraphQL: the same
        repository calls as the resolvers of `tests/bench/bench_home.py`'s query."""
        try:
            principal = await state.principals.from_authorization(
                request.headers.get("authorization")
            )
        except Unauthenticated:
            return Response(status_code=401)
        try:
            community = int(request.query_params["c"])
            first = min(int(request.query_params.get("first", "10")), 100)
        except (KeyError, ValueError):
            return Response(status_code=400)
        if not principal.in_community(community):
            return Response(status_code=403)
        en = principal.locale == "en"
        async with state.db.reader() as s:
            bill_rows, bill_total = await bills_repo.my_bills(
                s, principal, status=None, limit=first, offset=0
            )
            booking_rows, booking_total = await booking_repo.my_bookings(
                s, principal, status=None, limit=first, offset=0
            )
            notice_rows, notice_total = await announcements_repo.list_for(
                s, principal, community, limit=first, offset=0
            )
            body = {
                "data": {
                    "myBills": {
                        "totalCount": bill_total,
                        "edges": [
                            {
                                "node": {
                                    "id": encode_gid("Bill", b.id),
                                    "kind": b.kind,
                                    "period": b.period,
                                    "amount": {
                                        "amountMinor": b.amount_minor,
                                        "currency": b.currency,
                                    },
                                    "dueDate": b.due_date.isoformat(),
                                    "status": b.status,
                                }
                            }
                            for b in bill_rows
                        ],
                    },
                    "myBookings": {
                        "totalCount": booking_total,
                        "edges": [
                            {
                                "node": {
                                    "id": encode_gid("Booking", b.id),
                                    "status": b.status,
                                    "price": {
                                        "amountMinor": b.price_minor,
                                        "currency": b.currency,
                                    },
                                    "slot": {
                                        "start": b.slot_start.isoformat(),
                                        "end": b.slot_end.isoformat(),
                                    },
                                }
                            }
                            for b in booking_rows
                        ],
                    },
                    "announcements": {
                        "totalCount": notice_total,
                        "edges": [
                            {
                                "node": {
                                    "id": encode_gid("Announcement", a.id),
                                    "kind": a.kind,
                                    "title": (
                                        (a.title_en or a.title_zh)
                                        if en
                                        else (a.title_zh or a.title_en)
                                    )
                                    or "",
                                    "pinned": a.pinned,
                                    "publishedAt": a.published_at.isoformat()
                                    if a.published_at
                                    else None,
                                }
                            }
                            for a in notice_rows
                        ],
                    },
                }
            }
        return Response(orjson.dumps(body), media_type="application/json")

    return [
        Route("/bench/me", me_plain, methods=["GET"]),
        Route("/bench/home", home_plain, methods=["GET"]),
    ]


__all__ = ["bench_routes", "encode_gid"]
