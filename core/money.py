"""Money is an integer of minor units plus an ISO 4217 currency code. No floats."""

from __future__ import annotations

from dataclasses import dataclass

_EXPONENT = {"CNY": 2, "USD": 2, "EUR": 2, "HKD": 2, "JPY": 0, "KRW": 0}


def exponent(currency: str) -> int:
    return _EXPONENT.get(currency.upper(), 2)


@dataclass(frozen=True, slots=True)
class Money:
    amount_minor: int
    currency: str = "CNY"

    def formatted(self) -> str:
        exp = exponent(self.currency)
        sign = "-" if self.amount_minor < 0 else ""
        value = abs(self.amount_minor)
        if exp == 0:
            return f"{sign}{value}"
        major, minor = divmod(value, 10**exp)
        return f"{sign}{major}.{minor:0{exp}d}"

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError("cannot add different currencies")
        return Money(self.amount_minor + other.amount_minor, self.currency)
