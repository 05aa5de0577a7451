"""Complaints: the blob storage for photos and the route that serves them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from api.app import add_routes
from api.seed import Demo, seed_step
from core.errors import Unauthenticated
from core.ids import InvalidGlobalId, decode_gid
from core.storage import BlobStorage, make_storage
from domain.complaints import repository as repo
from domain.complaints.models import Complaint, ComplaintEvent

if TYPE_CHECKING:
    from api.app import AppState


@add_routes
def complaint_routes(state: AppState) -> list[BaseRoute]:
    # The storage is an app service: resolvers and this route share one instance.
    storage: BlobStorage = state.services.extras.setdefault(
        "storage", make_storage(state.settings.upload_dir)
    )

    async def photo(request: Request) -> Response:
        """A complaint photo, for the reporter and the community's staff (Bearer token).
        Anything else is a 404 that does not reveal whether the photo exists."""
        try:
            principal = await state.principals.from_authorization(
                request.headers.get("authorization")
            )
        except Unauthenticated:
            return JSONResponse(
                {"error": "unauthenticated"}, 401, headers={"WWW-Authenticate": "Bearer"}
            )
        if principal.is_anonymous:
            return JSONResponse(
                {"error": "unauthenticated"}, 401, headers={"WWW-Authenticate": "Bearer"}
            )
        try:
            _, pk = decode_gid(request.path_params["gid"], "ComplaintPhoto")
        except InvalidGlobalId:
            return JSONResponse({"error": "not found"}, 404)
        async with state.db.reader() as s:
            row = await repo.readable_photo(s, principal, pk)
            found = (row.storage_key, row.content_type) if row is not None else None
        data = storage.get(found[0]) if found is not None else None
        if found is None or data is None:
            return JSONResponse({"error": "not found"}, 404)
        return Response(
            data,
            media_type=found[1],
            headers={
                "Cache-Control": "private, max-age=300",
                "X-Content-Type-Options": "nosniff",
                "Content-Disposition": "inline",
            },
        )

    return [Route("/complaints/photos/{gid}", photo, methods=["GET"])]


@seed_step
async def seed_complaints(session: AsyncSession, demo: Demo) -> None:
    """One accepted noise complaint by resident2, for the demo staff queue."""
    row = Complaint(
        community_id=demo.garden_id,
        reporter_id=demo.users["resident2@demo.linli"],
        category="NOISE",
        body="2号楼楼下的KTV每晚营业到凌晨两点，噪音很大。",
        building_id=demo.buildings["2"],
        location_text="2号楼底商",
        status="ACCEPTED",
    )
    session.add(row)
    await session.flush()
    assert row.id is not None
    session.add(ComplaintEvent(complaint_id=row.id, action="FILED", status="OPEN"))
    session.add(
        ComplaintEvent(
            complaint_id=row.id,
            actor_id=demo.users["staff1@demo.linli"],
            action="ACCEPTED",
            status="ACCEPTED",
        )
    )
    await session.flush()
    demo.extra["complaints"] = {"noise": row.id}
