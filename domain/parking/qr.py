"""The static QR code printed at each exit lane: a signed token naming the lane.

`L<lane id>.<version>.<signature>`: the signature is HMAC-SHA256 under a key derived
from the master secret, so a code cannot be forged for another lane or edited, and
bumping the lane's `qr_version` voids every printed copy of the old one. The printed
code holds a URL ending in the token; both the URL and the bare token are accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from core.keys import keys
from domain.parking.errors import InvalidQr

_TOKEN = re.compile(r"^L([0-9]{1,12})\.([0-9]{1,6})\.([A-Za-z0-9_-]{22})$")
QR_PATH = "/parking/q/"


def _signature(lane_id: int, version: int) -> str:
    mac = hmac.new(keys().qr_key, f"parking-lane:{lane_id}:{version}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:16]).rstrip(b"=").decode()


def lane_token(lane_id: int, version: int) -> str:
    return f"L{lane_id}.{version}.{_signature(lane_id, version)}"


def lane_url(base_url: str, lane_id: int, version: int) -> str:
    return f"{base_url.rstrip('/')}{QR_PATH}{lane_token(lane_id, version)}"


def parse(text: str | None, *, field: list[str] | None = None) -> tuple[int, int]:
    """(lane id, version) from a scanned code; InvalidQr if it is not one of ours."""
    raw = (text or "").strip()
    if len(raw) > 500:
        raise InvalidQr(field=field)
    token = raw.rsplit("/", 1)[-1]
    match = _TOKEN.match(token)
    if match is None:
        raise InvalidQr(field=field)
    lane_id, version, signature = int(match[1]), int(match[2]), match[3]
    if not hmac.compare_digest(signature, _signature(lane_id, version)):
        raise InvalidQr(field=field)
    return lane_id, version
