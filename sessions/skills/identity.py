"""Who is talking. Money and bookings move only for a traveller Yatri knows:

* chat and the app carry the traveller's signed-in token (the same one as `/v1/bookings`);
* a phone caller is matched to a profile by the number they call from, and proves it with a
  one-time code sent by SMS to that profile's number, because caller ID can be spoofed. The
  code follows the same rules as an agent's approval code (bookings/consent.py): a few wrong
  tries, a few codes a day. Once proven, the call's session knows the traveller for as long as
  it lasts, on that channel and from that number only.
"""

from __future__ import annotations

import re

from bookings.consent import ApprovalCodes, ApprovalError
from bookings.profiles import ProfileStore
from core.errors import RateLimitedError
from core.logging import get_logger
from core.phones import ending
from sessions.state import Frame
from sessions.turn import Next, Turn

log = get_logger(__name__)

VERIFY_MESSAGE = ("Your Yatri code is {code}. Say it on your call to book or manage your trips. "
                  "Yatri never asks for it any other way: don't share it.")  # fmt: skip
_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "shunya": "0", "ek": "1", "do": "2", "teen": "3", "char": "4",
    "chaar": "4", "paanch": "5", "panch": "5", "chhe": "6", "che": "6", "saat": "7",
    "aath": "8", "nau": "9", "शून्य": "0", "एक": "1", "दो": "2", "तीन": "3", "चार": "4",
    "पांच": "5", "पाँच": "5", "छह": "6", "सात": "7", "आठ": "8", "नौ": "9",
}  # fmt: skip
_REPEAT = {"double": 2, "triple": 3}
_RESEND = re.compile(
    r"\b(?:send|resend|send it|sms)\b.*\b(?:again|new|another)\b|\b(?:didn'?t|did not|haven'?t|"
    r"not) (?:get|got|receive|received)\b|\bnahi(?:n)? aaya\b|\bresend\b",
    re.IGNORECASE,
)


def code_in(text: str) -> str | None:
    """A six-digit code as typed or spoken: "482913", "482 913", "four eight two nine one
    three", "double four ...", "char aath do ..." (digits in Devanagari too)."""
    digits: list[str] = []
    repeat = 1
    for token in re.findall(r"[^\s,.;:!?&/()\"'’-]+", text.lower()):
        if token in _REPEAT:
            repeat = _REPEAT[token]
            continue
        if token.isdigit():
            digits.extend(str(int(c)) for c in token)  # int() reads Devanagari digits too
        elif token in _DIGIT_WORDS:
            digits.extend(_DIGIT_WORDS[token] * repeat)
        repeat = 1
    return "".join(digits) if len(digits) == 6 else None


def wants_new_code(text: str) -> bool:
    return _RESEND.search(text) is not None


class IdentitySkill:
    def __init__(
        self, *, profiles: ProfileStore | None, codes: ApprovalCodes | None, bookings: bool
    ) -> None:
        self._profiles = profiles
        self._codes = codes
        self._bookings = bookings

    async def verify(self, turn: Turn, frame: Frame) -> Next:
        if turn.traveller_id is not None and self._bookings:
            return Next.DONE
        if not self._bookings:
            turn.say("Bookings are not available right now.")
        elif turn.channel == "chat":
            turn.say("To book or manage a booking I need to know it's you: please sign in to "
                     "the Yatri app or website and chat from there. I can still search flights "
                     "and answer questions here.")  # fmt: skip
        elif turn.caller is None or self._profiles is None or self._codes is None:
            turn.say("To book or manage a booking by phone I need to verify you, and I can't "
                     "see the number you're calling from: please use the Yatri app. I can "
                     "still search flights and answer questions.")  # fmt: skip
        else:
            return await self._by_phone(turn, frame, caller=turn.caller)
        turn.data["needs"] = "sign_in"
        return Next.END

    async def _by_phone(self, turn: Turn, frame: Frame, *, caller: str) -> Next:
        assert self._profiles is not None and self._codes is not None
        state = turn.state
        code = frame.slots.pop("otp", None)
        resend = frame.slots.pop("otp_resend", None)
        pending = state.verifying
        if pending is not None and pending.get("caller") == caller and not resend:
            if code is None:
                turn.say("Please say the six-digit code I sent to your phone by SMS, or say "
                         "“send it again”.")  # fmt: skip
                state.expecting = "otp"
                return Next.WAIT
            return await self._check(turn, traveller_id=pending["traveller_id"], code=str(code))
        profile = await self._profiles.by_phone(caller)
        if profile is None or profile.phone is None:
            turn.say("I can't find a Yatri account for the number you're calling from, so I "
                     "can't book or change bookings on this call. You can do it in the Yatri "
                     "app; I can still search flights and answer questions.")  # fmt: skip
            turn.data["needs"] = "sign_in"
            return Next.END
        try:
            await self._codes.request(traveller_id=profile.traveller_id, action="verify",
                                      scope=turn.session_id, subject=turn.session_id,
                                      text=VERIFY_MESSAGE)  # fmt: skip
        except RateLimitedError:
            turn.say("I've sent as many codes to your number as I can today. Please use the "
                     "Yatri app, or call again tomorrow.")  # fmt: skip
            return Next.END
        state.verifying = {"traveller_id": profile.traveller_id, "caller": caller}
        turn.say(f"To keep your bookings safe, I've sent a six-digit code by SMS to your number "
                 f"ending {' '.join(ending(profile.phone))}. Please say the code.")  # fmt: skip
        state.expecting = "otp"
        return Next.WAIT

    async def _check(self, turn: Turn, *, traveller_id: str, code: str) -> Next:
        assert self._codes is not None
        state = turn.state
        try:
            approved = await self._codes.verify(traveller_id=traveller_id, action="verify",
                                                scope=turn.session_id, code=code)  # fmt: skip
        except ApprovalError as e:
            if "attempts left" in e.detail:
                turn.say("That code doesn't match. Please say the six digits again.")
                state.expecting = "otp"
                return Next.WAIT
            state.verifying = None
            turn.say("I couldn't verify you with that code, so I've stopped here. You can ask "
                     "me to start again for a new code, or use the Yatri app.")  # fmt: skip
            return Next.END
        if approved.subject != turn.session_id:  # a code is for this call and no other
            state.verifying = None
            return Next.END
        state.verifying = None
        state.verified = {"traveller_id": traveller_id, "caller": turn.caller or "",
                          "channel": turn.channel}  # fmt: skip
        turn.traveller_id = traveller_id
        log.info("caller verified", session_id=turn.session_id)
        turn.say("Thank you, you're verified.")
        return Next.DONE
