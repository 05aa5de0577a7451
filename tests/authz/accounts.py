"""Authorization cases: accounts and tenancy."""

from tests.authz import case

case(
    "Query.node",
    "query($id: ID!) { node(id: $id) { id } }",
    lambda api: {"id": api.gid("User", api.demo.users["resident1@demo.linli"])},
)
case("Query.me", "{ me { user { id } memberships { community { id } units { id } } } }", own=True)
case(
    "Query.auditLog",
    "query($c: ID!) { auditLog(communityId: $c) { totalCount edges { node { action } } } }",
    lambda api: {"c": api.garden},
)
case(
    "Mutation.signIn",
    'mutation { signIn(input: {login: "resident1@demo.linli", '
    'password: "wrong-password"}) { accessToken userErrors { code } } }',
)
case(
    "Mutation.refreshSession",
    'mutation { refreshSession(input: {refreshToken: "x"}) { accessToken userErrors { code } } }',
)
case(
    "Mutation.redeemInvite",
    'mutation { redeemInvite(input: {code: "AAAA-BBBB-CCCC", '
    'displayName: "x", phone: "13900000000", password: "long-enough-pw"}) '
    "{ accessToken userErrors { code } } }",
)
case(
    "Mutation.createInvite",
    "mutation($c: ID!) { createInvite(input: {communityId: $c, "
    "role: STAFF}) { code userErrors { code } } }",
    lambda api: {"c": api.garden},
)
case("Mutation.signOut", 'mutation { signOut(input: {refreshToken: "x"}) { ok } }', own=True)
case("Mutation.exportMyData", "mutation { exportMyData { data } }", own=True)
case(
    "Mutation.closeAccount",
    'mutation { closeAccount(input: {password: "not-it"}) { ok userErrors { code } } }',
)
