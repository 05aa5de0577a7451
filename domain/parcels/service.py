"""Courier deposits, pickups with the code, desk hand-overs and 48-hour reminders."""

from __future__ import annotations

import hmac
import logging
import math
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import keys
from core.clock import utcnow
from core.errors import Conflict, Invalid, NotFound
from core.ids import encode_gid
from core.principal import Principal
from domain.accounts.models import Unit
from domain.accounts.repository import occupies
from domain.audit import service as audit
from domain.devices.commands import send_command
from domain.devices.models import Device
from domain.notifications.service import HIGH, notify
from domain.parcels import repository as repo
from domain.parcels.errors import CodeLocked, DepositRefused, WrongCode
from domain.parcels.models import LOCKER_KIND, LockerCompartment, Parcel

log = logging.getLogger("linli.parcels")

CATEGORY = "PARCEL"
MAX_ATTEMPTS = 5
LOCK_FOR = timedelta(minutes=15)
REMIND_AFTER = timedelta(hours=48)
CODE_DIGITS = 6


def code_digest(locker_id: int, code: str) -> str:
    """Keyed SM3 of the code, per locker: equal codes can be found and kept unique
    without storing them, and a database dump does not give them away."""
    return keys.cipher().blind_index(f"parcel-code:{locker_id}:{code}")


def _locker_name(device: Device) -> str:
    return device.location or device.code


async def deposit(
    session: AsyncSession,
    locker: Device,
    *,
    compartment: str,
    unit_label: str,
    carrier: str | None = None,
    tracking_number: str | None = None,
) -> tuple[Parcel, str]:
    """A courier put a parcel for `unit_label` into `compartment` of `locker`.

    Returns the parcel and its pickup code (the caller never stores or logs the code).
    A repeated event for the same compartment is refused as busy, so a duplicate
    delivery of the event creates nothing.
    """
    if locker.kind != LOCKER_KIND:
        raise DepositRefused("error.invalid")
    assert locker.id is not None
    comp = await session.scalar(
        select(LockerCompartment)
        .where(
            LockerCompartment.locker_id == locker.id,
            LockerCompartment.label == str(compartment)[:16],
        )
        .with_for_update()
    )
    if comp is None:
        raise DepositRefused("parcels.unknown_compartment", compartment=str(compartment)[:16])
    busy = await session.scalar(
        select(Parcel.id).where(Parcel.compartment_id == comp.id, Parcel.status == "WAITING")
    )
    if busy is not None:
        raise DepositRefused("parcels.compartment_busy", compartment=comp.label)
    unit = await session.scalar(
        select(Unit).where(
            Unit.community_id == locker.community_id, Unit.label == str(unit_label)[:50]
        )
    )
    if unit is None or unit.id is None:
        raise DepositRefused("parcels.unknown_unit", unit=str(unit_label)[:50])
    # Unguessable (secrets) and unique among the locker's waiting parcels; the partial
    # unique index is the final word if two deposits draw the same code at once.
    for _ in range(50):
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        digest = code_digest(locker.id, code)
        taken = await session.scalar(
            select(Parcel.id).where(
                Parcel.locker_id == locker.id,
                Parcel.code_digest == digest,
                Parcel.status == "WAITING",
            )
        )
        if taken is None:
            break
    else:  # pragma: no cover - a million codes against a few dozen compartments
        raise DepositRefused("error.invalid")
    assert comp.id is not None
    parcel = Parcel(
        community_id=locker.community_id,
        locker_id=locker.id,
        compartment_id=comp.id,
        unit_id=unit.id,
        carrier=(carrier or "").strip()[:40] or None,
        tracking_number=(tracking_number or "").strip()[:64] or None,
        code_digest=digest,
        code_enc=keys.cipher().encrypt(code),
    )
    session.add(parcel)
    await session.flush()
    assert parcel.id is not None
    await notify(
        session,
        user_ids=await repo.occupants(session, unit.id),
        category=CATEGORY,
        title_key="parcels.notify.deposit.title",
        body_key="parcels.notify.deposit.body",
        # The code itself is not put in the inbox: it shows in the app (myParcels).
        params={"carrier": parcel.carrier or "", "locker": _locker_name(locker)},
        data={"parcelId": encode_gid("Parcel", parcel.id)},
        # Personal news: respects quiet hours, not capped to one push an hour.
        severity=HIGH,
        community_id=locker.community_id,
    )
    return parcel, code


async def on_locker_reading(
    session: AsyncSession, device: Device, ts: datetime, values: dict[str, Any]
) -> None:
    """Device-ingest handler for PARCEL_LOCKER readings (MQTT or HTTP telemetry):
    `{"event": "deposit", "compartment": "A03", "unit": "1-101", "carrier": "...",
    "tracking": "..."}`. A refused deposit is logged and skipped: the rest of the batch
    still lands. Every check runs before anything is written."""
    if values.get("event") != "deposit":
        return
    try:
        await deposit(
            session,
            device,
            compartment=str(values.get("compartment", "")),
            unit_label=str(values.get("unit", "")),
            carrier=_text(values.get("carrier")),
            tracking_number=_text(values.get("tracking")),
        )
    except DepositRefused as exc:
        log.warning("deposit refused at %s: %s %s", device.code, exc.message_key, exc.params)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


async def collect(
    session: AsyncSession,
    principal: Principal,
    *,
    parcel_id: int,
    code: str,
    at_desk: bool,
) -> Parcel:
    """Pick up with the code: a resident of the parcel's unit in the app (the locker is
    told to open the compartment), or staff handing it over at the desk. Five wrong
    codes lock this parcel's code entry for 15 minutes."""
    parcel = await session.scalar(select(Parcel).where(Parcel.id == parcel_id).with_for_update())
    if parcel is None:
        raise NotFound(field=["input", "parcelId"])
    assert principal.user_id is not None
    allowed = (
        principal.is_staff(parcel.community_id)
        if at_desk
        else await occupies(session, principal.user_id, parcel.unit_id)
    )
    if not allowed:
        # Someone else's parcel: indistinguishable from a missing one, and no guess
        # is counted against it.
        raise NotFound(field=["input", "parcelId"])
    if parcel.status != "WAITING":
        raise Conflict("parcels.not_waiting", field=["input", "parcelId"])
    now = utcnow()
    if parcel.locked_until is not None and parcel.locked_until > now:
        minutes = math.ceil((parcel.locked_until - now).total_seconds() / 60)
        raise CodeLocked(field=["input", "code"], minutes=minutes)
    code = (code or "").strip()
    if len(code) != CODE_DIGITS or not code.isdigit():
        raise Invalid("parcels.code_format", field=["input", "code"])
    if not hmac.compare_digest(code_digest(parcel.locker_id, code), parcel.code_digest):
        attempts = parcel.failed_attempts + 1
        if attempts >= MAX_ATTEMPTS:
            parcel.failed_attempts = 0
            parcel.locked_until = now + LOCK_FOR
            session.add(parcel)
            await session.flush()
            raise CodeLocked(field=["input", "code"], minutes=int(LOCK_FOR.total_seconds() // 60))
        parcel.failed_attempts = attempts
        session.add(parcel)
        await session.flush()
        raise WrongCode(field=["input", "code"], left=MAX_ATTEMPTS - attempts)
    parcel.status = "HANDED_OVER" if at_desk else "PICKED_UP"
    parcel.collected_at = now
    parcel.collected_by = principal.user_id
    parcel.failed_attempts = 0
    parcel.locked_until = None
    session.add(parcel)
    await session.flush()
    assert parcel.id is not None
    comp = await session.get(LockerCompartment, parcel.compartment_id)
    locker = await session.get(Device, parcel.locker_id)
    assert comp is not None and locker is not None
    if not at_desk:
        # The compartment opens for the resident standing at the locker.
        await send_command(
            session,
            device_id=parcel.locker_id,
            name="open_compartment",
            params={"compartment": comp.label, "parcel": encode_gid("Parcel", parcel.id)},
        )
    audit.record(
        session,
        principal,
        "parcel.hand_over" if at_desk else "parcel.pick_up",
        community_id=parcel.community_id,
        target=f"Parcel:{parcel.id}",
    )
    # Everyone in the unit hears that it was collected (and would notice a stranger).
    await notify(
        session,
        user_ids=await repo.occupants(session, parcel.unit_id),
        category=CATEGORY,
        title_key="parcels.notify.collected.title",
        body_key="parcels.notify.collected.body",
        params={"locker": _locker_name(locker)},
        data={"parcelId": encode_gid("Parcel", parcel.id)},
        community_id=parcel.community_id,
        push=False,
    )
    return parcel


def pickup_code(parcel: Parcel) -> str:
    return keys.cipher().decrypt(parcel.code_enc)


async def remind_uncollected(session: AsyncSession, *, now: datetime, limit: int = 200) -> int:
    """Parcels waiting for 48 hours get one reminder to their unit. Rows are claimed
    with SKIP LOCKED and marked, so every instance may run the sweep."""
    due = list(
        await session.scalars(
            select(Parcel)
            .where(
                Parcel.status == "WAITING",
                Parcel.reminder_sent_at.is_(None),  # type: ignore[union-attr]
                Parcel.deposited_at <= now - REMIND_AFTER,  # type: ignore[operator]
            )
            .order_by(Parcel.deposited_at, Parcel.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    for parcel in due:
        assert parcel.id is not None
        locker = await session.get(Device, parcel.locker_id)
        parcel.reminder_sent_at = now
        session.add(parcel)
        await notify(
            session,
            user_ids=await repo.occupants(session, parcel.unit_id),
            category=CATEGORY,
            title_key="parcels.notify.reminder.title",
            body_key="parcels.notify.reminder.body",
            params={"locker": _locker_name(locker) if locker else ""},
            data={"parcelId": encode_gid("Parcel", parcel.id)},
            community_id=parcel.community_id,
        )
    await session.flush()
    return len(due)
