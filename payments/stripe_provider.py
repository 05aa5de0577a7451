"""Stripe through the official library (`StripeClient`, async methods over httpx).

The API base comes from LINLI_STRIPE_API_BASE, so tests and staging can point the real
library at a local stub that speaks Stripe's wire format.
"""

from __future__ import annotations

from typing import Any

import stripe

from domain.payments.ports import (
    IntentState,
    ProviderError,
    ProviderEvent,
    RefundResult,
    WebhookRejected,
)

WEBHOOK_TOLERANCE_S = 300


class StripeProvider:
    name = "stripe"
    online = True

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str | None,
        api_base: str = "https://api.stripe.com",
        timeout_s: float = 10.0,
        max_network_retries: int = 2,
    ) -> None:
        self._webhook_secret = webhook_secret
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            http_client=stripe.HTTPXClient(timeout=timeout_s),
            # The library retries network errors and 409/429/5xx with the same
            # idempotency key, which Stripe replays instead of acting twice.
            max_network_retries=max_network_retries,
        )

    async def create_intent(
        self,
        *,
        amount_minor: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
        description: str | None = None,
    ) -> IntentState:
        params: dict[str, Any] = {
            "amount": amount_minor,
            "currency": currency.lower(),
            "metadata": metadata,
            "automatic_payment_methods": {"enabled": True},
        }
        if description:
            params["description"] = description
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _provider_error(exc) from exc
        return _intent_state(intent.to_dict())

    async def retrieve_intent(self, ref: str) -> IntentState:
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(ref)
        except stripe.StripeError as exc:
            raise _provider_error(exc) from exc
        return _intent_state(intent.to_dict())

    async def cancel_intent(self, ref: str, *, idempotency_key: str) -> IntentState:
        try:
            intent = await self._client.v1.payment_intents.cancel_async(
                ref, {}, {"idempotency_key": idempotency_key}
            )
        except stripe.InvalidRequestError as exc:
            # Already succeeded/processing (cannot be cancelled): report what it is.
            if getattr(exc, "code", None) == "payment_intent_unexpected_state":
                return await self.retrieve_intent(ref)
            raise _provider_error(exc) from exc
        except stripe.StripeError as exc:
            raise _provider_error(exc) from exc
        return _intent_state(intent.to_dict())

    async def refund(
        self, ref: str, *, amount_minor: int, idempotency_key: str, reason: str | None = None
    ) -> RefundResult:
        params: dict[str, Any] = {"payment_intent": ref, "amount": amount_minor}
        if reason:
            params["metadata"] = {"reason": reason[:500]}
        try:
            refund = await self._client.v1.refunds.create_async(
                params,  # type: ignore[arg-type]
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _provider_error(exc) from exc
        data = refund.to_dict()
        status = str(data.get("status") or "pending")
        return RefundResult(
            ref=str(data["id"]),
            amount_minor=int(data.get("amount") or amount_minor),
            status="failed" if status in ("failed", "canceled") else status,
        )

    def verify_webhook(self, payload: bytes, signature: str | None) -> ProviderEvent:
        """Verify the Stripe-Signature header over the raw body (HMAC-SHA256, 300 s)."""
        if not self._webhook_secret:
            raise WebhookRejected("no webhook secret configured")
        try:
            event = self._client.construct_event(
                payload, signature, self._webhook_secret, tolerance=WEBHOOK_TOLERANCE_S
            )
        except (ValueError, stripe.SignatureVerificationError) as exc:
            raise WebhookRejected(str(exc)) from exc
        data = event.to_dict()
        obj = (data.get("data") or {}).get("object") or {}
        if obj.get("object") == "payment_intent":
            ref = obj.get("id")
        else:
            ref = obj.get("payment_intent")
        if not isinstance(data.get("id"), str) or not isinstance(data.get("type"), str):
            raise WebhookRejected("not an event")
        return ProviderEvent(
            id=data["id"],
            type=data["type"],
            intent_ref=ref if isinstance(ref, str) else None,
            created=int(data.get("created") or 0),
            payload=data,
        )


def _intent_state(data: dict[str, Any]) -> IntentState:
    error = data.get("last_payment_error") or {}
    return IntentState(
        ref=str(data["id"]),
        status=str(data.get("status")),
        amount_minor=int(data.get("amount") or 0),
        currency=str(data.get("currency") or "").upper(),
        client_secret=data.get("client_secret"),
        amount_received=int(data.get("amount_received") or 0),
        metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
        failure_code=(error.get("decline_code") or error.get("code") or "failed")
        if error
        else None,
    )


def _provider_error(exc: stripe.StripeError) -> ProviderError:
    status = exc.http_status or 0
    retriable = isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or status >= 500
    code = getattr(exc, "code", None) or type(exc).__name__
    return ProviderError(exc.user_message or str(exc), code=str(code), retriable=retriable)
