"""VAD: the Endpointer on synthetic probability sequences, Silero on a real (piper-spoken) clip."""

from __future__ import annotations

import wave
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from voice.silero import SileroVad
from voice.vad import (
    VAD_FRAME_MS,
    VAD_FRAME_SAMPLES,
    VAD_SAMPLE_RATE,
    Endpoint,
    EndpointConfig,
    Endpointer,
    EndpointerState,
    EndpointEvent,
    SpeechStarted,
    VoiceActivityDetector,
)

DATA = Path(__file__).parent / "data" / "voice"
SPEECH_CLIPS = sorted(DATA.glob("*.wav"))

SPEECH = 0.9
SILENCE = 0.05


def run(
    endpointer: Endpointer, probs: Iterable[float], frame_ms: int
) -> list[tuple[int, EndpointEvent]]:
    """Push every probability; return (frame index, event) for each event."""
    events = []
    for i, p in enumerate(probs):
        event = endpointer.push(p, frame_ms)
        if event is not None:
            events.append((i, event))
    return events


def frames(ms: int, p: float, frame_ms: int = 10) -> list[float]:
    return [p] * (ms // frame_ms)


# --- Endpointer ----------------------------------------------------------------------------


def test_endpoint_after_500_ms_of_silence_at_the_right_frame() -> None:
    ep = Endpointer(EndpointConfig(adaptive=False))
    probs = [SPEECH] * 20 + [SILENCE] * 30  # 640 ms of speech, then 960 ms of silence

    events = run(ep, probs, VAD_FRAME_MS)

    # 7 frames (224 ms) reach min_speech_ms; the 16th silent frame ends 512 >= 500 ms after speech.
    assert events == [
        (6, SpeechStarted(at_ms=0)),
        (35, Endpoint(at_ms=1152, reason="silence", speech_end_ms=640)),
    ]
    assert ep.state is EndpointerState.IDLE


def test_state_walks_idle_speaking_trailing_endpoint_idle() -> None:
    ep = Endpointer(EndpointConfig(adaptive=False))
    seen = []
    for p in frames(300, SPEECH) + frames(100, SILENCE):
        ep.push(p, 10)
        seen.append(ep.state)
    assert seen[0] is EndpointerState.IDLE
    assert seen[-1] is EndpointerState.TRAILING_SILENCE
    assert EndpointerState.SPEAKING in seen
    run(ep, frames(400, SILENCE), 10)
    at_endpoint = ep.state
    ep.push(SILENCE, 10)
    assert (at_endpoint, ep.state) == (EndpointerState.ENDPOINT, EndpointerState.IDLE)


def test_blips_shorter_than_min_speech_are_ignored() -> None:
    ep = Endpointer()
    probs = (frames(150, SPEECH) + frames(300, SILENCE)) * 10 + frames(190, SPEECH)
    assert run(ep, probs, 10) == []
    assert ep.state is EndpointerState.IDLE


def test_pause_shorter_than_the_window_does_not_end_the_utterance() -> None:
    ep = Endpointer(EndpointConfig(adaptive=False))
    # Hovering just under the threshold (inside the hysteresis band) is not a pause either.
    probs = (
        frames(400, SPEECH)
        + frames(400, SILENCE)
        + frames(300, SPEECH)
        + frames(300, 0.4)
        + frames(600, SILENCE)
    )
    events = [e for _, e in run(ep, probs, 10)]
    assert events == [
        SpeechStarted(at_ms=0),
        Endpoint(at_ms=1900, reason="silence", speech_end_ms=1400),
    ]


def test_max_utterance_cuts_a_caller_who_never_stops() -> None:
    ep = Endpointer(EndpointConfig(max_utterance_ms=2000))
    events = [e for _, e in run(ep, frames(2400, SPEECH), 10)]
    assert events == [
        SpeechStarted(at_ms=0),
        Endpoint(at_ms=2000, reason="max_length", speech_end_ms=2000),
        SpeechStarted(at_ms=2000),  # still talking: the next utterance starts at once
    ]
    assert ep.last_decision_ms == 0


def test_max_utterance_cut_during_trailing_silence_keeps_the_speech_end() -> None:
    ep = Endpointer(EndpointConfig(max_utterance_ms=1000, adaptive=False))
    events = [e for _, e in run(ep, frames(800, SPEECH) + frames(500, SILENCE), 10)]
    assert events[-1] == Endpoint(at_ms=1000, reason="max_length", speech_end_ms=800)


def utterance(*, pause_ms: int, tail_ms: int = 900) -> list[float]:
    """Half a second of speech, a mid-sentence pause (none if 0), more speech, then silence."""
    middle = frames(pause_ms, SILENCE) + frames(500, SPEECH) if pause_ms else []
    return frames(500, SPEECH) + middle + frames(tail_ms, SILENCE)


def test_window_grows_for_a_speaker_who_pauses_mid_sentence() -> None:
    ep = Endpointer()
    windows = [ep.silence_window_ms]
    for _ in range(4):
        events = [e for _, e in run(ep, utterance(pause_ms=450), 10)]
        assert [type(e) for e in events] == [SpeechStarted, Endpoint]  # the pause never cut
        windows.append(ep.silence_window_ms)
    assert windows == sorted(windows)
    assert windows[0] == 500
    assert 700 <= windows[-1] <= 750  # toward 450 + 300
    # Longer pauses push it to the upper bound and no further.
    for _ in range(6):
        run(ep, utterance(pause_ms=700), 10)
    assert ep.silence_window_ms == 800


def test_window_shrinks_for_a_brisk_speaker_down_to_the_bound() -> None:
    ep = Endpointer(EndpointConfig(min_silence_ms=350))
    windows = []
    for _ in range(12):
        run(ep, utterance(pause_ms=0), 10)
        windows.append(ep.silence_window_ms)
    assert windows == sorted(windows, reverse=True)
    assert windows[0] < 500
    assert windows[-1] == 350


def test_adaptation_off_keeps_the_configured_window() -> None:
    ep = Endpointer(EndpointConfig(adaptive=False, silence_ms=600))
    for _ in range(5):
        run(ep, utterance(pause_ms=0), 10)
    assert ep.silence_window_ms == 600


def test_decision_time_is_recorded_and_follows_the_window() -> None:
    ep = Endpointer()
    assert ep.last_decision_ms is None
    events = [e for _, e in run(ep, utterance(pause_ms=0), 10)]
    endpoint = events[-1]
    assert isinstance(endpoint, Endpoint)
    assert endpoint.decision_ms == endpoint.at_ms - endpoint.speech_end_ms == 500
    assert ep.last_decision_ms == 500
    run(ep, utterance(pause_ms=0), 10)
    assert ep.last_decision_ms == 400  # the window shrank halfway toward 300 ms


def test_reset_drops_the_utterance_in_progress() -> None:
    ep = Endpointer()
    run(ep, frames(500, SPEECH), 10)
    ep.reset()
    assert ep.state is EndpointerState.IDLE
    assert run(ep, frames(600, SILENCE), 10) == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": 1.0},
        {"silence_ms": 200},
        {"silence_ms": 900},
        {"min_speech_ms": -1},
        {"max_utterance_ms": 100},
    ],
)
def test_config_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        EndpointConfig(**kwargs)  # type: ignore[arg-type]


def test_frame_ms_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Endpointer().push(0.9, 0)


# --- Silero on real audio ------------------------------------------------------------------


@pytest.fixture(scope="module")
def silero() -> SileroVad:
    return SileroVad.load()


def read_wav(path: Path) -> npt.NDArray[np.int16]:
    with wave.open(str(path), "rb") as f:
        assert (f.getframerate(), f.getnchannels(), f.getsampwidth()) == (VAD_SAMPLE_RATE, 1, 2)
        return np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.int16)


def split_frames(pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    whole = len(pcm) // VAD_FRAME_SAMPLES * VAD_FRAME_SAMPLES
    return pcm[:whole].reshape(-1, VAD_FRAME_SAMPLES)


def probabilities(detector: VoiceActivityDetector, pcm: npt.NDArray[np.int16]) -> list[float]:
    return [detector.speech_probability(f) for f in split_frames(pcm)]


def test_clips_are_committed() -> None:
    assert SPEECH_CLIPS, f"no .wav clips under {DATA}"


def test_silence_and_low_noise_score_low(silero: SileroVad) -> None:
    zeros = np.zeros(VAD_SAMPLE_RATE * 2, dtype=np.int16)
    noise = np.random.default_rng(7).normal(0, 30, VAD_SAMPLE_RATE * 2).astype(np.int16)
    assert max(probabilities(silero.new_stream(), zeros)) < 0.1
    assert max(probabilities(silero.new_stream(), noise)) < 0.2


@pytest.mark.parametrize("clip", SPEECH_CLIPS, ids=lambda p: p.stem)
def test_speech_scores_high_on_most_voiced_frames(silero: SileroVad, clip: Path) -> None:
    framed = split_frames(read_wav(clip))
    rms = np.sqrt(np.mean(framed.astype(np.float64) ** 2, axis=1))
    voiced = rms > 0.01 * 32768  # louder than -40 dBFS
    probs = np.array(probabilities(silero.new_stream(), framed.ravel()))
    assert voiced.sum() >= 20
    assert np.mean(probs[voiced] >= 0.5) >= 0.8


@pytest.mark.parametrize("clip", SPEECH_CLIPS, ids=lambda p: p.stem)
def test_endpointer_over_real_speech_fires_once_after_it(silero: SileroVad, clip: Path) -> None:
    speech = read_wav(clip)
    lead = np.zeros(VAD_SAMPLE_RATE // 4, dtype=np.int16)
    tail = np.zeros(VAD_SAMPLE_RATE * 800 // 1000, dtype=np.int16)
    probs = probabilities(silero.new_stream(), np.concatenate([lead, speech, tail]))

    events = [e for _, e in run(Endpointer(), probs, VAD_FRAME_MS)]

    assert [type(e) for e in events] == [SpeechStarted, Endpoint]
    started, endpoint = events
    assert isinstance(started, SpeechStarted) and isinstance(endpoint, Endpoint)
    lead_ms = 250
    speech_ms = len(speech) * 1000 // VAD_SAMPLE_RATE
    assert lead_ms - 100 <= started.at_ms <= lead_ms + 300
    assert endpoint.reason == "silence"
    # Speech ends within the clip (piper leaves a short quiet tail), the endpoint after it.
    assert lead_ms + speech_ms - 500 <= endpoint.speech_end_ms <= lead_ms + speech_ms + 100
    assert endpoint.at_ms >= lead_ms + speech_ms
    assert endpoint.decision_ms >= 500


def test_streams_keep_their_own_state(silero: SileroVad) -> None:
    clip = split_frames(read_wav(SPEECH_CLIPS[0]))
    quiet = np.zeros_like(clip)
    alone = probabilities(silero.new_stream(), clip.ravel())
    a, b = silero.new_stream(), silero.new_stream()
    interleaved = []
    for speech_frame, quiet_frame in zip(clip, quiet, strict=True):
        interleaved.append(a.speech_probability(speech_frame))
        b.speech_probability(quiet_frame)
    assert interleaved == alone


def test_stream_refuses_wrong_frames(silero: SileroVad) -> None:
    stream = silero.new_stream()
    with pytest.raises(ValueError):
        stream.speech_probability(np.zeros(320, dtype=np.int16))
    with pytest.raises(ValueError):
        stream.speech_probability(np.zeros(VAD_FRAME_SAMPLES, dtype=np.float32))


def test_end_now_ends_an_utterance_in_trailing_silence_without_adapting() -> None:
    ep = Endpointer(EndpointConfig())
    run(ep, [SPEECH] * 20 + [SILENCE] * 7, VAD_FRAME_MS)
    assert ep.trailing_silence_ms == 7 * VAD_FRAME_MS
    window = ep.silence_window_ms

    event = ep.end_now()

    assert event == Endpoint(at_ms=27 * VAD_FRAME_MS, reason="complete", speech_end_ms=640)
    assert event.decision_ms == 224 and ep.last_decision_ms == 224
    assert ep.silence_window_ms == window
    assert ep.push(SILENCE, VAD_FRAME_MS) is None and ep.state is EndpointerState.IDLE
    with pytest.raises(ValueError, match="trailing silence"):
        ep.end_now()
    assert ep.trailing_silence_ms == 0


def test_hold_lets_a_pause_judged_mid_sentence_run_to_the_longer_window() -> None:
    ep = Endpointer(EndpointConfig(adaptive=False, silence_ms=500, max_silence_ms=800))
    run(ep, frames(600, SPEECH), 10)
    run(ep, frames(200, SILENCE), 10)
    ep.hold(800)  # the end-of-turn model says the caller is mid-sentence
    assert run(ep, frames(500, SILENCE), 10) == []  # 700 ms: past the 500 ms window
    events = run(ep, frames(200, SILENCE), 10)
    assert [type(e) for _, e in events] == [Endpoint]
    assert events[0][1].decision_ms == 800

    # The hold lasted only for that pause: the next one ends at the usual window.
    run(ep, frames(600, SPEECH), 10)
    events = run(ep, frames(600, SILENCE), 10)
    assert [e.decision_ms for _, e in events if isinstance(e, Endpoint)] == [500]


def test_hold_needs_a_pause() -> None:
    with pytest.raises(ValueError, match="trailing silence"):
        Endpointer().hold(800)
