"""The dialogue engine: every typed or spoken turn comes here, from every channel. It loads
the conversation, understands the text, turns it into commands, applies them to the dialogue
state (sessions/apply.py), walks the flow under way (sessions/flows.py) through its skills, and
stores the state.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bookings.consent import ApprovalCodes
from bookings.profiles import ProfileStore
from bookings.service import BookingService
from core import tracing
from core.airports import AirportDirectory
from core.errors import ForbiddenError
from core.logging import get_logger
from core.phones import e164
from core.redaction import redact_text
from core.telemetry import TURNS
from fares.models import IST
from fares.service import FareService
from hotels.service import HotelService
from intents.models import Intent
from intents.parse import IntentParser, Parse, ParseContext
from rag.answers import AnswerService
from sessions import clarify
from sessions import commands as cmd
from sessions.apply import CommandApplier
from sessions.skills.bookings import BookingsSkill
from sessions.skills.flights import FlightsSkill
from sessions.skills.hotels import HotelsSkill
from sessions.skills.identity import IdentitySkill, code_in, wants_new_code
from sessions.skills.party import PartySkill
from sessions.skills.policy import PolicySkill
from sessions.state import STATE_VERSION, DialogueState, load_state
from sessions.store import Conversation, SessionStore, SessionUnreadableError, TurnRecord
from sessions.turn import Turn
from sessions.walk import FlowWalker, set_slots

log = get_logger(__name__)

_CORRECTABLE = ("origin", "destination", "date", "adults", "children", "infants", "cabin")
_FLOW_INTENT = {"search_flights": Intent.SEARCH_FLIGHTS, "book_flight": Intent.BOOK,
                "booking_status": Intent.BOOKING_STATUS, "cancel_booking": Intent.CANCEL_BOOKING,
                "modify_booking": Intent.MODIFY_BOOKING,
                "book_hotel": Intent.SEARCH_HOTELS}  # fmt: skip


@dataclass(frozen=True, slots=True)
class TurnResult:
    session_id: str
    reply: str
    intent: str
    slots: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)


# What a client may send as a session id (new ids are 22 URL-safe characters).
SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"


def new_session_id() -> str:
    return secrets.token_urlsafe(16)


class TurnEngine:
    def __init__(
        self,
        *,
        store: SessionStore,
        parser: IntentParser,
        fares: FareService,
        airports: AirportDirectory,
        history_turns: int,
        bookings: BookingService | None = None,
        answers: AnswerService | None = None,
        proposer: cmd.CommandProposer | None = None,
        profiles: ProfileStore | None = None,
        codes: ApprovalCodes | None = None,
        hotels: HotelService | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._store = store
        self._parser = parser
        self._airports = airports
        self._history_turns = history_turns
        self._clock = clock
        self._fares = fares
        self._proposer = proposer
        self.connect(bookings=bookings, answers=answers, profiles=profiles, codes=codes,
                     hotels=hotels)  # fmt: skip

    def connect(
        self,
        *,
        bookings: BookingService | None,
        answers: AnswerService | None,
        parser: IntentParser | None = None,
        proposer: cmd.CommandProposer | None = None,
        profiles: ProfileStore | None = None,
        codes: ApprovalCodes | None = None,
        hotels: HotelService | None = None,
    ) -> None:
        """Give the engine the services the app starts after it: bookings, policy answers,
        traveller profiles and the one-time codes that verify a caller, hotel search, (once its
        examples are indexed) the retrieval parser, and the optional LLM proposer."""
        if parser is not None:
            self._parser = parser
        if proposer is not None:
            self._proposer = proposer
        self._applier = CommandApplier(airports=self._airports, policy=PolicySkill(answers))
        self._party = PartySkill(profiles=profiles, set_slots=set_slots)
        self._hotels = HotelsSkill(hotels=hotels, bookings=bookings, airports=self._airports)
        self._walker = FlowWalker(
            flights=FlightsSkill(fares=self._fares, bookings=bookings, airports=self._airports),
            bookings=BookingsSkill(bookings=bookings, airports=self._airports),
            identity=IdentitySkill(profiles=profiles, codes=codes, bookings=bookings is not None),
            party=self._party,
            hotels=self._hotels,
        )

    async def handle(
        self,
        *,
        text: str,
        session_id: str | None,
        channel: str,
        traveller_id: str | None = None,
        caller: str | None = None,
        unsure: Mapping[str, str] | None = None,
    ) -> TurnResult:
        """One turn. `traveller_id` is a signed-in traveller (chat, app); `caller` the number a
        phone call comes from, which identifies no one until its owner says the code sent to
        it (sessions/skills/identity.py). `unsure` maps places written with doubt (a city
        guessed for misheard speech, lower case) to the words heard: read back before use."""
        session_id = session_id or new_session_id()
        with tracing.span("turn", channel=channel):
            result = await self._handle(text=text, session_id=session_id, channel=channel,
                                        traveller_id=traveller_id, caller=caller,
                                        unsure=unsure)  # fmt: skip
            tracing.set_attributes(intent=result.intent)
            return result

    async def _handle(
        self,
        *,
        text: str,
        session_id: str,
        channel: str,
        traveller_id: str | None,
        caller: str | None,
        unsure: Mapping[str, str] | None,
    ) -> TurnResult:
        caller = e164(caller) if caller else None
        async with self._store.lock(session_id):
            now = self._clock()
            try:
                stored, unreadable = await self._store.load(session_id), False
            except SessionUnreadableError:
                log.warning("unreadable conversation replaced", session_id=session_id)
                stored, unreadable = None, True
            conversation = stored or Conversation(
                session_id=session_id, channel=channel, created_at=now, updated_at=now
            )
            state, reset = load_state(conversation.state, legacy_slots=conversation.slots)
            reset = reset or unreadable
            turn = Turn(session_id=session_id, channel=channel, traveller_id=traveller_id,
                        now=now, today=now.astimezone(IST).date(), text=text, state=state,
                        caller=caller)  # fmt: skip
            proven = state.verified or {}
            if traveller_id is None and caller and proven.get("caller") == caller \
                    and proven.get("channel") == channel:  # fmt: skip
                turn.traveller_id = proven["traveller_id"]
            if conversation.owner is not None and turn.traveller_id != conversation.owner:
                raise ForbiddenError("this conversation belongs to another traveller: start a "
                                     "new one (send no session_id)")  # fmt: skip
            if reset:
                turn.say("I had to start our conversation afresh.")
            with tracing.span("understand"):
                parse = await self._parser.parse(text, today=turn.today, context=_context(state))
                tracing.set_attributes(intent=parse.intent.value, confidence=parse.confidence)
            parse = _doubted(parse, unsure or {})
            parse = await self._clarified(turn, parse)
            intent = parse.intent if turn.lines and state.clarify else await self._turn(turn, parse)
            conversation.owner = conversation.owner or turn.traveller_id
            self._record(conversation, turn=turn, intent=intent)
            await self._store.save(conversation)
        TURNS.labels(channel, intent.value).inc()
        log.info("turn handled", session_id=session_id, channel=channel,
                 intent=intent.value, turn=conversation.turns,
                 flow=state.top.flow if state.top else None)  # fmt: skip
        turn.data["expecting"] = state.expecting or "none"
        return TurnResult(session_id=session_id, reply=turn.reply, intent=intent.value,
                          slots=conversation.slots, data=turn.data)  # fmt: skip

    def _record(self, conversation: Conversation, *, turn: Turn, intent: Intent) -> None:
        state = turn.state
        conversation.turns += 1
        conversation.updated_at = turn.now
        conversation.last_intent = intent.value
        top = state.top
        shown = top.slots if top is not None else state.search
        conversation.slots = {k: v for k, v in shown.items()
                              if k in ("origin", "destination", "date", "adults", "children",
                                       "infants", "cabin", "new_date", "city", "check_in",
                                       "nights")}  # fmt: skip
        conversation.state = state.model_dump(mode="json")
        conversation.state_version = STATE_VERSION
        conversation.history.extend([
            # A one-time code is never stored, redacted or not.
            TurnRecord(role="traveller", at=turn.now, intent=intent.value,
                       text="[ONE-TIME CODE]" if turn.cache.get("code") else redact_text(turn.text)),
            TurnRecord(role="yatri", text=redact_text(turn.reply), at=turn.now),
        ])  # fmt: skip
        del conversation.history[: -2 * self._history_turns]

    # --- one turn --------------------------------------------------------------------------

    async def _clarified(self, turn: Turn, parse: Parse) -> Parse:
        """Ask between two close readings, or read the words the question was about as the
        reading the traveller picked; the turn ends at a question (`state.clarify` set)."""
        state = turn.state
        pending_question, state.clarify = state.clarify, None
        if pending_question is not None and state.expecting == "choice":
            choice = clarify.picked(parse, pending_question["options"])
            if choice is None:
                return parse  # not an answer to the question: a new request
            state.expecting = None
            original = await self._parser.parse(pending_question["text"], today=turn.today,
                                                context=_context(state))  # fmt: skip
            return dataclasses.replace(original, intent=choice)
        if state.expecting is None and state.top is None:
            options = clarify.close_readings(parse)
            if options is not None:
                state.clarify = {"options": [o.value for o in options], "text": turn.text}
                state.expecting = "choice"
                turn.say(clarify.question(options))
        return parse

    async def _turn(self, turn: Turn, parse: Parse) -> Intent:
        """Play one turn; the intent it was taken as (details given where they were asked for
        are details, whatever else the words could mean)."""
        intent = parse.intent
        state = turn.state
        expected = state.expecting
        commands = cmd.to_commands(parse, state, hotels=self._hotels.available)
        if self._hotels.available and expected not in ("traveller_details", "otp", "confirmation"):
            commands = self._hotels.commands(turn, commands, expected=expected)
        private = expected in ("otp", "traveller_details")  # codes and names stay here
        if self._proposer is not None and not private \
                and any(isinstance(c, cmd.CannotHandle) for c in commands):  # fmt: skip
            # The parser could not place the turn: a second reader may (validated commands only).
            commands = await self._proposer.propose(turn.text, state=state, parse=parse) or commands
        state.expecting = None
        if expected == "otp":
            commands = _code_commands(turn.text, commands)
            turn.cache["code"] = code_in(turn.text) is not None
        if expected == "traveller_details" and state.top is not None and _may_be_details(parse):
            details = await self._party.details(turn, state.top,
                                                parsed_names=parse.value("traveller_names"))  # fmt: skip
            if details:
                # Names and contact win; a date or place said with them still corrects.
                said, _ = cmd.frame_slots(parse, flow=state.top.flow if state.top else None)
                corrections = {k: v for k, v in said.items() if k in _CORRECTABLE
                               and not (k == "date" and "birth_dates_said" in details)}  # fmt: skip
                commands = [cmd.SetSlots(corrections | details)]
                intent = Intent.PROVIDE_TRAVELLER_DETAILS
        understood = not any(isinstance(c, cmd.CannotHandle) for c in commands)
        state.failures = 0 if understood else state.failures + 1
        advance = True
        for command in commands:
            advance = await self._applier.apply(command, turn) and advance
        if advance:
            await self._walker.advance(turn, asked_before=expected)
        return intent


# Turns that are something else even when their words could pass for a name ("rehne do
# yaar", "ek sawaal: tatkal kab khulta hai?"): answered as what they are.
_NOT_DETAILS = (Intent.POLICY_QUESTION, Intent.NEVERMIND, Intent.DENY, Intent.HUMAN_AGENT,
                Intent.GOODBYE, Intent.CANCEL_BOOKING, Intent.MODIFY_BOOKING,
                Intent.BOOKING_STATUS)  # fmt: skip


def _may_be_details(parse: Parse) -> bool:
    if parse.value("traveller_names") or "@" in parse.text:
        return True  # the parser read names, or an email is given
    return parse.intent not in _NOT_DETAILS and not parse.text.rstrip().endswith("?")


def _context(state: DialogueState) -> ParseContext:
    top = state.top
    return ParseContext(expecting=state.expecting,
                        known=dict(top.slots) if top else dict(state.search),
                        offers_shown=len(state.offers),
                        intent=_FLOW_INTENT.get(top.flow) if top else None)  # fmt: skip


def _doubted(parse: Parse, unsure: Mapping[str, str]) -> Parse:
    """Origins and destinations written with doubt become places to confirm, asked about in the
    words heard ("Did you mean Guwahati, not “Goa hati”?")."""
    if not unsure:
        return parse
    slots = tuple(
        dataclasses.replace(s, value=unsure[s.value.lower()], confidence=0.0,
                            candidates=(s.normalized,))
        if s.name in ("origin", "destination") and s.normalized and s.value.lower() in unsure
        else s
        for s in parse.slots
    )  # fmt: skip
    return dataclasses.replace(parse, slots=slots)


def _code_commands(text: str, commands: list[cmd.Command]) -> list[cmd.Command]:
    """A turn while a one-time code is awaited: the code, a wish for a new one, or anything
    else as usual (a question is answered, then the code asked for again)."""
    if code := code_in(text):
        return [cmd.SetSlots({"otp": code})]
    if wants_new_code(text):
        return [cmd.SetSlots({"otp_resend": True})]
    if any(isinstance(c, cmd.CannotHandle | cmd.Confirm) for c in commands):
        return [cmd.SetSlots({})]  # not a code: ask for it again
    return commands
