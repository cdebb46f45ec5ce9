"""Places in an utterance: Indian cities, their old names and Hindi names, and airport codes,
from the airport directory. A name we know is certain; a word in a travel position that is not
one of our cities ("to Mobile", heard for Mumbai) comes back with the closest city as a
low-confidence candidate to confirm, never as a search; a well-known city abroad comes back
unresolved."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import jellyfish
import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Indel, JaroWinkler
from wordfreq import top_n_list

from core.airports import AirportDirectory, Tier
from intents.text import HINGLISH_WORDS, romanise, word_set

# Hindi names of the cities travellers name most (romanised through `romanise` at build time,
# so they match Devanagari input read by `intents.text.read`).
_HINDI_NAMES = {
    "दिल्ली": "DEL", "नई दिल्ली": "DEL", "मुंबई": "BOM", "मुम्बई": "BOM", "बंबई": "BOM",
    "बेंगलुरु": "BLR", "बैंगलोर": "BLR", "बेंगलूरु": "BLR", "चेन्नई": "MAA", "कोलकाता": "CCU",
    "हैदराबाद": "HYD", "पुणे": "PNQ", "अहमदाबाद": "AMD", "गोवा": "GOI", "जयपुर": "JAI",
    "लखनऊ": "LKO", "कोच्चि": "COK", "पटना": "PAT", "वाराणसी": "VNS", "बनारस": "VNS",
    "अमृतसर": "ATQ", "चंडीगढ़": "IXC", "श्रीनगर": "SXR", "गुवाहाटी": "GAU", "भोपाल": "BHO",
    "इंदौर": "IDR", "नागपुर": "NAG", "रांची": "IXR", "भुवनेश्वर": "BBI", "देहरादून": "DED",
    "जम्मू": "IXJ", "लेह": "IXL", "उदयपुर": "UDR", "जोधपुर": "JDH", "रायपुर": "RPR",
    "सूरत": "STV", "वडोदरा": "BDQ", "कोयंबटूर": "CJB", "मदुरै": "IXM", "विशाखापत्तनम": "VTZ",
    "तिरुवनंतपुरम": "TRV", "प्रयागराज": "IXD", "गोरखपुर": "GOP", "बागडोगरा": "IXB",
    "आगरा": "AGR", "मैसूर": "MYQ", "मंगलौर": "IXE", "पोर्ट ब्लेयर": "IXZ",
}  # fmt: skip
# Big cities abroad a traveller really means: unresolved (we fly within India), not "corrected".
_WELL_KNOWN_ABROAD = word_set(
    "dubai london singapore bangkok paris new york kathmandu colombo dhaka lahore karachi doha "
    "abu dhabi muscat kuala lumpur hong kong tokyo sydney toronto frankfurt riyadh jeddah "
    "sharjah bali male phuket istanbul melbourne san francisco chicago los angeles"
) | {"new york", "abu dhabi", "kuala lumpur", "hong kong", "san francisco", "los angeles"}

ORIGIN_BEFORE = re.compile(
    r"(?:\bfrom|\bex|\bleaving|\bdeparting|\bout of|\bflying out of|\bstarting from)\s+$"
)
DEST_BEFORE = re.compile(
    r"(?:\bto|\binto|\bfor|\btill|\btowards|\barriving (?:in|at)|\barrive (?:in|at)|\breach"
    r"|\breaching|\bland in|\bgoing to|\bvisit|\bvisiting)\s+$"
)
STAY_BEFORE = re.compile(r"(?:\bin|\bat|\bnear|\baround|\bstay in|\bhotels? in)\s+$")
ORIGIN_AFTER = re.compile(r"^\s+(?:se|to|->|-)\b|^\s*(?:->|-|–)")
DEST_AFTER = re.compile(r"^\s+(?:ko|tak|jana|jaana|jaane|jane|ke liye|ki|ka|ke)\b")
# A Hindi verb or auxiliary before "to": the "to" is "then" ("cancel ho jaye to refund?").
_HINDI_THEN = re.compile(
    r"\b(?:ho|hai|hain|jaye|jaaye|jae|gaya|gayi|gaye|hua|hui|tha|thi|kare|karu|karun|karein"
    r"|kiya|diya|liya|mile|mila|mili)\s+$"
)
_PLACE_WORD = re.compile(r"[a-z]+(?: [a-z]+)?")
# Words after "to"/"from"/"in" that are never places.
_NOT_PLACES = word_set(
    "the a an me my us you book go fly travel be it this that change cancel check see know "
    "find get make stay pay do have help speak talk chat ask modify reschedule confirm add "
    "take come leave return morning evening night afternoon business economy first class "
    "some any all your our their his her its one two three four five six hotel hotels room "
    "rooms flight flights bus buses train trains ticket tickets city place somewhere "
    "anywhere home office work airport station yatri agent human person someone tomorrow "
    "today kal aaj parson next coming end cheap cheapest under around about with and or but "
    "not just only also please sir madam ji how what when where which who why there here "
    "more less mein main mai hai kya"
)


@dataclass(frozen=True, slots=True)
class PlaceMention:
    start: int  # span in the reading form
    end: int
    code: str | None  # the IATA code meant (the best guess when unsure); None when unresolved
    confidence: float
    candidates: tuple[str, ...] = ()
    said: str = ""


class PlaceIndex:
    """Every name the directory resolves (and Hindi names), compiled once at start-up."""

    def __init__(self, airports: AirportDirectory, *, common_words: Iterable[str] = ()) -> None:
        self.airports = airports
        names = {n: c for n, c in airports.by_name.items() if not n.endswith(" airport")}
        for hindi, code in _HINDI_NAMES.items():
            if airports.get(code) is not None:
                names.setdefault(" ".join(romanise(w) for w in hindi.split()), code)
        self.names = names
        self._pattern = re.compile(
            r"\b(?:" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b"
        )
        self._common = frozenset(common_words) - names.keys()
        self._keys = list(names)
        self._letters = [re.sub(r"[^a-z]", "", n) for n in self._keys]
        self._sounds = [jellyfish.metaphone(n) for n in self._letters]
        bonus = {Tier.METRO: 0.08, Tier.MAJOR: 0.04, Tier.REGIONAL: 0.01, Tier.MINOR: 0.0}
        self._bonus = np.array([bonus[self._tier(names[n])] for n in self._keys])

    def _tier(self, code: str) -> Tier:
        airport = self.airports.get(code)
        return airport.tier if airport else Tier.MINOR

    def find(self, text: str, original: str, *, origin_of: list[int]) -> list[PlaceMention]:
        """Places in the reading form ``text``; ``original`` and ``origin_of`` tell whether a
        three-letter code was written in capitals."""
        found: list[PlaceMention] = []
        for m in self._pattern.finditer(text):
            name = m.group(0)
            travel = _travel_position(text, m.start(), m.end())
            if name in self._common and not travel:
                continue  # "gaya", "salem" in prose
            code = self.names[name]
            confidence = 0.95 if travel or self._tier(code) <= Tier.MAJOR else 0.8
            if len(name) == 3 and name.upper() == code:  # a code: "del", "bom"
                written = original[origin_of[m.start()] : origin_of[m.end() - 1] + 1]
                if not written.isupper() and not travel:
                    continue
            found.append(PlaceMention(m.start(), m.end(), code, confidence, said=name))
        for m in re.finditer(r"\b[a-z]{3}\b", text):
            if any(f.start <= m.start() < f.end for f in found):
                continue
            code = m.group(0).upper()
            if self.airports.get(code) is None:
                continue
            written = original[origin_of[m.start()] : origin_of[m.end() - 1] + 1]
            if written.isupper() or _travel_position(text, m.start(), m.end()):
                found.append(PlaceMention(m.start(), m.end(), code, 0.95, said=m.group(0)))
        found.extend(self._unknown(text, found))
        return sorted(found, key=lambda p: p.start)

    def _unknown(self, text: str, known: list[PlaceMention]) -> list[PlaceMention]:
        """Words in a travel position that are not our places: the closest city to confirm,
        or unresolved."""
        out: list[PlaceMention] = []
        for m in re.finditer(r"\b(?:from|to|in|for|towards)\s+(?=(?P<w>[a-z]+(?: [a-z]+)?))", text):
            start = m.start("w")
            if any(k.start <= start < k.end for k in known + out):
                continue
            words = m["w"].split()
            if words[0] in _NOT_PLACES or len(words[0]) < 3:
                continue
            if m.group(0).startswith("to") and _HINDI_THEN.search(text[: m.start()]):
                continue  # "late ho to paisa...": Hindi "to" is "then", not a destination
            phrase = m["w"] if len(words) == 2 and m["w"] in _WELL_KNOWN_ABROAD else words[0]
            if len(words) == 2 and words[1] not in _NOT_PLACES:
                abroad_pair = self.airports.abroad(m["w"])
                if abroad_pair is not None:
                    phrase = m["w"]
            end = start + len(phrase)
            role_ok = m.group(0).split()[0] in ("from", "to") or ORIGIN_AFTER.match(text[end:])
            if not role_ok:
                continue
            if phrase in _WELL_KNOWN_ABROAD:
                out.append(PlaceMention(start, end, None, 0.0, said=phrase))
                continue
            abroad = self.airports.abroad(phrase) is not None
            if phrase in self._common and not abroad:
                continue
            score, code = self.closest(phrase)
            # A small town abroad that sounds like one of ours ("Mobile") is likely a mishearing;
            # a word that is no place at all ("Atlantis") must be a near spelling ("Mumbay").
            if score >= (0.55 if abroad else 0.7):
                out.append(
                    PlaceMention(start, end, code, round(min(0.5, score * 0.6), 2), (code,), phrase)
                )
            elif abroad or phrase not in self._common:
                out.append(PlaceMention(start, end, None, 0.0, said=phrase))
        return out

    def closest(self, spoken: str) -> tuple[float, str]:
        """The Indian city closest to ``spoken`` by spelling and sound, busier cities first."""
        letters = re.sub(r"[^a-z]", "", spoken.lower())
        spelling = process.cdist([letters], self._letters, scorer=Indel.normalized_similarity)[0]
        prefix = process.cdist([letters], self._letters, scorer=JaroWinkler.normalized_similarity)[
            0
        ]
        sound = process.cdist(
            [jellyfish.metaphone(letters)], self._sounds, scorer=Indel.normalized_similarity
        )[0]
        scores = (spelling + prefix + sound) / 3
        best = int(np.argmax(scores + self._bonus))
        return float(scores[best]), self.names[self._keys[best]]


def _travel_position(text: str, start: int, end: int) -> bool:
    before, after = text[:start], text[end:]
    return bool(
        ORIGIN_BEFORE.search(before)
        or DEST_BEFORE.search(before)
        or STAY_BEFORE.search(before)
        or ORIGIN_AFTER.match(after)
        or DEST_AFTER.match(after)
        or re.fullmatch(r"\s*", before)  # the whole answer is the place: "Chennai"
    )


def common_words() -> frozenset[str]:
    """English words common enough that a city spelled the same ("salem", "mobile") is what the
    traveller said only in a travel position; and Hinglish words ("gaya")."""
    return frozenset(top_n_list("en", 15_000, wordlist="small")) | HINGLISH_WORDS | {"gaya"}
