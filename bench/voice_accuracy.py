"""Speech recognition accuracy on travel phrases: a seeded set of utterances spoken by Piper and
by espeak-ng, and the human recordings of pocketsphinx-testdata, all decoded by the default
`WhisperStt` (tiny.en with its vocabulary prompt).

    python bench/voice_accuracy.py [--limit N] [--sets piper,espeak,pocketsphinx]
                                   [--espeak-wpm W] [--prompt TEXT] [--misses]
    python bench/voice_accuracy.py --routes held-out [--limit N]    # places first (issue 16)

`--routes held-out` speaks 60 routes between cities that no clip, no round-1 utterance and no
city-correction test names, chosen by a hash split of core.airports' cities fixed before any
tuning (`_voice_set.held_out`: first byte of SHA-256 of the name odd); `--routes tuning` the
other half, which is what the places-first settings were chosen on. Both voices read them; every
pipeline (naive, round 1, Yatri, and each biasing trick) reads the same clips in the same run.

WER compares text normalised the same way on both sides: `voice.normalise`, lower case, no
punctuation, "mr" read as "mister", and spelled codes ("X7K2QP", "x-7-k") split into their
characters. Entity accuracy is what the turn engine needs from a transcript: every city (under
any name `core.airports` knows for it), the date (day and month), the passenger counts, the PNR,
"tatkal", and the route the NLU reads. Cities and routes are scored twice: on `normalise(text)`
alone and after the product's city correction, `SpokenCities.correct(normalise(text))`. Cities
named in the STT prompt are reported apart from the rest. Synthesised clips are cached as 16 kHz
WAVs in bench/results/voice_cache/ (git-ignored); delete it after changing a voice.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import shlex
import sys
import time
import wave
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jiwer
import numpy as np
from _voice_routes import print_scores, run_variants, variants
from _voice_set import (
    HUMAN_DIR,
    ROUTE_SEED,
    SEED,
    TODAY,
    Utterance,
    build_routes,
    build_utterances,
    human_utterances,
    iata,
)

from core.airports import AirportDirectory, load_airports
from intents.nlu import understand
from voice.audio import PCM16, resample
from voice.cities import SpokenCities
from voice.espeak import EspeakOptions, EspeakTts
from voice.faster_whisper import DEFAULT_PROMPT, WhisperStt
from voice.normalise import normalise
from voice.piper import PiperTts
from voice.places import SpokenPlaces
from voice.stt import SAMPLE_RATE
from voice.tts import TextToSpeech

CACHE_DIR = Path(__file__).resolve().parent / "results" / "voice_cache"
SETS = ("piper", "espeak", "pocketsphinx")
DEFAULT_UTTERANCES = 120
DEFAULT_ROUTES = 60
# A caller pauses between sentences; the engines' per-sentence chunks are joined with this gap.
SENTENCE_GAP_S = 0.2
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)")  # "16th" without a month is a word, not a code
_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor"}


@dataclass(frozen=True, slots=True)
class Heard:
    utterance: Utterance
    hypothesis: str
    audio_s: float
    decode_s: float


@dataclass(slots=True)
class Tally:
    right: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.right += ok
        self.total += 1

    def __str__(self) -> str:
        if not self.total:
            return "-"
        return f"{100 * self.right / self.total:5.1f}% ({self.right}/{self.total})"


@dataclass(slots=True)
class Reading:
    """Cities and routes as read from one form of the transcripts (normalised, or corrected)."""

    city_in_prompt: Tally = field(default_factory=Tally)
    city_not_in_prompt: Tally = field(default_factory=Tally)
    city: Tally = field(default_factory=Tally)
    route: Tally = field(default_factory=Tally)


@dataclass(slots=True)
class SetScore:
    clips: int = 0
    audio_s: float = 0.0
    decode_s: float = 0.0
    correct_s: float = 0.0  # time spent in SpokenCities.correct
    wer: float = 0.0
    normalised: Reading = field(default_factory=Reading)
    corrected: Reading = field(default_factory=Reading)
    date: Tally = field(default_factory=Tally)
    date_month_first: int = 0  # right only as "december 25", which normalise leaves alone
    pax: Tally = field(default_factory=Tally)
    pnr: Tally = field(default_factory=Tally)
    tatkal: Tally = field(default_factory=Tally)
    # Cities still wrong after correction: what was heard, and what correction made of it.
    city_misses: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    city_counts: Counter[str] = field(default_factory=Counter)


# --- audio ------------------------------------------------------------------------------------


def read_audio(path: Path) -> PCM16:
    """A 16 kHz mono PCM16 WAV, or headerless 16 kHz PCM16 (pocketsphinx's .raw files)."""
    if path.suffix == ".raw":
        return np.frombuffer(path.read_bytes(), dtype="<i2").astype(np.int16)
    with wave.open(str(path), "rb") as wav:
        params = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
        if params != (SAMPLE_RATE, 1, 2):
            raise SystemExit(f"{path}: expected 16 kHz mono 16-bit, got {params}")
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)


def write_wav(path: Path, pcm16k: PCM16) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    with wave.open(str(partial), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm16k.astype("<i2").tobytes())
    partial.replace(path)  # an interrupted run never leaves a truncated clip in the cache


async def speak(tts: TextToSpeech, text: str) -> PCM16:
    pieces: list[PCM16] = []
    async for chunk in tts.synthesize(text):
        pcm = np.frombuffer(chunk.pcm16, dtype="<i2").astype(np.int16)
        if pieces:
            pieces.append(np.zeros(int(SENTENCE_GAP_S * SAMPLE_RATE), dtype=np.int16))
        pieces.append(resample(pcm, src_hz=chunk.sample_rate, dst_hz=SAMPLE_RATE))
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)


async def synthesised(
    name: str,
    utterances: Sequence[Utterance],
    *,
    cache_dir: Path,
    espeak_options: EspeakOptions,
) -> list[tuple[Utterance, PCM16]]:
    """Each utterance spoken by engine `name`, from the cache where it is there; the engine is
    loaded only when a clip is missing."""
    voice_id = {
        "piper": "piper-en_US-joe-medium",
        "espeak": f"espeak-{espeak_options.voice}-{espeak_options.words_per_minute}"
        f"-{espeak_options.pitch}",
    }[name]
    tts: PiperTts | EspeakTts | None = None
    out: list[tuple[Utterance, PCM16]] = []
    made = 0
    try:
        for utterance in utterances:
            key = hashlib.sha1(f"{voice_id}\n{utterance.text}".encode()).hexdigest()[:16]
            path = cache_dir / name / f"{key}.wav"
            if not path.exists():
                if tts is None:
                    tts = (
                        PiperTts.load()
                        if name == "piper"
                        else EspeakTts.load(options=espeak_options)
                    )
                write_wav(path, await speak(tts, utterance.text))
                made += 1
            out.append((utterance, read_audio(path)))
    finally:
        if tts is not None:
            tts.close()
    print(f"  {name}: {len(out)} clips, {made} synthesised, {len(out) - made} from cache")
    return out


# --- scoring ----------------------------------------------------------------------------------


def wer_form(text: str) -> str:
    """The text WER compares: normalised, lower case, no punctuation, codes split."""
    words = re.sub(r"[^\w']+", " ", normalise(text).lower()).split()
    out: list[str] = []
    for word in words:
        word = _ABBREVIATIONS.get(word, word)
        # "x7k2qp" is a spelled code however Whisper groups it; compare it letter by letter.
        if re.search(r"\d", word) and re.search(r"[a-z]", word) and not _ORDINAL.fullmatch(word):
            out.extend(word)
        else:
            out.append(word)
    return " ".join(out)


def city_names(city: str, airports: AirportDirectory) -> set[str]:
    """Every lower-case name core.airports resolves to the same airport as `city`."""
    code = iata(city, airports)
    return {name for name, c in airports.by_name.items() if c == code} | {city.lower()}


def found(name: str, text: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", text) is not None


def heard_as(reference: str, city: str, hypothesis: str) -> str:
    """The hypothesis words aligned with `city` in the reference (WER forms), for the report."""
    ref, hyp = reference.split(), hypothesis.split()
    target = city.lower().split()
    start = next((i for i in range(len(ref)) if ref[i : i + len(target)] == target), None)
    if start is None or not hyp:
        return "(nothing)"
    end = start + len(target)
    words: list[str] = []
    for chunk in jiwer.process_words(reference, hypothesis).alignments[0]:
        overlaps = chunk.ref_start_idx < end and chunk.ref_end_idx > start
        touches = chunk.type == "insert" and start <= chunk.ref_start_idx <= end
        if chunk.type == "delete" or not (overlaps or touches):
            continue
        if chunk.type in ("equal", "substitute"):
            lo = chunk.hyp_start_idx + max(0, start - chunk.ref_start_idx)
            hi = chunk.hyp_start_idx + min(chunk.ref_end_idx, end) - chunk.ref_start_idx
            words.extend(hyp[lo:hi])
        else:
            words.extend(hyp[chunk.hyp_start_idx : chunk.hyp_end_idx])
    return " ".join(words) or "(nothing)"


@dataclass(frozen=True, slots=True)
class Scoring:
    """What scoring needs besides the transcripts."""

    airports: AirportDirectory
    cities: SpokenCities
    prompt: str


def read_cities(reading: Reading, u: Utterance, hyp: str, scoring: Scoring) -> list[str]:
    """Tally the cities and route of `u` found in `hyp`; the cities missed."""
    missed: list[str] = []
    prompt = scoring.prompt.lower()
    for city in u.cities:
        names = city_names(city, scoring.airports)
        ok = any(found(n, hyp.lower()) for n in names)
        in_prompt = any(found(n, prompt) for n in names)
        (reading.city_in_prompt if in_prompt else reading.city_not_in_prompt).add(ok)
        reading.city.add(ok)
        if not ok:
            missed.append(city)
    if u.route is not None:
        slots = understand(hyp, today=TODAY, airports=scoring.airports).slots
        reading.route.add((slots.origin, slots.destination) == u.route)
    return missed


def score(heard: Sequence[Heard], scoring: Scoring) -> SetScore:
    result = SetScore(clips=len(heard))
    refs = [wer_form(h.utterance.text) for h in heard]
    hyps = [wer_form(h.hypothesis) for h in heard]
    result.wer = jiwer.process_words(refs, hyps).wer
    for h, ref, hyp_form in zip(heard, refs, hyps, strict=True):
        u = h.utterance
        normalised = normalise(h.hypothesis)
        started = time.perf_counter()
        corrected = scoring.cities.correct(normalised)
        result.correct_s += time.perf_counter() - started
        result.audio_s += h.audio_s
        result.decode_s += h.decode_s
        read_cities(result.normalised, u, normalised, scoring)
        for city in read_cities(result.corrected, u, corrected, scoring):
            was = heard_as(ref, city, hyp_form)
            now = heard_as(ref, city, wer_form(corrected))
            result.city_misses[city].append(was if now == was else f"{was} -> {now}")
        result.city_counts.update(u.cities)
        hyp = normalised.lower()
        if u.date is not None:
            day, month = u.date
            day_first = found(f"{day} {month}", hyp)
            month_first = not day_first and found(f"{month} {day}", hyp)
            result.date.add(day_first or month_first)
            result.date_month_first += month_first
        if u.adults is not None:
            result.pax.add(_pax_found(u, hyp))
        if u.pnr is not None:
            result.pnr.add(u.pnr.lower() in re.sub(r"[^a-z0-9]", "", hyp))
        if u.tatkal:
            result.tatkal.add(found("tatkal", hyp))
    return result


def _pax_found(u: Utterance, hyp: str) -> bool:
    adults = re.search(rf"\b{u.adults} adults?\b", hyp) is not None
    children = u.children is None or re.search(rf"\b{u.children} child(?:ren)?\b", hyp) is not None
    return adults and children


def check_references(utterances: Sequence[Utterance], scoring: Scoring) -> None:
    """The scorer must give full marks to the reference itself, or it measures itself; and the
    city correction must leave correct names alone."""
    perfect = score([Heard(u, u.text, audio_s=1.0, decode_s=0.0) for u in utterances], scoring)
    tallies: dict[str, Tally] = {
        name: getattr(perfect, name) for name in ("date", "pax", "pnr", "tatkal")
    }
    for form in ("normalised", "corrected"):
        reading: Reading = getattr(perfect, form)
        tallies |= {f"{form} city": reading.city, f"{form} route": reading.route}
    for name, tally in tallies.items():
        if tally.right != tally.total:
            raise SystemExit(f"the scorer fails the references on {name}: {tally}")
    if perfect.date_month_first:
        raise SystemExit("normalise leaves a reference date month-first")


# --- the run ----------------------------------------------------------------------------------


async def transcribe_all(
    stt: WhisperStt, clips: Sequence[tuple[Utterance, PCM16]], name: str
) -> list[Heard]:
    started = time.perf_counter()
    heard: list[Heard] = []
    for utterance, pcm in clips:
        transcript = await stt.transcribe(pcm)
        heard.append(Heard(utterance, transcript.text, transcript.audio_s, transcript.decode_s))
    print(f"  {name}: {len(heard)} clips decoded in {time.perf_counter() - started:.0f} s")
    return heard


def _reading_rows(label: str, readings: list[Reading]) -> list[tuple[str, list[str]]]:
    return [
        (f"city, in prompt{label}", [str(r.city_in_prompt) for r in readings]),
        (f"city, not in prompt{label}", [str(r.city_not_in_prompt) for r in readings]),
        (f"city, all{label}", [str(r.city) for r in readings]),
        (f"route read by NLU{label}", [str(r.route) for r in readings]),
    ]


def print_table(scores: dict[str, SetScore]) -> None:
    names = list(scores)
    s = list(scores.values())
    rows: list[tuple[str, list[str]]] = [
        ("clips", [str(x.clips) for x in s]),
        ("audio (s)", [f"{x.audio_s:.0f}" for x in s]),
        ("WER", [f"{100 * x.wer:.1f}%" for x in s]),
        ("date (day + month)", [str(x.date) for x in s]),
        ("passengers", [str(x.pax) for x in s]),
        ("PNR", [str(x.pnr) for x in s]),
        ("tatkal", [str(x.tatkal) for x in s]),
        *_reading_rows(" [normalise]", [x.normalised for x in s]),
        *_reading_rows(" [+ cities]", [x.corrected for x in s]),
        ("mean decode (ms)", [f"{1000 * x.decode_s / max(x.clips, 1):.0f}" for x in s]),
        ("RTF (decode / audio)", [f"{x.decode_s / max(x.audio_s, 1e-9):.3f}" for x in s]),
        ("city correction (us/clip)", [f"{1e6 * x.correct_s / max(x.clips, 1):.0f}" for x in s]),
    ]
    width = max(len(label) for label, _ in rows)
    cols = [max(len(n), *(len(r[1][i]) for r in rows)) for i, n in enumerate(names)]
    print(f"{'':<{width}}  " + "  ".join(f"{n:>{c}}" for n, c in zip(names, cols, strict=True)))
    for label, cells in rows:
        print(
            f"{label:<{width}}  " + "  ".join(f"{v:>{c}}" for v, c in zip(cells, cols, strict=True))
        )


def print_city_misses(name: str, s: SetScore) -> None:
    if not s.city_counts:
        return
    missed = sorted(s.city_misses.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    print(
        f"\n{name}: cities still wrong after correction ({len(missed)} of {len(s.city_counts)}"
        " cities; heard as, -> corrected to)"
    )
    for city, heard in missed:
        said = ", ".join(
            f"{w!r} x{n}" if n > 1 else repr(w) for w, n in Counter(heard).most_common()
        )
        print(f"  {city:<20} {len(heard)}/{s.city_counts[city]} missed; heard as {said}")
    if s.date_month_first:
        print(
            f"  ({s.date_month_first} dates right only month-first, e.g. 'december 25': "
            "voice.normalise leaves those as they are, and the NLU reads them)"
        )


async def run_routes(args: argparse.Namespace) -> None:
    """Held-out (or tuning) routes through every pipeline, per voice."""
    airports = load_airports()
    n = args.limit if args.limit is not None else DEFAULT_ROUTES
    tuning = args.routes == "tuning"
    utterances = build_routes(n, seed=ROUTE_SEED, airports=airports, tuning=tuning)
    places = SpokenPlaces.from_airports(airports)
    chosen = variants(airports)
    stt = WhisperStt.load()
    try:
        for name in (s for s in args.sets if s != "pocketsphinx"):
            clips = await synthesised(
                name,
                utterances,
                cache_dir=args.cache_dir,
                espeak_options=EspeakOptions(words_per_minute=args.espeak_wpm),
            )
            started = time.perf_counter()
            scores = await run_variants(stt, clips, places=places, airports=airports, chosen=chosen)
            print(f"  {name}: {len(clips)} clips x {len(chosen)} pipelines in "
                  f"{time.perf_counter() - started:.0f} s")  # fmt: skip
            print_scores(f"{name}, {args.routes} routes ({len(clips)} clips)", scores)
            if args.misses:
                for variant in ("naive", "Yatri"):
                    print(f"\n{name} {variant}: cities missed")
                    for miss in scores[variant].misses:
                        print(f"  {miss}")
    finally:
        stt.close()


async def run(args: argparse.Namespace) -> None:
    if args.routes is not None:
        await run_routes(args)
        return
    airports = load_airports()
    scoring = Scoring(airports, SpokenCities.from_airports(airports), args.prompt)
    n = args.limit if args.limit is not None else DEFAULT_UTTERANCES
    utterances = build_utterances(n, seed=args.seed, airports=airports)
    check_references(utterances, scoring)
    sets: list[str] = args.sets
    clips: dict[str, list[tuple[Utterance, PCM16]]] = {}
    print("audio:")
    for name in sets:
        if name == "pocketsphinx":
            human = human_utterances()[: args.limit]
            clips[name] = [(u, read_audio(path)) for path, u in human]
            print(f"  {name}: {len(clips[name])} human recordings from {HUMAN_DIR}")
        else:
            clips[name] = await synthesised(
                name,
                utterances,
                cache_dir=args.cache_dir,
                espeak_options=EspeakOptions(words_per_minute=args.espeak_wpm),
            )
    print("decoding:")
    stt = WhisperStt.load(initial_prompt=args.prompt)
    try:
        heard = {name: await transcribe_all(stt, clips[name], name) for name in sets}
    finally:
        stt.close()
    scores = {name: score(heard[name], scoring) for name in sets}
    print()
    print_table(scores)
    for name in sets:
        print_city_misses(name, scores[name])
    if args.misses:
        for name in sets:
            print(f"\n{name}: transcripts")
            for h in heard[name]:
                corrected = scoring.cities.correct(normalise(h.hypothesis))
                if wer_form(h.hypothesis) != wer_form(h.utterance.text):
                    print(f"  ref {h.utterance.text}\n  hyp {h.hypothesis}")
                    if corrected != normalise(h.hypothesis):
                        print(f"  fix {corrected}")


def parse_sets(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SETS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"sets are {', '.join(SETS)}; got {value!r}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--limit", type=int, default=None, help="clips per set (default: all)")
    parser.add_argument("--sets", type=parse_sets, default=list(SETS), help=",".join(SETS))
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument(
        "--espeak-wpm", type=int, default=EspeakOptions().words_per_minute, help="espeak-ng rate"
    )
    parser.add_argument(
        "--prompt", default=DEFAULT_PROMPT, help="STT prompt (default: DEFAULT_PROMPT)"
    )
    parser.add_argument("--misses", action="store_true", help="print every imperfect transcript")
    parser.add_argument(
        "--routes", choices=("held-out", "tuning"), default=None, help="places-first route sets"
    )
    args = parser.parse_args()
    if args.limit is not None and args.limit <= 0:
        parser.error("--limit must be positive")
    print("$ " + shlex.join(["python", *sys.argv]))
    started = time.perf_counter()
    asyncio.run(run(args))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
