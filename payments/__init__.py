"""Payment providers. `stripe_provider` is the only module that imports `stripe`.

The protocol they implement is `domain.payments.ports.PaymentProvider` (re-exported
here); `make_provider(settings)` picks Stripe when its API key is set, else offline.
"""

from __future__ import annotations

from core.settings import Settings
from domain.payments.ports import (
    IntentState,
    PaymentProvider,
    ProviderError,
    ProviderEvent,
    RefundResult,
    WebhookRejected,
)
from payments.offline import OfflineProvider


def make_provider(settings: Settings) -> PaymentProvider:
    if settings.stripe_api_key is not None:
        from payments.stripe_provider import StripeProvider

        secret = settings.stripe_webhook_secret
        return StripeProvider(
            api_key=settings.stripe_api_key.get_secret_value(),
            webhook_secret=secret.get_secret_value() if secret else None,
            api_base=settings.stripe_api_base,
        )
    return OfflineProvider()


__all__ = [
    "IntentState",
    "OfflineProvider",
    "PaymentProvider",
    "ProviderError",
    "ProviderEvent",
    "RefundResult",
    "WebhookRejected",
    "make_provider",
]
