"""`RetrievalIntentParser`: the `IntentParser` the product runs. Rules decide the turns they
are certain of without the vote (`intents.rules`: a yes or no awaited, a code, a pointer at shown
options, a cancel or change of one's booking, a question about its state, bare trip details);
otherwise the nearest labelled examples vote on the intent, and a few rules overrule the vote
where it is known to be weak (a travel vertical named outright, a bare route, a refinement of
the search under way, a question about the rules). A question whose best policy passage is
confident is a policy question; rules and gazetteers read the slots. The parse carries the
vote's margin, so the dialogue can ask between two close readings."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from core.airports import AirportDirectory
from core.logging import get_logger
from intents import rules
from intents.catalogue import (
    EXAMPLES_PATH,
    Catalogue,
    digest_of,
    load_catalogue,
    parse_catalogue,
)
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
_TRAVELLERS = re.compile(r"\b(?:adults?|passengers?|tickets?|seats?|travell?ers?|log|yatri)\b")
_STAY = re.compile(r"\b(?:rooms?|nights?|kamra|kamre|raat)\b")
_MINE = re.compile(r"\b(?:my|meri|mera|mere|booking|booked|pnr|bk_\w+|cancel|change)\b")
_OWN_BOOKING = re.compile(r"\b(?:my|meri|mera|mere|booking|booked|pnr|bk_\w+)\b")
_NEGATED = re.compile(r"\b(?:not|don't|dont|do not|nahi|nahin|mat|no)\b")
_CHAT = (Intent.OUT_OF_SCOPE, Intent.GREET, Intent.HELP, Intent.AFFIRM, Intent.THANKS)


@dataclass(frozen=True, slots=True)
class _Decision:
    intent: Intent
    confidence: float
    settled: bool = True  # a rule decided, not the vote alone


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
        catalogue = await asyncio.to_thread(load_catalogue, examples_path)
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
        """Re-read the examples file; index it again if its content changed. True if it did.
        The file is read and, only when it changed, parsed off the event loop."""
        raw = await asyncio.to_thread(self._path.read_bytes)
        if digest_of(raw) == self._catalogue.digest:
            return False
        catalogue = await asyncio.to_thread(parse_catalogue, raw, path=self._path)
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
        ruled = rules.before_vote(u.text, readings, context)
        # What the rules decide needs no vote (and no embedding): a bare "yes", a code, a date.
        vote = Vote((), 1.0, "") if ruled else await self._index.vote(u.text)
        if ruled is not None:
            decision = _Decision(*ruled)
        else:
            decision = await self._decide(u, vote, readings, context)
        intent = decision.intent
        slots = assign(u, readings, intent=intent, context=context)
        slots = _last_offer(slots, context)
        alternatives = tuple(
            (i, round(share, 3)) for i, share in vote.ranked if i is not intent and share >= 0.02
        )[:3]
        # How far the vote put this reading ahead of the next; a rule's decision is settled.
        margin = 1.0 if decision.settled else vote.margin
        return Parse(
            text=text,
            intent=intent,
            confidence=round(decision.confidence, 3),
            alternatives=alternatives,
            slots=slots,
            language=u.language,
            margin=round(margin, 3),
        )

    async def _decide(
        self, u: Utterance, vote: Vote, readings: Readings, context: ParseContext
    ) -> _Decision:
        """The vote's reading, unless a rule overrules it (then the decision is settled)."""
        intent = vote.intent
        if rules.NO.match(u.text) and _NEGATED.search(u.text[3:]) and not readings.places:
            return _Decision(Intent.DENY, 0.9)  # "no, I don't want to book it yet"
        confidence = vote.share * min(1.0, max(0.0, (vote.best_similarity - 0.3) / 0.35))
        if vote.best_similarity < OUT_OF_SCOPE_BELOW:
            intent, confidence = Intent.OUT_OF_SCOPE, 1.0 - vote.best_similarity
        named = [v for v, pattern in _VERTICALS if pattern.search(u.text)]
        if intent in rules.SEARCHES and len(named) == 1 and named[0] is not intent:
            intent, confidence = named[0], max(confidence, 0.8)
        elif (
            len({p.code for p in readings.places if p.code}) >= 2
            and not _MINE.search(u.text)
            and (
                (intent not in rules.SEARCHES and confidence < 0.6)
                or (intent is Intent.SEARCH_HOTELS and not named)  # a stay is in one city
            )
        ):
            # "BLR to GOI tomorrow": a bare route is a search, not a change to a booking.
            intent = named[0] if named else rules.ongoing_search(context) or Intent.SEARCH_FLIGHTS
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
            and (ongoing := rules.ongoing_search(context))
        ):
            # "what about the day after", "and business class": the search under way, refined.
            intent = ongoing
        elif intent in rules.SEARCHES and not named and (ongoing := rules.ongoing_search(context)):
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
            and (confidence < 0.6 or intent in _CHAT or intent in rules.SEARCHES)
        ):
            return _Decision(context.intent or _intent_of_slot(expected), 0.85)
        if context.expecting == "choice" and intent is Intent.AFFIRM:
            # "sounds good" about the option just shown picks it.
            return _Decision(Intent.SELECT_OFFER, confidence)
        task = rules.wants_to_act(u.text)
        if task is not None and intent in (Intent.POLICY_QUESTION, task):
            # "I want to cancel, how much do I get back?": the cancellation reads out the refund.
            return _Decision(task, max(confidence, 0.75))
        if intent is not Intent.POLICY_QUESTION and rules.asks_about_rules(u.text, readings):
            # "if I cancel, how much do I get back?": the rules asked about, not a cancellation.
            return _Decision(Intent.POLICY_QUESTION, max(confidence, 0.75))
        if (
            self._policy_probe is not None
            and intent is not Intent.POLICY_QUESTION
            and (intent in (Intent.OUT_OF_SCOPE, Intent.HELP) or confidence < 0.7)
            and rules.QUESTION.search(u.text)
            # A request with a vehicle or a place in it is a search, not a policy question;
            # the probe (a second embedding and search) is kept off that path.
            and not (intent in rules.SEARCHES and (named or readings.places or readings.dates))
        ):
            policy = await self._policy_probe(u.original)
            if policy >= POLICY_CONFIDENT:
                return _Decision(Intent.POLICY_QUESTION, policy)
        # Moved by a rule above, or the vehicle said outright ("sleeper class", "bus"): settled.
        return _Decision(intent, confidence, settled=intent is not vote.intent or named == [intent])


def _expected_slot(context: ParseContext) -> str | None:
    expecting = context.expecting or ""
    return expecting.removeprefix("slot:") if expecting.startswith("slot:") else None


def _filled(readings: Readings, name: str) -> bool:
    if name in ("origin", "destination", "city"):
        return bool(readings.places)
    if name in ("date", "return_date", "check_in", "check_out", "new_date"):
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
