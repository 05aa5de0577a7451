"""Payment rules shared by every purpose (bills, parking, EV charging).

A payment is created in the caller's transaction; the provider is called only after
that transaction commits (no network call holds database locks, and a rolled-back
request leaves nothing at the provider). The payment becomes SUCCEEDED only from the
provider's own word: a verified webhook or the reconciliation job, both of which
re-read the PaymentIntent, so events may arrive late, twice or out of order.
Each purpose registers a settlement handler that moves its own rows (bills, parking
sessions) in the same transaction as the payment.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import keys
from core.clock import utcnow
from core.db import Database, database_of, on_commit
from core.errors import Forbidden
from core.principal import Principal
from domain.audit import service as audit
from domain.payments import ports
from domain.payments.errors import (
    AmountInvalid,
    BadIdempotencyKey,
    IdempotencyKeyReused,
    NotRefundable,
    PaymentNotFound,
    PaymentUnavailable,
    RefundReasonTooLong,
    RefundTooLarge,
)
from domain.payments.models import (
    OPEN_STATUSES,
    Payment,
    PaymentRefund,
    PaymentStatus,
    ReconciliationEntry,
    WebhookEvent,
)
from domain.payments.ports import IntentState, PaymentProvider, ProviderError, ProviderEvent

log = logging.getLogger("linli.payments")

SUCCEEDED, FAILED, REFUNDED = ports.SUCCEEDED, ports.FAILED, ports.REFUNDED
# Amounts are 32-bit in the database (21 million yuan); no payment comes near it.
MAX_AMOUNT_MINOR = 2**31 - 1

# `fn(session, payment, outcome)`; outcome is SUCCEEDED, FAILED or REFUNDED. For
# SUCCEEDED a handler returns False when it cannot deliver (e.g. the bills were paid
# meanwhile by another payment): the payment is then refunded in full automatically.
SettlementHandler = Callable[[AsyncSession, Payment, str], Awaitable[bool | None]]
_handlers: dict[str, SettlementHandler] = {}


def register_settlement_handler(purpose: str, fn: SettlementHandler) -> None:
    _handlers[purpose] = fn


class _Providers:
    current: PaymentProvider | None = None


def use_provider(provider: PaymentProvider | None) -> None:
    """Set by the composition root (Stripe when its key is set, else offline)."""
    _Providers.current = provider


def installed_provider() -> PaymentProvider | None:
    return _Providers.current


def current_provider() -> PaymentProvider:
    if _Providers.current is None:
        raise PaymentUnavailable()
    return _Providers.current


# ---------------------------------------------------------------- starting a payment
def _fingerprint(**parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def provider_idempotency_key(payment: Payment) -> str:
    """Our idempotency key as sent to the provider, scoped by payer so that two users'
    keys never collide there."""
    return f"linli-{payment.payer_user_id}-{payment.idempotency_key}"


async def find_by_key(session: AsyncSession, payer_user_id: int, key: str) -> Payment | None:
    row: Payment | None = await session.scalar(
        select(Payment).where(
            Payment.payer_user_id == payer_user_id, Payment.idempotency_key == key
        )
    )
    return row


def check_key(key: str, field: list[str] | None = None) -> str:
    key = key.strip()
    if not 8 <= len(key) <= 200:
        raise BadIdempotencyKey(field=field or ["input", "idempotencyKey"])
    return key


async def begin_payment(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int,
    purpose: str,
    amount_minor: int,
    currency: str,
    idempotency_key: str,
    metadata: dict[str, Any] | None = None,
    description: str | None = None,
) -> tuple[Payment, bool]:
    """Create the payment, or find the one this payer made with this key.

    Returns (payment, created). A key reused for a different request is a Conflict.
    The PaymentIntent is created after the caller's transaction commits; read
    `client_secret(payment)` after the commit.
    """
    if principal.user_id is None:
        raise Forbidden()
    key = check_key(idempotency_key)
    if not 0 < amount_minor <= MAX_AMOUNT_MINOR:
        raise AmountInvalid()
    provider = current_provider()
    if not provider.online:
        raise PaymentUnavailable()
    details = dict(metadata or {})
    if description:
        details.setdefault("description", description)
    fingerprint = _fingerprint(
        community_id=community_id,
        purpose=purpose,
        amount_minor=amount_minor,
        currency=currency.upper(),
        metadata=details,
    )
    existing = await find_by_key(session, principal.user_id, key)
    if existing is None:
        payment = Payment(
            community_id=community_id,
            payer_user_id=principal.user_id,
            purpose=purpose,
            amount_minor=amount_minor,
            currency=currency.upper(),
            provider=provider.name,
            idempotency_key=key,
            fingerprint=fingerprint,
            details=details,
        )
        try:
            # A savepoint: a concurrent request with the same key that committed first
            # makes this insert fail (PostgreSQL waits for it), and we answer with its
            # payment instead.
            async with session.begin_nested():
                session.add(payment)
                await session.flush()
        except IntegrityError:
            existing = await find_by_key(session, principal.user_id, key)
            if existing is None:
                raise
        else:
            audit.record(
                session,
                principal,
                "payment.start",
                community_id=community_id,
                target=f"Payment:{payment.id}",
                purpose=purpose,
                amount_minor=amount_minor,
            )
            _queue_intent(session, payment)
            return payment, True
    if existing.fingerprint != fingerprint:
        raise IdempotencyKeyReused(field=["input", "idempotencyKey"])
    if existing.provider_ref is None and existing.status in OPEN_STATUSES:
        # The first attempt committed but its provider call did not finish: retry it.
        _queue_intent(session, existing)
    return existing, False


async def start_payment(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int,
    purpose: str,
    amount_minor: int,
    currency: str,
    idempotency_key: str,
    metadata: dict[str, Any] | None = None,
) -> Payment:
    """The interface other capabilities use (see docs/payments.md)."""
    payment, _ = await begin_payment(
        session,
        principal,
        community_id=community_id,
        purpose=purpose,
        amount_minor=amount_minor,
        currency=currency,
        idempotency_key=idempotency_key,
        metadata=metadata,
    )
    return payment


def _queue_intent(session: AsyncSession, payment: Payment) -> None:
    db = database_of(session)

    async def create() -> None:
        await ensure_intent(db, payment)

    on_commit(session, create)


async def ensure_intent(db: Database, payment: Payment) -> None:
    """Create (or, by the same idempotency key, get back) the payment's PaymentIntent and
    store it. Updates the given object too, so the caller's response carries the secret.

    A refused request fails the payment at once (its handler releases the bills); a
    transient failure leaves it open, and a retry with the same key tries again.
    """
    provider = current_provider()
    assert payment.id is not None
    try:
        state = await provider.create_intent(
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            metadata={
                "linli_payment_id": str(payment.id),
                "purpose": payment.purpose,
                "community_id": str(payment.community_id),
            },
            idempotency_key=provider_idempotency_key(payment),
            description=str(payment.details.get("description") or payment.purpose),
        )
    except ProviderError as exc:
        log.warning("creating the intent of payment %s failed: %s", payment.id, exc)
        if exc.retriable:
            return
        async with db.transaction() as s:
            row = await _lock_payment(s, payment.id)
            if row is not None and row.status in OPEN_STATUSES:
                await _fail(s, row, exc.code or "provider_refused")
                _copy(row, payment)
        return
    async with db.transaction() as s:
        await s.execute(
            update(Payment)
            .where(Payment.id == payment.id, Payment.provider_ref.is_(None))  # type: ignore[union-attr]
            .values(
                provider_ref=state.ref,
                client_secret_enc=_encrypt(state.client_secret),
                updated_at=utcnow(),
            )
        )
        row = await s.get(Payment, payment.id)
        if row is not None:
            _copy(row, payment)


def _copy(source: Payment, target: Payment) -> None:
    if source is target:
        return
    for name in ("status", "provider_ref", "client_secret_enc", "failure_code", "settled_at"):
        setattr(target, name, getattr(source, name))


def _encrypt(secret: str | None) -> bytes | None:
    return keys.cipher().encrypt(secret) if secret else None


def client_secret(payment: Payment) -> str | None:
    """The client secret for the payer's payment sheet; None once settled."""
    if payment.client_secret_enc is None or payment.status not in OPEN_STATUSES:
        return None
    return keys.cipher().decrypt(payment.client_secret_enc)


# ---------------------------------------------------------------- settling
async def _lock_payment(session: AsyncSession, payment_id: int | None) -> Payment | None:
    row: Payment | None = await session.scalar(
        select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return row


async def _handle(session: AsyncSession, payment: Payment, outcome: str) -> bool | None:
    handler = _handlers.get(payment.purpose)
    if handler is None:
        log.warning("no settlement handler for purpose %s", payment.purpose)
        return None
    return await handler(session, payment, outcome)


async def _fail(session: AsyncSession, payment: Payment, code: str | None) -> None:
    payment.status = PaymentStatus.FAILED
    payment.failure_code = (code or "failed")[:100]
    payment.client_secret_enc = None
    payment.updated_at = utcnow()
    await _handle(session, payment, FAILED)


async def apply_intent_state(session: AsyncSession, payment: Payment, state: IntentState) -> str:
    """Move a locked payment to what the provider says now. Idempotent: applying the
    same state twice changes nothing, and an older event cannot undo a newer state
    because the state is always re-read from the provider."""
    outcome = state.outcome
    now = utcnow()
    if outcome == SUCCEEDED:
        if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
            return "UNCHANGED"
        if (
            state.amount_received < payment.amount_minor
            or state.currency.upper() != payment.currency
        ):
            log.error("payment %s: provider reports a different amount", payment.id)
            return "MISMATCH"
        payment.status = PaymentStatus.SUCCEEDED
        payment.settled_at = now
        payment.updated_at = now
        payment.client_secret_enc = None
        payment.failure_code = None
        delivered = await _handle(session, payment, SUCCEEDED)
        if delivered is False:
            # Nothing left to pay for (paid meanwhile by another payment): give it back.
            await _queue_refund(
                session, payment, payment.amount_minor - payment.refunded_minor, "undeliverable"
            )
        return "SETTLED"
    if outcome == FAILED:
        if payment.status not in OPEN_STATUSES:
            return "UNCHANGED"
        await _fail(session, payment, state.failure_code or state.status)
        return "FAILED"
    if outcome == ports.PROCESSING and payment.status == PaymentStatus.REQUIRES_ACTION:
        payment.status = PaymentStatus.PROCESSING
        payment.updated_at = now
        return "PROCESSING"
    return "UNCHANGED"


async def _payment_for_intent(session: AsyncSession, state: IntentState) -> Payment | None:
    row: Payment | None = await session.scalar(
        select(Payment)
        .where(Payment.provider_ref == state.ref)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is not None:
        return row
    # The webhook can overtake our storing of the intent id: find it by our metadata.
    raw = state.metadata.get("linli_payment_id")
    if raw is None or not raw.isdigit():
        return None
    row = await _lock_payment(session, int(raw))
    if row is None or row.provider_ref not in (None, state.ref):
        return None
    row.provider_ref = state.ref
    return row


# ---------------------------------------------------------------- webhooks
async def record_event(session: AsyncSession, provider: str, event: ProviderEvent) -> int | None:
    """Store a verified event once. Returns its row id, or None for a duplicate."""
    row = WebhookEvent(
        provider=provider, event_id=event.id, type=event.type, intent_ref=event.intent_ref
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return None
    return row.id


async def process_event(db: Database, event_pk: int) -> str | None:
    """Act on one stored event: re-read its PaymentIntent and apply that state."""
    async with db.reader() as s:
        row = await s.get(WebhookEvent, event_pk)
        if row is None or row.processed_at is not None:
            return None
        ref, kind = row.intent_ref, row.type
    if ref is None or not kind.startswith("payment_intent."):
        return await _finish_event(db, event_pk, "IGNORED")
    try:
        state = await current_provider().retrieve_intent(ref)
    except ProviderError as exc:
        # Left unprocessed: the pending-events sweep tries again.
        async with db.transaction() as s:
            await s.execute(
                update(WebhookEvent)
                .where(WebhookEvent.id == event_pk)
                .values(attempts=WebhookEvent.attempts + 1, last_error=str(exc)[:500])
            )
        return None
    async with db.transaction() as s:
        claimed = await _claim_event(s, event_pk)
        if claimed is None:
            return None
        payment = await _payment_for_intent(s, state)
        result = (
            "UNKNOWN_INTENT" if payment is None else await apply_intent_state(s, payment, state)
        )
        claimed.processed_at = utcnow()
        claimed.attempts += 1
        claimed.result = result
        return result


async def _claim_event(session: AsyncSession, event_pk: int) -> WebhookEvent | None:
    row: WebhookEvent | None = await session.scalar(
        select(WebhookEvent)
        .where(WebhookEvent.id == event_pk, WebhookEvent.processed_at.is_(None))  # type: ignore[union-attr]
        .with_for_update(skip_locked=True)
    )
    return row


async def _finish_event(db: Database, event_pk: int, result: str) -> str | None:
    async with db.transaction() as s:
        claimed = await _claim_event(s, event_pk)
        if claimed is None:
            return None
        claimed.processed_at = utcnow()
        claimed.attempts += 1
        claimed.result = result
    return result


async def process_pending_events(db: Database, *, now: datetime, older_than_s: int = 30) -> int:
    """Events stored but not processed (the process died, the provider was down)."""
    async with db.reader() as s:
        ids = list(
            await s.scalars(
                select(WebhookEvent.id)
                .where(
                    WebhookEvent.processed_at.is_(None),  # type: ignore[union-attr]
                    WebhookEvent.received_at < now - timedelta(seconds=older_than_s),
                )
                .order_by(WebhookEvent.id)
                .limit(500)
            )
        )
    done = 0
    for pk in ids:
        if pk is not None and await process_event(db, pk) is not None:
            done += 1
    return done


# ---------------------------------------------------------------- reconciliation
RECONCILE_AFTER = timedelta(hours=1)


async def reconcile_open_payments(db: Database, *, now: datetime) -> list[ReconciliationEntry]:
    """Every payment still open an hour after it began is checked with the provider and
    settled or failed. An intent the payer never completed is cancelled first, so it
    cannot succeed later. Each check is recorded for staff."""
    async with db.reader() as s:
        ids = list(
            await s.scalars(
                select(Payment.id)
                .where(
                    Payment.status.in_(OPEN_STATUSES),  # type: ignore[attr-defined]
                    Payment.created_at < now - RECONCILE_AFTER,
                )
                .order_by(Payment.id)
            )
        )
    entries = []
    for pk in ids:
        if pk is not None:
            entry = await _reconcile_one(db, pk, now=now)
            if entry is not None:
                entries.append(entry)
    return entries


async def _reconcile_one(
    db: Database, payment_id: int, *, now: datetime
) -> ReconciliationEntry | None:
    async with db.reader() as s:
        payment = await s.get(Payment, payment_id)
        if payment is None or payment.status not in OPEN_STATUSES:
            return None
        ref, key = payment.provider_ref, provider_idempotency_key(payment)
    provider = current_provider()
    state: IntentState | None = None
    error: str | None = None
    if ref is not None:
        try:
            state = await provider.retrieve_intent(ref)
            if state.outcome is None:
                state = await provider.cancel_intent(ref, idempotency_key=f"{key}-cancel")
        except ProviderError as exc:
            error = str(exc)[:500]
    async with db.transaction() as s:
        row = await _lock_payment(s, payment_id)
        if row is None or row.status not in OPEN_STATUSES:
            return None
        before = row.status
        if error is not None:
            action = "ERROR"
        elif state is None:
            # The intent was never created: nobody can have paid.
            await _fail(s, row, "no_intent")
            action = "FAILED"
        else:
            result = await apply_intent_state(s, row, state)
            action = {"SETTLED": "SETTLED", "FAILED": "FAILED"}.get(result, "UNCHANGED")
        entry = ReconciliationEntry(
            run_at=now,
            community_id=row.community_id,
            payment_id=payment_id,
            status_before=before,
            provider_status=state.status if state else None,
            action=action,
            detail=error,
        )
        s.add(entry)
    log.info(
        "reconciled payment %s: %s -> %s (%s)",
        payment_id,
        before,
        action,
        state.status if state else error,
    )
    return entry


# ---------------------------------------------------------------- refunds
async def refund_payment(
    session: AsyncSession,
    principal: Principal,
    *,
    payment_id: int,
    amount_minor: int | None,
    reason: str | None,
    idempotency_key: str,
) -> tuple[Payment, PaymentRefund]:
    """Staff refund, full (amount None) or partial. The amount is reserved on the
    payment by a conditional update (two refunds cannot together exceed it); the
    provider is called after commit."""
    key = check_key(idempotency_key)
    if reason is not None and len(reason) > 500:
        raise RefundReasonTooLong(field=["input", "reason"])
    payment = await _lock_payment(session, payment_id)
    if payment is None or not principal.is_staff(payment.community_id):
        raise PaymentNotFound(field=["input", "paymentId"])
    existing = await session.scalar(
        select(PaymentRefund).where(
            PaymentRefund.payment_id == payment_id, PaymentRefund.idempotency_key == key
        )
    )
    if existing is not None:
        return payment, existing
    if payment.status != PaymentStatus.SUCCEEDED:
        raise NotRefundable(field=["input", "paymentId"])
    remaining = payment.amount_minor - payment.refunded_minor
    amount = remaining if amount_minor is None else amount_minor
    if amount <= 0 or amount > remaining:
        raise RefundTooLarge(field=["input", "amountMinor"])
    refund = await _queue_refund(session, payment, amount, reason, key=key, by=principal.user_id)
    audit.record(
        session,
        principal,
        "payment.refund",
        community_id=payment.community_id,
        target=f"Payment:{payment.id}",
        amount_minor=amount,
    )
    return payment, refund


async def _queue_refund(
    session: AsyncSession,
    payment: Payment,
    amount: int,
    reason: str | None,
    *,
    key: str | None = None,
    by: int | None = None,
) -> PaymentRefund:
    result = await session.execute(
        update(Payment)
        .where(
            Payment.id == payment.id,
            Payment.refunded_minor + amount <= Payment.amount_minor,
        )
        .values(refunded_minor=Payment.refunded_minor + amount)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise RefundTooLarge(field=["input", "amountMinor"])
    # (The ORM-enabled UPDATE has already brought `payment.refunded_minor` up to date.)
    refund = PaymentRefund(
        payment_id=payment.id,  # type: ignore[arg-type]
        amount_minor=amount,
        reason=reason,
        idempotency_key=key or f"auto-{payment.id}-{payment.refunded_minor}",
        created_by=by,
    )
    session.add(refund)
    await session.flush()
    db = database_of(session)

    async def send() -> None:
        await execute_refund(db, refund, payment)

    on_commit(session, send)
    return refund


async def execute_refund(
    db: Database, refund: PaymentRefund, payment_obj: Payment | None = None
) -> None:
    """Ask the provider for a reserved refund; on refusal give the reservation back."""
    async with db.reader() as s:
        payment = await s.get(Payment, refund.payment_id)
        assert payment is not None
        ref, key = payment.provider_ref, provider_idempotency_key(payment)
    try:
        if ref is None:
            # Offline payments are refunded in cash at the office; staff record it here.
            result = ports.RefundResult(
                ref=f"offline-{refund.id}", amount_minor=refund.amount_minor, status="succeeded"
            )
        else:
            result = await current_provider().refund(
                ref,
                amount_minor=refund.amount_minor,
                idempotency_key=f"{key}-refund-{refund.id}",
                reason=refund.reason,
            )
    except ProviderError as exc:
        log.warning("refund %s failed: %s", refund.id, exc)
        if exc.retriable:
            return
        result = ports.RefundResult(ref="", amount_minor=refund.amount_minor, status="failed")
    async with db.transaction() as s:
        row = await s.scalar(
            select(PaymentRefund).where(PaymentRefund.id == refund.id).with_for_update()
        )
        pay = await _lock_payment(s, refund.payment_id)
        if row is None or pay is None or row.status != "PENDING":
            return
        if result.status == "failed":
            row.status = "FAILED"
            pay.refunded_minor -= row.amount_minor
        else:
            row.status = "SUCCEEDED"
            row.provider_ref = result.ref
            if pay.refunded_minor >= pay.amount_minor and pay.status == PaymentStatus.SUCCEEDED:
                pay.status = PaymentStatus.REFUNDED
                pay.updated_at = utcnow()
                await _handle(s, pay, REFUNDED)
        refund.status = row.status
        refund.provider_ref = row.provider_ref
        if payment_obj is not None:
            # The caller's response shows the outcome.
            _copy(pay, payment_obj)
            payment_obj.refunded_minor = pay.refunded_minor


# ---------------------------------------------------------------- offline
async def record_offline_payment(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int,
    purpose: str,
    amount_minor: int,
    currency: str,
    receipt_number: str,
    idempotency_key: str,
    metadata: dict[str, Any] | None = None,
) -> tuple[Payment, bool]:
    """Cash or bank transfer taken by staff: SUCCEEDED at once, with its receipt number.
    The caller (e.g. bills) has already claimed what is being paid for."""
    if not principal.is_staff(community_id) or principal.user_id is None:
        raise Forbidden()
    key = check_key(idempotency_key)
    if not 0 < amount_minor <= MAX_AMOUNT_MINOR:
        raise AmountInvalid()
    existing = await find_by_key(session, principal.user_id, key)
    fingerprint = _fingerprint(
        community_id=community_id,
        purpose=purpose,
        amount_minor=amount_minor,
        receipt=receipt_number,
        metadata=metadata or {},
    )
    if existing is not None:
        if existing.fingerprint != fingerprint:
            raise IdempotencyKeyReused(field=["input", "idempotencyKey"])
        return existing, False
    now = utcnow()
    payment = Payment(
        community_id=community_id,
        payer_user_id=principal.user_id,
        purpose=purpose,
        amount_minor=amount_minor,
        currency=currency.upper(),
        provider="offline",
        idempotency_key=key,
        fingerprint=fingerprint,
        details=dict(metadata or {}),
        receipt_number=receipt_number,
        status=PaymentStatus.SUCCEEDED,
        settled_at=now,
        updated_at=now,
    )
    session.add(payment)
    await session.flush()
    audit.record(
        session,
        principal,
        "payment.offline",
        community_id=community_id,
        target=f"Payment:{payment.id}",
        amount_minor=amount_minor,
        receipt=receipt_number,
    )
    return payment, True


# ---------------------------------------------------------------- reading
async def payments_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[int]
) -> dict[int, Payment]:
    """The payer sees their payments; staff see their community's."""
    ids = list(set(ids))
    if not ids or principal.user_id is None:
        return {}
    rows = await session.scalars(select(Payment).where(Payment.id.in_(ids)))  # type: ignore[union-attr]
    return {
        p.id: p
        for p in rows
        if p.id is not None
        and (p.payer_user_id == principal.user_id or principal.is_staff(p.community_id))
    }


async def reconciliations(
    session: AsyncSession, principal: Principal, community_id: int, *, limit: int, offset: int
) -> tuple[list[ReconciliationEntry], int]:
    """What the reconciliation job found in a community (staff)."""
    if not principal.is_staff(community_id):
        raise Forbidden()
    cond = ReconciliationEntry.community_id == community_id
    total = await session.scalar(select(func.count()).select_from(ReconciliationEntry).where(cond))
    rows = await session.scalars(
        select(ReconciliationEntry)
        .where(cond)
        .order_by(ReconciliationEntry.id.desc())  # type: ignore[union-attr]
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)
