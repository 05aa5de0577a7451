"""Authorization cases: notifications (the caller's own inbox, tokens and settings).
The mutations that write the caller's own rows get input they refuse, so the sweep's
"nothing changed" check still holds; their effects are tested in test_notifications."""

from tests.authz import case

case(
    "Query.notifications",
    "{ notifications { totalCount unreadCount edges { node { id title } } } }",
    own=True,
)
case(
    "Query.notificationSettings",
    "{ notificationSettings { preferences { category } quietHours { start } } }",
    own=True,
)
case(
    "Mutation.registerPushToken",
    'mutation { registerPushToken(input: {token: "short", platform: ANDROID})'
    " { ok userErrors { code } } }",
    own=True,
)
case(
    "Mutation.markNotificationsRead",
    "mutation($ids: [ID!]!) { markNotificationsRead(input: {ids: $ids}) { ok } }",
    lambda api: {"ids": [api.gid("Notification", 1)]},
    own=True,
)
case(
    "Mutation.setNotificationPreference",
    'mutation { setNotificationPreference(input: {category: "no such", pushEnabled: false})'
    " { settings { preferences { category } } userErrors { code } } }",
    own=True,
)
case(
    "Mutation.setQuietHours",
    'mutation { setQuietHours(input: {start: "25:00", end: "07:00"})'
    " { settings { quietHours { start } } userErrors { code } } }",
    own=True,
)
