"""Authorization cases: booking. Aimed at Demo Garden's catalogue and bookings."""

from tests.authz import case


def _offering(api, key="housekeeping"):
    return api.gid("ServiceOffering", api.demo.extra["offerings"][key])


def _booking(api, key):
    return api.gid("Booking", api.demo.extra["bookings"][key])


case(
    "Query.serviceOfferings",
    "query($c: ID!) { serviceOfferings(communityId: $c) { totalCount "
    "edges { node { id title merchant { id name } nextAvailableSlot { start remaining } } } } }",
    lambda api: {"c": api.garden},
    merchant_ok=True,
)
case(
    "Query.availableSlots",
    'query($o: ID!) { availableSlots(offeringId: $o, from: "2026-11-24T00:00:00+08:00", '
    'to: "2026-11-30T00:00:00+08:00") { start end remaining } }',
    lambda api: {"o": _offering(api)},
    merchant_ok=True,
)
case(
    "Query.myBookings",
    "{ myBookings { totalCount edges { node { id unit { id } bookedBy { id } } } } }",
)
# The merchant caller sees its own bookings (and their bookers): that is the field.
case(
    "Query.merchantBookings",
    "{ merchantBookings { totalCount edges { node { id unit { id } bookedBy { id } } } } }",
    own=True,
)
case(
    "Mutation.bookService",
    "mutation($o: ID!, $u: ID!) { bookService(input: {offeringId: $o, unitId: $u, "
    'idempotencyKey: "authz-1"}) { booking { id } userErrors { code } } }',
    lambda api: {"o": _offering(api), "u": api.unit_gid("1-101")},
)
case(
    "Mutation.cancelBooking",
    "mutation($b: ID!) { cancelBooking(input: {bookingId: $b}) "
    "{ booking { id status } userErrors { code } } }",
    lambda api: {"b": _booking(api, "resident1_housekeeping")},
)
# Aimed at merchant2's booking: merchant1 must not move it.
case(
    "Mutation.transitionBooking",
    "mutation($b: ID!) { transitionBooking(input: {bookingId: $b, to: CONFIRMED}) "
    "{ booking { id status } userErrors { code } } }",
    lambda api: {"b": _booking(api, "resident2_repair")},
)
# merchant1 may publish in Demo Garden, so its call carries an invalid capacity: the
# sweep then checks that nothing is written for anyone.
case(
    "Mutation.createServiceOffering",
    'mutation($c: ID!) { createServiceOffering(input: {communityId: $c, title: "x", '
    "category: REPAIR, priceMinor: 100, durationMinutes: 60, capacityPerSlot: 0, "
    'weeklyHours: [{day: 1, open: "09:00", close: "17:00"}]}) '
    "{ offering { id } userErrors { code } } }",
    lambda api: {"c": api.garden},
)
case(
    "Mutation.updateServiceOffering",
    "mutation($o: ID!) { updateServiceOffering(input: {offeringId: $o, priceMinor: 1}) "
    "{ offering { id } userErrors { code } } }",
    lambda api: {"o": _offering(api, "repair")},
)
