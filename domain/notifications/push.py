"""What the outbox hands a push sender and what it gets back. Plain values, so the
domain decides what each answer means without knowing which provider gave it."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field

# FCM refuses messages whose payload exceeds 4096 bytes; we check before sending so
# such a message fails at once (kept in the inbox) instead of being retried.
MAX_PAYLOAD_BYTES = 4096


class Outcome(enum.StrEnum):
    DELIVERED = "DELIVERED"
    RETRY = "RETRY"  # transient: unavailable, internal, quota, network
    TOKEN_GONE = "UNREGISTERED"  # noqa: S105 — the app was uninstalled / the token expired
    TOKEN_INVALID = "INVALID"  # noqa: S105 — the token itself is malformed or of another project
    FAILED = "FAILED"  # permanent for this message (bad payload, APNs auth, too large)


@dataclass(frozen=True)
class PushMessage:
    token: str
    platform: str  # ANDROID | IOS | WEB
    title: str
    body: str
    data: dict[str, str] = field(default_factory=dict)
    severity: str = "NORMAL"
    category: str = ""
    # Devices collapse pushes with the same id, so a push re-sent after a crash shows once.
    collapse_id: str = ""
    badge: int | None = None


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    message_id: str | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, when the provider said so


def payload_size(message: PushMessage) -> int:
    """Bytes of what FCM counts against its limit: the visible texts and the data."""
    payload = {"notification": {"title": message.title, "body": message.body}, "data": message.data}
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())


def too_large(message: PushMessage) -> SendResult | None:
    size = payload_size(message)
    if size > MAX_PAYLOAD_BYTES:
        return SendResult(
            Outcome.FAILED, error=f"PAYLOAD_TOO_LARGE: {size} bytes > {MAX_PAYLOAD_BYTES}"
        )
    return None
