"""Bills end to end through GraphQL, paid with the real `stripe` library against the
wire-format stub and settled only by verified webhooks."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from core.clock import FrozenClock
from domain.bills import service as bills
from domain.bills import tariff as pricing
from domain.notifications.models import Notification
from domain.payments import service as payments
from domain.payments.models import Payment, WebhookEvent
from tests.stubs.stripe_stub import StripeStub
from tests.support import GraphQLClient

MY_BILLS = """query($s: BillStatus) { myBills(status: $s) { totalCount edges { node {
  id kind period status dueDate amount { amountMinor currency formatted }
  lineItems { description quantity unit amount { amountMinor } } unit { label } } } } }"""
PAY = """mutation($ids: [ID!]!, $k: String!) {
  payBills(input: {billIds: $ids, idempotencyKey: $k}) {
    payment { id status provider clientSecret amount { amountMinor } refunded { amountMinor } }
    userErrors { code field message } } }"""
ISSUE = """mutation($i: IssueBillsInput!) { issueBills(input: $i) { issued
  userErrors { code field message } } }"""
COMMUNITY_BILLS = """query($c: ID!, $p: String) { communityBills(communityId: $c, period: $p,
  first: 100) { totalCount edges { node { id kind status amount { amountMinor } usage
  unit { label } lineItems { description quantity amount { amountMinor } } } } } }"""
REFUND = """mutation($p: ID!, $a: Int, $k: String!) { refundPayment(input: {paymentId: $p,
  amountMinor: $a, idempotencyKey: $k, reason: "test"}) {
  payment { id status refunded { amountMinor } } userErrors { code message } } }"""
OFFLINE = """mutation($ids: [ID!]!, $r: String!, $k: String!) { recordOfflinePayment(input:
  {billIds: $ids, receiptNumber: $r, idempotencyKey: $k}) {
  payment { id status provider receiptNumber } userErrors { code } } }"""

WATER = [
    pricing.Band(15_000, 34_500),
    pricing.Band(25_000, 48_300),
    pricing.Band(None, 58_300),
]
POWER = [
    pricing.Band(260_000, 6_170),
    pricing.Band(400_000, 6_670),
    pricing.Band(None, 9_170),
]


@pytest.mark.parametrize(
    ("bands", "usage_milli", "lines", "total"),
    [
        # Water 3.45 / 4.83 / 5.83 yuan per m³ up to 15 / 25 / above.
        (WATER, 0, [0], 0),  # zero usage: one zero line
        (WATER, 12_345, [4259], 4259),  # 12.345 × 345 = 4259.025
        (WATER, 15_000, [5175], 5175),  # exactly on the first edge: band 1 only
        (WATER, 15_001, [5175, 0], 5175),  # 0.001 m³ into band 2 = 0.483 fen → 0
        (WATER, 25_000, [5175, 4830], 10005),  # exactly on the second edge
        (WATER, 30_000, [5175, 4830, 2915], 12920),  # 5 m³ in the top band
        # Electricity 0.617 / 0.667 / 0.917 yuan per kWh up to 260 / 400 / above.
        (POWER, 286_000, [16042, 1734], 17776),  # 26 × 66.7 = 1734.2
        (POWER, 401_000, [16042, 9338, 92], 25472),  # 1 kWh top: 91.7 → 92
    ],
)
def test_tiered_tariff_tables(
    bands: list[pricing.Band], usage_milli: int, lines: list[int], total: int
) -> None:
    priced = pricing.price_tiered(bands, usage_milli)
    assert [p.amount_minor for p in priced] == lines
    assert sum(p.amount_minor for p in priced) == total
    assert sum(p.quantity_milli for p in priced) == usage_milli


def test_area_price_and_parsing() -> None:
    assert pricing.price_by_area(8950, 28_000) == 25060  # 89.50 m² × 2.80
    assert pricing.price_by_area(6512, 18_500) == 12047  # 65.12 × 1.85 = 120.472
    assert pricing.parse_price_centi_minor("0.4883") == 4883
    assert pricing.parse_quantity_milli(12.345) == 12_345
    for bad in ("0.00001", "-1", "x"):
        with pytest.raises(ValueError):
            pricing.parse_price_centi_minor(bad)
    with pytest.raises(ValueError):
        pricing.parse_quantity_milli(1.0001)


# ---------------------------------------------------------------- helpers
def bill_gid(api: GraphQLClient, key: str) -> str:
    return api.gid("Bill", api.demo.extra["bills"][key])


async def my_bills(api: GraphQLClient, who: str = "resident1") -> dict[str, dict[str, Any]]:
    data = await api.gql(MY_BILLS, as_=who)
    return {e["node"]["id"]: e["node"] for e in data["myBills"]["edges"]}


async def pay(api: GraphQLClient, ids: list[str], key: str, who: str = "resident1") -> Any:
    return (await api.gql(PAY, {"ids": ids, "k": key}, as_=who))["payBills"]


async def webhook(api: GraphQLClient, stub: StripeStub, body: bytes, **kw: Any) -> Any:
    resp = await stub.send_webhook(api.http, "/webhooks/stripe", body, **kw)
    await api.server.state.services.get("payments.webhooks").drain()
    return resp


async def payment_row(api: GraphQLClient, gid: str) -> Payment:
    from core.ids import decode_gid

    async with api.db.reader() as s:
        row = await s.get(Payment, decode_gid(gid, "Payment")[1])
        assert row is not None
        s.expunge(row)
    return row


async def notices(api: GraphQLClient, login: str, title_key: str) -> int:
    async with api.db.reader() as s:
        n = await s.scalar(
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.user_id == api.demo.users[f"{login}@demo.linli"],
                Notification.title_key == title_key,
            )
        )
    return int(n or 0)


# ---------------------------------------------------------------- issuing
async def test_issue_bills_prices_usage_and_is_idempotent(api: GraphQLClient) -> None:
    units = {label: api.unit_gid(label) for label in ("1-102", "1-201", "1-202", "2-201")}
    issue = {
        "communityId": api.garden,
        "kind": "WATER",
        "period": "2026-12",
        "dueDate": "2027-01-15",
        "lines": [
            {"unitId": units["1-102"], "usage": 15},
            {"unitId": units["1-201"], "usage": 0},
            {"unitId": units["1-202"], "usage": 30},
        ],
    }
    out = await api.gql(ISSUE, {"i": issue}, as_="staff1")
    assert out["issueBills"] == {"issued": 3, "userErrors": []}
    # Idempotent per (unit, kind, period): the same three again plus one new unit.
    issue["lines"].append({"unitId": units["2-201"], "usage": 25})
    out = await api.gql(ISSUE, {"i": issue}, as_="staff1")
    assert out["issueBills"] == {"issued": 1, "userErrors": []}

    data = await api.gql(
        COMMUNITY_BILLS, {"c": api.garden, "p": "2026-12"}, as_="staff1", lang="en"
    )
    by_unit = {e["node"]["unit"]["label"]: e["node"] for e in data["communityBills"]["edges"]}
    assert {u: b["amount"]["amountMinor"] for u, b in by_unit.items()} == {
        "1-102": 5175,
        "1-201": 0,
        "1-202": 12920,
        "2-201": 10005,
    }
    assert by_unit["1-201"]["status"] == "PAID"  # nothing to pay
    assert by_unit["1-202"]["usage"] == 30.0
    top = by_unit["1-202"]["lineItems"]
    assert [ln["amount"]["amountMinor"] for ln in top] == [5175, 4830, 2915]
    assert top[2]["description"] == "Band 3: above 25 m³ at 5.83"
    assert top[0]["description"] == "Band 1: 0–15 m³ at 3.45"

    # Property fee by floor area; parking by amount.
    fee = await api.gql(
        ISSUE,
        {
            "i": {
                "communityId": api.garden,
                "kind": "PROPERTY_FEE",
                "period": "2026-12",
                "dueDate": "2026-12-31",
                "lines": [{"unitId": units["1-102"]}],
            }
        },
        as_="staff1",
    )
    assert fee["issueBills"]["issued"] == 1
    data = await api.gql(COMMUNITY_BILLS, {"c": api.garden, "p": "2026-12"}, as_="staff1")
    prop = next(
        e["node"] for e in data["communityBills"]["edges"] if e["node"]["kind"] == "PROPERTY_FEE"
    )
    from domain.accounts.models import Unit

    async with api.db.reader() as s:
        area = (await s.get(Unit, api.demo.units["1-102"])).area_centi_m2  # type: ignore[union-attr]
    assert prop["amount"]["amountMinor"] == pricing.price_by_area(area, 28_000)

    # Bad input: localised userErrors, nothing written.
    bad_cases = [
        ({"period": "2026-13"}, ["input", "period"]),
        ({"lines": [{"unitId": units["1-102"], "usage": 1, "amountMinor": 5}]}, None),
        ({"lines": [{"unitId": api.unit_gid("A-101"), "usage": 1}]}, None),
        ({"kind": "HEATING", "lines": [{"unitId": units["1-102"]}]}, ["input", "kind"]),
        ({"kind": "PARKING_MONTHLY", "lines": [{"unitId": units["1-102"]}]}, None),
        ({"lines": [{"unitId": units["1-102"], "usage": -1}]}, None),
        ({"lines": [{"unitId": units["1-102"], "usage": 1e12}]}, None),
        (
            {
                "kind": "PARKING_MONTHLY",
                "lines": [{"unitId": units["1-102"], "amountMinor": 2**31 - 1}],
            },
            None,
        ),
    ]
    for change, field in bad_cases:
        payload = {**issue, "period": "2027-02", **change}
        out = await api.gql(ISSUE, {"i": payload}, as_="staff1", lang="en")
        errs = out["issueBills"]["userErrors"]
        assert out["issueBills"]["issued"] == 0 and errs and errs[0]["code"] == "INVALID", change
        if field:
            assert errs[0]["field"] == field
    data = await api.gql(COMMUNITY_BILLS, {"c": api.garden, "p": "2027-02"}, as_="staff1")
    assert data["communityBills"]["totalCount"] == 0
    # Residents cannot issue.
    errs = await api.errors(ISSUE, {"i": issue}, as_="resident1")
    assert errs[0]["extensions"]["code"] == "FORBIDDEN"


SET_TARIFF = """mutation($i: SetTariffInput!) { setTariff(input: $i) {
  tariff { kind currency pricePerM2 bands { upTo unitPrice } } userErrors { code field } } }"""


async def test_set_tariff_and_area_priced_heating(api: GraphQLClient) -> None:
    def water(bands: list[dict[str, Any]]) -> dict[str, Any]:
        return {"i": {"communityId": api.garden, "kind": "WATER", "bands": bands}}

    ok = await api.gql(
        SET_TARIFF,
        water([{"upTo": 10, "unitPrice": "2.5"}, {"upTo": None, "unitPrice": "3.1234"}]),
        as_="staff1",
    )
    assert ok["setTariff"]["tariff"]["bands"] == [
        {"upTo": 10.0, "unitPrice": "2.50"},
        {"upTo": None, "unitPrice": "3.1234"},
    ]
    for bad in (
        [{"upTo": 10, "unitPrice": "1"}, {"upTo": 5, "unitPrice": "2"}, {"unitPrice": "3"}],
        [{"upTo": None, "unitPrice": "1"}, {"upTo": 5, "unitPrice": "2"}],
        [{"upTo": 10, "unitPrice": "1"}],
        [{"upTo": None, "unitPrice": "0.00001"}],
        [{"upTo": None, "unitPrice": "-1"}],
        [{"upTo": None, "unitPrice": "1e9"}],
        [],
    ):
        out = await api.gql(SET_TARIFF, water(bad), as_="staff1")
        assert out["setTariff"]["userErrors"][0]["code"] == "INVALID", bad
    tariffs = await api.gql(
        "query($c: ID!) { tariffs(communityId: $c) { kind bands { upTo unitPrice } pricePerM2 } }",
        {"c": api.garden},
        as_="resident1",
    )
    kinds = {t["kind"]: t for t in tariffs["tariffs"]}
    assert kinds["WATER"]["bands"][1]["unitPrice"] == "3.1234"  # the refused ones changed nothing
    assert kinds["PROPERTY_FEE"]["pricePerM2"] == "2.80"

    heat = await api.gql(
        SET_TARIFF,
        {"i": {"communityId": api.garden, "kind": "HEATING", "pricePerM2": "5.75"}},
        as_="staff1",
    )
    assert heat["setTariff"]["tariff"]["pricePerM2"] == "5.75"
    issued = await api.gql(
        ISSUE,
        {
            "i": {
                "communityId": api.garden,
                "kind": "HEATING",
                "period": "2026-12",
                "dueDate": "2026-12-31",
                "lines": [{"unitId": api.unit_gid("1-101")}],
            }
        },
        as_="staff1",
    )
    assert issued["issueBills"]["issued"] == 1
    from domain.accounts.models import Unit

    async with api.db.reader() as s:
        area = (await s.get(Unit, api.demo.units["1-101"])).area_centi_m2  # type: ignore[union-attr]
    heating = [b for b in (await my_bills(api)).values() if b["kind"] == "HEATING"]
    assert heating[0]["amount"]["amountMinor"] == pricing.price_by_area(area, 57_500)
    assert heating[0]["lineItems"][0]["quantity"] == area / 100
    errs = await api.errors(SET_TARIFF, water([{"unitPrice": "1"}]), as_="resident1")
    assert errs[0]["extensions"]["code"] == "FORBIDDEN"


# ---------------------------------------------------------------- paying
async def test_pay_bills_settles_only_on_verified_webhook(
    api: GraphQLClient, stripe_stub: StripeStub
) -> None:
    power, water = bill_gid(api, "1-101:ELECTRICITY:2026-11"), bill_gid(api, "1-101:WATER:2026-11")
    before = await my_bills(api)
    assert len(before) == 5 and before[power]["status"] == "UNPAID"
    assert before[power]["amount"]["amountMinor"] == 17776  # 286 kWh, hand-computed above
    assert before[water]["amount"]["amountMinor"] == 4140  # 12 m³ × 3.45
    total = 17776 + 4140

    out = await pay(api, [power, water], "pay-happy-0001")
    assert out["userErrors"] == []
    payment = out["payment"]
    assert payment["status"] == "REQUIRES_ACTION" and payment["provider"] == "stripe"
    assert payment["amount"]["amountMinor"] == total
    row = await payment_row(api, payment["id"])
    pi = stripe_stub.intents[row.provider_ref or ""]
    assert payment["clientSecret"] == pi["client_secret"]
    assert pi["amount"] == total and pi["metadata"]["linli_payment_id"] == str(row.id)
    assert ("POST", "/v1/payment_intents", f"linli-{row.payer_user_id}-pay-happy-0001") in (
        stripe_stub.requests
    )
    mine = await my_bills(api)
    assert mine[power]["status"] == mine[water]["status"] == "PROCESSING"

    # A retry returns the first answer; another payment for them is refused.
    again = await pay(api, [power, water], "pay-happy-0001")
    assert again["payment"]["id"] == payment["id"] and stripe_stub.created["payment_intent"] == 1
    other = await pay(api, [power], "pay-happy-0002")
    assert other["payment"] is None and other["userErrors"][0]["code"] == "CONFLICT"
    reused = await pay(api, [power], "pay-happy-0001")
    assert reused["userErrors"][0]["code"] == "CONFLICT"  # same key, different request

    # The app's word is not enough: only a verified webhook settles.
    stripe_stub.set_intent(pi["id"], "succeeded")
    event = stripe_stub.event("payment_intent.succeeded", pi["id"])
    resp = await webhook(api, stripe_stub, event, secret="whsec_forged")
    assert resp.status_code == 400
    assert (await my_bills(api))[power]["status"] == "PROCESSING"
    async with api.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(WebhookEvent)) == 0

    assert (await webhook(api, stripe_stub, event)).status_code == 200
    dup = await webhook(api, stripe_stub, event)
    assert dup.json() == {"received": True, "duplicate": True}
    mine = await my_bills(api)
    assert mine[power]["status"] == mine[water]["status"] == "PAID"
    assert await notices(api, "resident1", "bills.notice.paid_title") == 1

    paid_again = await pay(api, [power], "pay-happy-0003")
    assert paid_again["userErrors"][0]["code"] == "ALREADY_PAID"
    node = await api.gql(
        "query($id: ID!) { node(id: $id) { ... on Payment { status clientSecret } } }",
        {"id": payment["id"]},
        as_="resident1",
    )
    assert node["node"] == {"status": "SUCCEEDED", "clientSecret": None}
    hidden = await api.gql(
        "query($id: ID!) { node(id: $id) { id } }", {"id": payment["id"]}, as_="resident2"
    )
    assert hidden["node"] is None

    # Refunds by staff: partial keeps the bills paid, the rest returns them to unpaid.
    denied = await api.gql(
        REFUND, {"p": payment["id"], "a": 100, "k": "refund-x-01"}, as_="resident1"
    )
    assert denied["refundPayment"]["userErrors"][0]["code"] == "NOT_FOUND"
    part = await api.gql(REFUND, {"p": payment["id"], "a": 1000, "k": "refund-a-01"}, as_="staff1")
    assert part["refundPayment"]["payment"]["status"] == "SUCCEEDED"
    assert part["refundPayment"]["payment"]["refunded"]["amountMinor"] == 1000
    too_much = await api.gql(
        REFUND, {"p": payment["id"], "a": total, "k": "refund-b-01"}, as_="staff1"
    )
    assert too_much["refundPayment"]["userErrors"][0]["code"] == "INVALID"
    assert (await my_bills(api))[power]["status"] == "PAID"
    rest = await api.gql(REFUND, {"p": payment["id"], "a": None, "k": "refund-c-01"}, as_="staff1")
    assert rest["refundPayment"]["payment"]["status"] == "REFUNDED"
    assert sorted(r["amount"] for r in stripe_stub.refunds.values()) == [1000, total - 1000]
    mine = await my_bills(api)
    assert mine[power]["status"] == mine[water]["status"] == "UNPAID"


async def test_failed_payment_and_stale_or_out_of_order_events(
    api: GraphQLClient, stripe_stub: StripeStub
) -> None:
    fee, parking = (
        bill_gid(api, "1-101:PROPERTY_FEE:2026-11"),
        bill_gid(api, "1-101:PARKING_MONTHLY:2026-11"),
    )
    out = await pay(api, [fee], "pay-declined-01")
    ref = (await payment_row(api, out["payment"]["id"])).provider_ref or ""
    stripe_stub.set_intent(ref, "requires_payment_method", error_code="insufficient_funds")
    failed = stripe_stub.event("payment_intent.payment_failed", ref)
    stale = await webhook(api, stripe_stub, failed, t=int(time.time()) - 301)
    assert stale.status_code == 400
    assert (await my_bills(api))[fee]["status"] == "PROCESSING"
    assert (await webhook(api, stripe_stub, failed)).status_code == 200
    assert (await my_bills(api))[fee]["status"] == "UNPAID"
    row = await payment_row(api, out["payment"]["id"])
    assert row.status == "FAILED" and row.failure_code == "insufficient_funds"

    # The fee can be paid again with a new key; `succeeded` overtakes `processing`.
    out = await pay(api, [fee, parking], "pay-retry-0001")
    ref = (await payment_row(api, out["payment"]["id"])).provider_ref or ""
    processing_snapshot = dict(stripe_stub.intents[ref], status="processing")
    stripe_stub.set_intent(ref, "succeeded")
    await webhook(api, stripe_stub, stripe_stub.event("payment_intent.succeeded", ref))
    await webhook(
        api,
        stripe_stub,
        stripe_stub.snapshot_event("payment_intent.processing", processing_snapshot),
    )
    mine = await my_bills(api)
    assert mine[fee]["status"] == mine[parking]["status"] == "PAID"
    assert (await payment_row(api, out["payment"]["id"])).status == "SUCCEEDED"


async def test_concurrent_pay_bills_pays_once(api: GraphQLClient, stripe_stub: StripeStub) -> None:
    power = bill_gid(api, "1-101:ELECTRICITY:2026-11")
    results = await asyncio.gather(*(pay(api, [power], f"race-diff-{i:04d}") for i in range(30)))
    winners = [r for r in results if r["payment"] is not None and not r["userErrors"]]
    assert len(winners) == 1
    codes = {r["userErrors"][0]["code"] for r in results if r["userErrors"]}
    assert codes <= {"ALREADY_PAID", "CONFLICT"}
    async with api.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(Payment)) == 1
    assert stripe_stub.created["payment_intent"] == 1

    water = bill_gid(api, "1-101:WATER:2026-11")
    results = await asyncio.gather(*(pay(api, [water], "race-same-0001") for _ in range(30)))
    assert all(not r["userErrors"] for r in results)
    assert len({r["payment"]["id"] for r in results}) == 1
    secrets = {r["payment"]["clientSecret"] for r in results}
    assert stripe_stub.created["payment_intent"] == 2  # one more, for all 30
    assert len(secrets - {None}) == 1
    async with api.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(Payment)) == 2


async def test_who_sees_and_pays_a_units_bills(api: GraphQLClient, stripe_stub: StripeStub) -> None:
    lines = [
        {"unitId": api.unit_gid("2-301"), "amountMinor": 25000},
        {"unitId": api.unit_gid("1-301"), "amountMinor": 18000},
    ]
    issue = {
        "communityId": api.garden,
        "kind": "PARKING_MONTHLY",
        "period": "2026-12",
        "dueDate": "2026-12-31",
        "lines": lines,
    }
    assert (await api.gql(ISSUE, {"i": issue}, as_="staff1"))["issueBills"]["issued"] == 2
    tenant = await my_bills(api, "tenant1")
    carer = await my_bills(api, "carer1")
    assert [b["unit"]["label"] for b in tenant.values()] == ["2-301"]
    assert [b["unit"]["label"] for b in carer.values()] == ["1-301"]
    assert [b["unit"]["label"] for b in (await my_bills(api, "elder1")).values()] == ["1-301"]
    assert await my_bills(api, "resident2") == {} or all(
        b["unit"]["label"] != "2-301" for b in (await my_bills(api, "resident2")).values()
    )
    elder_bill = next(iter(carer))
    # Another resident cannot pay (or learn about) it; the caregiver can.
    refused = await pay(api, [elder_bill], "carer-pay-0001", who="resident1")
    assert refused["userErrors"][0]["code"] == "NOT_FOUND" and refused["payment"] is None
    refused = await pay(api, [elder_bill], "carer-pay-0001", who="residentb")
    assert refused["userErrors"][0]["code"] == "NOT_FOUND"
    ok = await pay(api, [elder_bill], "carer-pay-0001", who="carer1")
    assert ok["userErrors"] == [] and ok["payment"]["clientSecret"]
    # Mixed units the payer may pay for in one payment are fine; another's are not.
    mixed = await pay(api, [next(iter(tenant)), bill_gid(api, "1-101:WATER:2026-10")], "mix-00001")
    assert mixed["userErrors"][0]["code"] == "NOT_FOUND"


async def test_offline_payments_reminders_overdue_and_reconciliation(
    api: GraphQLClient, stripe_stub: StripeStub, clock: FrozenClock
) -> None:
    october = bill_gid(api, "1-101:WATER:2026-10")  # due 2026-11-15: overdue today
    async with api.db.transaction() as s:
        assert await bills.sweep_overdue(s, now=clock()) == 1
    async with api.db.transaction() as s:
        assert await bills.sweep_overdue(s, now=clock()) == 0
        assert await bills.send_due_reminders(s, now=clock()) == 0  # nothing due in 3 days
    assert (await my_bills(api))[october]["status"] == "OVERDUE"
    assert await notices(api, "resident1", "bills.notice.overdue_title") == 1

    clock.advance(days=4)  # 27 November: fee and parking are due on the 30th
    async with api.db.transaction() as s:
        assert await bills.send_due_reminders(s, now=clock()) == 2
    async with api.db.transaction() as s:
        assert await bills.send_due_reminders(s, now=clock()) == 0
    assert await notices(api, "resident1", "bills.notice.due_title") == 2

    # Cash at the office: PAID at once, with the receipt number.
    cash = await api.gql(
        OFFLINE, {"ids": [october], "r": "R-2026-0042", "k": "cash-00001"}, as_="staff1"
    )
    paid = cash["recordOfflinePayment"]["payment"]
    assert paid["status"] == "SUCCEEDED" and paid["provider"] == "offline"
    assert paid["receiptNumber"] == "R-2026-0042"
    again = await api.gql(
        OFFLINE, {"ids": [october], "r": "R-2026-0042", "k": "cash-00001"}, as_="staff1"
    )
    assert again["recordOfflinePayment"]["payment"]["id"] == paid["id"]
    twice = await api.gql(
        OFFLINE, {"ids": [october], "r": "R-2026-0043", "k": "cash-00002"}, as_="staff1"
    )
    assert twice["recordOfflinePayment"]["userErrors"][0]["code"] == "ALREADY_PAID"
    void = (
        'mutation($b: ID!) { voidBill(input: {billId: $b, reason: "typo"}) '
        "{ bill { status } userErrors { code } } }"
    )
    paid_void = await api.gql(void, {"b": october}, as_="staff1")
    assert paid_void["voidBill"]["userErrors"][0]["code"] == "ALREADY_PAID"
    power = bill_gid(api, "1-101:ELECTRICITY:2026-11")
    for _ in range(2):  # voiding twice is a no-op
        out = await api.gql(void, {"b": power}, as_="staff1")
        assert out["voidBill"] == {"bill": {"status": "VOID"}, "userErrors": []}
    refused = await api.gql(void, {"b": power}, as_="resident1")
    assert refused["voidBill"]["userErrors"][0]["code"] == "NOT_FOUND"
    voided = await pay(api, [power], "pay-void-00001")
    assert voided["userErrors"][0]["code"] == "INVALID"
    denied = await api.gql(
        OFFLINE, {"ids": [october], "r": "R-1", "k": "cash-00003"}, as_="resident1"
    )
    assert denied["recordOfflinePayment"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert (await my_bills(api))[october]["status"] == "PAID"
    assert await notices(api, "resident1", "bills.notice.paid_title") == 1

    # Reconciliation: one paid but its webhook was lost, one never completed.
    parking = bill_gid(api, "1-101:PARKING_MONTHLY:2026-11")
    fee = bill_gid(api, "1-101:PROPERTY_FEE:2026-11")
    lost = await pay(api, [parking], "recon-lost-01")
    abandoned = await pay(api, [fee], "recon-gone-01")
    lost_ref = (await payment_row(api, lost["payment"]["id"])).provider_ref or ""
    stripe_stub.set_intent(lost_ref, "succeeded")
    clock.advance(minutes=30)
    assert await payments.reconcile_open_payments(api.db, now=clock()) == []  # too young
    clock.advance(minutes=31)
    entries = await payments.reconcile_open_payments(api.db, now=clock())
    assert sorted(e.action for e in entries) == ["FAILED", "SETTLED"]
    mine = await my_bills(api)
    assert mine[parking]["status"] == "PAID" and mine[fee]["status"] == "UNPAID"
    gone_ref = (await payment_row(api, abandoned["payment"]["id"])).provider_ref or ""
    assert stripe_stub.intents[gone_ref]["status"] == "canceled"

    seen = await api.gql(
        "query($c: ID!) { paymentReconciliations(communityId: $c) { totalCount "
        "edges { node { paymentId statusBefore providerStatus action } } } }",
        {"c": api.garden},
        as_="staff1",
    )
    got = {e["node"]["paymentId"]: e["node"] for e in seen["paymentReconciliations"]["edges"]}
    assert got[lost["payment"]["id"]]["action"] == "SETTLED"
    assert got[abandoned["payment"]["id"]] == {
        "paymentId": abandoned["payment"]["id"],
        "statusBefore": "REQUIRES_ACTION",
        "providerStatus": "canceled",
        "action": "FAILED",
    }
    errs = await api.errors(
        "query($c: ID!) { paymentReconciliations(communityId: $c) { totalCount } }",
        {"c": api.garden},
        as_="resident1",
    )
    assert errs[0]["extensions"]["code"] == "FORBIDDEN"


async def test_offline_provider_provider_outage_and_late_success(
    api: GraphQLClient, stripe_stub_server: StripeStub
) -> None:
    from datetime import timedelta

    from core.clock import utcnow

    fee = bill_gid(api, "1-101:PROPERTY_FEE:2026-11")
    # Without a Stripe key the app has the offline provider: nothing to pay in the app.
    offline = await pay(api, [fee], "offline-00001")
    assert offline["payment"] is None and offline["userErrors"][0]["code"] == "PAYMENT_FAILED"
    assert (await my_bills(api))[fee]["status"] == "UNPAID"

    stub = stripe_stub_server
    stub.reset()
    previous = payments.installed_provider()
    # No retries in the library here, so that each refused call fails at once.
    payments.use_provider(stub.provider(max_network_retries=0))
    try:
        # Stripe unreachable (a 500): the payment stays open without a secret, and the
        # same key later gets the intent.
        stub.fail_next = 1
        out = await pay(api, [fee], "outage-00001")
        assert out["userErrors"] == [] and out["payment"]["clientSecret"] is None
        assert stub.created["payment_intent"] == 0
        stub.fail_next = 0
        out = await pay(api, [fee], "outage-00001")
        assert out["payment"]["clientSecret"] and stub.created["payment_intent"] == 1
        first = await payment_row(api, out["payment"]["id"])

        # A request Stripe refuses outright fails the payment at once and frees the bill.
        from tests.stubs.stripe_stub import StripeAPIError

        park = bill_gid(api, "1-101:PARKING_MONTHLY:2026-11")
        stub.refuse_next = StripeAPIError(
            400, "invalid_request_error", "Currency not supported.", code="parameter_invalid"
        )
        refused = await pay(api, [park], "refused-00001")
        assert (
            refused["payment"]["status"] == "FAILED" and refused["payment"]["clientSecret"] is None
        )
        assert refused["userErrors"][0]["code"] == "PAYMENT_FAILED"
        assert (await my_bills(api))[park]["status"] == "UNPAID"

        # It is declined; a second payment pays the fee.
        ref_a = first.provider_ref or ""
        stub.set_intent(ref_a, "requires_payment_method", error_code="card_declined")
        await webhook(api, stub, stub.event("payment_intent.payment_failed", ref_a))
        second = await pay(api, [fee], "outage-00002")
        ref_b = (await payment_row(api, second["payment"]["id"])).provider_ref or ""
        stub.set_intent(ref_b, "succeeded")
        # The event arrives while Stripe cannot be read: stored, processed by the sweep.
        stub.fail_next = 1
        await webhook(api, stub, stub.event("payment_intent.succeeded", ref_b))
        assert (await my_bills(api))[fee]["status"] == "PROCESSING"
        stub.fail_next = 0
        assert (
            await payments.process_pending_events(api.db, now=utcnow() + timedelta(minutes=1)) == 1
        )
        assert (await my_bills(api))[fee]["status"] == "PAID"

        # The declined intent succeeds after all (the payer retried the card): the fee
        # is paid already, so that money goes back in full, automatically.
        stub.set_intent(ref_a, "succeeded")
        await webhook(api, stub, stub.event("payment_intent.succeeded", ref_a))
        late = await payment_row(api, out["payment"]["id"])
        assert late.status == "REFUNDED" and late.refunded_minor == late.amount_minor
        assert [r["payment_intent"] for r in stub.refunds.values()] == [ref_a]
        assert (await my_bills(api))[fee]["status"] == "PAID"
    finally:
        payments.use_provider(previous)
