"""One-tap booking end to end: offerings, derived slots, the one tap, idempotency,
the status machine, cancellation cut-off, caregivers, visibility, notifications,
reminders and the bookingUpdates subscription."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace

from sqlalchemy import select, update

from core.clock import utcnow
from domain.booking.jobs import sweep_booking_reminders
from domain.booking.models import Booking, SlotCounter
from domain.care.models import CaregiverLink
from domain.notifications.models import Notification
from tests.support import WSClient

CREATE = """mutation($i: CreateOfferingInput!) { createServiceOffering(input: $i) {
  offering { id title category price { amountMinor currency formatted } durationMinutes
             capacityPerSlot cancelCutoffMinutes closedDates weeklyHours { day open close }
             merchant { name } nextAvailableSlot { start end remaining } }
  userErrors { code field message } } }"""
OFFERINGS = """query($c: ID!, $cat: ServiceCategory) {
  serviceOfferings(communityId: $c, category: $cat) { totalCount edges { node {
    id title nextAvailableSlot { start remaining } } } } }"""
BOOK = """mutation($i: BookServiceInput!) { bookService(input: $i) {
  booking { id status slot { start end remaining } price { formatted } notes
            unit { label } bookedBy { displayName } offering { title } }
  userErrors { code field message } } }"""
TRANSITION = """mutation($b: ID!, $to: BookingStatus!, $pm: String) {
  transitionBooking(input: {bookingId: $b, to: $to, paymentMethod: $pm}) {
    booking { id status paidAt paidAmount { formatted } paymentMethod }
    userErrors { code field message } } }"""
CANCEL = """mutation($b: ID!) { cancelBooking(input: {bookingId: $b, reason: "plans changed"}) {
  booking { id status cancelReason } userErrors { code field message } } }"""
MINE = """query($s: BookingStatus) { myBookings(status: $s) { totalCount
  edges { node { id status unit { label } } } } }"""
MERCHANT = """query($s: BookingStatus) { merchantBookings(status: $s) { totalCount
  edges { node { id status bookedBy { displayName } } } } }"""
NODE = "query($id: ID!) { node(id: $id) { id ... on Booking { status } } }"

# The clock fixture freezes time at Monday 2026-11-23 10:00 in Shanghai (02:00 UTC).
CLEANING = {
    "title": "深度清洁 Deep cleaning",
    "category": "CLEANING",
    "priceMinor": 3000,
    "durationMinutes": 60,
    "capacityPerSlot": 2,
    "weeklyHours": [{"day": d, "open": "09:00", "close": "12:00"} for d in range(1, 6)],
    "closedDates": ["2026-11-24"],
}


async def create_offering(api, as_="merchant1", **overrides):
    data = await api.gql(
        CREATE, {"i": {"communityId": api.garden, **CLEANING, **overrides}}, as_=as_
    )
    payload = data["createServiceOffering"]
    assert payload["userErrors"] == [], payload
    return payload["offering"]


async def book(api, as_, offering, unit, key, **extra):
    data = await api.gql(
        BOOK,
        {
            "i": {
                "offeringId": offering,
                "unitId": api.unit_gid(unit),
                "idempotencyKey": key,
                **extra,
            }
        },
        as_=as_,
    )
    return data["bookService"]


async def notifications(api, login, body_key=None):
    async with api.db.reader() as s:
        stmt = select(Notification).where(
            Notification.user_id == api.demo.users[f"{login}@demo.linli"]
        )
        if body_key:
            stmt = stmt.where(Notification.body_key == body_key)
        return [
            SimpleNamespace(body_key=n.body_key, params=n.params, data=n.data)
            for n in await s.scalars(stmt)
        ]


async def test_offering_one_tap_idempotency_and_slots(api, clock):
    offering = await create_offering(api)
    assert offering["price"] == {"amountMinor": 3000, "currency": "CNY", "formatted": "30.00"}
    assert offering["merchant"]["name"] == "好帮手家政 Helping Hands"
    assert offering["cancelCutoffMinutes"] == 120 and offering["closedDates"] == ["2026-11-24"]
    # 10:00 has started; 11:00 local is the next slot.
    assert offering["nextAvailableSlot"] == {
        "start": "2026-11-23T03:00:00+00:00",
        "end": "2026-11-23T04:00:00+00:00",
        "remaining": 2,
    }
    oid = offering["id"]

    listed = await api.gql(OFFERINGS, {"c": api.garden, "cat": "CLEANING"}, as_="resident1")
    assert [e["node"]["id"] for e in listed["serviceOfferings"]["edges"]] == [oid]
    everything = await api.gql(OFFERINGS, {"c": api.garden}, as_="carer1")
    assert everything["serviceOfferings"]["totalCount"] == 6  # the demo's five + this one

    # The one tap: no slotStart, the earliest slot with room.
    first = await book(api, "resident1", oid, "1-101", "k1", notes="请带吸尘器")
    assert first["userErrors"] == []
    b1 = first["booking"]
    assert b1["status"] == "REQUESTED" and b1["slot"]["start"] == "2026-11-23T03:00:00+00:00"
    assert b1["slot"]["remaining"] == 1 and b1["price"]["formatted"] == "30.00"
    assert b1["unit"]["label"] == "1-101" and b1["bookedBy"]["displayName"] == "王芳 Wang Fang"
    # A retry returns the same booking and takes no second seat.
    again = await book(api, "resident1", oid, "1-101", "k1", notes="请带吸尘器")
    assert again["booking"]["id"] == b1["id"] and again["booking"]["slot"]["remaining"] == 1
    # The same key for a different request is refused.
    other = api.gid("ServiceOffering", api.demo.extra["offerings"]["meal"])
    reused = await book(api, "resident1", other, "1-101", "k1")
    assert reused["booking"] is None and reused["userErrors"][0]["code"] == "CONFLICT"

    b2 = (await book(api, "tenant1", oid, "2-301", "k1"))["booking"]
    assert b2["slot"]["start"] == "2026-11-23T03:00:00+00:00" and b2["slot"]["remaining"] == 0
    # 11:00 is full and Tuesday is closed: Wednesday 09:00 local.
    b3 = (await book(api, "resident2", oid, "1-102", "k1"))["booking"]
    assert b3["slot"]["start"] == "2026-11-25T01:00:00+00:00"

    full = await book(api, "resident2", oid, "2-201", "k2", slotStart="2026-11-23T11:00:00+08:00")
    assert full["booking"] is None
    assert full["userErrors"][0]["code"] == "SLOT_FULL"
    assert full["userErrors"][0]["field"] is None
    wrong = await book(api, "resident2", oid, "2-201", "k3", slotStart="2026-11-25T09:30:00+08:00")
    assert wrong["userErrors"][0] == {
        "code": "INVALID",
        "field": ["input", "slotStart"],
        "message": "所选时间不是该服务的可预约时段。",
    }
    past = await book(api, "resident2", oid, "2-201", "k4", slotStart="2026-11-23T09:00:00+08:00")
    assert past["userErrors"][0]["field"] == ["input", "slotStart"]
    naive = await book(api, "resident2", oid, "2-201", "k5", slotStart="2026-11-25T09:00:00")
    assert naive["userErrors"][0]["field"] == ["input", "slotStart"]
    explicit = await book(
        api, "resident2", oid, "2-201", "k6", slotStart="2026-11-25T10:00:00+08:00"
    )
    assert explicit["booking"]["slot"]["start"] == "2026-11-25T02:00:00+00:00"

    slots = await api.gql(
        """query($o: ID!) { availableSlots(offeringId: $o, from: "2026-11-23T00:00:00+08:00",
           to: "2026-11-26T00:00:00+08:00") { start remaining } }""",
        {"o": oid},
        as_="resident1",
    )
    assert slots["availableSlots"] == [
        {"start": "2026-11-25T01:00:00+00:00", "remaining": 1},
        {"start": "2026-11-25T02:00:00+00:00", "remaining": 1},
        {"start": "2026-11-25T03:00:00+00:00", "remaining": 2},
    ]
    # Another community's resident learns nothing about the offering.
    errors = await api.errors(
        """query($o: ID!) { availableSlots(offeringId: $o, from: "2026-11-23T00:00:00+08:00",
           to: "2026-11-26T00:00:00+08:00") { start } }""",
        {"o": oid},
        as_="residentb",
    )
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"

    # The merchant heard of every new booking; counters match the bookings.
    assert len(await notifications(api, "merchant1", "booking.notify.new.body")) == 4
    async with api.db.reader() as s:
        counters = {
            c.slot_start: c.taken
            for c in await s.scalars(
                select(SlotCounter).where(SlotCounter.offering_id.in_([int(api_pk(oid))]))
            )
        }
    assert sorted(counters.values()) == [1, 1, 2]


def api_pk(gid):
    from core.ids import decode_gid

    return decode_gid(gid)[1]


async def test_status_machine_cancellation_and_reminders(api, clock):
    oid = (await create_offering(api))["id"]
    mine = (await book(api, "resident1", oid, "1-101", "a"))["booking"]  # today 11:00
    wed = (await book(api, "resident2", oid, "1-102", "a", slotStart="2026-11-25T09:00:00+08:00"))[
        "booking"
    ]

    # Another merchant can neither see nor move merchant1's bookings.
    foreign = await api.gql(TRANSITION, {"b": mine["id"], "to": "CONFIRMED"}, as_="merchant2")
    assert foreign["transitionBooking"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert (await api.gql(NODE, {"id": mine["id"]}, as_="merchant2"))["node"] is None
    theirs = await api.gql(MERCHANT, as_="merchant2")
    assert mine["id"] not in {e["node"]["id"] for e in theirs["merchantBookings"]["edges"]}
    # A resident cannot move it along either, nor see another unit's booking.
    assert (await api.gql(TRANSITION, {"b": mine["id"], "to": "CONFIRMED"}, as_="resident1"))[
        "transitionBooking"
    ]["userErrors"][0]["code"] == "NOT_FOUND"
    assert (await api.gql(NODE, {"id": mine["id"]}, as_="resident2"))["node"] is None
    assert (await api.gql(NODE, {"id": mine["id"]}, as_="residentb"))["node"] is None
    assert (await api.gql(NODE, {"id": mine["id"]}, as_="resident1"))["node"][
        "status"
    ] == "REQUESTED"

    illegal = await api.gql(
        TRANSITION, {"b": mine["id"], "to": "COMPLETED"}, as_="merchant1", lang="en"
    )
    assert illegal["transitionBooking"]["userErrors"] == [
        {
            "code": "INVALID",
            "field": ["input", "to"],
            "message": "A booking cannot go from REQUESTED to COMPLETED.",
        }
    ]
    early = await api.gql(TRANSITION, {"b": mine["id"], "to": "NO_SHOW"}, as_="merchant1")
    assert early["transitionBooking"]["userErrors"][0]["field"] == ["input", "to"]
    paid_too_soon = await api.gql(
        TRANSITION, {"b": mine["id"], "to": "CONFIRMED", "pm": "CASH"}, as_="merchant1"
    )
    assert paid_too_soon["transitionBooking"]["userErrors"][0]["code"] == "INVALID"

    for to in ("CONFIRMED", "IN_PROGRESS"):
        moved = await api.gql(TRANSITION, {"b": mine["id"], "to": to}, as_="merchant1")
        assert moved["transitionBooking"]["booking"]["status"] == to
    done = await api.gql(
        TRANSITION, {"b": mine["id"], "to": "COMPLETED", "pm": "CASH"}, as_="merchant1"
    )
    completed = done["transitionBooking"]["booking"]
    assert completed["status"] == "COMPLETED" and completed["paymentMethod"] == "CASH"
    assert completed["paidAmount"]["formatted"] == "30.00" and completed["paidAt"]
    told = await notifications(api, "resident1")
    assert {n.body_key for n in told} >= {
        "booking.notify.status.CONFIRMED",
        "booking.notify.status.IN_PROGRESS",
        "booking.notify.status.COMPLETED",
    }
    # Finished is final.
    again = await api.gql(TRANSITION, {"b": mine["id"], "to": "CANCELLED"}, as_="merchant1")
    assert again["transitionBooking"]["userErrors"][0]["code"] == "INVALID"

    # Cancelling: not by the merchant through cancelBooking, not by another resident.
    by_merchant = await api.gql(CANCEL, {"b": wed["id"]}, as_="merchant1")
    assert by_merchant["cancelBooking"]["userErrors"][0]["code"] == "NOT_FOUND"
    by_other = await api.gql(CANCEL, {"b": wed["id"]}, as_="resident1")
    assert by_other["cancelBooking"]["userErrors"][0]["code"] == "NOT_FOUND"
    # After the cut-off (2 h before 09:00 Wednesday) it is too late.
    clock.set(datetime(2026, 11, 25, 7, 30, tzinfo=UTC).replace(hour=23, day=24))  # 07:00 local
    late = await api.gql(CANCEL, {"b": wed["id"]}, as_="resident2", lang="en")
    assert late["cancelBooking"]["userErrors"][0]["message"] == (
        "Too late to cancel: the cut-off is 120 minutes before the slot."
    )
    clock.set(datetime(2026, 11, 24, 22, 0, tzinfo=UTC))  # 06:00 local: 3 h before
    ok = await api.gql(CANCEL, {"b": wed["id"]}, as_="resident2")
    assert ok["cancelBooking"]["booking"] == {
        "id": wed["id"],
        "status": "CANCELLED",
        "cancelReason": "plans changed",
    }
    assert len(await notifications(api, "merchant1", "booking.notify.status.CANCELLED")) == 1
    twice = await api.gql(CANCEL, {"b": wed["id"]}, as_="resident2")
    assert twice["cancelBooking"]["userErrors"][0]["code"] == "INVALID"
    # The seat is free again.
    slots = await api.gql(
        """query($o: ID!) { availableSlots(offeringId: $o, from: "2026-11-25T09:00:00+08:00",
           to: "2026-11-25T10:00:00+08:00") { start remaining } }""",
        {"o": oid},
        as_="resident2",
    )
    assert slots["availableSlots"] == [{"start": "2026-11-25T01:00:00+00:00", "remaining": 2}]

    # Reminders: an hour before the slot, once, to the booker and the merchant.
    thu = (await book(api, "resident2", oid, "1-102", "b", slotStart="2026-11-25T11:00:00+08:00"))[
        "booking"
    ]

    # (The demo's own bookings are days after the day the template was seeded, so only
    # reminders about this booking are counted.)
    async def reminders(login):
        found = await notifications(api, login, "booking.notify.reminder.body")
        return [n for n in found if n.data["bookingId"] == thu["id"]]

    async with api.db.transaction() as s:
        await sweep_booking_reminders(s, now=datetime(2026, 11, 25, 1, 30, tzinfo=UTC))
    assert await reminders("resident2") == []  # 90 minutes before: not yet
    for _ in range(2):
        async with api.db.transaction() as s:
            sent = await sweep_booking_reminders(s, now=datetime(2026, 11, 25, 2, 5, tzinfo=UTC))
    assert sent == 0  # the second sweep finds it already reminded
    told = await reminders("resident2")
    assert len(told) == 1 and told[0].params["time"] == "2026-11-25 11:00"
    assert len(await reminders("merchant1")) == 1

    # A no-show once the slot has started.
    clock.set(datetime(2026, 11, 25, 3, 10, tzinfo=UTC))
    no_show = await api.gql(TRANSITION, {"b": thu["id"], "to": "NO_SHOW"}, as_="merchant1")
    assert no_show["transitionBooking"]["booking"]["status"] == "NO_SHOW"

    listed = await api.gql(MERCHANT, {"s": "NO_SHOW"}, as_="merchant1")
    assert [e["node"]["id"] for e in listed["merchantBookings"]["edges"]] == [thu["id"]]
    assert (
        listed["merchantBookings"]["edges"][0]["node"]["bookedBy"]["displayName"] == "李强 Li Qiang"
    )


async def test_caregiver_books_for_their_elder_only(api, clock):
    meal = api.gid("ServiceOffering", api.demo.extra["offerings"]["meal"])
    elder = api.gid("Elder", api.demo.elders["elder1@demo.linli"])
    made = await book(
        api, "carer1", meal, "1-301", "e1", forElderId=elder, slotStart="2026-11-24T11:00:00+08:00"
    )
    assert made["userErrors"] == []
    booking = made["booking"]
    assert (
        booking["unit"]["label"] == "1-301"
        and booking["bookedBy"]["displayName"] == "陈明 Chen Ming"
    )
    async with api.db.reader() as s:
        row = await s.get(Booking, api_pk(booking["id"]))
        assert row.for_elder_id == api.demo.elders["elder1@demo.linli"]
    for_elder = (
        "query($id: ID!) { node(id: $id) { ... on Booking { forElder { id displayName } } } }"
    )
    seen = await api.gql(for_elder, {"id": booking["id"]}, as_="carer2")
    assert seen["node"]["forElder"] == {"id": elder, "displayName": "陈秀英 Chen Xiuying"}
    # The merchant serves the unit; who the elder is stays with her carers.
    hidden = await api.gql(for_elder, {"id": booking["id"]}, as_="merchant1")
    assert hidden["node"] == {"forElder": None}

    # Only on the elder's unit, only by a caregiver, and a caregiver only for the elder.
    wrong_unit = await book(api, "carer1", meal, "1-101", "e2", forElderId=elder)
    assert wrong_unit["userErrors"][0]["field"] == ["input", "unitId"]
    not_carer = await book(api, "resident1", meal, "1-301", "e3", forElderId=elder)
    assert not_carer["userErrors"][0]["code"] == "FORBIDDEN"
    no_elder = await book(api, "carer1", meal, "1-301", "e4")
    assert no_elder["userErrors"][0]["code"] == "FORBIDDEN"
    other_unit = await book(api, "resident1", meal, "1-102", "e5")
    assert other_unit["userErrors"][0] == {
        "code": "FORBIDDEN",
        "field": ["input", "unitId"],
        "message": "您只能为自己的房屋预约。",
    }

    async def ids(login):
        data = await api.gql(MINE, as_=login)
        return {e["node"]["id"] for e in data["myBookings"]["edges"]}

    # The booker, the elder (her unit) and her other caregiver see it; nobody else.
    for login in ("carer1", "carer2", "elder1"):
        assert booking["id"] in await ids(login), login
    for login in ("resident1", "resident2", "residentb", "merchant2"):
        assert booking["id"] not in await ids(login), login
    assert booking["id"] in {
        e["node"]["id"]
        for e in (await api.gql(MERCHANT, as_="merchant1"))["merchantBookings"]["edges"]
    }
    # resident1 sees the demo's booking of 1-101 and nothing of other units.
    r1 = await api.gql(MINE, as_="resident1")
    assert r1["myBookings"]["totalCount"] == 1
    assert r1["myBookings"]["edges"][0]["node"]["unit"]["label"] == "1-101"

    # A caregiver whose link is removed loses access at once.
    async with api.db.transaction() as s:
        await s.execute(
            update(CaregiverLink)
            .where(CaregiverLink.caregiver_user_id == api.demo.users["carer2@demo.linli"])
            .values(removed_at=utcnow())
        )
    assert booking["id"] not in await ids("carer2")
    gone = await book(api, "carer2", meal, "1-301", "e6", forElderId=elder)
    assert gone["userErrors"][0]["code"] == "FORBIDDEN"
    # The elder's household side may cancel (well before the cut-off).
    cancelled = await api.gql(CANCEL, {"b": booking["id"]}, as_="elder1")
    assert cancelled["cancelBooking"]["booking"]["status"] == "CANCELLED"


async def test_offering_validation(api):
    async def create(as_="merchant1", **overrides):
        data = await api.gql(
            CREATE, {"i": {"communityId": api.garden, **CLEANING, **overrides}}, as_=as_
        )
        return data["createServiceOffering"]

    cases = [
        ({"capacityPerSlot": 0}, ["input", "capacityPerSlot"]),
        ({"durationMinutes": 2}, ["input", "durationMinutes"]),
        ({"priceMinor": -1}, ["input", "priceMinor"]),
        ({"title": "  "}, ["input", "title"]),
        (
            {"weeklyHours": [{"day": 8, "open": "09:00", "close": "10:00"}]},
            ["input", "weeklyHours"],
        ),
        (
            {"weeklyHours": [{"day": 1, "open": "10:00", "close": "09:00"}]},
            ["input", "weeklyHours"],
        ),
        ({"weeklyHours": [{"day": 1, "open": "9am", "close": "10:00"}]}, ["input", "weeklyHours"]),
        (
            {
                "weeklyHours": [
                    {"day": 1, "open": "09:00", "close": "12:00"},
                    {"day": 1, "open": "11:00", "close": "13:00"},
                ]
            },
            ["input", "weeklyHours"],
        ),
    ]
    for overrides, field in cases:
        payload = await create(**overrides)
        assert payload["offering"] is None, overrides
        assert payload["userErrors"][0]["field"] == field, overrides
    # Residents and caregivers are not merchants.
    refused = await create(as_="resident1")
    assert refused["userErrors"][0]["code"] == "FORBIDDEN"
    # A merchant updates only its own offering.
    repair = api.gid("ServiceOffering", api.demo.extra["offerings"]["repair"])
    upd = """mutation($o: ID!) { updateServiceOffering(input: {offeringId: $o, priceMinor: 6000,
      closedDates: ["2026-12-01"]}) { offering { price { amountMinor } closedDates }
      userErrors { code } } }"""
    assert (await api.gql(upd, {"o": repair}, as_="merchant1"))["updateServiceOffering"][
        "userErrors"
    ][0]["code"] == "NOT_FOUND"
    mine = (await api.gql(upd, {"o": repair}, as_="merchant2"))["updateServiceOffering"]
    assert mine["offering"] == {"price": {"amountMinor": 6000}, "closedDates": ["2026-12-01"]}


async def test_booking_updates_subscription(api, clock):
    oid = (await create_offering(api))["id"]
    sub = "subscription { bookingUpdates { id status unit { label } offering { title } } }"
    clients = {}
    for login in ("merchant1", "resident1", "resident2", "merchant2", "carer2"):
        c = WSClient(api.ws_url())
        await c.connect(api.token(login))
        await c.subscribe(sub)
        clients[login] = c
    await asyncio.sleep(0.05)  # let the subscriptions register on the bus
    try:
        made = (await book(api, "resident1", oid, "1-101", "s1"))["booking"]
        for login in ("merchant1", "resident1"):
            msg = await clients[login].next()
            assert msg["payload"]["data"]["bookingUpdates"]["id"] == made["id"], login
            assert msg["payload"]["data"]["bookingUpdates"]["status"] == "REQUESTED"
        await api.gql(TRANSITION, {"b": made["id"], "to": "CONFIRMED"}, as_="merchant1")
        for login in ("merchant1", "resident1"):
            msg = await clients[login].next()
            assert msg["payload"]["data"]["bookingUpdates"]["status"] == "CONFIRMED", login
        # resident2 and merchant2 got nothing of it: their first event is their own.
        own = (await book(api, "resident2", oid, "1-102", "s2"))["booking"]
        msg = await clients["resident2"].next()
        assert msg["payload"]["data"]["bookingUpdates"]["id"] == own["id"]
        # The elder's other caregiver hears of a booking made for her.
        elder = api.gid("Elder", api.demo.elders["elder1@demo.linli"])
        for_her = (await book(api, "carer1", oid, "1-301", "s3", forElderId=elder))["booking"]
        msg = await clients["carer2"].next()
        assert msg["payload"]["data"]["bookingUpdates"]["id"] == for_her["id"]
        assert msg["payload"]["data"]["bookingUpdates"]["unit"]["label"] == "1-301"
        with_timeout = asyncio.wait_for(clients["merchant2"].next(), 0.3)
        try:
            await with_timeout
            raise AssertionError("merchant2 received another merchant's booking")
        except TimeoutError:
            pass
    finally:
        for c in clients.values():
            await c.close()


async def test_a_merchant_serving_two_communities(api, clock):
    # merchant1 also takes the MERCHANT role in Demo Heights.
    from domain.accounts.models import Membership

    async with api.db.transaction() as s:
        s.add(
            Membership(
                user_id=api.demo.users["merchant1@demo.linli"],
                community_id=api.demo.heights_id,
                role="MERCHANT",
            )
        )
    api.server.state.principals.invalidate()
    data = await api.gql(CREATE, {"i": {"communityId": api.heights, **CLEANING}}, as_="merchant1")
    heights_offering = data["createServiceOffering"]["offering"]
    assert heights_offering["merchant"]["name"] == "好帮手家政 Helping Hands"
    # Each community sees its own catalogue only.
    theirs = await api.gql(OFFERINGS, {"c": api.heights}, as_="residentb")
    assert [e["node"]["id"] for e in theirs["serviceOfferings"]["edges"]] == [
        heights_offering["id"]
    ]
    ours = await api.gql(OFFERINGS, {"c": api.garden}, as_="resident1")
    assert heights_offering["id"] not in {
        e["node"]["id"] for e in ours["serviceOfferings"]["edges"]
    }
    # A Garden unit cannot book a Heights offering, and vice versa.
    cross = await book(api, "resident1", heights_offering["id"], "1-101", "x1")
    assert cross["userErrors"][0]["code"] == "NOT_FOUND"
    garden_offering = api.gid("ServiceOffering", api.demo.extra["offerings"]["housekeeping"])
    cross = await book(api, "residentb", garden_offering, "A-101", "x1")
    assert cross["userErrors"][0]["code"] == "NOT_FOUND"
    # The merchant's list spans both communities.
    made = (await book(api, "residentb", heights_offering["id"], "A-101", "x2"))["booking"]
    listed = await api.gql(MERCHANT, as_="merchant1")
    ids = {e["node"]["id"] for e in listed["merchantBookings"]["edges"]}
    assert made["id"] in ids
    assert api.gid("Booking", api.demo.extra["bookings"]["resident1_housekeeping"]) in ids
    # residentb's own list has only the Heights booking.
    mine = await api.gql(MINE, as_="residentb")
    assert [e["node"]["id"] for e in mine["myBookings"]["edges"]] == [made["id"]]


async def test_withdrawn_offering_and_merchant_visibility(api, clock):
    repair = api.gid("ServiceOffering", api.demo.extra["offerings"]["repair"])
    merchant2 = api.gid("Merchant", api.demo.extra["merchants"]["merchant2"])
    node = "query($id: ID!) { node(id: $id) { id ... on Merchant { name rating } } }"
    seen = await api.gql(node, {"id": merchant2}, as_="resident1")
    assert seen["node"] == {"id": merchant2, "name": "快修师傅 QuickFix", "rating": 4.8}
    assert (await api.gql(node, {"id": merchant2}, as_="residentb"))["node"] is None

    withdraw = """mutation($o: ID!) { updateServiceOffering(input: {offeringId: $o, active: false})
      { offering { active } userErrors { code } } }"""
    done = await api.gql(withdraw, {"o": repair}, as_="merchant2")
    assert done["updateServiceOffering"]["offering"] == {"active": False}
    listed = await api.gql(OFFERINGS, {"c": api.garden, "cat": "REPAIR"}, as_="resident1")
    assert listed["serviceOfferings"]["totalCount"] == 0
    refused = await book(api, "resident2", repair, "1-102", "w1")
    assert refused["userErrors"][0] == {
        "code": "NOT_FOUND",
        "field": ["input", "offeringId"],
        "message": "找不到该服务项目。",
    }
    # Bookings already made stay with the merchant.
    theirs = await api.gql(MERCHANT, as_="merchant2")
    assert theirs["merchantBookings"]["totalCount"] == 1
