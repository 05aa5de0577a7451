"""Fund ledgers end to end: staff postings with their authorisation rules (nothing
written when refused), reversals, summaries and shares, verification through the API,
the CSV export, concurrent postings and the monthly statement."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text, update

from core.clock import utcnow
from core.ids import decode_gid
from domain.accounts.models import Community, Ownership, Unit
from domain.council import service as council
from domain.council.models import Proposal
from domain.ledger import service as ledger
from domain.ledger.models import LedgerEntry
from domain.notifications.models import Notification
from resolvers.ledger import VERIFY_REUSE_S
from tests.support import GraphQLClient

POST = """
mutation($i: PostLedgerEntryInput!) { postLedgerEntry(input: $i) {
  entry { id seq amount { amountMinor } balanceAfter { amountMinor } category hash
          proposal { id } unit { label } reversesEntryId postedBy { displayName } }
  userErrors { code field message } } }"""
SUMMARY = """
query($c: ID!, $a: LedgerAccount!) { ledgerSummary(communityId: $c, account: $a) {
  balance { amountMinor formatted } incomeThisYear { amountMinor }
  spendingThisYear { amountMinor } myShare { amountMinor } } }"""
VERIFY = """
query($c: ID!, $a: LedgerAccount!) { verifyLedger(communityId: $c, account: $a) {
  valid entries headHash brokenAt reason } }"""


async def _post(api: GraphQLClient, key: str, amount: int, *, as_: str = "staff1", **kw) -> dict:
    i = {
        "communityId": kw.pop("community", api.garden),
        "account": kw.pop("account", "MAINTENANCE_FUND"),
        "amountMinor": amount,
        "category": kw.pop("category", "REPAIR"),
        "description": kw.pop("description", "维修 repair"),
        "idempotencyKey": key,
        **kw,
    }
    return (await api.gql(POST, {"i": i}, as_=as_))["postLedgerEntry"]


async def _entries(api: GraphQLClient) -> int:
    async with api.db.reader() as s:
        return int(await s.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


async def _balance(api: GraphQLClient, account: str = "MAINTENANCE_FUND") -> int:
    data = await api.gql(SUMMARY, {"c": api.garden, "a": account}, as_="staff1")
    return data["ledgerSummary"]["balance"]["amountMinor"]


async def _proposal(
    api: GraphQLClient, clock, matter: str, *, voters: float = 1.0, approved: int | None = None
) -> str:
    """A proposal of Demo Garden voted FOR by the given share of its owned units through
    the API, then closed by the sweep."""
    now = utcnow()
    created = await api.gql(
        """mutation($i: CreateProposalInput!) { createProposal(input: $i) {
          proposal { id } userErrors { code } } }""",
        {
            "i": {
                "communityId": api.garden,
                "title": f"{matter} 议案",
                "body": "b",
                "matter": matter,
                "opensAt": now.isoformat(),
                "closesAt": (now + timedelta(hours=1)).isoformat(),
                "approvedAmountMinor": approved,
            }
        },
        as_="staff1",
    )
    gid = created["createProposal"]["proposal"]["id"]
    login_of = {uid: login for login, uid in api.demo.users.items()}
    async with api.db.reader() as s:
        pairs = (
            await s.execute(
                select(Ownership.unit_id, Ownership.user_id)
                .join(Unit, Unit.id == Ownership.unit_id)
                .where(Unit.community_id == api.demo.garden_id)
                .order_by(Ownership.unit_id)
            )
        ).all()
    by_unit: dict[int, int] = {}
    for unit_id, user_id in pairs:
        by_unit.setdefault(unit_id, user_id)
    chosen = list(by_unit.items())[: int(len(by_unit) * voters)]
    cast = """mutation($p: ID!, $u: ID!, $k: String!) { castBallot(input: {proposalId: $p,
      unitId: $u, choice: FOR, idempotencyKey: $k}) { userErrors { code } } }"""
    results = await asyncio.gather(
        *[
            api.gql(
                cast,
                {"p": gid, "u": api.gid("Unit", unit_id), "k": f"{gid}-{unit_id}"},
                as_=login_of[user_id],
            )
            for unit_id, user_id in chosen
        ]
    )
    assert all(r["castBallot"]["userErrors"] == [] for r in results)
    clock.advance(hours=1, minutes=1)
    async with api.db.transaction() as s:
        await council.sweep_proposals(s, now=utcnow())
    return gid


async def test_postings_rules_summary_export(api: GraphQLClient, clock):
    # Income to common income: no proposal needed; a retry returns the first entry.
    ad = await _post(api, "ad-1", 120_000, account="COMMON_INCOME", category="ADVERTISING")
    assert ad["userErrors"] == [] and ad["entry"]["category"] == "ADVERTISING"
    assert ad["entry"]["postedBy"]["displayName"] == "张伟 Zhang Wei"
    count = await _entries(api)
    again = await _post(api, "ad-1", 120_000, account="COMMON_INCOME", category="ADVERTISING")
    assert again["entry"] == ad["entry"] and await _entries(api) == count
    reuse = await _post(api, "ad-1", 5, account="COMMON_INCOME", category="ADVERTISING")
    assert [e["code"] for e in reuse["userErrors"]] == ["CONFLICT"]

    # Only staff post.
    denied = await api.post(
        POST,
        {
            "i": {
                "communityId": api.garden,
                "account": "COMMON_INCOME",
                "amountMinor": 1,
                "category": "X",
                "description": "x",
                "idempotencyKey": "r",
            }
        },
        as_="resident1",
    )
    assert denied.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # Spending refused: no proposal, a failed one, another community's, over its
    # approved amount, beyond the balance. Nothing is written in each case.
    failed = await _proposal(api, clock, "FUND_USE", voters=0.3)
    async with api.db.transaction() as s:
        heights_p = Proposal(
            community_id=api.demo.heights_id,
            title="Heights fund use",
            body="b",
            matter="FUND_USE",
            kind="ORDINARY",
            status="OPEN",
            opens_at=utcnow() - timedelta(days=2),
            closes_at=utcnow() - timedelta(days=1),
        )
        s.add(heights_p)
        await s.flush()
        # Made to pass directly: the point is that another community's decision
        # never authorises this one's fund.
        await s.execute(
            update(Proposal)
            .where(Proposal.id == heights_p.id)
            .values(status="CLOSED", passed=True, tally={})
        )
    other = api.gid("Proposal", heights_p.id or 0)
    demo_use = api.gid("Proposal", api.demo.extra["council"]["fund_use"])
    before, balance = await _entries(api), await _balance(api)
    for key, amount, proposal, code in (
        ("s-none", -1000, None, "PROPOSAL_REQUIRED"),
        ("s-failed", -1000, failed, "PROPOSAL_REQUIRED"),
        ("s-other", -1000, other, "PROPOSAL_REQUIRED"),
        ("s-over-approved", -300_000, demo_use, "PROPOSAL_REQUIRED"),
        ("s-raise-with-use", 1000, demo_use, "PROPOSAL_REQUIRED"),
    ):
        kw = {"proposalId": proposal} if proposal else {}
        refused = await _post(api, key, amount, **kw)
        assert [e["code"] for e in refused["userErrors"]] == [code], (key, refused)
    async with api.db.reader() as s:
        closed = await s.get(Proposal, decode_gid(failed)[1])
        assert closed is not None and closed.status == "CLOSED" and closed.passed is False
    passed_use = await _proposal(api, clock, "FUND_USE")
    beyond = await _post(api, "s-beyond", -(balance + 1), proposalId=passed_use)
    assert [e["code"] for e in beyond["userErrors"]] == ["INSUFFICIENT_FUNDS"]
    assert await _entries(api) == before and await _balance(api) == balance

    # Authorised spending, within the demo proposal's remaining approved amount.
    ok = await _post(api, "s-ok", -200_000, proposalId=demo_use, counterparty="电梯公司")
    assert ok["userErrors"] == [] and ok["entry"]["proposal"]["id"] == demo_use
    assert ok["entry"]["balanceAfter"]["amountMinor"] == balance - 200_000

    # Raising needs a passed FUND_RAISING (SPECIAL) proposal; contributions name units.
    raising = await _proposal(api, clock, "FUND_RAISING")
    share_before = await api.gql(
        SUMMARY, {"c": api.garden, "a": "MAINTENANCE_FUND"}, as_="resident1"
    )
    top_up = await _post(
        api,
        "raise-1",
        500_000,
        category="CONTRIBUTION",
        proposalId=raising,
        unitId=api.unit_gid("1-101"),
    )
    assert top_up["userErrors"] == [] and top_up["entry"]["unit"]["label"] == "1-101"
    share_after = await api.gql(
        SUMMARY, {"c": api.garden, "a": "MAINTENANCE_FUND"}, as_="resident1"
    )
    mine_before = share_before["ledgerSummary"]["myShare"]["amountMinor"]
    mine_after = share_after["ledgerSummary"]["myShare"]["amountMinor"]
    assert mine_after > mine_before + 400_000
    async with api.db.reader() as s:
        contributions = dict(
            (
                await s.execute(
                    select(LedgerEntry.unit_id, func.sum(LedgerEntry.amount_minor))
                    .where(
                        LedgerEntry.unit_id.is_not(None), LedgerEntry.account == "MAINTENANCE_FUND"
                    )
                    .group_by(LedgerEntry.unit_id)
                )
            ).all()
        )
    total = sum(contributions.values())
    bal = share_after["ledgerSummary"]["balance"]["amountMinor"]
    assert mine_after == bal * contributions[api.demo.units["1-101"]] // total
    staff_view = await api.gql(SUMMARY, {"c": api.garden, "a": "MAINTENANCE_FUND"}, as_="staff1")
    assert staff_view["ledgerSummary"]["myShare"] is None

    # A correction reverses an entry by naming it; only once, with the opposite amount.
    rev = await _post(
        api, "rev-1", -120_000, account="COMMON_INCOME", reversesEntryId=ad["entry"]["id"]
    )
    assert rev["userErrors"] == [] and rev["entry"]["category"] == "REVERSAL"
    assert rev["entry"]["reversesEntryId"] == ad["entry"]["id"]
    twice = await _post(
        api, "rev-2", -120_000, account="COMMON_INCOME", reversesEntryId=ad["entry"]["id"]
    )
    assert [e["code"] for e in twice["userErrors"]] == ["INVALID"]

    # Residents read both ledgers (newest first) and verify them; tenants are residents.
    page = await api.gql(
        """query($c: ID!) { ledger(communityId: $c, account: COMMON_INCOME, first: 2) {
          totalCount edges { node { seq category amount { amountMinor } } } } }""",
        {"c": api.garden},
        as_="tenant1",
    )
    assert [e["node"]["category"] for e in page["ledger"]["edges"]] == ["REVERSAL", "ADVERTISING"]
    for account in ("MAINTENANCE_FUND", "COMMON_INCOME"):
        v = (await api.gql(VERIFY, {"c": api.garden, "a": account}, as_="resident2"))[
            "verifyLedger"
        ]
        assert v["valid"] is True and v["brokenAt"] is None and v["entries"] > 0

    # CSV export: UTF-8 with a BOM, one row per entry, for residents only.
    url = f"/communities/{api.garden}/ledger.csv?account=MAINTENANCE_FUND"
    resp = await api.http.get(url, headers={"authorization": f"Bearer {api.token('resident1')}"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert resp.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    async with api.db.reader() as s:
        n_mf = await s.scalar(
            select(func.count()).where(
                LedgerEntry.community_id == api.demo.garden_id,
                LedgerEntry.account == "MAINTENANCE_FUND",
            )
        )
    assert len(rows) == n_mf + 1 and rows[0][0] == "序号 Seq"
    assert any("首期维修资金" in r[6] for r in rows[1:])
    for token, status in (
        (api.token("residentb"), 403),
        (api.token("merchant1"), 403),
        (None, 401),
    ):
        headers = {"authorization": f"Bearer {token}"} if token else {}
        assert (await api.http.get(url, headers=headers)).status_code == status
    assert (
        await api.http.get(
            "/communities/x/ledger.csv",
            headers={"authorization": f"Bearer {api.token('resident1')}"},
        )
    ).status_code == 400

    # Tampering in the database (bypassing the append-only trigger) is named by the API
    # (once the answer given above, reused for VERIFY_REUSE_S, has aged out).
    clock.advance(seconds=VERIFY_REUSE_S + 1)
    victim = decode_gid(ok["entry"]["id"])[1]
    async with api.db.transaction() as s:
        if api.backend.name == "postgres":
            await s.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            await s.execute(text("DROP TRIGGER ledger_entries_no_update"))
        await s.execute(
            text("UPDATE ledger_entries SET amount_minor = -100000 WHERE id = :i"), {"i": victim}
        )
    v = (await api.gql(VERIFY, {"c": api.garden, "a": "MAINTENANCE_FUND"}, as_="resident1"))[
        "verifyLedger"
    ]
    assert v["valid"] is False and v["brokenAt"] == ok["entry"]["id"]


async def test_concurrent_postings_through_the_api(api: GraphQLClient, clock):
    n = 100 if api.backend.name == "postgres" else 25
    start = await _balance(api, "COMMON_INCOME")
    results = await asyncio.gather(
        *[
            _post(api, f"c-{i}", 100 + i, account="COMMON_INCOME", category="PARKING")
            for i in range(n)
        ]
    )
    assert all(r["userErrors"] == [] for r in results)
    seqs = sorted(r["entry"]["seq"] for r in results)
    assert seqs == list(range(seqs[0], seqs[0] + n))
    v = (await api.gql(VERIFY, {"c": api.garden, "a": "COMMON_INCOME"}, as_="resident1"))[
        "verifyLedger"
    ]
    assert v["valid"] is True and v["entries"] == seqs[-1]
    assert await _balance(api, "COMMON_INCOME") == start + sum(100 + i for i in range(n))


async def test_monthly_statement_once(api: GraphQLClient, clock):
    async with api.db.reader() as s:
        communities = await s.scalar(select(func.count()).select_from(Community))
    async with api.db.transaction() as s:
        assert await ledger.publish_monthly_statements(s, now=utcnow()) == communities
    async with api.db.transaction() as s:
        assert await ledger.publish_monthly_statements(s, now=utcnow()) == 0
    async with api.db.reader() as s:
        sent = await s.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.category == "LEDGER_STATEMENT")
        )
        owners = 0
        for cid in await s.scalars(select(Community.id)):
            owners += len(await council.owner_user_ids(s, cid))
    assert sent == owners
    inbox = await api.gql(
        "{ notifications(first: 50) { edges { node { title category } } } }",
        as_="resident1",
        lang="en",
    )
    titles = [
        e["node"]["title"]
        for e in inbox["notifications"]["edges"]
        if e["node"]["category"] == "LEDGER_STATEMENT"
    ]
    assert titles == ["Demo Garden: fund statement for 2026-10"]


async def test_verification_is_shared_not_repeated(api: GraphQLClient, clock, monkeypatch):
    """Residents asking at once share one recomputation; an unchanged chain's answer is
    reused for a while; a new entry or time passing brings a fresh check."""
    from domain.ledger import service as ledger_service

    runs = 0
    real = ledger_service.verify_chain

    async def counting(*args: Any, **kw: Any) -> Any:
        nonlocal runs
        runs += 1
        await asyncio.sleep(0.05)  # long enough for the others to arrive meanwhile
        return await real(*args, **kw)

    monkeypatch.setattr(ledger_service, "verify_chain", counting)
    variables = {"c": api.garden, "a": "COMMON_INCOME"}
    answers = await asyncio.gather(
        *[api.gql(VERIFY, variables, as_=who) for who in ("resident1", "resident2", "tenant1") * 4]
    )
    assert runs == 1 and all(a["verifyLedger"]["valid"] for a in answers)
    await api.gql(VERIFY, variables, as_="resident1")
    assert runs == 1
    # Not a shortcut past authorization: another community is still refused.
    assert (await api.errors(VERIFY, variables, as_="residentb"))[0]["extensions"]["code"] in (
        "FORBIDDEN",
        "NOT_FOUND",
    )
    await _post(api, "share-1", 500, account="COMMON_INCOME", category="PARKING")
    await api.gql(VERIFY, variables, as_="resident1")
    assert runs == 2
    clock.advance(seconds=VERIFY_REUSE_S + 1)
    await api.gql(VERIFY, variables, as_="resident1")
    assert runs == 3
