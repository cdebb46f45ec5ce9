"""Spoken forms in a transcript rewritten as the text the turn engine parses.

"the twenty fifth of December" -> "25 december", "two adults" -> "2 adults",
"b l r to g o i" -> "BLR to GOI". Pure functions; everything else passes through unchanged.
"""

from __future__ import annotations

import re

_UNITS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen"]
_TEENS += ["seventeen", "eighteen", "nineteen"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORD_UNITS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"]
_ORD_TEENS = ["tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth"]
_ORD_TEENS += ["sixteenth", "seventeenth", "eighteenth", "nineteenth"]
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august"]
_MONTHS += ["september", "october", "november", "december"]

_CARDINALS = {w: i for i, w in enumerate(_UNITS, 1)} | {w: i for i, w in enumerate(_TEENS, 10)}
_CARDINALS |= {w: 10 * i for i, w in enumerate(_TENS, 2)}
_ORDINALS = {w: i for i, w in enumerate(_ORD_UNITS, 1)} | {
    w: i for i, w in enumerate(_ORD_TEENS, 10)
}
_ORDINALS |= {"twentieth": 20, "thirtieth": 30}
# Every spoken number word: never part of a place name ("to twenty fifth" is a date).
NUMBER_WORDS = frozenset(_CARDINALS) | frozenset(_ORDINALS)


def _alt(words: list[str]) -> str:
    # Longest first, so "seventeen" is never read as "seven".
    return "|".join(sorted(words, key=len, reverse=True))


_TENS_RE = _alt(_TENS)
_CARDINAL_RE = rf"(?:(?:{_TENS_RE})(?:[\s-]+(?:{_alt(_UNITS)}))?|{_alt(_TEENS)}|{_alt(_UNITS)})"
_ORDINAL_RE = (
    rf"(?:(?:{_TENS_RE})[\s-]+(?:{_alt(_ORD_UNITS)})|{_alt(list(_ORDINALS))}"
    r"|\d{1,2}(?:st|nd|rd|th))"
)
_MONTH_RE = _alt(_MONTHS)

_DAY_OF_MONTH = re.compile(
    rf"\b(?:the\s+)?(?P<day>{_ORDINAL_RE})(?:\s+of)?\s+(?P<month>{_MONTH_RE})\b", re.IGNORECASE
)
_MONTH_DAY = re.compile(
    rf"\b(?P<month>{_MONTH_RE})\s+(?:the\s+)?(?P<day>{_ORDINAL_RE})\b", re.IGNORECASE
)
_CARDINAL = re.compile(rf"\b{_CARDINAL_RE}\b", re.IGNORECASE)
# "one" is a pronoun as often as a number: leave "one way", "which one", "no one" alone.
_NOT_A_COUNT = re.compile(r"\bone[\s-]+way\b|\b(?:no|which|this|that|the|any|every)\s+one\b", re.I)
# Single letters separated by spaces, dots or hyphens: "b l r", "B. L. R", "B-L-R".
_LETTER_RUN = re.compile(r"\b[a-z]\b(?:[\s.-]+\b[a-z]\b)+", re.IGNORECASE)
_IATA_LENGTH = 3


def normalise(text: str) -> str:
    """Rewrite spoken dates, counts and spelled-out airport codes in `text`."""
    return _cardinals_to_digits(_spelled_codes(_dates(text)))


def words_to_number(words: str) -> int | None:
    """The value of a spoken cardinal or ordinal up to 99 ("twenty five", "31st"), else None."""
    tokens = re.split(r"[\s-]+", words.strip().lower())
    if len(tokens) == 1 and (m := re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?", tokens[0])):
        return int(m.group(1))
    total = 0
    for i, token in enumerate(tokens):
        value = _CARDINALS.get(token, _ORDINALS.get(token))
        if value is None:
            return None
        # Only "<tens> <unit>" combines; "five twenty" or "twenty thirty" is not one number.
        if i and not (total % 10 == 0 and total >= 20 and value < 10):
            return None
        total += value
    return total or None


def _dates(text: str) -> str:
    def to_day_month(m: re.Match[str]) -> str:
        day = words_to_number(m.group("day"))
        if day is None or not 1 <= day <= 31:
            return m.group(0)
        return f"{day} {m.group('month').lower()}"

    return _MONTH_DAY.sub(to_day_month, _DAY_OF_MONTH.sub(to_day_month, text))


def _spelled_codes(text: str) -> str:
    def join(m: re.Match[str]) -> str:
        letters = re.findall(r"[a-z]", m.group(0), re.IGNORECASE)
        # Exactly three: two letters is usually a word ("a", "I") beside a letter, four or more
        # is a PNR or a name being spelled, which the turn engine asks for differently.
        return "".join(letters).upper() if len(letters) == _IATA_LENGTH else m.group(0)

    return _LETTER_RUN.sub(join, text)


def _cardinals_to_digits(text: str) -> str:
    protected = [m.span() for m in _NOT_A_COUNT.finditer(text)]

    def to_digits(m: re.Match[str]) -> str:
        if any(start <= m.start() < end for start, end in protected):
            return m.group(0)
        value = words_to_number(m.group(0))
        return m.group(0) if value is None else str(value)

    return _CARDINAL.sub(to_digits, text)
