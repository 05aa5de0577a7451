"""Authorization cases: announcements."""

from tests.authz import case

case(
    "Query.announcements",
    "query($c: ID!) { announcements(communityId: $c) { totalCount "
    "edges { node { id title body readAt readCount } } } }",
    lambda api: {"c": api.garden},
)
case(
    "Query.announcementReads",
    "query($a: ID!) { announcementReads(announcementId: $a) { totalCount "
    "edges { node { readAt user { id } } } } }",
    lambda api: {"a": api.gid("Announcement", api.demo.extra["announcements"]["water"])},
)
case(
    "Mutation.publishAnnouncement",
    "mutation($c: ID!) { publishAnnouncement(input: {communityId: $c, kind: EMERGENCY, "
    'titleZh: "x", bodyZh: "y"}) { announcement { id } userErrors { code } } }',
    lambda api: {"c": api.garden},
)
case(
    "Mutation.markAnnouncementRead",
    "mutation($a: ID!) { markAnnouncementRead(input: {announcementId: $a}) "
    "{ announcement { id } userErrors { code } } }",
    lambda api: {"a": api.gid("Announcement", api.demo.extra["announcements"]["water"])},
)
