"""Fare rules: what cancelling or changing a booking costs, by fare family and by how close
departure is. Pure functions over integer paise.

Modelled on Indian domestic carriers' published rules: a Saver fare pays a per-passenger
fee that rises inside 72 hours, a Flexi fare changes free and cancels cheaply, and inside
2 hours of departure only the statutory taxes and fees come back. A fee never exceeds the
base fare, so taxes are always refunded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from core.errors import InvalidRequestError

_RUPEE = 100
# Airlines correct a misspelt name free of charge, up to a few letters; anything more is a
# different passenger and needs a new ticket.
MAX_NAME_EDITS = 3
LATE_HOURS = 72
NO_SHOW_HOURS = 2

# Per passenger, in rupees: (72 hours or more before departure, less than 72 hours).
_CANCEL_FEE = {"saver": (3_000, 4_000), "flexi": (0, 1_500)}
_CHANGE_FEE = {"saver": (2_500, 3_000), "flexi": (0, 0)}


@dataclass(frozen=True, slots=True)
class CancellationQuote:
    fee_paise: int
    refund_paise: int


def cancellation(
    *, fare_family: str, base_paise: int, paid_paise: int, seats: int, hours_to_departure: float
) -> CancellationQuote:
    """The fee and the refund for cancelling now."""
    if hours_to_departure < NO_SHOW_HOURS:
        fee = base_paise
    else:
        fee = _per_passenger(_CANCEL_FEE, fare_family, hours_to_departure) * seats
    fee = min(fee, base_paise, paid_paise)
    return CancellationQuote(fee_paise=fee, refund_paise=paid_paise - fee)


@dataclass(frozen=True, slots=True)
class ChangeCost:
    fee_paise: int
    fare_difference_paise: int

    @property
    def due_paise(self) -> int:
        """What the traveller pays for the change (negative: what they get back)."""
        return self.fare_difference_paise + self.fee_paise


def change_cost(
    *, fare_family: str, seats: int, hours_to_departure: float, old_total_paise: int,
    new_total_paise: int,
) -> ChangeCost:  # fmt: skip
    """The fee and fare difference for moving a booking to a new fare; the one rule the quote,
    the workflow and every surface use."""
    fee = change_fee(fare_family=fare_family, seats=seats, hours_to_departure=hours_to_departure)
    return ChangeCost(fee_paise=fee, fare_difference_paise=new_total_paise - old_total_paise)


def change_fee(*, fare_family: str, seats: int, hours_to_departure: float) -> int:
    """The fee for moving a flight to another date or flight; refused inside 2 hours."""
    if hours_to_departure < NO_SHOW_HOURS:
        raise InvalidRequestError(
            f"changes close {NO_SHOW_HOURS} hours before departure", reason="change-window-closed"
        )
    return _per_passenger(_CHANGE_FEE, fare_family, hours_to_departure) * seats


def _per_passenger(table: dict[str, tuple[int, int]], family: str, hours: float) -> int:
    early, late = table.get(family.casefold(), table["saver"])
    return (early if hours >= LATE_HOURS else late) * _RUPEE


def hours_until(departure: dt.datetime, *, now: dt.datetime) -> float:
    """Hours from `now` to a departure (both tz-aware)."""
    return (departure - now).total_seconds() / 3600


def check_name_correction(*, old: str, new: str) -> None:
    """Refuse a "correction" that changes a name by more than a few letters."""
    edits = Levenshtein.distance(old.casefold(), new.casefold())
    if edits > MAX_NAME_EDITS:
        raise InvalidRequestError(
            f"a name correction may change at most {MAX_NAME_EDITS} letters; "
            f"{old!r} -> {new!r} changes {edits}: a different passenger needs a new booking",
            reason="name-change-not-allowed",
        )
