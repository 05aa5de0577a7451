"""Bills at the edge: the hourly overdue/reminder sweep and the demo tariffs and bills."""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import AppState
from api.jobs import job
from api.seed import Demo, seed_step
from core.clock import utcnow
from core.principal import Principal
from domain.bills import service as bills
from domain.bills.models import Bill, BillKind

log = logging.getLogger("linli.bills")


@job("bills.reminders_and_overdue", seconds=3600)
async def bill_sweeps(state: AppState) -> None:
    now = utcnow()
    async with state.db.transaction() as session:
        overdue = await bills.sweep_overdue(session, now=now)
        reminded = await bills.send_due_reminders(session, now=now)
    if overdue or reminded:
        log.info("bills: %d became overdue, %d due reminders", overdue, reminded)


# Demo Garden's tariffs (Shanghai-like residential prices, per monthly period).
DEMO_BANDS = {
    BillKind.WATER: [
        bills.BandInput(15, "3.45"),
        bills.BandInput(25, "4.83"),
        bills.BandInput(None, "5.83"),
    ],
    BillKind.ELECTRICITY: [
        bills.BandInput(260, "0.617"),
        bills.BandInput(400, "0.667"),
        bills.BandInput(None, "0.917"),
    ],
    BillKind.GAS: [
        bills.BandInput(25, "3.00"),
        bills.BandInput(50, "3.30"),
        bills.BandInput(None, "4.20"),
    ],
}
DEMO_PROPERTY_FEE_PER_M2 = "2.80"


@seed_step
async def seed_bills(session: AsyncSession, demo: Demo) -> None:
    staff = Principal.build(demo.users["staff1@demo.linli"], [(demo.garden_id, "STAFF")], "zh-CN")
    for kind, bands in DEMO_BANDS.items():
        await bills.set_tariff(session, staff, community_id=demo.garden_id, kind=kind, bands=bands)
    await bills.set_tariff(
        session,
        staff,
        community_id=demo.garden_id,
        kind=BillKind.PROPERTY_FEE,
        price_per_m2=DEMO_PROPERTY_FEE_PER_M2,
    )
    unit = demo.units["1-101"]
    issued = [
        (BillKind.WATER, "2026-10", date(2026, 11, 15), 18.5, None),
        (BillKind.ELECTRICITY, "2026-11", date(2026, 12, 10), 286.0, None),
        (BillKind.WATER, "2026-11", date(2026, 12, 15), 12.0, None),
        (BillKind.PROPERTY_FEE, "2026-11", date(2026, 11, 30), None, None),
        (BillKind.PARKING_MONTHLY, "2026-11", date(2026, 11, 30), None, 30000),
    ]
    for kind, period, due, usage, amount in issued:
        await bills.issue_bills(
            session,
            staff,
            community_id=demo.garden_id,
            kind=kind,
            period=period,
            due_date=due,
            lines=[bills.IssueLine(unit_id=unit, usage=usage, amount_minor=amount)],
        )
    rows = await session.execute(
        select(Bill.id, Bill.kind, Bill.period).where(Bill.unit_id == unit)
    )
    demo.extra["bills"] = {f"1-101:{k}:{p}": i for i, k, p in rows.all()}
