"""The owners' council: proposals, the discussion thread, ballots per unit.

`ballots` holds the one current ballot per (proposal, unit); `ballot_casts` keeps every
cast (append-only, a database trigger refuses UPDATE and DELETE), so a changed ballot
never erases the earlier one.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.base import created_at_field, fk, json_field, utc_field


class Matter(enum.StrEnum):
    RULES_OF_PROCEDURE = "RULES_OF_PROCEDURE"
    MANAGEMENT_COVENANT = "MANAGEMENT_COVENANT"
    COMMITTEE_ELECTION = "COMMITTEE_ELECTION"
    PROPERTY_MANAGER_HIRING = "PROPERTY_MANAGER_HIRING"
    FUND_USE = "FUND_USE"
    FUND_RAISING = "FUND_RAISING"
    RENOVATION_REBUILD = "RENOVATION_REBUILD"
    COMMON_PARTS_CHANGE = "COMMON_PARTS_CHANGE"
    OTHER_MAJOR = "OTHER_MAJOR"


class Kind(enum.StrEnum):
    ORDINARY = "ORDINARY"
    SPECIAL = "SPECIAL"


# Civil Code art. 278 para. 2: these three need 3/4; every other matter more than half.
SPECIAL_MATTERS = frozenset(
    {Matter.FUND_RAISING, Matter.RENOVATION_REBUILD, Matter.COMMON_PARTS_CHANGE}
)


def kind_of(matter: Matter) -> Kind:
    return Kind.SPECIAL if matter in SPECIAL_MATTERS else Kind.ORDINARY


class Status(enum.StrEnum):
    DRAFT = "DRAFT"
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class Choice(enum.StrEnum):
    FOR = "FOR"
    AGAINST = "AGAINST"
    ABSTAIN = "ABSTAIN"


class Proposal(SQLModel, table=True):
    __tablename__ = "proposals"
    __table_args__ = (CheckConstraint("closes_at > opens_at", name="window"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    title: str = Field(max_length=200)
    body: str = Field(sa_type=Text)
    matter: str = Field(max_length=32)
    kind: str = Field(max_length=10)
    status: str = Field(default=Status.DRAFT, max_length=10, index=True)
    opens_at: datetime = utc_field(nullable=False)
    closes_at: datetime = utc_field(nullable=False, index=True)
    live_tally: bool = False
    attachments: list[str] = json_field(list)
    # For FUND_USE / FUND_RAISING: the most the ledger may post under this proposal.
    approved_amount_minor: int | None = Field(default=None, sa_type=BigInteger)
    created_by: int | None = fk("users.id", nullable=True, index=False)
    created_at: datetime = created_at_field()
    opened_at: datetime | None = utc_field()
    closed_at: datetime | None = utc_field()
    # Frozen at close: the tally figures, whether it passed, the SM3 digest of the
    # ordered final ballots.
    passed: bool | None = None
    tally: dict[str, Any] | None = json_field(lambda: None, nullable=True)
    ballots_digest: str | None = Field(default=None, max_length=64)


class Ballot(SQLModel, table=True):
    """The current ballot of a unit on a proposal: the last cast counts."""

    __tablename__ = "ballots"
    __table_args__ = (UniqueConstraint("proposal_id", "unit_id"),)
    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = fk("proposals.id")
    unit_id: int = fk("units.id")
    choice: str | None = Field(default=None, max_length=10)
    cast_at: datetime | None = utc_field()
    cast_by: int | None = fk("users.id", nullable=True, index=False)
    cast_id: int | None = None
    casts: int = 0


class BallotCast(SQLModel, table=True):
    """Every cast, kept for ever. The idempotency key is the caller's, per voter."""

    __tablename__ = "ballot_casts"
    __table_args__ = (UniqueConstraint("voter_user_id", "idempotency_key"),)
    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = fk("proposals.id")
    unit_id: int = fk("units.id")
    voter_user_id: int = fk("users.id", index=False)
    choice: str = Field(max_length=10)
    cast_at: datetime = created_at_field()
    idempotency_key: str = Field(max_length=100)


class Comment(SQLModel, table=True):
    """The discussion thread (网上议事厅). Abusive comments are hidden, never deleted."""

    __tablename__ = "council_comments"
    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = fk("proposals.id")
    author_user_id: int = fk("users.id", index=False)
    body: str = Field(sa_type=Text)
    created_at: datetime = created_at_field()
    hidden_at: datetime | None = utc_field()
    hidden_by: int | None = fk("users.id", nullable=True, index=False)
    hidden_reason: str | None = Field(default=None, max_length=500)
