"""Fund ledger: `verifyLedger` over a 100,000-entry chain through GraphQL, and staff
postings per second to one account (each one locks the account head)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update

from core import keys
from core.db import Database
from domain.accounts.models import Community
from domain.ledger.chain import entry_hash
from domain.ledger.models import Account, LedgerAccount, LedgerEntry
from domain.ledger.service import _lock_head
from tests.bench.harness import SECRET, Harness, graphql_request, median

VERIFY = (
    "query($c: ID!) { verifyLedger(communityId: $c, account: COMMON_INCOME) "
    "{ valid entries brokenAt } }"
)
POST = (
    "mutation($i: PostLedgerEntryInput!) { postLedgerEntry(input: $i) "
    "{ entry { seq } userErrors { code } } }"
)


async def _fill(db: Database, community_id: int, n: int) -> None:
    """Append n entries to the community's common-income chain, hashed exactly as the
    service does, in bulk (the append-only trigger allows inserts). One transaction per
    batch, so the server's own writers are not locked out for the whole fill."""
    async with db.transaction() as s:
        head = await _lock_head(s, community_id, Account.COMMON_INCOME)
        head_id, currency = head.id or 0, head.currency
        seq, prev, balance = head.entries, head.head_hash, head.balance_minor
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for first in range(0, n, 5000):
        batch: list[dict[str, object]] = []
        for i in range(first, min(n, first + 5000)):
            seq += 1
            amount = 100 + i % 900
            balance += amount
            e = LedgerEntry(
                account_id=head_id,
                community_id=community_id,
                account="COMMON_INCOME",
                seq=seq,
                posted_at=start + timedelta(seconds=i),
                amount_minor=amount,
                balance_after_minor=balance,
                currency=currency,
                category="PARKING",
                description=f"临时停车 temporary parking #{i}",
                idempotency_key=f"bench-{i}",
                prev_hash=prev,
                hash="",
            )
            e.hash = entry_hash(e)
            prev = e.hash
            batch.append({c: getattr(e, c) for c in LedgerEntry.model_fields if c != "id"})
        async with db.transaction() as s:
            await s.execute(insert(LedgerEntry), batch)
    async with db.transaction() as s:
        await s.execute(
            update(LedgerAccount)
            .where(LedgerAccount.id == head_id)
            .values(entries=seq, head_hash=prev, balance_minor=balance)
        )


async def run(h: Harness) -> None:
    n = 20_000 if h.quick else 100_000
    keys.configure(SECRET.encode())
    for kind in ("sqlite", "postgres"):
        async with h.server(kind) as srv:
            db = Database(srv.url)
            try:
                async with db.reader() as s:
                    garden = await s.scalar(
                        select(Community.id).where(Community.name == "Demo Garden")
                    )
                assert garden is not None
                t0 = time.perf_counter()
                await _fill(db, garden, n)
                fill_s = time.perf_counter() - t0
            finally:
                await db.dispose()
            from core.ids import encode_gid

            gid = encode_gid("Community", garden)
            token = await srv.token("resident1@demo.linli")
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                resp = await srv.graphql(VERIFY, {"c": gid}, token)
                times.append(time.perf_counter() - t0)
                body = resp.json()
                assert body["data"]["verifyLedger"]["valid"] is True, body
            entries = body["data"]["verifyLedger"]["entries"]
            # The first call recomputes the chain; the server reuses that answer for an
            # unchanged head for 30 s (resolvers/ledger.py), which the next calls show.
            h.result(
                f"{kind}: verifyLedger, {entries} entries",
                times[0] * 1000,
                "ms",
                note=f"full recomputation; bulk fill {fill_s:.1f} s",
            )
            h.result(
                f"{kind}: verifyLedger again, unchanged chain",
                median(times[1:]) * 1000,
                "ms",
                note="answer reused",
            )
            if kind != "postgres":
                continue
            staff = await srv.token("staff1@demo.linli")
            run_id = uuid.uuid4().hex[:6]
            requests = [
                graphql_request(
                    srv.port,
                    POST,
                    {
                        "i": {
                            "communityId": gid,
                            "account": "COMMON_INCOME",
                            "amountMinor": 100 + i,
                            "category": "PARKING",
                            "description": "bench",
                            "idempotencyKey": f"{run_id}-{i}",
                        }
                    },
                    token=staff,
                )
                for i in range(20_000)
            ]
            res = h.load(srv.port, requests, concurrency=16)
            h.result(
                f"{kind}: postLedgerEntry to one account",
                res.rps,
                "req/s",
                note=f"p99 {res.pct(99):.1f} ms, errors {res.errors}, serialised by the head lock",
            )
