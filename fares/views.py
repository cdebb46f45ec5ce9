"""Offers and search results as every surface shows them (chat, the fares API, widgets)."""

from __future__ import annotations

from typing import Any

from core.money import rupees
from fares.models import FareOffer, FareResult, cheapest_per_flight

MAX_OFFERS_RETURNED = 10


def offer_json(offer: FareOffer) -> dict[str, Any]:
    return {
        "offer_id": offer.offer_id,
        "carrier": offer.carrier_name,
        "carrier_code": offer.carrier_code,
        "flight_number": offer.flight_number,
        "from": offer.origin,
        "to": offer.destination,
        "departure": offer.departure.isoformat(),
        "arrival": offer.arrival.isoformat(),
        "duration_minutes": offer.duration_minutes,
        "cabin": offer.cabin.value,
        "fare_family": offer.fare_family,
        "refundable": offer.refundable,
        "seats_left": offer.seats_left,
        "price": {
            "currency": offer.price.currency,
            "total_paise": offer.price.total,
            "base_paise": offer.price.base,
            "taxes_paise": offer.price.taxes,
            "fees_paise": offer.price.fees,
            "display": rupees(offer.price.total),
        },
        "supplier": offer.supplier,
    }


def result_json(result: FareResult) -> dict[str, Any]:
    """A search as the chat turn's `data` carries it: the query, provenance, each flight's
    cheapest fare and what was left out."""
    flights = cheapest_per_flight(result.offers)
    return {
        "query": {
            "from": result.query.origin,
            "to": result.query.destination,
            "date": result.query.date.isoformat(),
            "adults": result.query.passengers.adults,
            "children": result.query.passengers.children,
            "infants": result.query.passengers.infants,
            "cabin": result.query.cabin.value,
        },
        "source": result.source.value,
        "age_ms": result.age_ms,
        "flights_found": len(flights),
        "fares": [offer_json(o) for o in flights[:MAX_OFFERS_RETURNED]],
        "hidden": hidden_json(result),
    }


def hidden_json(result: FareResult) -> dict[str, Any]:
    """What a search left out and why (flights too close to departure to book)."""
    return {
        "offers": result.hidden_offers,
        "flights": result.hidden_flights,
        "reason": "booking-closed" if result.hidden_flights else None,
        "detail": result.hidden_reason,
    }
