"""Complaints and reports through the public API: photos by a real multipart request,
the staff workflow, anonymity, rating, and bad input that stores nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from core.ids import decode_gid
from domain.complaints.models import Complaint, ComplaintPhoto
from domain.notifications.models import Notification
from domain.workorders.models import WorkOrder

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(200))

FILE = """
mutation($input: FileComplaintInput!) {
  fileComplaint(input: $input) {
    complaint { id status category body locationText building { name }
      reporter { id } photos { id contentType sizeBytes url } history { action status } }
    userErrors { code field message }
  }
}"""
UPDATE = """
mutation($input: UpdateComplaintInput!) {
  updateComplaint(input: $input) {
    complaint { id status reason cityForward { channel reference }
      history { action status note } workOrder { id status title } }
    userErrors { code field message }
  }
}"""
RATE = """
mutation($input: RateComplaintInput!) {
  rateComplaint(input: $input) {
    complaint { id rating ratingComment ratedAt } userErrors { code field message }
  }
}"""


async def upload(
    api,
    variables: dict[str, Any],
    files: list[tuple[str, bytes, str]],
    *,
    as_: str,
    lang: str = "en",
) -> Any:
    """A GraphQL multipart request (operations, map, files) as apps send it."""
    variables = json.loads(json.dumps(variables))
    variables["input"]["photos"] = [None] * len(files)
    operations = {"query": FILE, "variables": variables}
    mapping = {str(i): [f"variables.input.photos.{i}"] for i in range(len(files))}
    return await api.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps(mapping)},
        files=[(str(i), f) for i, f in enumerate(files)],
        headers={"authorization": f"Bearer {api.token(as_)}", "accept-language": lang},
    )


def stored_files(api) -> list[Path]:
    root = Path(api.server.state.settings.upload_dir)
    return sorted(p for p in root.rglob("*") if p.is_file())


async def count(api, model) -> int:
    async with api.db.reader() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


def base_input(api, **kw: Any) -> dict[str, Any]:
    return {
        "input": {
            "communityId": api.garden,
            "category": "THROWN_FROM_HEIGHT",
            "body": "有人从楼上扔下一个花盆，砸坏了自行车。",
            "buildingId": api.gid("Building", api.demo.buildings["1"]),
            "locationText": "1号楼北侧自行车棚",
            **kw,
        }
    }


async def test_complaint_with_two_photos_accepted_resolved_and_rated(api, clock):
    before_files = stored_files(api)
    resp = await upload(
        api,
        base_input(api),
        # The client's content types are wrong on purpose: the bytes decide.
        [("pot.jpg", JPEG, "application/octet-stream"), ("bike.png", PNG, "image/jpeg")],
        as_="resident1",
    )
    assert resp.status_code == 200, resp.text
    payload = resp.json()["data"]["fileComplaint"]
    assert payload["userErrors"] == []
    c = payload["complaint"]
    assert c["status"] == "OPEN" and c["building"]["name"] == "1号楼"
    assert [p["contentType"] for p in c["photos"]] == ["image/jpeg", "image/png"]
    assert [p["sizeBytes"] for p in c["photos"]] == [len(JPEG), len(PNG)]
    assert c["reporter"]["id"] == api.gid("User", api.demo.users["resident1@demo.linli"])
    assert len(stored_files(api)) == len(before_files) + 2

    # Photos: the reporter and staff fetch them; a neighbour and strangers cannot.
    path = "/" + c["photos"][0]["url"].split("/", 3)[3]
    ok = await api.http.get(path, headers={"authorization": f"Bearer {api.token('resident1')}"})
    assert ok.status_code == 200 and ok.content == JPEG
    assert ok.headers["content-type"] == "image/jpeg"
    staff = await api.http.get(path, headers={"authorization": f"Bearer {api.token('staff1')}"})
    assert staff.status_code == 200
    for who in ("resident2", "residentb", "merchant1"):
        r = await api.http.get(path, headers={"authorization": f"Bearer {api.token(who)}"})
        assert r.status_code == 404, who
    assert (await api.http.get(path)).status_code == 401

    # Staff are told, see it in their queue with the reporter; neighbours see nothing.
    async with api.db.reader() as s:
        told = set(
            await s.scalars(
                select(Notification.user_id).where(Notification.category == "COMPLAINT")
            )
        )
    assert api.demo.users["staff1@demo.linli"] in told
    assert api.demo.users["resident1@demo.linli"] not in told
    queue = await api.gql(
        "query($c: ID!) { complaints(communityId: $c, status: OPEN) { totalCount "
        "edges { node { id reporter { displayName } } } } }",
        {"c": api.garden},
        as_="staff2",
    )
    assert queue["complaints"]["edges"][0]["node"]["id"] == c["id"]
    assert queue["complaints"]["edges"][0]["node"]["reporter"]["displayName"]
    node = await api.gql(
        "query($id: ID!) { node(id: $id) { id } }", {"id": c["id"]}, as_="resident2"
    )
    assert node["node"] is None
    mine = await api.gql("{ myComplaints { edges { node { id } } } }", as_="resident2")
    assert c["id"] not in {e["node"]["id"] for e in mine["myComplaints"]["edges"]}

    # Rating before it is resolved is refused.
    early = await api.gql(RATE, {"input": {"complaintId": c["id"], "rating": 5}}, as_="resident1")
    assert early["rateComplaint"]["userErrors"][0]["code"] == "CONFLICT"

    cid = c["id"]
    res = await api.gql(UPDATE, {"input": {"complaintId": cid, "status": "ACCEPTED"}}, as_="staff1")
    assert res["updateComplaint"]["complaint"]["status"] == "ACCEPTED"
    # Turned into a work order: dispatched to on-duty staff like any other.
    res = await api.gql(
        UPDATE, {"input": {"complaintId": cid, "createWorkOrder": True}}, as_="staff1"
    )
    out = res["updateComplaint"]["complaint"]
    assert res["updateComplaint"]["userErrors"] == []
    assert out["status"] == "IN_PROGRESS"
    wo = out["workOrder"]
    assert wo["status"] in ("OPEN", "ASSIGNED") and "THROWN" not in wo["title"]
    assert "thrown from height" in wo["title"] and "王芳" not in wo["title"]
    async with api.db.reader() as s:
        row = await s.get(WorkOrder, decode_gid(wo["id"])[1])
        assert row is not None and row.building_id == api.demo.buildings["1"]
        assert row.community_id == api.demo.garden_id
    again = await api.gql(
        UPDATE, {"input": {"complaintId": cid, "createWorkOrder": True}}, as_="staff1"
    )
    assert again["updateComplaint"]["userErrors"][0]["code"] == "CONFLICT"
    # The reporter sees the progress but not the work order (staff only).
    mine = await api.gql(
        "{ myComplaints { edges { node { id status workOrder { id } } } } }", as_="resident1"
    )
    assert mine["myComplaints"]["edges"][0]["node"]["workOrder"] is None
    wos = await api.gql(
        "query($c: ID!) { workOrders(communityId: $c) { edges { node { id } } } }",
        {"c": api.garden},
        as_="staff2",
    )
    assert wo["id"] in {e["node"]["id"] for e in wos["workOrders"]["edges"]}

    res = await api.gql(
        UPDATE,
        {"input": {"complaintId": cid, "forwardToCity": {"reference": "12319-2026-112300042"}}},
        as_="staff1",
    )
    out = res["updateComplaint"]["complaint"]
    assert out["status"] == "IN_PROGRESS"
    assert out["cityForward"] == {"channel": "12319", "reference": "12319-2026-112300042"}
    # RESOLVED from IN_PROGRESS; a resident cannot move it.
    res = await api.gql(
        UPDATE, {"input": {"complaintId": cid, "status": "RESOLVED"}}, as_="resident1"
    )
    assert res["updateComplaint"]["userErrors"][0]["code"] == "NOT_FOUND"
    res = await api.gql(
        UPDATE,
        {"input": {"complaintId": cid, "status": "RESOLVED", "reason": "已找到责任人并赔偿。"}},
        as_="staff1",
    )
    out = res["updateComplaint"]["complaint"]
    assert out["status"] == "RESOLVED" and out["reason"] == "已找到责任人并赔偿。"
    assert [h["action"] for h in out["history"]] == [
        "FILED",
        "ACCEPTED",
        "WORK_ORDER",
        "FORWARDED",
        "RESOLVED",
    ]
    # A resolved complaint is final.
    res = await api.gql(
        UPDATE, {"input": {"complaintId": cid, "status": "REJECTED", "reason": "x"}}, as_="staff1"
    )
    assert res["updateComplaint"]["userErrors"][0]["code"] == "CONFLICT"

    # The reporter was told of each status change.
    async with api.db.reader() as s:
        statuses = list(
            await s.scalars(
                select(Notification.params).where(
                    Notification.user_id == api.demo.users["resident1@demo.linli"],
                    Notification.category == "COMPLAINT",
                )
            )
        )
    assert [p["status_en"] for p in statuses] == ["accepted", "in progress", "resolved"]

    other = await api.gql(RATE, {"input": {"complaintId": cid, "rating": 1}}, as_="resident2")
    assert other["rateComplaint"]["userErrors"][0]["code"] == "NOT_FOUND"
    bad = await api.gql(RATE, {"input": {"complaintId": cid, "rating": 6}}, as_="resident1")
    assert bad["rateComplaint"]["userErrors"][0]["field"] == ["input", "rating"]
    rated = await api.gql(
        RATE, {"input": {"complaintId": cid, "rating": 5, "comment": "处理很快"}}, as_="resident1"
    )
    assert rated["rateComplaint"]["complaint"]["rating"] == 5
    again = await api.gql(RATE, {"input": {"complaintId": cid, "rating": 1}}, as_="resident1")
    assert again["rateComplaint"]["userErrors"][0]["code"] == "CONFLICT"
    mine = await api.gql("{ myComplaints { edges { node { rating status } } } }", as_="resident1")
    assert mine["myComplaints"]["edges"][0]["node"] == {"rating": 5, "status": "RESOLVED"}


async def test_bad_complaints_are_refused_and_nothing_is_stored(api, clock):
    files_before = stored_files(api)
    rows_before = (await count(api, Complaint), await count(api, ComplaintPhoto))
    limit = api.server.state.settings.upload_max_bytes

    # A file that claims to be a JPEG but is not an image.
    resp = await upload(
        api,
        base_input(api),
        [
            ("ok.jpg", JPEG, "image/jpeg"),
            ("evil.jpg", b"<?php system($_GET['c']); ?>", "image/jpeg"),
        ],
        as_="resident1",
    )
    err = resp.json()["data"]["fileComplaint"]["userErrors"][0]
    assert (err["code"], err["field"]) == ("INVALID", ["input", "photos", "1"])
    assert "Photo 2 is not a JPEG, PNG, WebP or HEIC image." == err["message"]

    # An oversized photo (one byte over the limit).
    big = JPEG[:4] + b"\x00" * (limit - 3)
    resp = await upload(
        api, base_input(api), [("big.jpg", big, "image/jpeg")], as_="resident1", lang="zh-CN"
    )
    err = resp.json()["data"]["fileComplaint"]["userErrors"][0]
    assert (err["code"], err["field"]) == ("INVALID", ["input", "photos", "0"])
    assert "超过" in err["message"]

    # Too many files: refused before anything runs.
    resp = await upload(api, base_input(api), [("p.png", PNG, "image/png")] * 7, as_="resident1")
    assert resp.status_code == 400

    # A complaint about another community, by either side.
    resp = await upload(api, base_input(api), [("p.png", PNG, "image/png")], as_="residentb")
    assert resp.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    heights_building = await api.gql(
        "{ me { memberships { community { buildings { id } } } } }", as_="residentb"
    )
    hb = heights_building["me"]["memberships"][0]["community"]["buildings"][0]["id"]
    resp = await upload(
        api, base_input(api, buildingId=hb), [("p.png", PNG, "image/png")], as_="resident1"
    )
    err = resp.json()["data"]["fileComplaint"]["userErrors"][0]
    assert (err["code"], err["field"]) == ("INVALID", ["input", "buildingId"])
    resp = await upload(
        api,
        base_input(api, communityId=api.heights),
        [("p.png", PNG, "image/png")],
        as_="resident1",
    )
    assert resp.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # Not a file at all (a string where an upload belongs), and a malformed map.
    data = await api.gql(
        FILE, {"input": {**base_input(api)["input"], "photos": ["x"]}}, as_="resident1"
    )
    assert data["fileComplaint"]["userErrors"][0]["field"] == ["input", "photos", "0"]
    resp = await api.http.post(
        "/graphql",
        data={
            "operations": json.dumps({"query": FILE, "variables": base_input(api)}),
            "map": json.dumps({"0": ["variables.input.nowhere.0"]}),
        },
        files=[("0", ("p.png", PNG, "image/png"))],
        headers={"authorization": f"Bearer {api.token('resident1')}"},
    )
    assert resp.status_code == 400

    # Staff: rejecting needs a reason; another community's staff cannot touch it.
    ok = await api.gql(FILE, base_input(api, category="NOISE"), as_="tenant1")
    cid = ok["fileComplaint"]["complaint"]["id"]
    res = await api.gql(UPDATE, {"input": {"complaintId": cid, "status": "REJECTED"}}, as_="staff1")
    assert res["updateComplaint"]["userErrors"][0]["field"] == ["input", "reason"]
    res = await api.gql(UPDATE, {"input": {"complaintId": cid, "status": "RESOLVED"}}, as_="staff1")
    assert res["updateComplaint"]["userErrors"][0]["code"] == "CONFLICT"  # not accepted yet

    assert stored_files(api) == files_before
    assert (await count(api, Complaint), await count(api, ComplaintPhoto)) == (
        rows_before[0] + 1,
        rows_before[1],
    )


async def test_photos_of_a_failed_transaction_are_removed_and_ratings_land_once(api, clock):
    """The files are written before the commit; a rollback deletes them again. And of
    concurrent ratings exactly one lands."""
    import asyncio

    import pytest

    from core.principal import Principal
    from core.storage import Upload
    from domain.complaints.service import UploadPolicy, file_complaint

    storage = api.server.state.services.get("storage")
    before = stored_files(api)
    uid = api.demo.users["resident1@demo.linli"]
    principal = Principal.build(uid, [(api.demo.garden_id, "RESIDENT")], "en")
    with pytest.raises(RuntimeError):
        async with api.db.transaction() as s:
            await file_complaint(
                s,
                principal,
                community_id=api.demo.garden_id,
                category="NOISE",
                body="loud",
                building_id=None,
                location_text=None,
                photos=[Upload(JPEG), Upload(PNG)],
                storage=storage,
                policy=UploadPolicy(),
            )
            assert len(stored_files(api)) == len(before) + 2
            raise RuntimeError("the commit never happens")
    assert stored_files(api) == before

    filed = await api.gql(FILE, base_input(api, category="OTHER"), as_="resident1")
    cid = filed["fileComplaint"]["complaint"]["id"]
    for status in ("ACCEPTED", "RESOLVED"):
        await api.gql(UPDATE, {"input": {"complaintId": cid, "status": status}}, as_="staff1")
    results = await asyncio.gather(
        *(
            api.gql(RATE, {"input": {"complaintId": cid, "rating": n}}, as_="resident1")
            for n in (1, 2, 3, 4, 5)
        )
    )
    landed = [r for r in results if not r["rateComplaint"]["userErrors"]]
    assert len(landed) == 1
    async with api.db.reader() as s:
        rating = await s.scalar(select(Complaint.rating).where(Complaint.id == decode_gid(cid)[1]))
    assert rating == landed[0]["rateComplaint"]["complaint"]["rating"]
