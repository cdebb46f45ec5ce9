"""Spoken-turn latency through a real `yatri serve`: utterances streamed in real time (paced
20 ms frames) over the app websocket and the Twilio media stream, the capacity curve at 1, 2,
4 and 8 concurrent calls (calls the server sheds with 1013 are counted, not timed), against the
naive pipeline (one decode after the endpoint, reply audio sent only once fully synthesised)
measured in the same run on the same machine. Then turn taking: the Smart Turn end-of-turn
model beside the text rule, on the same utterances plus utterances with a pause mid-sentence
("Book two adults from Bangalore to ... Goa tomorrow."), counting callers cut off.

    python bench/voice_latency.py               # about 12 minutes on 2 cores
    python bench/voice_latency.py --quick       # 1 and 4 calls, fewer utterances

Speech end is the send time of the frame holding the clip's last audible sample. The app
stream's `final` and first `audio` events are timed by the client; a Twilio stream has no text
events, so its speech end -> final comes from the server's per-turn log line (the same clock
arithmetic: endpoint decision in stream time plus endpoint -> final on the wall clock), and
speech end -> first reply audio is timed by the client. Loopback only; every call ends by itself.
App streams take a token from `POST /v1/voice/tokens`; Twilio calls get theirs from the signed
voice webhook (`POST /v1/telephony/twilio/voice`), as a real call would. Every call comes from
loopback, so the server is started with the per-source limits opened to the whole process.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import os
import re
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _serve import YatriProcess  # noqa: E402

from voice.audio import PCM16, AudioFormat, convert, resample  # noqa: E402
from voice.faster_whisper import WhisperStt  # noqa: E402
from voice.piper import PiperTts  # noqa: E402

FRAME_MS = 20
RATE = 16_000
TRAILING_SILENCE_MS = 1_500
REPLY_TIMEOUT_S = 30.0
TWILIO_TOKEN = "bench-twilio-auth-token"
SERVER_ENV = {
    "YATRI_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
    "YATRI_VOICE_MAX_STREAMS_PER_SOURCE": "8",
    "YATRI_VOICE_ANONYMOUS_SHARE": "1",
    "YATRI_VOICE_NEW_CALLER_SHARE": "0",
    # A caller here sends nothing while it waits for a reply; under load that can be long.
    "YATRI_VOICE_IDLE_TIMEOUT_S": "120",
    "YATRI_VOICE_NO_SPEECH_TIMEOUT_S": "120",
}
PHRASES = (
    "Flights from Delhi to Mumbai on the twenty fifth of December.",
    "Book two adults from Bangalore to Goa tomorrow.",
    "What is the cancellation fee for my tatkal ticket?",
    "I want to fly from Ahmedabad to Kolkata on the third of January.",
    "Show me flights from Lucknow to Hyderabad next Friday.",
    "Three adults from Chennai to Pune on the tenth of February.",
    "Flights from Jaipur to Bangalore on the fifth of March.",
    "Can I carry a second bag on a domestic flight?",
    "I need a flight from Kochi to Delhi on the first of January.",
    "Two adults and one child from Mumbai to Srinagar on the twelfth of December.",
)
# Spoken with a pause inside (PAUSE_MS of silence between the parts); the last word is the
# one a caller cut off never gets to say.
PAUSED = (
    ("Book two adults from Bangalore to", "Goa tomorrow."),
    ("Show me flights from Lucknow to", "Hyderabad next Friday."),
    ("What is the cancellation fee for", "my tatkal ticket?"),
    ("Flights from Delhi to Mumbai.", "On the fifth of March."),
    ("I want to fly from Chennai", "to Kolkata on Monday."),
    ("Three adults from Jaipur to Pune", "on the tenth of February."),
)
PAUSE_MS = 450
STAGES = (
    "endpoint_decision_ms",
    "endpoint_to_final_ms",
    "final_to_reply_ms",
    "reply_to_first_audio_ms",
    "decode_ms",
)
MULAW_8K = AudioFormat("mulaw", 8000)
PCM_16K = AudioFormat("pcm16", RATE)


@dataclass(frozen=True, slots=True)
class Clip:
    text: str
    pcm: bytes  # 16 kHz PCM16 with the trailing silence
    speech_end_s: float  # offset of the last audible sample


@dataclass(slots=True)
class Sample:
    to_final_s: float | None = None
    to_first_audio_s: float | None = None
    transcript: str = ""
    said: str = ""  # the clip's text
    stages: dict[str, float] = field(default_factory=dict)  # the server's per-turn metrics


@dataclass(slots=True)
class Run:
    samples: list[Sample] = field(default_factory=list)
    failures: int = 0
    shed: bool = False  # refused at the start with 1013 (try again later)


def last_audible_s(pcm: PCM16) -> float:
    frame = RATE // 100
    usable = len(pcm) - len(pcm) % frame
    rms = np.sqrt(np.mean(pcm[:usable].astype(np.float64).reshape(-1, frame) ** 2, axis=1))
    loud = np.nonzero(rms > 0.05 * rms.max())[0]
    return float((loud[-1] + 1) * frame / RATE)


async def _speak(tts: PiperTts, text: str) -> PCM16:
    chunks = [c async for c in tts.synthesize(text)]
    pcm = np.frombuffer(b"".join(c.pcm16 for c in chunks), dtype="<i2").astype(np.int16)
    return resample(pcm, src_hz=chunks[0].sample_rate, dst_hz=RATE)


async def make_clips() -> tuple[list[Clip], list[Clip]]:
    """The plain utterances, and the ones with a pause mid-sentence."""
    tts = PiperTts.load()
    silence = bytes(2 * RATE * TRAILING_SILENCE_MS // 1000)
    clips = []
    for text in PHRASES:
        pcm16k = await _speak(tts, text)
        end = last_audible_s(pcm16k)
        clips.append(Clip(text=text, pcm=pcm16k.tobytes() + silence, speech_end_s=end))
    # The pause goes where the next word starts in the whole sentence (Whisper's word times),
    # so the words before it keep their mid-sentence intonation.
    stt = WhisperStt.load(word_timestamps=True, window_s=30.0)
    paused = []
    for head, tail in PAUSED:
        text = f"{head} {tail}"
        pcm16k = await _speak(tts, text)
        words = (await stt.transcribe(pcm16k)).words
        at = len(head.split())
        if len(words) <= at:
            continue
        cut = int(words[at].start_s * RATE)
        gap = np.zeros(RATE * PAUSE_MS // 1000, dtype=np.int16)
        pcm16k = np.concatenate([pcm16k[:cut], gap, pcm16k[cut:]])
        end = last_audible_s(pcm16k)
        paused.append(Clip(text=text, pcm=pcm16k.tobytes() + silence, speech_end_s=end))
    stt.close()
    tts.close()
    return clips, paused


async def paced(frames: Sequence[Any], send: Any, *, speech_end_frame: int) -> float:
    """Send frames in real time; return the wall time the speech-end frame went out."""
    start = time.perf_counter()
    speech_end_at = start
    for i, frame in enumerate(frames):
        delay = start + i * FRAME_MS / 1000 - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await send(frame)
        if i == speech_end_frame:
            speech_end_at = time.perf_counter()
    return speech_end_at


def split(pcm: bytes, frame_bytes: int) -> list[bytes]:
    return [pcm[i : i + frame_bytes] for i in range(0, len(pcm), frame_bytes)]


async def app_caller(base: str, clips: list[Clip], run: Run) -> None:
    async with httpx.AsyncClient() as http:
        minted = await http.post(base.replace("ws://", "http://") + "/v1/voice/tokens", json={})
    minted.raise_for_status()
    async with connect(base + "/v1/voice/stream", max_size=2**24) as ws:
        await ws.send(orjson.dumps({"type": "start", "token": minted.json()["token"]}).decode())
        try:
            await _until(ws, "ready")
        except ConnectionClosed as e:
            run.shed = e.rcvd is not None and e.rcvd.code == 1013
            if not run.shed:
                raise
            return
        for clip in clips:
            sample = Sample(said=clip.text)
            frames = split(clip.pcm, 2 * RATE * FRAME_MS // 1000)
            end_frame = int(clip.speech_end_s * 1000 // FRAME_MS)
            sender = asyncio.create_task(paced(frames, ws.send, speech_end_frame=end_frame))
            try:
                final = await _until(ws, "final")
                final_at = time.perf_counter()
                await _until(ws, "audio")
                audio_at = time.perf_counter()
                speech_end_at = await sender
                sample.to_final_s = final_at - speech_end_at
                sample.to_first_audio_s = audio_at - speech_end_at
                sample.transcript = final["text"]
                done = await _until(ws, "reply_end")
                sample.stages = {
                    k: float(v) for k, v in {**final["metrics"], **done["metrics"]}.items() if v
                }
                run.samples.append(sample)
            except TimeoutError:
                run.failures += 1
                await sender
            except ConnectionClosed:
                sender.cancel()
                run.failures += len(clips) - clips.index(clip)
                return


async def twilio_token(base: str, call_sid: str) -> str:
    """The stream token the signed voice webhook's TwiML gives this call."""
    url = base.replace("ws://", "http://") + "/v1/telephony/twilio/voice"
    params = {"CallSid": call_sid, "From": f"+9190000{call_sid[-5:]}"}
    payload = url + "".join(name + params[name] for name in sorted(params))
    mac = hmac.new(TWILIO_TOKEN.encode(), payload.encode(), hashlib.sha1).digest()
    async with httpx.AsyncClient() as http:
        answer = await http.post(url, data=params,
                                 headers={"x-twilio-signature": base64.b64encode(mac).decode()})  # fmt: skip
    answer.raise_for_status()
    found = re.search(r'<Parameter name="token" value="([^"]+)"', answer.text)
    if found is None:
        raise RuntimeError(f"no stream token in the TwiML: {answer.text}")
    return found.group(1)


async def twilio_caller(base: str, clips: list[Clip], run: Run, call_no: int) -> None:
    sid = f"MZbench{call_no}"
    call_sid = f"CAbench{call_no}-{time.time_ns()}"
    token = await twilio_token(base, call_sid)
    async with connect(base + "/v1/telephony/twilio", max_size=2**24) as ws:
        start = {
            "event": "start",
            "streamSid": sid,
            "start": {
                "streamSid": sid,
                "callSid": call_sid,
                "tracks": ["inbound"],
                "customParameters": {"token": token},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
        await ws.send(orjson.dumps(start).decode())
        chunk = 0
        for clip in clips:
            mulaw = convert(clip.pcm, src=PCM_16K, dst=MULAW_8K)
            messages = []
            for frame in split(mulaw, 160):
                chunk += 1
                media = {"track": "inbound", "chunk": str(chunk), "payload": b64(frame)}
                messages.append(
                    orjson.dumps({"event": "media", "streamSid": sid, "media": media}).decode()
                )
            end_frame = int(clip.speech_end_s * 1000 // FRAME_MS)
            sender = asyncio.create_task(paced(messages, ws.send, speech_end_frame=end_frame))
            try:
                try:
                    await _until(ws, "media")
                except ConnectionClosed as e:
                    sender.cancel()
                    run.shed = e.rcvd is not None and e.rcvd.code == 1013
                    if not run.shed:
                        raise
                    return
                audio_at = time.perf_counter()
                speech_end_at = await sender
                run.samples.append(Sample(to_first_audio_s=audio_at - speech_end_at))
                # Acknowledge marks at once (as if played instantly) until the reply is done.
                await _ack_marks(ws, sid)
            except TimeoutError:
                run.failures += 1
                await sender
            except ConnectionClosed:
                sender.cancel()
                run.failures += len(clips) - clips.index(clip)
                return


async def _ack_marks(ws: ClientConnection, sid: str) -> None:
    with_marks = True
    while with_marks:
        try:
            async with asyncio.timeout(1.5):
                message = orjson.loads(await ws.recv())
        except TimeoutError:
            return
        if message["event"] == "mark":
            ack = {"event": "mark", "streamSid": sid, "mark": message["mark"]}
            await ws.send(orjson.dumps(ack).decode())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def _until(ws: ClientConnection, wanted: str) -> dict[str, Any]:
    async with asyncio.timeout(REPLY_TIMEOUT_S):
        while True:
            message: dict[str, Any] = orjson.loads(await ws.recv())
            if message.get("type", message.get("event")) == wanted:
                return message


def server_finals(log: Path, since: int) -> list[float]:
    """speech_end_to_final_ms of the turns the server logged after byte offset `since`."""
    values = []
    with log.open("rb") as f:
        f.seek(since)
        for line in f:
            if b"voice turn heard" not in line:
                continue
            try:
                values.append(float(orjson.loads(line)["speech_end_to_final_ms"]) / 1000)
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
    return values


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def fmt(values: list[float]) -> str:
    return f"{pct(values, 50) * 1000:6.0f} / {pct(values, 95) * 1000:6.0f}"


async def measure(
    server: YatriProcess, *, transport: str, calls: int, clips: list[Clip], per_call: int
) -> tuple[list[float], list[float], int, int, list[Sample]]:
    base = f"ws://127.0.0.1:{server.port}"
    offset = server.log.stat().st_size
    runs = [Run() for _ in range(calls)]
    tasks = []
    for i, run in enumerate(runs):
        mine = [clips[(i * per_call + k) % len(clips)] for k in range(per_call)]
        if transport == "app":
            tasks.append(app_caller(base, mine, run))
        else:
            tasks.append(twilio_caller(base, mine, run, i))
        await asyncio.sleep(0.37)  # calls do not start in lockstep
    await asyncio.gather(*tasks)
    samples = [s for r in runs for s in r.samples]
    failures = sum(r.failures for r in runs)
    shed = sum(r.shed for r in runs)
    first_audio = [s.to_first_audio_s for s in samples if s.to_first_audio_s is not None]
    for stage in STAGES:
        values = [s.stages[stage] for s in samples if stage in s.stages]
        if values:
            print(f"    {stage:26} p50 {pct(values, 50):6.0f} ms  p95 {pct(values, 95):6.0f} ms")
    if transport == "app":
        finals = [s.to_final_s for s in samples if s.to_final_s is not None]
    else:
        await asyncio.sleep(0.5)
        finals = server_finals(server.log, offset)
    return finals, first_audio, failures, shed, samples


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) / {five:.2f} (5 min) on {os.cpu_count()} cores"


def cut_off(sample: Sample) -> bool:
    """The turn ended before the caller's last word (the final lacks it)."""
    last = re.sub(r"\W", "", sample.said.split()[-1]).casefold()
    return last not in re.sub(r"[^\w\s]", "", sample.transcript).casefold().split()


async def turn_taking(clips: list[Clip], paused: list[Clip], *, quick: bool) -> list[str]:
    """Speech end -> final and cut-offs with the text rule and with the end-of-turn model."""
    rows = []
    for model in ("off", "smart-turn"):
        server = YatriProcess(env={"YATRI_VOICE_TURN_MODEL": model, "YATRI_LOG_LEVEL": "INFO",
                                   **SERVER_ENV})  # fmt: skip
        server.start(timeout=180)
        try:
            for name, chosen in (("plain", clips[: 6 if quick else 10]), ("paused", paused)):
                finals, audio, failed, _, samples = await measure(
                    server, transport="app", calls=1, clips=chosen, per_call=len(chosen)
                )
                cuts = sum(cut_off(s) for s in samples)
                rows.append(
                    f"| {model} | {name} | {len(samples)} | {fmt(finals)} | {fmt(audio)} "
                    f"| {cuts} of {len(samples)} |"
                )
                print(f"turns {model:10} {name:6} {rows[-1]}", flush=True)
        finally:
            server.stop()
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--turns-only", action="store_true", help="only the turn-taking part")
    args = parser.parse_args()
    levels = (1, 4) if args.quick else (1, 2, 4, 8)
    print("$ python bench/voice_latency.py " + " ".join(sys.argv[1:]))
    print(f"start: {load()} (a shared machine: other engineers' tests run beside this)")
    clips, paused = await make_clips()
    print(f"{len(clips)} piper utterances, {TRAILING_SILENCE_MS} ms of silence after each\n")
    rows = []
    for pipeline in () if args.turns_only else ("streaming", "naive"):
        server = YatriProcess(
            env={"YATRI_VOICE_PIPELINE": pipeline, "YATRI_LOG_LEVEL": "INFO", **SERVER_ENV}
        )
        server.start(timeout=180)
        try:
            for transport in ("app", "twilio"):
                for calls in levels:
                    per_call = (6 if args.quick else 10) if calls == 1 else (2 if args.quick else 3)
                    finals, audio, failed, shed, _ = await measure(
                        server, transport=transport, calls=calls, clips=clips, per_call=per_call
                    )
                    rows.append(
                        (pipeline, transport, calls, len(audio), failed, shed, finals, audio)
                    )
                    print(
                        f"{pipeline:9} {transport:6} {calls} calls  turns {len(audio):3} "
                        f"failed {failed} shed {shed}  speech end->final p50/p95 {fmt(finals)} ms  "
                        f"->first audio {fmt(audio)} ms  ({load()})",
                        flush=True,
                    )
        finally:
            server.stop()
    turn_rows = await turn_taking(clips, paused, quick=args.quick)
    print(f"\nend: {load()}")
    print(
        "\n| pipeline | transport | calls | turns | shed (1013) | speech end → final p50 / p95 (ms) "
        "| speech end → first reply audio p50 / p95 (ms) |"
    )
    print("|---|---|---|---|---|---|---|")
    for pipeline, transport, calls, n, failed, shed, finals, audio in rows:
        note = f" ({failed} timed out)" if failed else ""
        print(
            f"| {pipeline} | {transport} | {calls} | {n}{note} | {shed} | {fmt(finals)} "
            f"| {fmt(audio)} |"
        )
    print(
        "\n| end of turn | utterances | turns | speech end → final p50 / p95 (ms) "
        "| → first audio p50 / p95 (ms) | cut off |"
    )
    print("|---|---|---|---|---|---|")
    print("\n".join(turn_rows))


if __name__ == "__main__":
    asyncio.run(main())
