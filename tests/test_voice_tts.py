"""Text-to-speech: Piper with the bundled en_US-joe-medium voice, sentence by sentence, with
barge-in stopping synthesis and the event loop kept free."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator

import numpy as np
import pytest

from voice.piper import PiperTts
from voice.tts import AudioChunk, TextToSpeech, split_sentences

REPLY = (
    "Your flight from Delhi to Mumbai departs at nine forty in the morning. "
    "The fare is 5,400 rupees including taxes."
)
THREE = REPLY + " Shall I book it for you?"
RMS_FLOOR = 500.0  # int16 units; digital silence and dither sit far below this


@pytest.fixture(scope="module")
def tts() -> Iterator[PiperTts]:
    engine = PiperTts.load()
    yield engine
    engine.close()


def rms(chunk: AudioChunk) -> float:
    samples = np.frombuffer(chunk.pcm16, dtype="<i2").astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


def test_split_sentences() -> None:
    assert split_sentences(REPLY) == [
        "Your flight from Delhi to Mumbai departs at nine forty in the morning.",
        "The fare is 5,400 rupees including taxes.",
    ]
    assert split_sentences("  ") == []


def test_split_sentences_keeps_price_abbreviations() -> None:
    assert split_sentences("The fare is Rs. 500 for seat No. 3. Shall I book?") == [
        "The fare is Rs. 500 for seat No. 3.",
        "Shall I book?",
    ]


async def test_two_sentences_give_two_audible_chunks_in_order(tts: PiperTts) -> None:
    engine: TextToSpeech = tts
    before = tts.sentences_synthesised
    started = time.perf_counter()
    chunks: list[AudioChunk] = []
    arrived: list[float] = []
    synthesised_at_arrival: list[int] = []
    async for chunk in engine.synthesize(REPLY):
        arrived.append(time.perf_counter() - started)
        synthesised_at_arrival.append(tts.sentences_synthesised - before)
        chunks.append(chunk)

    assert [c.sentence_index for c in chunks] == [0, 1]
    assert [c.text for c in chunks] == split_sentences(REPLY)
    for chunk in chunks:
        assert chunk.sample_rate == tts.sample_rate == 22_050
        assert len(chunk.pcm16) % 2 == 0
        assert chunk.duration_s > 0.5, chunk
        assert rms(chunk) > RMS_FLOOR
    # The first chunk is handed over before the second sentence has even started.
    assert synthesised_at_arrival == [1, 2]
    assert arrived[0] < arrived[1]
    print(f"time to first chunk {arrived[0] * 1000:.0f} ms, whole reply {arrived[1] * 1000:.0f} ms")


async def test_closing_after_first_chunk_synthesises_nothing_more(tts: PiperTts) -> None:
    before = tts.sentences_synthesised
    stream = tts.synthesize(REPLY)
    first = await anext(stream)
    assert first.sentence_index == 0
    await stream.aclose()  # barge-in
    await asyncio.sleep(0.2)
    assert tts.sentences_synthesised - before == 1


async def test_cancelling_the_speaking_task_stops_before_the_next_sentence(
    tts: PiperTts,
) -> None:
    before = tts.sentences_synthesised
    got_first = asyncio.Event()
    received: list[AudioChunk] = []

    async def speak() -> None:
        async for chunk in tts.synthesize(THREE):
            received.append(chunk)
            got_first.set()
            await asyncio.sleep(30)  # "playing" the sentence when the caller barges in

    task = asyncio.create_task(speak())
    await got_first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.2)
    assert [c.sentence_index for c in received] == [0]
    assert tts.sentences_synthesised - before == 1


async def test_cancelling_mid_sentence_starts_no_further_sentence(tts: PiperTts) -> None:
    before = tts.sentences_synthesised
    got_first = asyncio.Event()

    async def speak() -> None:
        async for _ in tts.synthesize(THREE):
            got_first.set()

    task = asyncio.create_task(speak())
    await got_first.wait()
    for _ in range(2_000):  # the counter is bumped on the worker thread: poll it, bounded
        if tts.sentences_synthesised - before == 2:
            break
        await asyncio.sleep(0.001)
    else:
        pytest.fail("sentence two never started")
    assert not task.done()
    task.cancel()  # while sentence two is on the worker thread
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(1.0)  # long enough for sentence three, were it started
    assert tts.sentences_synthesised - before == 2


async def test_event_loop_keeps_ticking_during_synthesis(tts: PiperTts) -> None:
    """Synthesis runs off the event loop: other tasks run while each sentence is made. Counted
    in ticks between the chunks, not bounded in milliseconds (a loaded machine stretches both):
    a blocked loop would tick at most once while a sentence is synthesised."""
    ticks: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            await asyncio.sleep(0.005)
            ticks.append(time.perf_counter())

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # the ticker is waiting on its first sleep
    marks = [time.perf_counter()]
    chunks = []
    async for chunk in tts.synthesize(REPLY):
        chunks.append(chunk)
        marks.append(time.perf_counter())
    done.set()
    await ticking

    assert len(chunks) == 2
    during = [sum(1 for t in ticks if start < t < end) for start, end in itertools.pairwise(marks)]
    print(f"ticks while each sentence was synthesised: {during}")
    assert all(n >= 3 for n in during), during
