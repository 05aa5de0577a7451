"""Civil Code art. 278, as arithmetic. Pure functions: the table-driven tests call them
directly and the service feeds them from the database.

- Quorum: the participating owners hold at least 2/3 of the total exclusive area AND
  are at least 2/3 of the owners ("三分之二以上" includes the bound).
- ORDINARY passes with more than half ("过半数": strictly more) of the participating
  area AND of the participating owners; SPECIAL with at least 3/4 ("以上": the bound
  included) of each.
- Headcount (司法解释 on 建筑物区分所有权, art. 9): one per exclusive unit, except that
  all units of one owner count as one person and all unsold or undelivered developer
  units together count as one. Co-owners of one unit are that one unit's person.
- An owner voting for several units has one head: it goes to their most recent cast.

All figures are integers (areas in centi-m²) and the thresholds compare Fractions:
no float ever decides a vote.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction

from core.crypto import sm3_hex
from domain.council.models import Choice, Kind

QUORUM = Fraction(2, 3)
ORDINARY_MAJORITY = Fraction(1, 2)  # strictly more than
SPECIAL_MAJORITY = Fraction(3, 4)  # at least


@dataclass(frozen=True)
class UnitRecord:
    unit_id: int
    area: int  # centi-m², from the property register
    owners: frozenset[int] = frozenset()
    developer_held: bool = False
    label: str = ""


@dataclass(frozen=True)
class FinalBallot:
    unit_id: int
    choice: Choice
    cast_at: datetime
    cast_id: int = 0


@dataclass
class Tally:
    total_owners: int = 0
    total_area: int = 0
    participating_owners: int = 0
    participating_area: int = 0
    owners: dict[str, int] = field(default_factory=lambda: {c.value: 0 for c in Choice})
    area: dict[str, int] = field(default_factory=lambda: {c.value: 0 for c in Choice})
    quorum_met: bool = False
    passed: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "total_owners": self.total_owners,
            "total_area": self.total_area,
            "participating_owners": self.participating_owners,
            "participating_area": self.participating_area,
            "owners": dict(self.owners),
            "area": dict(self.area),
            "quorum_met": self.quorum_met,
            "passed": self.passed,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Tally:
        t = cls()
        t.total_owners = int(data["total_owners"])  # type: ignore[call-overload]
        t.total_area = int(data["total_area"])  # type: ignore[call-overload]
        t.participating_owners = int(data["participating_owners"])  # type: ignore[call-overload]
        t.participating_area = int(data["participating_area"])  # type: ignore[call-overload]
        t.owners = {k: int(v) for k, v in dict(data["owners"]).items()}  # type: ignore[call-overload]
        t.area = {k: int(v) for k, v in dict(data["area"]).items()}  # type: ignore[call-overload]
        t.quorum_met = bool(data["quorum_met"])
        t.passed = bool(data["passed"])
        return t


def persons(units: Iterable[UnitRecord]) -> dict[int, int]:
    """unit id → person id (the smallest unit id of the person's units)."""
    units = list(units)
    parent = {u.unit_id: u.unit_id for u in units}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    first_dev: int | None = None
    first_of_owner: dict[int, int] = {}
    for u in units:
        if u.developer_held:
            if first_dev is None:
                first_dev = u.unit_id
            else:
                union(first_dev, u.unit_id)
        for owner in u.owners:
            seen = first_of_owner.setdefault(owner, u.unit_id)
            union(seen, u.unit_id)
    return {u.unit_id: find(u.unit_id) for u in units}


def compute(kind: Kind, units: Iterable[UnitRecord], ballots: Iterable[FinalBallot]) -> Tally:
    units = list(units)
    person_of = persons(units)
    area_of = {u.unit_id: u.area for u in units}
    t = Tally()
    t.total_area = sum(area_of.values())
    t.total_owners = len(set(person_of.values()))
    latest: dict[int, FinalBallot] = {}
    for b in ballots:
        if b.unit_id not in area_of:
            continue  # not a unit of this community's register
        t.participating_area += area_of[b.unit_id]
        t.area[b.choice.value] += area_of[b.unit_id]
        person = person_of[b.unit_id]
        cur = latest.get(person)
        if cur is None or (b.cast_at, b.cast_id) > (cur.cast_at, cur.cast_id):
            latest[person] = b
    t.participating_owners = len(latest)
    for b in latest.values():
        t.owners[b.choice.value] += 1
    t.quorum_met = (
        t.total_area > 0
        and t.total_owners > 0
        and Fraction(t.participating_area, t.total_area) >= QUORUM
        and Fraction(t.participating_owners, t.total_owners) >= QUORUM
    )
    if t.quorum_met:
        for_area = Fraction(t.area[Choice.FOR.value], t.participating_area)
        for_heads = Fraction(t.owners[Choice.FOR.value], t.participating_owners)
        if kind is Kind.SPECIAL:
            t.passed = for_area >= SPECIAL_MAJORITY and for_heads >= SPECIAL_MAJORITY
        else:
            t.passed = for_area > ORDINARY_MAJORITY and for_heads > ORDINARY_MAJORITY
    return t


def timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def digest_text(proposal_id: int, published: Iterable[tuple[str, str, datetime]]) -> str:
    """The text the digest is taken over: a header line, then one line per final
    ballot `label<TAB>choice<TAB>cast time (UTC, microseconds)` in published order."""
    lines = [f"linli-ballots/v1 proposal:{proposal_id}"]
    lines += [f"{label}\t{choice}\t{timestamp(at)}" for label, choice, at in published]
    return "\n".join(lines) + "\n"


def ballots_digest(proposal_id: int, published: Iterable[tuple[str, str, datetime]]) -> str:
    return sm3_hex(digest_text(proposal_id, published))
