"""Parcel lockers: the device-ingest handler, the lockers' HTTP deposit route, the
48-hour reminder job and the demo locker."""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import TYPE_CHECKING

import orjson
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from api.app import add_routes
from api.jobs import job
from api.seed import Demo, seed_step
from core import i18n, keys
from core.clock import utcnow
from core.ids import encode_gid
from domain.devices.credentials import authenticate_device
from domain.devices.ingest import register_handler
from domain.devices.models import Device
from domain.parcels import service
from domain.parcels.errors import DepositRefused
from domain.parcels.models import LOCKER_KIND, LockerCompartment, Parcel

if TYPE_CHECKING:
    from api.app import AppState

# Deposits also arrive as telemetry of the locker (MQTT or POST /devices/telemetry).
register_handler(LOCKER_KIND, service.on_locker_reading)

MAX_BODY = 4096


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    code, sep, credential = decoded.partition(":")
    return (code, credential) if sep else None


def _unauthorized() -> Response:
    return JSONResponse(
        {"error": "locker authentication required"},
        status_code=401,
        headers={"www-authenticate": 'Basic realm="linli-devices"'},
    )


@add_routes
def parcel_routes(state: AppState) -> list[BaseRoute]:
    async def deposit(request: Request) -> Response:
        """A courier's deposit reported by the locker (HTTP Basic: the locker's device
        code and credential). Body {"compartment", "unit", "carrier"?, "tracking"?}.
        201 {"parcel", "compartment"}; 400 bad body; 401; 422 refused (with a reason)."""
        creds = _basic(request)
        if creds is None:
            return _unauthorized()
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict) or not all(
            isinstance(data.get(k), str) and data.get(k) for k in ("compartment", "unit")
        ):
            return JSONResponse(
                {"error": "body must be a JSON object with compartment and unit"}, 400
            )
        locale = i18n.negotiate(request.headers.get("accept-language"))
        try:
            async with state.db.transaction() as session:
                locker = await authenticate_device(session, creds[0], creds[1])
                if locker is None or locker.kind != LOCKER_KIND:
                    return _unauthorized()
                parcel, _code = await service.deposit(
                    session,
                    locker,
                    compartment=data["compartment"],
                    unit_label=data["unit"],
                    carrier=data.get("carrier") if isinstance(data.get("carrier"), str) else None,
                    tracking_number=(
                        data.get("tracking") if isinstance(data.get("tracking"), str) else None
                    ),
                )
                assert parcel.id is not None
                answer = {
                    "parcel": encode_gid("Parcel", parcel.id),
                    "compartment": data["compartment"],
                }
        except DepositRefused as exc:
            return JSONResponse(
                {
                    "error": exc.message_key.rsplit(".", 1)[-1],
                    "message": i18n.translate(exc.message_key, locale, **exc.params),
                },
                status_code=422,
            )
        return JSONResponse(answer, status_code=201)

    return [Route("/parcels/deposit", deposit, methods=["POST"])]


@job("remind_uncollected_parcels", seconds=600)
async def remind_uncollected_parcels(state: AppState) -> None:
    async with state.db.transaction() as session:
        await service.remind_uncollected(session, now=utcnow())


@seed_step
async def seed_parcel_locker(session: AsyncSession, demo: Demo) -> None:
    """A 12-door locker by building 1 (credential: the demo password)."""
    locker = Device(
        community_id=demo.garden_id,
        building_id=demo.buildings["1"],
        code="G-LOCKER-1",
        kind=LOCKER_KIND,
        floor=1,
        location="1号楼大堂快递柜 Building 1 lobby locker",
        credential_hash=demo.password_hash,
    )
    session.add(locker)
    await session.flush()
    assert locker.id is not None
    ids = {"locker": locker.id}
    for row, size in (("A", "S"), ("B", "M"), ("C", "L")):
        for n in range(1, 5):
            comp = LockerCompartment(locker_id=locker.id, label=f"{row}{n:02d}", size=size)
            session.add(comp)
            await session.flush()
            assert comp.id is not None
            ids[comp.label] = comp.id
    # resident2 has a parcel waiting (its code shows in their myParcels).
    code = f"{secrets.randbelow(10**6):06d}"
    parcel = Parcel(
        community_id=demo.garden_id,
        locker_id=locker.id,
        compartment_id=ids["C04"],
        unit_id=demo.units["1-102"],
        carrier="顺丰速运 SF Express",
        tracking_number="SF1234567890",
        code_digest=service.code_digest(locker.id, code),
        code_enc=keys.cipher().encrypt(code),
    )
    session.add(parcel)
    await session.flush()
    assert parcel.id is not None
    ids["waiting"] = parcel.id
    demo.extra["parcels"] = ids
