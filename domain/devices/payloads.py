"""Telemetry payload shapes, shared by the MQTT bridge and the HTTP endpoint.

A reading is `{"ts": <epoch ms>, "values": {...}}` or a bare `{...}` of values (time =
arrival); a payload is one reading or a list of them (buffered, possibly out of order).
Values are numbers, booleans or short strings (a plate number); anything else is refused
so that one broken device cannot fill the database with junk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from domain.devices.errors import BadPayload

MAX_READINGS_PER_PAYLOAD = 1000
MAX_METRICS = 64
MAX_NAME = 64
MAX_TEXT = 200
# Readings claiming to be from further in the future than this are refused (clock
# skew of a device is tolerated, a wrong unit — seconds for ms — is not).
MAX_FUTURE = timedelta(minutes=5)
MIN_TS_MS = 946_684_800_000  # 2000-01-01


@dataclass(slots=True)
class Reading:
    ts: datetime
    values: dict[str, Any]


def decode(raw: bytes | str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadPayload("not JSON") from exc


def _values(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict) or not obj:
        raise BadPayload("values must be a non-empty object")
    if len(obj) > MAX_METRICS:
        raise BadPayload("too many metrics")
    out: dict[str, Any] = {}
    for name, value in obj.items():
        if not isinstance(name, str) or not name or len(name) > MAX_NAME or name[0] == "_":
            raise BadPayload("bad metric name")
        if isinstance(value, bool) or value is None:
            out[name] = value
        elif isinstance(value, int | float):
            if not math.isfinite(value):
                raise BadPayload(f"{name} is not a finite number")
            out[name] = value
        elif isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise BadPayload(f"{name} is too long")
            out[name] = value
        else:
            raise BadPayload(f"{name} must be a number, boolean or text")
    return out


def _reading(obj: Any, now: datetime) -> Reading:
    if isinstance(obj, dict) and "values" in obj:
        ts_ms = obj.get("ts")
        if ts_ms is None:
            return Reading(now, _values(obj["values"]))
        if isinstance(ts_ms, bool) or not isinstance(ts_ms, int | float):
            raise BadPayload("ts must be epoch milliseconds")
        if not math.isfinite(ts_ms) or ts_ms < MIN_TS_MS:
            raise BadPayload("ts must be epoch milliseconds")
        ts = datetime.fromtimestamp(ts_ms / 1000, UTC)
        if ts > now + MAX_FUTURE:
            raise BadPayload("ts is in the future")
        return Reading(ts, _values(obj["values"]))
    return Reading(now, _values(obj))


def parse(obj: Any, now: datetime) -> list[Reading]:
    """The readings in a decoded payload, or BadPayload."""
    if isinstance(obj, list):
        if not obj:
            raise BadPayload("empty list")
        if len(obj) > MAX_READINGS_PER_PAYLOAD:
            raise BadPayload("too many readings in one payload")
        return [_reading(item, now) for item in obj]
    return [_reading(obj, now)]


def parse_bytes(raw: bytes | str, now: datetime) -> list[Reading]:
    return parse(decode(raw), now)


def numeric(value: Any) -> float | None:
    """A value as a number for rules and roll-ups (booleans count as 0/1)."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return None
