"""Fund ledger resolvers."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.ids import encode_gid
from domain.ledger import models as m
from domain.ledger import service
from resolvers.base import IsStaff, connection, input_id, page_args, parse_id, run_mutation
from resolvers.context import Context, Info
from resolvers.council import IsResidentOrStaff
from resolvers.loaders import loader
from resolvers.node import loader_fetcher, node_type
from resolvers.roots import extra_types, mutation, query
from schema import ledger as t
from schema.base import Connection, Money


def _account(value: Any) -> m.Account:
    return m.Account(value.value if hasattr(value, "value") else value)


@loader("ledger_entry")
async def load_entries(ctx: Context, ids: list[int]) -> list[t.LedgerEntry | None]:
    async with ctx.reading() as s:
        rows = await service.entries_by_ids(s, ctx.principal, ids)
    return [t.LedgerEntry.from_row(rows[i]) if i in rows else None for i in ids]


node_type("LedgerEntry")(loader_fetcher("ledger_entry"))
extra_types(t.LedgerEntry)


@query
@strawberry.type
class LedgerQuery:
    @strawberry.field(permission_classes=[IsResidentOrStaff], description="Newest first.")
    async def ledger(
        self,
        info: Info,
        community_id: strawberry.ID,
        account: t.LedgerAccount,  # type: ignore[valid-type]
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.LedgerEntry]:
        limit, offset = page_args(info, first, after)
        cid = parse_id(info, community_id, "Community")
        async with info.context.reading() as s:
            rows, total = await service.list_entries(
                s,
                info.context.principal,
                community_id=cid,
                account=_account(account),
                start=from_,
                end=to,
                limit=limit,
                offset=offset,
            )
        return connection([t.LedgerEntry.from_row(e) for e in rows], total, offset)

    @strawberry.field(permission_classes=[IsResidentOrStaff])
    async def ledger_summary(
        self,
        info: Info,
        community_id: strawberry.ID,
        account: t.LedgerAccount,  # type: ignore[valid-type]
    ) -> t.LedgerSummary:
        cid = parse_id(info, community_id, "Community")
        async with info.context.reading() as s:
            sm = await service.summary(
                s, info.context.principal, community_id=cid, account=_account(account)
            )
        return t.LedgerSummary(
            account=sm.account,
            balance=Money.of(sm.balance_minor, sm.currency),
            income_this_year=Money.of(sm.income_this_year_minor, sm.currency),
            spending_this_year=Money.of(sm.spending_this_year_minor, sm.currency),
            my_share=None
            if sm.my_share_minor is None
            else Money.of(sm.my_share_minor, sm.currency),
        )

    @strawberry.field(permission_classes=[IsResidentOrStaff])
    async def verify_ledger(
        self,
        info: Info,
        community_id: strawberry.ID,
        account: t.LedgerAccount,  # type: ignore[valid-type]
    ) -> t.LedgerVerification:
        cid = parse_id(info, community_id, "Community")
        v = await _verify_shared(info.context, cid, _account(account))
        return t.LedgerVerification(
            valid=v.valid,
            entries=v.entries,
            head_hash=v.head_hash,
            broken_at=None
            if v.broken_at is None
            else strawberry.ID(encode_gid("LedgerEntry", v.broken_at)),
            reason=v.reason,
        )


# verifyLedger recomputes a whole chain (seconds for 100,000 entries) and every resident
# may ask. So that asking cannot become a denial of service, callers of one chain share
# one computation in flight, and its answer is reused for VERIFY_REUSE_S of our clock
# while the chain's head is unchanged. A new entry changes the head and gets a fresh
# check; tampering below an unchanged head is reported at most that long after it is
# first asked about.
VERIFY_REUSE_S = 30
_verified: dict[tuple[int, int, str, int, str], tuple[datetime, asyncio.Future[Any]]] = {}


async def _verify_shared(ctx: Context, community_id: int, account: Any) -> Any:
    async with ctx.reading() as s:
        # Authorization first, per caller: a shared answer is never a shortcut past it.
        head = await service.chain_head(
            s, ctx.principal, community_id=community_id, account=account
        )
    key = (id(ctx.db), community_id, str(account), *head)
    now = utcnow()
    hit = _verified.get(key)
    if hit is not None and (not hit[1].done() or now - hit[0] < timedelta(seconds=VERIFY_REUSE_S)):
        return await asyncio.shield(hit[1])
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    for k in [
        k
        for k, (at, f) in _verified.items()
        if f.done() and now - at >= timedelta(seconds=VERIFY_REUSE_S)
    ]:
        del _verified[k]
    _verified[key] = (now, future)
    try:
        async with ctx.db.reader() as s:
            result = await service.verify_chain(s, community_id=community_id, account=account)
    except BaseException as exc:
        _verified.pop(key, None)
        future.set_exception(exc)
        future.exception()  # retrieved: the waiters, if any, get it through the shield
        raise
    future.set_result(result)
    _verified[key] = (utcnow(), future)
    return result


@mutation
@strawberry.type
class LedgerMutation:
    @strawberry.mutation(permission_classes=[IsStaff])
    async def post_ledger_entry(
        self, info: Info, input: t.PostLedgerEntryInput
    ) -> t.LedgerEntryPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            def opt(gid: Any, type_name: str, field: str) -> int | None:
                return None if gid is None else input_id(gid, type_name, ["input", field])

            entry = await service.post_entry(
                s,
                info.context.principal,
                community_id=input_id(input.community_id, "Community", ["input", "communityId"]),
                account=_account(input.account),
                posting=service.Posting(
                    amount_minor=input.amount_minor,
                    category=input.category,
                    description=input.description,
                    idempotency_key=input.idempotency_key,
                    counterparty=input.counterparty,
                    evidence_url=input.evidence_url,
                    proposal_id=opt(input.proposal_id, "Proposal", "proposalId"),
                    unit_id=opt(input.unit_id, "Unit", "unitId"),
                    reverses_entry_id=opt(
                        input.reverses_entry_id, "LedgerEntry", "reversesEntryId"
                    ),
                ),
            )
            return {"entry": t.LedgerEntry.from_row(entry)}

        return await run_mutation(info, t.LedgerEntryPayload, work)
