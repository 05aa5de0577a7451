"""Paying for parking and EV charging through the payment provider: the full flow
(entry → QR quote → pay → verified webhook → gate → exit), grace expiry, one payment
under concurrent taps, and charges metered by a charger."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from domain.devices import commands
from domain.ledger.models import LedgerEntry
from domain.notifications.models import Notification
from domain.parking.models import ChargingSession, ParkingLane, ParkingPayment
from domain.payments.models import Payment
from tests.stubs.stripe_stub import StripeStub
from tests.support import GraphQLClient
from tests.test_parking import (
    DEVICE_PASSWORD,
    QUOTE,
    at_exit,
    camera,
    enter,
    exit_qr,
    gate_commands,
    pk,
    quote,
    stays,
)

PAY = """
mutation($s: ID!, $k: String!) {
  payParking(input: {sessionId: $s, idempotencyKey: $k}) {
    payment { id status clientSecret amount { amountMinor currency } }
    userErrors { code field message }
  }
}"""


async def pay(api: GraphQLClient, as_: str, session_gid: str, key: str) -> Any:
    return (await api.gql(PAY, {"s": session_gid, "k": key}, as_=as_))["payParking"]


async def settle(api: GraphQLClient, stub: StripeStub, payment_gid: str) -> None:
    """The payer confirms in the app; Stripe sends the signed webhook."""
    from core.ids import decode_gid

    async with api.db.reader() as s:
        row = await s.get(Payment, decode_gid(payment_gid)[1])
        assert row is not None and row.provider_ref is not None
        ref = row.provider_ref
    stub.set_intent(ref, "succeeded")
    resp = await stub.send_webhook(
        api.http, "/webhooks/stripe", stub.event("payment_intent.succeeded", ref)
    )
    assert resp.status_code == 200, resp.text
    await api.server.state.services.get("payments.webhooks").drain()


async def count(api: GraphQLClient, model: Any, *where: Any) -> int:
    async with api.db.reader() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_full_flow_entry_qr_pay_gate_exit(
    api: GraphQLClient, clock, stripe_stub: StripeStub
) -> None:
    plate = "苏E88888"
    await enter(api, plate)
    clock.advance(hours=2, minutes=10)
    await at_exit(api, plate)  # 3 started hours due: the gate stays shut

    # The visitor scans the lane's QR code with the app.
    got = await quote(api, "tenant1", qr=exit_qr(api))
    assert got["amountDue"]["amountMinor"] == 1500
    session_gid = got["session"]["id"]

    first = await pay(api, "tenant1", session_gid, "flow-key-0001")
    assert first["userErrors"] == []
    payment = first["payment"]
    assert payment["status"] == "REQUIRES_ACTION" and payment["clientSecret"]
    assert payment["amount"] == {"amountMinor": 1500, "currency": "CNY"}
    # The app retries (same key): the same payment, one PaymentIntent.
    again = await pay(api, "tenant1", session_gid, "flow-key-0001")
    assert again["payment"]["id"] == payment["id"]
    assert stripe_stub.created["payment_intent"] == 1
    # Nothing opens on the app's word.
    assert await gate_commands(api, "gate_out") == []
    assert (await stays(api, plate))[0].status == "OPEN"

    # The device bridge's publisher (MQTT in production) receives the gate command.
    published: list[tuple[str, dict[str, Any]]] = []

    async def publisher(topic: str, message: dict[str, Any]) -> None:
        published.append((topic, message))

    commands.set_publisher(publisher)
    try:
        await settle(api, stripe_stub, payment["id"])
    finally:
        commands.set_publisher(None)

    [stay] = await stays(api, plate)
    assert (stay.status, stay.paid_minor, stay.paid_until) == ("PAID", 1500, clock.at)
    [opened] = await gate_commands(api, "gate_out")
    assert opened.name == "open" and opened.params == {
        "lane": pk(api, "exit_lane"),
        "session": stay.id,
        "reason": "paid",
    }
    # Published after the commit, on the gate's command topic, with the command's id
    # (the bridge republishes it until the gate acknowledges or it times out).
    assert published == [
        (
            f"linli/{api.demo.garden_id}/G-GATE-N-OUT/commands",
            {"id": opened.id, "name": "open", "params": opened.params},
        )
    ]
    assert opened.expires_at > clock.at
    async with api.db.reader() as s:
        note = await s.scalar(
            select(Notification).where(
                Notification.user_id == api.demo.users["tenant1@demo.linli"],
                Notification.category == "PARKING",
            )
        )
        assert note is not None and note.params["amount"] == "15.00"
        # Common-area parking is the owners' income.
        entry = await s.scalar(select(LedgerEntry).where(LedgerEntry.category == "parking"))
        assert entry is not None
        assert (entry.account, entry.amount_minor) == ("COMMON_INCOME", 1500)
        link = await s.scalar(select(ParkingPayment))
        assert link is not None and link.ledger_entry_id == entry.id

    # The QR code now shows the stay paid, with the grace period to leave.
    got = await quote(api, "tenant1", qr=exit_qr(api))
    assert got["session"]["status"] == "PAID" and got["amountDue"]["amountMinor"] == 0
    assert got["session"]["paidUntil"] is not None
    refused = await pay(api, "tenant1", session_gid, "flow-key-0002")
    assert refused["payment"] is None
    assert refused["userErrors"][0]["code"] == "ALREADY_PAID"

    # The car drives through; the camera sees it leave.
    clock.advance(minutes=3)
    await at_exit(api, plate)
    [stay] = await stays(api, plate)
    assert stay.status == "EXITED" and stay.exited_at == clock.at
    assert [c.params["reason"] for c in await gate_commands(api, "gate_out")] == ["paid", "exit"]
    async with api.db.reader() as s:
        lane = await s.get(ParkingLane, pk(api, "exit_lane"))
        assert lane is not None
        assert lane.waiting_session_id is None
    # Gone from the lane, the stay is no longer the visitor's to see; staff are told
    # it is over.
    late = await pay(api, "tenant1", session_gid, "flow-key-0003")
    assert late["userErrors"][0]["code"] == "NOT_FOUND"
    late = await pay(api, "staff1", session_gid, "flow-key-0004")
    assert late["userErrors"][0]["code"] == "CONFLICT"


async def test_paid_ahead_then_grace_expires(
    api: GraphQLClient, clock, stripe_stub: StripeStub
) -> None:
    plate = "京AD12345"  # resident2's new-energy car, no monthly pass
    await enter(api, plate)
    clock.advance(minutes=95)
    # Paying ahead by plate, from home.
    got = await quote(api, "resident2", plate=plate)
    assert got["amountDue"]["amountMinor"] == 1000
    # Not someone else's to pay: a neighbour and another community get NOT_FOUND.
    for who in ("resident1", "residentb"):
        other = await pay(api, who, got["session"]["id"], "other-key-0001")
        assert other["userErrors"][0]["code"] == "NOT_FOUND", who
    paid = await pay(api, "resident2", got["session"]["id"], "ahead-key-0001")
    await settle(api, stripe_stub, paid["payment"]["id"])
    assert await gate_commands(api, "gate_out") == []  # not at a lane: nothing to open

    # Dawdling past the 15 minutes of grace: the meter runs again from paid-until.
    clock.advance(minutes=16)
    got = await quote(api, "resident2", plate=plate)
    assert got["session"]["status"] == "OPEN" and got["amountDue"]["amountMinor"] == 500
    await at_exit(api, plate)
    [stay] = await stays(api, plate)
    assert stay.exited_at is None, "the extra hour is due: the gate stays shut"
    assert await gate_commands(api, "gate_out") == []


async def test_concurrent_payments_make_one(
    api: GraphQLClient, clock, stripe_stub: StripeStub
) -> None:
    plate = "浙A66666"
    await enter(api, plate)
    clock.advance(hours=1)
    await at_exit(api, plate)
    got = await quote(api, "tenant1", qr=exit_qr(api))
    sid = got["session"]["id"]
    # Impatient taps: the same key several times and new keys, all at once.
    keys = ["tap-key-0001"] * 4 + [f"tap-key-{i:04d}" for i in range(2, 6)]
    results = await asyncio.gather(*(pay(api, "tenant1", sid, k) for k in keys))
    ids = {r["payment"]["id"] for r in results}
    assert len(ids) == 1, results
    assert await count(api, Payment) == 1
    assert stripe_stub.created["payment_intent"] == 1

    # Two different people paying for the same car at once: both may start a payment,
    # but only one is kept; the other is refunded in full when it succeeds.
    other = await pay(api, "resident1", sid, "second-payer-1")
    assert other["payment"]["id"] not in ids
    await asyncio.gather(
        settle(api, stripe_stub, next(iter(ids))), settle(api, stripe_stub, other["payment"]["id"])
    )
    [stay] = await stays(api, plate)
    assert stay.paid_minor == 500
    async with api.db.reader() as s:
        statuses = sorted(await s.scalars(select(ParkingPayment.status)))
    assert statuses == ["REFUNDED", "SUCCEEDED"]
    assert len(stripe_stub.refunds) == 1
    assert len(await gate_commands(api, "gate_out")) == 1


CHARGES = """
{ myChargingSessions { totalCount edges { node {
  id plate status energyKwh amount { amountMinor } serviceFee { amountMinor } } } } }"""
PAY_CHARGE = """
mutation($s: ID!, $k: String!) {
  payCharging(input: {chargingSessionId: $s, idempotencyKey: $k}) {
    payment { id amount { amountMinor } } userErrors { code }
  }
}"""


async def test_ev_charging_metered_and_paid(
    api: GraphQLClient, clock, stripe_stub: StripeStub
) -> None:
    async def charger(values: dict[str, Any]) -> None:
        resp = await api.http.post(
            "/devices/telemetry", json=values, auth=("G-EV-1", DEVICE_PASSWORD)
        )
        assert resp.status_code == 200, resp.text

    listed = (
        "query($c: ID!) { evChargers(communityId: $c) { name status pricePerKwh { formatted } } }"
    )
    [shown] = (await api.gql(listed, {"c": api.garden}, as_="resident2"))["evChargers"]
    assert (shown["status"], shown["pricePerKwh"]["formatted"]) == ("AVAILABLE", "1.20")
    await charger({"status": "CHARGING", "meter_wh": 1_000_000, "plate": "京A D12345"})
    [shown] = (await api.gql(listed, {"c": api.garden}, as_="staff1"))["evChargers"]
    assert shown["status"] == "CHARGING"
    assert (await api.gql(listed, {"c": api.garden}, as_="merchant1"))["evChargers"] == []
    await charger({"status": "CHARGING", "meter_wh": 1_004_000})  # progress: same charge
    clock.advance(hours=2)
    await charger({"status": "AVAILABLE", "meter_wh": 1_018_250})
    data = (await api.gql(CHARGES, as_="resident2"))["myChargingSessions"]
    assert data["totalCount"] == 1
    node = data["edges"][0]["node"]
    # 18.25 kWh × 1.20 = 21.90, plus the 2.00 service fee.
    assert node["energyKwh"] == 18.25 and node["amount"]["amountMinor"] == 2390
    assert node["status"] == "UNPAID" and node["plate"] == "京AD12345"
    assert (await api.gql(CHARGES, as_="resident1"))["myChargingSessions"]["totalCount"] == 0
    # Another resident cannot pay (or see) it.
    refused = await api.gql(PAY_CHARGE, {"s": node["id"], "k": "charge-key-9"}, as_="resident1")
    assert refused["payCharging"]["userErrors"][0]["code"] == "NOT_FOUND"

    paid = (await api.gql(PAY_CHARGE, {"s": node["id"], "k": "charge-key-1"}, as_="resident2"))[
        "payCharging"
    ]
    assert paid["payment"]["amount"]["amountMinor"] == 2390
    await settle(api, stripe_stub, paid["payment"]["id"])
    async with api.db.reader() as s:
        row = await s.scalar(select(ChargingSession))
        assert row is not None
        assert (row.status, row.energy_wh) == ("PAID", 18_250)
    again = (await api.gql(PAY_CHARGE, {"s": node["id"], "k": "charge-key-2"}, as_="resident2"))[
        "payCharging"
    ]
    assert again["userErrors"][0]["code"] == "ALREADY_PAID"


__all__ = ["QUOTE", "camera"]
