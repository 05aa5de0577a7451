"""What the payment rules need from a payment provider (Stripe, offline).

The protocol lives in the domain so that the rules can call a provider without
importing any SDK; `payments/` implements it (and re-exports it for adapters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

# Our outcomes, derived from the provider's own status words.
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
PROCESSING = "PROCESSING"
REFUNDED = "REFUNDED"


class ProviderError(Exception):
    """The provider refused or could not be reached.

    `retriable` is True for network trouble, rate limits and 5xx answers: the same
    request (same idempotency key) may be sent again. False means the request itself
    was refused (bad parameters, idempotency-key mismatch, declined card).
    """

    def __init__(self, message: str, *, code: str | None = None, retriable: bool = False):
        super().__init__(message)
        self.code = code
        self.retriable = retriable


class WebhookRejected(Exception):
    """A webhook whose signature, timestamp or body did not verify."""


@dataclass(frozen=True)
class IntentState:
    """A PaymentIntent as the provider sees it right now."""

    ref: str
    status: str
    amount_minor: int
    currency: str
    client_secret: str | None = None
    amount_received: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    failure_code: str | None = None

    @property
    def outcome(self) -> str | None:
        """SUCCEEDED / FAILED / PROCESSING, or None while the payer still has to act.

        A PaymentIntent back in `requires_payment_method` after an attempt (it carries
        a last_payment_error) is a failed attempt; `canceled` is final failure.
        """
        if self.status == "succeeded":
            return SUCCEEDED
        if self.status == "processing":
            return PROCESSING
        if self.status == "canceled":
            return FAILED
        if self.status == "requires_payment_method" and self.failure_code:
            return FAILED
        return None


@dataclass(frozen=True)
class RefundResult:
    ref: str
    amount_minor: int
    status: str  # succeeded | pending | failed


@dataclass(frozen=True)
class ProviderEvent:
    """A verified webhook event: its id, type and the PaymentIntent it is about."""

    id: str
    type: str
    intent_ref: str | None
    created: int
    payload: dict[str, object] = field(default_factory=dict)


class PaymentProvider(Protocol):
    name: str
    # False for the offline provider: nothing can be paid in the app.
    online: bool

    async def create_intent(
        self,
        *,
        amount_minor: int,
        currency: str,
        metadata: dict[str, str],
        idempotency_key: str,
        description: str | None = None,
    ) -> IntentState: ...

    async def retrieve_intent(self, ref: str) -> IntentState: ...

    async def cancel_intent(self, ref: str, *, idempotency_key: str) -> IntentState: ...

    async def refund(
        self, ref: str, *, amount_minor: int, idempotency_key: str, reason: str | None = None
    ) -> RefundResult: ...

    def verify_webhook(self, payload: bytes, signature: str | None) -> ProviderEvent: ...
