"""A whole phone booking, spoken: a caller on the Twilio media stream searches, books the
cheapest flight, proves who they are with the SMS code, books for "me and my wife" and says yes.

    python bench/spoken_booking.py            # 2-4 minutes on 2 cores, loopback only

It starts a real `yatri serve` (voice on; its own valkey-server, so the conversation can be
read back; the Temporal dev server and the sandbox airline embedded as `yatri serve` does) and
calls it as Twilio would from +91 90000 00002, the sandbox traveller trv-sandbox-imran: the
voice webhook first where the server has one (`POST /v1/telephony/twilio/voice`, signed; its
TwiML's stream parameters go into the `start` event), else a `caller` stream parameter. The
caller's lines are synthesised offline by Piper (en_US joe, the voice Yatri itself replies in:
no other English neural voice ships here), cut to 8 kHz μ-law and streamed in real time as
20 ms `media` frames, with line silence between lines as a phone line carries. Reply audio is
"played" in real time: each `mark` is echoed when the audio before it would have finished, and
the caller speaks only once every mark is echoed, the server has logged the reply as sent (a
phone stream has no end-of-reply event; a long reply's lead phrase and its rest can be a
second apart on a busy machine) and the line has been quiet for half a second.

The caller answers what Yatri asks (the `expecting` stored with the conversation): a choice of
flight "Book the cheapest one.", a code the six digits from the SMS spoken one by one ("Four
eight two nine one three."), the travellers "Me and my wife.", the read-back "Yes, please."
("Yes." alone was more often not heard at all), or "No, me and my wife." to a read-back that
does not name both travellers. A line that gets no turn at all, or that Yatri did not
understand, is said again, and a question asked again is answered again, up to MAX_LINES
lines; the call ends when Yatri expects nothing more.
The caller's audio differs from run to run (Piper samples its voice), and so can what is heard.

Where each column comes from:
- caller said: the script above, the code read from the traveller's sandbox SMS inbox
  (`GET /v1/travellers/me/messages` with a traveller token);
- Yatri heard / Yatri said: the conversation's history as the engine stored it in Redis, read
  with the app's own `RedisSessionStore` (the call SID's session from `RedisCallDirectory`)
  after each reply has played. "Heard" is Whisper's transcript after the spoken-form
  normaliser, the text the engine parsed; both sides are stored redacted, so an email address
  reads "[EMAIL]";
- speech end -> first reply audio: timed here, from sending the frame that holds the line's
  last audible sample to receiving the first reply `media` frame; the stages beside it are the
  server's own, from its "voice reply sent" log line for the turn;
- the booking: `GET /v1/bookings` with the traveller's token, after the call.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import numpy as np
import orjson
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _serve import YatriProcess  # noqa: E402
from _voice_set import ordinal_words  # noqa: E402

from api.auth import TRAVELLER_SCOPE, issue_token  # noqa: E402
from core.embedded import EmbeddedValkey  # noqa: E402
from core.redis_conn import RedisClient, connect_redis  # noqa: E402
from sessions.redis_store import RedisCallDirectory, RedisSessionStore  # noqa: E402
from sessions.skills.identity import code_in  # noqa: E402
from sessions.store import TurnRecord  # noqa: E402
from voice.audio import AudioFormat, convert, resample  # noqa: E402
from voice.piper import PiperTts  # noqa: E402

CALLER = "+919000000002"  # +91 90000 00002 as Twilio writes a number
TRAVELLER = "trv-sandbox-imran"
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
RATE = 16_000
FRAME_S = 0.02
MULAW_8K = AudioFormat("mulaw", 8000)
PCM_16K = AudioFormat("pcm16", RATE)
LINE_SILENCE = b"\xff" * 160  # 20 ms of μ-law silence
FIRST_AUDIO_TIMEOUT_S = 30.0  # from the end of a line to the first reply audio
NOT_HEARD_S = 6.0  # no "voice turn heard" by then: the line was not taken as speech
# Yatri's reply is over when every mark is echoed, the server has logged it as sent and the
# line has been quiet QUIET_S; LONG_QUIET_S of quiet if the server never logs it.
QUIET_S = 0.5
LONG_QUIET_S = 20.0
MAX_LINES = 12
CALL_TIMEOUT_S = 420.0
CODE = "<code>"
ANSWERS = {
    "choice": "Book the cheapest one.",
    "otp": CODE,
    "traveller_details": "Me and my wife.",
    "confirmation": "Yes, please.",
}
PARTY = "Imran Sheikh and Sana Sheikh"
WRONG_PARTY = "No, me and my wife."
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    mulaw: bytes
    speech_end_frame: int  # the 20 ms frame holding the last audible sample


@dataclass(slots=True)
class Turn:
    scripted: str  # the line, CODE for the code
    said: str
    heard: list[TurnRecord] = field(default_factory=list)  # what the engine stored
    expecting: str | None = None
    to_first_audio_s: float | None = None
    reply_audio_s: float = 0.0
    cleared: int = 0  # reply audio Yatri cleared while this line was said: a barge-in
    stages: list[dict[str, Any]] = field(default_factory=list)  # the server's log lines


class Voice:
    """The caller's voice: Piper at 16 kHz, cut to Twilio's 8 kHz μ-law."""

    def __init__(self) -> None:
        self._tts = PiperTts.load()

    async def line(self, text: str) -> Line:
        chunks = [c async for c in self._tts.synthesize(text)]
        pcm = np.frombuffer(b"".join(c.pcm16 for c in chunks), dtype="<i2").astype(np.int16)
        pcm16k = resample(pcm, src_hz=chunks[0].sample_rate, dst_hz=RATE)
        mulaw = convert(pcm16k.tobytes(), src=PCM_16K, dst=MULAW_8K)
        return Line(text, mulaw, int(_last_audible_s(pcm16k) / FRAME_S))

    def close(self) -> None:
        self._tts.close()


def _last_audible_s(pcm: np.ndarray[Any, np.dtype[np.int16]]) -> float:
    frame = RATE // 100
    usable = len(pcm) - len(pcm) % frame
    rms = np.sqrt(np.mean(pcm[:usable].astype(np.float64).reshape(-1, frame) ** 2, axis=1))
    loud = np.nonzero(rms > 0.05 * rms.max())[0]
    return float((loud[-1] + 1) * frame / RATE)


class PhoneLine:
    """One Twilio media stream as the caller's handset sees it: inbound audio every 20 ms
    (silence between lines), reply audio played back in real time with its marks echoed."""

    def __init__(self, ws: ClientConnection, *, stream_sid: str) -> None:
        self._ws = ws
        self._sid = stream_sid
        self._loop = asyncio.get_running_loop()
        self._queue: deque[bytes] = deque()
        self._sent = 0
        self._speech_end: tuple[int, asyncio.Future[float]] | None = None
        self._first_media: asyncio.Future[float] | None = None
        self._playing_until = 0.0  # loop time
        self._last_media_at = 0.0
        self._marks_out = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.audio_s = 0.0  # reply audio received since the last line
        self.clears = 0

    def start(self) -> None:
        for body in (self._send_frames(), self._receive()):
            self._spawn(body)

    def _spawn(self, body: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(body)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._fail(task.exception())

    def _fail(self, error: BaseException | None) -> None:
        waiting = [self._first_media, self._speech_end[1] if self._speech_end else None]
        for waiter in waiting:
            if waiter is not None and not waiter.done():
                waiter.set_exception(RuntimeError(f"the call ended: {error!r}"))

    async def speak(self, line: Line) -> float:
        """Speak `line`; the wall time its speech ended (its last audible frame went out)."""
        speech_end: asyncio.Future[float] = self._loop.create_future()
        self._first_media = None  # reply audio counts from the end of this line's speech
        self.audio_s = 0.0
        frames = [line.mulaw[i : i + 160] for i in range(0, len(line.mulaw), 160)]
        self._speech_end = (self._sent + len(self._queue) + line.speech_end_frame, speech_end)
        self._queue.extend(frames)
        return await speech_end

    def first_audio_at(self) -> float | None:
        """The wall time the first reply audio since the last line came, if it has."""
        if self._first_media is None or not self._first_media.done():
            return None
        return self._first_media.result()

    async def reply_played(self, finished: Callable[[], bool]) -> None:
        """Until every mark is echoed and the reply is over: `finished()` (the server has sent
        all of it) and QUIET_S without audio, or LONG_QUIET_S without audio if it never says."""
        while True:
            now = self._loop.time()
            quiet = now - max(self._last_media_at, self._playing_until)
            if (
                self._marks_out == 0
                and now >= self._playing_until
                and (quiet >= LONG_QUIET_S or (quiet >= QUIET_S and finished()))
            ):
                return
            await asyncio.sleep(0.05)

    async def hang_up(self) -> None:
        await self._ws.send(orjson.dumps({"event": "stop", "streamSid": self._sid}).decode())
        for task in list(self._tasks):
            task.cancel()

    async def _send_frames(self) -> None:
        start = time.perf_counter()
        while True:
            delay = start + self._sent * FRAME_S - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            payload = self._queue.popleft() if self._queue else LINE_SILENCE
            media = {"track": "inbound", "chunk": str(self._sent + 1),
                     "timestamp": str(round(self._sent * FRAME_S * 1000)),
                     "payload": base64.b64encode(payload).decode()}  # fmt: skip
            message = {"event": "media", "streamSid": self._sid, "media": media}
            await self._ws.send(orjson.dumps(message).decode())
            if self._speech_end is not None and self._speech_end[0] == self._sent:
                self._speech_end[1].set_result(time.perf_counter())
                self._speech_end = None
                self._first_media = self._loop.create_future()
            self._sent += 1

    async def _receive(self) -> None:
        async for raw in self._ws:
            message = orjson.loads(raw)
            event = message.get("event")
            now = self._loop.time()
            if event == "media":
                if self._first_media is not None and not self._first_media.done():
                    self._first_media.set_result(time.perf_counter())
                audio_s = len(base64.b64decode(message["media"]["payload"])) / 8000
                self._playing_until = max(now, self._playing_until) + audio_s
                self._last_media_at = now
                if self._first_media is not None:
                    self.audio_s += audio_s
            elif event == "mark":
                self._marks_out += 1
                self._spawn(self._echo(message["mark"]["name"], at=self._playing_until))
            elif event == "clear":
                # Audio before a clear was the reply the caller spoke over, not the answer.
                self.clears += 1
                self._playing_until = now
                if self._first_media is not None and self._first_media.done():
                    self._first_media = self._loop.create_future()
                    self.audio_s = 0.0
        self._fail(None)

    async def _echo(self, name: str, *, at: float) -> None:
        await asyncio.sleep(max(0.0, at - self._loop.time()))
        mark = {"event": "mark", "streamSid": self._sid, "mark": {"name": name}}
        await self._ws.send(orjson.dumps(mark).decode())
        self._marks_out -= 1


class Conversation:
    """The call's conversation as the engine stored it, read with the app's own store."""

    def __init__(self, redis: RedisClient, *, call_sid: str) -> None:
        self._store = RedisSessionStore(redis=redis, ttl_s=3600)
        self._calls = RedisCallDirectory(redis=redis, ttl_s=3600)
        self._call_sid = call_sid
        self._seen = 0

    async def new_turns(self) -> tuple[list[TurnRecord], str | None]:
        """History records since the last look, and what the engine expects next."""
        session_id = await self._calls.session_for(
            provider="twilio", call_id=self._call_sid, proposed="not-yet-bound"
        )
        conversation = await self._store.load(session_id)
        if conversation is None:
            return [], None
        fresh = conversation.history[self._seen :]
        self._seen = len(conversation.history)
        return fresh, (conversation.state or {}).get("expecting")


class ServerLog:
    """The server's per-turn voice log lines for one stream, read as they are written."""

    def __init__(self, path: Path, *, stream_sid: str) -> None:
        self._path = path
        self._sid = stream_sid.encode()
        self._offset = path.stat().st_size

    def lines(self, event: str) -> list[dict[str, Any]]:
        """This stream's `event` lines since the last `advance`."""
        found = []
        with self._path.open("rb") as f:
            f.seek(self._offset)
            for raw in f:
                if event.encode() in raw and self._sid in raw:
                    with contextlib.suppress(orjson.JSONDecodeError):
                        found.append(orjson.loads(raw))
        return found

    def advance(self) -> None:
        self._offset = self._path.stat().st_size


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    payload = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


async def stream_parameters(
    http: httpx.AsyncClient, *, base: str, call_sid: str, auth_token: str
) -> dict[str, str]:
    """The stream's customParameters, as the server's TwiML for this call names them; a
    server without the voice webhook gets the caller's number as a `caller` parameter."""
    url = base + "/v1/telephony/twilio/voice"
    params = {"CallSid": call_sid, "From": CALLER, "To": "+918000000000",
              "Direction": "inbound", "CallStatus": "ringing"}  # fmt: skip
    signature = twilio_signature(auth_token, url, params)
    answer = await http.post(url, data=params, headers={"x-twilio-signature": signature})
    if answer.status_code == 404:
        return {"caller": CALLER}
    answer.raise_for_status()
    twiml = ElementTree.fromstring(answer.text)
    return {p.attrib["name"]: p.attrib["value"] for p in twiml.iter("Parameter")}


def spoken_date(day: dt.date) -> str:
    return f"the {ordinal_words(day.day)} of {day:%B}"


def spoken_code(code: str) -> str:
    return " ".join(DIGITS[int(c)] for c in code).capitalize() + "."


async def read_code(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await http.get("/v1/travellers/me/messages", headers=headers)
    response.raise_for_status()
    messages = response.json()
    code = code_in(messages[-1]["text"]) if messages else None
    if code is None:
        raise SystemExit(f"no code in the sandbox inbox: {messages}")
    return code


async def newest_booking(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any] | None:  # fmt: skip
    """The traveller's newest booking, waited on (up to 30 s) while its workflow runs."""
    deadline = time.perf_counter() + 30
    while True:
        response = await http.get(
            "/v1/bookings", params={"traveller": TRAVELLER, "limit": 1}, headers=headers
        )
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()
        if not found:
            return None
        if found[0]["status"] != "pending" or time.perf_counter() > deadline:
            return found[0]
        await asyncio.sleep(0.5)


def next_line(turn: Turn) -> str | None:
    """What the caller says next: the answer to the question Yatri asked last; the same line
    again when it was not understood (Yatri expects nothing and read it as out of scope); a
    refusal of a read-back that does not name both travellers; None ends the call."""
    asked = turn.expecting or "none"
    intents = [r.intent for r in turn.heard if r.role == "traveller"]
    said = [r.text for r in turn.heard if r.role == "yatri"]
    if asked == "none" and intents and intents[-1] == "out_of_scope":
        return turn.scripted
    if asked == "confirmation" and said and PARTY not in said[-1]:
        return WRONG_PARTY
    return ANSWERS.get(asked)


async def exchange(phone: PhoneLine, line: Line, log: ServerLog, turn: Turn) -> None:
    """Say `line` and listen to the whole reply; a line the server never heard gets none."""
    ended_at = await phone.speak(line)
    while True:
        first_at = phone.first_audio_at()
        if first_at is not None:
            turn.to_first_audio_s = first_at - ended_at
            await phone.reply_played(lambda: bool(log.lines("voice reply sent")))
            break
        waited = time.perf_counter() - ended_at
        if waited > FIRST_AUDIO_TIMEOUT_S:
            break
        if waited > NOT_HEARD_S and not log.lines("voice turn heard"):
            break
        await asyncio.sleep(0.05)
    turn.reply_audio_s = phone.audio_s
    turn.cleared = phone.clears
    phone.clears = 0


def print_turn(n: int, turn: Turn) -> None:
    print(f"{n}. caller said:  {turn.said}")
    if turn.cleared:
        print("   (said over the end of the previous reply: Yatri stopped it, a barge-in)")
    if not turn.heard:
        print("   Yatri heard:  (nothing: no turn)")
    for record in turn.heard:
        if record.role == "traveller":
            print(f"   Yatri heard:  {record.text}  [{record.intent}]")
        else:
            print(f"   Yatri said:   {record.text}")
    if turn.to_first_audio_s is None:
        timing = "no reply"
    else:
        timing = f"speech end -> first reply audio {turn.to_first_audio_s * 1000:.0f} ms"
        names = ("endpoint_decision", "endpoint_to_final", "final_to_reply",
                 "reply_to_first_audio")  # fmt: skip
        for stages in turn.stages[:1]:
            parts = [f"{k} {stages[k + '_ms']:.0f}" for k in names if stages.get(k + "_ms")]
            timing += f" ({', '.join(parts)})"
        timing += f"; {turn.reply_audio_s:.1f} s of reply audio"
    print(f"   {timing}; next expected: {turn.expecting}\n")


async def call(server: YatriProcess, redis: RedisClient, *, secret: str, twilio_token: str,
               days: int) -> tuple[list[Turn], dict[str, Any] | None]:  # fmt: skip
    travel_day = dt.datetime.now(IST).date() + dt.timedelta(days=days)
    headers = {"authorization": "Bearer " + issue_token(
        secret=secret, sub=TRAVELLER, scope=TRAVELLER_SCOPE, ttl_s=900)}  # fmt: skip
    voice = Voice()
    stream_sid, call_sid = "MZ" + secrets.token_hex(16), "CA" + secrets.token_hex(16)
    conversation = Conversation(redis, call_sid=call_sid)
    log = ServerLog(server.log, stream_sid=stream_sid)
    turns: list[Turn] = []
    try:
        async with (
            httpx.AsyncClient(base_url=server.base, timeout=10) as http,
            connect(f"ws://127.0.0.1:{server.port}/v1/telephony/twilio", max_size=2**24) as ws,
        ):
            custom = await stream_parameters(http, base=server.base, call_sid=call_sid,
                                             auth_token=twilio_token)  # fmt: skip
            connected = {"event": "connected", "protocol": "Call", "version": "1.0.0"}
            await ws.send(orjson.dumps(connected).decode())
            start = {"streamSid": stream_sid, "callSid": call_sid, "tracks": ["inbound"],
                     "customParameters": custom,
                     "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                     "channels": 1}}  # fmt: skip
            await ws.send(orjson.dumps({"event": "start", "sequenceNumber": "1",
                                        "start": start, "streamSid": stream_sid}).decode())  # fmt: skip
            phone = PhoneLine(ws, stream_sid=stream_sid)
            phone.start()
            await asyncio.sleep(0.6)  # the caller puts the phone to their ear
            scripted: str | None = f"Flights from Delhi to Goa on {spoken_date(travel_day)}."
            code: str | None = None
            while scripted is not None and len(turns) < MAX_LINES:
                if scripted == CODE:
                    code = code or await read_code(http, headers)
                text = spoken_code(code) if scripted == CODE and code else scripted
                turn = Turn(scripted=scripted, said=text)
                turns.append(turn)
                await exchange(phone, await voice.line(text), log, turn)
                turn.heard, turn.expecting = await conversation.new_turns()
                turn.stages = log.lines("voice reply sent")
                log.advance()
                print_turn(len(turns), turn)
                if not turn.heard:
                    continue  # not heard at all: say it again
                scripted = next_line(turn)
                if scripted != CODE:
                    code = None  # a new code is sent when one is asked for afresh
            await phone.hang_up()
            booking = await newest_booking(http, headers)
    finally:
        voice.close()
    return turns, booking


def report(turns: list[Turn], booking: dict[str, Any] | None) -> None:
    print("The booking, read back from GET /v1/bookings:")
    if booking is None:
        print("  none")
    else:
        flight = booking.get("flight") or {}
        names = " and ".join(f"{t['first_name']} {t['last_name']}" for t in booking["travellers"])
        print(f"  {booking['booking_id']}: {booking['status']}, "
              f"PNR {booking['references'].get('pnr')}, {flight.get('flight_number')} "
              f"{flight.get('origin')} to {flight.get('destination')}, departing "
              f"{booking.get('departure')}, for {names}; paid ₹{booking['paid_paise'] // 100:,}")  # fmt: skip
    met = (booking is not None and booking["status"] == "confirmed"
           and [t["first_name"] for t in booking["travellers"]] == ["Imran", "Sana"])  # fmt: skip
    print(f"goal (a confirmed booking for {PARTY}) {'met' if met else 'NOT met'}")
    heard = sum(1 for t in turns if t.heard)
    print(f"\n{len(turns)} caller lines, {heard} heard as a turn")
    waits = [t.to_first_audio_s * 1000 for t in turns if t.to_first_audio_s is not None]
    if not waits:
        return
    print(f"speech end -> first reply audio, {len(waits)} replies: median "
          f"{statistics.median(waits):.0f} ms, max {max(waits):.0f} ms")  # fmt: skip
    for stage in ("endpoint_decision", "endpoint_to_final", "final_to_reply",
                  "reply_to_first_audio", "decode"):  # fmt: skip
        values = [t.stages[0][stage + "_ms"] for t in turns
                  if t.stages and t.stages[0].get(stage + "_ms") is not None]  # fmt: skip
        if values:
            print(f"  {stage:22} median {statistics.median(values):5.0f} ms, "
                  f"max {max(values):5.0f} ms")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=14, help="Travel this many days ahead.")
    parser.add_argument("--keep", action="store_true", help="Keep the data and the server log.")
    args = parser.parse_args()
    print("$ python bench/spoken_booking.py" + (f" --days {args.days}" if args.days != 14 else ""))
    root = Path(tempfile.mkdtemp(prefix="yatri-spoken-"))
    valkey = EmbeddedValkey(root / "redis")
    valkey.start()
    secret, twilio_token = secrets.token_hex(32), secrets.token_hex(16)
    server = YatriProcess(data_dir=root / "yatri", env={
        "YATRI_REDIS_URL": valkey.url, "YATRI_SECRET_KEY": secret,
        "YATRI_TWILIO_AUTH_TOKEN": twilio_token, "YATRI_LOG_LEVEL": "INFO"})  # fmt: skip
    redis = connect_redis(valkey.url)
    try:
        ready = server.start(timeout=180)
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        print(f"yatri serve ready in {ready:.1f} s (load average {load}); caller {CALLER} ({TRAVELLER}) on the "
              f"Twilio media stream; caller voice Piper en_US joe\n")  # fmt: skip
        async with asyncio.timeout(CALL_TIMEOUT_S):
            turns, booking = await call(server, redis, secret=secret,
                                        twilio_token=twilio_token, days=args.days)  # fmt: skip
        report(turns, booking)
        print("load average (1, 5, 15 min) at the end: " +
              ", ".join(f"{v:.1f}" for v in os.getloadavg()))  # fmt: skip
    finally:
        await redis.aclose()
        server.stop()
        valkey.stop()
        if args.keep:
            print(f"data and server log kept under {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
