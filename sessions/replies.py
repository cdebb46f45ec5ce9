"""Reply text for each dialogue action: short sentences that read well and speak well."""

from __future__ import annotations

import datetime as dt

from core.airports import AirportDirectory
from core.money import rupees
from fares.models import FareOffer, FareResult, cheapest_per_flight

CAPABILITIES = (
    "I can search and book flights between Indian cities and hotels in Indian cities and "
    "towns, check, change or cancel your bookings, and answer questions about fares, baggage "
    "and travel rules. Tell me where "
    'from, where to and when, for example "flights from Delhi to Mumbai on 5 December for '
    '2 adults".'
)

_UNSUPPORTED = {
    "search_trains": "I can't search or book trains yet. I can answer questions about rail "
    "rules such as tatkal and cancellations, and I can search flights",
    "search_buses": "I can't search or book buses yet. I can answer questions about bus "
    "reservation rules, and I can search flights",
    "search_hotels": "I can't search hotels by chat yet; you can add a hotel to a flight "
    "booking in the app. I can answer questions about hotel policies, and I can search "
    "flights",
}

QUESTIONS = {
    "origin": "Where will you be flying from?",
    "destination": "Where would you like to fly to?",
    "date": "What date would you like to travel?",
}


def unsupported_reply(intent: str, destination: object, airports: AirportDirectory) -> str:
    """What Yatri can do today for a train, bus or hotel request, said plainly."""
    text = _UNSUPPORTED.get(intent, "I can't do that yet. I can search flights")
    if isinstance(destination, str) and airports.get(destination) is not None:
        return f"{text}: shall I look for flights to {place(destination, airports)} instead?"
    return f"{text}."


def place(code: str, airports: AirportDirectory) -> str:
    airport = airports.get(code)
    return f"{airport.city} ({code})" if airport else code


def long_date(day: dt.date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def _offer_line(offer: FareOffer) -> str:
    # Local dates at each end: an arrival after midnight is marked (+1), as tickets do.
    days = (offer.arrival.date() - offer.departure.date()).days
    later = f" (+{days})" if days > 0 else ""
    return (
        f"{offer.carrier_name} {offer.flight_number}, {offer.departure:%H:%M} to "
        f"{offer.arrival:%H:%M}{later}, {rupees(offer.price.total)}"
    )


def flights(n: int) -> str:
    return f"{n} flight{'' if n == 1 else 's'}"


def unknown_place_reply(name: str, question: str, airports: AirportDirectory) -> str:
    """A place with no Indian airport: abroad (domestic only for now) or not known at all."""
    abroad = airports.abroad(name)
    if abroad:
        return (
            f"I can search domestic flights within India only for now, and {abroad} is "
            f"outside India. {question}"
        )
    return f"I couldn't find an airport for “{name}”. {question}"


def search_reply(result: FareResult, airports: AirportDirectory, *, brief: bool = False) -> str:
    """What a search found; `brief` (a phone call) names only the cheapest, since every
    sentence is heard in full before the caller can answer."""
    q = result.query
    route = f"from {place(q.origin, airports)} to {place(q.destination, airports)}"
    when = f"on {long_date(q.date)} for {q.passengers.describe()}"
    cabin = "" if q.cabin.value == "economy" else f" in {q.cabin.value.replace('_', ' ')}"
    hidden = _hidden_note(result)
    if not result.offers:
        return (
            f"I couldn't find any flights {route}{cabin} {when}.{hidden} "
            "Would you like another date?"
        )
    cheapest = cheapest_per_flight(result.offers)
    lines = [f"I found {flights(len(cheapest))} {route}{cabin} {when}.{hidden}"]
    if result.price_confirmation_required:
        minutes = max(1, round(result.age_ms / 60_000))
        lines.append(f"The airlines are slow to answer, so these are prices from about {minutes} "
                     f"minute{'s' if minutes > 1 else ''} ago; I'll confirm the price before "
                     "booking.")  # fmt: skip
    party = q.passengers
    if party.adults + party.children + party.infants > 1:
        lines.append(f"Prices are totals for {party.describe()}.")
    lines.append(f"Cheapest: {_offer_line(cheapest[0])}.")
    if len(cheapest) > 1 and not brief:
        lines.append("Also: " + "; ".join(_offer_line(o) for o in cheapest[1:3]) + ".")
    return " ".join(lines)


def _hidden_note(result: FareResult) -> str:
    n = result.hidden_flights
    if not n:
        return ""
    if n == 1:
        return " 1 flight that leaves too soon to book was left out."
    return f" {n} flights that leave too soon to book were left out."
