"""`RetrievalIntentParser`: the `IntentParser` the product runs. The nearest labelled examples
vote on the intent; a few rules decide where they are certain (a bare yes or no when a
confirmation is awaited, a one-time code when one is, a pointer at shown options when a choice
is, a single travel vertical named outright); a question whose best policy passage is confident
is a policy question; rules and gazetteers read the slots."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from core.airports import AirportDirectory
from core.logging import get_logger
from intents.catalogue import EXAMPLES_PATH, Catalogue, load_catalogue
from intents.classifier import ExampleIndex, Vote
from intents.models import Intent
from intents.parse import Parse, ParseContext, Slot
from intents.places import PlaceIndex
from intents.slots import Readings, assign, read_slots
from intents.text import Utterance, read

log = get_logger(__name__)

# The policy port: a question's best passage confidence in [0, 1] (rag.answers.AnswerService
# .confidence in the app), so intents/ never imports the knowledge service.
PolicyProbe = Callable[[str], Awaitable[float]]

MAX_CHARS = 10_000
# Below this similarity to every example, an utterance is about something we do not do.
OUT_OF_SCOPE_BELOW = 0.42
POLICY_CONFIDENT = 0.55
_YES = re.compile(
    r"^(?:yes|yeah|yea|yep|yup|ya|sure|ok|okay|okk|haan|han|ha|haa|ji|ji haan|haan ji|hanji"
    r"|theek hai|thik hai|correct|right|confirm(?:ed)?|go ahead|bilkul|do it|please do|done"
    r"|absolutely|of course|perfect|sounds good|that's right|sahi hai|kar do|kardo)\b"
)
_NO = re.compile(
    r"^(?:no|nope|nah|nahi|nahin|na|mat|don't|do not|not now|not that|galat|wrong|rehne do"
    r"|bilkul nahi|never)\b"
)
_QUESTION = re.compile(
    r"\?\s*$|^(?:what|whats|what's|how|can|could|is|are|do|does|will|would|should|may|when|"
    r"why|which|kya|kitna|kitni|kitne|kaise|kab|kyun|agar|if)\b"
)
_VERTICALS = (
    (Intent.SEARCH_TRAINS, re.compile(
        r"\b(?:trains?|rail\w*|irctc|tatkal|sleeper class|[123] ?ac|chair car|rajdhani|shatabdi"
        r"|vande bharat|duronto|tren|rel|railgadi)\b")),
    (Intent.SEARCH_BUSES, re.compile(
        r"\b(?:bus|buses|volvo|ksrtc|msrtc|upsrtc|rsrtc|redbus|bas|coach bus)\b")),
    (Intent.SEARCH_HOTELS, re.compile(
        r"\b(?:hotels?|rooms?|stay|staying|resorts?|homestay|hostel|lodge|guest ?house|check[- ]?in"
        r"|kamra|kamre|hotal|dharamshala|accommodation|place to stay)\b")),
    (Intent.SEARCH_FLIGHTS, re.compile(
        r"\b(?:flights?|fly|flying|plane|airlines?|airfare|udaan|flait|hawai jahaz|hawai)\b")),
)  # fmt: skip
_SEARCHES = frozenset(v for v, _ in _VERTICALS)
_TRAVELLERS = re.compile(r"\b(?:adults?|passengers?|tickets?|seats?|travell?ers?|log|yatri)\b")
_STAY = re.compile(r"\b(?:rooms?|nights?|kamra|kamre|raat)\b")
# "Cancel" with what is booked is a cancellation ("cancel that" alone is a change of mind).
_CANCEL = re.compile(
    r"\b(?:cancel|radd|kainsil|kensil)\b.*\b(?:booking|bookings|ticket|tikat|buking|reservation"
    r"|flight|flait|trip|pnr|bk_\w+)\b|\b(?:booking|ticket|tikat|buking|reservation|flight|trip)\b"
    r".*\b(?:cancel|radd|kainsil|kensil)\b"
)
_BOOK_THIS = re.compile(
    r"\b(?:ye|yeh|is|isko|ise|iss|this|that|it)\b(?: \w+)? book\b|\bbook (?:it|this|that)\b"
)
# A change to what the traveller owns: "my booking", "meri flight" with a change word.
_CHANGE = re.compile(
    r"\b(?:my|meri|mera|mere)\s+(?:\w+\s+)?(?:booking|ticket|flight|trip|reservation)\b.*"
    r"\b(?:change|badal\w*|reschedule|shift|postpone|prepone|move|tarikh|date)\b"
    r"|\b(?:change|reschedule|shift|postpone|prepone|move)\s+(?:my|meri|mera)\b"
)
_MINE = re.compile(r"\b(?:my|meri|mera|mere|booking|booked|pnr|bk_\w+|cancel|change)\b")
_OWN_BOOKING = re.compile(r"\b(?:my|meri|mera|mere|booking|booked|pnr|bk_\w+)\b")
_NEGATED = re.compile(r"\b(?:not|don't|dont|do not|nahi|nahin|mat|no)\b")
_CHAT = (Intent.OUT_OF_SCOPE, Intent.GREET, Intent.HELP, Intent.AFFIRM, Intent.THANKS)


class RetrievalIntentParser:
    """Build with `start` (indexes the examples when they changed); share one per process."""

    def __init__(
        self,
        *,
        index: ExampleIndex,
        places: PlaceIndex,
        catalogue: Catalogue,
        examples_path: Path = EXAMPLES_PATH,
        policy_probe: PolicyProbe | None = None,
    ) -> None:
        self._index = index
        self._places = places
        self._catalogue = catalogue
        self._path = examples_path
        self._policy_probe = policy_probe

    @classmethod
    async def start(
        cls,
        *,
        index: ExampleIndex,
        airports: AirportDirectory,
        common_words: frozenset[str] = frozenset(),
        examples_path: Path = EXAMPLES_PATH,
        policy_probe: PolicyProbe | None = None,
    ) -> RetrievalIntentParser:
        catalogue = load_catalogue(examples_path)
        await index.sync(catalogue)
        return cls(
            index=index,
            places=PlaceIndex(airports, common_words=common_words),
            catalogue=catalogue,
            examples_path=examples_path,
            policy_probe=policy_probe,
        )

    @property
    def catalogue(self) -> Catalogue:
        return self._catalogue

    async def refresh(self) -> bool:
        """Re-read the examples file; index it again if its content changed. True if it did."""
        catalogue = load_catalogue(self._path)
        if catalogue.digest == self._catalogue.digest:
            return False
        await self._index.sync(catalogue)
        self._catalogue = catalogue
        return True

    async def parse(
        self, text: str, *, today: dt.date, context: ParseContext | None = None
    ) -> Parse:
        context = context or ParseContext()
        u = read(text[:MAX_CHARS])
        if not re.search(r"[a-z0-9]", u.text):  # empty, emoji or punctuation only
            return Parse(text, Intent.OUT_OF_SCOPE, 1.0 if u.text else 0.0, language=u.language)
        readings = read_slots(u, today=today, places=self._places, context=context)
        ruled = _rules(u.text, readings, context)
        # What the rules decide needs no vote (and no embedding): a bare "yes", a code.
        vote = Vote((), 1.0, "") if ruled else await self._index.vote(u.text)
        if ruled is not None:
            intent, confidence = ruled, 0.97
        else:
            intent, confidence = await self._decide(u, vote, readings, context)
        slots = assign(u, readings, intent=intent, context=context)
        slots = _last_offer(slots, context)
        alternatives = tuple(
            (i, round(share, 3)) for i, share in vote.ranked if i is not intent and share >= 0.02
        )[:3]
        return Parse(
            text=text,
            intent=intent,
            confidence=round(confidence, 3),
            alternatives=alternatives,
            slots=slots,
            language=u.language,
        )

    async def _decide(
        self, u: Utterance, vote: Vote, readings: Readings, context: ParseContext
    ) -> tuple[Intent, float]:
        intent = vote.intent
        if _NO.match(u.text) and _NEGATED.search(u.text[3:]) and not readings.places:
            return Intent.DENY, 0.9  # "no, I don't want to book it yet"
        confidence = vote.share * min(1.0, max(0.0, (vote.best_similarity - 0.3) / 0.35))
        if vote.best_similarity < OUT_OF_SCOPE_BELOW:
            intent, confidence = Intent.OUT_OF_SCOPE, 1.0 - vote.best_similarity
        named = [v for v, pattern in _VERTICALS if pattern.search(u.text)]
        if intent in _SEARCHES and len(named) == 1 and named[0] is not intent:
            intent, confidence = named[0], max(confidence, 0.8)
        elif (
            len({p.code for p in readings.places if p.code}) >= 2
            and not _MINE.search(u.text)
            and (
                (intent not in _SEARCHES and confidence < 0.6)
                or (intent is Intent.SEARCH_HOTELS and not named)  # a stay is in one city
            )
        ):
            # "BLR to GOI tomorrow": a bare route is a search, not a change to a booking.
            intent = named[0] if named else _ongoing_search(context) or Intent.SEARCH_FLIGHTS
            confidence = max(confidence, 0.7)
        elif (
            intent in (Intent.MODIFY_BOOKING, Intent.BOOKING_STATUS)
            and context.offers_shown
            and readings.has("offer_ref")
            and not _OWN_BOOKING.search(u.text)
        ):
            # "change it to the second flight" while options are shown: a choice among them.
            intent = Intent.SELECT_OFFER
        elif (
            intent in (Intent.MODIFY_BOOKING, Intent.BOOKING_STATUS)
            and not _MINE.search(u.text)
            and (ongoing := _ongoing_search(context))
        ):
            # "what about the day after", "and business class": the search under way, refined.
            intent = ongoing
        elif intent in _SEARCHES and not named and (ongoing := _ongoing_search(context)):
            # "for 2 adults" in the middle of a flight search refines that search.
            intent = ongoing
        elif (
            intent is Intent.SEARCH_HOTELS
            and not named
            and _TRAVELLERS.search(u.text)
            and not _STAY.search(u.text)
        ):
            # "I need 2 adults": passengers, no room or night named, is a trip, not a stay.
            intent = Intent.SEARCH_FLIGHTS
        elif intent in (Intent.SEARCH_TRAINS, Intent.SEARCH_BUSES) and intent not in named:
            # A route with no vehicle named is a flight search, what Yatri sells.
            intent = Intent.SEARCH_FLIGHTS
        expected = _expected_slot(context)
        if (
            expected
            and _filled(readings, expected)
            and (confidence < 0.6 or intent in _CHAT or intent in _SEARCHES)
        ):
            return context.intent or _intent_of_slot(expected), 0.85
        if context.expecting == "choice" and intent is Intent.AFFIRM:
            # "sounds good" about the option just shown picks it.
            return Intent.SELECT_OFFER, confidence
        if (
            self._policy_probe is not None
            and intent is not Intent.POLICY_QUESTION
            and (intent in (Intent.OUT_OF_SCOPE, Intent.HELP) or confidence < 0.7)
            and _QUESTION.search(u.text)
            # A request with a vehicle or a place in it is a search, not a policy question;
            # the probe (a second embedding and search) is kept off that path.
            and not (intent in _SEARCHES and (named or readings.places or readings.dates))
        ):
            policy = await self._policy_probe(u.original)
            if policy >= POLICY_CONFIDENT:
                return Intent.POLICY_QUESTION, policy
        return intent, confidence


def _rules(text: str, readings: Readings, context: ParseContext) -> Intent | None:
    """The cases rules decide with certainty, all of them about what the dialogue awaits."""
    expecting = context.expecting or ""
    short = len(text.split()) <= 4
    if expecting == "confirmation" and short:
        if _NO.match(text):
            return Intent.DENY
        if _YES.match(text):
            return Intent.AFFIRM
    if expecting == "otp" and readings.has("otp") and len(text.split()) <= 6:
        return Intent.AFFIRM  # the code approves what was read back
    if expecting == "choice" and readings.has("offer_ref") and not readings.places:
        return Intent.SELECT_OFFER
    if readings.has("otp") and len(text.split()) <= 6:
        return Intent.AFFIRM
    if _CANCEL.search(text) and not _QUESTION.search(text) and not readings.dates:
        return Intent.CANCEL_BOOKING
    if _CHANGE.search(text) and not _QUESTION.search(text):
        return Intent.MODIFY_BOOKING
    if _BOOK_THIS.search(text) and not readings.places and not _NO.match(text):
        return Intent.BOOK
    if expecting == "traveller_details" and readings.has("traveller_names"):
        return Intent.PROVIDE_TRAVELLER_DETAILS
    return None


def _ongoing_search(context: ParseContext) -> Intent | None:
    """The search under way, from the dialogue's intent or the slots it holds."""
    if context.intent in _SEARCHES:
        return context.intent
    known = {k for k, v in context.known.items() if v is not None}
    if known & {"city", "check_in", "check_out", "rooms", "nights"}:
        return Intent.SEARCH_HOTELS
    if known & {"origin", "destination", "date", "return_date"}:
        return Intent.SEARCH_FLIGHTS
    return None


def _expected_slot(context: ParseContext) -> str | None:
    expecting = context.expecting or ""
    return expecting.removeprefix("slot:") if expecting.startswith("slot:") else None


def _filled(readings: Readings, name: str) -> bool:
    if name in ("origin", "destination", "city"):
        return bool(readings.places)
    if name in ("date", "return_date", "check_in", "check_out"):
        return bool(readings.dates)
    return readings.has(name)


def _intent_of_slot(name: str) -> Intent:
    if name in ("city", "check_in", "check_out", "rooms", "nights"):
        return Intent.SEARCH_HOTELS
    return Intent.SEARCH_FLIGHTS


def _last_offer(slots: tuple[Slot, ...], context: ParseContext) -> tuple[Slot, ...]:
    """ "The last one" is the last shown, when the dialogue says how many were."""
    if not context.offers_shown:
        return slots
    out = []
    for s in slots:
        if s.name == "offer_ref" and s.normalized.get("ordinal") == -1:
            s = Slot(s.name, s.value, {**s.normalized, "ordinal": context.offers_shown},
                     s.start, s.end, s.confidence, s.candidates)  # fmt: skip
        out.append(s)
    return tuple(out)
