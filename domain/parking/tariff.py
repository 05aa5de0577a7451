"""The parking tariff: pure arithmetic on minutes and minor units, no I/O.

Rules (DESIGN.md §4 "Parking"):
- A stay is counted in started minutes from entry.
- Free time: a stay within the free allowance costs nothing; once it is exceeded the
  whole stay is billed, free minutes included.
- Hourly rate: part-hours round up, except a remainder of at most `forgive_minutes`.
- Daily cap per 24 hours counted from entry (not per calendar day): each full 24 h costs
  at most the cap, and so does the remainder.
- Re-entry within `reentry_minutes` of leaving continues the earlier stay's free
  allowance instead of starting a new one.
- After paying, the driver has `grace_minutes` from paid-until to leave; after that the
  meter restarts at paid-until (no free time, part-hours rounding up again), while the
  stay as a whole still never costs more than the daily cap per started 24 hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class Tariff:
    hourly_minor: int
    free_minutes: int = 15
    daily_cap_minor: int | None = None
    forgive_minutes: int = 0
    reentry_minutes: int = 60
    grace_minutes: int = 15
    currency: str = "CNY"

    def __post_init__(self) -> None:
        if self.hourly_minor < 0 or self.free_minutes < 0 or self.grace_minutes < 0:
            raise ValueError("tariff values must not be negative")
        if not 0 <= self.forgive_minutes < 60:
            raise ValueError("forgive_minutes must be 0..59")
        if self.daily_cap_minor is not None and self.daily_cap_minor < 0:
            raise ValueError("daily cap must not be negative")


@dataclass(frozen=True, slots=True)
class Charge:
    """What a stay costs at one instant."""

    minutes: int
    # Fee of the whole stay so far, before what was paid.
    total_minor: int
    paid_minor: int
    # What the driver must pay now to leave.
    due_minor: int
    # Set while a payment's grace period is running: leave before this time for free.
    grace_until: datetime | None = None

    @property
    def within_grace(self) -> bool:
        return self.grace_until is not None


def stay_minutes(entered_at: datetime, until: datetime) -> int:
    """Started minutes between two instants (a stay of 0 s is 0 minutes)."""
    seconds = (until - entered_at).total_seconds()
    if seconds <= 0:
        return 0
    return int(-(-seconds // 60))


def _hours_fee(tariff: Tariff, minutes: int) -> int:
    hours, part = divmod(minutes, 60)
    if part > tariff.forgive_minutes:
        hours += 1
    return hours * tariff.hourly_minor


def fee(tariff: Tariff, minutes: int, *, free_allowance: int | None = None) -> int:
    """The fee of a stay of `minutes`, given the free minutes this stay may use."""
    allowance = tariff.free_minutes if free_allowance is None else free_allowance
    if minutes <= allowance:
        return 0
    days, rest = divmod(minutes, MINUTES_PER_DAY)
    full_day = _hours_fee(tariff, MINUTES_PER_DAY)
    if tariff.daily_cap_minor is not None:
        full_day = min(full_day, tariff.daily_cap_minor)
    remainder = _hours_fee(tariff, rest)
    if tariff.daily_cap_minor is not None:
        remainder = min(remainder, tariff.daily_cap_minor)
    return days * full_day + remainder


def free_allowance(
    tariff: Tariff,
    *,
    entering_at: datetime,
    previous_exited_at: datetime | None = None,
    previous_minutes: int = 0,
    previous_allowance: int | None = None,
) -> int:
    """Free minutes of a new stay. A re-entry soon after leaving gets only what the
    previous stay left of its allowance (so dropping out and back in gains nothing)."""
    if previous_exited_at is None:
        return tariff.free_minutes
    gap = entering_at - previous_exited_at
    if gap > timedelta(minutes=tariff.reentry_minutes):
        return tariff.free_minutes
    before = tariff.free_minutes if previous_allowance is None else previous_allowance
    return max(0, before - previous_minutes)


def charge(
    tariff: Tariff,
    *,
    entered_at: datetime,
    now: datetime,
    free_allowance: int | None = None,
    paid_minor: int = 0,
    paid_until: datetime | None = None,
) -> Charge:
    """What is due at `now` for a stay that began at `entered_at`."""
    minutes = stay_minutes(entered_at, now)
    if paid_until is None:
        total = fee(tariff, minutes, free_allowance=free_allowance)
        return Charge(minutes, total, paid_minor, max(0, total - paid_minor))
    grace_until = paid_until + timedelta(minutes=tariff.grace_minutes)
    if now <= grace_until:
        return Charge(minutes, paid_minor, paid_minor, 0, grace_until)
    # The meter restarts at paid-until: no free time, part-hours round up again...
    overtime = fee(tariff, stay_minutes(paid_until, now), free_allowance=0)
    if tariff.daily_cap_minor is not None:
        # ...but the stay as a whole never costs more than the cap per started 24 h.
        periods = -(-minutes // MINUTES_PER_DAY)
        overtime = min(overtime, max(0, periods * tariff.daily_cap_minor - paid_minor))
    return Charge(minutes, paid_minor + overtime, paid_minor, overtime)
