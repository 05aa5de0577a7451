"""Relay global IDs outside, integer primary keys inside."""

from __future__ import annotations

import base64
import binascii


class InvalidGlobalId(ValueError):
    pass


def encode_gid(type_name: str, pk: int) -> str:
    raw = f"{type_name}:{pk}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_gid(gid: str, expected: str | tuple[str, ...] | None = None) -> tuple[str, int]:
    """Return (type name, primary key); raise InvalidGlobalId for anything malformed."""
    if not isinstance(gid, str) or not gid or len(gid) > 200:
        raise InvalidGlobalId(gid)
    try:
        padded = gid + "=" * (-len(gid) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
        type_name, _, pk_text = raw.partition(":")
        if not type_name or not pk_text.isdigit() or len(pk_text) > 18:
            raise InvalidGlobalId(gid)
        pk = int(pk_text)
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise InvalidGlobalId(gid) from exc
    if expected is not None:
        allowed = (expected,) if isinstance(expected, str) else expected
        if type_name not in allowed:
            raise InvalidGlobalId(gid)
    return type_name, pk
