"""The authorization sweep: every Query and Mutation field of the served schema is
called as anonymous, as a user of another community (residentb of Demo Heights) and as
a merchant, aimed at community A's (Demo Garden's) data. Nothing of A may come back and
nothing may change. A new field without a case (in `tests/authz/<cap>.py`) fails the sweep.

A case names a document, the variables (pointing at A's rows) and how its answer may
look:
- `own`: the field answers about the caller (`me`), so a signed-in caller's own data
  is fine (the merchant's own membership names community A).
- `merchant_ok`: merchants of A legitimately read it (e.g. the service catalogue), so
  the merchant caller is not checked for emptiness (still checked for no change).
"""

from __future__ import annotations

import hashlib
from typing import Any

from graphql import GraphQLObjectType
from sqlalchemy import text

import resolvers
from api.app import _load_capabilities
from domain.registry import metadata
from tests.authz import load_all
from tests.support import GraphQLClient

CASES = load_all()


# ---------------------------------------------------------------- the sweep
def _root_fields() -> list[str]:
    _load_capabilities()
    schema = resolvers.build()._schema
    out = []
    for root in (schema.query_type, schema.mutation_type):
        if isinstance(root, GraphQLObjectType):
            out += [f"{root.name}.{name}" for name in root.fields]
    return sorted(out)


def test_every_field_has_a_case():
    missing = [f for f in _root_fields() if f not in CASES]
    assert not missing, f"add authorization cases for: {missing}"
    stale = [f for f in CASES if f not in _root_fields()]
    assert not stale, f"cases for fields that no longer exist: {stale}"


async def _fingerprint(api: GraphQLClient) -> str:
    """A digest of every row of every table (the demo database is small)."""
    digest = hashlib.sha256()
    async with api.db.reader() as s:
        for table in sorted(metadata.tables):
            if table in ("login_throttles",):
                continue  # failed sign-ins are counted on purpose
            rows = (await s.execute(text(f'SELECT * FROM "{table}" ORDER BY 1'))).all()
            digest.update(table.encode())
            digest.update(repr(rows).encode())
    return digest.hexdigest()


_ALLOWED_ERROR_CODES = {"UNAUTHENTICATED", "FORBIDDEN", "INVALID", "NOT_FOUND"}


def _leaks(value: Any, path: str = "") -> list[str]:
    """Non-empty leaves outside userErrors: anything that carries data."""
    if value is None or value is False or value == [] or value == 0 or value == "":
        return []
    if isinstance(value, dict):
        out: list[str] = []
        for k, v in value.items():
            if k == "userErrors":
                continue
            out += _leaks(v, f"{path}.{k}")
        return out
    if isinstance(value, list):
        return [leak for i, v in enumerate(value) for leak in _leaks(v, f"{path}[{i}]")]
    return [f"{path}={value!r}"]


def _a_ids(api: GraphQLClient, *, member: bool) -> set[str]:
    """Ids of A's private rows. For a caller who is a member of A (the merchant), A's
    structure (community, buildings, units) is not private; its people are."""
    demo = api.demo
    heights_users = {demo.users["residentb@demo.linli"], demo.users["manager@demo.linli"]}
    ids = {api.gid("User", pk) for pk in demo.users.values() if pk not in heights_users}
    if not member:
        ids |= {api.garden}
        ids |= {api.gid("Unit", pk) for pk in demo.units.values()}
        ids |= {api.gid("Building", pk) for pk in demo.buildings.values()}
    return ids


def _ids_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {i for v in value.values() for i in _ids_in(v)} | (
            {value["id"]} if isinstance(value.get("id"), str) else set()
        )
    if isinstance(value, list):
        return {i for v in value for i in _ids_in(v)}
    return set()


async def test_sweep(api: GraphQLClient):
    callers: list[tuple[str, str | None]] = [
        ("anonymous", None),
        ("other community", api.token("residentb")),
        ("merchant", api.token("merchant1")),
    ]
    before = await _fingerprint(api)
    problems: list[str] = []
    for field, c in sorted(CASES.items()):
        variables = c.variables(api)
        for who, token in callers:
            resp = await api.post(c.document, variables, token=token)
            if resp.status_code >= 500:
                problems.append(f"{field} as {who}: HTTP {resp.status_code}")
                continue
            body = resp.json()
            for err in body.get("errors") or []:
                code = (err.get("extensions") or {}).get("code")
                if code not in _ALLOWED_ERROR_CODES:
                    problems.append(f"{field} as {who}: unexpected error {err}")
            data = body.get("data")
            if c.own and token is not None:
                continue  # the caller's own data (its id checks are the field's own tests)
            a_ids = _a_ids(api, member=who == "merchant")
            leaked_ids = _ids_in(data) & a_ids
            if leaked_ids:
                problems.append(f"{field} as {who}: returned A's ids {sorted(leaked_ids)[:3]}")
            if not (c.merchant_ok and who == "merchant"):
                leaks = _leaks(data)
                if leaks:
                    problems.append(f"{field} as {who}: returned {leaks[:3]}")
    after = await _fingerprint(api)
    assert not problems, "\n".join(problems)
    assert before == after, "a refused call changed the database"
