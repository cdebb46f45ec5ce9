"""Hotel search and a hotel's rooms, read from the availability store.

Search narrows with the destination's search arrays (the cheapest open rate of each property on
each night, kept by the store beside every cell): one MGET of `nights` arrays and a few numpy
operations order thousands of properties by an estimate of the stay's price. Only the page shown
is then priced exactly from its properties' cells: the cheapest room type with enough rooms on
every night for the party, GST per room-night by its slab.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from core.errors import InvalidRequestError, NotFoundError
from hotels.catalogue import Catalogue
from hotels.models import ROOM_CAPACITY, ROOM_TYPES, Destination, Property, RoomType, version_time
from hotels.store import AvailabilityStore, StoredCell
from hotels.sync import HotelSync
from hotels.tax import gst_paise, with_gst

MAX_NIGHTS = 30
MAX_ROOMS = 9
MAX_PAGE = 50
Sort = Literal["price", "stars"]


class UnknownDestinationError(NotFoundError):
    problem_type = "unknown-destination"
    title = "Unknown destination"


class UnknownHotelError(NotFoundError):
    problem_type = "unknown-hotel"
    title = "Unknown hotel"


@dataclass(frozen=True, slots=True)
class StayRequest:
    check_in: dt.date
    nights: int
    rooms: int = 1
    adults: int = 2
    children: int = 0

    @property
    def guests(self) -> int:
        return self.adults + self.children

    @property
    def per_room(self) -> int:
        return -(-self.guests // self.rooms)

    @property
    def check_out(self) -> dt.date:
        return self.check_in + dt.timedelta(days=self.nights)

    def nights_list(self) -> list[dt.date]:
        return [self.check_in + dt.timedelta(days=d) for d in range(self.nights)]


@dataclass(frozen=True, slots=True)
class RoomOffer:
    room_type: RoomType
    rooms_left: int  # the fewest on any night of the stay
    total_paise: int  # all rooms, all nights, GST included
    taxes_paise: int
    as_of: dt.datetime


@dataclass(frozen=True, slots=True)
class HotelOffer:
    hotel: Property
    room: RoomOffer

    @property
    def source(self) -> str:
        return self.hotel.supplier


@dataclass(frozen=True, slots=True)
class SearchPage:
    destination: Destination
    stay: StayRequest
    matching: int  # properties open for the stay under the filters (before the exact check)
    offers: list[HotelOffer]
    offset: int
    limit: int


@dataclass(frozen=True, slots=True)
class NightView:
    night: dt.date
    cheapest_paise: int | None  # one room, GST included; None: sold out or unknown
    rooms_left: int


@dataclass(frozen=True, slots=True)
class HotelView:
    hotel: Property
    stay: StayRequest
    rooms: list[RoomOffer]  # room types open for the whole stay, cheapest first
    calendar: list[NightView]  # every night of the window


class HotelService:
    def __init__(self, *, catalogue: Catalogue, store: AvailabilityStore, sync: HotelSync) -> None:
        self.catalogue = catalogue
        self._store = store
        self._sync = sync

    def validate(self, stay: StayRequest) -> None:
        """InvalidRequestError naming the first thing wrong with a stay."""
        if not 1 <= stay.nights <= MAX_NIGHTS:
            raise InvalidRequestError(f"nights must be 1-{MAX_NIGHTS}", field="nights")
        if not 1 <= stay.rooms <= MAX_ROOMS:
            raise InvalidRequestError(f"rooms must be 1-{MAX_ROOMS}", field="rooms")
        if stay.adults < 1 or stay.children < 0:
            raise InvalidRequestError("a stay needs at least one adult", field="adults")
        if stay.rooms > stay.adults:
            raise InvalidRequestError(
                "more rooms than adults: every room needs an adult", field="rooms"
            )
        if stay.per_room > max(ROOM_CAPACITY.values()):
            raise InvalidRequestError(
                f"{stay.guests} guests do not fit in {stay.rooms} room(s)", field="rooms"
            )
        first, days = self._sync.window()
        last = first + dt.timedelta(days=days - 1)
        if stay.check_in < first or stay.check_out - dt.timedelta(days=1) > last:
            raise InvalidRequestError(
                f"the stay must fall within the nights on sale, {first} to {last}",
                field="check_in", first_night=first.isoformat(), last_night=last.isoformat(),
            )  # fmt: skip

    def resolve(self, city: str) -> Destination:
        destination = self.catalogue.resolve(city)
        if destination is None:
            raise UnknownDestinationError(f"no destination called {city!r}", city=city)
        return destination

    async def search(
        self,
        *,
        city: str,
        stay: StayRequest,
        stars: Sequence[int] = (),
        max_price_paise: int | None = None,
        area: str | None = None,
        sort: Sort = "price",
        offset: int = 0,
        limit: int = 10,
    ) -> SearchPage:
        """Open hotels for the stay, cheapest first (or best rated first); `max_price_paise` caps
        the nightly rate of one room, GST included, on every night."""
        destination = self.resolve(city)
        self.validate(stay)
        limit = max(1, min(limit, MAX_PAGE))
        await self._sync.ensure_loaded(destination.code)
        size = len(self.catalogue.span(destination.code))
        cheapest = await self._store.cheapest(
            destination.code, nights=stay.nights_list(), size=size
        )
        open_ = (cheapest > 0).all(axis=0)
        nightly = with_gst(cheapest)
        mask = open_
        static = _static(self.catalogue, destination.code)
        if stars:
            mask = mask & np.isin(static.stars, list(stars))
        if area:
            wanted = area.strip().lower()
            codes = [i for i, a in enumerate(destination.areas) if a.lower() == wanted]
            mask = mask & np.isin(static.area, codes)
        if max_price_paise is not None:
            mask = mask & (nightly.max(axis=0) <= max_price_paise)
        candidates = np.nonzero(mask)[0]
        estimate = nightly.sum(axis=0)[candidates]
        if sort == "stars":
            order = candidates[np.lexsort((estimate, -static.stars[candidates]))]
        else:
            order = candidates[np.argsort(estimate, kind="stable")]
        window = order[offset : offset + limit * 2]  # room to drop those the exact check refuses
        start = self.catalogue.span(destination.code).start
        props = [self.catalogue.property(start + int(i)) for i in window]
        offers: list[HotelOffer] = []
        stored = await self._store.read_many(props, first_night=stay.check_in, nights=stay.nights)
        for prop, cells in zip(props, stored, strict=True):
            rooms = _rooms(cells, stay)
            if rooms and (max_price_paise is None or _fits(rooms[0], stay, max_price_paise)):
                offers.append(HotelOffer(hotel=prop, room=rooms[0]))
            if len(offers) == limit:
                break
        key = (lambda o: (-o.hotel.stars, o.room.total_paise)) if sort == "stars" else (
            lambda o: (o.room.total_paise, -o.hotel.stars))  # fmt: skip
        offers.sort(key=key)
        return SearchPage(destination=destination, stay=stay, matching=len(candidates),
                          offers=offers, offset=offset, limit=limit)  # fmt: skip

    async def rooms(self, prop: Property, stay: StayRequest) -> list[RoomOffer]:
        """Room types with enough rooms on every night for the party, cheapest first."""
        stored = await self._store.read(prop, first_night=stay.check_in, nights=stay.nights)
        return _rooms(stored, stay)

    async def hotel(self, hotel_id: str, stay: StayRequest) -> HotelView:
        prop = self.catalogue.get(hotel_id)
        if prop is None:
            raise UnknownHotelError(f"no hotel {hotel_id}", hotel_id=hotel_id)
        self.validate(stay)
        await self._sync.ensure_loaded(prop.destination)
        first, days = self._sync.window()
        stored = await self._store.read(prop, first_night=first, nights=days)
        calendar = []
        for d in range(days):
            open_cells = [c for cells in stored.values() if (c := cells[d]) is not None
                          and c.available > 0 and c.rate_paise > 0]  # fmt: skip
            best = min((c.rate_paise for c in open_cells), default=None)
            calendar.append(NightView(
                night=first + dt.timedelta(days=d),
                cheapest_paise=None if best is None else best + gst_paise(best),
                rooms_left=sum(c.available for c in open_cells),
            ))  # fmt: skip
        return HotelView(hotel=prop, stay=stay, rooms=await self.rooms(prop, stay),
                         calendar=calendar)  # fmt: skip


def _rooms(stored: dict[RoomType, list[StoredCell | None]], stay: StayRequest) -> list[RoomOffer]:
    """Room types with enough rooms on every night for the party, cheapest first."""
    out = []
    for rt, cells in stored.items():
        if ROOM_CAPACITY[rt] < stay.per_room:
            continue
        if any(c is None or c.available < stay.rooms or c.rate_paise <= 0 for c in cells):
            continue
        known = [c for c in cells if c is not None]
        taxes = sum(gst_paise(c.rate_paise) for c in known) * stay.rooms
        total = sum(c.rate_paise for c in known) * stay.rooms + taxes
        out.append(RoomOffer(room_type=rt, rooms_left=min(c.available for c in known),
                             total_paise=total, taxes_paise=taxes,
                             as_of=version_time(max(c.version for c in known))))  # fmt: skip
    return sorted(out, key=lambda r: r.total_paise)


def _fits(room: RoomOffer, stay: StayRequest, max_price_paise: int) -> bool:
    return room.total_paise <= max_price_paise * stay.nights * stay.rooms


@dataclass(frozen=True, slots=True)
class _Static:
    stars: npt.NDArray[np.int64]
    area: npt.NDArray[np.int64]


@functools.lru_cache(maxsize=256)
def _static(catalogue: Catalogue, destination: str) -> _Static:
    """Per destination, by position: stars and area (the catalogue never changes in a run)."""
    d = catalogue.destination(destination)
    areas = {a: i for i, a in enumerate(d.areas)} if d else {}
    props = list(catalogue.properties(destination))
    return _Static(
        stars=np.array([p.stars for p in props], dtype=np.int64),
        area=np.array([areas.get(p.area, -1) for p in props], dtype=np.int64),
    )


__all__ = ["ROOM_TYPES", "HotelService", "StayRequest"]
