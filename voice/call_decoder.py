"""One call's decodes, all through the process's decode scheduler: the final (with the places
check), partials (skipped under load) and the back-channel check of speech over a reply."""

from __future__ import annotations

import numpy as np

from core.telemetry import VOICE_RTF
from voice.audio import PCM16
from voice.engines import VoiceEngines
from voice.stt import SAMPLE_RATE, Transcript, TranscriptionError
from voice.turns import BACKCHANNEL_PROMPT, is_backchannel

# Whisper cuts a last word that runs into the end of its input; a little silence fixes that
# and costs nothing (the window is padded anyway).
_DECODE_TAIL_SAMPLES = SAMPLE_RATE // 5


def _padded(audio: PCM16) -> PCM16:
    return np.concatenate([audio, np.zeros(_DECODE_TAIL_SAMPLES, dtype=np.int16)])


class CallDecoder:
    """Decodes for one call; `close` tells the scheduler the call's load is gone."""

    def __init__(self, engines: VoiceEngines) -> None:
        self._engines = engines
        self._scheduler = engines.scheduler
        self.call_id = self._scheduler.open_call()

    def close(self) -> None:
        self._scheduler.close_call(self.call_id)

    def _prompt(self, expecting: str | None) -> str | None:
        places = self._engines.places
        return None if places is None else places.prompt(expecting)

    async def final(self, audio: PCM16, *, expecting: str | None) -> Transcript:
        """The utterance's transcript, its places checked against the directory."""
        places = self._engines.places
        transcript = await self._engines.transcribe(
            _padded(audio),
            call_id=self.call_id,
            prompt=self._prompt(expecting),
            rewrites=places.rewrites if places is not None else None,
        )
        VOICE_RTF.observe(transcript.real_time_factor)
        return transcript

    async def partial(self, audio: PCM16, *, expecting: str | None) -> Transcript | None:
        """A transcript of the utterance so far, or None when skipped under load or failed
        (a partial is a courtesy; the final decode reports failures)."""
        stt, padded, prompt = self._engines.stt, _padded(audio), self._prompt(expecting)
        try:
            transcript = await self._scheduler.partial(
                lambda: stt.transcribe(padded, prompt=prompt), call_id=self.call_id
            )
        except TranscriptionError:
            return None
        if transcript is not None:
            VOICE_RTF.observe(transcript.real_time_factor)
        return transcript

    async def backchannel(self, audio: PCM16) -> bool:
        """Whether speech heard over the reply is only back-channel ("hmm", "haan", a cough)."""
        stt, padded = self._engines.stt, _padded(audio)
        try:
            transcript = await self._scheduler.check(
                lambda: stt.transcribe(padded, prompt=BACKCHANNEL_PROMPT), call_id=self.call_id
            )
        except TranscriptionError:
            return False  # unsure: the caller is not silenced
        return is_backchannel(transcript.text)
