"""Authorization cases: parking."""

from domain.parking import qr
from tests.authz import case

case(
    "Query.parkingQuote",
    "query($qr: String) { parkingQuote(qr: $qr) { amountDue { amountMinor } "
    "session { id plate } } }",
    lambda api: {"qr": qr.lane_token(api.demo.extra["parking"]["exit_lane"], 1)},
)
