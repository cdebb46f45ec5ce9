"""The port every airline supplier adapter implements."""

from __future__ import annotations

from typing import Protocol

from fares.models import FareOffer, FareQuery


class AirlineSupplier(Protocol):
    """An airline or aggregator API. Implementations raise ``SupplierError`` on failure."""

    @property
    def name(self) -> str: ...

    async def search(self, query: FareQuery) -> list[FareOffer]:
        """Offers for ``query``; the caller owns timeouts and retries."""
        ...
