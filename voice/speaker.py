"""Speaking one reply to a call's output: sentence by sentence as synthesised (streaming), or
all of it once synthesised (the naive baseline). A `voice.synthesis` span covers it, with the
time to the first audio chunk."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncGenerator

from core import tracing
from core.telemetry import VOICE_STAGE_SECONDS
from voice.call_io import CallOutput, TurnMetrics
from voice.tts import AudioChunk, TextToSpeech, lead_and_rest, speakable


async def speak(
    text: str,
    *,
    tts: TextToSpeech,
    out: CallOutput,
    metrics: TurnMetrics,
    reply_at: float,
    streaming: bool,
    transport: str,
) -> None:
    """Synthesise and send `text`; the first chunk's delay after `reply_at` goes into
    `metrics`. Cancelling stops synthesis."""
    spoken = speakable(text)
    index = 0
    with tracing.span("voice.synthesis", streaming=streaming, chars=len(spoken)) as span:
        for part in lead_and_rest(spoken) if streaming else [spoken]:
            async with contextlib.aclosing(tts.synthesize(part)) as synthesised:
                chunks = synthesised
                if not streaming:
                    chunks = _all_at_once([chunk async for chunk in synthesised])
                async for chunk in chunks:
                    await out.audio(dataclasses.replace(chunk, sentence_index=index))
                    index += 1
                    if metrics.reply_to_first_audio_s is None:
                        metrics.reply_to_first_audio_s = time.perf_counter() - reply_at
                        VOICE_STAGE_SECONDS.labels("reply_to_first_audio", transport).observe(
                            metrics.reply_to_first_audio_s
                        )
                        span.set_attribute(
                            "first_audio_ms", round(metrics.reply_to_first_audio_s * 1000, 1)
                        )
                    span.set_attribute("chunks", index)
        await out.reply_done(metrics=metrics)


async def _all_at_once(chunks: list[AudioChunk]) -> AsyncGenerator[AudioChunk, None]:
    for chunk in chunks:
        yield chunk
