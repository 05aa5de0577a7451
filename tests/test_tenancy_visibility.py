"""One community never sees another's units, buildings, users or audit log."""

from __future__ import annotations

from sqlalchemy import select

from domain.accounts.models import Building

NODE = (
    "query($id: ID!) { node(id: $id) { id ... on Unit { label } ... on User { displayName } "
    "... on Building { name } ... on Community { name } } }"
)


async def _building_ids(api, community_id):
    async with api.db.reader() as s:
        return list(
            await s.scalars(select(Building.id).where(Building.community_id == community_id))
        )


async def test_node_is_scoped_to_the_viewers_communities(api):
    garden_unit = api.unit_gid("1-101")
    heights_unit = api.unit_gid("A-101")
    garden_user = api.gid("User", api.demo.users["resident1@demo.linli"])
    heights_user = api.gid("User", api.demo.users["residentb@demo.linli"])
    [garden_b] = (await _building_ids(api, api.demo.garden_id))[:1]
    heights_b = (await _building_ids(api, api.demo.heights_id))[0]
    for gid in (heights_unit, heights_user, api.gid("Building", heights_b), api.heights):
        assert (await api.gql(NODE, {"id": gid}, as_="resident1"))["node"] is None
    for gid in (garden_unit, garden_user, api.gid("Building", garden_b), api.garden):
        assert (await api.gql(NODE, {"id": gid}, as_="residentb"))["node"] is None
        assert (await api.gql(NODE, {"id": gid}, as_="resident1"))["node"] is not None
    # The manager of both sees both.
    assert (await api.gql(NODE, {"id": heights_unit}, as_="manager"))["node"]["label"] == "A-101"


async def test_me_lists_only_own_memberships(api):
    data = await api.gql(
        "{ me { memberships { community { name buildings { units { label } } } "
        "units { label } } } }",
        as_="residentb",
    )
    [m] = data["me"]["memberships"]
    assert m["community"]["name"] == "Demo Heights"
    labels = {u["label"] for b in m["community"]["buildings"] for u in b["units"]}
    assert labels and all(label.startswith("A-") for label in labels)


async def test_audit_log_is_for_managers_of_that_community(api):
    q = "query($c: ID!) { auditLog(communityId: $c) { totalCount edges { node { action } } } }"
    for who in ("resident1", "staff1", "residentb"):
        errs = await api.errors(q, {"c": api.garden}, as_=who)
        assert errs[0]["extensions"]["code"] == "FORBIDDEN"
    # Make an audited action, then the manager sees it (the demo seed audits too).
    before = (await api.gql(q, {"c": api.garden}, as_="manager"))["auditLog"]["totalCount"]
    heights = (await api.gql(q, {"c": api.heights}, as_="manager"))["auditLog"]["totalCount"]
    await api.gql(
        "mutation($c: ID!) { createInvite(input: {communityId: $c, role: CAREGIVER}) { code } }",
        {"c": api.garden},
        as_="staff1",
    )
    data = await api.gql(q, {"c": api.garden}, as_="manager")
    assert data["auditLog"]["totalCount"] == before + 1
    assert data["auditLog"]["edges"][0]["node"]["action"] == "invite.create"
    data = await api.gql(q, {"c": api.heights}, as_="manager")
    assert data["auditLog"]["totalCount"] == heights
    assert "invite.create" not in {e["node"]["action"] for e in data["auditLog"]["edges"]}


async def test_audit_log_is_append_only_in_the_database(api):
    import pytest
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    await api.gql(
        "mutation($c: ID!) { createInvite(input: {communityId: $c, role: CAREGIVER}) { code } }",
        {"c": api.garden},
        as_="staff1",
    )
    for stmt in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError):
            async with api.db.transaction() as s:
                await s.execute(text(stmt))
