"""Authorization cases: parcel lockers."""

from tests.authz import case


def _waiting(api):
    return api.gid("Parcel", api.demo.extra["parcels"]["waiting"])


case(
    "Query.myParcels",
    "{ myParcels { totalCount edges { node { id pickupCode unit { id } } } } }",
    own=True,
)
case(
    "Query.parcels",
    "query($c: ID!) { parcels(communityId: $c) { totalCount "
    "edges { node { id pickupCode trackingNumber unit { id } } } } }",
    lambda api: {"c": api.garden},
)
case(
    "Mutation.pickUpParcel",
    'mutation($id: ID!) { pickUpParcel(input: {parcelId: $id, code: "000000"}) '
    "{ parcel { id status } userErrors { code } } }",
    lambda api: {"id": _waiting(api)},
)
case(
    "Mutation.handOverParcel",
    'mutation($id: ID!) { handOverParcel(input: {parcelId: $id, code: "000000"}) '
    "{ parcel { id status } userErrors { code } } }",
    lambda api: {"id": _waiting(api)},
)
