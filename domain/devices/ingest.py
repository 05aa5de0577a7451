"""The ingest pipeline: readings of many devices, one transaction per batch.

The MQTT bridge and `POST /devices/telemetry` both end here. Per batch: raw readings go
in with one multi-row insert, each device's readings run (in time order) through the
handlers registered for its kind and the alarm rules, the device row gets its latest
values and last-seen time, and the hourly roll-ups fold the batch in with one upsert.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from domain.devices.models import Device, DeviceReading, DeviceUsageHourly
from domain.devices.payloads import Reading, numeric

Handler = Callable[[AsyncSession, Device, datetime, dict[str, Any]], Awaitable[None]]
_handlers: dict[str, list[Handler]] = {}

# Called once per device and batch after its handlers: the alarm rules hook in here
# (domain.alarms.rules) so that this module does not depend on alarms.
DeviceEvaluator = Callable[[AsyncSession, Device, list[Reading], datetime], Awaitable[None]]
_evaluators: list[DeviceEvaluator] = []


def register_handler(kind: str, handler: Handler) -> Handler:
    """`async def handler(session, device, ts, values)` for every reading of a device of
    this kind, inside the ingest transaction (parking cameras, parcel lockers)."""
    bucket = _handlers.setdefault(kind, [])
    if handler not in bucket:
        bucket.append(handler)
    return handler


def unregister_handler(kind: str, handler: Handler) -> None:
    bucket = _handlers.get(kind, [])
    if handler in bucket:
        bucket.remove(handler)


def register_evaluator(fn: DeviceEvaluator) -> DeviceEvaluator:
    if fn not in _evaluators:
        _evaluators.append(fn)
    return fn


async def devices_by_code(
    session: AsyncSession, codes: Iterable[str], *, lock: bool = True
) -> dict[str, Device]:
    """Devices by code, row-locked in code order so that two bridge processes working
    on overlapping batches queue instead of deadlocking."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    stmt = select(Device).where(Device.code.in_(wanted)).order_by(Device.code)  # type: ignore[attr-defined]
    if lock:
        stmt = stmt.with_for_update()
    return {d.code: d for d in await session.scalars(stmt)}


def _hour(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


async def ingest(
    session: AsyncSession,
    batch: Sequence[tuple[Device, list[Reading]]],
    *,
    now: datetime | None = None,
) -> int:
    """Store and evaluate the readings of each (device, readings) pair. Returns the
    number of readings stored."""
    now = now or utcnow()
    raw: list[dict[str, Any]] = []
    usage: dict[tuple[int, str, datetime], list[float]] = {}
    for device, readings in batch:
        if not readings:
            continue
        assert device.id is not None
        ordered = sorted(readings, key=lambda r: r.ts)
        handlers = _handlers.get(device.kind, ())
        for reading in ordered:
            raw.append({"device_id": device.id, "ts": reading.ts, "values": reading.values})
            hour = _hour(reading.ts)
            for metric, value in reading.values.items():
                number = numeric(value)
                if number is None:
                    continue
                agg = usage.get((device.id, metric, hour))
                if agg is None:
                    usage[(device.id, metric, hour)] = [number, number, number, 1]
                else:
                    agg[0] = min(agg[0], number)
                    agg[1] = max(agg[1], number)
                    agg[2] += number
                    agg[3] += 1
            for handler in handlers:
                await handler(session, device, reading.ts, reading.values)
        # Evaluators see the device as it was before this batch (was it offline?).
        for evaluate in _evaluators:
            await evaluate(session, device, ordered, now)
        _apply_latest(device, ordered, now)
    if raw:
        # Core insert of the table: an executemany without the ORM's per-row bookkeeping.
        await session.execute(insert(DeviceReading.__table__), raw)  # type: ignore[attr-defined]
    if usage:
        await _fold_usage(session, usage)
    return len(raw)


def _apply_latest(device: Device, ordered: list[Reading], now: datetime) -> None:
    latest = dict(device.latest or {})
    latest_ms = latest.get("_ts", 0)
    for reading in ordered:
        ms = int(reading.ts.timestamp() * 1000)
        # A buffered old reading must not overwrite a newer value.
        if ms >= latest_ms:
            latest.update(reading.values)
            latest["_ts"] = latest_ms = ms
    device.latest = latest
    device.last_seen_at = now
    device.online = True


async def _fold_usage(
    session: AsyncSession, usage: dict[tuple[int, str, datetime], list[float]]
) -> None:
    rows = [
        {
            "device_id": device_id,
            "metric": metric,
            "hour": hour,
            "min_value": agg[0],
            "max_value": agg[1],
            "sum_value": agg[2],
            "count": int(agg[3]),
        }
        for (device_id, metric, hour), agg in sorted(usage.items())
    ]
    table = DeviceUsageHourly.__table__  # type: ignore[attr-defined]
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        pg = pg_insert(table)
        stmt: Any = pg.on_conflict_do_update(
            index_elements=["device_id", "metric", "hour"],
            set_={
                "min_value": func.least(table.c.min_value, pg.excluded.min_value),
                "max_value": func.greatest(table.c.max_value, pg.excluded.max_value),
                "sum_value": table.c.sum_value + pg.excluded.sum_value,
                "count": table.c.count + pg.excluded.count,
            },
        )
    else:
        lite = sqlite_insert(table)
        stmt = lite.on_conflict_do_update(
            index_elements=["device_id", "metric", "hour"],
            set_={
                "min_value": func.min(table.c.min_value, lite.excluded.min_value),
                "max_value": func.max(table.c.max_value, lite.excluded.max_value),
                "sum_value": table.c.sum_value + lite.excluded.sum_value,
                "count": table.c.count + lite.excluded.count,
            },
        )
    await session.execute(stmt, rows)
