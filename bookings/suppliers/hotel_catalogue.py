"""The sandbox hotel supplier's inventory: a seeded catalogue of hotels in Indian cities and
their room rates, so that a stay's price always comes from the supplier, never from a client.

A hotel id is `sbx-htl-<city>-<nnn>` (`sbx-htl-goa-042`); a city has `HOTELS_PER_CITY` hotels.
Rates depend only on the hotel, the night (weekends and the winter season cost more) and the
number of rooms, so a given stay always has the same price. Tax is GST on hotel rooms as set
in September 2025: 5 % on a night under ₹7,500 a room, 18 % from ₹7,500.
The hotels issue replaces this with real availability sync; the port stays.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

HOTELS_PER_CITY = 120
HOTEL_ID = re.compile(r"^sbx-htl-([a-z]{3})-([0-9]{3})$")

# city code: (name, rate factor). Codes follow the city's main airport.
CITIES: dict[str, tuple[str, float]] = {
    "del": ("New Delhi", 1.20), "bom": ("Mumbai", 1.35), "blr": ("Bengaluru", 1.15),
    "maa": ("Chennai", 1.00), "ccu": ("Kolkata", 0.95), "hyd": ("Hyderabad", 1.00),
    "goa": ("Goa", 1.25), "jai": ("Jaipur", 0.95), "cok": ("Kochi", 0.90),
    "pnq": ("Pune", 0.95), "amd": ("Ahmedabad", 0.90), "lko": ("Lucknow", 0.80),
    "vns": ("Varanasi", 0.80), "ixc": ("Chandigarh", 0.85), "sxr": ("Srinagar", 1.05),
    "udr": ("Udaipur", 1.10), "atq": ("Amritsar", 0.80), "ixb": ("Siliguri", 0.70),
}  # fmt: skip
_KINDS = ("Residency", "Grand", "Inn", "Palace", "Suites", "Heritage Haveli", "Comforts",
          "Retreat", "Regency", "Boutique Stay")  # fmt: skip
_NAMES = ("Tulsi", "Saffron", "Banyan", "Lotus", "Peacock", "Monsoon", "Neem", "Chandni",
          "Kesar", "Ashoka", "Marigold", "Sandal")  # fmt: skip
# Rupees a room-night by star rating, before the city, date and hotel factors.
_BASE_BY_STARS = {2: 1_800, 3: 3_200, 4: 5_600, 5: 9_500}
_GST_THRESHOLD = 7_500 * 100
MAX_NIGHTS = 30
MAX_ROOMS = 9


@dataclass(frozen=True, slots=True)
class SandboxProperty:
    hotel_id: str
    name: str
    city: str
    stars: int
    base_rate_paise: int  # one room, one ordinary night, before tax


def find(hotel_id: str, *, seed: int = 0) -> SandboxProperty | None:
    """The hotel behind an id, or None when the sandbox sells no such hotel."""
    match = HOTEL_ID.match(hotel_id)
    if match is None or match.group(1) not in CITIES:
        return None
    number = int(match.group(2))
    if not 1 <= number <= HOTELS_PER_CITY:
        return None
    city, factor = CITIES[match.group(1)]
    h = _digest(seed, hotel_id)
    stars = 2 + h % 4
    name = f"{_NAMES[(h >> 8) % len(_NAMES)]} {_KINDS[(h >> 16) % len(_KINDS)]} {city}"
    jitter = 0.85 + ((h >> 24) % 31) / 100  # 0.85-1.15
    rate = round(_BASE_BY_STARS[stars] * factor * jitter) * 100
    return SandboxProperty(hotel_id=hotel_id, name=name, city=city, stars=stars,
                           base_rate_paise=rate)  # fmt: skip


def night_rate(hotel: SandboxProperty, night: dt.date) -> int:
    """One room for one night, before tax: Friday and Saturday nights cost 15 % more, and the
    winter season (15 December - 15 January) 25 % more."""
    factor = 1.15 if night.weekday() in (4, 5) else 1.0
    if (night.month, night.day) >= (12, 15) or (night.month, night.day) <= (1, 15):
        factor *= 1.25
    return round(hotel.base_rate_paise * factor / 100) * 100


def stay_price(hotel: SandboxProperty, *, check_in: dt.date, nights: int, rooms: int) -> int:
    """The total for the stay in paise, all rooms and nights, GST included."""
    if not (1 <= nights <= MAX_NIGHTS and 1 <= rooms <= MAX_ROOMS):
        raise ValueError("a stay is 1-30 nights of 1-9 rooms")
    total = 0
    for i in range(nights):
        rate = night_rate(hotel, check_in + dt.timedelta(days=i))
        tax = rate * (18 if rate >= _GST_THRESHOLD else 5) // 100
        total += (rate + tax) * rooms
    return total


def _digest(seed: int, hotel_id: str) -> int:
    raw = hashlib.blake2b(f"{seed}:{hotel_id}".encode(), digest_size=8).digest()
    return int.from_bytes(raw, "big")
