"""Flight fare search: the query, the offers, and where an answer came from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

MAX_PASSENGERS = 9
BOOKING_HORIZON_DAYS = 361
IST = ZoneInfo("Asia/Kolkata")


class Cabin(StrEnum):
    ECONOMY = "economy"
    PREMIUM_ECONOMY = "premium_economy"
    BUSINESS = "business"
    FIRST = "first"


class FareSource(StrEnum):
    LIVE = "live"
    L1 = "l1"
    L2 = "l2"
    STALE_FALLBACK = "stale_fallback"


@dataclass(frozen=True, slots=True)
class Passengers:
    adults: int = 1
    children: int = 0
    infants: int = 0

    @property
    def seated(self) -> int:
        return self.adults + self.children

    def describe(self) -> str:
        parts = [f"{self.adults} adult{'s' if self.adults != 1 else ''}"]
        if self.children:
            parts.append(f"{self.children} child{'ren' if self.children != 1 else ''}")
        if self.infants:
            parts.append(f"{self.infants} infant{'s' if self.infants != 1 else ''}")
        return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class FareQuery:
    """One search. Its ``key`` is what caches and suppliers agree a search is."""

    origin: str
    destination: str
    date: dt.date
    passengers: Passengers = Passengers()
    cabin: Cabin = Cabin.ECONOMY

    @property
    def key(self) -> str:
        p = self.passengers
        return (
            f"{self.origin}-{self.destination}:{self.date.isoformat()}:{self.cabin.value}:"
            f"{p.adults}.{p.children}.{p.infants}"
        )


@dataclass(frozen=True, slots=True)
class Price:
    """Money in integer paise (1 INR = 100 paise): no float rounding in prices."""

    base: int
    taxes: int
    fees: int
    currency: str = "INR"

    @property
    def total(self) -> int:
        return self.base + self.taxes + self.fees


@dataclass(frozen=True, slots=True)
class FareOffer:
    offer_id: str
    origin: str
    destination: str
    departure: dt.datetime  # local time at the origin, tz-aware
    arrival: dt.datetime  # local time at the destination, tz-aware
    carrier_code: str
    carrier_name: str
    flight_number: str
    cabin: Cabin
    fare_family: str
    passengers: Passengers
    price: Price  # for all passengers together
    seats_left: int
    refundable: bool
    supplier: str
    fetched_at: dt.datetime
    # The carrier's own booking cut-off before departure, where the supplier says it.
    cutoff_minutes: int | None = None

    @property
    def duration_minutes(self) -> int:
        return int((self.arrival - self.departure).total_seconds() // 60)

    def booking_closes(self, *, cutoff_min: int) -> dt.datetime:
        """When this flight stops being sold: Yatri's cut-off or the carrier's, the earlier."""
        return booking_closes(self.departure, cutoff_min=max(cutoff_min, self.cutoff_minutes or 0))

    def bookable(self, *, now: dt.datetime, cutoff_min: int) -> bool:
        """Departs at or after ``now`` plus the cut-off: still sold."""
        return now <= self.booking_closes(cutoff_min=cutoff_min)


def booking_closes(departure: dt.datetime, *, cutoff_min: int) -> dt.datetime:
    return departure - dt.timedelta(minutes=cutoff_min)


@dataclass(frozen=True, slots=True)
class FareResult:
    """Offers for a query, cheapest first, with their provenance and age."""

    query: FareQuery
    offers: tuple[FareOffer, ...]
    source: FareSource
    fetched_at: dt.datetime
    age_ms: int = 0
    # Set on a stale fallback: the price is the last known one and is confirmed before booking.
    price_confirmation_required: bool = False
    # Offers left out because their flights leave too soon to book (or have left).
    hidden_offers: int = 0
    hidden_flights: int = 0
    cutoff_min: int = 0  # Yatri's cut-off they were judged by (a carrier's may be later)

    @property
    def hidden_reason(self) -> str | None:
        if not self.hidden_flights:
            return None
        return (
            f"{self.hidden_flights} flight{'s' if self.hidden_flights != 1 else ''} "
            f"leav{'e' if self.hidden_flights != 1 else 'es'} too soon to book: booking closes "
            f"at least {self.cutoff_min} minutes before departure"
        )


@dataclass(frozen=True, slots=True)
class Reprice:
    """An offer priced again at the supplier for the booking path."""

    offer: FareOffer | None  # None: the flight or fare family is no longer sold
    previous_total: int
    price_changed: bool
    repriced_live: bool  # False when the offer was within the booking freshness bound


def cheapest_per_flight(offers: tuple[FareOffer, ...] | list[FareOffer]) -> list[FareOffer]:
    """Each flight's lowest offer, in the given order (offers arrive cheapest first)."""
    by_flight: dict[str, FareOffer] = {}
    for offer in offers:
        by_flight.setdefault(offer.flight_number, offer)
    return list(by_flight.values())
