"""The voice side, composed once per process: the speech models (loaded once, shared by every
call on the process), and what calls share through Redis — the call directory, single-use
stream tokens, the webhooks' delivery records — plus stream admission, which sheds new calls
when the decoder cannot serve one more."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from core.airports import AirportDirectory
from core.redis_conn import RedisClient
from core.settings import Settings
from sessions.redis_store import RedisCallDirectory
from sessions.store import CallDirectory
from voice.admission import AdmissionLimits, StreamAdmission
from voice.engines import VoiceEngines
from voice.espeak import EspeakTts
from voice.faster_whisper import WhisperStt
from voice.language import LanguageRoutedStt
from voice.piper import PiperTts
from voice.places import SpokenPlaces
from voice.redis_stream_tokens import StreamTokens
from voice.redis_webhooks import WebhookDeliveries
from voice.scheduler import CapacityConfig
from voice.silero import SileroVad
from voice.smart_turn import SmartTurn
from voice.stream_tokens import StreamTokenStore
from voice.stt import SpeechToText
from voice.tts import TextToSpeech
from voice.webhooks import DeliveryRecords
from voice.whisper_base import load_whisper_base


def transcript_normaliser(airports: AirportDirectory) -> SpokenPlaces:
    """Spoken forms rewritten, then misheard Indian city names corrected (both transports and
    the ASR webhooks use this as a function of the text; the streams also score places)."""
    return SpokenPlaces.from_airports(airports)


def load_voice_engines(settings: Settings, *, airports: AirportDirectory) -> VoiceEngines:
    """Load the speech models (seconds): call once at start-up, share across calls."""
    english = WhisperStt.load(
        model_dir=settings.voice_stt_model_dir,
        threads=settings.voice_stt_threads,
        window_s=settings.voice_stt_window_s,
    )
    stt: SpeechToText = english
    if settings.voice_hindi:
        base = load_whisper_base(
            threads=settings.voice_stt_threads, window_s=settings.voice_stt_window_s
        )
        stt = LanguageRoutedStt(english=english, multilingual=base)
    vad = SileroVad.load()
    tts: TextToSpeech = (
        PiperTts.load() if settings.voice_tts_engine == "piper" else EspeakTts.load()
    )
    places = transcript_normaliser(airports)
    turns = SmartTurn.load() if settings.voice_turn_model == "smart-turn" else None
    capacity = CapacityConfig(final_budget_s=settings.voice_final_budget_ms / 1000,
                              max_calls=settings.voice_max_streams)  # fmt: skip
    return VoiceEngines(stt=stt, new_vad=vad.new_stream, tts=tts, normalise=places, places=places,
                        turn_detector=turns, capacity=capacity)  # fmt: skip


@asynccontextmanager
async def open_voice_engines(
    settings: Settings, given: VoiceEngines | None, *, airports: AirportDirectory
) -> AsyncIterator[VoiceEngines | None]:
    """The given engines (kept open), or ones loaded here and closed at shutdown, or none."""
    if given is not None or not settings.voice_enabled:
        yield given
        return
    engines = await asyncio.to_thread(load_voice_engines, settings, airports=airports)
    try:
        yield engines
    finally:
        engines.close()


@dataclass(frozen=True, slots=True)
class VoiceAccess:
    """What every call on every process shares, and this process's admission gate."""

    calls: CallDirectory
    webhook_deliveries: DeliveryRecords
    stream_admission: StreamAdmission
    stream_tokens: StreamTokenStore
    normalise_transcript: Callable[[str], str]


def voice_access(
    settings: Settings,
    *,
    redis: RedisClient,
    engines: VoiceEngines | None,
    airports: AirportDirectory,
) -> VoiceAccess:
    """Without speech models (`YATRI_VOICE_ENABLED=false`) the ASR webhooks still correct the
    providers' transcripts with the same place reader."""
    ns = settings.redis_namespace
    limits = AdmissionLimits(
        total=settings.voice_max_streams,
        per_source=settings.voice_max_streams_per_source,
        new_caller_share=settings.voice_new_caller_share,
        anonymous_share=settings.voice_anonymous_share,
    )
    return VoiceAccess(
        calls=RedisCallDirectory(redis=redis, ttl_s=settings.session_ttl_s, prefix=f"{ns}:call:"),
        webhook_deliveries=WebhookDeliveries(redis=redis, namespace=ns),
        stream_admission=StreamAdmission(limits, capacity=engines.scheduler if engines else None),
        stream_tokens=StreamTokens(redis=redis, ttl_s=settings.voice_token_ttl_s, namespace=ns),
        normalise_transcript=(engines.normalise if engines else transcript_normaliser(airports)),
    )
