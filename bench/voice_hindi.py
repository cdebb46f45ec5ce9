"""Hindi and Hinglish speech: language identification, Hindi word error rate, and Hinglish intent
accuracy through the voice path, with the English-only pipeline (tiny.en) beside it in the run.

    python bench/voice_hindi.py [--limit N]

Every clip is synthesised: espeak-ng's Hindi voice reads `voice_hindi_set.HINDI` (36 sentences)
and `HINGLISH` (30 requests, Devanagari spelling); Piper (en_US joe) and espeak-ng en-us read
`ENGLISH` (20) for language identification. Clips are cached under bench/results/voice_cache/.

Pipelines, each reading the same clips:
- `tiny.en`: today's English-only path (tiny.en with its prompt);
- `routed, language not known`: `LanguageRoutedStt` in a fresh call per clip (tiny.en, then
  Whisper base when tiny.en's reading is doubtful);
- `routed, caller chose Hindi`: Whisper base identifies and decodes every utterance;
- `Whisper base told Hindi, romanised`: Devanagari out, romanised as the parser reads it;
- `Whisper base, translate`: task="translate" (English out) on the English path.
Each transcript goes through `SpokenPlaces.read` (as `VoiceEngines.read` does) and the product's
intent parser (`RetrievalIntentParser`, MiniLM example vote). CPU time is process CPU seconds
(all threads) per utterance, wall time beside it; the load average is printed at both ends.
Hindi WER compares Devanagari without punctuation (jiwer).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import jiwer
from voice_accuracy import read_audio, speak, write_wav
from voice_hindi_set import ENGLISH, HINDI, HINGLISH, TODAY, Request

from core.airports import load_airports
from intents.classifier import ExampleIndex
from intents.parser import RetrievalIntentParser
from intents.places import common_words
from rag.edge import EdgeStore
from rag.embeddings import EmbeddingPool, OnnxMiniLM
from voice.audio import PCM16
from voice.espeak import EspeakOptions, EspeakTts
from voice.faster_whisper import WhisperStt
from voice.language import (
    CALL_LANGUAGE,
    CallLanguage,
    LanguageRoutedStt,
    romanised,
)
from voice.piper import PiperTts
from voice.places import SpokenPlaces
from voice.stt import Transcript
from voice.whisper_base import load_whisper_base, whisper_base_dir

CACHE = Path(__file__).resolve().parent / "results" / "voice_cache"
_PUNCT = re.compile(r"[।॥,.?!\"']")


async def clips(voice: str, texts: Sequence[str]) -> list[PCM16]:
    """Each text spoken by `voice` ("piper", "espeak-hi", "espeak-en-us"), cached as WAVs."""
    out: list[PCM16] = []
    tts: PiperTts | EspeakTts | None = None
    for text in texts:
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        path = CACHE / f"hindi-bench-{voice}-{digest}.wav"
        if not path.exists():
            if tts is None:
                tts = (
                    PiperTts.load()
                    if voice == "piper"
                    else EspeakTts.load(options=EspeakOptions(voice=voice.split("-", 1)[1]))
                )
            write_wav(path, await speak(tts, text))
        out.append(read_audio(path))
    if tts is not None:
        tts.close()
    return out


Decode = Callable[[PCM16], Awaitable[Transcript]]


class Timed:
    """A decode with its wall and process CPU seconds recorded per clip."""

    def __init__(self, decode: Decode) -> None:
        self._decode = decode
        self.wall: list[float] = []
        self.cpu: list[float] = []

    async def __call__(self, pcm: PCM16) -> Transcript:
        wall, cpu = time.perf_counter(), time.process_time()
        heard = await self._decode(pcm)
        self.wall.append(time.perf_counter() - wall)
        self.cpu.append(time.process_time() - cpu)
        return heard

    def cost(self) -> str:
        if not self.wall:
            return "-"
        return f"{statistics.mean(self.wall) * 1000:.0f} / {statistics.mean(self.cpu) * 1000:.0f}"


def in_new_call(router: LanguageRoutedStt, hint: str | None, places: SpokenPlaces) -> Decode:
    """A final decode (place readings asked for, as calls do) in a fresh call."""

    async def decode(pcm: PCM16) -> Transcript:
        CALL_LANGUAGE.set(CallLanguage.from_hint(hint))
        return await router.transcribe(pcm, rewrites=places.rewrites)

    return decode


def devanagari_words(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text).split())


def slots_right(got: dict[str, Any], want: Request) -> bool:
    return all(got.get(k) == v for k, v in want.slots.items())


def load_average() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


async def language_identification(
    tiny: Decode, base: Decode, router: LanguageRoutedStt, sets: dict[str, list[PCM16]]
) -> None:
    tiny_timed, lid = Timed(tiny), Timed(base)
    right: Counter[str] = Counter()
    sure: Counter[str] = Counter()
    doubted: Counter[str] = Counter()
    for truth, audio in sets.items():
        for pcm in audio:
            doubted[truth] += router.doubtful(await tiny_timed(pcm))
            heard = await lid(pcm)
            right[truth] += heard.language == truth
            sure[truth] += heard.language == truth and heard.language_probability >= 0.8
    print("\n## Language identification (Whisper base, Hindi vs English)\n")
    print("| spoken | clips | tiny.en doubted (base pass added) | base: identified right "
          "| base: right and sure (>= 0.8, marks the call) |")  # fmt: skip
    print("|---|---|---|---|---|")
    for truth, audio in sets.items():
        n = len(audio)
        print(f"| {truth} | {n} | {doubted[truth]} ({doubted[truth] / n:.0%}) | "
              f"{right[truth]} ({right[truth] / n:.0%}) | {sure[truth]} ({sure[truth] / n:.0%}) |")  # fmt: skip
    print(f"\nper utterance, mean wall / CPU ms: tiny.en {tiny_timed.cost()}; "
          f"Whisper base identify + decode {lid.cost()}")  # fmt: skip


async def hindi_wer(decodes: dict[str, Decode], texts: Sequence[str], audio: list[PCM16]) -> None:
    refs = [devanagari_words(t) for t in texts]
    print(f"\n## Hindi WER ({len(refs)} sentences, espeak-ng hi)\n")
    print("| decoder | WER | CER | mean wall / CPU ms |")
    print("|---|---|---|---|")
    for name, decode in decodes.items():
        timed = Timed(decode)
        hyps = [devanagari_words((await timed(pcm)).text) for pcm in audio]
        wer, cer = jiwer.wer(refs, hyps), jiwer.cer(refs, hyps)
        print(f"| {name} | {wer:.1%} | {cer:.1%} | {timed.cost()} |")
        for ref, hyp in list(zip(refs, hyps, strict=True))[:3]:
            print(f"    ref: {ref}\n    hyp: {hyp}")


async def hinglish_intents(
    pipelines: dict[str, Decode],
    requests: Sequence[Request],
    audio: list[PCM16],
    *,
    places: SpokenPlaces,
    nlu: RetrievalIntentParser,
    verbose: bool,
) -> None:
    with_slots = sum(1 for r in requests if r.slots)
    n = len(requests)
    print(f"\n## Hinglish intent accuracy ({n} requests, {with_slots} with slots, espeak-ng hi)\n")
    print("| pipeline | intent right | slots right | intent and slots right | mean wall / CPU ms |")
    print("|---|---|---|---|---|")

    async def score(texts: Sequence[str]) -> tuple[int, int, int]:
        intents = slots = both = 0
        for request, text in zip(requests, texts, strict=True):
            parse = await nlu.parse(text, today=TODAY)
            got = {s.name: s.normalized for s in parse.slots}
            intent_ok, slots_ok = parse.intent.value == request.intent, slots_right(got, request)
            intents += intent_ok
            slots += slots_ok and bool(request.slots)
            both += intent_ok and slots_ok
            if verbose and not (intent_ok and slots_ok):
                print(f"    {request.said} -> {text!r}: {parse.intent.value} {got}")
        return intents, slots, both

    i, sl, b = await score([r.said for r in requests])
    print(f"| the written request (ceiling) | {i}/{n} | {sl}/{with_slots} | **{b}/{n}** | |")
    for name, decode in pipelines.items():
        timed = Timed(decode)
        texts = [places.read(await timed(pcm)).text for pcm in audio]
        i, sl, b = await score(texts)
        print(f"| {name} | {i}/{n} | {sl}/{with_slots} | **{b}/{n}** | {timed.cost()} |")


async def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--limit", type=int, default=0, help="clips per set (0: all)")
    options.add_argument("-v", "--verbose", action="store_true", help="print every miss")
    args = options.parse_args()
    limit = args.limit or None
    hindi, hinglish, english = HINDI[:limit], HINGLISH[:limit], ENGLISH[:limit]
    print(f"load average at start (1/5/15 min): {load_average()}")

    hindi_audio = await clips("espeak-hi", hindi)
    hinglish_audio = await clips("espeak-hi", [r.said for r in hinglish])
    english_audio = [*await clips("piper", english), *await clips("espeak-en-us", english)]
    print(f"clips: {len(hindi)} Hindi + {len(hinglish)} Hinglish (espeak-ng hi); "
          f"{len(english)} English x 2 voices (Piper, espeak-ng en-us)")  # fmt: skip

    tiny = WhisperStt.load()
    base = load_whisper_base()
    translate = WhisperStt.load(
        model_dir=whisper_base_dir(), languages=("hi", "en"), task="translate", initial_prompt=""
    )
    router = LanguageRoutedStt(english=tiny, multilingual=base)
    airports = load_airports()
    places = SpokenPlaces.from_airports(airports)
    pool = EmbeddingPool(OnnxMiniLM.load())
    store = EdgeStore.open(Path(tempfile.mkdtemp()), collection="intents")
    nlu = await RetrievalIntentParser.start(
        index=ExampleIndex(store=store, embeddings=pool),
        airports=airports,
        common_words=common_words(),
    )

    async def on_tiny(pcm: PCM16) -> Transcript:
        return await tiny.transcribe(pcm, rewrites=places.rewrites)

    async def on_base(pcm: PCM16) -> Transcript:
        return await base.transcribe(pcm)

    async def on_base_hindi(pcm: PCM16) -> Transcript:
        return await base.transcribe(pcm, language="hi")

    async def translated(pcm: PCM16) -> Transcript:
        return await translate.transcribe(pcm, language="hi")

    sets = {"hi": [*hindi_audio, *hinglish_audio], "en": english_audio}
    await language_identification(on_tiny, on_base, router, sets)
    await hindi_wer(
        {"Whisper base, language identified": on_base, "Whisper base, told Hindi": on_base_hindi},
        hindi,
        hindi_audio,
    )

    async def romanised_hindi(pcm: PCM16) -> Transcript:
        return romanised(await on_base_hindi(pcm))

    pipelines: dict[str, Decode] = {
        "tiny.en (English only, today)": on_tiny,
        "routed, language not known": in_new_call(router, None, places),
        "routed, caller chose Hindi": in_new_call(router, "hi", places),
        "Whisper base told Hindi, romanised": romanised_hindi,
        "Whisper base, translate to English": translated,
    }
    await hinglish_intents(
        pipelines, hinglish, hinglish_audio, places=places, nlu=nlu, verbose=args.verbose
    )
    print(f"\nrouter decodes over the run: {dict(router.decodes)}")
    print(f"load average at end (1/5/15 min): {load_average()}")
    await store.close()
    pool.close()
    for engine in (tiny, base, translate):
        engine.close()


if __name__ == "__main__":
    asyncio.run(main())
