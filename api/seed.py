"""The demo community every newcomer and every demo uses: rich, stable, idempotent.

Capabilities add their demo data with `@seed_step`; each step gets the ids created so
far (`Demo`) and the open session, and all of it lands in one transaction.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import keys
from core.crypto import hash_password, normalize_email, normalize_phone
from core.db import Database
from core.principal import Role
from core.settings import Settings
from domain.accounts.models import (
    Building,
    Community,
    Membership,
    Organization,
    Ownership,
    Tenancy,
    Unit,
    User,
)

ORG_NAME = "Linli Demo Property"
DEMO_PASSWORD = "linli-demo-2026"  # noqa: S105 - the documented demo password

LOGINS: list[tuple[str, str, str]] = [
    ("resident1@demo.linli", "王芳 Wang Fang", "Demo Garden: owner of 1-101"),
    ("resident2@demo.linli", "李强 Li Qiang", "Demo Garden: owner of 1-102 and 2-201"),
    ("tenant1@demo.linli", "赵敏 Zhao Min", "Demo Garden: tenant of 2-301"),
    ("elder1@demo.linli", "陈秀英 Chen Xiuying", "Demo Garden: elder living alone in 1-301"),
    ("carer1@demo.linli", "陈明 Chen Ming", "elder1's first caregiver (her son)"),
    ("carer2@demo.linli", "刘洋 Liu Yang", "elder1's second caregiver (a neighbour)"),
    ("merchant1@demo.linli", "好帮手家政 Helping Hands", "merchant: housekeeping and care"),
    ("merchant2@demo.linli", "快修师傅 QuickFix", "merchant: repairs"),
    ("staff1@demo.linli", "张伟 Zhang Wei", "property staff: electrician, plumber"),
    ("staff2@demo.linli", "孙丽 Sun Li", "property staff: elevator, fire safety"),
    ("manager@demo.linli", "周经理 Manager Zhou", "property manager of both communities"),
    ("coowner1@demo.linli", "吴刚 Wu Gang", "Demo Garden: co-owner of 1-202"),
    ("coowner2@demo.linli", "吴丽 Wu Li", "Demo Garden: co-owner of 1-202"),
    ("residentb@demo.linli", "黄磊 Huang Lei", "Demo Heights: owner of A-101"),
]


@dataclass
class Demo:
    organization_id: int = 0
    garden_id: int = 0
    heights_id: int = 0
    users: dict[str, int] = field(default_factory=dict)  # login → id
    units: dict[str, int] = field(default_factory=dict)  # "1-101" → id (Demo Garden)
    heights_units: dict[str, int] = field(default_factory=dict)
    buildings: dict[str, int] = field(default_factory=dict)  # "1" → id (Demo Garden)
    elders: dict[str, int] = field(default_factory=dict)  # login → elder id
    # Capabilities keep the ids of their demo data here: extra["offerings"] = {...}
    extra: dict[str, dict[str, int]] = field(default_factory=dict)
    password_hash: str = ""


SeedStep = Callable[[AsyncSession, Demo], Awaitable[None]]
_steps: list[SeedStep] = []


def seed_step(fn: SeedStep) -> SeedStep:
    _steps.append(fn)
    return fn


def _phone(n: int) -> str:
    return f"1380013{n:04d}"


async def _user(session: AsyncSession, demo: Demo, login: str, name: str, n: int) -> int:
    cipher = keys.cipher()
    email, phone = normalize_email(login), normalize_phone(_phone(n))
    user = User(
        display_name=name,
        email_enc=cipher.encrypt(email),
        email_bidx=cipher.blind_index(email),
        phone_enc=cipher.encrypt(phone),
        phone_bidx=cipher.blind_index(phone),
        # One argon2id hash for the shared demo password keeps seeding fast.
        password_hash=demo.password_hash,
        locale="en" if login == "residentb@demo.linli" else "zh-CN",
    )
    session.add(user)
    await session.flush()
    assert user.id is not None
    demo.users[login] = user.id
    return user.id


def _role(session: AsyncSession, user_id: int, community_id: int, role: Role) -> None:
    session.add(Membership(user_id=user_id, community_id=community_id, role=role.value))


async def seed_accounts(session: AsyncSession, demo: Demo) -> None:
    rng = random.Random(2026)  # noqa: S311 - deterministic demo data, not security
    org = Organization(name=ORG_NAME)
    session.add(org)
    await session.flush()
    assert org.id is not None
    demo.organization_id = org.id
    garden = Community(organization_id=org.id, name="Demo Garden", time_zone="Asia/Shanghai")
    heights = Community(organization_id=org.id, name="Demo Heights", time_zone="Asia/Shanghai")
    session.add_all([garden, heights])
    await session.flush()
    assert garden.id is not None and heights.id is not None
    demo.garden_id, demo.heights_id = garden.id, heights.id

    for b in ("1", "2", "3"):
        building = Building(community_id=garden.id, name=f"{b}号楼", x_m=int(b) * 60, y_m=0)
        session.add(building)
        await session.flush()
        assert building.id is not None
        demo.buildings[b] = building.id
        for floor in range(1, 11):
            for door in (1, 2):
                label = f"{b}-{floor}{door:02d}"
                area = rng.choice([6512, 7888, 8950, 9420, 10275, 11830, 12960, 14205])
                unit = Unit(
                    community_id=garden.id,
                    building_id=building.id,
                    label=label,
                    floor=floor,
                    area_centi_m2=area,
                    # Building 3's top two floors are unsold: held by the developer.
                    developer_held=(b == "3" and floor >= 9),
                )
                session.add(unit)
                await session.flush()
                assert unit.id is not None
                demo.units[label] = unit.id
    hb = Building(community_id=heights.id, name="A栋", x_m=0, y_m=0)
    session.add(hb)
    await session.flush()
    assert hb.id is not None
    for floor in (1, 2, 3):
        for door in (1, 2):
            label = f"A-{floor}{door:02d}"
            unit = Unit(
                community_id=heights.id,
                building_id=hb.id,
                label=label,
                floor=floor,
                area_centi_m2=9000 + floor * 500 + door * 120,
            )
            session.add(unit)
            await session.flush()
            assert unit.id is not None
            demo.heights_units[label] = unit.id

    for n, (login, name, _) in enumerate(LOGINS):
        await _user(session, demo, login, name, n)
    u, g, h = demo.users, garden.id, heights.id
    for login in ("resident1", "resident2", "tenant1", "elder1", "coowner1", "coowner2"):
        _role(session, u[f"{login}@demo.linli"], g, Role.RESIDENT)
    for login in ("carer1", "carer2"):
        _role(session, u[f"{login}@demo.linli"], g, Role.CAREGIVER)
    for login in ("merchant1", "merchant2"):
        _role(session, u[f"{login}@demo.linli"], g, Role.MERCHANT)
    for login in ("staff1", "staff2"):
        _role(session, u[f"{login}@demo.linli"], g, Role.STAFF)
    _role(session, u["manager@demo.linli"], g, Role.MANAGER)
    _role(session, u["manager@demo.linli"], h, Role.MANAGER)
    _role(session, u["residentb@demo.linli"], h, Role.RESIDENT)

    owned = {
        "1-101": ["resident1"],
        "1-102": ["resident2"],
        "2-201": ["resident2"],
        "1-301": ["elder1"],
        "1-202": ["coowner1", "coowner2"],
    }
    for label, logins in owned.items():
        for login in logins:
            session.add(Ownership(unit_id=demo.units[label], user_id=u[f"{login}@demo.linli"]))
    session.add(Ownership(unit_id=demo.heights_units["A-101"], user_id=u["residentb@demo.linli"]))

    # Every other sold unit gets an owner; every seventh owner holds two units, so the
    # council's "one owner, one head" rule has real cases to count.
    free = [
        label
        for label in demo.units
        if label not in owned and not (label.startswith("3-") and int(label[2:-2]) >= 9)
    ]
    owner_no = 0
    i = 0
    while i < len(free):
        owner_no += 1
        uid = await _user(
            session,
            demo,
            f"owner{owner_no:02d}@demo.linli",
            f"业主{owner_no:02d} Owner {owner_no:02d}",
            100 + owner_no,
        )
        _role(session, uid, g, Role.RESIDENT)
        take = 2 if owner_no % 7 == 0 and i + 1 < len(free) else 1
        for label in free[i : i + take]:
            session.add(Ownership(unit_id=demo.units[label], user_id=uid))
        i += take
    session.add(Tenancy(unit_id=demo.units["2-301"], user_id=u["tenant1@demo.linli"]))
    await session.flush()


def _all_steps() -> list[SeedStep]:
    import api.capabilities  # noqa: F401 - capabilities register their seed steps

    return [seed_accounts, *_steps]


async def seed(db: Database) -> Demo | None:
    """Create the demo data; None when an organization already exists."""
    async with db.transaction() as session:
        if await session.scalar(select(Organization.id).limit(1)) is not None:
            return None
        demo = Demo(password_hash=hash_password(DEMO_PASSWORD))
        for step in _all_steps():
            await step(session, demo)
    return demo


def logins_text() -> str:
    width = max(len(login) for login, _, _ in LOGINS)
    lines = [f"Demo logins (password for all: {DEMO_PASSWORD}):"]
    lines += [f"  {login:<{width}}  {desc}" for login, _, desc in LOGINS]
    return "\n".join(lines)


async def run_seed(settings: Settings, *, if_empty: bool) -> int:
    keys.configure(settings.master_secret())
    db = Database(settings.database_url)
    try:
        demo = await seed(db)
    finally:
        await db.dispose()
    if demo is None:
        print("The database already has data; demo seed skipped.")
    else:
        print("Seeded the demo communities Demo Garden and Demo Heights.")
    print(logins_text())
    return 0
