"""Bill rules: tariffs, issuing, paying (online and at the office), settling, refunds
following, reminders and the overdue sweep.

"Never paid twice" is kept by the database: a bill is claimed for a payment with one
conditional UPDATE (`status IN (UNPAID, OVERDUE) AND locked_payment_id IS NULL`), so of
concurrent payments exactly one gets it and the others see zero rows; CHECK constraints
tie PROCESSING to the lock and PAID to the paying payment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.errors import Forbidden
from core.money import Money
from core.principal import Principal
from domain.accounts.models import Community
from domain.audit import service as audit
from domain.bills import repository as repo
from domain.bills import tariff as pricing
from domain.bills.errors import AlreadyPaid, BadRequest, BeingPaid, BillNotFound, BillVoid
from domain.bills.models import (
    BY_AREA,
    METERED,
    PAYABLE,
    USAGE_UNIT,
    Bill,
    BillKind,
    BillLine,
    BillPayment,
    BillStatus,
    Tariff,
    TariffBand,
)
from domain.notifications.service import notify
from domain.payments import service as payments
from domain.payments.models import Payment

PURPOSE = "BILLS"
MAX_BILLS_PER_PAYMENT = 50
MAX_LINES_PER_ISSUE = 1000
# Per bill: 200,000 yuan. Fifty of them still fit one payment's 32-bit amount.
MAX_BILL_AMOUNT = 20_000_000
REMIND_DAYS_BEFORE = 3
_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


# ---------------------------------------------------------------- tariffs
@dataclass(frozen=True)
class BandInput:
    up_to: float | None
    unit_price: str


async def set_tariff(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int,
    kind: BillKind,
    bands: Sequence[BandInput] = (),
    price_per_m2: str | None = None,
) -> tuple[Tariff, list[TariffBand]]:
    """Replace the community's tariff for one kind (staff). Bills already issued keep
    the prices they were issued with."""
    if not principal.is_staff(community_id):
        raise Forbidden()
    community = await repo.community(session, community_id)
    assert community is not None
    parsed: list[pricing.Band] = []
    per_m2: int | None = None
    try:
        if kind in METERED:
            for i, b in enumerate(bands):
                up = None if b.up_to is None else pricing.parse_quantity_milli(b.up_to)
                try:
                    price = pricing.parse_price_centi_minor(b.unit_price)
                except ValueError:
                    raise BadRequest(
                        "bills.price_invalid", field=["input", "bands", str(i), "unitPrice"]
                    ) from None
                parsed.append(pricing.Band(up, price))
            pricing.validate_bands(parsed)
        elif kind in BY_AREA:
            if price_per_m2 is None:
                raise BadRequest("bills.price_invalid", field=["input", "pricePerM2"])
            try:
                per_m2 = pricing.parse_price_centi_minor(price_per_m2)
            except ValueError:
                raise BadRequest("bills.price_invalid", field=["input", "pricePerM2"]) from None
        else:
            raise BadRequest("bills.amount_required", field=["input", "kind"])
    except ValueError as exc:
        raise BadRequest("bills.bands_invalid", field=["input", "bands"], reason=str(exc)) from None
    tariff, old = await repo.tariff_with_bands(session, community_id, kind)
    now = utcnow()
    if tariff is None:
        tariff = Tariff(community_id=community_id, kind=kind, currency=community.currency)
        session.add(tariff)
    for band in old:
        await session.delete(band)
    tariff.per_m2_centi_minor = per_m2
    tariff.updated_at = now
    tariff.updated_by = principal.user_id
    await session.flush()
    rows = [
        TariffBand(
            tariff_id=tariff.id,  # type: ignore[arg-type]
            position=i,
            up_to_milli=b.up_to_milli,
            unit_price_centi_minor=b.unit_price_centi_minor,
        )
        for i, b in enumerate(parsed)
    ]
    session.add_all(rows)
    await session.flush()
    audit.record(
        session, principal, "bills.set_tariff", community_id=community_id, target=f"Tariff:{kind}"
    )
    return tariff, rows


# ---------------------------------------------------------------- issuing
@dataclass(frozen=True)
class IssueLine:
    unit_id: int
    usage: float | None
    amount_minor: int | None


def _priced_lines(
    kind: BillKind,
    line: IssueLine,
    area_centi_m2: int,
    tariff: Tariff | None,
    bands: list[TariffBand],
    period: str,
    field: list[str],
) -> tuple[list[dict[str, Any]], int | None]:
    """Line items (as BillLine values) and the usage in thousandths."""
    if line.usage is not None and line.amount_minor is not None:
        raise BadRequest("bills.line_amount", field=field)
    if line.amount_minor is not None:
        if line.amount_minor < 0:
            raise BadRequest("payments.amount_invalid", field=[*field, "amountMinor"])
        return [
            {
                "description_key": "bills.line.amount",
                "params": {"kind": kind.value, "period": period},
                "quantity_milli": None,
                "unit": None,
                "amount_minor": line.amount_minor,
            }
        ], None
    if kind in METERED:
        if line.usage is None:
            raise BadRequest("bills.line_amount", field=field)
        try:
            usage = pricing.parse_quantity_milli(line.usage)
        except ValueError:
            raise BadRequest("bills.usage_invalid", field=[*field, "usage"]) from None
        if tariff is None or not bands:
            raise BadRequest("bills.no_tariff", field=["input", "kind"])
        priced = pricing.price_tiered(
            [pricing.Band(b.up_to_milli, b.unit_price_centi_minor) for b in bands], usage
        )
        unit = USAGE_UNIT[kind]
        return [
            {
                "description_key": "bills.line.band"
                if p.to_milli is not None
                else "bills.line.band_top",
                "params": {
                    "band": p.band,
                    "from_": pricing.format_quantity(p.from_milli),
                    "to": pricing.format_quantity(p.to_milli) if p.to_milli is not None else "",
                    "unit": unit,
                    "price": pricing.format_price(p.unit_price_centi_minor),
                },
                "quantity_milli": p.quantity_milli,
                "unit": unit,
                "amount_minor": p.amount_minor,
            }
            for p in priced
        ], usage
    if kind in BY_AREA:
        if line.usage is not None:
            raise BadRequest("bills.line_amount", field=[*field, "usage"])
        if tariff is None or tariff.per_m2_centi_minor is None:
            raise BadRequest("bills.no_tariff", field=["input", "kind"])
        return [
            {
                "description_key": "bills.line.area",
                "params": {
                    "area": pricing.format_quantity(area_centi_m2 * 10),
                    "price": pricing.format_price(tariff.per_m2_centi_minor),
                },
                "quantity_milli": area_centi_m2 * 10,
                "unit": "m²",
                "amount_minor": pricing.price_by_area(area_centi_m2, tariff.per_m2_centi_minor),
            }
        ], None
    raise BadRequest("bills.amount_required", field=[*field, "amountMinor"])


async def issue_bills(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int,
    kind: BillKind,
    period: str,
    due_date: date,
    lines: Sequence[IssueLine],
) -> int:
    """Issue one bill per line; a unit that already has this kind and period is left
    as it is (idempotent, enforced by the unique constraint). Returns how many were new."""
    if not principal.is_staff(community_id):
        raise Forbidden()
    if not _PERIOD.match(period):
        raise BadRequest("bills.period", field=["input", "period"])
    if not 1 <= len(lines) <= MAX_LINES_PER_ISSUE:
        raise BadRequest("bills.lines_count", field=["input", "lines"], max=MAX_LINES_PER_ISSUE)
    community = await repo.community(session, community_id)
    assert community is not None
    units = await repo.units_in_community(session, community_id, [ln.unit_id for ln in lines])
    seen: set[int] = set()
    for i, ln in enumerate(lines):
        if ln.unit_id not in units or ln.unit_id in seen:
            raise BadRequest("bills.unit_invalid", field=["input", "lines", str(i), "unitId"])
        seen.add(ln.unit_id)
    tariff, bands = await repo.tariff_with_bands(session, community_id, kind)
    priced = [
        _priced_lines(
            kind,
            ln,
            units[ln.unit_id].area_centi_m2,
            tariff,
            bands,
            period,
            ["input", "lines", str(i)],
        )
        for i, ln in enumerate(lines)
    ]
    now = utcnow()
    values = []
    for i, (ln, (items, usage)) in enumerate(zip(lines, priced, strict=True)):
        amount = sum(int(it["amount_minor"]) for it in items)
        if amount > MAX_BILL_AMOUNT:
            raise BadRequest("bills.amount_too_large", field=["input", "lines", str(i)])
        values.append(
            {
                "community_id": community_id,
                "unit_id": ln.unit_id,
                "kind": kind.value,
                "period": period,
                "amount_minor": amount,
                "currency": community.currency,
                "due_date": due_date,
                # Nothing to pay (zero usage): settled from the start.
                "status": BillStatus.UNPAID.value if amount > 0 else BillStatus.PAID.value,
                "paid_at": None if amount > 0 else now,
                "usage_milli": usage,
                "issued_at": now,
                "issued_by": principal.user_id,
            }
        )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = await session.execute(
        insert(Bill)
        .values(values)
        .on_conflict_do_nothing(index_elements=["unit_id", "kind", "period"])
        .returning(Bill.id, Bill.unit_id)  # type: ignore[arg-type]
    )
    created = {unit_id: bill_id for bill_id, unit_id in result.all()}
    by_unit = {ln.unit_id: items for ln, (items, _) in zip(lines, priced, strict=True)}
    session.add_all(
        BillLine(bill_id=bill_id, position=pos, **item)
        for unit_id, bill_id in created.items()
        for pos, item in enumerate(by_unit[unit_id])
    )
    await session.flush()
    audit.record(
        session,
        principal,
        "bills.issue",
        community_id=community_id,
        target=f"{kind.value}:{period}",
        issued=len(created),
    )
    return len(created)


# ---------------------------------------------------------------- paying
async def _payable_bills(
    session: AsyncSession, principal: Principal, bill_ids: Sequence[int]
) -> list[Bill]:
    assert principal.user_id is not None
    ids = list(dict.fromkeys(bill_ids))
    if not ids:
        raise BillNotFound(field=["input", "billIds"])
    if len(ids) > MAX_BILLS_PER_PAYMENT:
        raise BadRequest("bills.too_many", field=["input", "billIds"], max=MAX_BILLS_PER_PAYMENT)
    rows = list(
        await session.scalars(
            select(Bill)
            .where(
                Bill.id.in_(ids),  # type: ignore[union-attr]
                Bill.unit_id.in_(repo.payable_unit_ids(principal.user_id)),  # type: ignore[attr-defined]
            )
            .order_by(Bill.id)
        )
    )
    if len(rows) != len(ids):
        # Bills of other units are simply not found: existence is not revealed.
        raise BillNotFound(field=["input", "billIds"])
    return rows


def _check_open(bills: Sequence[Bill]) -> None:
    if any(b.status == BillStatus.VOID for b in bills):
        raise BillVoid(field=["input", "billIds"])
    if any(b.status == BillStatus.PAID for b in bills):
        raise AlreadyPaid(field=["input", "billIds"])
    if any(b.status == BillStatus.PROCESSING for b in bills):
        raise BeingPaid(field=["input", "billIds"])


async def _claim(session: AsyncSession, bill_ids: list[int], values: dict[str, Any]) -> None:
    """Claim all the bills for one payment, or none (the caller rolls back)."""
    result = await session.execute(
        update(Bill)
        .where(
            Bill.id.in_(bill_ids),  # type: ignore[union-attr]
            Bill.status.in_(PAYABLE),  # type: ignore[attr-defined]
            Bill.locked_payment_id.is_(None),  # type: ignore[union-attr]
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != len(bill_ids):  # type: ignore[attr-defined]
        # Lost the race: a concurrent payment (now committed) took some of them.
        fresh = list(
            await session.scalars(
                select(Bill.status).where(Bill.id.in_(bill_ids))  # type: ignore[union-attr]
            )
        )
        if BillStatus.PAID in fresh:
            raise AlreadyPaid(field=["input", "billIds"])
        raise BeingPaid(field=["input", "billIds"])


def _one_community(bills: Sequence[Bill]) -> tuple[int, str]:
    if len({(b.community_id, b.currency) for b in bills}) != 1:
        raise BadRequest("bills.mixed", field=["input", "billIds"])
    return bills[0].community_id, bills[0].currency


async def pay_bills(
    session: AsyncSession, principal: Principal, *, bill_ids: Sequence[int], idempotency_key: str
) -> Payment:
    """One payment for several bills of units the viewer may pay for. The bills go
    PROCESSING (locked to this payment) now, PAID only when Stripe says so."""
    if principal.user_id is None:
        raise Forbidden()
    key = payments.check_key(idempotency_key)
    bills = await _payable_bills(session, principal, bill_ids)
    community_id, currency = _one_community(bills)
    ids = [b.id for b in bills if b.id is not None]
    if await payments.find_by_key(session, principal.user_id, key) is None:
        # A retry of an earlier request skips this and gets its first answer.
        _check_open(bills)
    payment, created = await payments.begin_payment(
        session,
        principal,
        community_id=community_id,
        purpose=PURPOSE,
        amount_minor=sum(b.amount_minor for b in bills),
        currency=currency,
        idempotency_key=key,
        metadata={"bill_ids": ids},
        description=f"Linli bills {','.join(str(i) for i in ids)}",
    )
    if not created:
        return payment
    await _claim(
        session,
        ids,
        {"status": BillStatus.PROCESSING.value, "locked_payment_id": payment.id},
    )
    session.add_all(
        BillPayment(payment_id=payment.id, bill_id=b.id, amount_minor=b.amount_minor)  # type: ignore[arg-type]
        for b in bills
    )
    await session.flush()
    return payment


async def record_offline_payment(
    session: AsyncSession,
    principal: Principal,
    *,
    bill_ids: Sequence[int],
    receipt_number: str,
    idempotency_key: str,
) -> Payment:
    """Cash or transfer taken at the office (staff): the bills are PAID at once."""
    receipt = receipt_number.strip()
    if not 1 <= len(receipt) <= 64:
        raise BadRequest("bills.receipt_required", field=["input", "receiptNumber"])
    ids = list(dict.fromkeys(bill_ids))
    if not ids or len(ids) > MAX_BILLS_PER_PAYMENT:
        raise BillNotFound(field=["input", "billIds"])
    staff_of = [c for c in principal.community_ids if principal.is_staff(c)]
    bills = list(
        await session.scalars(
            select(Bill)
            .where(Bill.id.in_(ids), Bill.community_id.in_(staff_of))  # type: ignore[union-attr,attr-defined]
            .order_by(Bill.id)
        )
    )
    if len(bills) != len(ids):
        raise BillNotFound(field=["input", "billIds"])
    community_id, currency = _one_community(bills)
    key = payments.check_key(idempotency_key)
    assert principal.user_id is not None
    if await payments.find_by_key(session, principal.user_id, key) is None:
        _check_open(bills)
    payment, created = await payments.record_offline_payment(
        session,
        principal,
        community_id=community_id,
        purpose=PURPOSE,
        amount_minor=sum(b.amount_minor for b in bills),
        currency=currency,
        receipt_number=receipt,
        idempotency_key=key,
        metadata={"bill_ids": [b.id for b in bills]},
    )
    if not created:
        return payment
    now = utcnow()
    await _claim(
        session,
        [b.id for b in bills if b.id is not None],
        {"status": BillStatus.PAID.value, "paid_payment_id": payment.id, "paid_at": now},
    )
    session.add_all(
        BillPayment(payment_id=payment.id, bill_id=b.id, amount_minor=b.amount_minor)  # type: ignore[arg-type]
        for b in bills
    )
    await session.flush()
    payers = await repo.payer_ids_of_units(session, [b.unit_id for b in bills])
    await _receipt(session, payment, {u for s in payers.values() for u in s}, len(bills))
    return payment


async def _receipt(session: AsyncSession, payment: Payment, user_ids: set[int], count: int) -> None:
    if not user_ids:
        return
    await notify(
        session,
        user_ids=user_ids,
        category="BILLS",
        title_key="bills.notice.paid_title",
        body_key="bills.notice.paid_body",
        params={
            "count": count,
            "amount": Money(payment.amount_minor, payment.currency).formatted(),
        },
        data={"payment_id": payment.id},
        community_id=payment.community_id,
    )


async def void_bill(
    session: AsyncSession, principal: Principal, *, bill_id: int, reason: str | None
) -> Bill:
    """Staff cancel a bill issued in error. Only an unpaid one; voiding twice is a no-op."""
    bill = await session.scalar(
        select(Bill)
        .where(Bill.id == bill_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if bill is None or not principal.is_staff(bill.community_id):
        raise BillNotFound(field=["input", "billId"])
    if bill.status == BillStatus.VOID:
        return bill
    if bill.status == BillStatus.PAID:
        raise AlreadyPaid(field=["input", "billId"])
    if bill.status == BillStatus.PROCESSING:
        raise BeingPaid(field=["input", "billId"])
    bill.status = BillStatus.VOID
    audit.record(
        session,
        principal,
        "bills.void",
        community_id=bill.community_id,
        target=f"Bill:{bill.id}",
        reason=(reason or "")[:500],
    )
    await session.flush()
    return bill


# ---------------------------------------------------------------- settling
async def settle_bills(session: AsyncSession, payment: Payment, outcome: str) -> bool | None:
    """The payments core's handler for purpose BILLS (same transaction as the payment)."""
    assert payment.id is not None
    bills = await repo.bills_of_payment(session, payment.id, lock=True)
    now = utcnow()
    today = await repo.local_today(session, payment.community_id)
    if outcome == payments.SUCCEEDED:
        held = all(b.locked_payment_id == payment.id for b in bills)
        if not held and not all(
            b.locked_payment_id == payment.id
            or (b.status in PAYABLE and b.locked_payment_id is None)
            for b in bills
        ):
            # A late success for bills paid meanwhile by someone else: refund it.
            return False
        for b in bills:
            b.status = BillStatus.PAID
            b.paid_payment_id = payment.id
            b.locked_payment_id = None
            b.paid_at = now
        await _receipt(session, payment, {payment.payer_user_id}, len(bills))
        return True
    if outcome == payments.FAILED:
        for b in bills:
            if b.locked_payment_id == payment.id:
                b.locked_payment_id = None
                b.status = BillStatus.OVERDUE if b.due_date < today else BillStatus.UNPAID
        return None
    if outcome == payments.REFUNDED:
        back = [b for b in bills if b.paid_payment_id == payment.id]
        for b in back:
            b.paid_payment_id = None
            b.paid_at = None
            b.status = BillStatus.OVERDUE if b.due_date < today else BillStatus.UNPAID
        if back:
            await notify(
                session,
                user_ids=[payment.payer_user_id],
                category="BILLS",
                title_key="bills.notice.refund_title",
                body_key="bills.notice.refund_body",
                params={"amount": Money(payment.amount_minor, payment.currency).formatted()},
                data={"payment_id": payment.id},
                community_id=payment.community_id,
            )
    return None


payments.register_settlement_handler(PURPOSE, settle_bills)


# ---------------------------------------------------------------- sweeps
async def _communities(session: AsyncSession) -> list[tuple[int, str]]:
    rows = await session.execute(select(Community.id, Community.time_zone))
    return [(cid, tz) for cid, tz in rows.all()]


async def _tell(session: AsyncSession, bills: list[Bill], which: str) -> None:
    payers = await repo.payer_ids_of_units(session, [b.unit_id for b in bills])
    labels = await repo.unit_labels(session, [b.unit_id for b in bills])
    from core import i18n

    for b in bills:
        users = payers.get(b.unit_id, set())
        if not users:
            continue
        await notify(
            session,
            user_ids=users,
            category="BILLS",
            title_key=f"bills.notice.{which}_title",
            body_key=f"bills.notice.{which}_body",
            params={
                "unit": labels.get(b.unit_id, ""),
                "period": b.period,
                "kind_zh": i18n.translate(f"bills.kind.{b.kind}", "zh-CN"),
                "kind_en": i18n.translate(f"bills.kind.{b.kind}", "en"),
                "amount": Money(b.amount_minor, b.currency).formatted(),
                "due": b.due_date.isoformat(),
            },
            data={"bill_id": b.id},
            community_id=b.community_id,
        )


async def sweep_overdue(session: AsyncSession, *, now: datetime) -> int:
    """UNPAID bills past their due date (in the community's calendar) become OVERDUE,
    and their payers hear about it once."""
    count = 0
    for community_id, tz in await _communities(session):
        today = now.astimezone(ZoneInfo(tz)).date()
        bills = list(
            await session.scalars(
                select(Bill)
                .where(
                    Bill.community_id == community_id,
                    Bill.status == BillStatus.UNPAID,
                    Bill.due_date < today,
                )
                .order_by(Bill.id)
                .limit(2000)
                .with_for_update(skip_locked=True)
            )
        )
        for b in bills:
            b.status = BillStatus.OVERDUE
            b.overdue_reminded_at = now
        await session.flush()
        await _tell(session, bills, "overdue")
        count += len(bills)
    return count


async def send_due_reminders(session: AsyncSession, *, now: datetime) -> int:
    """One reminder per bill, three days before it is due."""
    count = 0
    for community_id, tz in await _communities(session):
        today = now.astimezone(ZoneInfo(tz)).date()
        bills = list(
            await session.scalars(
                select(Bill)
                .where(
                    Bill.community_id == community_id,
                    Bill.status == BillStatus.UNPAID,
                    Bill.due_reminded_at.is_(None),  # type: ignore[union-attr]
                    Bill.due_date >= today,
                    Bill.due_date <= today + timedelta(days=REMIND_DAYS_BEFORE),
                )
                .order_by(Bill.id)
                .limit(2000)
                .with_for_update(skip_locked=True)
            )
        )
        for b in bills:
            b.due_reminded_at = now
        await session.flush()
        await _tell(session, bills, "due")
        count += len(bills)
    return count
