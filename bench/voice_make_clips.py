"""Regenerate the spoken test clips in tests/data/voice/ with the Piper voice en_US-joe-medium.

    python bench/voice_make_clips.py [--all]

Only missing clips are made unless `--all` is given (the committed ones stay byte for byte).

Piper speaks at 22.05 kHz; the clips are stored as the 16 kHz mono PCM16 WAVs the STT takes.
Speaks through Yatri's own TTS adapter (voice/piper.py, the only module that imports the GPL
piper package); the tests only read the WAVs.
"""

from __future__ import annotations

import asyncio
import sys
import wave
from pathlib import Path

import numpy as np

from voice.audio import resample
from voice.piper import PiperTts

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "voice"
SAMPLE_RATE = 16_000
CLIPS = {
    "delhi_mumbai_25_december": "Flights from Delhi to Mumbai on the twenty fifth of December.",
    "two_adults_bangalore_goa": "Book two adults from Bangalore to Goa tomorrow.",
    "tatkal_cancellation_fee": "What is the cancellation fee for my tatkal ticket?",
    "first_of_january_chennai": "I want to fly to Chennai on the first of January.",
    "guwahati_lucknow_5_march": "Book two adults from Guwahati to Lucknow on the fifth of March.",
}


async def speak(tts: PiperTts, text: str) -> np.ndarray:
    chunks = [chunk async for chunk in tts.synthesize(text)]
    pcm = np.frombuffer(b"".join(c.pcm16 for c in chunks), dtype="<i2").astype(np.int16)
    return resample(pcm, src_hz=chunks[0].sample_rate, dst_hz=SAMPLE_RATE)


def main() -> None:
    every = "--all" in sys.argv[1:]
    tts = PiperTts.load()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in CLIPS.items():
        path = OUT / f"{name}.wav"
        if path.exists() and not every:
            continue
        pcm16k = asyncio.run(speak(tts, text))
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(SAMPLE_RATE)
            wav.writeframes(pcm16k.tobytes())
        print(f"{path.name}: {len(pcm16k) / SAMPLE_RATE:.2f} s  {text!r}")
    tts.close()
    (OUT / "transcripts.txt").write_text(
        "".join(f"{name}.wav\t{text}\n" for name, text in CLIPS.items())
    )


if __name__ == "__main__":
    main()
