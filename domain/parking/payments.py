"""Paying for a stay or a charge, and what a settled payment does: the stay is paid
until the instant it was priced at, the gate of the lane where the car waits opens, the
driver is told, and income from common-area spaces goes to the COMMON_INCOME ledger.

Exactly one payment per stay and amount, also under concurrent taps: the stay's row is
locked (FOR UPDATE on PostgreSQL; SQLite serialises writers) before looking for a
payment in flight, and the payer's idempotency key is unique (domain.payments).
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.errors import Forbidden
from core.money import Money
from core.principal import Principal, Role
from domain.ledger.service import post_common_income
from domain.notifications.service import notify
from domain.parking import repository as repo
from domain.parking.errors import (
    AlreadyPaid,
    ChargingNotFound,
    IdempotencyKeyOtherTarget,
    NothingDue,
    SessionClosed,
)
from domain.parking.events import open_gate
from domain.parking.models import (
    PAID,
    ChargingSession,
    EvCharger,
    ParkingPayment,
    ParkingSession,
)
from domain.parking.service import quote_session, visible_session
from domain.payments.models import OPEN_STATUSES, Payment
from domain.payments.service import (
    FAILED,
    REFUNDED,
    SUCCEEDED,
    check_key,
    find_by_key,
    register_settlement_handler,
    start_payment,
)

log = logging.getLogger("linli.parking.payments")

PARKING = "PARKING"
EV_CHARGING = "EV_CHARGING"
PENDING = "PENDING"


async def _link_of_key(
    session: AsyncSession, principal: Principal, key: str
) -> tuple[Payment, ParkingPayment | None] | None:
    assert principal.user_id is not None
    payment = await find_by_key(session, principal.user_id, key)
    if payment is None:
        return None
    link = await session.scalar(
        select(ParkingPayment).where(ParkingPayment.payment_id == payment.id)
    )
    return payment, link


async def pay_parking(
    session: AsyncSession, principal: Principal, *, session_id: int, idempotency_key: str
) -> Payment:
    """Start paying what the stay owes now (see tariff.charge)."""
    if principal.user_id is None:
        raise Forbidden()
    key = check_key(idempotency_key)
    # Locked first: concurrent payments for this stay queue here.
    stay = await visible_session(session, principal, session_id, lock=True)
    earlier = await _link_of_key(session, principal, key)
    if earlier is not None:
        payment, link = earlier
        if link is None or link.parking_session_id != stay.id:
            raise IdempotencyKeyOtherTarget(field=["input", "idempotencyKey"])
        return payment  # a retry of the same request
    if stay.exited_at is not None:
        raise SessionClosed(field=["input", "sessionId"])
    now = utcnow()
    quote = await quote_session(session, stay, now=now)
    if quote.due_minor <= 0:
        if quote.charge.grace_until is not None:
            left = max(0, int((quote.charge.grace_until - now).total_seconds() // 60))
            raise AlreadyPaid(field=["input", "sessionId"], minutes=left)
        raise NothingDue(field=["input", "sessionId"])
    # A payment of this payer for this amount still in flight (a second tap with a new
    # key): the same payment, not a second charge.
    in_flight = await session.scalar(
        select(Payment)
        .join(ParkingPayment, ParkingPayment.payment_id == Payment.id)
        .where(
            ParkingPayment.parking_session_id == stay.id,
            ParkingPayment.payer_user_id == principal.user_id,
            ParkingPayment.amount_minor == quote.due_minor,
            Payment.status.in_([s.value for s in OPEN_STATUSES]),  # type: ignore[attr-defined]
        )
        .order_by(Payment.id.desc())  # type: ignore[union-attr]
        .limit(1)
    )
    if in_flight is not None:
        return in_flight
    payment = await start_payment(
        session,
        principal,
        community_id=stay.community_id,
        purpose=PARKING,
        amount_minor=quote.due_minor,
        currency=stay.currency,
        idempotency_key=key,
        metadata={"parking_session_id": stay.id, "plate": stay.plate},
    )
    session.add(
        ParkingPayment(
            payment_id=payment.id or 0,
            parking_session_id=stay.id,
            payer_user_id=principal.user_id,
            amount_minor=quote.due_minor,
            priced_at=now,
            paid_before_minor=stay.paid_minor,
        )
    )
    await session.flush()
    return payment


async def _lock_link(session: AsyncSession, payment_id: int | None) -> ParkingPayment | None:
    return await session.scalar(
        select(ParkingPayment).where(ParkingPayment.payment_id == payment_id).with_for_update()
    )


async def settle_parking(session: AsyncSession, payment: Payment, outcome: str) -> bool | None:
    """Settlement handler for "PARKING" (runs in the webhook's transaction)."""
    link = await _lock_link(session, payment.id)
    if link is None or link.parking_session_id is None:
        log.error("parking payment %s has no stay", payment.id)
        return None
    stay = await repo.parking_session(session, link.parking_session_id, lock=True)
    assert stay is not None
    if outcome == FAILED:
        if link.status == PENDING:
            link.status = FAILED
            session.add(link)
        return None
    if outcome == REFUNDED:
        if link.status == SUCCEEDED and stay.exited_at is None:
            stay.paid_minor = max(0, stay.paid_minor - link.amount_minor)
            session.add(stay)
        link.status = REFUNDED
        session.add(link)
        return None
    if outcome != SUCCEEDED:
        return None
    if link.status == SUCCEEDED:
        return True
    lot, tariff_row = await repo.lot_and_tariff(session, stay.lot_id)
    if stay.exited_at is not None or stay.paid_minor > link.paid_before_minor:
        # The car has left, or another payment already covered this: give it back.
        link.status = REFUNDED
        session.add(link)
        return False
    stay.paid_minor += link.amount_minor
    if stay.paid_until is None or link.priced_at > stay.paid_until:
        stay.paid_until = link.priced_at
    stay.status = PAID
    link.status = SUCCEEDED
    session.add_all([stay, link])
    await session.flush()
    lane = await repo.waiting_lane(session, stay.id or 0, since=stay.entered_at)
    if lane is not None:
        await open_gate(session, lane, parking_session_id=stay.id, reason="paid")
    grace = tariff_row.grace_minutes
    amount = Money(link.amount_minor, stay.currency).formatted()
    recipients = {link.payer_user_id}
    vehicle = await repo.resident_vehicle(session, stay.community_id, stay.plate)
    if vehicle is not None:
        recipients.add(vehicle.owner_user_id)
    recipients |= set(
        await repo.visitor_hosts(session, stay.community_id, stay.plate, now=utcnow())
    )
    await notify(
        session,
        user_ids=recipients,
        category="PARKING",
        title_key="parking.notify.paid.title",
        body_key="parking.notify.paid.body",
        params={"plate": stay.plate, "amount": amount, "grace": grace},
        data={"parkingSessionId": str(stay.id), "paymentId": str(payment.id)},
        community_id=stay.community_id,
    )
    if lot.common_area:
        entry = await post_common_income(
            session,
            community_id=stay.community_id,
            amount_minor=link.amount_minor,
            category="parking",
            description=f"临时停车费 Parking {stay.plate} ({lot.name})",
            idempotency_key=f"parking-payment-{payment.id}",
        )
        link.ledger_entry_id = entry.id
        session.add(link)
    await session.flush()
    return True


# ---------------------------------------------------------------- EV charging
async def visible_charge(
    session: AsyncSession, principal: Principal, charge_id: int, *, lock: bool = False
) -> ChargingSession:
    stmt = select(ChargingSession).where(ChargingSession.id == charge_id)
    if lock:
        stmt = stmt.with_for_update()
    row = await session.scalar(stmt)
    if row is None or not (
        row.user_id == principal.user_id
        or principal.has_role(row.community_id, Role.STAFF, Role.MANAGER)
    ):
        raise ChargingNotFound(field=["input", "chargingSessionId"])
    return row


async def pay_charging(
    session: AsyncSession, principal: Principal, *, charging_session_id: int, idempotency_key: str
) -> Payment:
    if principal.user_id is None:
        raise Forbidden()
    key = check_key(idempotency_key)
    charge_row = await visible_charge(session, principal, charging_session_id, lock=True)
    earlier = await _link_of_key(session, principal, key)
    if earlier is not None:
        payment, link = earlier
        if link is None or link.charging_session_id != charge_row.id:
            raise IdempotencyKeyOtherTarget(field=["input", "idempotencyKey"])
        return payment
    if charge_row.status == "CHARGING":
        raise NothingDue("parking.charging.not_finished", field=["input", "chargingSessionId"])
    if charge_row.status == PAID:
        raise AlreadyPaid(
            "parking.charging.already_paid", field=["input", "chargingSessionId"], minutes=0
        )
    in_flight = await session.scalar(
        select(Payment)
        .join(ParkingPayment, ParkingPayment.payment_id == Payment.id)
        .where(
            ParkingPayment.charging_session_id == charge_row.id,
            Payment.status.in_([s.value for s in OPEN_STATUSES]),  # type: ignore[attr-defined]
        )
        .limit(1)
    )
    if in_flight is not None and in_flight.payer_user_id == principal.user_id:
        return in_flight
    payment = await start_payment(
        session,
        principal,
        community_id=charge_row.community_id,
        purpose=EV_CHARGING,
        amount_minor=charge_row.amount_minor,
        currency=charge_row.currency,
        idempotency_key=key,
        metadata={"charging_session_id": charge_row.id},
    )
    session.add(
        ParkingPayment(
            payment_id=payment.id or 0,
            charging_session_id=charge_row.id,
            payer_user_id=principal.user_id,
            amount_minor=charge_row.amount_minor,
            priced_at=utcnow(),
        )
    )
    await session.flush()
    return payment


async def settle_charging(session: AsyncSession, payment: Payment, outcome: str) -> bool | None:
    """Settlement handler for "EV_CHARGING"."""
    link = await _lock_link(session, payment.id)
    if link is None or link.charging_session_id is None:
        return None
    row = await session.scalar(
        select(ChargingSession)
        .where(ChargingSession.id == link.charging_session_id)
        .with_for_update()
    )
    assert row is not None
    if outcome == FAILED:
        if link.status == PENDING:
            link.status = FAILED
        session.add(link)
        return None
    if outcome == REFUNDED:
        if link.status == SUCCEEDED:
            row.status = "UNPAID"
            row.paid_at = None
            session.add(row)
        link.status = REFUNDED
        session.add(link)
        return None
    if outcome != SUCCEEDED:
        return None
    if link.status == SUCCEEDED:
        return True
    if row.status == PAID:
        link.status = REFUNDED  # paid meanwhile by another payment
        session.add(link)
        return False
    row.status = PAID
    row.paid_at = utcnow()
    link.status = SUCCEEDED
    session.add_all([row, link])
    charger = await session.get(EvCharger, row.charger_id)
    await notify(
        session,
        user_ids={link.payer_user_id},
        category="PARKING",
        title_key="parking.notify.charging_paid.title",
        body_key="parking.notify.charging_paid.body",
        params={
            "charger": charger.name if charger is not None else "",
            "amount": Money(link.amount_minor, row.currency).formatted(),
        },
        data={"chargingSessionId": str(row.id), "paymentId": str(payment.id)},
        community_id=row.community_id,
    )
    await session.flush()
    return True


def register() -> None:
    register_settlement_handler(PARKING, settle_parking)
    register_settlement_handler(EV_CHARGING, settle_charging)


__all__ = ["ParkingSession", "pay_charging", "pay_parking", "register"]
