"""Sign-in, refresh rotation, invitations, personal data, export and closing."""

from __future__ import annotations

import asyncio

import jwt
from sqlalchemy import select, text

from api.seed import DEMO_PASSWORD
from domain.accounts.models import Membership, Ownership, RefreshToken, User

SIGN_IN = """mutation($login: String!, $password: String!) {
  signIn(input: {login: $login, password: $password}) {
    accessToken refreshToken userErrors { code field message }
    viewer { user { displayName phoneMasked } memberships { community { name } roles
             units { label areaM2 building { name } } } }
  }
}"""
REFRESH = """mutation($t: String!) { refreshSession(input: {refreshToken: $t}) {
  accessToken refreshToken userErrors { code message } } }"""
ME = (
    "{ me { user { id displayName phoneMasked } "
    "memberships { community { name } units { label } } } }"
)


async def sign_in(api, login, password=DEMO_PASSWORD, **kw):
    data = await api.gql(SIGN_IN, {"login": login, "password": password}, **kw)
    return data["signIn"]


async def test_sign_in_and_me(api):
    result = await sign_in(api, "resident2@demo.linli")
    assert result["userErrors"] == []
    assert result["viewer"]["user"]["phoneMasked"].startswith("138****")
    [membership] = result["viewer"]["memberships"]
    assert membership["community"]["name"] == "Demo Garden"
    assert membership["roles"] == ["RESIDENT"]
    assert sorted(u["label"] for u in membership["units"]) == ["1-102", "2-201"]
    me = await api.gql(ME, token=result["accessToken"])
    assert me["me"]["user"]["displayName"] == "李强 Li Qiang"
    # Logins are case-insensitive e-mails, and phones work as logins too.
    assert (await sign_in(api, "Resident2@Demo.Linli"))["accessToken"]
    assert (await sign_in(api, "+86 138 0013 0001"))["accessToken"]


async def test_wrong_password_is_a_localised_user_error(api):
    zh = await sign_in(api, "resident1@demo.linli", "nope-nope-nope")
    assert zh["accessToken"] is None
    assert zh["userErrors"][0]["code"] == "INVALID"
    assert zh["userErrors"][0]["message"] == "账号或密码错误。"
    en = await sign_in(api, "resident1@demo.linli", "nope-nope-nope", lang="en")
    assert en["userErrors"][0]["message"] == "The login or password is wrong."
    unknown = await sign_in(api, "nobody@demo.linli", "whatever-whatever", lang="en")
    assert unknown["userErrors"][0]["message"] == "The login or password is wrong."


async def test_repeated_failures_lock_the_login(api):
    for _ in range(4):
        r = await sign_in(api, "resident1@demo.linli", "bad-password-1")
        assert r["userErrors"][0]["code"] == "INVALID"
    fifth = await sign_in(api, "resident1@demo.linli", "bad-password-1")
    assert fifth["userErrors"][0]["code"] == "RATE_LIMITED"
    # Locked now: even the right password is refused, and other logins are unaffected.
    locked = await sign_in(api, "resident1@demo.linli", lang="en")
    assert locked["userErrors"][0]["code"] == "RATE_LIMITED"
    assert "Too many attempts" in locked["userErrors"][0]["message"]
    assert (await sign_in(api, "resident2@demo.linli"))["accessToken"]


async def test_lock_expires(api, clock):
    for _ in range(5):
        await sign_in(api, "resident1@demo.linli", "bad-password-1")
    assert (await sign_in(api, "resident1@demo.linli"))["userErrors"][0]["code"] == "RATE_LIMITED"
    clock.advance(minutes=16)
    assert (await sign_in(api, "resident1@demo.linli"))["accessToken"]


async def test_refresh_rotates_and_reuse_revokes_the_family(api):
    first = await sign_in(api, "resident1@demo.linli")
    second = (await api.gql(REFRESH, {"t": first["refreshToken"]}))["refreshSession"]
    assert second["accessToken"] and second["refreshToken"] != first["refreshToken"]
    # The old token comes back (stolen): refused, and the whole family is revoked.
    reused = (await api.gql(REFRESH, {"t": first["refreshToken"]}))["refreshSession"]
    assert reused["accessToken"] is None and reused["userErrors"][0]["code"] == "INVALID"
    after = (await api.gql(REFRESH, {"t": second["refreshToken"]}))["refreshSession"]
    assert after["accessToken"] is None
    async with api.db.reader() as s:
        rows = (await s.scalars(select(RefreshToken))).all()
        assert rows and all(r.revoked_at is not None for r in rows)
        # Only digests are stored.
        assert all(r.token_hash != first["refreshToken"] for r in rows)


async def test_concurrent_refresh_with_one_token_rotates_once(api):
    first = await sign_in(api, "resident1@demo.linli")
    results = await asyncio.gather(
        *[api.gql(REFRESH, {"t": first["refreshToken"]}) for _ in range(8)]
    )
    winners = [r for r in results if r["refreshSession"]["accessToken"]]
    assert len(winners) <= 1
    async with api.db.reader() as s:
        issued = (await s.scalars(select(RefreshToken))).all()
        assert len(issued) == 1 + len(winners)


async def test_bad_tokens_are_refused_with_401(api, clock):
    valid = api.token("resident1")
    forged = jwt.encode(
        {"sub": "1", "iat": 0, "exp": 4102444800, "iss": "linli", "typ": "access"},
        "some-other-key-some-other-key-xx",
        algorithm="HS256",
    )
    for token in ("garbage", forged, valid + "x"):
        resp = await api.post(ME, token=token)
        assert resp.status_code == 401
        assert resp.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    resp = await api.post(ME, headers={"authorization": "Basic abc"})
    assert resp.status_code == 401
    clock.advance(minutes=16)
    resp = await api.post(ME, token=valid)
    assert resp.status_code == 401


CREATE_INVITE = """mutation($c: ID!, $role: Role!, $units: [ID!], $rel: UnitRelation) {
  createInvite(input: {communityId: $c, role: $role, unitIds: $units, relation: $rel}) {
    code expiresAt userErrors { code field message } } }"""
REDEEM = """mutation($code: String!, $phone: String!, $pw: String!) {
  redeemInvite(input: {code: $code, displayName: "新业主", phone: $phone, password: $pw}) {
    accessToken userErrors { code field message }
    viewer { memberships { roles units { label } } } } }"""


async def test_invitation_flow(api):
    unit = api.unit_gid("3-101")
    inv = (
        await api.gql(
            CREATE_INVITE,
            {"c": api.garden, "role": "RESIDENT", "units": [unit], "rel": "OWNER"},
            as_="staff1",
        )
    )["createInvite"]
    assert inv["userErrors"] == [] and len(inv["code"]) == 14
    redeemed = (
        await api.gql(
            REDEEM, {"code": inv["code"].lower(), "phone": "13912345678", "pw": "a-long-password"}
        )
    )["redeemInvite"]
    assert redeemed["userErrors"] == []
    [m] = redeemed["viewer"]["memberships"]
    assert m["roles"] == ["RESIDENT"] and [u["label"] for u in m["units"]] == ["3-101"]
    # The new owner signs in with the phone.
    assert (await sign_in(api, "13912345678", "a-long-password"))["accessToken"]
    # A code works once.
    again = (
        await api.gql(
            REDEEM, {"code": inv["code"], "phone": "13912345679", "pw": "a-long-password"}
        )
    )["redeemInvite"]
    assert again["userErrors"][0]["field"] == ["input", "code"]
    async with api.db.reader() as s:
        user = await s.scalar(select(User).where(User.display_name == "新业主"))
        assert user is not None
        assert b"13912345678" not in (user.phone_enc or b"")
        assert await s.scalar(select(Ownership).where(Ownership.user_id == user.id))


async def test_invitation_rules(api, clock):
    # Residents cannot invite; staff cannot invite managers; units of another community
    # are refused; a resident invite names its units.
    errs = await api.errors(CREATE_INVITE, {"c": api.garden, "role": "STAFF"}, as_="resident1")
    assert errs[0]["extensions"]["code"] == "FORBIDDEN"
    r = (await api.gql(CREATE_INVITE, {"c": api.garden, "role": "MANAGER"}, as_="staff1"))[
        "createInvite"
    ]
    assert r["userErrors"][0]["code"] == "FORBIDDEN"
    r = (
        await api.gql(
            CREATE_INVITE,
            {
                "c": api.garden,
                "role": "RESIDENT",
                "units": [api.unit_gid("A-101")],
                "rel": "TENANT",
            },
            as_="staff1",
            lang="en",
        )
    )["createInvite"]
    assert r["userErrors"][0]["message"] == "The units do not belong to this community."
    r = (await api.gql(CREATE_INVITE, {"c": api.garden, "role": "RESIDENT"}, as_="staff1"))[
        "createInvite"
    ]
    assert r["userErrors"][0]["field"] == ["input", "unitIds"]
    # Expired codes are refused.
    inv = (await api.gql(CREATE_INVITE, {"c": api.garden, "role": "CAREGIVER"}, as_="manager"))[
        "createInvite"
    ]
    clock.advance(days=15)
    r = (
        await api.gql(
            REDEEM, {"code": inv["code"], "phone": "13912340000", "pw": "a-long-password"}
        )
    )["redeemInvite"]
    assert r["userErrors"][0]["code"] == "INVALID"


async def test_redeem_input_validation(api):
    inv = (await api.gql(CREATE_INVITE, {"c": api.garden, "role": "CAREGIVER"}, as_="manager"))[
        "createInvite"
    ]
    bad_phone = (
        await api.gql(
            REDEEM, {"code": inv["code"], "phone": "12", "pw": "long-password"}, lang="en"
        )
    )["redeemInvite"]
    assert bad_phone["userErrors"][0]["field"] == ["input", "phone"]
    weak = await api.gql(REDEEM, {"code": inv["code"], "phone": "13912340001", "pw": "short"})
    assert weak["redeemInvite"]["userErrors"][0]["field"] == ["input", "password"]
    # An existing phone joins only with that account's password.
    taken = (
        await api.gql(
            REDEEM, {"code": inv["code"], "phone": "13800130000", "pw": "not-the-password"}
        )
    )["redeemInvite"]
    assert taken["userErrors"][0]["code"] == "CONFLICT"
    joined = (
        await api.gql(REDEEM, {"code": inv["code"], "phone": "13800130000", "pw": DEMO_PASSWORD})
    )["redeemInvite"]
    assert joined["userErrors"] == []
    async with api.db.reader() as s:
        roles = (
            await s.scalars(
                select(Membership.role).where(
                    Membership.user_id == api.demo.users["resident1@demo.linli"]
                )
            )
        ).all()
        assert sorted(roles) == ["CAREGIVER", "RESIDENT"]


async def test_personal_data_is_encrypted_and_masked(api):
    async with api.db.reader() as s:
        raw = (await s.execute(text("SELECT email_enc, phone_enc, email_bidx FROM users"))).all()
    for email_enc, phone_enc, bidx in raw:
        assert b"@demo.linli" not in bytes(email_enc)
        assert b"138001" not in bytes(phone_enc)
        assert "@" not in bidx
    q = "query($id: ID!) { node(id: $id) { ... on User { displayName phoneMasked } } }"
    uid = api.gid("User", api.demo.users["resident2@demo.linli"])
    neighbour = await api.gql(q, {"id": uid}, as_="resident1")
    assert neighbour["node"] == {"displayName": "李强 Li Qiang", "phoneMasked": None}
    staff = await api.gql(q, {"id": uid}, as_="staff1")
    assert staff["node"]["phoneMasked"] == "138****0001"


async def test_export_and_close_account(api):
    token = api.token("tenant1")
    exported = await api.gql("mutation { exportMyData { data userErrors { code } } }", token=token)
    data = exported["exportMyData"]["data"]
    assert data["user"]["email"] == "tenant1@demo.linli"
    assert data["memberships"][0]["units"] == ["2-301"]
    wrong = await api.gql(
        'mutation { closeAccount(input: {password: "wrong-one"}) { ok userErrors { code } } }',
        token=token,
    )
    assert wrong["closeAccount"]["ok"] is False
    closed = await api.gql(
        f'mutation {{ closeAccount(input: {{password: "{DEMO_PASSWORD}"}}) {{ ok }} }}', token=token
    )
    assert closed["closeAccount"]["ok"] is True
    # The token stops working at once and the login is gone.
    assert (await api.post(ME, token=token)).status_code == 401
    r = await sign_in(api, "tenant1@demo.linli")
    assert r["accessToken"] is None
    audit = await api.gql(
        "query($c: ID!) { auditLog(communityId: $c) { edges { node { action } } } }",
        {"c": api.garden},
        as_="manager",
    )
    assert audit is not None
