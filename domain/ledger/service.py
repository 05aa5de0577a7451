"""Posting to and reading the fund ledgers.

Every append locks the account's head row (`ledger_accounts`, SELECT ... FOR UPDATE on
PostgreSQL; SQLite serialises writers with BEGIN IMMEDIATE), reads the previous hash and
balance from it, writes the entry and moves the head, all in the caller's transaction.
So the chain never forks and the balance never goes below zero, however many postings
race. Entries are never updated or deleted; a correction is a reversing entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.money import Money
from core.principal import Principal, Role
from domain.accounts.models import Community, Ownership, Unit
from domain.audit import service as audit
from domain.council import service as council
from domain.council.models import Matter, Proposal
from domain.ledger.chain import entry_hash
from domain.ledger.errors import BadAmount, InsufficientFunds, ProposalRequired
from domain.ledger.models import (
    GENESIS_HASH,
    Account,
    LedgerAccount,
    LedgerEntry,
    LedgerStatement,
)

READER_ROLES = (Role.RESIDENT, Role.STAFF, Role.MANAGER)
# Categories of maintenance-fund income that need no FUND_RAISING vote: the initial
# deposit paid at purchase is required by the 住宅专项维修资金管理办法 (art. 7), and
# interest accrues by itself.
MAINTENANCE_NO_VOTE_INCOME = frozenset({"INITIAL_DEPOSIT", "INTEREST"})
REVERSAL = "REVERSAL"


def can_read(principal: Principal, community_id: int) -> bool:
    return principal.has_role(community_id, *READER_ROLES)


def _require_reader(principal: Principal, community_id: int) -> None:
    if not can_read(principal, community_id):
        raise Forbidden()


def _check_key(key: str) -> str:
    if not key or len(key) > 100:
        raise Invalid("error.idempotency_key", field=["input", "idempotencyKey"])
    return key


async def _lock_head(session: AsyncSession, community_id: int, account: Account) -> LedgerAccount:
    """The account's head row, created on first use, locked for this transaction."""
    community = await session.get(Community, community_id)
    if community is None:
        raise NotFound(field=["input", "communityId"])
    values = {
        "community_id": community_id,
        "account": account.value,
        "currency": community.currency,
        "balance_minor": 0,
        "entries": 0,
        "head_hash": GENESIS_HASH,
    }
    dialect = session.get_bind().dialect.name
    ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(LedgerAccount)
    await session.execute(ins.values(**values).on_conflict_do_nothing())
    head = await session.scalar(
        select(LedgerAccount)
        .where(LedgerAccount.community_id == community_id, LedgerAccount.account == account.value)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert head is not None
    return head


@dataclass
class Posting:
    amount_minor: int
    category: str
    description: str
    idempotency_key: str
    counterparty: str | None = None
    evidence_url: str | None = None
    proposal_id: int | None = None
    unit_id: int | None = None
    reverses_entry_id: int | None = None

    def same_request(self, e: LedgerEntry) -> bool:
        return (
            e.amount_minor == self.amount_minor
            and e.category == self.category
            and e.description == self.description
            and e.proposal_id == self.proposal_id
            and e.unit_id == self.unit_id
            and e.reverses_entry_id == self.reverses_entry_id
        )


async def _existing(session: AsyncSession, head: LedgerAccount, p: Posting) -> LedgerEntry | None:
    """The entry a retried request already made (the first result), if any."""
    found = await session.scalar(
        select(LedgerEntry).where(
            LedgerEntry.account_id == head.id, LedgerEntry.idempotency_key == p.idempotency_key
        )
    )
    if found is not None and not p.same_request(found):
        raise Conflict("error.idempotency_reuse", field=["input", "idempotencyKey"])
    return found


def _append(
    session: AsyncSession, head: LedgerAccount, p: Posting, posted_by: int | None
) -> LedgerEntry:
    balance_after = head.balance_minor + p.amount_minor
    if balance_after < 0:
        raise InsufficientFunds(
            field=["input", "amountMinor"],
            balance=Money(head.balance_minor, head.currency).formatted(),
            amount=Money(p.amount_minor, head.currency).formatted(),
        )
    assert head.id is not None
    entry = LedgerEntry(
        account_id=head.id,
        community_id=head.community_id,
        account=head.account,
        seq=head.entries + 1,
        posted_at=utcnow(),
        amount_minor=p.amount_minor,
        balance_after_minor=balance_after,
        currency=head.currency,
        category=p.category,
        description=p.description,
        counterparty=p.counterparty,
        evidence_url=p.evidence_url,
        proposal_id=p.proposal_id,
        unit_id=p.unit_id,
        reverses_entry_id=p.reverses_entry_id,
        posted_by=posted_by,
        idempotency_key=p.idempotency_key,
        prev_hash=head.head_hash,
        hash="",
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    head.entries = entry.seq
    head.head_hash = entry.hash
    head.balance_minor = balance_after
    return entry


def _text(value: str, what: str, field: str, max_len: int) -> str:
    value = value.strip()
    if not value or len(value) > max_len:
        raise Invalid("ledger.text", field=["input", field], what=what)
    return value


async def post_common_income(
    session: AsyncSession,
    *,
    community_id: int,
    amount_minor: int,
    category: str,
    description: str,
    idempotency_key: str,
) -> LedgerEntry:
    """A system posting of income to COMMON_INCOME (parking on common-area spaces,
    advertising, leasing). Income needs no proposal. Retried with the same key it
    returns the first entry and writes nothing."""
    if amount_minor <= 0:
        raise Invalid("ledger.income_only", field=["amountMinor"])
    p = Posting(
        amount_minor=amount_minor,
        category=_text(category, "category", "category", 40),
        description=_text(description, "description", "description", 2000),
        idempotency_key=_check_key(idempotency_key),
    )
    head = await _lock_head(session, community_id, Account.COMMON_INCOME)
    found = await _existing(session, head, p)
    if found is not None:
        return found
    entry = _append(session, head, p, None)
    await session.flush()
    audit.record(
        session,
        None,
        "ledger.post",
        community_id=community_id,
        target=f"LedgerEntry:{entry.id}",
        account=head.account,
        amount_minor=amount_minor,
        category=p.category,
    )
    return entry


async def post_entry(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int,
    account: Account,
    posting: Posting,
) -> LedgerEntry:
    """A staff posting. Spending needs a passed proposal of this community that
    authorises it; the maintenance fund's income needs a passed FUND_RAISING proposal
    (except initial deposits and interest); nothing may take a balance below zero."""
    if not principal.is_staff(community_id):
        raise Forbidden()
    p = posting
    if p.amount_minor == 0 or abs(p.amount_minor) > 10**15:
        raise BadAmount(field=["input", "amountMinor"])
    p.category = _text(p.category, "category", "category", 40).upper()
    p.description = _text(p.description, "description", "description", 2000)
    p.idempotency_key = _check_key(p.idempotency_key)
    if p.counterparty is not None:
        p.counterparty = _text(p.counterparty, "counterparty", "counterparty", 200)
    if p.evidence_url is not None:
        url = urlparse(p.evidence_url.strip())
        if url.scheme not in ("http", "https") or not url.netloc or len(p.evidence_url) > 500:
            raise Invalid("ledger.url", field=["input", "evidenceUrl"])
        p.evidence_url = p.evidence_url.strip()
    if p.unit_id is not None:
        unit = await session.get(Unit, p.unit_id)
        if unit is None or unit.community_id != community_id:
            raise Invalid("ledger.unit", field=["input", "unitId"])

    head = await _lock_head(session, community_id, account)
    found = await _existing(session, head, p)
    if found is not None:
        return found

    if p.reverses_entry_id is not None:
        await _check_reversal(session, head, p)
    else:
        await _check_authorisation(session, community_id, account, p)
    entry = _append(session, head, p, principal.user_id)
    await session.flush()
    audit.record(
        session,
        principal,
        "ledger.post",
        community_id=community_id,
        target=f"LedgerEntry:{entry.id}",
        account=head.account,
        amount_minor=p.amount_minor,
        category=p.category,
        proposal_id=p.proposal_id,
    )
    return entry


async def _check_reversal(session: AsyncSession, head: LedgerAccount, p: Posting) -> None:
    original = await session.get(LedgerEntry, p.reverses_entry_id)
    already = await session.scalar(
        select(LedgerEntry.id).where(LedgerEntry.reverses_entry_id == p.reverses_entry_id)
    )
    if (
        original is None
        or original.account_id != head.id
        or original.reverses_entry_id is not None
        or already is not None
        or original.amount_minor != -p.amount_minor
    ):
        raise Invalid("ledger.reversal", field=["input", "reversesEntryId"])
    # The reversal stands under the original's authority.
    p.proposal_id = original.proposal_id
    p.unit_id = original.unit_id
    p.category = REVERSAL


async def _check_authorisation(
    session: AsyncSession, community_id: int, account: Account, p: Posting
) -> None:
    needed: Matter | None
    if account is Account.MAINTENANCE_FUND:
        if p.amount_minor < 0:
            needed = Matter.FUND_USE
        elif p.category in MAINTENANCE_NO_VOTE_INCOME:
            needed = None
            if p.category == "INITIAL_DEPOSIT" and p.unit_id is None:
                raise Invalid("ledger.maintenance_unit", field=["input", "unitId"])
        else:
            needed = Matter.FUND_RAISING
    else:
        # Common income belongs to the owners together (Civil Code art. 282): income
        # is booked freely, spending it needs their decision.
        needed = Matter.OTHER_MAJOR if p.amount_minor < 0 else None
    if needed is None:
        if p.proposal_id is not None:
            await _passed_proposal(session, community_id, p, needed)
        return
    await _passed_proposal(session, community_id, p, needed)


async def _passed_proposal(
    session: AsyncSession, community_id: int, p: Posting, needed: Matter | None
) -> Proposal:
    label = needed.value if needed is not None else "-"
    field = ["input", "proposalId"]
    if p.proposal_id is None:
        raise ProposalRequired(field=field, matter=label)
    proposal = await council.settled_proposal(session, p.proposal_id)
    acceptable = (
        proposal is not None
        and proposal.community_id == community_id
        and proposal.passed is True
        and (
            needed is None
            or proposal.matter == needed.value
            # Common-income spending may rest on any passed decision except fund raising.
            or (needed is Matter.OTHER_MAJOR and proposal.matter != Matter.FUND_RAISING.value)
        )
    )
    if not acceptable or proposal is None:
        raise ProposalRequired(field=field, matter=label)
    if proposal.approved_amount_minor is not None:
        used = await session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
                LedgerEntry.proposal_id == proposal.id
            )
        )
        total = abs(int(used or 0) + p.amount_minor)
        if total > proposal.approved_amount_minor:
            raise ProposalRequired(
                "ledger.proposal_amount",
                field=["input", "amountMinor"],
                used=Money(abs(int(used or 0)), "CNY").formatted(),
                approved=Money(proposal.approved_amount_minor, "CNY").formatted(),
            )
    return proposal


# ---------------------------------------------------------------- reading
async def list_entries(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int,
    account: Account,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[LedgerEntry], int]:
    """Newest first."""
    _require_reader(principal, community_id)
    base = select(LedgerEntry).where(
        LedgerEntry.community_id == community_id, LedgerEntry.account == account.value
    )
    if start is not None:
        base = base.where(LedgerEntry.posted_at >= start)
    if end is not None:
        base = base.where(LedgerEntry.posted_at < end)
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    rows = await session.scalars(
        base.order_by(LedgerEntry.seq.desc()).limit(limit).offset(offset)  # type: ignore[attr-defined]
    )
    return list(rows), int(total or 0)


async def entries_by_ids(
    session: AsyncSession, principal: Principal, ids: list[int]
) -> dict[int, LedgerEntry]:
    if not ids or principal.is_anonymous:
        return {}
    readable = list(principal.communities_with(*READER_ROLES))
    rows = await session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.id.in_(ids),  # type: ignore[union-attr]
            LedgerEntry.community_id.in_(readable),  # type: ignore[attr-defined]
        )
    )
    return {e.id: e for e in rows if e.id is not None}


async def iter_entries_for_export(
    session: AsyncSession, principal: Principal, *, community_id: int, account: Account
) -> list[LedgerEntry]:
    _require_reader(principal, community_id)
    rows = await session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.community_id == community_id, LedgerEntry.account == account.value)
        .order_by(LedgerEntry.seq)
    )
    return list(rows)


@dataclass
class Summary:
    account: Account
    currency: str
    balance_minor: int
    income_this_year_minor: int
    spending_this_year_minor: int
    my_share_minor: int | None


def year_start(community: Community, now: datetime) -> datetime:
    tz = ZoneInfo(community.time_zone)
    local = now.astimezone(tz)
    return local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)


async def summary(
    session: AsyncSession, principal: Principal, *, community_id: int, account: Account
) -> Summary:
    _require_reader(principal, community_id)
    community = await session.get(Community, community_id)
    assert community is not None
    head = await session.scalar(
        select(LedgerAccount).where(
            LedgerAccount.community_id == community_id, LedgerAccount.account == account.value
        )
    )
    balance = head.balance_minor if head else 0
    since = year_start(community, utcnow())
    row = (
        await session.execute(
            select(
                func.coalesce(
                    func.sum(LedgerEntry.amount_minor).filter(LedgerEntry.amount_minor > 0), 0
                ),
                func.coalesce(
                    func.sum(LedgerEntry.amount_minor).filter(LedgerEntry.amount_minor < 0), 0
                ),
            ).where(
                LedgerEntry.community_id == community_id,
                LedgerEntry.account == account.value,
                LedgerEntry.posted_at >= since,
            )
        )
    ).one()
    my_share = None
    if account is Account.MAINTENANCE_FUND and principal.user_id is not None:
        my_share = await _my_share(session, principal.user_id, community_id, balance)
    return Summary(
        account=account,
        currency=community.currency,
        balance_minor=balance,
        income_this_year_minor=int(row[0]),
        spending_this_year_minor=-int(row[1]),
        my_share_minor=my_share,
    )


async def _my_share(
    session: AsyncSession, user_id: int, community_id: int, balance: int
) -> int | None:
    """The viewer's units' share of the fund: the balance pro rata to what each unit
    contributed (net of reversals), floored to the fen. None if they own no unit here."""
    mine = select(Ownership.unit_id).where(Ownership.user_id == user_id)
    owns = await session.scalar(
        select(func.count())
        .select_from(Unit)
        .where(Unit.community_id == community_id, Unit.id.in_(mine))  # type: ignore[union-attr]
    )
    if not owns:
        return None
    contributed = (
        LedgerEntry.community_id == community_id,
        LedgerEntry.account == Account.MAINTENANCE_FUND.value,
        LedgerEntry.unit_id.is_not(None),  # type: ignore[union-attr]
    )
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(*contributed)
    )
    own = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            *contributed,
            LedgerEntry.unit_id.in_(mine),  # type: ignore[union-attr]
        )
    )
    total, own = int(total or 0), int(own or 0)
    if total <= 0 or own <= 0:
        return 0
    return balance * own // total


@dataclass
class Verification:
    valid: bool
    entries: int
    head_hash: str | None
    broken_at: int | None
    reason: str | None


async def verify(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int,
    account: Account,
    batch: int = 5000,
) -> Verification:
    """Recompute the chain from the first entry; name the first entry whose content or
    link does not match. Reads in keyset batches so memory stays flat."""
    _require_reader(principal, community_id)
    return await verify_chain(session, community_id=community_id, account=account, batch=batch)


async def chain_head(
    session: AsyncSession, principal: Principal, *, community_id: int, account: Account
) -> tuple[int, str]:
    """The chain's length and head hash as recorded on its account row, for a reader."""
    _require_reader(principal, community_id)
    head = await session.scalar(
        select(LedgerAccount).where(
            LedgerAccount.community_id == community_id, LedgerAccount.account == account.value
        )
    )
    return (0, GENESIS_HASH) if head is None else (head.entries, head.head_hash)


async def verify_chain(
    session: AsyncSession, *, community_id: int, account: Account, batch: int = 5000
) -> Verification:
    table = LedgerEntry.__table__  # type: ignore[attr-defined]
    head = await session.scalar(
        select(LedgerAccount).where(
            LedgerAccount.community_id == community_id, LedgerAccount.account == account.value
        )
    )
    if head is None:
        return Verification(True, 0, None, None, None)
    prev_hash, prev_seq, balance, count, last_seq = GENESIS_HASH, 0, 0, 0, 0
    while True:
        rows = (
            await session.execute(
                select(table)
                .where(table.c.account_id == head.id, table.c.seq > last_seq)
                .order_by(table.c.seq)
                .limit(batch)
            )
        ).all()
        if not rows:
            break
        for r in rows:
            count += 1
            reason = None
            if r.seq != prev_seq + 1:
                reason = "sequence gap"
            elif r.prev_hash != prev_hash:
                reason = "link to the previous entry broken"
            elif entry_hash(r) != r.hash:
                reason = "content does not match its hash"
            elif r.balance_after_minor != balance + r.amount_minor:
                reason = "running balance does not add up"
            if reason is not None:
                return Verification(False, count, head.head_hash, r.id, reason)
            prev_hash, prev_seq, balance = r.hash, r.seq, r.balance_after_minor
        last_seq = rows[-1].seq
    if head.entries != prev_seq or head.head_hash != prev_hash or head.balance_minor != balance:
        # The chain is consistent but shorter than its head says: its tail was removed.
        return Verification(False, count, head.head_hash, None, "entries missing at the end")
    return Verification(True, count, head.head_hash, None, None)


def figures_json(figures: dict[str, Any]) -> str:
    return json.dumps(figures, ensure_ascii=False, sort_keys=True)


# ---------------------------------------------------------------- monthly statements
def previous_month(now: datetime, tz: str) -> tuple[str, datetime, datetime]:
    """(period "YYYY-MM", start, end) of the month before `now` in the community's zone."""
    local = now.astimezone(ZoneInfo(tz))
    end = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=1)).replace(day=1)
    return start.strftime("%Y-%m"), start, end


async def _month_figures(
    session: AsyncSession, community_id: int, account: Account, start: datetime, end: datetime
) -> dict[str, int]:
    where = (
        LedgerEntry.community_id == community_id,
        LedgerEntry.account == account.value,
    )
    row = (
        await session.execute(
            select(
                func.coalesce(
                    func.sum(LedgerEntry.amount_minor).filter(LedgerEntry.amount_minor > 0), 0
                ),
                func.coalesce(
                    func.sum(LedgerEntry.amount_minor).filter(LedgerEntry.amount_minor < 0), 0
                ),
            ).where(*where, LedgerEntry.posted_at >= start, LedgerEntry.posted_at < end)
        )
    ).one()
    closing = await session.scalar(
        select(LedgerEntry.balance_after_minor)
        .where(*where, LedgerEntry.posted_at < end)
        .order_by(LedgerEntry.seq.desc())  # type: ignore[attr-defined]
        .limit(1)
    )
    return {"in": int(row[0]), "out": -int(row[1]), "balance": int(closing or 0)}


async def publish_monthly_statements(session: AsyncSession, *, now: datetime) -> int:
    """Publish last month's statement to each community's owners, once: the unique
    (community, period) row is the claim, so reruns and other instances skip it."""
    from domain.council.service import owner_user_ids
    from domain.notifications.service import notify

    published = 0
    for community in (await session.scalars(select(Community).order_by(Community.id))).all():
        assert community.id is not None
        period, start, end = previous_month(now, community.time_zone)
        figures: dict[str, Any] = {
            a.value: await _month_figures(session, community.id, a, start, end) for a in Account
        }
        dialect = session.get_bind().dialect.name
        ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(LedgerStatement)
        claimed = await session.scalar(
            ins.values(
                community_id=community.id,
                period=period,
                published_at=now,
                figures=figures_json(figures),
            )
            .on_conflict_do_nothing()
            .returning(LedgerStatement.id)
        )
        if claimed is None:
            continue
        cur = community.currency

        def fmt(v: int, cur: str = cur) -> str:
            return Money(v, cur).formatted()

        mf, ci = figures[Account.MAINTENANCE_FUND.value], figures[Account.COMMON_INCOME.value]
        await notify(
            session,
            user_ids=await owner_user_ids(session, community.id),
            category="LEDGER_STATEMENT",
            severity="NORMAL",  # a broadcast to every owner: under the hourly push cap
            title_key="ledger.statement_title",
            body_key="ledger.statement_body",
            params={
                "community": community.name,
                "period": period,
                "mf_balance": fmt(mf["balance"]),
                "mf_in": fmt(mf["in"]),
                "mf_out": fmt(mf["out"]),
                "ci_balance": fmt(ci["balance"]),
                "ci_in": fmt(ci["in"]),
                "ci_out": fmt(ci["out"]),
            },
            data={"period": period, "communityId": community.id},
            community_id=community.id,
        )
        published += 1
    return published
