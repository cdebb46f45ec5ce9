"""The ports Yatri's hotel sync reads suppliers through. Every supplier offers a snapshot of a
property (reconciliation and checkout use it); a change-feed supplier also answers "changes
since this cursor"; a push supplier (a channel manager) calls Yatri's webhook instead."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from core.errors import SupplierError
from hotels.models import Cell, Property, SupplierKind


class HotelSupplierError(SupplierError):
    """The supplier failed or is unreachable; retrying later may work (502 if it reaches a
    caller: a search whose destination cannot be loaded now)."""


class CursorExpiredError(HotelSupplierError):
    """The feed no longer has the changes after this cursor (too old, or the feed was reset):
    the reader resyncs from snapshots and reads on from the start of the feed."""


@dataclass(frozen=True, slots=True)
class FeedPage:
    cells: Sequence[Cell]
    cursor: str  # pass back to read on; the same cursor again gives the same page


@dataclass(frozen=True, slots=True)
class Block:
    """Inventory of some properties for consecutive nights, as arrays [property, room type (all
    four, in ROOM_TYPES order), night]; a room type the property does not have has rate 0.
    The bulk form of a snapshot: a destination of 9,000 properties is 1M cells."""

    numbers: npt.NDArray[np.int64]
    first_night: dt.date
    available: npt.NDArray[np.int64]
    rate_paise: npt.NDArray[np.int64]
    version: npt.NDArray[np.int64]


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

    async def snapshot_block(
        self, numbers: npt.NDArray[np.int64], *, first_night: dt.date, nights: int
    ) -> Block:
        """The same as `snapshot`, as arrays (full loads and reconciliation use this form)."""
        ...


class ChangeFeed(Protocol):
    @property
    def name(self) -> str: ...

    async def changes_since(self, cursor: str | None, *, limit: int) -> FeedPage:
        """Changes after `cursor` (None: from the start of the feed's retention), oldest first."""
        ...
