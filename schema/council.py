"""Owners' council types (网上议事厅, 电子投票)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from core.ids import encode_gid
from domain.council import models as m
from domain.council import service as council
from domain.council import tally as tallying
from schema.accounts import Unit, User
from schema.base import Connection, Money, Node, UserError

Info = strawberry.Info

CouncilMatter = strawberry.enum(
    m.Matter,
    name="CouncilMatter",
    description="The matters of Civil Code art. 278; the matter fixes the pass threshold.",
)
ProposalKind = strawberry.enum(m.Kind, name="ProposalKind")
ProposalStatus = strawberry.enum(m.Status, name="ProposalStatus")
BallotChoice = strawberry.enum(m.Choice, name="BallotChoice")


@strawberry.type
class Ballot:
    choice: BallotChoice  # type: ignore[valid-type]
    cast_at: datetime
    _unit_id: strawberry.Private[int]

    @strawberry.field
    async def unit(self, info: Info) -> Unit:
        return await info.context.loaders.unit.load(self._unit_id)


@strawberry.type(description="A final ballot as published at close: by unit, without names.")
class PublishedBallot:
    unit_label: str
    choice: BallotChoice  # type: ignore[valid-type]
    cast_at: datetime
    _unit_id: strawberry.Private[int]

    @strawberry.field
    async def unit(self, info: Info) -> Unit | None:
        return await info.context.loaders.unit.load(self._unit_id)


def _m2(centi: int) -> float:
    return centi / 100


@strawberry.type
class Tally:
    total_owners: int
    total_area_m2: float
    participating_owners: int
    participating_area_m2: float
    for_owners: int
    for_area_m2: float
    against_owners: int
    against_area_m2: float
    abstain_owners: int
    abstain_area_m2: float
    quorum_met: bool
    passed: bool
    ballots_digest: str | None = strawberry.field(
        description="SM3 digest over the ordered ballots, published at close."
    )
    frozen: bool = strawberry.field(
        description="True once the closing sweep has frozen it; a live tally is not."
    )

    @classmethod
    def of(cls, view: council.TallyView) -> Tally:
        t: tallying.Tally = view.tally
        return cls(
            total_owners=t.total_owners,
            total_area_m2=_m2(t.total_area),
            participating_owners=t.participating_owners,
            participating_area_m2=_m2(t.participating_area),
            for_owners=t.owners["FOR"],
            for_area_m2=_m2(t.area["FOR"]),
            against_owners=t.owners["AGAINST"],
            against_area_m2=_m2(t.area["AGAINST"]),
            abstain_owners=t.owners["ABSTAIN"],
            abstain_area_m2=_m2(t.area["ABSTAIN"]),
            quorum_met=t.quorum_met,
            passed=t.passed,
            ballots_digest=view.digest,
            frozen=view.frozen,
        )


@strawberry.type
class Comment(Node):
    body: str
    created_at: datetime
    "Hidden by staff as abusive; only staff still see hidden comments."
    hidden: bool
    _author_id: strawberry.Private[int]

    @strawberry.field
    async def author(self, info: Info) -> User:
        return await info.context.loaders.user.load(self._author_id)

    @classmethod
    def from_row(cls, row: m.Comment) -> Comment:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("Comment", row.id)),
            body=row.body,
            created_at=row.created_at,
            hidden=row.hidden_at is not None,
            _author_id=row.author_user_id,
        )


@strawberry.type
class Proposal(Node):
    title: str
    body: str
    matter: CouncilMatter  # type: ignore[valid-type]
    kind: ProposalKind  # type: ignore[valid-type]
    opens_at: datetime
    closes_at: datetime
    live_tally: bool
    attachments: list[str]
    created_at: datetime
    _row: strawberry.Private[m.Proposal]

    @strawberry.field
    def status(self) -> ProposalStatus:  # type: ignore[valid-type]
        from core.clock import utcnow

        return council.effective_status(self._row, utcnow())

    @strawberry.field(description="For fund proposals: the most the ledger may post under it.")
    def approved_amount(self) -> Money | None:
        if self._row.approved_amount_minor is None:
            return None
        return Money.of(self._row.approved_amount_minor, "CNY")

    @strawberry.field(description="The viewer's ballot for each unit they may vote for.")
    async def my_ballots(self, info: Info) -> list[Ballot]:
        return await info.context.loaders.council_my_ballots.load(self._row.id)

    @strawberry.field(
        description="Live while open only where the proposal allows it; always once closed."
    )
    async def tally(self, info: Info) -> Tally | None:
        async with info.context.reading() as s:
            view = await council.tally_for_viewer(s, info.context.principal, self._row)
        return Tally.of(view) if view else None

    @strawberry.field
    async def comments(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Comment]:
        from resolvers.base import connection, page_args

        limit, offset = page_args(info, first, after)
        async with info.context.reading() as s:
            rows, total = await council.list_comments(
                s, info.context.principal, self._row, limit=limit, offset=offset
            )
        return connection([Comment.from_row(c) for c in rows], total, offset)

    @strawberry.field(
        description="The final ballots by unit, in register order, once closed (empty "
        "before). The tally's ballotsDigest is SM3 over them; see docs/council.md."
    )
    async def ballots(self, info: Info) -> list[PublishedBallot]:
        async with info.context.reading() as s:
            rows = await council.published_ballots(s, info.context.principal, self._row)
        return [
            PublishedBallot(
                unit_label=b.label, choice=b.choice, cast_at=b.cast_at, _unit_id=b.unit_id
            )
            for b in rows
        ]

    @classmethod
    def from_row(cls, row: m.Proposal) -> Proposal:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("Proposal", row.id)),
            title=row.title,
            body=row.body,
            matter=m.Matter(row.matter),
            kind=m.Kind(row.kind),
            opens_at=row.opens_at,
            closes_at=row.closes_at,
            live_tally=row.live_tally,
            attachments=list(row.attachments or []),
            created_at=row.created_at,
            _row=row,
        )


@strawberry.input
class CastBallotInput:
    proposal_id: strawberry.ID
    unit_id: strawberry.ID
    choice: BallotChoice  # type: ignore[valid-type]
    idempotency_key: str


@strawberry.type
class BallotPayload:
    ballot: Ballot | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CreateProposalInput:
    community_id: strawberry.ID
    title: str
    body: str
    matter: CouncilMatter  # type: ignore[valid-type]
    opens_at: datetime
    closes_at: datetime
    live_tally: bool | None = None
    "Links (http/https) to documents: plans, quotes, drawings."
    attachments: list[str] | None = None
    "FUND_USE / FUND_RAISING only: the most the ledger may post under this proposal."
    approved_amount_minor: int | None = None


@strawberry.type
class ProposalPayload:
    proposal: Proposal | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class PostCommentInput:
    proposal_id: strawberry.ID
    body: str


@strawberry.input
class HideCommentInput:
    comment_id: strawberry.ID
    reason: str


@strawberry.type
class CommentPayload:
    comment: Comment | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
