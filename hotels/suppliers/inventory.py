"""The sandbox suppliers' own inventory: rooms left and nightly rates per property x room type x
night, which is the truth Yatri's store mirrors.

The starting inventory is computed, not stored: a night's rate follows the property's stars, its
market, the room type, weekends and the winter season, with a little daily movement; rooms left
follow the property's size, and about one night in ten is sold out. Every change (a sale, a rate
move, the sandbox endpoint) is kept in an overlay with a new version, so the inventory of 500,000
properties costs memory only for what changed.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from hotels.catalogue import Catalogue
from hotels.models import ROOM_TYPES, Cell, Property, RoomType, now_version
from hotels.suppliers.base import Block

_STAR_RATE_RUPEES = {1: 900, 2: 1_800, 3: 3_200, 4: 5_600, 5: 9_500}
_ROOM_FACTOR = {RoomType.STANDARD: 1.0, RoomType.DELUXE: 1.3, RoomType.FAMILY: 1.6,
                RoomType.SUITE: 2.4}  # fmt: skip
_ROOMS_BY_STARS = {1: 6, 2: 10, 3: 15, 4: 20, 5: 25}
RT_INDEX = {rt: i for i, rt in enumerate(ROOM_TYPES)}
U64 = np.uint64


def india_today() -> dt.date:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=5, minutes=30))).date()


class Inventory:
    def __init__(
        self,
        catalogue: Catalogue,
        *,
        window_days: int = 30,
        today: Callable[[], dt.date] = india_today,
        base_version: int | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.window_days = window_days
        self.today = today
        self.base_version = base_version if base_version is not None else now_version()
        self._overlay: dict[int, dict[tuple[int, int], tuple[int, int, int]]] = {}
        self._last_version = self.base_version

    # --- the window ---------------------------------------------------------------------

    def window(self) -> tuple[dt.date, dt.date]:
        """First and last night on sale."""
        first = self.today()
        return first, first + dt.timedelta(days=self.window_days - 1)

    def in_window(self, night: dt.date) -> bool:
        first, last = self.window()
        return first <= night <= last

    # --- reading --------------------------------------------------------------------------

    def cell(self, prop: Property, room_type: RoomType, night: dt.date) -> Cell | None:
        """One cell, computed with plain integers (the same numbers as `block`, which the tests
        check): a sale or a live price check costs microseconds, not a numpy block."""
        if room_type not in prop.room_types:
            return None
        r, o = RT_INDEX[room_type], night.toordinal()
        changed = self._overlay.get(prop.number, {}).get((r, o))
        if changed is not None:
            a, p, v = changed
            return Cell(hotel_id=prop.hotel_id, room_type=room_type, night=night, available=a,
                        rate_paise=p, version=v)  # fmt: skip
        base = int(self._base_rates(prop.number)[r])
        h = _mix_int(self.catalogue.seed, prop.number, r, o)
        wobble = 0.95 + (h % 11) / 100
        rate = round(base * _night_factor(night) * wobble / 1000) * 1000 if base > 0 else 0
        capacity = int(self._capacity(prop.number)[r])
        available = ((h >> 8) % 1000) * (capacity + 1) // 1000
        if (h >> 20) % 10 == 0 or rate == 0:
            available = 0
        return Cell(hotel_id=prop.hotel_id, room_type=room_type, night=night, available=available,
                    rate_paise=rate, version=self.base_version)  # fmt: skip

    def cells(self, prop: Property, *, first_night: dt.date, nights: int) -> list[Cell]:
        block = self.block(np.array([prop.number]), first_night=first_night, nights=nights)
        out = []
        for rt in prop.room_types:
            r = RT_INDEX[rt]
            for d in range(nights):
                out.append(Cell(
                    hotel_id=prop.hotel_id, room_type=rt,
                    night=first_night + dt.timedelta(days=d),
                    available=int(block.available[0, r, d]), rate_paise=int(block.rate_paise[0, r, d]),
                    version=int(block.version[0, r, d]),
                ))  # fmt: skip
        return out

    def block(self, numbers: npt.NDArray[np.int64], *, first_night: dt.date, nights: int) -> Block:
        numbers = numbers.astype(np.int64)
        base = np.stack([self._base_rates(int(n)) for n in numbers]) if len(numbers) else (
            np.zeros((0, len(ROOM_TYPES)), dtype=np.int64))  # fmt: skip
        first = first_night.toordinal()
        ords = np.arange(first, first + nights, dtype=np.int64)
        n_idx = numbers[:, None, None]
        r_idx = np.arange(len(ROOM_TYPES), dtype=np.int64)[None, :, None]
        o_idx = ords[None, None, :]
        h = _mix(self.catalogue.seed, n_idx, r_idx, o_idx)
        nights_dates = [dt.date.fromordinal(int(o)) for o in ords]
        factor = np.array([_night_factor(d) for d in nights_dates])[None, None, :]
        wobble = 0.95 + (h % 11).astype(np.float64) / 100  # +-5 % a day
        rate = (base[:, :, None] * factor * wobble / 1000).round().astype(np.int64) * 1000
        rate = np.where(base[:, :, None] > 0, rate, 0)
        capacity = np.stack([self._capacity(int(n)) for n in numbers]) if len(numbers) else (
            np.zeros((0, len(ROOM_TYPES)), dtype=np.int64))  # fmt: skip
        avail = ((h >> U64(8)) % U64(1000)).astype(np.int64) * (capacity[:, :, None] + 1) // 1000
        sold_out = ((h >> U64(20)) % U64(10)) == 0
        avail = np.where(sold_out | (rate == 0), 0, avail)
        version = np.full(avail.shape, self.base_version, dtype=np.int64)
        for i, n in enumerate(numbers.tolist()):
            # A copy: a block may be computed in a worker thread while the loop records changes
            # (copying a dict of plain values is one step under the GIL).
            for (r, o), (a, p, v) in dict(self._overlay.get(n, {})).items():
                if first <= o < first + nights:
                    d = o - first
                    avail[i, r, d], rate[i, r, d], version[i, r, d] = a, p, v
        return Block(numbers=numbers, first_night=first_night, available=avail, rate_paise=rate,
                     version=version)  # fmt: skip

    # --- changing -------------------------------------------------------------------------

    def set(
        self,
        prop: Property,
        room_type: RoomType,
        night: dt.date,
        *,
        available: int | None = None,
        rate_paise: int | None = None,
    ) -> Cell:
        """Change one cell at the supplier; the change gets a new, higher version."""
        if room_type not in prop.room_types:
            raise KeyError(f"{prop.hotel_id} has no {room_type.value} rooms")
        current = self.cell(prop, room_type, night)
        if current is None:
            raise KeyError(f"{prop.hotel_id} has no {room_type.value} rooms")
        version = self._next_version()
        a = (current.available or 0) if available is None else available
        p = (current.rate_paise or 0) if rate_paise is None else rate_paise
        self._overlay.setdefault(prop.number, {})[(RT_INDEX[room_type], night.toordinal())] = (
            a, p, version)  # fmt: skip
        return Cell(hotel_id=prop.hotel_id, room_type=room_type, night=night, available=a,
                    rate_paise=p, version=version)  # fmt: skip

    def changed(self) -> int:
        return sum(len(v) for v in self._overlay.values())

    def _next_version(self) -> int:
        self._last_version = max(self._last_version + 1, now_version())
        return self._last_version

    @functools.lru_cache(maxsize=65_536)  # noqa: B019 - one inventory per network, kept for its life
    def _base_rates(self, number: int) -> npt.NDArray[np.int64]:
        prop = self.catalogue.property(number)
        market = _market_factor(len(self.catalogue.span(prop.destination)))
        h = _mix(self.catalogue.seed, np.int64(number), np.int64(7), np.int64(0))
        jitter = 0.85 + float(h % U64(31)) / 100
        rupees = _STAR_RATE_RUPEES[prop.stars] * market * jitter
        return np.array([round(rupees * _ROOM_FACTOR[rt]) * 100 if rt in prop.room_types else 0
                         for rt in ROOM_TYPES], dtype=np.int64)  # fmt: skip

    @functools.lru_cache(maxsize=65_536)  # noqa: B019
    def _capacity(self, number: int) -> npt.NDArray[np.int64]:
        prop = self.catalogue.property(number)
        rooms = _ROOMS_BY_STARS[prop.stars]
        return np.array([rooms if rt in (RoomType.STANDARD, RoomType.DELUXE) else max(2, rooms // 4)
                         for rt in ROOM_TYPES], dtype=np.int64)  # fmt: skip


def _market_factor(properties: int) -> float:
    if properties > 3_000:
        return 1.35
    if properties > 1_000:
        return 1.15
    return 1.0 if properties > 200 else 0.85


def _night_factor(night: dt.date) -> float:
    factor = 1.15 if night.weekday() in (4, 5) else 1.0
    if (night.month, night.day) >= (12, 15) or (night.month, night.day) <= (1, 15):
        factor *= 1.25
    return factor


_M64 = 2**64 - 1


def _mix_int(seed: int, *parts: int) -> int:
    """`_mix` for one set of parts, in plain integers."""
    x = seed * 0x9E3779B97F4A7C15 % 2**64
    for part in parts:
        x ^= part
        x = (x + 0x9E3779B97F4A7C15) & _M64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
        x ^= x >> 31
    return x


def _mix(seed: int, *parts: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    """splitmix64 over the parts, vectorised; the same inputs give the same numbers anywhere."""
    with np.errstate(over="ignore"):
        x: npt.NDArray[np.uint64] = np.asarray(np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64))
        for part in parts:
            x = x ^ np.asarray(part).astype(np.uint64)
            x = x + U64(0x9E3779B97F4A7C15)
            x = (x ^ (x >> U64(30))) * U64(0xBF58476D1CE4E5B9)
            x = (x ^ (x >> U64(27))) * U64(0x94D049BB133111EB)
            x = x ^ (x >> U64(31))
    return np.asarray(x, dtype=np.uint64)
