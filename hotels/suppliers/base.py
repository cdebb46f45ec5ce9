"""The ports Yatri's hotel sync reads suppliers through. Every supplier offers a snapshot of a
property (reconciliation and checkout use it); a change-feed supplier also answers "changes
since this cursor"; a push supplier (a channel manager) calls Yatri's webhook instead."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from core.errors import YatriError
from hotels.models import Cell, Property, SupplierKind


class HotelSupplierError(YatriError):
    """The supplier failed or is unreachable; retrying later may work."""


@dataclass(frozen=True, slots=True)
class FeedPage:
    cells: Sequence[Cell]
    cursor: str  # pass back to read on; the same cursor again gives the same page


class HotelSupplier(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> SupplierKind: ...

    async def snapshot(
        self, props: Sequence[Property], *, first_night: dt.date, nights: int
    ) -> list[Cell]:
        """Every room type of each property for the nights, as the supplier has it now."""
        ...


class ChangeFeed(Protocol):
    @property
    def name(self) -> str: ...

    async def changes_since(self, cursor: str | None, *, limit: int) -> FeedPage:
        """Changes after `cursor` (None: from the start of the feed's retention), oldest first."""
        ...
