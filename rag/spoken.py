"""A policy answer as it is said on the phone: short, speakable, and naming whose rules it
quotes ("According to SkyIndia Airways' baggage allowance policy, ...")."""

from __future__ import annotations

import re

from rag.answers import Answer, Citation
from rag.text import sentences

MAX_SPOKEN_WORDS = 45

_SPEAKABLE = [
    (re.compile(r"(?:INR|Rs\.?|₹)\s?([\d,]+(?:\.\d+)?)"), r"\1 rupees"),
    (re.compile(r"(\d)\s?%"), r"\1 percent"),
    (re.compile(r"\bhrs\b"), "hours"),
    (re.compile(r"\bmins\b"), "minutes"),
    (re.compile(r"\be\.g\.", re.IGNORECASE), "for example"),
    (re.compile(r"\bi\.e\.", re.IGNORECASE), "that is"),
    (re.compile(r"\s*&\s*"), " and "),
    (re.compile(r"[*_#`|>]+"), " "),
    (re.compile(r"\s*;\s*"), ", "),
    (re.compile(r"\s+"), " "),
]


def possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def source_name(citation: Citation) -> str:
    """Whose rules a citation quotes, as said aloud: "SkyIndia Airways' baggage allowance
    policy", "Indian Railways' rules on train luggage", "the Yatri Refund Policy"."""
    title = re.sub(r"\s*\([^)]*\)\s*$", "", citation.title).strip()
    supplier = re.sub(r"\s*\([^)]*\)", "", citation.supplier or "").strip()
    if not supplier:
        return f"the {title}"
    if title.lower().startswith(supplier.lower()):
        topic = title[len(supplier) :].strip(" -:,").lower() or "policy"
        if not re.search(r"\b(?:policy|policies|rules|terms|conditions)\b", topic):
            topic += " policy"
        return f"{possessive(supplier)} {topic}"
    return f"{possessive(supplier)} rules on {title[0].lower()}{title[1:]}"


def speakable(text: str) -> str:
    for pattern, replacement in _SPEAKABLE:
        text = pattern.sub(replacement, text)
    return text.strip()


def spoken_answer(answer: Answer) -> str:
    """The answer for a voice channel: the source named first, then the quoted sentences up to
    about ``MAX_SPOKEN_WORDS`` words. A declined answer is said as it is."""
    if not answer.grounded or not answer.citations:
        return answer.answer
    said: list[str] = []
    words = 0
    for sentence in sentences(speakable(answer.answer)):
        count = len(sentence.split())
        if said and words + count > MAX_SPOKEN_WORDS:
            break
        said.append(sentence)
        words += count
    body = " ".join(said)
    if not re.search(r"[.!?]$", body):
        body += "."
    return f"According to {source_name(answer.citations[0])}, {body[0].lower()}{body[1:]}"
