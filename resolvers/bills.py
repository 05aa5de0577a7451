"""Bills: myBills, payBills, issueBills, tariffs; staff: offline payments, refunds,
reconciliation results."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from domain.bills import repository as repo
from domain.bills import service
from domain.bills.models import BillKind as BillKindValue
from domain.bills.models import BillStatus as BillStatusValue
from domain.payments import service as payments
from resolvers.base import (
    IsAuthenticated,
    IsMember,
    IsStaff,
    connection,
    input_id,
    page_args,
    parse_id,
    run_mutation,
)
from resolvers.context import Context, Info
from resolvers.loaders import loader
from resolvers.node import loader_fetcher, node_type
from resolvers.payments import payment_payload
from resolvers.roots import extra_types, mutation, query
from schema import bills as t
from schema.base import Connection
from schema.payments import PaymentPayload


@loader("bill")
async def load_bills(ctx: Context, ids: list[int]) -> list[t.Bill | None]:
    async with ctx.reading() as s:
        rows = await repo.bills_by_ids(s, ctx.principal, ids)
    return [t.Bill.from_row(rows[i]) if i in rows else None for i in ids]


@loader("bill_lines")
async def load_bill_lines(ctx: Context, keys: list[tuple[int, str]]) -> list[list[t.BillLine]]:
    # Keys come from Bill objects the viewer was already allowed to read.
    async with ctx.reading() as s:
        rows = await repo.lines_of(s, [k[0] for k in keys])
    return [[t.BillLine.from_row(r, cur, ctx.locale) for r in rows.get(pk, [])] for pk, cur in keys]


node_type("Bill")(loader_fetcher("bill"))
extra_types(t.Bill)


def _kind(value: Any) -> BillKindValue:
    return BillKindValue(value.value if hasattr(value, "value") else value)


def _status(value: Any) -> str | None:
    if value is None:
        return None
    return BillStatusValue(value.value if hasattr(value, "value") else value).value


@query
@strawberry.type
class BillsQuery:
    @strawberry.field(permission_classes=[IsAuthenticated])
    async def my_bills(
        self,
        info: Info,
        status: t.BillStatus | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.Bill]:
        limit, offset = page_args(info, first, after)
        async with info.context.reading() as s:
            rows, total = await repo.my_bills(
                s, info.context.principal, status=_status(status), limit=limit, offset=offset
            )
        return connection([t.Bill.from_row(r) for r in rows], total, offset)

    @strawberry.field(permission_classes=[IsStaff], description="Staff: a community's bills.")
    async def community_bills(
        self,
        info: Info,
        community_id: strawberry.ID,
        status: t.BillStatus | None = None,  # type: ignore[valid-type]
        unit_id: strawberry.ID | None = None,
        period: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.Bill]:
        limit, offset = page_args(info, first, after)
        cid = parse_id(info, community_id, "Community")
        uid = parse_id(info, unit_id, "Unit") if unit_id is not None else None
        async with info.context.reading() as s:
            rows, total = await repo.community_bills(
                s,
                community_id=cid,
                status=_status(status),
                unit_id=uid,
                period=period,
                limit=limit,
                offset=offset,
            )
        return connection([t.Bill.from_row(r) for r in rows], total, offset)

    @strawberry.field(permission_classes=[IsMember], description="A community's tariffs.")
    async def tariffs(self, info: Info, community_id: strawberry.ID) -> list[t.Tariff]:
        cid = parse_id(info, community_id, "Community")
        async with info.context.reading() as s:
            found = await repo.tariffs_of(s, cid)
        return [t.Tariff.from_rows(row, bands) for row, bands in found]

    @strawberry.field(
        permission_classes=[IsStaff],
        description="Staff: what the daily reconciliation found, newest first.",
    )
    async def payment_reconciliations(
        self,
        info: Info,
        community_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.PaymentReconciliation]:
        limit, offset = page_args(info, first, after)
        cid = parse_id(info, community_id, "Community")
        async with info.context.reading() as s:
            rows, total = await payments.reconciliations(
                s, info.context.principal, cid, limit=limit, offset=offset
            )
        return connection([t.PaymentReconciliation.from_row(r) for r in rows], total, offset)


@mutation
@strawberry.type
class BillsMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def pay_bills(self, info: Info, input: t.PayBillsInput) -> PaymentPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            payment = await service.pay_bills(
                s,
                info.context.principal,
                bill_ids=[input_id(b, "Bill", ["input", "billIds"]) for b in input.bill_ids],
                idempotency_key=input.idempotency_key,
            )
            return {"payment": payment}

        return await run_mutation(info, payment_payload(info), work)

    @strawberry.mutation(permission_classes=[IsStaff])
    async def issue_bills(self, info: Info, input: t.IssueBillsInput) -> t.IssueBillsPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            issued = await service.issue_bills(
                s,
                info.context.principal,
                community_id=input_id(input.community_id, "Community", ["input", "communityId"]),
                kind=_kind(input.kind),
                period=input.period,
                due_date=input.due_date,
                lines=[
                    service.IssueLine(
                        unit_id=input_id(ln.unit_id, "Unit", ["input", "lines", str(i), "unitId"]),
                        usage=ln.usage,
                        amount_minor=ln.amount_minor,
                    )
                    for i, ln in enumerate(input.lines)
                ],
            )
            return {"issued": issued}

        return await run_mutation(info, t.IssueBillsPayload, work)

    @strawberry.mutation(permission_classes=[IsStaff])
    async def set_tariff(self, info: Info, input: t.SetTariffInput) -> t.TariffPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            tariff, bands = await service.set_tariff(
                s,
                info.context.principal,
                community_id=input_id(input.community_id, "Community", ["input", "communityId"]),
                kind=_kind(input.kind),
                bands=[service.BandInput(b.up_to, b.unit_price) for b in input.bands or []],
                price_per_m2=input.price_per_m2,
            )
            return {"tariff": t.Tariff.from_rows(tariff, bands)}

        return await run_mutation(info, t.TariffPayload, work)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Staff: cash or bank transfer taken at the office, with its receipt.",
    )
    async def record_offline_payment(
        self, info: Info, input: t.RecordOfflinePaymentInput
    ) -> PaymentPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            payment = await service.record_offline_payment(
                s,
                info.context.principal,
                bill_ids=[input_id(b, "Bill", ["input", "billIds"]) for b in input.bill_ids],
                receipt_number=input.receipt_number,
                idempotency_key=input.idempotency_key,
            )
            return {"payment": payment}

        return await run_mutation(info, payment_payload(info), work)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Staff: refund a payment in full (amountMinor null) or in part.",
    )
    async def refund_payment(self, info: Info, input: t.RefundPaymentInput) -> PaymentPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            payment, _ = await payments.refund_payment(
                s,
                info.context.principal,
                payment_id=input_id(input.payment_id, "Payment", ["input", "paymentId"]),
                amount_minor=input.amount_minor,
                reason=input.reason,
                idempotency_key=input.idempotency_key,
            )
            return {"payment": payment}

        return await run_mutation(info, payment_payload(info), work)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Staff: void an unpaid bill issued in error.",
    )
    async def void_bill(self, info: Info, input: t.VoidBillInput) -> t.BillPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            bill = await service.void_bill(
                s,
                info.context.principal,
                bill_id=input_id(input.bill_id, "Bill", ["input", "billId"]),
                reason=input.reason,
            )
            return {"bill": t.Bill.from_row(bill)}

        return await run_mutation(info, t.BillPayload, work)
