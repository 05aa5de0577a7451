"""Fund ledgers: the CSV export route, the monthly statement job and demo postings."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from api.app import add_routes
from api.jobs import job
from api.seed import Demo, seed_step
from core.clock import utcnow
from core.errors import Forbidden, Unauthenticated
from core.ids import InvalidGlobalId, decode_gid, encode_gid
from core.money import Money
from core.principal import Principal
from domain.accounts.models import Community, Ownership, Unit
from domain.ledger import service
from domain.ledger.models import Account

if TYPE_CHECKING:
    from api.app import AppState

BOM = "\ufeff"
HEADER = [
    "序号 Seq",
    "记账时间 Posted at",
    "金额 Amount",
    "余额 Balance",
    "币种 Currency",
    "类别 Category",
    "摘要 Description",
    "对方 Counterparty",
    "凭证 Evidence",
    "议案 Proposal",
    "房屋 Unit",
    "冲正 Reverses",
    "哈希 Hash",
    "前一哈希 Previous hash",
]


def _cell(text: str | None) -> str:
    """Text cells that a spreadsheet would run as a formula get a leading quote."""
    if not text:
        return ""
    return "'" + text if text[0] in "=+-@\t\r" else text


@job("ledger_monthly_statements", seconds=3600)
async def monthly_statements(state: AppState) -> None:
    async with state.db.transaction() as session:
        await service.publish_monthly_statements(session, now=utcnow())


@add_routes
def ledger_routes(state: AppState) -> list[BaseRoute]:
    async def export_csv(request: Request) -> Response:
        try:
            principal = await state.principals.from_authorization(
                request.headers.get("authorization")
            )
        except Unauthenticated:
            return Response("unauthenticated\n", status_code=401)
        if principal.is_anonymous:
            return Response(
                "unauthenticated\n", status_code=401, headers={"www-authenticate": "Bearer"}
            )
        try:
            community_id = decode_gid(request.path_params["community"], "Community")[1]
            account = Account(request.query_params.get("account", "MAINTENANCE_FUND"))
        except (InvalidGlobalId, ValueError):
            return Response("bad community id or account\n", status_code=400)
        body = await _csv(state, principal, community_id, account)
        if body is None:
            return Response("forbidden\n", status_code=403)
        name = f"ledger-{account.value.lower()}-{community_id}.csv"
        return Response(
            body.encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    return [Route("/communities/{community}/ledger.csv", export_csv, methods=["GET"])]


async def _csv(
    state: AppState, principal: Principal, community_id: int, account: Account
) -> str | None:
    async with state.db.reader() as s:
        try:
            rows = await service.iter_entries_for_export(
                s, principal, community_id=community_id, account=account
            )
        except Forbidden:
            return None
        community = await s.get(Community, community_id)
        assert community is not None
        tz = ZoneInfo(community.time_zone)
        labels = dict(
            (
                await s.execute(
                    select(Unit.id, Unit.label).where(Unit.community_id == community_id)
                )
            ).all()
        )
        out = io.StringIO()
        out.write(BOM)  # spreadsheet programs read the file as UTF-8 only with it
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(HEADER)
        for e in rows:
            w.writerow(
                [
                    e.seq,
                    e.posted_at.astimezone(tz).isoformat(timespec="seconds"),
                    Money(e.amount_minor, e.currency).formatted(),
                    Money(e.balance_after_minor, e.currency).formatted(),
                    e.currency,
                    _cell(e.category),
                    _cell(e.description),
                    _cell(e.counterparty),
                    _cell(e.evidence_url),
                    encode_gid("Proposal", e.proposal_id) if e.proposal_id else "",
                    labels.get(e.unit_id, "") if e.unit_id else "",
                    encode_gid("LedgerEntry", e.reverses_entry_id) if e.reverses_entry_id else "",
                    e.hash,
                    e.prev_hash,
                ]
            )
    return out.getvalue()


@seed_step
async def seed_ledger(session: AsyncSession, demo: Demo) -> None:
    staff = Principal.build(demo.users["staff1@demo.linli"], [(demo.garden_id, "STAFF")], "zh-CN")
    owned = (
        await session.execute(
            select(Unit.id, Unit.label, Unit.area_centi_m2)
            .where(
                Unit.community_id == demo.garden_id,
                Unit.id.in_(select(Ownership.unit_id)),  # type: ignore[union-attr]
            )
            .order_by(Unit.id)
        )
    ).all()
    ids: dict[str, int] = {}
    mf = Account.MAINTENANCE_FUND
    for unit_id, label, area in owned:
        # 首期维修资金: CNY 50 per m² of exclusive area, paid at purchase.
        e = await service.post_entry(
            session,
            staff,
            community_id=demo.garden_id,
            account=mf,
            posting=service.Posting(
                amount_minor=area * 50,
                category="INITIAL_DEPOSIT",
                description=f"{label} 首期维修资金 initial deposit",
                idempotency_key=f"demo-deposit-{unit_id}",
                unit_id=unit_id,
            ),
        )
        ids.setdefault("first_deposit", e.id or 0)
    spend = await service.post_entry(
        session,
        staff,
        community_id=demo.garden_id,
        account=mf,
        posting=service.Posting(
            amount_minor=-1_560_000,
            category="REPAIR",
            description="更换2号楼二次供水水泵 Replace building 2's booster pump",
            idempotency_key="demo-pump",
            counterparty="鑫源水泵维修公司 Xinyuan Pumps",
            evidence_url="https://example.org/linli-demo/pump-invoice.pdf",
            proposal_id=demo.extra["council"]["fund_use"],
        ),
    )
    ids["pump"] = spend.id or 0
    for key, amount, category, text in (
        ("demo-ad-1", 600_000, "ADVERTISING", "电梯广告位 2026 Q4 elevator advertising"),
        ("demo-lease-1", 250_000, "LEASING", "会所场地出租 clubhouse rental"),
    ):
        e = await service.post_entry(
            session,
            staff,
            community_id=demo.garden_id,
            account=Account.COMMON_INCOME,
            posting=service.Posting(
                amount_minor=amount, category=category, description=text, idempotency_key=key
            ),
        )
        ids[key] = e.id or 0
    demo.extra["ledger"] = ids
