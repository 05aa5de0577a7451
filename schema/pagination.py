"""Cursor encoding for connections: opaque base64 of the item's offset."""

from __future__ import annotations

import base64
import binascii


class BadCursor(ValueError):
    pass


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise BadCursor(cursor) from exc
    prefix, _, num = raw.partition(":")
    if prefix != "o" or not num.isdigit() or len(num) > 9:
        raise BadCursor(cursor)
    return int(num)
