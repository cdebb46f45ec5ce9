"""Misheard Indian city names in a transcript rewritten as the names the NLU resolves.

Whisper tiny.en spells unfamiliar names by ear ("Daradun", "Bengal or", "Goa hadi"); the NLU
matches names exactly, so a near miss loses the route. `SpokenCities.correct` compares each
short span in a travel position ("from X", "to X", "X to") with every city name and alias in
`core.airports`, by spelling and by sound, and rewrites close matches to the canonical city.
`SpokenCities.places` lists the spans in travel positions that may name a city, with the closest
cities, for a decoder to score against the audio (voice/places.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jellyfish
import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Indel, JaroWinkler
from wordfreq import top_n_list

from core.airports import AirportDirectory, Tier
from voice.normalise import NUMBER_WORDS

# A span starts after one of these ("from Daradun") or ends before one ("Riper to Goa").
_BEFORE_SPAN = frozenset(
    {"from", "to", "in", "at", "via", "reach", "reaching", "for", "into", "till", "towards",
     "ex", "leaving", "departing", "visit", "visiting"}
)  # fmt: skip
_AFTER_SPAN = frozenset({"to", "se", "ko", "tak"})
# Words that end a span: routing words, dates, counts. A misheard name never contains them
# ("or", "a", "my" and "in" it may: "Bengal or", "a Mritsur", "in fall").
_NEVER_IN_SPAN = frozenset(
    {"to", "from", "on", "for", "via", "and", "at", "by", "with", "the", "of", "is", "am", "are",
     "was", "be", "me", "us", "we", "i", "it", "please", "what", "which", "when", "how", "tomorrow",
     "today", "tonight", "next", "this", "that", "day", "days", "week", "after", "before", "then",
     "flight", "flights", "ticket", "tickets", "train", "trains", "bus", "fare", "fares", "book",
     "adult", "adults", "child", "children", "kid", "kids", "infant", "infants", "people",
     "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "first",
     "second", "third", "pnr", "tatkal", "class", "economy", "business", "return", "back", "se",
     "ko", "tak", "kal", "aaj", "parso", "january", "february", "march", "april", "may", "june",
     "july", "august", "september", "october", "november", "december", "monday", "tuesday",
     "wednesday", "thursday", "friday", "saturday", "sunday", "pe", "par", "mein", "ka", "ki",
     "ke", "hai", "hoon", "jana", "jaana",
     # Travel words too rare in English to count as common: "for Sleeper", "for Diwali".
     "sleeper", "seater", "sitting", "chair", "coach", "diwali", "holi", "dussehra", "navratri",
     "pongal", "onam", "eid", "puja", "durga", "ganesh", "chhath", "kumbh", "mela"}
) | NUMBER_WORDS  # fmt: skip
# English words this common are what the caller said, not a misheard name ("in cash" is not
# "in Kashi", "to board" is not "to Baroda"); they join a rewrite only in a close match of
# several words ("luck now", "Bengal or").
_COMMON_WORDS = 15_000
_MAX_SPAN_WORDS = 3
_MIN_LETTERS = 3
# Digits are words too ("27th"), so their letters never pass for a name; they end a span.
_WORD = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")
# A sentence end between two words stops a span; a comma or hyphen does not ("Goa, Hadi").
_SENTENCE_BREAK = re.compile(r"[.?!;:]")
# An unstressed "to" run into the next name ("Dapatna") or the one before ("Bopalta").
_FUSED_BEFORE = re.compile(r"[dt][aeou]+(?=[a-z]{4})")
_FUSED_AFTER = re.compile(r"(?<=[a-z]{4})[dt][aeou]$")
# Busier airports are named more often, so a near tie goes to the busier one.
_TIER_BONUS = {Tier.METRO: 0.02, Tier.MAJOR: 0.02, Tier.REGIONAL: 0.01, Tier.MINOR: 0.0}


@dataclass(frozen=True, slots=True)
class CityName:
    """One way of saying a city, and the city `correct` writes for it."""

    spoken: str
    city: str
    tier: Tier = Tier.MINOR


@dataclass(frozen=True, slots=True)
class _Words:
    """The words of one transcript, lower-cased, with where they stand."""

    text: str
    matches: list[re.Match[str]]
    lowered: list[str]

    @classmethod
    def of(cls, text: str) -> _Words:
        matches = list(_WORD.finditer(text))
        return cls(text, matches, [m.group(0).lower() for m in matches])

    def joined(self, k: int) -> bool:
        """Whether word `k` sits in the same sentence as the word before it."""
        if not 0 < k < len(self.matches):
            return False
        gap = (self.matches[k - 1].end(), self.matches[k].start())
        return _SENTENCE_BREAK.search(self.text, *gap) is None

    def after_trigger(self, i: int) -> bool:
        return self.joined(i) and self.lowered[i - 1] in _BEFORE_SPAN

    def before_trigger(self, j: int) -> bool:
        return self.joined(j + 1) and self.lowered[j + 1] in _AFTER_SPAN

    def name_ends_at(self, k: int, names: Mapping[str, list[str]]) -> bool:
        """Whether a known name of one or two words ends at word `k`, next to word `k + 1`."""
        if not self.joined(k + 1):
            return False
        return self.lowered[k] in names or (k > 0 and "".join(self.lowered[k - 1 : k + 1]) in names)

    def name_starts_at(self, k: int, names: Mapping[str, list[str]]) -> bool:
        """Whether a known name of one or two words starts at word `k`, next to word `k - 1`."""
        if not self.joined(k):
            return False
        return self.lowered[k] in names or "".join(self.lowered[k : k + 2]) in names


@dataclass(frozen=True, slots=True)
class PlaceSpan:
    """Words in a travel position that may name a city: the closest cities, best first, and
    `name`, the city the words are as written (None when they are no Indian city's name)."""

    start: int  # character offsets in the text
    end: int
    heard: str
    cities: tuple[str, ...]
    name: str | None = None


@dataclass(frozen=True, slots=True)
class _Span:
    start: int  # character offsets in the text
    end: int
    replacement: str
    score: float
    words: int
    keep: bool = False  # a name as written: protects its words from other rewrites


class SpokenCities:
    """Rewrites near-spellings of Indian city names in travel positions; build it once with
    `from_airports` (it precomputes every name's spelling and phonetic keys)."""

    def __init__(
        self,
        *,
        names: Iterable[CityName],
        common_words: Iterable[str],
        other_places: Iterable[str] = (),
        places_abroad: Iterable[str] = (),
        threshold: float = 0.75,
        common_threshold: float = 0.88,
    ) -> None:
        """A span is rewritten when its score (0..1) reaches `threshold`, or `common_threshold`
        when every word in it is one of `common_words`; a common word alone never is, nor one of
        `other_places` (cities the NLU does not know, such as foreign ones: "Lahore").
        `places_abroad` (towns abroad such as "Mobile") are offered by `places` for scoring."""
        names = list(names)
        unique = {(_letters(n.spoken), n.city, n.tier) for n in names if _letters(n.spoken)}
        entries = sorted(unique)
        self._letters = [spoken for spoken, _, _ in entries]
        self._sounds = [jellyfish.metaphone(spoken) for spoken in self._letters]
        self._skeletons = [_skeleton(spoken) for spoken in self._letters]
        self._cities = [city for _, city, _ in entries]
        self._bonus = np.array([_TIER_BONUS[tier] for _, _, tier in entries])
        self._canonical = {_letters(n.spoken): n.city for n in names}
        # Every name kept as written, by its letters: "portblair" -> ["port", "blair"].
        self._known = {_letters(p): p.lower().split() for p in other_places if _letters(p)}
        self._known |= {_letters(n.spoken): n.spoken.lower().split() for n in names}
        self._common = frozenset(common_words) - self._known.keys()
        self._abroad = frozenset(_letters(p) for p in places_abroad) - self._known.keys()
        self._threshold = threshold
        self._common_threshold = common_threshold

    @classmethod
    def from_airports(
        cls,
        airports: AirportDirectory,
        *,
        common_words: Iterable[str] | None = None,
        other_places: Iterable[str] = (),
    ) -> SpokenCities:
        """Every city name and alias the directory resolves, written as its airport's city.
        `common_words` defaults to wordfreq's commonest English words."""
        names: list[CityName] = []
        for name, code in airports.by_name.items():
            airport = airports.get(code)
            # airportsdata names some fields "<X> Airport" for want of a city; nobody says those.
            if airport is None or name.endswith(" airport"):
                continue
            names.append(CityName(name, airport.city, airport.tier))
        if common_words is None:
            common_words = top_n_list("en", _COMMON_WORDS, wordlist="small")
        return cls(
            names=names,
            common_words=common_words,
            other_places=other_places,
            places_abroad=airports.abroad_cities,
        )

    def places(self, text: str, *, limit: int = 4, floor: float = 0.55) -> list[PlaceSpan]:
        """Spans of one to three words in travel positions that may name an Indian city, each
        with up to `limit` cities scoring at least `floor`, best first: names as written
        ("Goa" may be "Guwahati misheard"), near spellings ("Daradun"), and towns abroad that
        are ordinary words ("to Mobile"); never another common word alone ("to board")."""
        words = _Words.of(text)
        found: list[PlaceSpan] = []
        for i in range(len(words.lowered)):
            for j in range(i, min(i + _MAX_SPAN_WORDS, len(words.lowered))):
                if _ends_span(words.lowered[j]) or (j > i and not words.joined(j)):
                    break
                if words.after_trigger(i) or words.before_trigger(j):
                    span = self._place(words, i=i, j=j, limit=limit, floor=floor)
                    if span is not None:
                        found.append(span)
        return found

    def _place(
        self, words: _Words, *, i: int, j: int, limit: int, floor: float
    ) -> PlaceSpan | None:
        said = words.lowered[i : j + 1]
        spoken = "".join(said)
        start, end = words.matches[i].start(), words.matches[j].end()
        if len(spoken) < _MIN_LETTERS or spoken not in self._canonical and spoken in self._known:
            return None  # a place the NLU answers for itself ("Lahore")
        if any(len(w.group(0)) > 1 and w.group(0).isupper() for w in words.matches[i : j + 1]):
            return None
        if len(said) == 1 and said[0] in self._common and spoken not in self._abroad:
            return None  # "to board": a word, not a name misheard
        names = [w for w in said if w in self._known]
        if len(said) > 1 and (len(names) > 1 or names and any(w in self._common for w in said)):
            return None
        common = all(w in self._common for w in said) and spoken not in self._abroad
        cities = self._closest(
            spoken, limit=limit, floor=self._common_threshold if common else floor
        )
        name = self._canonical.get(spoken) if self._known.get(spoken) == said else None
        if names and len(said) > 1:
            # "Goa, Adh" read as "Goa" only drops a word, which a forced decoder scores cheaply.
            inside = {self._canonical.get(w) for w in names}
            cities = tuple(c for c in cities if c not in inside)
        if not cities or cities == (name,):
            return None
        return PlaceSpan(start, end, words.text[start:end], cities, name)

    def _closest(self, spoken: str, *, limit: int, floor: float) -> tuple[str, ...]:
        scores = self._scores(spoken)
        order = np.argsort(-(scores + self._bonus))
        out: list[str] = []
        for k in order:
            if scores[k] < floor or len(out) == limit:
                break
            if self._cities[k] not in out:
                out.append(self._cities[k])
        return tuple(out)

    def correct(self, text: str) -> str:
        """`text` with misheard city names in travel positions replaced by canonical names."""
        words = _Words.of(text)
        candidates: list[_Span] = []
        for i in range(len(words.lowered)):
            for j in range(i, min(i + _MAX_SPAN_WORDS, len(words.lowered))):
                if _ends_span(words.lowered[j]) or (j > i and not words.joined(j)):
                    break
                span = self._match(words, i=i, j=j)
                if span is not None:
                    candidates.append(span)
        return _apply(text, _non_overlapping(candidates))

    def _match(self, words: _Words, *, i: int, j: int) -> _Span | None:
        said = words.lowered[i : j + 1]
        spoken = "".join(said)
        start, end = words.matches[i].start(), words.matches[j].end()
        anchored = words.after_trigger(i) or words.before_trigger(j)
        known = self._known.get(spoken)
        if known is not None:
            # A name as written is kept wherever it is; run together differently ("luck now")
            # it is rewritten, in a travel position.
            if known == said:
                return _Span(start, end, words.text[start:end], 1.0, j - i + 1, keep=True)
            if anchored and spoken in self._canonical:
                return _Span(start, end, self._canonical[spoken], 1.0, j - i + 1)
            return None
        if len(spoken) < _MIN_LETTERS or not self._may_be_a_name(words, i=i, j=j):
            return None
        common = all(w in self._common for w in said) and spoken not in self._abroad
        if common and len(said) == 1:
            return None
        score, city = self._best(spoken) if anchored else (0.0, "")
        replacement = city
        if i == j and not common:
            fused = self._fused(words, i)
            if fused is not None and fused[0] > score:
                score, replacement = fused
        if score < (self._common_threshold if common else self._threshold):
            return None
        return _Span(start, end, replacement, score, j - i + 1)

    def _may_be_a_name(self, words: _Words, *, i: int, j: int) -> bool:
        said = words.lowered[i : j + 1]
        # Codes and acronyms are written in capitals ("INR", "AC"); the NLU reads codes itself.
        if any(len(w.group(0)) > 1 and w.group(0).isupper() for w in words.matches[i : j + 1]):
            return False
        # "X or" is a misheard name only where no alternative follows ("Bengal or on Monday"),
        # not in "India or abroad".
        nxt = words.lowered[j + 1] if j + 1 < len(words.lowered) else None
        if said[-1] == "or" and nxt is not None and nxt not in _NEVER_IN_SPAN:
            return False
        # A rare word beside the span is likely the rest of the same name ("Koryam Batur"):
        # rewriting part of it ("Batur" -> "Latur") would invent a city.
        for k in (i - 1, j + 1):
            if 0 <= k < len(words.lowered) and words.joined(max(k, i)) and self._rare(words, k):
                return False
        names = [w for w in said if w in self._known]
        if not names or len(said) == 1:
            return True
        # A name inside a longer span may be absorbed only by rare words ("Goa hadi"), never
        # by another name or a common word ("Goa tomorrow", "Pune, Goa").
        return len(names) == 1 and not any(w in self._common for w in said if w not in names)

    def _rare(self, words: _Words, k: int) -> bool:
        word = words.lowered[k]
        return not (
            not word.isalpha()
            or word in self._common
            or word in self._known
            or word in _NEVER_IN_SPAN
            or word in _BEFORE_SPAN
            or word in _AFTER_SPAN
        )

    def _fused(self, words: _Words, k: int) -> tuple[float, str] | None:
        """Word `k` read as a name run together with an unstressed "to" ("Ranchi, Dapatna"
        is "Ranchi to Patna", "Bopalta Port Blair" is "Bhopal to Port Blair"): the score and
        the rewrite, where a name stands on the other side of the "to"."""
        word = words.lowered[k]
        best: tuple[float, str] | None = None
        if words.name_ends_at(k - 1, self._known) and (m := _FUSED_BEFORE.match(word)):
            rest = word[m.end() :]
            if rest not in self._common:
                score, city = self._best(rest)
                best = (score, f"to {city}")
        if words.name_starts_at(k + 1, self._known) and (m := _FUSED_AFTER.search(word)):
            rest = word[: m.start()]
            if rest not in self._common:
                score, city = self._best(rest)
                if best is None or score > best[0]:
                    best = (score, f"{city} to")
        return best

    def _best(self, spoken: str) -> tuple[float, str]:
        """The closest city to `spoken`, by the mean of four similarities in [0, 1]."""
        scores = self._scores(spoken)
        best = int(np.argmax(scores + self._bonus))
        return float(scores[best]), self._cities[best]

    def _scores(self, spoken: str) -> np.ndarray[Any, np.dtype[np.float64]]:
        spelling = process.cdist([spoken], self._letters, scorer=Indel.normalized_similarity)
        prefix = process.cdist([spoken], self._letters, scorer=JaroWinkler.normalized_similarity)
        sound = process.cdist(
            [jellyfish.metaphone(spoken)], self._sounds, scorer=Indel.normalized_similarity
        )
        skeleton = process.cdist(
            [_skeleton(spoken)], self._skeletons, scorer=Indel.normalized_similarity
        )
        scores: np.ndarray[Any, np.dtype[np.float64]] = (
            spelling[0] + prefix[0] + sound[0] + skeleton[0]
        ) / 4
        return scores


def _ends_span(word: str) -> bool:
    return word in _NEVER_IN_SPAN or not word.replace("'", "").isalpha()


def _letters(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def _skeleton(letters: str) -> str:
    """A key for how Indian names sound to an English ear: aspiration dropped ("bh" -> "b"),
    voiced and voiceless stops merged ("Turu Padi", "Tirupati"), every vowel one vowel."""
    s = letters.replace("ph", "f")
    s = re.sub(r"(?<=[bcdgjkpst])h", "", s)
    s = re.sub(r"c(?=[aou])|ck|q", "k", s)
    # A "w" inside a name is a glide between vowels ("Guwahati" heard as "Goa hati").
    s = s[:1].replace("w", "v") + s[1:].replace("w", "a")
    s = s.replace("z", "s").replace("x", "ks")
    s = s.translate(str.maketrans("bdgeiouy", "ptkaaaaa")).replace("h", "")
    return re.sub(r"(.)\1+", r"\1", s)


def _non_overlapping(candidates: list[_Span]) -> list[_Span]:
    """The best rewrites that overlap neither each other nor a name as written, unless they
    take in the whole name and more ("Goa hadi" -> "Guwahati" over "Goa")."""
    kept = [s for s in candidates if s.keep]
    chosen: list[_Span] = []
    for span in sorted(candidates, key=lambda s: (-s.score, -s.words)):
        if span.keep or any(_overlap(span, c) for c in chosen):
            continue
        if any(_overlap(span, k) and not span.start <= k.start < k.end <= span.end for k in kept):
            continue
        chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


def _overlap(a: _Span, b: _Span) -> bool:
    return a.start < b.end and b.start < a.end


def _apply(text: str, spans: list[_Span]) -> str:
    out: list[str] = []
    at = 0
    for span in spans:
        out.append(text[at : span.start])
        out.append(span.replacement)
        at = span.end
    out.append(text[at:])
    return "".join(out)
