"""The party skill: who is travelling and where the tickets go. Names are taken from what the
traveller says or from their saved passengers ("me and my wife"); children and infants are
booked with a date of birth, and their age on the travel date decides what they fly as; the
contact details default to the traveller's profile."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from bookings.profiles import ProfileStore, TravellerProfile
from core.phones import ending
from sessions.details import details_in
from sessions.passengers import as_travellers, birth_dates_in, party_of, passenger_type, saved_in
from sessions.state import Frame
from sessions.turn import Turn

SetSlots = Callable[[Frame, dict[str, Any]], None]
COUNTS = ("adults", "children", "infants")


class PartySkill:
    def __init__(self, *, profiles: ProfileStore | None, set_slots: SetSlots) -> None:
        self._profiles = profiles
        self._set_slots = set_slots

    async def profile(self, turn: Turn) -> TravellerProfile | None:
        if self._profiles is None or turn.traveller_id is None:
            return None
        if "profile" not in turn.cache:
            turn.cache["profile"] = await self._profiles.get(turn.traveller_id)
        profile = turn.cache["profile"]
        return profile if isinstance(profile, TravellerProfile) else None

    # --- understanding a traveller-details answer ------------------------------------------

    async def details(self, turn: Turn, frame: Frame, *, parsed_names: Any) -> dict[str, Any]:
        """The slots a traveller-details answer fills, in the order they must be set: counts
        (when saved passengers change the party), then names, birth dates and contact."""
        slots: dict[str, Any] = {}
        said = details_in(turn.text, parsed_names=parsed_names)
        profile = await self.profile(turn)
        names = list(said.get("travellers") or [])
        if profile is not None and frame.slots.get("travellers") is None:
            picked = saved_in(turn.text, profile.passengers)
            if picked:
                known = {(p.first_name.lower(), p.last_name.lower()) for p in picked}
                extra = [n for n in names
                         if (n["first_name"].lower(), n["last_name"].lower()) not in known
                         and n["first_name"].lower() not in {k[0] for k in known}]  # fmt: skip
                names = as_travellers(picked) + extra
                slots |= self._party_change(frame, names)
        if names and frame.slots.get("travellers") is None:
            slots["travellers"] = names
        elif frame.slots.get("travellers") is not None and frame.slots.get("birth_dates") is None:
            wanted = [_name(t) for t in frame.slots["travellers"] if "date_of_birth" not in t]
            if dates := birth_dates_in(turn.text, wanted, today=turn.today):
                slots["birth_dates_said"] = dates
        if "contact_partial" in said:
            slots["contact_partial"] = said["contact_partial"]
        return slots

    def _party_change(self, frame: Frame, travellers: list[dict[str, Any]]) -> dict[str, Any]:
        """New counts when the named passengers make a different party than the one searched,
        keeping the chosen flight to pick again from the new search."""
        travel_date = _travel_date(frame)
        counts = party_of(travellers, travel_date=travel_date) if travel_date else None
        if counts is None:
            counts = {"adults": len(travellers), "children": 0, "infants": 0}
        current = {k: int(frame.slots.get(k) or (1 if k == "adults" else 0)) for k in COUNTS}
        if counts == current:
            return {}
        if isinstance(offer := frame.slots.get("offer"), dict):
            frame.data["keep_flight"] = [offer.get("flight_number"), offer.get("fare_family")]
        return dict(counts)

    # --- filling the flow's slots ----------------------------------------------------------

    async def ask_travellers(self, turn: Turn) -> None:
        profile = await self.profile(turn)
        if profile is None or not profile.passengers:
            turn.say("Who is travelling? Please give each passenger's full name as on their ID.")
            return
        saved = [p.full_name + (" (you)" if p.relation == "self" else "")
                 for p in profile.passengers]  # fmt: skip
        turn.say("Who is travelling? You can say “just me”, “me and " +
                 next((p.first_name for p in profile.passengers if p.relation != "self"),
                      "Rahul") +
                 "”, or give each passenger's full name as on their ID. Saved travellers: " +
                 spoken_list(saved) + ".")  # fmt: skip

    def fill_birth_dates(self, turn: Turn, frame: Frame) -> bool:
        """True when every child and infant has a date of birth that fits the party."""
        travellers: list[dict[str, Any]] = frame.slots["travellers"]
        for name, born in (frame.slots.pop("birth_dates_said", None) or {}).items():
            for person in travellers:
                if _name(person) == name:
                    person["date_of_birth"] = born
        young = int(frame.slots.get("children") or 0) + int(frame.slots.get("infants") or 0)
        travel_date = _travel_date(frame)
        dated = [t for t in travellers if "date_of_birth" in t]
        if travel_date is not None and (young or dated):
            counts = party_of(travellers, travel_date=travel_date) or {}
            kids = counts.get("children", 0) + counts.get("infants", 0)
            if young and kids < young:
                missing = [_name(t) for t in travellers if "date_of_birth" not in t]
                turn.say("Children and infants are booked with their date of birth. What is the "
                         "date of birth of each child and infant? For example: “" +
                         (missing[-1] if missing else "Riya Rao") + ", 14 March 2018”.")  # fmt: skip
                return False
            current = {k: int(frame.slots.get(k) or (1 if k == "adults" else 0)) for k in COUNTS}
            if counts and counts != current:
                # The ages say the party is not the one searched: search again for it.
                kept = [dict(t) for t in travellers]
                self._set_slots(frame, self._party_change(frame, kept) | {"travellers": kept})
                turn.say("By their dates of birth that's " + party_words(counts) + ".")
        frame.slots["birth_dates"] = {_name(t): t["date_of_birth"] for t in travellers
                                      if "date_of_birth" in t}  # fmt: skip
        return True

    async def fill_contact(self, turn: Turn, frame: Frame) -> bool:
        """The profile's email and mobile when it has both; False after asking."""
        profile = await self.profile(turn)
        if profile is not None and profile.email and profile.phone:
            frame.slots["contact"] = {"email": profile.email, "phone": profile.phone,
                                      "from_profile": True}  # fmt: skip
            return True
        sent = "the confirmation" if frame.flow == "book_hotel" else "the tickets"
        turn.say(f"What email address and mobile number should {sent} go to?")
        return False


def who(travellers: list[dict[str, Any]], *, travel_date: dt.date) -> str:
    """The passengers as a read-back names them: "Asha Rao, Vikram Rao and Riya Rao (child)"."""
    names = []
    for person in travellers:
        kind = passenger_type(person, travel_date=travel_date)
        names.append(_name(person) + ("" if kind == "adult" else f" ({kind})"))
    return spoken_list(names)


def contact_words(contact: dict[str, Any]) -> str:
    return f"{contact['email']} and the mobile ending {' '.join(ending(str(contact['phone'])))}"


def party_words(counts: dict[str, int]) -> str:
    parts = [f"{n} {word if n == 1 else plural}" for n, word, plural in (
        (counts.get("adults", 0), "adult", "adults"),
        (counts.get("children", 0), "child", "children"),
        (counts.get("infants", 0), "infant", "infants"),
    ) if n]  # fmt: skip
    return spoken_list(parts)


def spoken_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _name(person: dict[str, Any]) -> str:
    return f"{person['first_name']} {person['last_name']}"


def _travel_date(frame: Frame) -> dt.date | None:
    offer = frame.slots.get("offer")
    if isinstance(offer, dict) and offer.get("departure"):
        return dt.datetime.fromisoformat(str(offer["departure"])).date()
    date = frame.slots.get("date")
    return dt.date.fromisoformat(str(date)) if date else None
