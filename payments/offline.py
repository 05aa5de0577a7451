"""The offline provider: cash or bank transfer taken at the property office.

Nothing can be paid in the app with it (`online` is False); staff record offline
payments (with a receipt number) and refunds are handed back in cash.
"""

from __future__ import annotations

from domain.payments.ports import (
    IntentState,
    ProviderError,
    ProviderEvent,
    RefundResult,
    WebhookRejected,
)


class OfflineProvider:
    name = "offline"
    online = False

    async def create_intent(
        self,
        *,
        amount_minor: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
        description: str | None = None,
    ) -> IntentState:
        raise ProviderError("online payments are not configured", code="offline")

    async def retrieve_intent(self, ref: str) -> IntentState:
        raise ProviderError("the offline provider has no intents", code="offline")

    async def cancel_intent(self, ref: str, *, idempotency_key: str) -> IntentState:
        raise ProviderError("the offline provider has no intents", code="offline")

    async def refund(
        self, ref: str, *, amount_minor: int, idempotency_key: str, reason: str | None = None
    ) -> RefundResult:
        return RefundResult(
            ref=f"offline-{idempotency_key}", amount_minor=amount_minor, status="succeeded"
        )

    def verify_webhook(self, payload: bytes, signature: str | None) -> ProviderEvent:
        raise WebhookRejected("no webhook secret configured")
