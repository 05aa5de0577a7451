"""Owners' council: castBallot throughput (distinct owners and units, real casts with
changes of mind) and the art. 278 tally of a 5,000-unit community."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from sqlalchemy import insert, select

from core import keys
from core.clock import utcnow
from core.db import Database
from core.ids import encode_gid
from domain.accounts.models import Building, Community, Membership, Ownership, Unit, User
from domain.council import service as council
from domain.council.models import Ballot, Matter, Proposal, Status, kind_of
from tests.bench.harness import SECRET, Harness, graphql_request, median

CAST = (
    "mutation($p: ID!, $u: ID!, $c: BallotChoice!, $k: String!) { castBallot(input: "
    "{proposalId: $p, unitId: $u, choice: $c, idempotencyKey: $k}) "
    "{ ballot { choice } userErrors { code } } }"
)
TALLY = (
    "query($c: ID!) { proposals(communityId: $c, status: OPEN) { edges { node { "
    "tally { totalOwners participatingOwners forAreaM2 quorumMet passed } } } } }"
)


async def _community(db: Database, units: int) -> tuple[int, list[tuple[int, int]]]:
    """A community of `units` units in 50 buildings: every 10th owner holds two units,
    the last 4% are developer-held. Returns (community id, [(unit id, owner id)])."""
    async with db.transaction() as s:
        org = await s.scalar(select(Community.organization_id).limit(1))
        c = Community(organization_id=org or 1, name=f"Bench {uuid.uuid4().hex[:6]}")
        s.add(c)
        await s.flush()
        assert c.id is not None
        buildings = []
        for b in range(50):
            building = Building(community_id=c.id, name=f"B{b}")
            s.add(building)
            buildings.append(building)
        await s.flush()
        rows = [
            {
                "community_id": c.id,
                "building_id": buildings[i % 50].id,
                "label": f"{i % 50}-{i // 50:03d}",
                "floor": 1 + (i // 50) % 30,
                "area_centi_m2": 6000 + (i * 37) % 9000,
                "developer_held": i >= units * 96 // 100,
            }
            for i in range(units)
        ]
        await s.execute(insert(Unit), rows)
        unit_ids = list(
            await s.scalars(select(Unit.id).where(Unit.community_id == c.id).order_by(Unit.id))
        )
        sold = unit_ids[: units * 96 // 100]
        owners_needed = len(sold) - len(sold) // 20
        await s.execute(
            insert(User),
            [
                {"display_name": f"bench owner {i}", "password_hash": "x"}
                for i in range(owners_needed)
            ],
        )
        users = list(
            await s.scalars(
                select(User.id).order_by(User.id.desc()).limit(owners_needed)  # type: ignore[union-attr]
            )
        )[::-1]
        pairs: list[tuple[int, int]] = []
        ui = 0
        for n, uid in enumerate(users):
            take = 2 if n % 10 == 0 and ui + 1 < len(sold) else 1
            for unit_id in sold[ui : ui + take]:
                pairs.append((unit_id, uid))
            ui += take
            if ui >= len(sold):
                break
        await s.execute(insert(Ownership), [{"unit_id": u, "user_id": o} for u, o in pairs])
        await s.execute(
            insert(Membership),
            [
                {"user_id": uid, "community_id": c.id, "role": "RESIDENT", "created_at": utcnow()}
                for uid in {o for _, o in pairs}
            ],
        )
        return c.id, pairs


async def run(h: Harness) -> None:
    keys.configure(SECRET.encode())
    units = 1000 if h.quick else 5000
    for kind in ("sqlite", "postgres"):
        async with h.server(kind) as srv:
            db = Database(srv.url)
            try:
                t0 = time.perf_counter()
                cid, pairs = await _community(db, units)
                setup_s = time.perf_counter() - t0
                # Inserted directly rather than announced: announcing queues a notice to
                # each of ~4,400 owners, and the server's outbox worker pushing them would
                # compete with the measurement. The notices are measured at close below.
                async with db.transaction() as s:
                    now = utcnow()
                    row = Proposal(
                        community_id=cid,
                        title="bench",
                        body="bench",
                        matter=Matter.COMMON_PARTS_CHANGE,
                        kind=kind_of(Matter.COMMON_PARTS_CHANGE),
                        status=Status.OPEN,
                        opens_at=now - timedelta(minutes=1),
                        closes_at=now + timedelta(days=1),
                        live_tally=True,
                        opened_at=now,
                    )
                    s.add(row)
                    await s.flush()
                    pid = row.id or 0
                pgid = encode_gid("Proposal", pid)
                tokens = {o: keys.issue_access_token(o) for _, o in pairs}
                run_id = uuid.uuid4().hex[:6]
                choices = ["FOR", "AGAINST", "FOR", "ABSTAIN"]
                requests = [
                    graphql_request(
                        srv.port,
                        CAST,
                        {
                            "p": pgid,
                            "u": encode_gid("Unit", unit_id),
                            "c": choices[(i + r) % 4],
                            "k": f"{run_id}-{r}-{unit_id}",
                        },
                        token=tokens[owner],
                    )
                    for r in range(3)  # three rounds: later rounds change ballots
                    for i, (unit_id, owner) in enumerate(pairs)
                ]
                res = h.load(srv.port, requests, concurrency=32)
                note = f"p99 {res.pct(99):.1f} ms, errors {res.errors}"
                if res.requests > len(requests):
                    note += " (list wrapped: some were idempotent replays)"
                h.result(f"{kind}: castBallot", res.rps, "ballots/s", note=note)

                # Every sold unit votes before the tally is timed (the rest directly in the
                # table: the throughput was measured above).
                async with db.transaction() as s:
                    voted = set(
                        await s.scalars(select(Ballot.unit_id).where(Ballot.proposal_id == pid))
                    )
                    await s.execute(
                        insert(Ballot),
                        [
                            {
                                "proposal_id": pid,
                                "unit_id": u,
                                "choice": choices[u % 4],
                                "cast_at": utcnow(),
                                "cast_by": o,
                                "casts": 1,
                            }
                            for u, o in pairs
                            if u not in voted
                        ],
                    )
                # The tally: in-process over the database, then the live tally via
                # GraphQL, then freezing at close (tally + digest + notifications).
                times = []
                for _ in range(3):
                    async with db.reader() as s:
                        row = await s.get(Proposal, pid)
                        assert row is not None
                        t0 = time.perf_counter()
                        result, ballots = await council.compute_tally(s, row)
                        times.append(time.perf_counter() - t0)
                h.result(
                    f"{kind}: tally of a {units}-unit community",
                    median(times) * 1000,
                    "ms",
                    note=f"{len(ballots)} ballots, {result.total_owners} owners; "
                    f"community setup {setup_s:.1f} s",
                )
                owner_token = tokens[pairs[1][1]]
                gql_times = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    resp = await srv.graphql(
                        TALLY, {"c": encode_gid("Community", cid)}, owner_token
                    )
                    gql_times.append(time.perf_counter() - t0)
                    assert "errors" not in resp.json(), resp.text
                h.result(f"{kind}: live tally via GraphQL", median(gql_times) * 1000, "ms")
                async with db.transaction() as s:
                    t0 = time.perf_counter()
                    await council.sweep_proposals(s, now=utcnow() + timedelta(days=2))
                    freeze = time.perf_counter() - t0
                h.result(
                    f"{kind}: close and freeze (tally, SM3 digest, owner notices)",
                    freeze * 1000,
                    "ms",
                )
            finally:
                await db.dispose()
