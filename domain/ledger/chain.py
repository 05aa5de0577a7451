"""The hash chain: a canonical encoding of an entry and its SM3 hash.

The encoding is a JSON array in a fixed field order (no key-order or whitespace
ambiguity), so anyone holding the published entries can recompute every hash.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from core.crypto import sm3_hex

VERSION = "linli-ledger/v1"


def timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(e: Any) -> bytes:
    """`e` is a LedgerEntry or a row with the same columns."""
    fields = [
        VERSION,
        e.community_id,
        e.account,
        e.seq,
        timestamp(e.posted_at),
        e.amount_minor,
        e.balance_after_minor,
        e.currency,
        e.category,
        e.description,
        e.counterparty,
        e.evidence_url,
        e.proposal_id,
        e.unit_id,
        e.reverses_entry_id,
        e.posted_by,
        e.idempotency_key,
        e.prev_hash,
    ]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def entry_hash(e: Any) -> str:
    return sm3_hex(canonical(e))
