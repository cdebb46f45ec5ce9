"""Pricing a flight selection for a quote: through the fare service (fresh within the fare
cache's 30 s, departed flights already left out), never a client's figure. The workflow prices
again live at the airline before money moves, and stops on any difference."""

from __future__ import annotations

from typing import Protocol

from bookings.models import FlightSelection, PriceBreakdown, PricedFlight
from core.errors import DependencyUnavailableError
from fares.models import Cabin, FareOffer, FareQuery, Passengers
from fares.service import FareService


class FlightPricer(Protocol):
    async def price(self, selection: FlightSelection) -> PricedFlight | None:
        """The selection's price now; None when that flight and fare are not sold."""
        ...


def priced_flight(
    selection: FlightSelection, offer: FareOffer, *, cutoff_min: int | None = None
) -> PricedFlight:
    """The selection at the offer's price; with a cut-off, when its sales close."""
    return PricedFlight(
        selection=selection,
        departure=offer.departure,
        carrier=offer.carrier_name,
        refundable=offer.refundable,
        price=PriceBreakdown(
            base_paise=offer.price.base,
            taxes_paise=offer.price.taxes,
            fees_paise=offer.price.fees,
            total_paise=offer.price.total,
        ),
        booking_closes=None if cutoff_min is None else offer.booking_closes(cutoff_min=cutoff_min),
    )


def fare_query(selection: FlightSelection) -> FareQuery:
    return FareQuery(
        origin=selection.origin,
        destination=selection.destination,
        date=selection.date,
        passengers=Passengers(selection.adults, selection.children, selection.infants),
        cabin=Cabin(selection.cabin),
    )


class FareServicePricer:
    """Quotes priced from the fare service. A stale fallback is no price to quote."""

    def __init__(self, fares: FareService) -> None:
        self._fares = fares

    async def price(self, selection: FlightSelection) -> PricedFlight | None:
        result = await self._fares.search(fare_query(selection))
        if result.price_confirmation_required:
            raise DependencyUnavailableError(
                "the airline is not answering, so no price can be quoted now; retry shortly"
            )
        for offer in result.offers:
            if (offer.flight_number, offer.fare_family) == (
                selection.flight_number,
                selection.fare_family,
            ):
                return priced_flight(selection, offer)
        return None
