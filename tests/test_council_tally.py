"""Civil Code art. 278 as a table: each row is a register (units with areas, owners,
developer flag), the final ballots and what the article says the outcome must be.

Quorum: participating owners hold ≥ 2/3 of the area AND are ≥ 2/3 of the owners.
ORDINARY: FOR > 1/2 of the participating area AND owners ("过半数", strictly more).
SPECIAL: FOR ≥ 3/4 of each ("四分之三以上", the bound included).
Headcount: one per unit; all units of one owner are one person; all unsold/undelivered
developer units together are one person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from domain.council.models import Choice, Kind, Matter, kind_of
from domain.council.tally import FinalBallot, UnitRecord, ballots_digest, compute, digest_text

F, A, X = Choice.FOR, Choice.AGAINST, Choice.ABSTAIN
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@dataclass
class Row:
    name: str
    kind: Kind
    # (area in centi-m², owner ids, developer-held)
    units: list[tuple[int, set[int], bool]]
    # unit index → choice, in cast order
    ballots: list[tuple[int, Choice]]
    quorum: bool
    passed: bool
    heads: tuple[int, int, int] | None = None  # (total, participating, for)
    areas: tuple[int, int, int] | None = None  # (total, participating, for)


def solo(*areas: int) -> list[tuple[int, set[int], bool]]:
    """One owner per unit, owner ids 1, 2, ..."""
    return [(a, {i + 1}, False) for i, a in enumerate(areas)]


ROWS = [
    Row(
        "quorum met on area alone is not enough",
        Kind.ORDINARY,
        solo(8000, 1000, 1000),
        [(0, F)],
        quorum=False,
        passed=False,
        heads=(3, 1, 1),
        areas=(10000, 8000, 8000),
    ),
    Row(
        "quorum met on headcount alone is not enough",
        Kind.ORDINARY,
        solo(8000, 1000, 1000),
        [(1, F), (2, F)],
        quorum=False,
        passed=False,
        heads=(3, 2, 2),
        areas=(10000, 2000, 2000),
    ),
    Row(
        "quorum at exactly 2/3 of area and owners is met (以上 includes the bound)",
        Kind.ORDINARY,
        solo(1000, 1000, 1000, 1000, 1000, 1000),
        [(0, F), (1, F), (2, F), (3, A)],
        quorum=True,
        passed=True,
        heads=(6, 4, 3),
        areas=(6000, 4000, 3000),
    ),
    Row(
        "quorum just below 2/3 of the area fails",
        Kind.ORDINARY,
        solo(1000, 1000, 1000, 1000, 1000, 1001),
        [(0, F), (1, F), (2, F), (3, F)],
        quorum=False,
        passed=False,
    ),
    Row(
        "ORDINARY at exactly 1/2 fails (过半数 is strictly more)",
        Kind.ORDINARY,
        solo(1000, 1000, 1000, 1000),
        [(0, F), (1, F), (2, A), (3, A)],
        quorum=True,
        passed=False,
        heads=(4, 4, 2),
    ),
    Row(
        "ORDINARY just above 1/2 of area and of owners passes",
        Kind.ORDINARY,
        solo(2000, 2000, 1001, 2500, 2499),
        [(0, F), (1, F), (2, F), (3, A), (4, A)],
        quorum=True,
        passed=True,
        heads=(5, 5, 3),
        areas=(10000, 10000, 5001),
    ),
    Row(
        "ORDINARY with most of the area but exactly half the owners fails",
        Kind.ORDINARY,
        solo(7000, 1000, 1000, 1000),
        [(0, F), (1, F), (2, A), (3, A)],
        quorum=True,
        passed=False,
    ),
    Row(
        "ORDINARY: abstentions participate, so 2 for of 4 is not more than half",
        Kind.ORDINARY,
        solo(1000, 1000, 1000, 1000),
        [(0, F), (1, F), (2, X), (3, A)],
        quorum=True,
        passed=False,
    ),
    Row(
        "SPECIAL at exactly 3/4 passes (以上 includes the bound)",
        Kind.SPECIAL,
        solo(1000, 1000, 1000, 1000),
        [(0, F), (1, F), (2, F), (3, A)],
        quorum=True,
        passed=True,
        heads=(4, 4, 3),
        areas=(4000, 4000, 3000),
    ),
    Row(
        "SPECIAL just below 3/4 of the area fails",
        Kind.SPECIAL,
        solo(2500, 2500, 2499, 2501),
        [(0, F), (1, F), (2, F), (3, A)],
        quorum=True,
        passed=False,
        areas=(10000, 10000, 7499),
    ),
    Row(
        "SPECIAL just below 3/4 of the owners fails even with most of the area",
        Kind.SPECIAL,
        solo(5000, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500),
        # 8 of 11 voting owners for (8/11 < 3/4); area 5000+7*500 of 10500 is over 3/4
        [(0, F)] + [(i, F) for i in range(1, 8)] + [(i, A) for i in range(8, 11)],
        quorum=True,
        passed=False,
    ),
    Row(
        "an owner of three units counts once in headcount with all three areas",
        Kind.ORDINARY,
        [
            (1000, {1}, False),
            (1000, {1}, False),
            (1000, {1}, False),
            (1000, {2}, False),
            (1000, {3}, False),
        ],
        [(0, F), (1, F), (2, F), (3, A)],
        quorum=True,
        passed=False,  # 3/4 of the area for, but only 1 of 2 owners: not more than half
        heads=(3, 2, 1),
        areas=(5000, 4000, 3000),
    ),
    Row(
        "all unsold developer units together are one owner",
        Kind.ORDINARY,
        [(1000, set(), True)] * 4 + [(1000, {1}, False), (1000, {2}, False)],
        [(0, F), (1, F), (4, A)],
        quorum=False,  # area 3000/6000 is below 2/3 even though 2 of 3 owners voted
        passed=False,
        heads=(3, 2, 1),
        areas=(6000, 3000, 2000),
    ),
    Row(
        "developer units vote with their area and one head",
        Kind.SPECIAL,
        [(1000, set(), True)] * 3 + [(1000, {1}, False), (1000, {2}, False)],
        [(0, F), (1, F), (2, F), (3, F), (4, A)],
        quorum=True,
        passed=False,  # area 4/5 for, but owners 2 of 3 is below 3/4
        heads=(3, 3, 2),
        areas=(5000, 5000, 4000),
    ),
    Row(
        "a co-owned unit is one owner; a co-owner's other unit joins the same person",
        Kind.ORDINARY,
        [(1000, {1, 2}, False), (1000, {3}, False), (1000, {2}, False), (1000, {4}, False)],
        [(0, F), (1, F), (2, F), (3, A)],
        quorum=True,
        passed=True,  # persons: {units 0, 2}, {1}, {3}: 2 of 3 for; area 3/4 for
        heads=(3, 3, 2),
        areas=(4000, 4000, 3000),
    ),
    Row(
        "an owner's head follows their latest cast when their units differ",
        Kind.ORDINARY,
        [(1000, {1}, False), (1000, {1}, False), (1000, {2}, False)],
        [(0, A), (2, F), (1, F)],
        quorum=True,
        passed=True,  # owner 1's latest cast is FOR: 2 of 2 heads, 2/3 area
        heads=(2, 2, 2),
        areas=(3000, 3000, 2000),
    ),
    Row(
        "nobody voted",
        Kind.ORDINARY,
        solo(1000, 1000),
        [],
        quorum=False,
        passed=False,
        heads=(2, 0, 0),
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_article_278(row: Row):
    units = [UnitRecord(i + 1, a, frozenset(o), d) for i, (a, o, d) in enumerate(row.units)]
    ballots = [
        FinalBallot(idx + 1, choice, T0 + timedelta(minutes=n), n)
        for n, (idx, choice) in enumerate(row.ballots)
    ]
    t = compute(row.kind, units, ballots)
    assert (t.quorum_met, t.passed) == (row.quorum, row.passed)
    if row.heads:
        assert (t.total_owners, t.participating_owners, t.owners["FOR"]) == row.heads
    if row.areas:
        assert (t.total_area, t.participating_area, t.area["FOR"]) == row.areas


def test_matters_fix_the_kind():
    special = {Matter.FUND_RAISING, Matter.RENOVATION_REBUILD, Matter.COMMON_PARTS_CHANGE}
    for matter in Matter:
        assert kind_of(matter) is (Kind.SPECIAL if matter in special else Kind.ORDINARY)


def test_exact_arithmetic_at_huge_areas():
    # At these sizes a float quotient cannot tell exactly 2/3 from just below it:
    # (2·10^17+1)/(3·10^17+3) rounds to the same double as 2/3.
    big = 10**17
    assert (2 * big + 1) / (3 * big + 3) >= 2 / 3  # the float comparison gets it wrong

    def quorum(p_area: int, other_area: int) -> bool:
        units = [
            UnitRecord(1, p_area, frozenset({1})),
            UnitRecord(2, other_area, frozenset({2})),
            UnitRecord(3, 0, frozenset({3})),
        ]
        return compute(
            Kind.ORDINARY, units, [FinalBallot(1, F, T0), FinalBallot(3, F, T0)]
        ).quorum_met

    assert quorum(2 * big + 2, big + 1)  # exactly 2/3 of the area: met
    assert not quorum(2 * big + 1, big + 2)  # just below: not met


def test_digest_is_sm3_over_the_published_lines():
    rows = [("1-101", "FOR", T0), ("1-102", "AGAINST", T0 + timedelta(seconds=1))]
    text = digest_text(7, rows)
    assert text == (
        "linli-ballots/v1 proposal:7\n"
        "1-101\tFOR\t2026-11-23T02:00:00.000000Z\n"
        "1-102\tAGAINST\t2026-11-23T02:00:01.000000Z\n"
    )
    assert len(ballots_digest(7, rows)) == 64
    assert ballots_digest(7, rows) != ballots_digest(7, rows[::-1])
