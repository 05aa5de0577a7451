"""Authorization cases: parking."""

from domain.parking import qr
from tests.authz import case

case(
    "Query.parkingQuote",
    "query($qr: String) { parkingQuote(qr: $qr) { amountDue { amountMinor } "
    "session { id plate } } }",
    lambda api: {"qr": qr.lane_token(api.demo.extra["parking"]["exit_lane"], 1)},
)
case(
    "Query.myChargingSessions",
    "{ myChargingSessions { totalCount edges { node { id plate amount { amountMinor } } } } }",
    own=True,
)
case(
    "Mutation.payParking",
    "mutation($s: ID!) { payParking(input: {sessionId: $s, idempotencyKey: "
    '"authz-sweep-1"}) { payment { id } userErrors { code } } }',
    lambda api: {"s": api.gid("ParkingSession", 1)},
)
case(
    "Mutation.payCharging",
    "mutation($s: ID!) { payCharging(input: {chargingSessionId: $s, idempotencyKey: "
    '"authz-sweep-1"}) { payment { id } userErrors { code } } }',
    lambda api: {"s": api.gid("ChargingSession", 1)},
)
case(
    "Mutation.registerVisitorVehicle",
    "mutation($c: ID!) { registerVisitorVehicle(input: {communityId: $c, plate: "
    '"沪C55555"}) { visitorVehicle { id } userErrors { code } } }',
    lambda api: {"c": api.garden},
)
case(
    "Mutation.registerResidentVehicle",
    "mutation($c: ID!, $o: ID!) { registerResidentVehicle(input: {communityId: $c, "
    'plate: "京A7B2C9", ownerId: $o, passValidFrom: "2026-01-01", '
    'passValidUntil: "2030-12-31"}) { residentVehicle { id } userErrors { code } } }',
    lambda api: {"c": api.garden, "o": api.gid("User", api.demo.users["resident2@demo.linli"])},
)
case(
    "Query.evChargers",
    "query($c: ID!) { evChargers(communityId: $c) { id name status } }",
    lambda api: {"c": api.garden},
)
case(
    "Query.parkingSessions",
    "query($c: ID!) { parkingSessions(communityId: $c, openOnly: false) "
    "{ totalCount edges { node { id plate } } } }",
    lambda api: {"c": api.garden},
)
case(
    "Mutation.updateParkingTariff",
    "mutation($t: ID!) { updateParkingTariff(input: {tariffId: $t, freeMinutes: 0}) "
    "{ tariff { id } userErrors { code } } }",
    lambda api: {"t": api.gid("ParkingTariff", api.demo.extra["parking"]["tariff"])},
)
