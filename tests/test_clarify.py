"""Close readings are asked about, not guessed: the rule on parses, and a conversation on the
real stack where the traveller's answer picks the task and the first words are read as it."""

from __future__ import annotations

import httpx

from intents.models import Intent
from intents.parse import Parse, Slot
from sessions.clarify import close_readings, picked, question
from tests.test_conversation import Chat


def parse(intent: Intent, margin: float, *alternatives: tuple[Intent, float]) -> Parse:
    return Parse(text="x", intent=intent, confidence=0.3, alternatives=alternatives,
                 margin=margin)  # fmt: skip


def test_only_two_close_task_readings_are_asked_about() -> None:
    close = parse(Intent.MODIFY_BOOKING, 0.05, (Intent.BOOK, 0.26))
    assert close_readings(close) == (Intent.MODIFY_BOOKING, Intent.BOOK)
    assert "change a booking, or book a flight" in question((Intent.MODIFY_BOOKING,
                                                             Intent.BOOK))  # fmt: skip
    # A clear winner, a far runner-up, a search (cheap to get wrong), a route named, or small
    # talk: no question.
    assert close_readings(parse(Intent.CANCEL_BOOKING, 0.4, (Intent.MODIFY_BOOKING, 0.3))) is None
    assert close_readings(parse(Intent.SEARCH_FLIGHTS, 0.01, (Intent.SEARCH_BUSES, 0.3))) is None
    routed = Parse(text="x", intent=Intent.MODIFY_BOOKING, confidence=0.2,
                   alternatives=((Intent.BOOK, 0.3),), margin=0.05,
                   slots=(Slot("destination", "Goa", "GOI", 0, 3, 0.9),))  # fmt: skip
    assert close_readings(routed) is None
    assert close_readings(parse(Intent.CANCEL_BOOKING, 0.45, (Intent.MODIFY_BOOKING, 0.1))) is None
    assert close_readings(parse(Intent.GREET, 0.0, (Intent.CANCEL_BOOKING, 0.3))) is None
    assert close_readings(parse(Intent.CANCEL_BOOKING, 0.0, (Intent.NEVERMIND, 0.3))) is None


def test_the_answer_picks_by_position_or_by_naming_the_task() -> None:
    options = ["cancel_booking", "modify_booking"]
    answer = Parse(text="the second one", intent=Intent.SELECT_OFFER, confidence=0.9)
    assert picked(answer, options) is Intent.MODIFY_BOOKING
    answer = Parse(text="pehla", intent=Intent.OUT_OF_SCOPE, confidence=0.3)
    assert picked(answer, options) is Intent.CANCEL_BOOKING
    answer = Parse(text="I want to cancel it", intent=Intent.CANCEL_BOOKING, confidence=0.9)
    assert picked(answer, options) is Intent.CANCEL_BOOKING
    answer = Parse(text="flights to Goa", intent=Intent.SEARCH_FLIGHTS, confidence=0.9)
    assert picked(answer, options) is None


async def test_a_close_call_is_asked_and_the_answer_carries_the_first_words(
    client: httpx.AsyncClient,
) -> None:
    # Found by probing the parser: its vote splits between changing a booking and booking.
    chat = Chat(client)
    asked = await chat.say("can I move it")
    if "just to be sure" not in asked["reply"]:
        # The reading is not close on this parser build; the rule is covered above.
        assert asked["intent"] in ("modify_booking", "book")
        return
    assert asked["data"]["expecting"] == "choice"
    chosen = await chat.say("the first one")
    assert chosen["intent"] == "modify_booking"
    assert chosen["data"].get("needs") == "sign_in"  # a guest's booking change asks who they are
