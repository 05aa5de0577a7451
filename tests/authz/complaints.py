"""Authorization cases: complaints and reports."""

from tests.authz import case


def _noise(api):
    return api.gid("Complaint", api.demo.extra["complaints"]["noise"])


case(
    "Query.myComplaints",
    "{ myComplaints { totalCount edges { node { id body reporter { id } } } } }",
    own=True,
)
case(
    "Query.complaints",
    "query($c: ID!) { complaints(communityId: $c) { totalCount "
    "edges { node { id body reporter { id } photos { url } } } } }",
    lambda api: {"c": api.garden},
)
case(
    "Mutation.fileComplaint",
    "mutation($c: ID!) { fileComplaint(input: {communityId: $c, category: NOISE, "
    'body: "x"}) { complaint { id } userErrors { code } } }',
    lambda api: {"c": api.garden},
)
case(
    "Mutation.updateComplaint",
    "mutation($id: ID!) { updateComplaint(input: {complaintId: $id, status: REJECTED, "
    'reason: "no"}) { complaint { id status } userErrors { code } } }',
    lambda api: {"id": _noise(api)},
)
case(
    "Mutation.rateComplaint",
    "mutation($id: ID!) { rateComplaint(input: {complaintId: $id, rating: 1}) "
    "{ complaint { id } userErrors { code } } }",
    lambda api: {"id": _noise(api)},
)
