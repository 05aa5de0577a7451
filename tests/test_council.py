"""The owners' council end to end through GraphQL: proposals, ballots per unit by
owners only, changed ballots, the discussion with hidden comments, secrecy while open,
closing with a frozen tally whose digest anyone can recompute, and racing ballots."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import func, select

from core.clock import utcnow
from core.ids import decode_gid
from domain.council import service as council
from domain.council.models import Ballot, BallotCast
from domain.council.tally import ballots_digest
from tests.support import GraphQLClient

CREATE = """
mutation($i: CreateProposalInput!) { createProposal(input: $i) {
  proposal { id status kind matter }
  userErrors { code field message } } }"""
CAST = """
mutation($p: ID!, $u: ID!, $c: BallotChoice!, $k: String!) {
  castBallot(input: {proposalId: $p, unitId: $u, choice: $c, idempotencyKey: $k}) {
    ballot { choice castAt unit { label } } userErrors { code message } } }"""
VIEW = """
query($c: ID!) { proposals(communityId: $c, first: 50) { totalCount edges { node {
  id title status kind
  myBallots { unit { label } choice castAt }
  tally { totalOwners totalAreaM2 participatingOwners participatingAreaM2 forOwners forAreaM2
          againstOwners abstainOwners quorumMet passed ballotsDigest frozen }
  ballots { unitLabel choice castAt }
  comments { totalCount edges { node { id body hidden author { displayName } } } }
} } } }"""


async def _create(api: GraphQLClient, *, hours: int = 2, live: bool = False, **extra) -> str:
    now = utcnow()
    data = await api.gql(
        CREATE,
        {
            "i": {
                "communityId": api.garden,
                "title": "更换小区大门 Replace the main gate",
                "body": "旧大门锈蚀。The old gate is rusty.",
                "matter": extra.pop("matter", "OTHER_MAJOR"),
                "opensAt": now.isoformat(),
                "closesAt": (now + timedelta(hours=hours)).isoformat(),
                "liveTally": live,
                **extra,
            }
        },
        as_="staff1",
    )
    payload = data["createProposal"]
    assert payload["userErrors"] == [], payload
    return payload["proposal"]["id"]


async def _cast(api: GraphQLClient, who: str, p: str, unit: str, choice: str, key: str) -> dict:
    data = await api.gql(CAST, {"p": p, "u": api.unit_gid(unit), "c": choice, "k": key}, as_=who)
    return data["castBallot"]


async def _node(api: GraphQLClient, who: str, p: str) -> dict:
    data = await api.gql(VIEW, {"c": api.garden}, as_=who)
    return next(e["node"] for e in data["proposals"]["edges"] if e["node"]["id"] == p)


async def _casts(api: GraphQLClient) -> int:
    async with api.db.reader() as s:
        return int(await s.scalar(select(func.count()).select_from(BallotCast)) or 0)


async def test_proposal_ballots_discussion_and_close(api: GraphQLClient, clock):
    p = await _create(api)
    view = await _node(api, "resident1", p)
    assert (view["status"], view["kind"]) == ("OPEN", "ORDINARY")

    first = await _cast(api, "resident1", p, "1-101", "FOR", "r1-a")
    assert first["userErrors"] == [] and first["ballot"]["choice"] == "FOR"
    before = await _casts(api)
    clock.advance(seconds=5)
    again = await _cast(api, "resident1", p, "1-101", "FOR", "r1-a")
    assert again["ballot"] == first["ballot"]  # the first result, nothing new
    assert await _casts(api) == before
    reuse = await _cast(api, "resident1", p, "1-101", "AGAINST", "r1-a")
    assert [e["code"] for e in reuse["userErrors"]] == ["CONFLICT"]

    # Not an owner of that unit; a tenant; another community: nobody else votes.
    for who, unit in (("resident1", "1-102"), ("tenant1", "2-301")):
        refused = await _cast(api, who, p, unit, "FOR", f"x-{who}")
        assert [e["code"] for e in refused["userErrors"]] == ["NOT_ELIGIBLE"], refused
    other = await _cast(api, "residentb", p, "A-101", "FOR", "x-b")
    assert other["ballot"] is None and other["userErrors"]
    other = await _cast(api, "residentb", p, "1-101", "AGAINST", "x-b2")
    assert other["ballot"] is None and other["userErrors"]
    assert await _casts(api) == before

    # A co-owner casts for the unit; the other co-owner changes it; the last counts.
    await _cast(api, "coowner1", p, "1-202", "AGAINST", "c1")
    clock.advance(minutes=1)
    await _cast(api, "coowner2", p, "1-202", "FOR", "c2")
    mine = (await _node(api, "coowner1", p))["myBallots"]
    assert [(b["unit"]["label"], b["choice"]) for b in mine] == [("1-202", "FOR")]
    await _cast(api, "resident2", p, "1-102", "AGAINST", "r2-a")
    await _cast(api, "resident2", p, "2-201", "ABSTAIN", "r2-b")

    # While open and without a live tally nobody sees choices: no tally, no ballots.
    for who in ("resident2", "staff1", "manager", "tenant1"):
        view = await _node(api, who, p)
        assert view["tally"] is None and view["ballots"] == [], who
    r1 = await _node(api, "resident1", p)
    assert [(b["unit"]["label"], b["choice"]) for b in r1["myBallots"]] == [("1-101", "FOR")]

    # Discussion: residents post; staff hide an abusive comment (kept, audited).
    post = """mutation($p: ID!, $b: String!) { postComment(input: {proposalId: $p, body: $b}) {
      comment { id hidden } userErrors { code } } }"""
    ok = (await api.gql(post, {"p": p, "b": "支持！"}, as_="resident1"))["postComment"]
    bad = (await api.gql(post, {"p": p, "b": "骂人的话"}, as_="tenant1"))["postComment"]
    assert ok["userErrors"] == [] and bad["userErrors"] == []
    outsider = (await api.gql(post, {"p": p, "b": "x"}, as_="residentb"))["postComment"]
    assert outsider["comment"] is None and outsider["userErrors"]
    hide = """mutation($c: ID!) { hideComment(input: {commentId: $c, reason: "辱骂"}) {
      comment { hidden } userErrors { code } } }"""
    refused = (await api.gql(hide, {"c": bad["comment"]["id"]}, as_="resident1"))["hideComment"]
    assert [e["code"] for e in refused["userErrors"]] == ["FORBIDDEN"]
    hidden = (await api.gql(hide, {"c": bad["comment"]["id"]}, as_="staff1"))["hideComment"]
    assert hidden["comment"]["hidden"] is True
    seen = (await _node(api, "resident2", p))["comments"]
    assert [e["node"]["body"] for e in seen["edges"]] == ["支持！"]
    staff_seen = (await _node(api, "staff1", p))["comments"]
    assert [e["node"]["hidden"] for e in staff_seen["edges"]] == [False, True]
    audit = await api.gql(
        "query($c: ID!) { auditLog(communityId: $c, first: 100) { edges { node { action } } } }",
        {"c": api.garden},
        as_="manager",
    )
    actions = [e["node"]["action"] for e in audit["auditLog"]["edges"]]
    assert "council.comment_hidden" in actions and "council.ballot" in actions

    # Closing time: ballots are refused; the tally is visible (final) before the sweep
    # freezes it, and the frozen one is the same.
    clock.advance(hours=2)
    late = await _cast(api, "resident1", p, "1-101", "AGAINST", "late")
    assert [e["code"] for e in late["userErrors"]] == ["VOTING_CLOSED"]
    unfrozen = (await _node(api, "resident2", p))["tally"]
    async with api.db.transaction() as s:
        assert (await council.sweep_proposals(s, now=utcnow()))[1] >= 1
    async with api.db.transaction() as s:
        assert (await council.sweep_proposals(s, now=utcnow()))[1] == 0  # idempotent
    view = await _node(api, "tenant1", p)
    tally = view["tally"]
    assert view["status"] == "CLOSED" and tally["frozen"] is True and unfrozen["frozen"] is False
    assert {k: v for k, v in tally.items() if k != "frozen"} == {
        k: v for k, v in unfrozen.items() if k != "frozen"
    }
    published = [(b["unitLabel"], b["choice"]) for b in view["ballots"]]
    assert sorted(published) == [
        ("1-101", "FOR"),
        ("1-102", "AGAINST"),
        ("1-202", "FOR"),
        ("2-201", "ABSTAIN"),
    ]
    # resident2's two units are one owner: its head follows the later cast (ABSTAIN).
    assert tally["participatingOwners"] == 3 and tally["forOwners"] == 2
    assert tally["abstainOwners"] == 1 and tally["againstOwners"] == 0
    assert tally["quorumMet"] is False and tally["passed"] is False
    # Anyone can recompute the digest from the published list.
    pk = decode_gid(p)[1]
    rows = [
        (b["unitLabel"], b["choice"], datetime.fromisoformat(b["castAt"])) for b in view["ballots"]
    ]
    assert tally["ballotsDigest"] == ballots_digest(pk, rows)
    async with api.db.reader() as s:
        history = await s.scalar(
            select(func.count()).select_from(BallotCast).where(BallotCast.proposal_id == pk)
        )
    assert history == 5  # every cast kept, the changed one included


async def test_live_tally_and_validation(api: GraphQLClient, clock):
    p = await _create(api, live=True)
    await _cast(api, "resident1", p, "1-101", "FOR", "live-1")
    tally = (await _node(api, "resident2", p))["tally"]
    assert tally["participatingOwners"] == 1 and tally["forOwners"] == 1
    # Announcing notified the owners (not tenants).
    inbox = "{ notifications(first: 50) { edges { node { category title } } } }"
    for who, expected in (("resident2", 1), ("coowner2", 1), ("tenant1", 0)):
        got = (await api.gql(inbox, as_=who))["notifications"]["edges"]
        ours = [e for e in got if "Replace the main gate" in e["node"]["title"]]
        assert len(ours) == expected and all(e["node"]["category"] == "COUNCIL" for e in ours)
    assert tally["frozen"] is False and tally["ballotsDigest"] is None
    assert (await _node(api, "resident2", p))["ballots"] == []  # no choices by unit yet

    now = utcnow()
    bad = await api.gql(
        CREATE,
        {
            "i": {
                "communityId": api.garden,
                "title": "x",
                "body": "y",
                "matter": "FUND_RAISING",
                "opensAt": now.isoformat(),
                "closesAt": (now - timedelta(hours=1)).isoformat(),
            }
        },
        as_="staff1",
        lang="en",
    )
    err = bad["createProposal"]["userErrors"]
    assert err[0]["code"] == "INVALID" and "closing time" in err[0]["message"]
    refused = await api.post(
        CREATE,
        {
            "i": {
                "communityId": api.garden,
                "title": "x",
                "body": "y",
                "matter": "OTHER_MAJOR",
                "opensAt": now.isoformat(),
                "closesAt": (now + timedelta(hours=1)).isoformat(),
            }
        },
        as_="resident1",
    )
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # A scheduled proposal is a DRAFT until its opening; ballots wait for it.
    later = await api.gql(
        CREATE,
        {
            "i": {
                "communityId": api.garden,
                "title": "下月表决",
                "body": "z",
                "matter": "COMMON_PARTS_CHANGE",
                "opensAt": (now + timedelta(days=1)).isoformat(),
                "closesAt": (now + timedelta(days=8)).isoformat(),
            }
        },
        as_="staff1",
    )
    draft = later["createProposal"]["proposal"]
    assert (draft["status"], draft["kind"]) == ("DRAFT", "SPECIAL")
    drafts = await api.gql(
        "query($c: ID!) { proposals(communityId: $c, status: DRAFT) { edges { node { id } } } }",
        {"c": api.garden},
        as_="resident1",
    )
    assert draft["id"] in [e["node"]["id"] for e in drafts["proposals"]["edges"]]
    early = await _cast(api, "resident1", draft["id"], "1-101", "FOR", "early")
    assert [e["code"] for e in early["userErrors"]] == ["VOTING_CLOSED"]
    clock.advance(days=1, minutes=1)
    async with api.db.transaction() as s:
        assert (await council.sweep_proposals(s, now=utcnow()))[0] == 1
    ok = await _cast(api, "resident1", draft["id"], "1-101", "FOR", "early-2")
    assert ok["userErrors"] == []


async def test_racing_ballots_for_one_unit(api: GraphQLClient, clock):
    p = await _create(api)
    n = 200 if api.backend.name == "postgres" else 40
    choices = ["FOR", "AGAINST", "ABSTAIN"]
    results = await asyncio.gather(
        *[_cast(api, "resident2", p, "1-102", choices[i % 3], f"race-{i}") for i in range(n)],
        # The same request retried concurrently: one effect.
        *[_cast(api, "resident2", p, "2-201", "FOR", "dup") for _ in range(20)],
    )
    assert all(r["userErrors"] == [] for r in results), [r for r in results if r["userErrors"]]
    pk = decode_gid(p)[1]
    async with api.db.reader() as s:
        current = [
            (b.unit_id, b.cast_id, b.choice, b.casts)
            for b in await s.scalars(select(Ballot).where(Ballot.proposal_id == pk))
        ]
        casts = [
            (c.unit_id, c.id, c.choice)
            for c in await s.scalars(
                select(BallotCast).where(BallotCast.proposal_id == pk).order_by(BallotCast.id)
            )
        ]
    u1, u2 = api.demo.units["1-102"], api.demo.units["2-201"]
    assert len(current) == 2
    assert len([c for c in casts if c[0] == u1]) == n
    assert len([c for c in casts if c[0] == u2]) == 1
    _, cast_id, choice, count = next(b for b in current if b[0] == u1)
    last = [c for c in casts if c[0] == u1][-1]
    # The current ballot is the last cast (casts are ordered by the unit's row lock).
    assert (cast_id, choice, count) == (last[1], last[2], n)
