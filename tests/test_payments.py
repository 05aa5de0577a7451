"""The payments interface on its own: start_payment, the Stripe webhook (signature,
staleness, duplicates, out-of-order events), refunds — with the real `stripe` library
against the wire-format stub. Bills and parking build on it (their own tests)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select, update

from core.principal import Principal
from domain.payments import service as payments
from domain.payments.models import Payment, PaymentRefund, WebhookEvent
from tests.stubs.stripe_stub import StripeStub
from tests.support import GraphQLClient

CALLS: list[tuple[int, str]] = []


async def _record(session: Any, payment: Payment, outcome: str) -> bool:
    assert payment.id is not None
    CALLS.append((payment.id, outcome))
    return True


payments.register_settlement_handler("TEST", _record)


def resident(api: GraphQLClient) -> Principal:
    uid = api.demo.users["resident1@demo.linli"]
    return Principal.build(uid, [(api.demo.garden_id, "RESIDENT")], "zh-CN")


def staff(api: GraphQLClient) -> Principal:
    uid = api.demo.users["staff1@demo.linli"]
    return Principal.build(uid, [(api.demo.garden_id, "STAFF")], "zh-CN")


async def start(api: GraphQLClient, key: str, amount: int = 12_345) -> Payment:
    async with api.db.transaction() as s:
        payment = await payments.start_payment(
            s,
            resident(api),
            community_id=api.demo.garden_id,
            purpose="TEST",
            amount_minor=amount,
            currency="CNY",
            idempotency_key=key,
            metadata={"what": "test"},
        )
    return payment


async def reload(api: GraphQLClient, pk: int | None) -> Payment:
    async with api.db.reader() as s:
        row = await s.get(Payment, pk)
        assert row is not None
        s.expunge(row)
    return row


async def webhook(api: GraphQLClient, stub: StripeStub, body: bytes, **kw: Any) -> Any:
    resp = await stub.send_webhook(api.http, "/webhooks/stripe", body, **kw)
    await api.server.state.services.get("payments.webhooks").drain()
    return resp


async def test_payment_lifecycle_through_verified_webhooks(
    api: GraphQLClient, stripe_stub: StripeStub
) -> None:
    CALLS.clear()
    # The first attempt meets a 500: the library retries with the same idempotency key.
    stripe_stub.fail_next = 1
    payment = await start(api, "lifecycle-0001")
    # The intent was created after commit, with our id in metadata and our key.
    assert payment.provider == "stripe" and payment.provider_ref is not None
    assert stripe_stub.created["payment_intent"] == 1
    pi = stripe_stub.intents[payment.provider_ref]
    assert pi["amount"] == 12_345 and pi["currency"] == "cny"
    assert pi["metadata"]["linli_payment_id"] == str(payment.id)
    key = f"linli-{payment.payer_user_id}-lifecycle-0001"
    assert stripe_stub.requests == [("POST", "/v1/payment_intents", key)] * 2
    assert payments.client_secret(payment) == pi["client_secret"]

    # The same key again: the same payment, no second intent.
    again = await start(api, "lifecycle-0001")
    assert again.id == payment.id and stripe_stub.created["payment_intent"] == 1

    # The payer confirms; Stripe sends `succeeded` and later a stale `processing`.
    stripe_stub.set_intent(pi["id"], "succeeded")
    succeeded = stripe_stub.event("payment_intent.succeeded", pi["id"])
    stale = dict(pi, status="processing", amount_received=0)
    processing = stripe_stub.snapshot_event("payment_intent.processing", stale)

    # A forged signature and a stale timestamp change nothing.
    forged = await webhook(api, stripe_stub, succeeded, secret="whsec_not_the_secret")
    assert forged.status_code == 400
    old = await webhook(api, stripe_stub, succeeded, t=int(time.time()) - 301)
    assert old.status_code == 400
    garbled = await webhook(api, stripe_stub, succeeded, signature="t=1,v1=deadbeef")
    assert garbled.status_code == 400
    async with api.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(WebhookEvent)) == 0
    assert (await reload(api, payment.id)).status == "REQUIRES_ACTION"
    assert CALLS == []

    ok = await webhook(api, stripe_stub, succeeded)
    assert ok.status_code == 200 and ok.json() == {"received": True}
    dup = await webhook(api, stripe_stub, succeeded)
    assert dup.status_code == 200 and dup.json()["duplicate"] is True
    late = await webhook(api, stripe_stub, processing)
    assert late.status_code == 200

    row = await reload(api, payment.id)
    assert row.status == "SUCCEEDED" and row.settled_at is not None
    assert payments.client_secret(row) is None
    assert CALLS == [(payment.id, "SUCCEEDED")]
    async with api.db.reader() as s:
        results = list(await s.scalars(select(WebhookEvent.result).order_by(WebhookEvent.id)))
    assert results == ["SETTLED", "UNCHANGED"]

    # Refunds: partial, then the rest; the payment ends REFUNDED.
    for amount, key in ((2_345, "refund-part-1"), (None, "refund-rest-2")):
        async with api.db.transaction() as s:
            await payments.refund_payment(
                s,
                staff(api),
                payment_id=payment.id or 0,
                amount_minor=amount,
                reason="test",
                idempotency_key=key,
            )
    row = await reload(api, payment.id)
    assert row.status == "REFUNDED" and row.refunded_minor == 12_345
    assert sorted(r["amount"] for r in stripe_stub.refunds.values()) == [2_345, 10_000]
    async with api.db.reader() as s:
        statuses = set(await s.scalars(select(PaymentRefund.status)))
    assert statuses == {"SUCCEEDED"}
    assert CALLS[-1] == (payment.id, "REFUNDED")


async def test_failed_payment_webhook_overtaking_and_unknown_intents(
    api: GraphQLClient, stripe_stub: StripeStub
) -> None:
    CALLS.clear()
    payment = await start(api, "declined-0001", amount=500)
    assert payment.provider_ref is not None
    stripe_stub.set_intent(
        payment.provider_ref, "requires_payment_method", error_code="generic_decline"
    )
    resp = await webhook(
        api, stripe_stub, stripe_stub.event("payment_intent.payment_failed", payment.provider_ref)
    )
    assert resp.status_code == 200
    row = await reload(api, payment.id)
    assert row.status == "FAILED" and row.failure_code == "generic_decline"
    assert CALLS == [(payment.id, "FAILED")]

    # The webhook can overtake the storing of the intent id: found by our metadata.
    raced = await start(api, "overtaken-0001", amount=700)
    async with api.db.transaction() as s:
        await s.execute(update(Payment).where(Payment.id == raced.id).values(provider_ref=None))
    assert raced.provider_ref is not None
    stripe_stub.set_intent(raced.provider_ref, "succeeded")
    await webhook(
        api, stripe_stub, stripe_stub.event("payment_intent.succeeded", raced.provider_ref)
    )
    row = await reload(api, raced.id)
    assert row.status == "SUCCEEDED" and row.provider_ref == raced.provider_ref

    # An event for an intent we do not know is acknowledged and recorded, nothing else.
    other = stripe_stub._create_intent({"amount": "100", "currency": "cny"})
    resp = await webhook(api, stripe_stub, stripe_stub.event("payment_intent.created", other["id"]))
    assert resp.status_code == 200
    async with api.db.reader() as s:
        results = list(await s.scalars(select(WebhookEvent.result).order_by(WebhookEvent.id)))
    assert results == ["FAILED", "SETTLED", "UNKNOWN_INTENT"]


async def test_provider_chosen_from_settings(stripe_stub_server: StripeStub) -> None:
    from payments import OfflineProvider, ProviderError, make_provider
    from tests.stubs.stripe_stub import API_KEY, WEBHOOK_SECRET
    from tests.support import test_settings

    assert isinstance(make_provider(test_settings("sqlite+aiosqlite://")), OfflineProvider)
    stub = stripe_stub_server
    stub.reset()
    settings = test_settings(
        "sqlite+aiosqlite://",
        stripe_api_key=API_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=stub.base_url,
    )
    provider = make_provider(settings)
    assert provider.name == "stripe" and provider.online
    state = await provider.create_intent(
        amount_minor=250, currency="CNY", metadata={"a": "b"}, idempotency_key="settings-1"
    )
    assert stub.intents[state.ref]["amount"] == 250 and state.status == "requires_payment_method"
    assert (await provider.retrieve_intent(state.ref)).client_secret == state.client_secret
    # The same request under the same key is replayed, not repeated.
    replay = await provider.create_intent(
        amount_minor=250, currency="CNY", metadata={"a": "b"}, idempotency_key="settings-1"
    )
    assert replay.ref == state.ref and stub.created["payment_intent"] == 1
    # A wrong key and a changed request under one key are refusals, not retriable.
    from pydantic import SecretStr

    wrong_key = SecretStr("sk_test_wrong")
    wrong = make_provider(settings.model_copy(update={"stripe_api_key": wrong_key}))
    try:
        await wrong.retrieve_intent(state.ref)
        raise AssertionError("expected a refusal")
    except ProviderError as exc:
        assert not exc.retriable
    try:
        await provider.create_intent(
            amount_minor=999, currency="CNY", metadata={}, idempotency_key="settings-1"
        )
        raise AssertionError("expected an idempotency error")
    except ProviderError as exc:
        assert not exc.retriable
    assert stub.created["payment_intent"] == 1
