"""References to what was shown ("the second one", "the cheapest", "the 6 am IndiGo one",
"non-stop"), cabins, bookings (ids, PNRs), traveller names and one-time codes."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from intents.numbers import ORDINALS, Found
from intents.text import word_set

CARRIERS = {
    "indigo": "6E", "6e": "6E", "air india express": "IX", "ai express": "IX",
    "air india": "AI", "akasa air": "QP", "akasa": "QP", "spicejet": "SG", "spice jet": "SG",
    "alliance air": "9I", "vistara": "UK", "star air": "S5",
}  # fmt: skip
_CARRIER = re.compile(
    r"\b(?P<c>" + "|".join(re.escape(c) for c in sorted(CARRIERS, key=len, reverse=True)) + r")\b"
)
_HINDI_ORDINALS = {
    "pehla": 1, "pehli": 1, "pehle": 1, "pahla": 1, "pahli": 1, "pahle": 1, "dusra": 2,
    "dusri": 2, "doosra": 2, "doosri": 2, "dusre": 2, "teesra": 3, "teesri": 3, "tisra": 3,
    "tisri": 3, "chautha": 4, "chauthi": 4, "chotha": 4, "paanchva": 5, "panchva": 5,
}  # fmt: skip
_ORDINAL_WORDS = {**ORDINALS, **_HINDI_ORDINALS, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4,
                  "5th": 5, "6th": 6, "7th": 7, "8th": 8, "9th": 9, "10th": 10}  # fmt: skip
_ORD = r"(?P<o>" + "|".join(sorted(_ORDINAL_WORDS, key=len, reverse=True)) + r")"
_THING = r"(?:one|option|flight|fare|offer|wala|wali|vala|vali|wale|hotel|bus|train|choice)"
_ORDINAL_REF = re.compile(rf"\b(?:the\s+)?{_ORD}\b(?!\s+of\b)(?P<thing>(?:\s+\w+)?\s+{_THING}\b)?")
_CHOOSING = re.compile(
    r"\b(?:book|take|choose|select|pick|go with|want|prefer|lo|le lo|lenge)\s+(?:the\s+)?$"
)
_NUMBERED = re.compile(
    r"\b(?:option|number|no\.?|choice|flight|#)\s*(?P<n>\d{1,2})\b(?!\s*(?:am|pm|:|baje))"
)
_LAST = re.compile(r"\b(?:the )?(?:last|aakhri|akhri|aakhiri)\s+(?:one|option|wala|wali)\b")
_CHEAPEST = re.compile(
    r"\b(?:cheapest|lowest(?: price| fare)?|least expensive|sabse sast[aei]|sast[aei] wal[aei]"
    r"|budget one|most affordable)\b"
)
_EARLIEST = re.compile(r"\b(?:earliest|first flight|sabse pehle wal[aei]|sabse jaldi)\b")
_LATEST = re.compile(r"\b(?:latest|last flight|sabse late|sabse der)\b")
_NONSTOP = re.compile(r"\b(?:non[- ]?stop|direct(?: flight)?|no stops?|without (?:a )?stop)\b")
_CABINS = (
    (re.compile(r"\bpremium economy\b"), "premium_economy"),
    (re.compile(r"\b(?:business(?: class)?|biz class)\b"), "business"),
    (re.compile(r"\bfirst class\b"), "first"),
    (re.compile(r"\b(?:economy|coach|econ)\b"), "economy"),
)
_BOOKING_ID = re.compile(r"\bbk_[a-z0-9_-]{4,}\b")
_PNR = re.compile(
    r"\b(?:pnr|booking (?:ref(?:erence)?|code|number)|ref)\s*(?:is|:|no\.?|number)?\s*(?P<p>[a-z0-9]{6})\b"
)
# "my Goa booking", "my Delhi Goa ticket", "meri Jaipur wali booking", "my flight to Pune".
_BOOKED = r"(?:booking|trip|flight|ticket|reservation)"
_BOOKING_PLACE = re.compile(
    rf"\b(?:my|meri|mera|mere)\s+(?P<place>[a-z]+)(?:\s+(?P<next>[a-z]+))?\s+"
    rf"(?:(?:wali|wala|wale|vali|vala|vale|ki|ka|ke)\s+)?{_BOOKED}\b"
    rf"|\b(?:my|meri|mera|mere)\s+{_BOOKED}\s+(?:to|for|from)\s+(?P<after>[a-z]+)\b"
)
_OTP = re.compile(r"\b(?P<otp>\d{6})\b")
_OTP_CUE = re.compile(r"\b(?:otp|code|pin)\b")
# Digits said one by one, in English or Hindi, as a caller reads a code out.
_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "shunya": "0",
    "sunya": "0", "ek": "1", "do": "2", "teen": "3", "tin": "3", "char": "4", "chaar": "4",
    "paanch": "5", "panch": "5", "chhe": "6", "che": "6", "chhah": "6", "chheh": "6",
    "saat": "7", "sat": "7", "aath": "8", "ath": "8", "nau": "9",
}  # fmt: skip
_DIGIT = "(?:" + "|".join(sorted(_DIGIT_WORDS, key=len, reverse=True)) + r"|\d)"
_SPOKEN_OTP = re.compile(rf"\b{_DIGIT}(?:[\s,.-]+{_DIGIT}){{5}}\b")
_NAME = re.compile(
    r"\b(?:my name is|name is|naam|i am|i'm|passengers?(?: names?)?(?: is| are)?:?"
    r"|(?:the )?travell?ers?(?: names?)?(?: is| are)?:?"
    r"|mera naam)\s+(?P<names>[a-z]+(?: (?!and\b|aur\b)[a-z]+){0,2}(?:\s*(?:,|and|aur|&)\s*[a-z]+(?: (?!and\b|aur\b)[a-z]+){0,2})*)"
)
_NAME_STOP = word_set(
    "hai he is and aur from to going travelling flying looking want need the a an my in on at "
    "for with booking ticket age aged years year old born"
)


def offer_ref(text: str, *, expecting_choice: bool, time: Found | None) -> Found | None:
    """What the traveller points at among shown options; keys combine."""
    ref: dict[str, Any] = {}
    spans: list[tuple[int, int]] = []
    for said in _ORDINAL_REF.finditer(text):
        if said["thing"] or expecting_choice or _CHOOSING.search(text[: said.start()]):
            ref["ordinal"] = _ORDINAL_WORDS[said["o"]]
            spans.append(said.span())
            break
    if "ordinal" not in ref and (numbered := _NUMBERED.search(text)):
        ref["ordinal"] = int(numbered["n"])
        spans.append(numbered.span())
    if "ordinal" not in ref and (last := _LAST.search(text)):
        ref["ordinal"] = -1
        spans.append(last.span())
    for key, pattern in (("cheapest", _CHEAPEST), ("earliest", _EARLIEST), ("latest", _LATEST),
                         ("nonstop", _NONSTOP)):  # fmt: skip
        if found := pattern.search(text):
            ref[key] = True
            spans.append(found.span())
    if carrier := _CARRIER.search(text):
        ref["carrier"] = CARRIERS[carrier["c"]]
        spans.append(carrier.span())
    pointing = re.search(rf"\b(?:the|that|wo|woh|vo)\b.*\b{_THING}\b", text)
    clock = time is not None and re.fullmatch(r"\d\d:\d\d", str(time.normalized))
    if time is not None and clock and (pointing or expecting_choice or "carrier" in ref):
        ref["time"] = time.normalized
        spans.append((time.start, time.end))
    if not ref:
        return None
    start, end = min(s for s, _ in spans), max(e for _, e in spans)
    return Found("offer_ref", start, end, ref, 0.9)


def cabin(text: str) -> Found | None:
    for pattern, name in _CABINS:
        if m := pattern.search(text):
            return Found("cabin", m.start(), m.end(), name, 0.95)
    return None


def booking_ref(text: str, *, places: Mapping[int, str]) -> Found | None:
    """A booking the traveller points at: its id, its PNR, or a place of it ("my Goa
    booking"); ``places`` maps where each known place starts in ``text`` to its code."""
    if m := _BOOKING_ID.search(text):
        return Found("booking_ref", m.start(), m.end(), {"booking_id": m.group(0)}, 0.95)
    if (m := _PNR.search(text)) and re.search(r"\d", m["p"]):
        return Found("booking_ref", m.start("p"), m.end("p"), {"pnr": m["p"].upper()}, 0.9)
    for m in _BOOKING_PLACE.finditer(text):
        for group in ("place", "next", "after"):
            if m[group] and m.start(group) in places:
                return Found(
                    "booking_ref", m.start(), m.end(), {"place": places[m.start(group)]}, 0.8
                )
    return None


def otp(text: str, *, expecting_otp: bool) -> Found | None:
    """A six-digit code, typed or said digit by digit ("four eight two nine one three", "saat
    do paanch char nau char", "4 8 2 9 1 3")."""
    if not (expecting_otp or _OTP_CUE.search(text)):
        return None
    if m := _OTP.search(text):
        return Found("otp", m.start(), m.end(), m["otp"], 0.95)
    if m := _SPOKEN_OTP.search(text):
        digits = "".join(_DIGIT_WORDS.get(w, w) for w in re.findall(r"[a-z]+|\d", m.group(0)))
        if len(digits) == 6:
            return Found("otp", m.start(), m.end(), digits, 0.85)
    return None


def traveller_names(text: str, said: Callable[[int, int], str]) -> Found | None:
    """Names after "my name is", "passenger", "naam": first and last, in the case given
    (``said`` maps a span of the reading form to the words as written)."""
    m = _NAME.search(text)
    if m is None:
        return None
    people: list[dict[str, str]] = []
    groups: list[list[tuple[int, int]]] = [[]]
    last = m.start("names")
    for w in re.finditer(r"[a-z]+", text[m.start("names") : m.end("names")]):
        start, end = w.start() + m.start("names"), w.end() + m.start("names")
        if w[0] in ("and", "aur") or re.search(r"[,&]", text[last:start]):
            groups.append([])
        if w[0] not in ("and", "aur"):
            groups[-1].append((start, end))
        last = end
    for words in groups:
        while words and text[slice(*words[-1])] in _NAME_STOP:
            words.pop()
        if not words or text[slice(*words[0])] in _NAME_STOP:
            continue
        cased = [said(a, b) for a, b in words]
        cased = [w if any(c.isupper() for c in w) else w.capitalize() for w in cased]
        people.append({"first_name": cased[0], "last_name": " ".join(cased[1:])})
    if not people:
        return None
    return Found("traveller_names", m.start("names"), m.end("names"), people, 0.8)
