"""The hotels skill: a stay searched in any place the hotel catalogue knows, three options read
out briefly, "the second one" / "the cheapest" / a hotel's name resolved, the room checked again
and read back, and booked through the booking service once the traveller says yes."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any

from bookings.models import BookingStatus, Contact, HotelSelection, Traveller
from bookings.service import BookingOrder, BookingService
from bookings.views import booking_data
from core.airports import AirportDirectory
from core.errors import InvalidRequestError
from core.logging import get_logger
from core.money import rupees
from hotels.models import Destination, RoomType
from hotels.service import HotelService, StayRequest, UnknownDestinationError
from sessions import commands as cmd
from sessions.replies import long_date
from sessions.skills.checkout import place_order
from sessions.skills.party import contact_words, spoken_list
from sessions.state import Frame
from sessions.turn import Next, Turn

log = get_logger(__name__)

SHOWN = 3
MAX_ROOM_GUESTS = 4  # the largest room (a family room): more guests need another room
# Words after which a place to stay is named ("in Munnar", "near Calangute"), and the Hinglish
# form where the place comes first ("Goa mein").
_PLACE_AFTER = re.compile(r"\b(?:in|at|near|around)\s+((?:[A-Za-z][\w'.-]*\s*){1,3})", re.I)
_PLACE_BEFORE = re.compile(r"((?:[A-Za-z][\w'.-]*\s+){1,3})(?:mein|main)\b", re.I)
_CHECK_IN = re.compile(r"\bcheck[- ]?in\b", re.I)
# Words that end a place's name or are none ("in on 22 December", "at the cheapest").
_NOT_PLACE = frozenset(
    str.split(
        "a an the on for from to till until under below within with and or of my our this next "
        "coming tomorrow today tonight kal aaj parso hotel hotels room rooms stay ek se ko ka ki "
        "chahiye chaiye hai night nights raat din days star budget"
    )
)
_STARS = re.compile(r"\b([1-5]|one|two|three|four|five)[\s-]*(?:star|sitara)s?\b", re.I)
_STAR_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_NAME_NOISE = frozenset({"the", "hotel", "one", "book", "take", "i'll", "please", "resort", "inn"})


def stars_in(text: str) -> int | None:
    """A star rating asked for ("a 4 star hotel", "five-star")."""
    found = _STARS.search(text)
    if found is None:
        return None
    raw = found.group(1).lower()
    return int(raw) if raw.isdigit() else _STAR_WORDS[raw]


def place_words(text: str) -> list[str]:
    """The words a place to stay may be named by, longest reading first."""
    text = _CHECK_IN.sub(" ", text)
    out: list[str] = []
    for found in _PLACE_AFTER.finditer(text):
        words = found.group(1).split()
        cut = next((i for i, w in enumerate(words) if w.lower() in _NOT_PLACE), len(words))
        out.extend(" ".join(words[:n]) for n in range(cut, 0, -1))
    for found in _PLACE_BEFORE.finditer(text):
        words = found.group(1).split()
        cut = next((i for i, w in enumerate(reversed(words)) if w.lower() in _NOT_PLACE),
                   len(words))  # fmt: skip
        out.extend(" ".join(words[len(words) - n :]) for n in range(1, cut + 1))
    return out


class HotelsSkill:
    def __init__(
        self,
        *,
        hotels: HotelService | None,
        bookings: BookingService | None,
        airports: AirportDirectory,
    ) -> None:
        self._hotels = hotels
        self._bookings = bookings
        self._airports = airports

    @property
    def available(self) -> bool:
        return self._hotels is not None

    # --- understanding ---------------------------------------------------------------------

    def slots_in(self, text: str, said: dict[str, Any], *, new: bool) -> dict[str, Any]:
        """Hotel slots the general parser does not read: the stars asked for, and a place
        with no airport ("Munnar") that the hotel catalogue knows; when `new` (a search
        starts, or a city was asked for), an unknown place's words too, to say so."""
        slots: dict[str, Any] = {}
        if (stars := stars_in(text)) is not None:
            slots["stars"] = stars
        if said.get("city") is None and self._hotels is not None:
            heard = place_words(text)
            known = next((w for w in heard if self._hotels.catalogue.resolve(w)), None)
            if known is not None:
                slots["city"] = known
            elif heard and new:
                slots["city"] = heard[0]
        return slots

    def commands(
        self, turn: Turn, commands: list[cmd.Command], *, expected: str | None
    ) -> list[cmd.Command]:
        """A turn's commands with what only this skill reads: stars, a place without an
        airport, a shown hotel named by its words."""
        top = turn.state.top
        stay = top if top is not None and top.flow == "book_hotel" else None
        said = any(isinstance(c, cmd.SetSlots | cmd.StartFlow) and c.slots for c in commands)
        named = self.named(turn.text, stay) if stay is not None else None
        if expected == "choice" and not said and named is not None:
            return [cmd.SetSlots({"offer_ref": named})]
        out: list[cmd.Command] = []
        for c in commands:
            if isinstance(c, cmd.StartFlow) and c.flow == "book_hotel":
                c = cmd.StartFlow(c.flow, c.slots | self.slots_in(turn.text, c.slots, new=True))
            elif isinstance(c, cmd.SetSlots) and stay is not None:
                c = cmd.SetSlots(c.slots | self.slots_in(turn.text, c.slots,
                                                         new=expected == "slot:city"))  # fmt: skip
            out.append(c)
        if stay is not None and expected == "slot:city" and not said \
                and isinstance(out[0], cmd.CannotHandle):  # fmt: skip
            extra = self.slots_in(turn.text, {}, new=True)
            return [cmd.SetSlots(extra)] if extra else out
        return out

    def named(self, text: str, frame: Frame) -> dict[str, Any] | None:
        """A shown hotel named by its words ("the Sea Breeze one")."""
        words = {w for w in re.findall(r"[a-z]+", text.lower()) if w not in _NAME_NOISE}
        if not words:
            return None
        hits = [o for o in frame.data.get("shown") or []
                if words & set(re.findall(r"[a-z]+", str(o["name"]).lower())) - _NAME_NOISE]  # fmt: skip
        return {"hotel_id": hits[0]["hotel_id"]} if len(hits) == 1 else None

    # --- the stay ----------------------------------------------------------------------------

    def fill_nights(self, turn: Turn, frame: Frame) -> bool:
        """Nights from a check-out date when one was said; False after asking."""
        if _nights_from_check_out(frame):
            return True
        turn.say("How many nights will you stay?")
        return False

    def _destination(self, turn: Turn, frame: Frame) -> Destination | None:
        assert self._hotels is not None
        said = str(frame.slots["city"])
        place = self._airports.get(said)
        for name in (said, place.city if place else None):
            if name and (found := self._hotels.catalogue.resolve(name)) is not None:
                return found
        frame.slots.pop("city")
        turn.say(f"I couldn't find hotels in “{place.city if place else said}”.")
        return None

    async def search(self, turn: Turn, frame: Frame) -> Next:
        if self._hotels is None:
            turn.say("I can't search hotels right now.")
            return Next.END
        _nights_from_check_out(frame)
        slots = frame.slots
        destination = self._destination(turn, frame)
        if destination is None:
            return Next.RETRY
        check_in = dt.date.fromisoformat(str(slots["check_in"]))
        if check_in < turn.today:
            slots.pop("check_in")
            turn.say(f"That date has passed ({long_date(check_in)} {check_in.year}).")
            return Next.RETRY
        stay = _stay(slots, check_in=check_in)
        stars = [int(slots["stars"])] if slots.get("stars") else []
        budget = int(slots["budget"]) if slots.get("budget") else None
        gone = set(frame.data.get("gone") or [])  # refused at checkout: not offered again
        try:
            page = await self._hotels.search(city=destination.code, stay=stay, stars=stars,
                                             max_price_paise=budget, limit=SHOWN + len(gone))  # fmt: skip
        except UnknownDestinationError:
            slots.pop("city")
            turn.say("I couldn't find hotels there.")
            return Next.RETRY
        except InvalidRequestError as e:
            turn.say(f"I can't search that stay: {e.detail}.")
            return Next.END
        shown = [_shown(o.hotel.hotel_id, o.hotel.name, o.hotel.stars, o.hotel.area,
                        o.room.room_type, o.room.total_paise, o.room.taxes_paise)
                 for o in page.offers if o.hotel.hotel_id not in gone][:SHOWN]  # fmt: skip
        frame.data["shown"] = shown
        frame.data["stay"] = {"city": destination.name, "check_in": check_in.isoformat(),
                              "nights": stay.nights, "rooms": stay.rooms}  # fmt: skip
        turn.data["hotels"] = shown
        turn.data["stay"] = frame.data["stay"] | {"adults": stay.adults, "children": stay.children,
                                                  "max_price_paise": budget, "stars": stars}  # fmt: skip
        when = f"from {long_date(check_in)} for {_nights(stay.nights)}"
        limits = (f"{stars[0]}-star " if stars else "") + "hotels"
        under = f" under {rupees(budget)} a night" if budget else ""
        if not shown:
            turn.say(f"I couldn't find {limits} in {destination.name}{under} {when}. Would you "
                     "like to change the dates or the budget?")  # fmt: skip
            return Next.END
        rooms = f", {stay.rooms} rooms" if stay.rooms > 1 else ""
        lines = "; ".join(f"{i}: {_line(o)}" for i, o in enumerate(shown, start=1))
        turn.cache["hotels_listed"] = True
        found = f"Here is 1 {limits[:-1]}" if len(shown) == 1 else f"Here are {len(shown)} {limits}"
        turn.say(f"{found} in {destination.name}{under} {when}{rooms}, "
                 f"totals with taxes: {lines}. Which one would you like?")  # fmt: skip
        return Next.DONE

    # --- choosing ------------------------------------------------------------------------------

    def choose(self, turn: Turn, frame: Frame) -> bool:
        """Fill `hotel` from what the traveller referred to; False when nothing shown matches."""
        ref = frame.slots.pop("offer_ref", None)
        shown: list[dict[str, Any]] = frame.data.get("shown") or []
        if not isinstance(ref, dict) or not shown:
            return False
        chosen: dict[str, Any] | None = None
        if hotel_id := ref.get("hotel_id"):
            chosen = next((o for o in shown if o["hotel_id"] == hotel_id), None)
        elif (n := ref.get("ordinal")) is not None:
            index = int(n) - 1 if int(n) > 0 else len(shown) + int(n)
            chosen = shown[index] if 0 <= index < len(shown) else None
        elif ref.get("cheapest"):
            chosen = min(shown, key=lambda o: int(o["total_paise"]))
        if chosen is None:
            return False
        frame.slots["hotel"] = dict(chosen)
        return True

    def ask_choice(self, turn: Turn, frame: Frame) -> None:
        if turn.cache.get("hotels_listed"):
            return  # the list just read out ends with the question
        names = [str(o["name"]) for o in frame.data.get("shown") or []]
        turn.say(f"Which hotel would you like: {spoken_list(names)}? You can say “the cheapest” "
                 "or “the second one”.")  # fmt: skip

    def ask_guests(self, turn: Turn) -> None:
        turn.say("Whose name should the booking be in? Please give each guest's full name as "
                 "on their ID.")  # fmt: skip

    # --- review and book ---------------------------------------------------------------------

    async def review(self, turn: Turn, frame: Frame) -> Next:
        """Check the room again and read the booking back; the confirm step asks."""
        assert self._hotels is not None
        chosen = frame.slots["hotel"]
        stay = _stay(frame.slots, check_in=dt.date.fromisoformat(str(frame.slots["check_in"])))
        prop = self._hotels.catalogue.get(str(chosen["hotel_id"]))
        rooms = await self._hotels.rooms(prop, stay) if prop is not None else []
        room = next((r for r in rooms if r.room_type.value == chosen["room_type"]), None)
        if room is None:
            turn.say(f"The {_room(chosen)} at {chosen['name']} has just sold out. Here is what "
                     "is available now.")  # fmt: skip
            _search_again(frame)
            return Next.RETRY
        total = room.total_paise
        if total != int(chosen["total_paise"]):
            turn.say(f"The price has changed from {rupees(int(chosen['total_paise']))} to "
                     f"{rupees(total)}.")  # fmt: skip
            chosen["total_paise"] = total
        names = [f"{t['first_name']} {t['last_name']}" for t in frame.slots["travellers"]]
        out = stay.check_out
        turn.say(f"Here is the booking: {chosen['name']}, {_stars(int(chosen['stars']))} in "
                 f"{chosen['area']}, {frame.data['stay']['city']}: {_room(chosen, stay.rooms)}, "
                 f"check-in {long_date(stay.check_in)}, check-out {long_date(out)} "
                 f"({_nights(stay.nights)}), in the name of {spoken_list(names)}. The total is "
                 f"{rupees(total)} including taxes.")  # fmt: skip
        if frame.slots["contact"].get("from_profile"):
            turn.say(f"The confirmation goes to {contact_words(frame.slots['contact'])}.")
        frame.data["review"] = {"id": secrets.token_urlsafe(8), "total_paise": total}
        return Next.DONE

    async def place_booking(self, turn: Turn, frame: Frame) -> Next:
        if self._bookings is None or turn.traveller_id is None:
            turn.say("Bookings are not available right now.")
            return Next.END
        chosen = frame.slots["hotel"]
        review = frame.data["review"]
        contact = frame.slots["contact"]
        total = int(review["total_paise"])
        selection: dict[str, Any] = {
            "hotel_id": chosen["hotel_id"], "check_in": frame.slots["check_in"],
            "nights": int(frame.slots["nights"]), "rooms": int(frame.data["stay"]["rooms"]),
            "price_paise": total,
        }  # fmt: skip
        if "room_type" in HotelSelection.model_fields:
            selection["room_type"] = chosen["room_type"]
        order = BookingOrder(
            expected_total_paise=total,
            travellers=tuple(Traveller(first_name=t["first_name"], last_name=t["last_name"])
                             for t in frame.slots["travellers"]),
            contact=Contact(email=contact["email"], phone=contact["phone"]),
            hotel=HotelSelection.model_validate(selection),
        )  # fmt: skip
        answer = await place_order(
            self._bookings, turn, order, traveller_id=turn.traveller_id, review_id=review["id"]
        )
        if answer is None:
            return Next.END
        record, outcome = answer.record, answer.outcome
        turn.data["booking"] = booking_data(record)
        turn.data["hotel_booking"] = record.hotel.model_dump(mode="json") if record.hotel else None
        if record.status is BookingStatus.CONFIRMED:
            ref = record.refs.hotel_confirmation or record.refs.hold_id or record.booking_id
            turn.say(f"Booked! Your confirmation number is {ref}. {rupees(record.paid_paise)} "
                     "was charged, and the confirmation is on its way to your email.")  # fmt: skip
            return Next.END
        if record.status is BookingStatus.PRICE_CHANGED and outcome and outcome.new_total_paise:
            new_total = outcome.new_total_paise
            turn.say(f"The hotel's price for this stay changed to {rupees(new_total)} just now "
                     f"(it was {rupees(total)}), so nothing was charged. Shall I book it at "
                     f"{rupees(new_total)}?")  # fmt: skip
            chosen["total_paise"] = new_total
            frame.data["review"] = {"id": secrets.token_urlsafe(8), "total_paise": new_total}
            frame.done = [d for d in frame.done if d not in ("confirm_book", "place_hotel")]
            turn.state.expecting = "confirmation"
            return Next.WAIT
        if record.status is BookingStatus.PENDING:
            turn.say("Your booking is being confirmed with the hotel; ask me for its status in "
                     "a minute.")  # fmt: skip
            return Next.END
        if outcome is not None and (outcome.failed_step or "").startswith("hotel"):
            turn.say(f"{chosen['name']} can't take the booking any more ({outcome.detail}), so "
                     "nothing was charged. Here is what is available now.")  # fmt: skip
            frame.data.setdefault("gone", []).append(chosen["hotel_id"])
            _search_again(frame)
            return Next.RETRY
        detail = (outcome.detail if outcome else "") or "the hotel or the payment said no"
        turn.say(f"I couldn't complete the booking ({detail}). Nothing was charged.")
        return Next.END


def _nights_from_check_out(frame: Frame) -> bool:
    """A check-out date said ("from 22 Dec to 24 Dec") becomes the number of nights."""
    out, check_in = frame.slots.pop("check_out", None), frame.slots.get("check_in")
    if out is None or check_in is None:
        if out is not None:
            frame.slots["check_out"] = out
        return False
    nights = (dt.date.fromisoformat(str(out)) - dt.date.fromisoformat(str(check_in))).days
    if nights < 1:
        return False
    frame.slots["nights"] = nights
    return True


def _stay(slots: dict[str, Any], *, check_in: dt.date) -> StayRequest:
    adults = int(slots.get("adults") or 1)
    children = int(slots.get("children") or 0)
    rooms = int(slots.get("rooms") or -(-(adults + children) // MAX_ROOM_GUESTS))
    return StayRequest(check_in=check_in, nights=int(slots["nights"]), rooms=rooms,
                       adults=adults, children=children)  # fmt: skip


def _search_again(frame: Frame) -> None:
    frame.slots.pop("hotel", None)
    frame.done = [d for d in frame.done if d not in
                  ("hotel_search", "hotel_review", "confirm_book", "place_hotel")]  # fmt: skip


def _shown(hotel_id: str, name: str, stars: int, area: str, room_type: RoomType, total: int,
           taxes: int) -> dict[str, Any]:  # fmt: skip
    return {"hotel_id": hotel_id, "name": name, "stars": stars, "area": area,
            "room_type": room_type.value, "total_paise": total, "taxes_paise": taxes}  # fmt: skip


def _line(offer: dict[str, Any]) -> str:
    return (f"{offer['name']}, {_stars(int(offer['stars']))}, {offer['area']}, "
            f"{rupees(int(offer['total_paise']))}")  # fmt: skip


def _stars(n: int) -> str:
    return f"{n}-star"


def _room(offer: dict[str, Any], rooms: int = 1) -> str:
    label = RoomType(offer["room_type"]).label.lower()
    return label if rooms == 1 else f"{rooms} × {label}"


def _nights(n: int) -> str:
    return f"{n} night{'' if n == 1 else 's'}"
