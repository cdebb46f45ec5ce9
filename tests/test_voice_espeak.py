"""Text-to-speech with the real espeak-ng binary: sentence by sentence, barge-in starting no
further process, cancellation killing the running one, and audio Whisper can understand."""

from __future__ import annotations

import asyncio
import shutil
import signal
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest

from core.errors import StartupError
from voice.audio import resample
from voice.espeak import EspeakOptions, EspeakTts
from voice.faster_whisper import WhisperStt
from voice.stt import SAMPLE_RATE
from voice.tts import AudioChunk, SynthesisError, TextToSpeech, split_sentences

REPLY = "Your flight from Delhi to Mumbai departs at nine forty. The fare is 5,400 rupees."
THREE = REPLY + " Shall I book it for you?"
RMS_FLOOR = 500.0  # int16 units; digital silence and dither sit far below this

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (apt-get install espeak-ng)",
)


@pytest.fixture(scope="module")
def tts() -> Iterator[EspeakTts]:
    engine = EspeakTts.load()
    yield engine
    engine.close()


@pytest.fixture
def stuck_binary(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in for espeak-ng that records its pid and never answers, so a test can catch
    a sentence mid-synthesis (real espeak-ng finishes one in milliseconds)."""
    pid_file = tmp_path / "pid"
    script = tmp_path / "espeak-ng-stuck"
    script.write_text(f'#!/bin/sh\necho $$ > "{pid_file}"\nexec sleep 30\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, pid_file


def rms(chunk: AudioChunk) -> float:
    samples = np.frombuffer(chunk.pcm16, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


def read_pid(pid_file: Path) -> int | None:
    text = pid_file.read_text().strip() if pid_file.exists() else ""
    return int(text) if text else None


async def started_pid(pid_file: Path) -> int:
    for _ in range(2_000):  # the stand-in writes its pid once it runs: poll, bounded
        if (pid := read_pid(pid_file)) is not None:
            return pid
        await asyncio.sleep(0.005)
    pytest.fail("the stand-in binary never started")


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(2_000):  # bounded poll
        if condition():
            return
        await asyncio.sleep(0.005)
    pytest.fail("condition never held")


async def first_chunk(tts: EspeakTts, text: str) -> AudioChunk:
    return await anext(tts.synthesize(text))


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_load_without_the_binary_is_a_startup_error() -> None:
    with pytest.raises(StartupError, match="not installed"):
        EspeakTts.load(binary="espeak-ng-that-is-not-installed")


@needs_espeak
def test_load_with_an_unknown_voice_is_a_startup_error() -> None:
    # Not "no-such-voice": espeak-ng reads that as Norwegian ("no") with a variant.
    with pytest.raises(StartupError, match="zz-unknown"):
        EspeakTts.load(options=EspeakOptions(voice="zz-unknown"))


@needs_espeak
async def test_two_sentences_give_two_audible_chunks_in_order(tts: EspeakTts) -> None:
    engine: TextToSpeech = tts
    before = tts.sentences_synthesised
    synthesised_at_arrival: list[int] = []
    chunks: list[AudioChunk] = []
    async for chunk in engine.synthesize(REPLY):
        synthesised_at_arrival.append(tts.sentences_synthesised - before)
        chunks.append(chunk)

    assert [c.sentence_index for c in chunks] == [0, 1]
    assert [c.text for c in chunks] == split_sentences(REPLY)
    for chunk in chunks:
        assert chunk.sample_rate == tts.sample_rate == 22_050
        assert len(chunk.pcm16) % 2 == 0
        assert chunk.duration_s > 0.5, chunk
        assert rms(chunk) > RMS_FLOOR
    # The first chunk is handed over before the second sentence's process has started.
    assert synthesised_at_arrival == [1, 2]
    assert tts.running == 0


@needs_espeak
async def test_closing_after_first_chunk_synthesises_nothing_more(tts: EspeakTts) -> None:
    before = tts.sentences_synthesised
    stream = tts.synthesize(THREE)
    first = await anext(stream)
    assert first.sentence_index == 0
    await stream.aclose()  # barge-in
    await asyncio.sleep(0.2)
    assert tts.sentences_synthesised - before == 1
    assert tts.running == 0


async def test_cancelling_mid_sentence_kills_the_process_and_starts_no_more(
    stuck_binary: tuple[Path, Path],
) -> None:
    script, pid_file = stuck_binary
    tts = EspeakTts(str(script), options=EspeakOptions(), sample_rate=22_050)
    task = asyncio.create_task(first_chunk(tts, THREE))
    pid = await started_pid(pid_file)
    # The child can write its pid before the engine has registered it: wait for that too.
    await until(lambda: tts.running == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gone(pid)
    assert tts.running == 0
    assert tts.sentences_synthesised == 1


async def test_a_sentence_past_its_timeout_is_a_synthesis_error_and_is_killed(
    stuck_binary: tuple[Path, Path],
) -> None:
    script, pid_file = stuck_binary
    tts = EspeakTts(str(script), options=EspeakOptions(timeout_s=0.5), sample_rate=22_050)
    with pytest.raises(SynthesisError, match="took over"):
        await anext(tts.synthesize(REPLY))
    assert gone(await started_pid(pid_file))
    assert tts.running == 0


async def test_close_kills_the_running_sentence_and_refuses_more(
    stuck_binary: tuple[Path, Path],
) -> None:
    script, pid_file = stuck_binary
    tts = EspeakTts(str(script), options=EspeakOptions(), sample_rate=22_050)
    speaking = asyncio.create_task(first_chunk(tts, REPLY))
    pid = await started_pid(pid_file)
    await until(lambda: tts.running == 1)
    tts.close()
    with pytest.raises(SynthesisError, match=f"exited with -{int(signal.SIGKILL)}"):
        await speaking
    assert gone(pid)
    with pytest.raises(SynthesisError, match="closed"):
        await anext(tts.synthesize(REPLY))


@needs_espeak
async def test_whisper_hears_the_city_names(tts: EspeakTts) -> None:
    chunks = [c async for c in tts.synthesize("Flights from Delhi to Mumbai.")]
    pcm = np.frombuffer(b"".join(c.pcm16 for c in chunks), dtype="<i2").astype(np.int16)
    pcm16k = resample(pcm, src_hz=tts.sample_rate, dst_hz=SAMPLE_RATE)
    stt = WhisperStt.load()
    try:
        transcript = await stt.transcribe(pcm16k)
    finally:
        stt.close()
    text = transcript.text.lower()
    assert "delhi" in text, text
    assert "mumbai" in text, text
