"""Places first: what the caller said about places, checked against the airport directory with
the decoder's own ear before the dialogue sees it.

`SpokenPlaces.rewrites` gives the decoder other readings of its hypothesis (each span in a travel
position with the closest cities in its place, `SpokenCities.places`); the decoder scores them on
the same audio (`Transcript.scored`); `SpokenPlaces.read` keeps, for each span, the reading with
the best score plus a prior (a heard word that is no Indian city's name, "Mobile" or "Daradun",
starts `other_penalty` behind) and says how sure it is: the chosen reading's share of the
probability among all the span's readings. A city chosen with a share under `sure` is a doubt,
for the dialogue to read back ("Did you mean Guwahati?") instead of searching it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core.airports import AirportDirectory
from voice.cities import PlaceSpan, SpokenCities
from voice.normalise import normalise
from voice.stt import Transcript

# Log-probability a heard word that is no Indian city's name gives away, in a travel position,
# to the cities it may be; and the share of probability below which a city is read back.
# Set on the tuning half of the cities only (bench/voice_accuracy.py).
OTHER_PENALTY = 4.0
SURE = 0.5
# Closest cities scored per span: more finds more rare names and costs a forced decoder pass each.
CITIES_PER_SPAN = 4


@dataclass(frozen=True, slots=True)
class PlaceDoubt:
    """A city written for words heard with doubt: `city` stands in the text, `heard` is what the
    decoder wrote, `confidence` the chosen reading's share of the probability."""

    heard: str
    city: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Heard:
    """A transcript as the dialogue reads it, and the places in it to confirm first."""

    text: str
    doubts: tuple[PlaceDoubt, ...] = ()

    def unsure(self) -> dict[str, str]:
        """Each doubtful city as written (lower case) -> the words heard for it."""
        return {d.city.lower(): d.heard for d in self.doubts}


@dataclass(frozen=True, slots=True)
class _Region:
    """Overlapping spans ("Goa", "Goa hati"): one place, several ways to read it."""

    start: int
    end: int
    spans: tuple[PlaceSpan, ...]


_NEXT_WORD = re.compile(r"\W*\w+")
# Prompts for the slot the dialogue expects next; Whisper reads a prompt as the text before the
# clip, so a sentence naming the places that fit biases spelling more than a list does.
_SLOT_PROMPTS: Mapping[str, str] = {}


class SpokenPlaces:
    """Reads transcripts for the dialogue: spoken forms normalised, places checked against the
    directory. Build it once with `from_airports`; `__call__` is the text-only path (transcripts
    posted by providers), `read` the path with the decoder's scores."""

    def __init__(
        self,
        cities: SpokenCities,
        *,
        prompts: Mapping[str, str] = _SLOT_PROMPTS,
        other_penalty: float = OTHER_PENALTY,
        sure: float = SURE,
        cities_per_span: int = CITIES_PER_SPAN,
        clean: Callable[[str], str] = normalise,
    ) -> None:
        self._cities = cities
        self._prompts = prompts
        self._penalty = other_penalty
        self._sure = sure
        self._limit = cities_per_span
        self._clean = clean

    @classmethod
    def from_airports(cls, airports: AirportDirectory) -> SpokenPlaces:
        return cls(SpokenCities.from_airports(airports))

    def __call__(self, text: str) -> str:
        """Spoken forms normalised and misheard city names corrected, by spelling and sound."""
        return self._cities.correct(self._clean(text))

    def prompt(self, expecting: str | None) -> str | None:
        """The decoder prompt for a turn that answers `expecting` (the dialogue's expected slot,
        "slot:destination"); None keeps the decoder's default."""
        return self._prompts.get(expecting or "")

    def rewrites(self, text: str) -> list[str]:
        """For each place, `text` up to the word after it, as heard and with each span read as
        each of its closest cities (the words after a place barely change its score, and every
        token scored costs a pass over the audio)."""
        out: list[str] = []
        for region in _regions(self._spans(text)):
            heard = _through_next_word(text, region.end)
            out.append(heard)
            out.extend(_replace(heard, s, city) for s in region.spans for city in s.cities)
        return out

    def read(self, transcript: Transcript) -> Heard:
        """The transcript with each place span read as its best-scored reading, normalised and
        corrected; the cities chosen with doubt."""
        text = transcript.text
        scores = {s.text: s.logprob for s in transcript.scored}
        if not scores:
            return Heard(self(text))
        chosen: list[tuple[int, int, str]] = []
        doubts: list[PlaceDoubt] = []
        for region in _regions(self._spans(text)):
            pick = self._choose(text, region, scores)
            if pick is None:
                continue
            span, city, share = pick
            chosen.append((span.start, span.end, city))
            if share < self._sure and city != span.name:
                doubts.append(PlaceDoubt(heard=span.heard, city=city, confidence=round(share, 3)))
        for start, end, city in sorted(chosen, reverse=True):
            text = text[:start] + city + text[end:]
        final = self(text)
        return Heard(final, tuple(d for d in doubts if d.city.lower() in final.lower()))

    def _spans(self, text: str) -> list[PlaceSpan]:
        return self._cities.places(text, limit=self._limit)

    def _choose(
        self, text: str, region: _Region, scores: Mapping[str, float]
    ) -> tuple[PlaceSpan, str, float] | None:
        """The span and city with the best score plus prior, and its share of probability
        (the words as heard counted as one more reading); None keeps the words as heard."""
        text = _through_next_word(text, region.end)
        if text not in scores:
            return None
        heard = scores[text]
        name = next((s for s in region.spans if s.name is not None), None)
        # As heard: a name as written competes on equal terms, anything else starts behind.
        options: list[tuple[float, PlaceSpan | None, str]] = [
            (heard if name is not None else heard - self._penalty, name, "")
        ]
        for each in region.spans:
            for city in each.cities:
                score = scores.get(_replace(text, each, city))
                if score is not None:
                    options.append((score, each, city))
        best, span, chosen = max(options, key=lambda o: o[0])
        share = 1 / sum(math.exp(o[0] - best) for o in options)
        if span is None or not chosen:
            return None if name is None else (name, name.name or name.heard, share)
        return span, chosen, share


def _replace(text: str, span: PlaceSpan, city: str) -> str:
    return text[: span.start] + city + text[span.end :]


def _through_next_word(text: str, at: int) -> str:
    m = _NEXT_WORD.match(text, at)
    return text[: m.end()] if m else text


def _regions(spans: list[PlaceSpan]) -> list[_Region]:
    regions: list[_Region] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        last = regions[-1] if regions else None
        if last is not None and span.start < last.end:
            regions[-1] = _Region(last.start, max(last.end, span.end), (*last.spans, span))
        else:
            regions.append(_Region(span.start, span.end, (span,)))
    return regions
