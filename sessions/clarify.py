"""Asking when two readings are close: "Do you want to cancel a booking, or change one?"
rather than guessing between two tasks that act differently on the traveller's bookings.
Asked only when nothing else is under way or awaited, the words name no route or date (a
search guessed wrongly costs nothing: its reply shows what was understood), both readings
are such tasks, and the vote between them is close; the answer ("the first", "change it",
"cancel") picks one, and the original words are then read as it."""

from __future__ import annotations

import re

from intents.models import Intent
from intents.parse import Parse

# Tasks whose confusion costs the traveller a wrong action or a wasted turn, as the question
# names them.
TASKS: dict[Intent, str] = {
    Intent.BOOK: "book a flight",
    Intent.BOOKING_STATUS: "check a booking",
    Intent.CANCEL_BOOKING: "cancel a booking",
    Intent.MODIFY_BOOKING: "change a booking",
    Intent.HUMAN_AGENT: "speak to a travel expert",
}
_ROUTE = ("origin", "destination", "date", "place")
_FIRST = re.compile(r"\b(?:first|1st|pehla|pehli|former)\b|पहला|पहली|^\s*(?:1|one)\W*$", re.I)
_SECOND = re.compile(
    r"\b(?:second|2nd|dusra|doosra|dusri|latter)\b|दूसरा|दूसरी|^\s*(?:2|two)\W*$", re.I
)


def close_readings(parse: Parse) -> tuple[Intent, Intent] | None:
    """The two tasks to ask between, or None when the reading is clear enough to act on:
    the parser's own close call (`Parse.clarify`: the vote's margin), narrowed to tasks on
    bookings and to words that name no route or date."""
    options = parse.clarify()
    if options is None or not all(o in TASKS for o in options):
        return None
    if any(s.name in _ROUTE for s in parse.slots):
        return None
    return options


def question(options: tuple[Intent, Intent]) -> str:
    first, second = (TASKS[o] for o in options)
    return f"Sorry, just to be sure: do you want to {first}, or {second}?"


def picked(answer: Parse, options: list[str]) -> Intent | None:
    """Which option the answer picks: by position, or by naming one of the tasks."""
    if _FIRST.search(answer.text) and not _SECOND.search(answer.text):
        return Intent(options[0])
    if _SECOND.search(answer.text) and not _FIRST.search(answer.text):
        return Intent(options[1])
    if answer.intent.value in options:
        return answer.intent
    return None
