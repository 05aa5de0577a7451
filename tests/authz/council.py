"""Authorization cases: the owners' council."""

from tests.authz import case


def _proposal(api):
    return api.gid("Proposal", api.demo.extra["council"]["open"])


case(
    "Query.proposals",
    "query($c: ID!) { proposals(communityId: $c) { totalCount edges { node { id title "
    "myBallots { choice } tally { participatingOwners } ballots { choice } "
    "comments { totalCount edges { node { body } } } } } } }",
    lambda api: {"c": api.garden},
)
case(
    "Mutation.createProposal",
    'mutation($c: ID!) { createProposal(input: {communityId: $c, title: "t", body: "b", '
    'matter: OTHER_MAJOR, opensAt: "2026-11-23T02:00:00Z", closesAt: "2030-01-01T00:00:00Z"}) '
    "{ proposal { id } userErrors { code } } }",
    lambda api: {"c": api.garden},
)
case(
    "Mutation.castBallot",
    "mutation($p: ID!, $u: ID!) { castBallot(input: {proposalId: $p, unitId: $u, "
    'choice: FOR, idempotencyKey: "authz"}) { ballot { choice } userErrors { code } } }',
    lambda api: {"p": _proposal(api), "u": api.unit_gid("1-101")},
)
case(
    "Mutation.postComment",
    'mutation($p: ID!) { postComment(input: {proposalId: $p, body: "hi"}) '
    "{ comment { id } userErrors { code } } }",
    lambda api: {"p": _proposal(api)},
)
case(
    "Mutation.hideComment",
    'mutation($c: ID!) { hideComment(input: {commentId: $c, reason: "r"}) '
    "{ comment { id } userErrors { code } } }",
    lambda api: {"c": api.gid("Comment", api.demo.extra["council"]["comment"])},
)
