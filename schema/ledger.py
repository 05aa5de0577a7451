"""Fund ledger types (public disclosure of the maintenance fund and common income)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from core.ids import encode_gid
from domain.ledger import models as m
from schema.accounts import Unit, User
from schema.base import Money, Node, UserError
from schema.council import Proposal

Info = strawberry.Info

LedgerAccount = strawberry.enum(m.Account, name="LedgerAccount")


@strawberry.type
class LedgerEntry(Node):
    account: LedgerAccount  # type: ignore[valid-type]
    "Position in the account's hash chain: 1, 2, ..."
    seq: int
    posted_at: datetime
    amount: Money
    balance_after: Money
    category: str
    description: str
    counterparty: str | None
    evidence_url: str | None
    hash: str = strawberry.field(description="SM3 hash chaining this entry to the previous one.")
    prev_hash: str
    _proposal_id: strawberry.Private[int | None]
    _unit_id: strawberry.Private[int | None]
    _reverses: strawberry.Private[int | None]
    _posted_by: strawberry.Private[int | None]

    @strawberry.field(description="The staff member who posted it; null for system postings.")
    async def posted_by(self, info: Info) -> User | None:
        if self._posted_by is None:
            return None
        return await info.context.loaders.user.load(self._posted_by)

    @strawberry.field(
        description="Set for maintenance-fund spending (FUND_USE) and raising (FUND_RAISING): "
        "the passed proposal that approved it."
    )
    async def proposal(self, info: Info) -> Proposal | None:
        if self._proposal_id is None:
            return None
        return await info.context.loaders.proposal.load(self._proposal_id)

    @strawberry.field(description="The unit a maintenance-fund contribution came from.")
    async def unit(self, info: Info) -> Unit | None:
        if self._unit_id is None:
            return None
        return await info.context.loaders.unit.load(self._unit_id)

    @strawberry.field(description="For a correction: the entry it reverses.")
    def reverses_entry_id(self) -> strawberry.ID | None:
        return (
            None
            if self._reverses is None
            else strawberry.ID(encode_gid("LedgerEntry", self._reverses))
        )

    @classmethod
    def from_row(cls, e: m.LedgerEntry) -> LedgerEntry:
        assert e.id is not None
        return cls(
            id=strawberry.ID(encode_gid("LedgerEntry", e.id)),
            account=m.Account(e.account),
            seq=e.seq,
            posted_at=e.posted_at,
            amount=Money.of(e.amount_minor, e.currency),
            balance_after=Money.of(e.balance_after_minor, e.currency),
            category=e.category,
            description=e.description,
            counterparty=e.counterparty,
            evidence_url=e.evidence_url,
            hash=e.hash,
            prev_hash=e.prev_hash,
            _proposal_id=e.proposal_id,
            _unit_id=e.unit_id,
            _reverses=e.reverses_entry_id,
            _posted_by=e.posted_by,
        )


@strawberry.type
class LedgerSummary:
    account: LedgerAccount  # type: ignore[valid-type]
    balance: Money
    income_this_year: Money
    spending_this_year: Money
    my_share: Money | None = strawberry.field(
        description="The viewer's units' share of the maintenance fund."
    )


@strawberry.type
class LedgerVerification:
    valid: bool
    entries: int
    head_hash: str | None
    broken_at: strawberry.ID | None = strawberry.field(
        description="First entry whose hash does not match, if any."
    )
    reason: str | None = strawberry.field(
        default=None, description="Why verification failed (e.g. a missing tail has no entry)."
    )


@strawberry.input
class PostLedgerEntryInput:
    community_id: strawberry.ID
    account: LedgerAccount  # type: ignore[valid-type]
    "Positive for income, negative for spending (minor units, fen)."
    amount_minor: int
    category: str
    description: str
    proposal_id: strawberry.ID | None = None
    idempotency_key: str
    counterparty: str | None = None
    evidence_url: str | None = None
    "A unit's contribution to the maintenance fund (its owners' share follows these)."
    unit_id: strawberry.ID | None = None
    "A correction: the entry this one reverses (the amount must be its opposite)."
    reverses_entry_id: strawberry.ID | None = None


@strawberry.type
class LedgerEntryPayload:
    entry: LedgerEntry | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
