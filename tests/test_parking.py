"""Parking end to end: plate cameras through the device ingest, quotes by exit-lane QR
code and by plate, monthly passes, the printable QR code, re-entry."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from domain.devices.models import DeviceCommand
from domain.parking import qr
from domain.parking.models import ParkingLane, ParkingSession
from tests.support import GraphQLClient

DEVICE_PASSWORD = "linli-demo-2026"

QUOTE = """
query($qr: String, $plate: String) {
  parkingQuote(qr: $qr, plate: $plate) {
    amountDue { amountMinor currency formatted }
    graceMinutes
    session { id plate enteredAt exitedAt paidUntil status amountDue { amountMinor } }
  }
}"""


def pk(api: GraphQLClient, name: str) -> int:
    return api.demo.extra["parking"][name]


async def camera(api: GraphQLClient, code: str, plate: str, direction: str) -> None:
    resp = await api.http.post(
        "/devices/telemetry",
        json={"plate": plate, "direction": direction},
        auth=(code, DEVICE_PASSWORD),
    )
    assert resp.status_code == 200, resp.text


async def enter(api: GraphQLClient, plate: str) -> None:
    await camera(api, "G-CAM-N-IN", plate, "entry")


async def at_exit(api: GraphQLClient, plate: str) -> None:
    await camera(api, "G-CAM-N-OUT", plate, "exit")


async def stays(api: GraphQLClient, plate: str) -> list[ParkingSession]:
    async with api.db.reader() as s:
        rows = await s.scalars(
            select(ParkingSession).where(ParkingSession.plate == plate).order_by(ParkingSession.id)
        )
        out = list(rows)
        s.expunge_all()  # keep them readable after the reader rolls back
        return out


async def gate_commands(api: GraphQLClient, gate: str) -> list[DeviceCommand]:
    async with api.db.reader() as s:
        rows = await s.scalars(
            select(DeviceCommand)
            .where(DeviceCommand.device_id == pk(api, gate))
            .order_by(DeviceCommand.id)
        )
        out = list(rows)
        s.expunge_all()
        return out


def exit_qr(api: GraphQLClient) -> str:
    return qr.lane_url("https://linli.example", pk(api, "exit_lane"), 1)


async def quote(api: GraphQLClient, as_: str, **kw: Any) -> Any:
    return (await api.gql(QUOTE, kw, as_=as_))["parkingQuote"]


async def test_visitor_stay_reentry_and_qr_quote(api: GraphQLClient, clock) -> None:
    plate = "沪B12345"
    await enter(api, "沪b·12345")  # the camera's spelling is normalised
    [first] = await stays(api, plate)
    assert first.status == "OPEN" and first.free_allowance_minutes == 30
    [opened] = await gate_commands(api, "gate_in")
    assert opened.name == "open" and opened.params["session"] == first.id
    await enter(api, plate)  # the camera fires again at the barrier: still one stay
    assert len(await stays(api, plate)) == 1

    # 20 minutes: inside the free time, the exit gate opens by itself.
    clock.advance(minutes=20)
    await at_exit(api, plate)
    [first] = await stays(api, plate)
    assert first.status == "EXITED" and first.exited_at is not None
    assert [c.params["reason"] for c in await gate_commands(api, "gate_out")] == ["exit"]

    # Back after 30 minutes: only the 10 free minutes left of the first stay.
    clock.advance(minutes=30)
    await enter(api, plate)
    clock.advance(minutes=20)
    await at_exit(api, plate)
    _, second = await stays(api, plate)
    assert (second.free_allowance_minutes, second.previous_session_id) == (10, first.id)
    assert second.exited_at is None, "something is due: the gate stays shut"
    assert len(await gate_commands(api, "gate_out")) == 1

    # The driver scans the lane's QR code: any signed-in user (a visitor) sees the stay.
    got = await quote(api, "residentb", qr=exit_qr(api))
    assert got["amountDue"] == {"amountMinor": 500, "currency": "CNY", "formatted": "5.00"}
    assert got["graceMinutes"] == 15
    assert got["session"]["plate"] == plate and got["session"]["status"] == "OPEN"
    assert got["session"]["id"] == api.gid("ParkingSession", second.id)
    # The bare token works too.
    bare = qr.lane_token(pk(api, "exit_lane"), 1)
    assert (await quote(api, "tenant1", qr=bare))["session"]["plate"] == plate

    # Tampered, forged or stale codes get a clear error.
    tampered = bare[:-2] + ("AA" if not bare.endswith("AA") else "BB")
    for bad in (tampered, "hello", qr.lane_token(pk(api, "exit_lane"), 2)):
        [err] = await api.errors(QUOTE, {"qr": bad}, as_="resident1", lang="en")
        assert err["extensions"]["code"] == "INVALID"
        assert "QR code" in err["message"]
    unknown = qr.lane_token(999_999, 1)
    [err] = await api.errors(QUOTE, {"qr": unknown}, as_="resident1")
    assert err["message"] == "该二维码对应的出口不存在。"
    # The entry lane has no payable QR code.
    [err] = await api.errors(QUOTE, {"qr": qr.lane_token(pk(api, "entry_lane"), 1)}, as_="staff1")
    assert err["extensions"]["code"] == "INVALID"
    # Anonymous callers get nothing.
    [err] = await api.errors(QUOTE, {"qr": bare})
    assert err["extensions"]["code"] == "UNAUTHENTICATED"

    # By plate: staff see it; a neighbour who merely knows the plate does not.
    assert (await quote(api, "staff1", plate="沪B 12345"))["amountDue"]["amountMinor"] == 500
    assert await quote(api, "resident2", plate=plate) is None
    assert await quote(api, "residentb", plate=plate) is None
    [err] = await api.errors(QUOTE, {"plate": "沪B1234"}, as_="staff1", lang="en")
    assert err["extensions"]["code"] == "INVALID" and "malformed" in err["message"]
    [err] = await api.errors(QUOTE, {}, as_="staff1")
    assert err["extensions"]["code"] == "INVALID"


async def test_monthly_pass_leaves_without_paying(api: GraphQLClient, clock) -> None:
    plate = "京A7B2C9"  # resident1's car, monthly pass in the demo
    await enter(api, plate)
    clock.advance(hours=5)
    got = await quote(api, "resident1", plate=plate)
    assert got["amountDue"]["amountMinor"] == 0 and got["session"]["status"] == "OPEN"
    # Another resident may not look it up.
    assert await quote(api, "resident2", plate=plate) is None
    await at_exit(api, plate)
    [stay] = await stays(api, plate)
    assert stay.status == "EXITED" and stay.exited_on_pass
    assert [c.params["reason"] for c in await gate_commands(api, "gate_out")] == ["pass"]


async def test_unknown_camera_events_are_ignored(api: GraphQLClient, clock) -> None:
    # An unreadable plate and a car never seen entering change nothing and break nothing.
    await enter(api, "XX-123")
    await at_exit(api, "粤B99999")
    async with api.db.reader() as s:
        assert (await s.scalars(select(ParkingSession))).all() == []
        lane = await s.get(ParkingLane, pk(api, "exit_lane"))
        assert lane is not None
        assert lane.waiting_session_id is None
    assert await gate_commands(api, "gate_out") == []


async def test_lane_qr_svg_for_staff_only(api: GraphQLClient) -> None:
    path = f"/parking/lanes/{pk(api, 'exit_lane')}/qr.svg"
    resp = await api.http.get(path, headers={"authorization": f"Bearer {api.token('staff1')}"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("image/svg+xml")
    assert resp.text.lstrip().startswith("<?xml") and "<svg" in resp.text
    assert (await api.http.get(path)).status_code == 401
    for who in ("resident1", "residentb", "merchant1"):
        r = await api.http.get(path, headers={"authorization": f"Bearer {api.token(who)}"})
        assert r.status_code == 404, who
    entry = f"/parking/lanes/{pk(api, 'entry_lane')}/qr.svg"
    r = await api.http.get(entry, headers={"authorization": f"Bearer {api.token('staff1')}"})
    assert r.status_code == 404


REGISTER = """
mutation($c: ID!, $p: String!, $h: Int!) {
  registerVisitorVehicle(input: {communityId: $c, plate: $p, hours: $h}) {
    visitorVehicle { id plate validFrom validUntil } userErrors { code field message }
  }
}"""


async def test_resident_registers_a_visitor(api: GraphQLClient, clock) -> None:
    async def register(as_: str, plate: str, hours: int = 4) -> Any:
        got = await api.gql(REGISTER, {"c": api.garden, "p": plate, "h": hours}, as_=as_)
        return got["registerVisitorVehicle"]

    made = await register("tenant1", "沪c 55555")
    assert made["userErrors"] == [] and made["visitorVehicle"]["plate"] == "沪C55555"
    await enter(api, "沪C55555")
    clock.advance(hours=2)
    # The host may now look the visitor's plate up (and pay ahead); others may not.
    got = await quote(api, "tenant1", plate="沪C55555")
    assert got["amountDue"]["amountMinor"] == 1000
    assert await quote(api, "resident2", plate="沪C55555") is None
    # When the registration ends, so does the host's view.
    clock.advance(hours=3)
    assert await quote(api, "tenant1", plate="沪C55555") is None

    bad = await register("tenant1", "沪C5555")
    assert bad["visitorVehicle"] is None
    assert bad["userErrors"][0]["field"] == ["input", "plate"]
    long = await register("tenant1", "沪C66666", hours=100)
    assert long["userErrors"][0]["field"] == ["input", "hours"]
    # Only residents register visitors (a merchant of the community may not).
    refused = await register("merchant1", "沪C77777")
    assert refused["userErrors"][0]["code"] == "FORBIDDEN"
    errors = await api.errors(REGISTER, {"c": api.garden, "p": "沪C77777", "h": 4}, as_="residentb")
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"


VEHICLE = """
mutation($c: ID!, $p: String!, $o: ID!, $u: ID, $f: Date, $t: Date) {
  registerResidentVehicle(input: {communityId: $c, plate: $p, ownerId: $o, unitId: $u,
                                  passValidFrom: $f, passValidUntil: $t}) {
    residentVehicle { id plate passValidFrom passValidUntil owner { displayName } }
    userErrors { code field }
  }
}"""


async def test_staff_manage_monthly_passes(api: GraphQLClient, clock) -> None:
    tenant = api.gid("User", api.demo.users["tenant1@demo.linli"])

    async def register(as_: str = "staff1", **kw: Any) -> Any:
        variables = {"c": api.garden, "p": "晋K24680", "o": tenant, "u": None}
        variables.update({"f": "2026-11-01", "t": "2026-11-30"}, **kw)
        return (await api.gql(VEHICLE, variables, as_=as_))["registerResidentVehicle"]

    made = await register(u=api.unit_gid("2-301"))
    assert made["userErrors"] == []
    vehicle = made["residentVehicle"]
    assert vehicle["passValidUntil"] == "2026-11-30" and vehicle["owner"]["displayName"]
    # With a valid pass the car leaves without paying, however long it stayed.
    await enter(api, "晋K24680")
    clock.advance(hours=6)
    await at_exit(api, "晋K24680")
    assert (await stays(api, "晋K24680"))[0].exited_on_pass
    # The pass lapsed (changed by plate, same row): the next stay is paid.
    again = await register(f="2026-10-01", t="2026-10-31")
    assert again["residentVehicle"]["id"] == vehicle["id"]
    await enter(api, "晋K24680")
    clock.advance(hours=2)
    await at_exit(api, "晋K24680")
    assert (await stays(api, "晋K24680"))[1].exited_at is None
    got = await quote(api, "tenant1", plate="晋K24680")
    assert got["amountDue"]["amountMinor"] == 1000

    merchant = api.gid("User", api.demo.users["merchant1@demo.linli"])
    for kw, field in (
        ({"o": merchant}, "ownerId"),  # not a resident
        ({"f": None}, "passValidUntil"),  # one date without the other
        ({"f": "2026-12-01", "t": "2026-11-01"}, "passValidUntil"),
        ({"u": api.unit_gid("A-101")}, "unitId"),  # another community's unit
        ({"p": "晋K2468"}, "plate"),
    ):
        bad = await register(**kw)
        assert bad["residentVehicle"] is None and bad["userErrors"][0]["field"] == [
            "input",
            field,
        ], kw
    for who in ("resident1", "residentb", "merchant1"):
        [err] = await api.errors(
            VEHICLE,
            {"c": api.garden, "p": "晋K24680", "o": tenant, "f": None, "t": None},
            as_=who,
        )
        assert err["extensions"]["code"] == "FORBIDDEN", who


SESSIONS = """
query($c: ID!, $open: Boolean!) { parkingSessions(communityId: $c, openOnly: $open) {
  totalCount edges { node { plate status amountDue { amountMinor } } } } }"""
TARIFF = """
mutation($t: ID!, $free: Int, $cap: Int) {
  updateParkingTariff(input: {tariffId: $t, freeMinutes: $free, dailyCapMinor: $cap}) {
    tariff { freeMinutes dailyCap { amountMinor } hourlyRate { amountMinor } graceMinutes }
    userErrors { code field }
  }
}"""


async def test_staff_see_stays_and_change_the_tariff(api: GraphQLClient, clock) -> None:
    for plate in ("京A7B2C9", "沪B12345", "粤B99999"):
        await enter(api, plate)
        clock.advance(minutes=15)
    await at_exit(api, "粤B99999")  # 15 minutes: free, gone
    clock.advance(minutes=30)
    got = (await api.gql(SESSIONS, {"c": api.garden, "open": True}, as_="staff1"))[
        "parkingSessions"
    ]
    assert got["totalCount"] == 2
    by_plate = {e["node"]["plate"]: e["node"] for e in got["edges"]}
    # resident1's monthly pass: nothing due; the visitor's 60 minutes: one hour.
    assert by_plate["京A7B2C9"]["amountDue"]["amountMinor"] == 0
    assert by_plate["沪B12345"]["amountDue"]["amountMinor"] == 500
    every = await api.gql(SESSIONS, {"c": api.garden, "open": False}, as_="staff1")
    assert every["parkingSessions"]["totalCount"] == 3
    for who in ("resident1", "residentb", "merchant1"):
        [err] = await api.errors(SESSIONS, {"c": api.garden, "open": True}, as_=who)
        assert err["extensions"]["code"] == "FORBIDDEN"

    tariff = api.gid("ParkingTariff", pk(api, "tariff"))
    changed = (await api.gql(TARIFF, {"t": tariff, "free": 90}, as_="manager"))[
        "updateParkingTariff"
    ]
    assert changed["userErrors"] == []
    assert changed["tariff"]["freeMinutes"] == 90
    # Untouched fields keep their values.
    assert changed["tariff"]["dailyCap"]["amountMinor"] == 4000
    assert changed["tariff"]["graceMinutes"] == 15
    # Stays are priced by the tariff as it is now (the visitor entered before the change,
    # whose own allowance was fixed at entry: 30 minutes).
    assert (await quote(api, "staff1", plate="沪B12345"))["amountDue"]["amountMinor"] == 500
    await enter(api, "苏E11111")
    clock.advance(minutes=80)
    assert (await quote(api, "staff1", plate="苏E11111"))["amountDue"]["amountMinor"] == 0
    # The cap can be removed (null) and bad values are refused.
    nocap = await api.gql(TARIFF, {"t": tariff, "cap": None}, as_="staff1")
    assert nocap["updateParkingTariff"]["tariff"]["dailyCap"] is None
    bad = await api.gql(TARIFF, {"t": tariff, "free": -5}, as_="staff1")
    assert bad["updateParkingTariff"]["userErrors"][0]["field"] == ["input", "freeMinutes"]
    refused = await api.gql(TARIFF, {"t": tariff, "free": 0}, as_="resident1")
    assert refused["updateParkingTariff"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_camera_bursts_make_one_stay(api: GraphQLClient, clock) -> None:
    # A camera (or two bridge processes) reporting the same car at once.
    await asyncio.gather(*(enter(api, "闽D20250") for _ in range(6)))
    assert len(await stays(api, "闽D20250")) == 1
    assert len(await gate_commands(api, "gate_in")) == 1
    clock.advance(minutes=10)
    await asyncio.gather(*(at_exit(api, "闽D20250") for _ in range(4)))
    [stay] = await stays(api, "闽D20250")
    assert stay.status == "EXITED"
    assert len(await gate_commands(api, "gate_out")) == 1
