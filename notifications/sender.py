"""The sender protocol and the embedded default that only logs."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from typing import Protocol

from domain.notifications.push import (
    MAX_PAYLOAD_BYTES,
    Outcome,
    PushMessage,
    SendResult,
    payload_size,
    too_large,
)

log = logging.getLogger("linli.push")

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "LogSender",
    "Outcome",
    "PushMessage",
    "PushSender",
    "SendResult",
    "payload_size",
]


class PushSender(Protocol):
    """Sends a batch of pushes; answers one SendResult per message, in order. It must
    not raise for a per-message failure (that is a result), only for its own bugs."""

    name: str

    async def send(self, messages: Sequence[PushMessage]) -> list[SendResult]: ...

    async def close(self) -> None: ...


class LogSender:
    """No push provider configured (the embedded default): the inbox is the only
    channel, and each push is logged so a developer can see what would have gone out."""

    name = "log"

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    async def send(self, messages: Sequence[PushMessage]) -> list[SendResult]:
        results: list[SendResult] = []
        for m in messages:
            refused = too_large(m)
            if refused is not None:
                results.append(refused)
                continue
            log.info("push %s → %s…: %s", m.severity, m.token[:12], m.title)
            results.append(SendResult(Outcome.DELIVERED, message_id=f"log-{next(self._ids)}"))
        return results

    async def close(self) -> None:
        return None
