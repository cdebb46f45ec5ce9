"""The availability store port: what the sync, the search and checkout need from wherever
availability is kept (Redis here; the adapter is `hotels/redis_store.py`).

The store is a cache of the suppliers' inventory, never the source of truth: everything in it
can be rebuilt from the suppliers' snapshots, which is what `loaded` tells the sync to do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from hotels.models import ApplyCounts, Cell, Property, RoomType


@dataclass(frozen=True, slots=True)
class StoredCell:
    available: int
    rate_paise: int
    version: int


@dataclass(frozen=True, slots=True)
class StoredBlock:
    """Stored cells as arrays [property, room type (all four), night]; version -1: not stored."""

    available: npt.NDArray[np.int64]
    rate_paise: npt.NDArray[np.int64]
    available_version: npt.NDArray[np.int64]
    rate_version: npt.NDArray[np.int64]


class AvailabilityStore(Protocol):
    window_days: int

    async def apply(self, cells: Sequence[tuple[Property, Cell]]) -> ApplyCounts:
        """Apply supplier changes; a change not newer than the stored version is not applied."""
        ...

    async def apply_each(self, cells: Sequence[tuple[Property, Cell]]) -> str:
        """`apply`, with one outcome letter a change, in order: a(pplied), d(uplicate),
        s(tale), r(ejected)."""
        ...

    async def load(
        self,
        props: Sequence[Property],
        *,
        first_night: dt.date,
        available: npt.NDArray[np.int64],
        rate_paise: npt.NDArray[np.int64],
        version: npt.NDArray[np.int64],
    ) -> ApplyCounts:
        """Bulk-load a destination's snapshot (arrays [property, room type (all four), night]),
        never overwriting a newer stored cell."""
        ...

    async def read(
        self, prop: Property, *, first_night: dt.date, nights: int
    ) -> dict[RoomType, list[StoredCell | None]]:
        """A property's stored cells for consecutive nights, by room type (None: not stored)."""
        ...

    async def read_many(
        self, props: Sequence[Property], *, first_night: dt.date, nights: int
    ) -> list[dict[RoomType, list[StoredCell | None]]]:
        """`read` for several properties at once."""
        ...

    async def read_block(
        self, props: Sequence[Property], *, first_night: dt.date, nights: int
    ) -> StoredBlock: ...

    async def cheapest(
        self, destination: str, *, nights: Sequence[dt.date], size: int
    ) -> npt.NDArray[np.int64]:
        """[night, property position]: the cheapest nightly rate (paise, before tax) of any room
        type with a room left, 0 when none is; `size` properties in the destination."""
        ...

    async def loaded(self) -> dict[str, dt.date]:
        """Destinations loaded in full, with the first night of the window they were loaded for."""
        ...

    async def mark_loaded(self, destination: str, *, first_night: dt.date) -> None: ...

    async def forget_loaded(self) -> None: ...

    async def cursor(self, supplier: str) -> str | None: ...

    async def save_cursor(self, supplier: str, cursor: str) -> None: ...

    async def memory_bytes(self) -> int: ...
