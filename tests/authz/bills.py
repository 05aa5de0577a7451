"""Authorization cases: bills and payments."""

from tests.authz import case


def _bill(api):  # type: ignore[no-untyped-def]
    return api.gid("Bill", api.demo.extra["bills"]["1-101:ELECTRICITY:2026-11"])


case(
    "Query.myBills",
    "{ myBills { totalCount edges { node { id amount { amountMinor } lineItems "
    "{ description } unit { id } } } } }",
    own=True,
)
case(
    "Query.communityBills",
    "query($c: ID!) { communityBills(communityId: $c) { totalCount edges { node { id } } } }",
    lambda api: {"c": api.garden},
)
case(
    "Query.tariffs",
    "query($c: ID!) { tariffs(communityId: $c) { kind bands { upTo unitPrice } } }",
    lambda api: {"c": api.garden},
    # Tariffs are public to the community's members (merchants included).
    merchant_ok=True,
)
case(
    "Query.paymentReconciliations",
    "query($c: ID!) { paymentReconciliations(communityId: $c) { totalCount "
    "edges { node { paymentId action } } } }",
    lambda api: {"c": api.garden},
)
case(
    "Mutation.payBills",
    'mutation($b: ID!) { payBills(input: {billIds: [$b], idempotencyKey: "authz-sweep-1"}) '
    "{ payment { id clientSecret } userErrors { code } } }",
    lambda api: {"b": _bill(api)},
)
case(
    "Mutation.issueBills",
    "mutation($c: ID!, $u: ID!) { issueBills(input: {communityId: $c, kind: PARKING_MONTHLY, "
    'period: "2027-01", dueDate: "2027-01-31", lines: [{unitId: $u, amountMinor: 100}]}) '
    "{ issued userErrors { code } } }",
    lambda api: {"c": api.garden, "u": api.unit_gid("1-101")},
)
case(
    "Mutation.setTariff",
    "mutation($c: ID!) { setTariff(input: {communityId: $c, kind: WATER, "
    'bands: [{unitPrice: "0.01"}]}) { tariff { kind } userErrors { code } } }',
    lambda api: {"c": api.garden},
)
case(
    "Mutation.recordOfflinePayment",
    'mutation($b: ID!) { recordOfflinePayment(input: {billIds: [$b], receiptNumber: "R-1", '
    'idempotencyKey: "authz-sweep-2"}) { payment { id } userErrors { code } } }',
    lambda api: {"b": _bill(api)},
)
case(
    "Mutation.refundPayment",
    "mutation($p: ID!) { refundPayment(input: {paymentId: $p, "
    'idempotencyKey: "authz-sweep-3"}) { payment { id } userErrors { code } } }',
    lambda api: {"p": api.gid("Payment", 1)},
)
case(
    "Mutation.voidBill",
    "mutation($b: ID!) { voidBill(input: {billId: $b}) { bill { id status } "
    "userErrors { code } } }",
    lambda api: {"b": _bill(api)},
)
