"""The ledger's hash chain at the service level: system income postings (parking
uses post_common_income), idempotency, tampering found by verification, and
concurrent appends on one account."""

from __future__ import annotations

import asyncio
import itertools

from sqlalchemy import text

from domain.ledger import service as ledger
from domain.ledger.models import Account, LedgerEntry
from tests.support import GraphQLClient


async def _income(api: GraphQLClient, key: str, amount: int = 500) -> LedgerEntry:
    async with api.db.transaction() as s:
        return await ledger.post_common_income(
            s,
            community_id=api.demo.garden_id,
            amount_minor=amount,
            category="PARKING",
            description=f"临时停车 {key}",
            idempotency_key=key,
        )


async def _verify(api: GraphQLClient) -> ledger.Verification:
    async with api.db.reader() as s:
        return await ledger.verify_chain(
            s, community_id=api.demo.garden_id, account=Account.COMMON_INCOME, batch=3
        )


async def _head(api: GraphQLClient) -> tuple[int, int]:
    """(entries, balance) of Demo Garden's common income before the test's postings."""
    async with api.db.reader() as s:
        row = (
            await s.execute(
                text(
                    "SELECT entries, balance_minor FROM ledger_accounts "
                    "WHERE community_id = :c AND account = 'COMMON_INCOME'"
                ),
                {"c": api.demo.garden_id},
            )
        ).first()
    return (row[0], row[1]) if row else (0, 0)


async def test_common_income_chain_idempotency_and_tampering(api: GraphQLClient, clock):
    n0, b0 = await _head(api)
    first = await _income(api, "park-1", 800)
    again = await _income(api, "park-1", 800)
    assert again.id == first.id and again.hash == first.hash
    entries = [first] + [await _income(api, f"park-{i}", 100 * i) for i in range(2, 8)]
    assert [e.seq for e in entries] == list(range(n0 + 1, n0 + 8))
    assert entries[-1].balance_after_minor == b0 + 800 + sum(100 * i for i in range(2, 8))
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    ok = await _verify(api)
    assert ok.valid and ok.entries == n0 + 7 and ok.head_hash == entries[-1].hash

    # An attacker with database access edits an amount: the append-only trigger has to
    # be bypassed first (it refuses the UPDATE), then verification names that entry.
    victim = entries[3]
    async with api.db.transaction() as s:
        if api.backend.name == "postgres":
            await s.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            await s.execute(text("DROP TRIGGER ledger_entries_no_update"))
        await s.execute(
            text("UPDATE ledger_entries SET amount_minor = amount_minor + 1 WHERE id = :i"),
            {"i": victim.id},
        )
    broken = await _verify(api)
    assert not broken.valid and broken.broken_at == victim.id


async def test_append_only_trigger_refuses_update_and_delete(api: GraphQLClient, clock):
    e = await _income(api, "k1")
    for sql in ("UPDATE ledger_entries SET amount_minor = 1", "DELETE FROM ledger_entries"):
        try:
            async with api.db.transaction() as s:
                await s.execute(text(sql + " WHERE id = :i"), {"i": e.id})
        except Exception as exc:  # the database refuses: the driver's error type varies
            assert "append-only" in str(exc)
        else:
            raise AssertionError(f"{sql} was allowed")


async def test_deleting_an_entry_breaks_the_chain_at_the_next(api: GraphQLClient, clock):
    entries = [await _income(api, f"d-{i}", 100 + i) for i in range(5)]
    async with api.db.transaction() as s:
        if api.backend.name == "postgres":
            await s.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            await s.execute(text("DROP TRIGGER ledger_entries_no_delete"))
        await s.execute(text("DELETE FROM ledger_entries WHERE id = :i"), {"i": entries[2].id})
    broken = await _verify(api)
    assert not broken.valid and broken.broken_at == entries[3].id


async def test_concurrent_postings_form_one_chain(api: GraphQLClient, clock):
    n = 100 if api.backend.name == "postgres" else 20
    n0, b0 = await _head(api)
    results = await asyncio.gather(*[_income(api, f"c-{i}", 10 + i) for i in range(n)])
    assert sorted(e.seq for e in results) == list(range(n0 + 1, n0 + n + 1))
    v = await _verify(api)
    assert v.valid and v.entries == n0 + n
    assert await _head(api) == (n0 + n, b0 + sum(10 + i for i in range(n)))


async def test_removed_tail_is_reported(api: GraphQLClient, clock):
    entries = [await _income(api, f"t-{i}", 100 + i) for i in range(3)]
    async with api.db.transaction() as s:
        if api.backend.name == "postgres":
            await s.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            await s.execute(text("DROP TRIGGER ledger_entries_no_delete"))
        await s.execute(text("DELETE FROM ledger_entries WHERE id = :i"), {"i": entries[-1].id})
    broken = await _verify(api)
    # Nothing after the removed entry to break: the head row tells.
    assert not broken.valid and broken.broken_at is None
    assert broken.reason == "entries missing at the end"
