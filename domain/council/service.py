"""The owners' council: proposals, the discussion, ballots, tallies.

Ballot writes per (proposal, unit) are serialised by a row lock on that unit's current
ballot row; every cast is also appended to `ballot_casts`, so 200 racing casts for one
unit leave one current ballot and 200 history rows. Casting holds a shared lock on the
proposal row and closing takes an exclusive one, so no ballot slips in while a tally is
being frozen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.principal import Principal, Role
from domain.accounts.models import Community, Ownership, Unit
from domain.audit import service as audit
from domain.council import tally as tallying
from domain.council.errors import NotEligible, VotingClosed
from domain.council.models import (
    Ballot,
    BallotCast,
    Choice,
    Comment,
    Kind,
    Matter,
    Proposal,
    Status,
    kind_of,
)
from domain.notifications.service import notify

READER_ROLES = (Role.RESIDENT, Role.STAFF, Role.MANAGER)
FUND_MATTERS = frozenset({Matter.FUND_USE.value, Matter.FUND_RAISING.value})


def can_read(principal: Principal, community_id: int) -> bool:
    return principal.has_role(community_id, *READER_ROLES)


def effective_status(p: Proposal, now: datetime) -> Status:
    """Time decides, even before the sweep has caught up."""
    if p.status == Status.CLOSED or now >= p.closes_at:
        return Status.CLOSED
    if now >= p.opens_at:
        return Status.OPEN
    return Status.DRAFT


def _text(value: str, what: str, field: str, max_len: int) -> str:
    value = value.strip()
    if not value or len(value) > max_len:
        raise Invalid("council.text", field=["input", field], what=what)
    return value


def _local(p_time: datetime, tz: str) -> str:
    return p_time.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


async def owner_user_ids(session: AsyncSession, community_id: int) -> list[int]:
    rows = await session.scalars(
        select(Ownership.user_id)
        .join(Unit, Unit.id == Ownership.unit_id)  # type: ignore[arg-type]
        .where(Unit.community_id == community_id)
        .distinct()
    )
    return list(rows)


# ---------------------------------------------------------------- proposals
async def create_proposal(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int,
    title: str,
    body: str,
    matter: Matter,
    opens_at: datetime,
    closes_at: datetime,
    live_tally: bool = False,
    attachments: list[str] | None = None,
    approved_amount_minor: int | None = None,
) -> Proposal:
    """Staff (property staff or managers) announce a proposal; owners are notified."""
    if not principal.is_staff(community_id):
        raise Forbidden()
    community = await session.get(Community, community_id)
    if community is None:
        raise NotFound(field=["input", "communityId"])
    now = utcnow()
    if closes_at <= opens_at or closes_at <= now:
        raise Invalid("council.window", field=["input", "closesAt"])
    links = [a.strip() for a in attachments or []]
    for link in links:
        url = urlparse(link)
        if url.scheme not in ("http", "https") or not url.netloc or len(link) > 500:
            raise Invalid("council.attachment", field=["input", "attachments"])
    if len(links) > 20:
        raise Invalid("council.attachment", field=["input", "attachments"])
    if approved_amount_minor is not None and (
        matter.value not in FUND_MATTERS or approved_amount_minor <= 0
    ):
        raise Invalid("council.amount", field=["input", "approvedAmountMinor"])
    p = Proposal(
        community_id=community_id,
        title=_text(title, "title", "title", 200),
        body=_text(body, "body", "body", 20000),
        matter=matter.value,
        kind=kind_of(matter).value,
        status=Status.OPEN if opens_at <= now else Status.DRAFT,
        opens_at=opens_at,
        closes_at=closes_at,
        live_tally=bool(live_tally),
        attachments=links,
        approved_amount_minor=approved_amount_minor,
        created_by=principal.user_id,
        opened_at=now if opens_at <= now else None,
    )
    session.add(p)
    await session.flush()
    audit.record(
        session,
        principal,
        "council.propose",
        community_id=community_id,
        target=f"Proposal:{p.id}",
        matter=p.matter,
    )
    await notify(
        session,
        user_ids=await owner_user_ids(session, community_id),
        category="COUNCIL",
        title_key="council.announced_title",
        body_key="council.announced_body",
        params={
            "title": p.title,
            "opens": _local(opens_at, community.time_zone),
            "closes": _local(closes_at, community.time_zone),
        },
        data={"proposalId": p.id},
        community_id=community_id,
    )
    return p


async def get_readable(session: AsyncSession, principal: Principal, proposal_id: int) -> Proposal:
    p = await session.get(Proposal, proposal_id)
    if p is None or not can_read(principal, p.community_id):
        raise NotFound(field=["input", "proposalId"])
    return p


async def proposals_by_ids(
    session: AsyncSession, principal: Principal, ids: list[int]
) -> dict[int, Proposal]:
    readable = list(principal.communities_with(*READER_ROLES))
    if not ids or not readable:
        return {}
    rows = await session.scalars(
        select(Proposal).where(
            Proposal.id.in_(ids),  # type: ignore[union-attr]
            Proposal.community_id.in_(readable),  # type: ignore[attr-defined]
        )
    )
    return {p.id: p for p in rows if p.id is not None}


async def list_proposals(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int,
    status: Status | None,
    limit: int,
    offset: int,
) -> tuple[list[Proposal], int]:
    if not can_read(principal, community_id):
        raise Forbidden()
    now = utcnow()
    base = select(Proposal).where(Proposal.community_id == community_id)
    closed = or_(Proposal.status == Status.CLOSED, Proposal.closes_at <= now)
    if status is Status.CLOSED:
        base = base.where(closed)
    elif status is Status.OPEN:
        base = base.where(~closed, Proposal.opens_at <= now)
    elif status is Status.DRAFT:
        base = base.where(~closed, Proposal.opens_at > now)
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    rows = await session.scalars(
        base.order_by(Proposal.opens_at.desc(), Proposal.id.desc())  # type: ignore[attr-defined,union-attr]
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


# ---------------------------------------------------------------- ballots
@dataclass
class CastResult:
    unit_id: int
    choice: Choice
    cast_at: datetime


def _check_key(key: str) -> str:
    if not key or len(key) > 100:
        raise Invalid("error.idempotency_key", field=["input", "idempotencyKey"])
    return key


async def _replayed(
    session: AsyncSession, user_id: int, key: str, proposal_id: int, unit_id: int, choice: Choice
) -> BallotCast | None:
    found = await session.scalar(
        select(BallotCast).where(
            BallotCast.voter_user_id == user_id, BallotCast.idempotency_key == key
        )
    )
    if found is None:
        return None
    if (found.proposal_id, found.unit_id, found.choice) != (proposal_id, unit_id, choice.value):
        raise Conflict("error.idempotency_reuse", field=["input", "idempotencyKey"])
    return found


def _insert(session: AsyncSession, model: type) -> object:
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)


async def cast_ballot(
    session: AsyncSession,
    principal: Principal,
    *,
    proposal_id: int,
    unit_id: int,
    choice: Choice,
    idempotency_key: str,
) -> BallotCast:
    """An owner of the unit casts (or changes) the unit's ballot. A retried request
    (same key) returns the first cast and changes nothing.

    Kept to a few statements, since casts for one unit queue on its row lock."""
    if principal.user_id is None:
        raise Forbidden()
    key = _check_key(idempotency_key)
    # Shared lock: many units vote at once, but closing (exclusive) waits for them.
    p = await session.scalar(
        select(Proposal)
        .where(Proposal.id == proposal_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    if p is None or not can_read(principal, p.community_id):
        raise NotFound(field=["input", "proposalId"])
    eligible = await session.scalar(
        select(Ownership.id)
        .join(Unit, Unit.id == Ownership.unit_id)  # type: ignore[arg-type]
        .where(
            Ownership.unit_id == unit_id,
            Ownership.user_id == principal.user_id,
            Unit.community_id == p.community_id,
        )
    )
    if eligible is None or not principal.has_role(p.community_id, Role.RESIDENT):
        raise NotEligible(field=["input", "unitId"])
    replay = await _replayed(session, principal.user_id, key, proposal_id, unit_id, choice)
    if replay is not None:
        return replay
    now = utcnow()
    if effective_status(p, now) is not Status.OPEN:
        community = await session.get(Community, p.community_id)
        tz = community.time_zone if community else "UTC"
        raise VotingClosed(
            field=["input", "proposalId"],
            opens=_local(p.opens_at, tz),
            closes=_local(p.closes_at, tz),
        )
    # Create the unit's current-ballot row if needed and lock it, in one statement (the
    # no-op DO UPDATE takes the row lock): racing casts for this unit queue here.
    ballots = Ballot.__table__  # type: ignore[attr-defined]
    ins = _insert(session, Ballot)
    ballot_id = await session.scalar(
        ins.values(proposal_id=proposal_id, unit_id=unit_id, casts=0)  # type: ignore[attr-defined]
        .on_conflict_do_update(
            index_elements=["proposal_id", "unit_id"], set_={"casts": ballots.c.casts}
        )
        .returning(ballots.c.id)
    )
    # Holding the unit's lock, look again: a racing duplicate may have committed.
    replay = await _replayed(session, principal.user_id, key, proposal_id, unit_id, choice)
    if replay is not None:
        return replay
    cast_id = await session.scalar(
        _insert(session, BallotCast)  # type: ignore[attr-defined]
        .values(
            proposal_id=proposal_id,
            unit_id=unit_id,
            voter_user_id=principal.user_id,
            choice=choice.value,
            cast_at=now,
            idempotency_key=key,
        )
        .on_conflict_do_nothing()
        .returning(BallotCast.__table__.c.id)  # type: ignore[attr-defined]
    )
    if cast_id is None:
        # The same key raced in for another unit; that request won.
        raise Conflict("error.idempotency_reuse", field=["input", "idempotencyKey"])
    await session.execute(
        update(Ballot)
        .where(Ballot.id == ballot_id)
        .values(
            choice=choice.value,
            cast_at=now,
            cast_by=principal.user_id,
            cast_id=cast_id,
            casts=Ballot.casts + 1,
        )
    )
    audit.record(
        session,
        principal,
        "council.ballot",
        community_id=p.community_id,
        target=f"Proposal:{proposal_id}",
        unit_id=unit_id,
    )
    return BallotCast(
        id=cast_id,
        proposal_id=proposal_id,
        unit_id=unit_id,
        voter_user_id=principal.user_id,
        choice=choice.value,
        cast_at=now,
        idempotency_key=key,
    )


async def my_ballots(
    session: AsyncSession, principal: Principal, proposal_ids: list[int]
) -> dict[int, list[Ballot]]:
    """The current ballot of each unit the viewer owns, per proposal (a co-owner sees
    the unit's ballot whoever of them cast it)."""
    out: dict[int, list[Ballot]] = {pid: [] for pid in proposal_ids}
    if principal.user_id is None or not proposal_ids:
        return out
    mine = select(Ownership.unit_id).where(Ownership.user_id == principal.user_id)
    rows = await session.scalars(
        select(Ballot)
        .where(
            Ballot.proposal_id.in_(proposal_ids),  # type: ignore[attr-defined]
            Ballot.unit_id.in_(mine),  # type: ignore[attr-defined]
            Ballot.choice.is_not(None),  # type: ignore[union-attr]
        )
        .order_by(Ballot.unit_id)
    )
    for b in rows:
        out[b.proposal_id].append(b)
    return out


# ---------------------------------------------------------------- tallies
async def _register(session: AsyncSession, community_id: int) -> list[tallying.UnitRecord]:
    units = (
        await session.execute(
            select(Unit.id, Unit.area_centi_m2, Unit.developer_held, Unit.label).where(
                Unit.community_id == community_id
            )
        )
    ).all()
    owners: dict[int, set[int]] = {}
    rows = await session.execute(
        select(Ownership.unit_id, Ownership.user_id)
        .join(Unit, Unit.id == Ownership.unit_id)  # type: ignore[arg-type]
        .where(Unit.community_id == community_id)
    )
    for unit_id, user_id in rows.all():
        owners.setdefault(unit_id, set()).add(user_id)
    return [
        tallying.UnitRecord(
            unit_id=uid,
            area=area,
            owners=frozenset(owners.get(uid, ())),
            developer_held=dev,
            label=label,
        )
        for uid, area, dev, label in units
    ]


@dataclass
class PublishedBallot:
    unit_id: int
    label: str
    choice: Choice
    cast_at: datetime
    cast_id: int


async def final_ballots(session: AsyncSession, proposal_id: int) -> list[PublishedBallot]:
    """The final ballot of every unit that voted, in register order (unit id)."""
    rows = await session.execute(
        select(Ballot.unit_id, Unit.label, Ballot.choice, Ballot.cast_at, Ballot.cast_id)
        .join(Unit, Unit.id == Ballot.unit_id)  # type: ignore[arg-type]
        .where(Ballot.proposal_id == proposal_id, Ballot.choice.is_not(None))  # type: ignore[union-attr]
        .order_by(Ballot.unit_id)
    )
    return [
        PublishedBallot(uid, label, Choice(choice), at, cid or 0)
        for uid, label, choice, at, cid in rows.all()
    ]


async def compute_tally(
    session: AsyncSession, p: Proposal
) -> tuple[tallying.Tally, list[PublishedBallot]]:
    assert p.id is not None
    register = await _register(session, p.community_id)
    ballots = await final_ballots(session, p.id)
    result = tallying.compute(
        Kind(p.kind),
        register,
        [tallying.FinalBallot(b.unit_id, b.choice, b.cast_at, b.cast_id) for b in ballots],
    )
    return result, ballots


def digest_of(p: Proposal, ballots: list[PublishedBallot]) -> str:
    assert p.id is not None
    return tallying.ballots_digest(p.id, [(b.label, b.choice.value, b.cast_at) for b in ballots])


@dataclass
class TallyView:
    tally: tallying.Tally
    digest: str | None
    frozen: bool


async def tally_for_viewer(
    session: AsyncSession, principal: Principal, p: Proposal
) -> TallyView | None:
    """Nothing while open unless the proposal allows a live tally; always once closed
    (the frozen one; computed on the fly if the closing sweep has not run yet — no
    ballot can be added after the closing time, so it is already final)."""
    if not can_read(principal, p.community_id):
        return None
    status = effective_status(p, utcnow())
    if status is Status.CLOSED:
        if p.status == Status.CLOSED and p.tally is not None:
            return TallyView(tallying.Tally.from_json(p.tally), p.ballots_digest, True)
        result, ballots = await compute_tally(session, p)
        return TallyView(result, digest_of(p, ballots), False)
    if status is Status.OPEN and p.live_tally:
        result, _ = await compute_tally(session, p)
        return TallyView(result, None, False)
    return None


async def published_ballots(
    session: AsyncSession, principal: Principal, p: Proposal
) -> list[PublishedBallot]:
    """Ballots by unit (no names) once closed; nothing before."""
    if not can_read(principal, p.community_id):
        return []
    if effective_status(p, utcnow()) is not Status.CLOSED:
        return []
    return await final_ballots(session, p.id or 0)


async def _freeze(session: AsyncSession, p: Proposal, now: datetime) -> None:
    result, ballots = await compute_tally(session, p)
    p.status = Status.CLOSED
    p.closed_at = now
    p.tally = result.as_json()
    p.passed = result.passed
    p.ballots_digest = digest_of(p, ballots)
    if p.opened_at is None:
        p.opened_at = p.opens_at
    audit.record(
        session,
        None,
        "council.close",
        community_id=p.community_id,
        target=f"Proposal:{p.id}",
        passed=result.passed,
        digest=p.ballots_digest,
    )
    await notify(
        session,
        user_ids=await owner_user_ids(session, p.community_id),
        category="COUNCIL",
        title_key="council.closed_title",
        body_key="council.closed_passed" if result.passed else "council.closed_failed",
        params={"title": p.title},
        data={"proposalId": p.id, "passed": result.passed},
        community_id=p.community_id,
    )


async def settled_proposal(session: AsyncSession, proposal_id: int) -> Proposal | None:
    """The proposal, with its tally frozen if its closing time has passed (for the
    ledger, which needs a decided outcome). Call inside a write transaction."""
    p = await session.scalar(
        select(Proposal)
        .where(Proposal.id == proposal_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if p is None:
        return None
    now = utcnow()
    if p.status != Status.CLOSED and now >= p.closes_at:
        await _freeze(session, p, now)
        await session.flush()
    return p


async def sweep_proposals(session: AsyncSession, *, now: datetime) -> tuple[int, int]:
    """Open what is due, close and freeze what is due. Idempotent; rows are claimed
    with SKIP LOCKED so several instances can run it. Returns (opened, closed)."""
    due_open = await session.scalars(
        select(Proposal)
        .where(Proposal.status == Status.DRAFT, Proposal.opens_at <= now, Proposal.closes_at > now)
        .with_for_update(skip_locked=True)
    )
    opened = 0
    for p in due_open:
        p.status = Status.OPEN
        p.opened_at = now
        opened += 1
    due_close = await session.scalars(
        select(Proposal)
        .where(Proposal.status != Status.CLOSED, Proposal.closes_at <= now)
        .order_by(Proposal.id)
        .with_for_update(skip_locked=True)
    )
    closed = 0
    for p in list(due_close):
        await _freeze(session, p, now)
        closed += 1
    await session.flush()
    return opened, closed


# ---------------------------------------------------------------- discussion
async def post_comment(
    session: AsyncSession, principal: Principal, *, proposal_id: int, body: str
) -> Comment:
    if principal.user_id is None:
        raise Forbidden()
    p = await get_readable(session, principal, proposal_id)
    if effective_status(p, utcnow()) is Status.CLOSED:
        raise VotingClosed("council.discussion_closed", field=["input", "proposalId"])
    c = Comment(
        proposal_id=proposal_id,
        author_user_id=principal.user_id,
        body=_text(body, "body", "body", 2000),
    )
    session.add(c)
    await session.flush()
    return c


async def hide_comment(
    session: AsyncSession, principal: Principal, *, comment_id: int, reason: str
) -> Comment:
    """Staff hide an abusive comment: kept, marked hidden, audited."""
    c = await session.get(Comment, comment_id)
    p = await session.get(Proposal, c.proposal_id) if c else None
    if c is None or p is None or not can_read(principal, p.community_id):
        raise NotFound(field=["input", "commentId"])
    if not principal.is_staff(p.community_id):
        raise Forbidden()
    if c.hidden_at is not None:
        return c
    c.hidden_at = utcnow()
    c.hidden_by = principal.user_id
    c.hidden_reason = _text(reason, "reason", "reason", 500)
    audit.record(
        session,
        principal,
        "council.comment_hidden",
        community_id=p.community_id,
        target=f"Comment:{c.id}",
        reason=c.hidden_reason,
    )
    return c


async def list_comments(
    session: AsyncSession, principal: Principal, p: Proposal, *, limit: int, offset: int
) -> tuple[list[Comment], int]:
    """Oldest first. Hidden comments are shown to staff only."""
    if not can_read(principal, p.community_id):
        return [], 0
    base = select(Comment).where(Comment.proposal_id == p.id)
    if not principal.is_staff(p.community_id):
        base = base.where(Comment.hidden_at.is_(None))  # type: ignore[union-attr]
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    rows = await session.scalars(base.order_by(Comment.id).limit(limit).offset(offset))
    return list(rows), int(total or 0)
