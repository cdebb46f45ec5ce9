"""The hotel domain's types: properties, the availability of one room type on one night, and
the change a supplier sends about it.

A *cell* is one property x room type x night: rooms left and the nightly rate of one room before
tax. A change carries the supplier's *version* (microseconds since 2025-01-01 UTC when the value
was set at the supplier, so one supplier's versions grow with time; 48 bits, good to 2033); rooms
left and the rate are versioned separately, because channel managers send availability and rates
in separate messages. A change whose version is not newer than the stored one is never applied,
which is what keeps late, replayed and out-of-order deliveries from overwriting newer values.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from enum import StrEnum


class RoomType(StrEnum):
    STANDARD = "STD"
    DELUXE = "DLX"
    FAMILY = "FAM"
    SUITE = "STE"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    RoomType.STANDARD: "Standard room",
    RoomType.DELUXE: "Deluxe room",
    RoomType.FAMILY: "Family room",
    RoomType.SUITE: "Suite",
}
ROOM_TYPES: tuple[RoomType, ...] = tuple(RoomType)
ROOM_CAPACITY = {RoomType.STANDARD: 2, RoomType.DELUXE: 2, RoomType.FAMILY: 4, RoomType.SUITE: 3}


class SupplierKind(StrEnum):
    PUSH = "push"  # a channel manager that pushes OTA messages to Yatri's webhook
    FEED = "feed"  # a supplier whose change feed Yatri polls with a cursor
    BULK = "bulk"  # a supplier that only offers a full snapshot per property


@dataclass(frozen=True, slots=True)
class Destination:
    """A city or town travellers stay in (GeoNames), or a region made of several (Goa)."""

    code: str  # lower-case, stable: "mumbai", "goa", "port-blair"
    name: str
    state: str
    latitude: float
    longitude: float
    areas: tuple[str, ...]
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Property:
    hotel_id: str
    number: int  # dense, global; properties of a destination are one contiguous range
    local: int  # position within its destination (the search arrays' index)
    name: str
    destination: str  # Destination.code
    city: str  # Destination.name
    area: str
    latitude: float
    longitude: float
    stars: int
    supplier: str
    room_types: tuple[RoomType, ...]


@dataclass(frozen=True, slots=True)
class Cell:
    """A supplier's statement: this many rooms of this type are left that night at this rate.
    A change may carry only one of the two (None: not part of this change)."""

    hotel_id: str
    room_type: RoomType
    night: dt.date
    available: int | None
    rate_paise: int | None  # one room, one night, before GST
    version: int

    @property
    def as_of(self) -> dt.datetime:
        return version_time(self.version)


@dataclass(frozen=True, slots=True)
class ApplyCounts:
    applied: int = 0
    duplicate: int = 0  # the same version again (a redelivery)
    stale: int = 0  # an older version than the stored one (late or out of order)
    rejected: int = 0  # unknown hotel or room type, or a night outside the window

    def __add__(self, other: ApplyCounts) -> ApplyCounts:
        return ApplyCounts(
            applied=self.applied + other.applied,
            duplicate=self.duplicate + other.duplicate,
            stale=self.stale + other.stale,
            rejected=self.rejected + other.rejected,
        )


VERSION_EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
MAX_VERSION = 2**48 - 1


def now_version() -> int:
    """A version for a value set now: microseconds since 2025-01-01 UTC."""
    return time.time_ns() // 1_000 - int(VERSION_EPOCH.timestamp()) * 1_000_000


def version_time(version: int) -> dt.datetime:
    return VERSION_EPOCH + dt.timedelta(microseconds=version)
