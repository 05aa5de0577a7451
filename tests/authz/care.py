"""Authorization cases: elder care (aimed at Demo Garden's elder1)."""

from tests.authz import case


def _elder(api):
    return api.gid("Elder", api.demo.elders["elder1@demo.linli"])


def _link(api):
    return api.gid("CaregiverLink", api.demo.extra["caregiver_links"]["carer1"])


case(
    "Query.myElders",
    "{ myElders { id displayName status plan { graceMinutes } } }",
)
case("Query.myElderProfile", "{ myElderProfile { id displayName } }")
case(
    "Query.elders",
    "query($c: ID!) { elders(communityId: $c) { totalCount edges { node { id } } } }",
    lambda api: {"c": api.garden},
)
case(
    "Query.overdueVisits",
    "query($c: ID!) { overdueVisits(communityId: $c) { id } }",
    lambda api: {"c": api.garden},
)
case(
    "Mutation.checkIn",
    "mutation($e: ID!) { checkIn(input: {kind: NEED_HELP, elderId: $e}) "
    "{ checkIn { id } userErrors { code } } }",
    lambda api: {"e": _elder(api)},
)
case(
    "Mutation.setCheckInPlan",
    "mutation($e: ID!) { setCheckInPlan(input: {elderId: $e, windows: "
    '[{start: "08:00", end: "10:00"}], graceMinutes: 30, escalationUserIds: []}) '
    "{ plan { graceMinutes } userErrors { code } } }",
    lambda api: {"e": _elder(api)},
)
case(
    "Mutation.pauseCheckInPlan",
    "mutation($e: ID!) { pauseCheckInPlan(input: {elderId: $e}) "
    "{ plan { graceMinutes } userErrors { code } } }",
    lambda api: {"e": _elder(api)},
)
case(
    "Mutation.registerElder",
    "mutation($u: ID!, $unit: ID!) { registerElder(input: {userId: $u, unitId: $unit}) "
    "{ elder { id } userErrors { code } } }",
    lambda api: {
        "u": api.gid("User", api.demo.users["resident1@demo.linli"]),
        "unit": api.unit_gid("1-101"),
    },
)
case(
    "Mutation.inviteCaregiver",
    "mutation($e: ID!, $u: ID!) { inviteCaregiver(input: {elderId: $e, caregiverUserId: $u}) "
    "{ link { id } userErrors { code } } }",
    lambda api: {"e": _elder(api), "u": api.gid("User", api.demo.users["residentb@demo.linli"])},
)
case(
    "Mutation.acceptCaregiver",
    "mutation($l: ID!) { acceptCaregiver(input: {linkId: $l}) "
    "{ link { id } userErrors { code } } }",
    lambda api: {"l": _link(api)},
)
case(
    "Mutation.removeCaregiver",
    "mutation($l: ID!) { removeCaregiver(input: {linkId: $l}) "
    "{ link { id } userErrors { code } } }",
    lambda api: {"l": _link(api)},
)
case(
    "Mutation.setVisitCadence",
    "mutation($e: ID!) { setVisitCadence(input: {elderId: $e, cadence: WEEKLY}) "
    "{ elder { id } userErrors { code } } }",
    lambda api: {"e": _elder(api)},
)
case(
    "Mutation.logVisit",
    'mutation($e: ID!) { logVisit(input: {elderId: $e, wellbeing: WELL, notes: "x"}) '
    "{ visit { id } userErrors { code } } }",
    lambda api: {"e": _elder(api)},
)
