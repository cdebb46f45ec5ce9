"""Spoken routes between held-out cities (bench/_voice_set.py), read by each pipeline in the same
run: the naive one (plain decoder, no prompt, spoken forms normalised, nothing else), round 1
(vocabulary prompt, text-only city correction), and Yatri's places-first reading (the decoder
scores the directory's readings of each place, `voice.places.SpokenPlaces.read`), each biasing
trick measured on the whole utterance: cities, dates, passenger counts, the route the NLU reads.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from _voice_set import TODAY, Utterance

from core.airports import AirportDirectory
from intents.nlu import understand
from voice.audio import PCM16
from voice.faster_whisper import DEFAULT_PROMPT, WhisperStt
from voice.normalise import normalise
from voice.places import Heard, SpokenPlaces
from voice.stt import Transcript


def city_prompt(airports: AirportDirectory, *, limit: int = 60) -> str:
    """The places that fit an origin or destination, busiest first, as far as a prompt holds."""
    seen: dict[str, None] = {}
    for a in sorted(airports.scheduled(), key=lambda a: (a.tier, a.city)):
        if not a.city.endswith(" Airport"):
            seen.setdefault(a.city)
    return "Flights to " + ", ".join(list(seen)[:limit]) + "."


@dataclass(frozen=True, slots=True)
class Variant:
    """A decoder prompt and a way of reading its transcript: `plain` (normalise only),
    `correct` (round 1's text correction) or `scored` (places first)."""

    name: str
    prompt: str
    reading: str


def variants(airports: AirportDirectory) -> tuple[Variant, ...]:
    cities = city_prompt(airports)
    return (
        Variant("naive", "", "plain"),
        Variant("round 1", DEFAULT_PROMPT, "correct"),
        Variant("Yatri", DEFAULT_PROMPT, "scored"),
        Variant("city-list prompt", cities, "correct"),
        Variant("city-list prompt + scored", cities, "scored"),
    )


@dataclass(slots=True)
class Tally:
    right: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.right += ok
        self.total += 1

    def __str__(self) -> str:
        return (
            f"{100 * self.right / self.total:5.1f}% ({self.right}/{self.total})"
            if self.total
            else "-"
        )


@dataclass(slots=True)
class RouteScore:
    city: Tally = field(default_factory=Tally)
    date: Tally = field(default_factory=Tally)
    pax: Tally = field(default_factory=Tally)
    route: Tally = field(default_factory=Tally)
    doubts: int = 0  # cities the dialogue reads back before searching
    doubts_wrong: int = 0  # ... of which the city written was wrong (a caught mistake)
    wrong_unflagged: int = 0  # wrong cities that would be searched without a question
    decode_s: float = 0.0
    clips: int = 0
    misses: list[str] = field(default_factory=list)


def _names(city: str, airports: AirportDirectory) -> set[str]:
    airport = airports.resolve(city)
    code = airport.iata if airport else ""
    return {n for n, c in airports.by_name.items() if c == code} | {city.lower()}


def _found(name: str, text: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", text) is not None


def score(
    utterance: Utterance,
    heard: Heard,
    *,
    decode_s: float,
    airports: AirportDirectory,
    into: RouteScore,
) -> None:
    text = heard.text.lower()
    into.clips += 1
    into.decode_s += decode_s
    doubted = {d.city.lower() for d in heard.doubts}
    for city in utterance.cities:
        ok = any(_found(n, text) for n in _names(city, airports))
        into.city.add(ok)
        if not ok:
            into.misses.append(f"{city}: {heard.text}")
    into.doubts += len(doubted)
    for d in doubted:
        into.doubts_wrong += not any(d in _names(c, airports) for c in utterance.cities)
    wrong = [
        w for w in re.findall(r"[a-z]+(?: [a-z]+)?", text)
        if w in airports.by_name and not any(w in _names(c, airports) for c in utterance.cities)
    ]  # fmt: skip
    into.wrong_unflagged += sum(1 for w in set(wrong) if w not in doubted)
    if utterance.date is not None:
        day, month = utterance.date
        into.date.add(_found(f"{day} {month}", text) or _found(f"{month} {day}", text))
    if utterance.adults is not None:
        adults = re.search(rf"\b{utterance.adults} adults?\b", text)
        kids = utterance.children is None or re.search(
            rf"\b{utterance.children} child(?:ren)?\b", text
        )
        into.pax.add(bool(adults and kids))
    if utterance.route is not None:
        slots = understand(heard.text, today=TODAY, airports=airports).slots
        into.route.add((slots.origin, slots.destination) == utterance.route)


def read(variant: Variant, transcript: Transcript, places: SpokenPlaces) -> Heard:
    if variant.reading == "plain":
        return Heard(normalise(transcript.text))
    if variant.reading == "correct":
        return Heard(places(transcript.text))
    return places.read(transcript)


async def run_variants(
    stt: WhisperStt,
    clips: Sequence[tuple[Utterance, PCM16]],
    *,
    places: SpokenPlaces,
    airports: AirportDirectory,
    chosen: Sequence[Variant],
) -> dict[str, RouteScore]:
    """Every clip through every variant; one decode per clip and prompt, shared by the readings."""
    scores = {v.name: RouteScore() for v in chosen}
    for utterance, pcm in clips:
        decoded: dict[tuple[str, bool], tuple[Transcript, float]] = {}
        for v in chosen:
            key = (v.prompt, v.reading == "scored")
            if key not in decoded:
                started = time.perf_counter()
                transcript = await stt.transcribe(
                    pcm, prompt=v.prompt, rewrites=places.rewrites if key[1] else None
                )
                decoded[key] = (transcript, time.perf_counter() - started)
            transcript, spent = decoded[key]
            heard = read(v, transcript, places)
            score(utterance, heard, decode_s=spent, airports=airports, into=scores[v.name])
    return scores


def print_scores(title: str, scores: dict[str, RouteScore]) -> None:
    rows: list[tuple[str, Callable[[RouteScore], str]]] = [
        ("city", lambda s: str(s.city)),
        ("date (day + month)", lambda s: str(s.date)),
        ("passenger counts", lambda s: str(s.pax)),
        ("route read by the NLU", lambda s: str(s.route)),
        ("cities read back (of them wrong)", lambda s: f"{s.doubts} ({s.doubts_wrong})"),
        ("wrong cities not read back", lambda s: str(s.wrong_unflagged)),
        ("decode + scoring, mean ms", lambda s: f"{1000 * s.decode_s / max(s.clips, 1):.0f}"),
    ]
    names = list(scores)
    width = max(len(r[0]) for r in rows)
    cols = [max(len(n), *(len(f(scores[n])) for _, f in rows)) for n in names]
    print(f"\n{title}")
    print(f"{'':<{width}}  " + "  ".join(f"{n:>{c}}" for n, c in zip(names, cols, strict=True)))
    for label, f in rows:
        cells = [f(scores[n]) for n in names]
        print(
            f"{label:<{width}}  " + "  ".join(f"{v:>{c}}" for v, c in zip(cells, cols, strict=True))
        )
