"""Fund ledgers for public disclosure: the special maintenance fund and common income.

Entries are append-only (a database trigger refuses UPDATE and DELETE) and hash-chained
per account. `ledger_accounts` is the head of each chain: appends lock its row, so two
postings to one account can never both extend the same previous entry.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.base import created_at_field, fk

GENESIS_HASH = "0" * 64


class Account(enum.StrEnum):
    MAINTENANCE_FUND = "MAINTENANCE_FUND"
    COMMON_INCOME = "COMMON_INCOME"


class LedgerAccount(SQLModel, table=True):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("community_id", "account"),
        CheckConstraint("balance_minor >= 0", name="balance_not_negative"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    account: str = Field(max_length=20)
    currency: str = Field(default="CNY", max_length=3)
    # BIGINT: a large community's fund exceeds 2^31 fen.
    balance_minor: int = Field(default=0, sa_type=BigInteger)
    entries: int = 0
    head_hash: str = Field(default=GENESIS_HASH, max_length=64)


class LedgerEntry(SQLModel, table=True):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("account_id", "seq"),
        UniqueConstraint("account_id", "idempotency_key"),
        CheckConstraint("amount_minor <> 0", name="amount_not_zero"),
    )
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = fk("ledger_accounts.id", index=False)
    community_id: int = fk("communities.id")
    account: str = Field(max_length=20)
    # Position in the account's chain, 1, 2, ...
    seq: int
    posted_at: datetime = created_at_field()
    amount_minor: int = Field(sa_type=BigInteger)
    balance_after_minor: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    category: str = Field(max_length=40)
    description: str = Field(sa_type=Text)
    counterparty: str | None = Field(default=None, max_length=200)
    evidence_url: str | None = Field(default=None, max_length=500)
    proposal_id: int | None = fk("proposals.id", nullable=True)
    # A unit's contribution to the maintenance fund (its share follows these).
    unit_id: int | None = fk("units.id", nullable=True)
    reverses_entry_id: int | None = fk("ledger_entries.id", nullable=True, index=False)
    # None for system postings (parking income).
    posted_by: int | None = fk("users.id", nullable=True, index=False)
    idempotency_key: str = Field(max_length=100)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class LedgerStatement(SQLModel, table=True):
    """One published monthly statement per community and month (the sweep's claim)."""

    __tablename__ = "ledger_statements"
    __table_args__ = (UniqueConstraint("community_id", "period"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id", index=False)
    period: str = Field(max_length=7)  # "2026-10"
    published_at: datetime = created_at_field()
    figures: str = Field(sa_type=Text)  # JSON text of the figures sent
    head_hashes: str | None = Field(default=None, sa_type=Text)
