"""The flights skill: search, resolve "the second one", review at the live price, and book
through the booking service once the traveller says yes."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any

from bookings.models import BookingStatus, Contact, FlightSelection, Traveller
from bookings.service import BookingOrder, BookingService
from bookings.views import booking_data
from core.airports import AirportDirectory
from core.errors import InvalidRequestError, SupplierError
from core.logging import get_logger
from core.money import rupees
from fares.models import Cabin, FareOffer, FareQuery, Passengers, cheapest_per_flight
from fares.service import FareService
from fares.views import offer_json, result_json
from sessions.passengers import passenger_type
from sessions.replies import QUESTIONS, long_date, place, search_reply
from sessions.skills.checkout import place_order
from sessions.skills.party import contact_words, who
from sessions.state import Frame, ShownOffer
from sessions.turn import Next, Turn

log = get_logger(__name__)

MAX_SHOWN = 10


class FlightsSkill:
    def __init__(
        self, *, fares: FareService, bookings: BookingService | None, airports: AirportDirectory
    ) -> None:
        self._fares = fares
        self._bookings = bookings
        self._airports = airports

    # --- search ----------------------------------------------------------------------------

    async def search(self, turn: Turn, frame: Frame) -> Next:
        slots = frame.slots
        day = dt.date.fromisoformat(str(slots["date"]))
        if day < turn.today:
            slots.pop("date")
            turn.say(f"That date has passed ({long_date(day)} {day.year}).")
            return Next.RETRY
        query = _query(slots)
        try:
            result = await self._fares.search(query)
        except InvalidRequestError as e:
            turn.say(f"I can't search that: {e.detail}.")
            return Next.END
        except SupplierError:
            log.warning("fare search failed", route=query.key)
            turn.say(f"The airlines aren't answering right now for {self._route(query)} on "
                     f"{long_date(query.date)}. Please try again in a minute.")  # fmt: skip
            turn.data["problem"] = "supplier_unavailable"
            return Next.END
        shown = cheapest_per_flight(result.offers)[:MAX_SHOWN]
        wanted = frame.data.get("keep_flight")
        kept = self._kept(frame, result.offers)
        if kept is not None and kept not in shown:
            shown.append(kept)
        turn.state.offers = [_shown(o) for o in shown]
        turn.state.search = {k: v for k, v in slots.items() if k in _SEARCH_KEYS}
        party = query.passengers.describe()
        if kept is not None:  # the party changed mid-booking: the same flight, priced again
            if wanted and kept.fare_family != wanted[1]:
                turn.say(f"The {wanted[1]} fare on {kept.flight_number} has no seats for "
                         f"{party}, so I've priced it in {kept.fare_family}.")  # fmt: skip
            else:
                turn.say(f"For {party}, I've priced your flight again.")
        else:
            if wanted:  # the flight chosen cannot take the new party: say so, then the choice
                turn.say(f"{wanted[0]} has no seats left for {party}.")
            turn.say(search_reply(result, self._airports, brief=turn.channel != "chat"))
        turn.data.update(result_json(result))
        turn.data["offers"] = [offer_json(o) for o in shown]
        return Next.DONE if shown else Next.END

    def _kept(self, frame: Frame, offers: Sequence[FareOffer]) -> FareOffer | None:
        """The flight chosen before the party changed, in the new search's offers."""
        kept = frame.data.get("keep_flight")
        if not kept:
            return None
        same = [o for o in offers if o.flight_number == kept[0]]
        # Its fare family when that still has seats for the party, else its cheapest one.
        found = next((o for o in same if o.fare_family == kept[1]), None) or min(
            same, key=lambda o: o.price.total, default=None
        )
        if found is None:
            frame.data.pop("keep_flight", None)
        else:
            frame.data["keep_flight"] = [found.flight_number, found.fare_family]
        return found

    def _route(self, query: FareQuery) -> str:
        return (
            f"{place(query.origin, self._airports)} to {place(query.destination, self._airports)}"
        )

    # --- choosing an offer ------------------------------------------------------------------

    def choose(self, turn: Turn, frame: Frame) -> bool:
        """Fill `offer` from what the traveller referred to ("the cheapest", "the second
        one", "the 6 am IndiGo one"); False when nothing shown matches."""
        ref = frame.slots.pop("offer_ref", None)
        offers = turn.state.offers
        kept = frame.data.pop("keep_flight", None)
        if not isinstance(ref, dict) and kept and offers:
            # The party changed after a flight was chosen: the same flight, newly priced.
            ref = {"flight_number": kept[0], "fare_family": kept[1]}
        if not isinstance(ref, dict) or not offers:
            return False
        chosen = resolve_offer(ref, offers)
        if chosen is None:
            return False
        frame.slots["offer"] = chosen.model_dump(mode="json")
        return True

    def ask_choice(self, turn: Turn) -> None:
        offers = turn.state.offers
        if not offers:
            turn.say(QUESTIONS["origin"])
            return
        turn.say("Which flight would you like? Say, for example, “the cheapest” or “the "
                 "second one”.")  # fmt: skip

    # --- review and book -------------------------------------------------------------------

    async def review(self, turn: Turn, frame: Frame) -> Next:
        """Price the chosen flight again and read the booking back; the confirm step asks."""
        offer = ShownOffer.model_validate(frame.slots["offer"])
        party = offer.adults + offer.children + offer.infants
        names = frame.slots["travellers"]
        if len(names) != party:
            frame.slots.pop("travellers")
            turn.say(f"I need {party} passenger name{'s' if party > 1 else ''}, one for each "
                     "traveller.")  # fmt: skip
            return Next.RETRY
        try:
            live = await self._live(offer)
        except SupplierError:
            # Nothing is lost: the next turn ("try again") walks back to this step.
            turn.say(f"The airline isn't answering right now, so I can't confirm the price of "
                     f"{offer.carrier} {offer.flight_number}. Say “try again” in a minute.")  # fmt: skip
            turn.data["problem"] = "supplier_unavailable"
            return Next.WAIT
        if live is None:
            turn.say(f"{offer.carrier} {offer.flight_number} can't be booked any more. Here is "
                     "what is available now.")  # fmt: skip
            frame.slots.pop("offer", None)
            frame.done = [d for d in frame.done if d != "search"]
            return Next.RETRY
        total = live.price.total
        if total != offer.total_paise:
            turn.say(f"The price has changed from {rupees(offer.total_paise)} to "
                     f"{rupees(total)}.")  # fmt: skip
        turn.say(
            f"Here is the booking: {offer.carrier} {offer.flight_number} from "
            f"{place(offer.origin, self._airports)} to {place(offer.destination, self._airports)} "
            f"on {long_date(offer.departure.date())}, leaving at {offer.departure:%H:%M}, for "
            f"{who(names, travel_date=offer.departure.date())}. The total is {rupees(total)}."
        )
        if frame.slots["contact"].get("from_profile"):
            turn.say(f"The tickets go to {contact_words(frame.slots['contact'])}.")
        frame.data["review"] = {"id": secrets.token_urlsafe(8), "total_paise": total}
        return Next.DONE

    async def _live(self, offer: ShownOffer) -> FareOffer | None:
        query = FareQuery(origin=offer.origin, destination=offer.destination,
                          date=offer.departure.date(),
                          passengers=Passengers(offer.adults, offer.children, offer.infants),
                          cabin=Cabin(offer.cabin))  # fmt: skip
        result = await self._fares.search(query)
        found = next((o for o in result.offers
                      if (o.flight_number, o.fare_family) == (offer.flight_number,
                                                              offer.fare_family)), None)  # fmt: skip
        if found is None:
            return None
        repriced = await self._fares.reprice(found)
        return repriced.offer

    async def place_booking(self, turn: Turn, frame: Frame) -> Next:
        if self._bookings is None or turn.traveller_id is None:
            turn.say("Bookings are not available right now.")
            return Next.END
        offer = ShownOffer.model_validate(frame.slots["offer"])
        review = frame.data["review"]
        contact = frame.slots["contact"]
        order = BookingOrder(
            expected_total_paise=int(review["total_paise"]),
            travellers=tuple(_traveller(t, travel_date=offer.departure.date())
                             for t in frame.slots["travellers"]),
            contact=Contact(email=contact["email"], phone=contact["phone"]),
            flight=FlightSelection(origin=offer.origin, destination=offer.destination,
                                   date=offer.departure.date(), flight_number=offer.flight_number,
                                   fare_family=offer.fare_family, cabin=_cabin(offer.cabin),
                                   adults=offer.adults, children=offer.children,
                                   infants=offer.infants),
        )  # fmt: skip
        answer = await place_order(
            self._bookings, turn, order, traveller_id=turn.traveller_id, review_id=review["id"]
        )
        if answer is None:
            return Next.END
        record, outcome = answer.record, answer.outcome
        turn.data["booking"] = booking_data(record)
        if record.status is BookingStatus.CONFIRMED:
            turn.say(f"Booked! Your PNR is {record.refs.hold_id}. {rupees(record.paid_paise)} "
                     "was charged, and the ticket is on its way to your email.")  # fmt: skip
            return Next.END
        if record.status is BookingStatus.PRICE_CHANGED and outcome and outcome.new_total_paise:
            new_total = outcome.new_total_paise
            turn.say(f"The airline's price changed to {rupees(new_total)} just now, so nothing "
                     f"was charged. Shall I book it at {rupees(new_total)}?")  # fmt: skip
            frame.data["review"] = {"id": secrets.token_urlsafe(8), "total_paise": new_total}
            frame.done = [d for d in frame.done if d not in ("confirm_book", "place_booking")]
            turn.state.expecting = "confirmation"
            return Next.WAIT
        if record.status is BookingStatus.PENDING:
            turn.say("Your booking is being confirmed with the airline; ask me for its status "
                     "in a minute.")  # fmt: skip
            return Next.END
        detail = (outcome.detail if outcome else "") or "the airline or the payment said no"
        turn.say(f"I couldn't complete the booking ({detail}). Nothing was charged.")
        return Next.END


_SEARCH_KEYS = ("origin", "destination", "date", "adults", "children", "infants", "cabin")


def _query(slots: dict[str, Any]) -> FareQuery:
    return FareQuery(
        origin=str(slots["origin"]),
        destination=str(slots["destination"]),
        date=dt.date.fromisoformat(str(slots["date"])),
        passengers=Passengers(
            int(slots.get("adults") or 1),
            int(slots.get("children") or 0),
            int(slots.get("infants") or 0),
        ),  # fmt: skip
        cabin=Cabin(slots["cabin"]) if slots.get("cabin") else Cabin.ECONOMY,
    )


def _traveller(person: dict[str, Any], *, travel_date: dt.date) -> Traveller:
    born = person.get("date_of_birth")
    if not born:
        return Traveller(first_name=person["first_name"], last_name=person["last_name"])
    return Traveller(first_name=person["first_name"], last_name=person["last_name"],
                     passenger_type=passenger_type(person, travel_date=travel_date),
                     date_of_birth=dt.date.fromisoformat(str(born)))  # fmt: skip


def _cabin(value: str) -> Any:
    return value if value in ("economy", "premium_economy", "business") else "economy"


def _shown(offer: FareOffer) -> ShownOffer:
    return ShownOffer(
        offer_id=offer.offer_id, carrier=offer.carrier_name, carrier_code=offer.carrier_code,
        flight_number=offer.flight_number, fare_family=offer.fare_family,
        cabin=offer.cabin.value, origin=offer.origin, destination=offer.destination,
        departure=offer.departure, arrival=offer.arrival, total_paise=offer.price.total,
        adults=offer.passengers.adults, children=offer.passengers.children,
        infants=offer.passengers.infants,
    )  # fmt: skip


def resolve_offer(ref: dict[str, Any], offers: list[ShownOffer]) -> ShownOffer | None:
    """The shown offer a reference names: an ordinal, the cheapest / earliest / latest, a
    carrier, a departure time (nearest within an hour), or a combination."""
    pool = list(offers)
    if number := ref.get("flight_number"):
        family = ref.get("fare_family")
        pool = [o for o in pool if o.flight_number == number and family in (None, o.fare_family)]
        return pool[0] if pool else None
    if code := ref.get("carrier"):
        pool = [o for o in pool if o.carrier_code.upper() == str(code).upper()]
    if when := ref.get("time"):
        hours, _, minutes = str(when).partition(":")
        wanted = int(hours) * 60 + int(minutes or 0)

        def gap(o: ShownOffer) -> int:
            return abs(o.departure.hour * 60 + o.departure.minute - wanted)

        pool = sorted((o for o in pool if gap(o) <= 60), key=gap)
    if not pool:
        return None
    if (n := ref.get("ordinal")) is not None:
        index = int(n) - 1 if int(n) > 0 else len(pool) + int(n)  # -1: the last one
        return pool[index] if 0 <= index < len(pool) else None
    if ref.get("cheapest"):
        return min(pool, key=lambda o: o.total_paise)
    if ref.get("earliest"):
        return min(pool, key=lambda o: o.departure)
    if ref.get("latest"):
        return max(pool, key=lambda o: o.departure)
    return pool[0] if len(pool) == 1 or ref.get("time") or ref.get("carrier") else None
