"""Parcel lockers through the locker's HTTP calls and the public API: deposit →
notification → pickup with the code, wrong codes lock the entry, reminders, the desk."""

from __future__ import annotations

import asyncio
import base64
import json

from sqlalchemy import func, select

from core.clock import utcnow
from core.ids import decode_gid
from domain.audit.models import AuditEntry
from domain.devices.models import DeviceCommand
from domain.notifications.models import Notification, OutboxMessage
from domain.parcels.models import Parcel
from domain.parcels.service import remind_uncollected

LOCKER = ("G-LOCKER-1", "linli-demo-2026")
MY = """{ myParcels { totalCount edges { node { id status pickupCode carrier trackingNumber
  lockedUntil location { lockerCode compartment } unit { label } } } } }"""
PICK = """mutation($input: CollectParcelInput!) { pickUpParcel(input: $input) {
  parcel { id status collectedAt } userErrors { code field message } } }"""
DESK = """mutation($input: CollectParcelInput!) { handOverParcel(input: $input) {
  parcel { id status } userErrors { code field message } } }"""


def basic(code: str, credential: str) -> dict[str, str]:
    token = base64.b64encode(f"{code}:{credential}".encode()).decode()
    return {"authorization": f"Basic {token}", "content-type": "application/json"}


async def deposit(api, compartment: str, unit: str, *, creds=LOCKER, lang="en", **extra):
    body = {"compartment": compartment, "unit": unit, **extra}
    return await api.http.post(
        "/parcels/deposit",
        content=json.dumps(body),
        headers={**basic(*creds), "accept-language": lang},
    )


async def parcel_count(api) -> int:
    async with api.db.reader() as s:
        return int(await s.scalar(select(func.count()).select_from(Parcel)) or 0)


async def my_waiting(api, who: str) -> dict[str, dict]:
    data = await api.gql(MY, as_=who)
    return {
        e["node"]["id"]: e["node"]
        for e in data["myParcels"]["edges"]
        if e["node"]["status"] == "WAITING"
    }


async def test_deposit_notifies_and_the_code_opens_the_compartment(api, clock):
    resp = await deposit(api, "B02", "1-101", carrier="顺丰", tracking="SF1001")
    assert resp.status_code == 201, resp.text
    pid = resp.json()["parcel"]
    assert "code" not in resp.json()  # the courier never sees it

    # The unit's residents are told (inbox + push), without the code in the text.
    async with api.db.reader() as s:
        rows = list(
            await s.execute(
                select(Notification.user_id, Notification.params, Notification.id).where(
                    Notification.category == "PARCEL"
                )
            )
        )
        pushed = set(
            await s.scalars(
                select(OutboxMessage.notification_id).where(
                    OutboxMessage.notification_id.in_([r[2] for r in rows])
                )
            )
        )
        stored = await s.get(Parcel, decode_gid(pid)[1])
        s.expunge_all()
    assert {r[0] for r in rows} == {api.demo.users["resident1@demo.linli"]}
    assert pushed == {r[2] for r in rows}

    mine = await my_waiting(api, "resident1")
    p = mine[pid]
    code = p["pickupCode"]
    assert len(code) == 6 and code.isdigit()
    assert p["location"] == {"lockerCode": "G-LOCKER-1", "compartment": "B02"}
    assert (p["carrier"], p["trackingNumber"], p["unit"]["label"]) == ("顺丰", "SF1001", "1-101")
    assert code not in json.dumps([r[1] for r in rows])
    # Hashed and encrypted at rest, never in clear.
    assert stored is not None and code not in repr(stored.model_dump())

    # Others: a neighbour sees nothing and cannot use the code; staff see no code.
    assert pid not in await my_waiting(api, "resident2")
    res = await api.gql(PICK, {"input": {"parcelId": pid, "code": code}}, as_="resident2")
    assert res["pickUpParcel"]["userErrors"][0]["code"] == "NOT_FOUND"
    desk = await api.gql(
        "query($c: ID!) { parcels(communityId: $c, status: WAITING) "
        "{ edges { node { id pickupCode } } } }",
        {"c": api.garden},
        as_="staff1",
    )
    assert {"id": pid, "pickupCode": None} in [e["node"] for e in desk["parcels"]["edges"]]

    # Two pickups with the right code at once: exactly one opens the compartment.
    results = await asyncio.gather(
        *(
            api.gql(PICK, {"input": {"parcelId": pid, "code": code}}, as_="resident1")
            for _ in range(4)
        )
    )
    ok = [r for r in results if not r["pickUpParcel"]["userErrors"]]
    refused = [r["pickUpParcel"]["userErrors"][0]["code"] for r in results if r not in ok]
    assert len(ok) == 1 and refused == ["CONFLICT"] * 3
    assert ok[0]["pickUpParcel"]["parcel"]["status"] == "PICKED_UP"
    async with api.db.reader() as s:
        commands = list(await s.execute(select(DeviceCommand.name, DeviceCommand.params)))
        attempts = await s.scalar(
            select(Parcel.failed_attempts).where(Parcel.status == "PICKED_UP")
        )
    opened = [c for c in commands if c[0] == "open_compartment"]
    assert len(opened) == 1 and opened[0][1]["compartment"] == "B02"
    assert attempts == 0  # the neighbour's try was not counted against it
    assert pid not in await my_waiting(api, "resident1")

    # The compartment is free again; a deposit through the device telemetry works too.
    assert (await deposit(api, "B02", "1-102")).status_code == 201
    tele = await api.http.post(
        "/devices/telemetry",
        content=json.dumps(
            {
                "values": {
                    "event": "deposit",
                    "compartment": "A01",
                    "unit": "2-301",
                    "carrier": "京东",
                }
            }
        ),
        headers=basic(*LOCKER),
    )
    assert tele.status_code == 200, tele.text
    assert len(await my_waiting(api, "tenant1")) == 1


async def test_bad_deposits_are_refused_and_nothing_is_stored(api, clock):
    assert (await deposit(api, "C01", "1-101")).status_code == 201
    before = await parcel_count(api)
    busy = await deposit(api, "C01", "1-102")
    assert busy.status_code == 422 and busy.json()["error"] == "compartment_busy"
    assert busy.json()["message"] == "Compartment C01 still holds a parcel."
    nounit = await deposit(api, "C02", "9-999", lang="zh-CN")
    assert nounit.status_code == 422 and "9-999" in nounit.json()["message"]
    assert (await deposit(api, "Z99", "1-101")).status_code == 422
    assert (await deposit(api, "C02", "A-101")).status_code == 422  # another community's unit
    assert (await deposit(api, "C02", "1-101", creds=("G-LOCKER-1", "wrong"))).status_code == 401
    # A device that is not a locker cannot deposit.
    assert (
        await deposit(api, "C02", "1-101", creds=("G-1-SMOKE-L1", LOCKER[1]))
    ).status_code == 401
    bad = await api.http.post("/parcels/deposit", content=b"[1]", headers=basic(*LOCKER))
    assert bad.status_code == 400
    assert await parcel_count(api) == before


async def test_five_wrong_codes_lock_the_parcel_for_15_minutes(api, clock):
    pid = (await deposit(api, "A02", "1-101")).json()["parcel"]
    code = (await my_waiting(api, "resident1"))[pid]["pickupCode"]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    for left in (4, 3, 2, 1):
        res = await api.gql(
            PICK, {"input": {"parcelId": pid, "code": wrong}}, as_="resident1", lang="en"
        )
        err = res["pickUpParcel"]["userErrors"][0]
        assert (err["code"], err["field"]) == ("INVALID", ["input", "code"])
        assert err["message"] == f"Wrong pickup code; {left} attempts left."
    res = await api.gql(
        PICK, {"input": {"parcelId": pid, "code": wrong}}, as_="resident1", lang="en"
    )
    assert res["pickUpParcel"]["userErrors"][0]["code"] == "RATE_LIMITED"
    # Locked: even the right code is refused, at the locker and (for now) the desk.
    res = await api.gql(PICK, {"input": {"parcelId": pid, "code": code}}, as_="resident1")
    assert res["pickUpParcel"]["userErrors"][0]["code"] == "RATE_LIMITED"
    assert (await my_waiting(api, "resident1"))[pid]["lockedUntil"] is not None
    # Not a code at all: refused without counting.
    res = await api.gql(PICK, {"input": {"parcelId": pid, "code": "12ab"}}, as_="resident1")
    assert res["pickUpParcel"]["userErrors"][0]["code"] in ("RATE_LIMITED", "INVALID")

    clock.advance(minutes=14)
    res = await api.gql(
        PICK, {"input": {"parcelId": pid, "code": code}}, as_="resident1", lang="en"
    )
    err = res["pickUpParcel"]["userErrors"][0]
    assert err["code"] == "RATE_LIMITED" and "1 minutes" in err["message"]
    clock.advance(minutes=1, seconds=1)
    res = await api.gql(PICK, {"input": {"parcelId": pid, "code": code}}, as_="resident1")
    assert res["pickUpParcel"]["userErrors"] == []
    assert res["pickUpParcel"]["parcel"]["status"] == "PICKED_UP"


async def test_reminder_after_48_hours_and_desk_hand_over(api, clock):
    pid = (await deposit(api, "B03", "2-301")).json()["parcel"]
    code = (await my_waiting(api, "tenant1"))[pid]["pickupCode"]

    async def sweep() -> int:
        async with api.db.transaction() as s:
            return await remind_uncollected(s, now=utcnow())

    clock.advance(hours=47)
    assert await sweep() == 0
    clock.advance(hours=1, seconds=1)
    assert await sweep() == 1
    assert await sweep() == 0  # once
    async with api.db.reader() as s:
        reminded = set(
            await s.scalars(
                select(Notification.user_id).where(
                    Notification.title_key == "parcels.notify.reminder.title"
                )
            )
        )
    # The tenant and the owner of 2-301.
    assert api.demo.users["tenant1@demo.linli"] in reminded and len(reminded) == 2

    # The desk: residents cannot hand over; other communities' staff cannot see it.
    res = await api.gql(DESK, {"input": {"parcelId": pid, "code": code}}, as_="tenant1")
    assert res["handOverParcel"]["userErrors"][0]["code"] == "NOT_FOUND"
    res = await api.gql(
        DESK,
        {"input": {"parcelId": pid, "code": "000000" if code != "000000" else "111111"}},
        as_="staff2",
    )
    assert res["handOverParcel"]["userErrors"][0]["code"] == "INVALID"
    res = await api.gql(DESK, {"input": {"parcelId": pid, "code": code}}, as_="staff2")
    assert res["handOverParcel"]["parcel"]["status"] == "HANDED_OVER"
    async with api.db.reader() as s:
        row = await s.scalar(select(Parcel).where(Parcel.status == "HANDED_OVER"))
        audit = await s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "parcel.hand_over")
        )
        assert row is not None and row.collected_by == api.demo.users["staff2@demo.linli"]
    assert audit == 1
    assert await sweep() == 0
