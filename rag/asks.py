"""What a question asks for (an amount, a time, a duration, a permission, a count) and whether a
sentence carries it: "what time does the gate close?" is answered by the sentence with the
minutes, not by the one that defines gate closure."""

from __future__ import annotations

import re
from enum import StrEnum


class Ask(StrEnum):
    AMOUNT = "amount"  # money, weight, a share: "how much", "what fee", "kitna"
    TIME = "time"  # a clock time or a deadline: "what time", "when", "kitne baje"
    DURATION = "duration"  # "how long", "how many days", "within how"
    PERMISSION = "permission"  # "can I", "is X allowed", "may I"
    COUNT = "count"  # "how many" (bags, passengers, changes)


_QUESTION = {
    Ask.AMOUNT: r"how much|what (?:is|are|will be) the (?:fee|charge|cost|price|fine|penalty|"
    r"amount|deduction|refund|allowance|limit)|\b(?:fees?|charges?|costs?|price|fare|fine|"
    r"penalty|deduct(?:ed|ion)?|rupees|inr|money|percent|percentage|weight|kg|limit|allowance|"
    r"refund amount)\b",
    Ask.TIME: r"what time|\bwhen\b|by when|\bdeadline|\bopens?\b|\bcloses?\b|\bcut-?off|"
    r"\blatest\b|\bearliest\b|how early|how late|o'clock|which time|\btimings?\b",
    Ask.DURATION: r"how long|how many (?:days|hours|minutes|weeks|months)|within how|how soon|"
    r"how quickly|how fast|\btake to\b|\bvalid(?:ity)?\b|time limit|\bduration\b|\bdays?\b|"
    r"\bhours?\b",
    Ask.PERMISSION: r"^(?:can|may|could|am|is|are|do|does|will)\b|\bcan (?:i|we|my|you|one)\b|"
    r"\bmay (?:i|we)\b|\ballow(?:ed|s)?\b|\bpermitted\b|\bpermission\b|\bprohibited\b|\bbanned\b|"
    r"\bbring\b|\bcarry\b|\btake (?:my|a|an|our)\b",
    Ask.COUNT: r"how many (?!days|hours|minutes|weeks|months)",
}
_ASKS = {ask: re.compile(pattern, re.IGNORECASE) for ask, pattern in _QUESTION.items()}

_NUMBER_WORDS = (
    r"(?:\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|"
    r"thirty|forty-eight|forty|sixty|ninety|a|an|half an?)"
)
_UNITS = r"(?:working |business |calendar |clear )?(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)"
_CARRIES = {
    Ask.AMOUNT: r"(?:inr|rs\.?|₹)\s?\d|\d\s?(?:%|per ?cent\b|kg\b|kgs\b|kilograms?\b|cm\b|rupees\b)"
    r"|\bfree\b|\bnil\b|no (?:charge|fee|cancellation fee|refund)|\bfull refund\b|\bnon-refundable\b"
    r"|\bhalf\b|\bwaived\b",
    Ask.TIME: rf"\b\d{{1,2}}[:.]\d{{2}}\b|\b\d{{1,2}}\s?(?:am|pm|a\.m\.|p\.m\.)|\bnoon\b|\bmidnight\b"
    rf"|{_NUMBER_WORDS}\s+{_UNITS}\s+(?:before|prior|after|of)\b|\bo'clock\b|\bhrs\b",
    Ask.DURATION: rf"\b{_NUMBER_WORDS}(?:\s?(?:-|to|–)\s?\d+)?\s?{_UNITS}\b",
    Ask.PERMISSION: r"\b(?:allowed|permitted|not permitted|prohibited|may|must|cannot|can't|"
    r"can|only|accepted|not accepted|carried|carry|forbidden|banned|restricted|subject to|"
    r"eligible|not eligible|entitled|required|mandatory)\b",
    Ask.COUNT: r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten)\b",
}
_CARRIED = {ask: re.compile(pattern, re.IGNORECASE) for ask, pattern in _CARRIES.items()}
# A sentence that begins like this leans on the one before it ("This fee ...", "In that case").
_LEANS_BACK = re.compile(
    r"^(?:this|these|that|those|it|they|such|the same|in (?:this|that|such) case|otherwise|"
    r"however|but|also|then)\b",
    re.IGNORECASE,
)
# A sentence that begins like this is a condition on the one before it.
_CONDITION = re.compile(
    r"^(?:if|unless|provided|only|except|where|when|this applies|this does not apply|"
    r"it does not apply|note|however|but)\b",
    re.IGNORECASE,
)


def asks(question: str) -> frozenset[Ask]:
    """What ``question`` asks for; empty for an open question ("what is the pet policy")."""
    found = {ask for ask, pattern in _ASKS.items() if pattern.search(question)}
    if Ask.TIME in found and re.search(r"how long|how many days|within", question, re.I):
        found.discard(Ask.TIME)  # "when will I get it, within how many days" is a duration
    return frozenset(found)


def carries(sentence: str, wanted: frozenset[Ask]) -> float:
    """The share of what is wanted that ``sentence`` states (0 when nothing is wanted)."""
    if not wanted:
        return 0.0
    return sum(1 for ask in wanted if _CARRIED[ask].search(sentence)) / len(wanted)


def leans_back(sentence: str) -> bool:
    return bool(_LEANS_BACK.match(sentence))


def is_condition(sentence: str) -> bool:
    return bool(_CONDITION.match(sentence))
