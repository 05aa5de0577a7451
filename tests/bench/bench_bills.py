"""myBills: requests per second and SQL statements per request, for a resident with
one bill and one with 24 (each with its line items and unit). The statement count must
not grow with the list (DataLoaders, DESIGN.md §5)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from core.db import Database
from core.principal import Principal
from domain.accounts.models import Community, Membership, Unit
from domain.bills import service as bills
from domain.bills.models import BillKind
from tests.bench.harness import Harness, graphql_request

MY_BILLS = (
    "{ myBills(first: 24) { totalCount edges { node { id kind period status dueDate "
    "amount { amountMinor currency formatted } unit { label } "
    "lineItems { description quantity unit amount { amountMinor } } } } } }"
)


async def _issue(db: Database) -> None:
    """resident2 (1-102, 2-201) gets 1 bill; tenant1 (2-301) gets 24 water bills."""
    async with db.transaction() as s:
        garden = await s.scalar(select(Community.id).where(Community.name == "Demo Garden"))
        staff_id = await s.scalar(
            select(Membership.user_id).where(
                Membership.community_id == garden, Membership.role == "STAFF"
            )
        )
        assert garden is not None and staff_id is not None
        staff = Principal.build(staff_id, [(garden, "STAFF")], "zh-CN")
        units = dict(
            (await s.execute(select(Unit.label, Unit.id).where(Unit.community_id == garden))).all()
        )
        await bills.issue_bills(
            s,
            staff,
            community_id=garden,
            kind=BillKind.WATER,
            period="2026-11",
            due_date=date(2026, 12, 15),
            lines=[bills.IssueLine(units["1-102"], 18.5, None)],
        )
        for n in range(24):
            year, month = 2025 + n // 12, n % 12 + 1
            await bills.issue_bills(
                s,
                staff,
                community_id=garden,
                kind=BillKind.WATER,
                period=f"{year}-{month:02d}",
                due_date=date(year, month, 28),
                lines=[bills.IssueLine(units["2-301"], 10.0 + n * 1.5, None)],
            )


async def run(h: Harness) -> None:
    for kind in ("sqlite", "postgres"):
        async with h.server(kind) as srv:
            db = Database(srv.url)
            try:
                await _issue(db)
            finally:
                await db.dispose()
            for login, n in (("resident2@demo.linli", 1), ("tenant1@demo.linli", 24)):
                token = await srv.token(login)
                resp = (await srv.graphql(MY_BILLS, None, token)).json()
                assert resp["data"]["myBills"]["totalCount"] == n, resp
                stmts = await h.sql_count(srv, MY_BILLS, None, token)
                r = h.load(srv.port, [graphql_request(srv.port, MY_BILLS, token=token)])
                h.result(
                    f"{kind}: myBills with {n} bill(s)",
                    r.rps,
                    "req/s",
                    note=f"p99 {r.pct(99):.1f} ms, {stmts} SQL statements/request, "
                    f"{r.errors} errors",
                )
                h.result(f"{kind}: myBills {n} bill(s) SQL statements", stmts, "stmts")
