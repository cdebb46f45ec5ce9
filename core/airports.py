"""Indian airports from ``airportsdata``, with normalised city names and the aliases travellers use."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cache

import airportsdata


class Tier(IntEnum):
    """How busy an airport is; the sandbox supplier derives its schedules from it."""

    METRO = 1
    MAJOR = 2
    REGIONAL = 3
    MINOR = 4


@dataclass(frozen=True, slots=True)
class Airport:
    iata: str
    name: str
    city: str
    state: str
    lat: float
    lon: float
    tz: str
    tier: Tier


# airportsdata carries some old or odd city names; these are what travellers and tickets say.
_CITY_FIXES = {
    "Bangalore": "Bengaluru",
    "Cochin": "Kochi",
    "Trivandrum": "Thiruvananthapuram",
    "Dabolim": "Goa",
    "Mopa": "Goa",
    "New Delhi": "Delhi",
    "Naqpur": "Nagpur",
    "Calicut": "Kozhikode",
    "Mangalore": "Mangaluru",
    "Allahabad": "Prayagraj",
    "Siliguri": "Bagdogra",
    "Mattannur": "Kannur",
    "Nasik": "Nashik",
    "Warrangal": "Warangal",
    "Tiruchirappally": "Tiruchirappalli",
    "Veer Surendra Sai": "Jharsuguda",
    "Gulbarga": "Kalaburagi",
    "Hubli": "Hubballi",
    "Mysore": "Mysuru",
    "Bellary": "Ballari",
    "Shimoga": "Shivamogga",
    "Jewar": "Noida",
}

# Cities missing from airportsdata, by airport.
_CITY_BY_CODE = {
    "AGR": "Agra", "IXG": "Belagavi", "JLR": "Jabalpur", "STV": "Surat", "VGA": "Vijayawada",
    "JSA": "Jaisalmer", "KLH": "Kolhapur", "KUU": "Kullu", "SLV": "Shimla", "DHM": "Dharamshala",
    "PNY": "Puducherry", "TCR": "Thoothukudi", "SXV": "Salem", "DBR": "Darbhanga", "GAY": "Gaya",
    "TEZ": "Tezpur", "KTU": "Kota", "IXW": "Jamshedpur", "MZU": "Muzaffarpur", "KBK": "Kushinagar",
    "RTC": "Ratnagiri", "PAB": "Bilaspur", "DBD": "Dhanbad", "AKD": "Akola", "IXK": "Keshod",
    "COH": "Cooch Behar", "RRK": "Rourkela", "NMB": "Daman", "AGX": "Agatti", "CDP": "Kadapa",
}  # fmt: skip

# Other names a traveller may use for a city (old names, spellings, airports' own names).
_ALIASES = {
    "Bengaluru": ["bangalore", "bengalooru", "blore"],
    "Mumbai": ["bombay"],
    "Kolkata": ["calcutta"],
    "Chennai": ["madras"],
    "Kochi": ["cochin", "ernakulam"],
    "Thiruvananthapuram": ["trivandrum"],
    "Kozhikode": ["calicut"],
    "Mangaluru": ["mangalore"],
    "Prayagraj": ["allahabad"],
    "Bagdogra": ["siliguri", "darjeeling"],
    "Delhi": ["new delhi", "dilli"],
    "Goa": ["panaji", "dabolim", "mopa"],
    "Varanasi": ["banaras", "benaras", "kashi"],
    "Puducherry": ["pondicherry", "pondy"],
    "Vadodara": ["baroda"],
    "Gurugram": ["gurgaon"],
    "Visakhapatnam": ["vizag", "vishakhapatnam"],
    "Mysuru": ["mysore"],
    "Hubballi": ["hubli"],
    "Belagavi": ["belgaum"],
    "Tiruchirappalli": ["trichy", "tiruchirapalli"],
    "Thoothukudi": ["tuticorin"],
    "Port Blair": ["andaman", "sri vijaya puram"],
    "Nashik": ["nasik"],
    "Shivamogga": ["shimoga"],
    "Kalaburagi": ["gulbarga"],
    "Leh": ["ladakh"],
    "Hyderabad": ["secunderabad"],
    "Kullu": ["manali", "kullu manali"],
}

# The primary airport of a city with several (the one a traveller means by the city's name).
_PRIMARY = {"Goa": "GOI", "Hyderabad": "HYD", "Mumbai": "BOM", "Ludhiana": "LUH", "Delhi": "DEL"}

_METRO = {"DEL", "BOM", "BLR", "MAA", "CCU", "HYD"}
_MAJOR = {
    "AMD",
    "COK",
    "GOI",
    "GOX",
    "PNQ",
    "JAI",
    "LKO",
    "GAU",
    "TRV",
    "CCJ",
    "IXC",
    "SXR",
    "PAT",
    "BBI",
    "VNS",
    "IDR",
    "NAG",
    "IXB",
    "ATQ",
    "CJB",
    "VTZ",
    "IXE",
    "IXR",
    "RPR",
    "NMI",
}
_REGIONAL = {
    "BHO", "UDR", "IXZ", "DED", "IXJ", "IXL", "IXM", "TRZ", "VGA", "TIR", "BDQ", "STV", "HSR",
    "IMF", "IXA", "DIB", "AYJ", "JDH", "GOP", "IXU", "CNN", "HBX", "RAJ", "GWL", "DXN", "AGR",
}  # fmt: skip
# Military, closed or unscheduled fields: recognised by name, never offered.
_NOT_SCHEDULED = {
    "AIP",
    "BEK",
    "BUP",
    "CBD",
    "IXP",
    "HDO",
    "TJV",
    "VDY",
    "BPM",
    "IXH",
    "IXN",
    "IXQ",
}


def _tier(code: str) -> Tier:
    if code in _METRO:
        return Tier.METRO
    if code in _MAJOR:
        return Tier.MAJOR
    if code in _REGIONAL:
        return Tier.REGIONAL
    return Tier.MINOR


@dataclass(frozen=True, slots=True, eq=False)
class AirportDirectory:
    by_code: dict[str, Airport]
    by_name: dict[str, str]  # lower-case city name or alias -> primary IATA code
    # lower-case name of a city with an airport outside India -> the city as written
    abroad_cities: dict[str, str] = field(default_factory=dict)

    def get(self, code: str) -> Airport | None:
        return self.by_code.get(code.upper())

    def resolve(self, name: str) -> Airport | None:
        """The airport a traveller means by a code, a city or an alias (case-insensitive)."""
        key = name.strip().lower()
        code = self.by_name.get(key)
        if code is None and len(key) == 3:
            code = key.upper()
        return self.by_code.get(code) if code else None

    def abroad(self, name: str) -> str | None:
        """The city, when `name` is not an Indian airport's city but has an airport abroad."""
        key = name.strip().lower()
        if key in self.by_name:
            return None
        return self.abroad_cities.get(key)

    def scheduled(self) -> list[Airport]:
        return [a for a in self.by_code.values() if a.iata not in _NOT_SCHEDULED]


def distance_km(a: Airport, b: Airport) -> float:
    """Great-circle distance (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


@cache
def load_airports() -> AirportDirectory:
    """Load and normalise India's airports (once per process; ~0.2 s)."""
    by_code: dict[str, Airport] = {}
    abroad: dict[str, str] = {}
    for code, raw in airportsdata.load("IATA").items():
        if raw["country"] != "IN":
            if raw["city"]:
                abroad.setdefault(raw["city"].lower(), raw["city"])
            continue
        city = _CITY_BY_CODE.get(code) or _CITY_FIXES.get(raw["city"], raw["city"]) or raw["name"]
        by_code[code] = Airport(
            iata=code,
            name=raw["name"],
            city=city,
            state=raw["subd"],
            lat=float(raw["lat"]),
            lon=float(raw["lon"]),
            tz=raw["tz"],
            tier=_tier(code),
        )
    by_name: dict[str, str] = {}
    # Busier airports first, so a city with two fields maps to the busier unless told otherwise.
    for airport in sorted(by_code.values(), key=lambda a: (a.tier, a.iata)):
        if airport.iata in _NOT_SCHEDULED:
            continue
        by_name.setdefault(airport.city.lower(), airport.iata)
    by_name.update({city.lower(): code for city, code in _PRIMARY.items()})
    for city, aliases in _ALIASES.items():
        target = by_name.get(city.lower())
        if target is None:
            continue
        for alias in aliases:
            by_name.setdefault(alias, target)
    return AirportDirectory(by_code=by_code, by_name=by_name, abroad_cities=abroad)
