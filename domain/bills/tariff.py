"""Pricing: tiered bands (阶梯价格) for metered kinds, price per m² for area kinds.

Pure functions on integers so that the tables in the tests are computed by hand:
each band's amount is rounded half-up to the fen on its own (as printed on the bill),
and the bill's total is the sum of its lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MILLI = 1000  # usage: thousandths of a unit
CENTI = 100  # prices: hundredths of a minor unit
# Sanity bounds (a meter reading, a price per unit): beyond them input is a typo.
MAX_QUANTITY_MILLI = 10_000_000 * MILLI
MAX_PRICE_CENTI_MINOR = 10_000 * 100 * CENTI  # 10,000 yuan per unit
MAX_BANDS = 10


@dataclass(frozen=True)
class Band:
    up_to_milli: int | None  # None: the top band, no upper limit
    unit_price_centi_minor: int


@dataclass(frozen=True)
class PricedLine:
    band: int  # 1-based band number; 0 for an area line
    from_milli: int
    to_milli: int | None
    quantity_milli: int
    unit_price_centi_minor: int
    amount_minor: int


def _round_div(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-up (amounts are never negative)."""
    q, r = divmod(numerator, denominator)
    return q + (1 if 2 * r >= denominator else 0)


def price_tiered(bands: list[Band], usage_milli: int) -> list[PricedLine]:
    """Split the period's usage over the bands: the first `up_to` units at the first
    price, the next ones at the next, and so on. Zero usage gives one zero line."""
    if usage_milli < 0:
        raise ValueError("usage cannot be negative")
    if not bands:
        raise ValueError("a tariff needs at least one band")
    lines: list[PricedLine] = []
    lower = 0
    for n, band in enumerate(bands, start=1):
        upper = band.up_to_milli
        if upper is not None and upper <= lower:
            raise ValueError("band limits must increase")
        in_band = (usage_milli if upper is None else min(usage_milli, upper)) - lower
        if in_band > 0 or (usage_milli == 0 and n == 1):
            amount = _round_div(max(in_band, 0) * band.unit_price_centi_minor, MILLI * CENTI)
            lines.append(
                PricedLine(n, lower, upper, max(in_band, 0), band.unit_price_centi_minor, amount)
            )
        if upper is None or usage_milli <= upper:
            break
        lower = upper
    else:
        raise ValueError("the last band must have no upper limit")
    return lines


def price_by_area(area_centi_m2: int, per_m2_centi_minor: int) -> int:
    return _round_div(area_centi_m2 * per_m2_centi_minor, 100 * CENTI)


def validate_bands(bands: list[Band]) -> None:
    if not bands:
        raise ValueError("a tariff needs at least one band")
    if len(bands) > MAX_BANDS:
        raise ValueError(f"at most {MAX_BANDS} bands")
    lower = 0
    for i, band in enumerate(bands):
        last = i == len(bands) - 1
        if band.unit_price_centi_minor < 0:
            raise ValueError("prices cannot be negative")
        if last != (band.up_to_milli is None):
            raise ValueError("only the last band is open-ended")
        if band.up_to_milli is not None:
            if band.up_to_milli <= lower:
                raise ValueError("band limits must increase")
            lower = band.up_to_milli


def parse_quantity_milli(value: float | str) -> int:
    """A usage or band limit from the API (Float) to thousandths, exactly."""
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not d.is_finite() or d < 0:
        raise ValueError("must be a non-negative number")
    if d > MAX_QUANTITY_MILLI / MILLI:
        raise ValueError("too large")
    if d != d.quantize(Decimal("0.001")):
        raise ValueError("at most three decimals")
    return int(d * MILLI)


def parse_price_centi_minor(text: str, exponent: int = 2) -> int:
    """A unit price in major units ("0.4883" yuan) to hundredths of a minor unit."""
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError("not a decimal") from None
    if not d.is_finite() or d < 0:
        raise ValueError("must be a non-negative decimal")
    if d > Decimal(MAX_PRICE_CENTI_MINOR) / (Decimal(10) ** (exponent + 2)):
        raise ValueError("too large")
    scale = Decimal(10) ** (exponent + 2)
    scaled = d * scale
    if scaled != scaled.to_integral_value(rounding=ROUND_HALF_UP):
        raise ValueError("too many decimals")
    return int(scaled)


def format_price(centi_minor: int, exponent: int = 2) -> str:
    """Hundredths of a fen back to decimal yuan text, trailing zeros trimmed to 2."""
    d = Decimal(centi_minor) / (Decimal(10) ** (exponent + 2))
    text = f"{d:.{exponent + 2}f}"
    while text.endswith("0") and len(text.split(".")[1]) > exponent:
        text = text[:-1]
    return text


def format_quantity(milli: int) -> str:
    d = Decimal(milli) / MILLI
    text = f"{d:.3f}".rstrip("0").rstrip(".")
    return text or "0"
