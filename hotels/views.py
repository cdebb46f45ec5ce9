"""Hotel results as every surface shows them (the API, chat, widgets)."""

from __future__ import annotations

from typing import Any

from core.money import rupees
from hotels.models import Property
from hotels.service import HotelOffer, HotelView, RoomOffer, SearchPage


def hotel_json(prop: Property) -> dict[str, Any]:
    return {
        "hotel_id": prop.hotel_id,
        "name": prop.name,
        "stars": prop.stars,
        "city": prop.city,
        "destination": prop.destination,
        "area": prop.area,
        "latitude": prop.latitude,
        "longitude": prop.longitude,
        "source": prop.supplier,
    }


def room_json(room: RoomOffer, *, nights: int, rooms: int) -> dict[str, Any]:
    return {
        "room_type": room.room_type.value,
        "room_name": room.room_type.label,
        "rooms_left": room.rooms_left,
        "price": {
            "currency": "INR",
            "total_paise": room.total_paise,
            "taxes_paise": room.taxes_paise,
            "per_night_paise": room.total_paise // (nights * rooms),
            "display": rupees(room.total_paise),
        },
        "as_of": room.as_of.isoformat(),
    }


def offer_json(offer: HotelOffer, *, nights: int, rooms: int) -> dict[str, Any]:
    return {
        **hotel_json(offer.hotel),
        "cheapest_room": room_json(offer.room, nights=nights, rooms=rooms),
        "total_paise": offer.room.total_paise,
        "as_of": offer.room.as_of.isoformat(),
    }


def page_json(page: SearchPage) -> dict[str, Any]:
    stay = page.stay
    return {
        "destination": {"code": page.destination.code, "name": page.destination.name,
                        "state": page.destination.state, "areas": list(page.destination.areas)},
        "stay": {"check_in": stay.check_in.isoformat(), "check_out": stay.check_out.isoformat(),
                 "nights": stay.nights, "rooms": stay.rooms, "adults": stay.adults,
                 "children": stay.children},
        "matching": page.matching,
        "offset": page.offset,
        "limit": page.limit,
        "results": [offer_json(o, nights=stay.nights, rooms=stay.rooms) for o in page.offers],
    }  # fmt: skip


def view_json(view: HotelView) -> dict[str, Any]:
    stay = view.stay
    return {
        **hotel_json(view.hotel),
        "room_types": [rt.value for rt in view.hotel.room_types],
        "stay": {"check_in": stay.check_in.isoformat(), "check_out": stay.check_out.isoformat(),
                 "nights": stay.nights, "rooms": stay.rooms},
        "rooms": [room_json(r, nights=stay.nights, rooms=stay.rooms) for r in view.rooms],
        "calendar": [{"night": n.night.isoformat(), "cheapest_paise": n.cheapest_paise,
                      "rooms_left": n.rooms_left} for n in view.calendar],
    }  # fmt: skip
