"""Bill queries. Who sees a unit's bills: its owners and tenants, and the caregivers of
an elder living there (consented, not removed links); staff see their community's."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.principal import Principal
from domain.accounts.models import Community, Ownership, Tenancy, Unit
from domain.bills.models import Bill, BillLine, BillPayment, Tariff, TariffBand
from domain.care.models import CaregiverLink, Elder
from domain.care.repository import active_link_filter


def payable_unit_ids(user_id: int) -> Select[tuple[int]]:
    """Units whose bills the user may see and pay."""
    return select(
        union(
            select(Ownership.unit_id).where(Ownership.user_id == user_id),
            select(Tenancy.unit_id).where(Tenancy.user_id == user_id),
            select(Elder.unit_id)
            .join(CaregiverLink, CaregiverLink.elder_id == Elder.id)
            .where(CaregiverLink.caregiver_user_id == user_id, *active_link_filter()),
        )
        .subquery()
        .c[0]
    )


def readable(principal: Principal):  # type: ignore[no-untyped-def]
    """Filter for bills the principal may read."""
    assert principal.user_id is not None
    staff_of = [c for c in principal.community_ids if principal.is_staff(c)]
    mine = Bill.unit_id.in_(payable_unit_ids(principal.user_id))  # type: ignore[attr-defined]
    if not staff_of:
        return mine
    return or_(mine, Bill.community_id.in_(staff_of))  # type: ignore[attr-defined]


async def my_bills(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Bill], int]:
    if principal.user_id is None:
        return [], 0
    cond = [Bill.unit_id.in_(payable_unit_ids(principal.user_id))]  # type: ignore[attr-defined]
    if status is not None:
        cond.append(Bill.status == status)
    return await _page(session, cond, limit, offset)


async def community_bills(
    session: AsyncSession,
    *,
    community_id: int,
    status: str | None,
    unit_id: int | None,
    period: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Bill], int]:
    cond = [Bill.community_id == community_id]
    if status is not None:
        cond.append(Bill.status == status)
    if unit_id is not None:
        cond.append(Bill.unit_id == unit_id)
    if period is not None:
        cond.append(Bill.period == period)
    return await _page(session, cond, limit, offset)


async def _page(
    session: AsyncSession, cond: list, limit: int, offset: int
) -> tuple[list[Bill], int]:
    # One statement: the page and the total (a window count) together.
    total_col = func.count().over().label("total")
    rows = (
        await session.execute(
            select(Bill, total_col)
            .where(*cond)
            .order_by(Bill.due_date.desc(), Bill.id.desc())  # type: ignore[attr-defined,union-attr]
            .limit(limit)
            .offset(offset)
        )
    ).all()
    if rows:
        return [r[0] for r in rows], int(rows[0][1])
    if offset == 0:
        return [], 0
    total = await session.scalar(select(func.count()).select_from(Bill).where(*cond))
    return [], int(total or 0)


async def bills_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[int]
) -> dict[int, Bill]:
    ids = list(set(ids))
    if not ids or principal.user_id is None:
        return {}
    rows = await session.scalars(
        select(Bill).where(Bill.id.in_(ids), readable(principal))  # type: ignore[union-attr]
    )
    return {b.id: b for b in rows if b.id is not None}


async def lines_of(session: AsyncSession, bill_ids: Iterable[int]) -> dict[int, list[BillLine]]:
    """Lines of bills the caller has already been allowed to read."""
    ids = list(set(bill_ids))
    out: dict[int, list[BillLine]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = await session.scalars(
        select(BillLine)
        .where(BillLine.bill_id.in_(ids))  # type: ignore[attr-defined]
        .order_by(BillLine.bill_id, BillLine.position)
    )
    for line in rows:
        out.setdefault(line.bill_id, []).append(line)
    return out


async def payer_ids_of_units(session: AsyncSession, unit_ids: Iterable[int]) -> dict[int, set[int]]:
    """Everyone who may pay each unit's bills (for reminders and receipts)."""
    ids = list(set(unit_ids))
    out: dict[int, set[int]] = {u: set() for u in ids}
    if not ids:
        return out
    rows = await session.execute(
        union(
            select(Ownership.unit_id, Ownership.user_id).where(
                Ownership.unit_id.in_(ids)  # type: ignore[attr-defined]
            ),
            select(Tenancy.unit_id, Tenancy.user_id).where(
                Tenancy.unit_id.in_(ids)  # type: ignore[attr-defined]
            ),
            select(Elder.unit_id, CaregiverLink.caregiver_user_id)
            .join(CaregiverLink, CaregiverLink.elder_id == Elder.id)
            .where(Elder.unit_id.in_(ids), *active_link_filter()),  # type: ignore[attr-defined]
        )
    )
    for unit_id, user_id in rows.all():
        out.setdefault(unit_id, set()).add(user_id)
    return out


async def units_in_community(
    session: AsyncSession, community_id: int, unit_ids: Iterable[int]
) -> dict[int, Unit]:
    ids = list(set(unit_ids))
    if not ids:
        return {}
    rows = await session.scalars(
        select(Unit).where(Unit.id.in_(ids), Unit.community_id == community_id)  # type: ignore[union-attr]
    )
    return {u.id: u for u in rows if u.id is not None}


async def unit_labels(session: AsyncSession, unit_ids: Iterable[int]) -> dict[int, str]:
    ids = list(set(unit_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(Unit.id, Unit.label).where(Unit.id.in_(ids))  # type: ignore[union-attr]
    )
    return {i: label for i, label in rows.all()}


async def community(session: AsyncSession, community_id: int) -> Community | None:
    row: Community | None = await session.get(Community, community_id)
    return row


async def local_today(session: AsyncSession, community_id: int) -> date:
    tz = await session.scalar(select(Community.time_zone).where(Community.id == community_id))
    return utcnow().astimezone(ZoneInfo(tz or "Asia/Shanghai")).date()


async def tariff_with_bands(
    session: AsyncSession, community_id: int, kind: str
) -> tuple[Tariff | None, list[TariffBand]]:
    tariff = await session.scalar(
        select(Tariff).where(Tariff.community_id == community_id, Tariff.kind == kind)
    )
    if tariff is None:
        return None, []
    bands = await session.scalars(
        select(TariffBand).where(TariffBand.tariff_id == tariff.id).order_by(TariffBand.position)
    )
    return tariff, list(bands)


async def tariffs_of(
    session: AsyncSession, community_id: int
) -> list[tuple[Tariff, list[TariffBand]]]:
    tariffs = list(
        await session.scalars(
            select(Tariff).where(Tariff.community_id == community_id).order_by(Tariff.kind)
        )
    )
    if not tariffs:
        return []
    bands = await session.scalars(
        select(TariffBand)
        .where(TariffBand.tariff_id.in_([t.id for t in tariffs]))  # type: ignore[attr-defined]
        .order_by(TariffBand.tariff_id, TariffBand.position)
    )
    by: dict[int, list[TariffBand]] = {}
    for b in bands:
        by.setdefault(b.tariff_id, []).append(b)
    return [(t, by.get(t.id or 0, [])) for t in tariffs]


async def bills_of_payment(
    session: AsyncSession, payment_id: int, *, lock: bool = False
) -> list[Bill]:
    stmt = (
        select(Bill)
        .where(
            Bill.id.in_(  # type: ignore[union-attr]
                select(BillPayment.bill_id).where(BillPayment.payment_id == payment_id)
            )
        )
        .order_by(Bill.id)
        .execution_options(populate_existing=True)
    )
    if lock:
        stmt = stmt.with_for_update()
    return list(await session.scalars(stmt))
