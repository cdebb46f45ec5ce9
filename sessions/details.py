"""Traveller details given in free text: passenger names, an email address and a mobile
number ("Asha Rao and Rahul Verma, asha@example.com, 98765 43210")."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from wordfreq import zipf_frequency

from intents.text import HINGLISH_WORDS
from rag.hinglish import FUNCTION_WORDS

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<!\d)(?:\+?91[\s-]?)?[6-9]\d{4}[\s-]?\d{5}(?!\d)")
_SPLIT = re.compile(r"\s*(?:,|;|\band\b|&|\n)\s*", re.IGNORECASE)
_LEAD = re.compile(
    r"^(?:(?:the\s+)?(?:passengers?|travell?ers?|names?)\s*(?:are|is|:)?|it'?s|its|for|"
    r"mr\.?|mrs\.?|ms\.?|miss|dr\.?|shri|smt\.?|my name is|i am|i'm)\s+",
    re.IGNORECASE,
)
_WORD = re.compile(r"^[^\W\d_][^\W\d_'.-]*$")
_NOT_NAMES = {"email", "phone", "mobile", "number", "is", "my", "the", "book", "yes", "no",
              "ek", "sawaal", "sawal", "baat", "ruko", "minute", "haan", "nahi"}  # fmt: skip


def contact_in(text: str) -> dict[str, str]:
    """The email and mobile number in `text` (either may be missing)."""
    found: dict[str, str] = {}
    if email := _EMAIL.search(text):
        found["email"] = email.group(0)
    if phone := _PHONE.search(text):
        digits = re.sub(r"\D", "", phone.group(0))[-10:]
        found["phone"] = f"+91 {digits[:5]} {digits[5:]}"
    return found


def names_in(text: str) -> list[dict[str, str]]:
    """Full names (two to four words each) in `text`, in order."""
    rest = _PHONE.sub(" ", _EMAIL.sub(" ", text))
    names = []
    for chunk in _SPLIT.split(rest):
        chunk = chunk.strip(" .")
        while (lead := _LEAD.match(chunk)) is not None:
            chunk = chunk[lead.end() :]
        words = chunk.split()
        if not 2 <= len(words) <= 4 or not all(_WORD.match(w) for w in words):
            continue
        if any(w.lower() in _NOT_NAMES or _common(w) for w in words):
            continue
        names.append({"first_name": words[0].title(), "last_name": " ".join(words[1:]).title()})
    return names


def details_in(text: str, *, parsed_names: Any = None) -> dict[str, Any]:
    """Slots a traveller-details answer fills: `travellers` and `contact` (complete only)."""
    slots: dict[str, Any] = {}
    names = parsed_names if isinstance(parsed_names, list) and parsed_names else names_in(text)
    if names:
        slots["travellers"] = names
    contact = contact_in(text)
    if contact:
        slots["contact_partial"] = contact
    return slots


@lru_cache(maxsize=4096)
def _common(word: str) -> bool:
    """A very common English word ("wait", "make", "instead") or a Hinglish one ("theek hai",
    "rehne do"): part of a sentence, not a name. The parser's own name reader comes first;
    this guards the fallback."""
    lowered = word.lower()
    return (
        lowered in HINGLISH_WORDS
        or lowered in FUNCTION_WORDS
        or zipf_frequency(lowered, "en") >= 5.0
    )
