"""Authorization cases: the fund ledgers."""

from tests.authz import case

case(
    "Query.ledger",
    "query($c: ID!) { ledger(communityId: $c, account: MAINTENANCE_FUND) { totalCount "
    "edges { node { id amount { amountMinor } description hash unit { id } } } } }",
    lambda api: {"c": api.garden},
)
case(
    "Query.ledgerSummary",
    "query($c: ID!) { ledgerSummary(communityId: $c, account: MAINTENANCE_FUND) "
    "{ balance { amountMinor } myShare { amountMinor } } }",
    lambda api: {"c": api.garden},
)
case(
    "Query.verifyLedger",
    "query($c: ID!) { verifyLedger(communityId: $c, account: COMMON_INCOME) "
    "{ valid entries headHash } }",
    lambda api: {"c": api.garden},
)
case(
    "Mutation.postLedgerEntry",
    "mutation($c: ID!) { postLedgerEntry(input: {communityId: $c, account: COMMON_INCOME, "
    'amountMinor: 100, category: "X", description: "x", idempotencyKey: "authz"}) '
    "{ entry { id } userErrors { code } } }",
    lambda api: {"c": api.garden},
)
