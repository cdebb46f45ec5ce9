"""The app's voice stream, run as one voice call: a `start` control with a stream token, then
binary 16 kHz PCM16 from the app and JSON events back (`voice.outputs.AppOutput`).

The token (`POST /v1/voice/tokens`) is single use and names the session, so a socket joins
only the conversation it was let into; a signed-in traveller's stream counts against that
traveller, a guest's against its address.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from voice.call import CallConfig, TurnHandler, VoiceCall, VoiceEngines
from voice.language import CALL_LANGUAGE, CallLanguage, LanguageRoutedStt
from voice.outputs import AppOutput, send_json
from voice.stream_tokens import StreamTokenStore
from voice.streams import Line, StreamEnded
from voice.stt import SAMPLE_RATE

AppTurnFor = Callable[[str, str | None], TurnHandler]
"""(session id, signed-in traveller or None) -> the turn handler of that conversation."""


class _Start(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str
    token: str = Field(default="", max_length=64)
    session_id: str | None = Field(default=None, max_length=64)
    language: str = "en"  # "hi" or "auto" where Hindi is served (`LanguageRoutedStt`)


async def serve_app_stream(
    line: Line,
    *,
    engines: VoiceEngines,
    tokens: StreamTokenStore,
    turn_for: AppTurnFor,
    config: CallConfig,
    session_id_pattern: str,
) -> None:
    """Run one app stream to its end (a `stop` control, a hang-up or a refusal)."""
    start = _start_control(await line.receive(), session_id_pattern=session_id_pattern)
    if start.language != "en" and not isinstance(engines.stt, LanguageRoutedStt):
        raise StreamEnded("protocol", f"language {start.language!r} is not served")
    grant = await tokens.redeem(start.token, kind="app")
    if grant is None:
        raise StreamEnded(
            "unauthenticated", "a valid stream token is required: POST /v1/voice/tokens"
        )
    if start.session_id is not None and start.session_id != grant.session_id:
        raise StreamEnded("unauthenticated", "the stream token is for another session")
    traveller = grant.traveller_id
    source = f"traveller:{traveller}" if traveller else f"address:{line.address}"
    line.admit(source=source, anonymous=traveller is None)
    # The call's tasks copy this context: the STT reads the caller's choice from it.
    CALL_LANGUAGE.set(CallLanguage.from_hint(start.language))
    call = VoiceCall(engines=engines, turn=turn_for(grant.session_id, traveller),
                     output=AppOutput(line), config=config,
                     trace_attributes={"session.id": grant.session_id})  # fmt: skip
    line.attach(call)
    await send_json(
        line, {"type": "ready", "session_id": grant.session_id, "sample_rate": SAMPLE_RATE}
    )
    try:
        await _frames(line, call)
    finally:
        await call.close()


def _start_control(frame: str | bytes, *, session_id_pattern: str) -> _Start:
    if not isinstance(frame, str):
        raise StreamEnded("protocol", "the first message must be a start control")
    try:
        start = _Start.model_validate_json(frame)
    except ValidationError as e:
        fields = ", ".join(".".join(map(str, err["loc"])) for err in e.errors())
        raise StreamEnded("protocol", f"invalid start control: {fields}") from e
    if start.session_id is not None and not re.fullmatch(session_id_pattern, start.session_id):
        raise StreamEnded("protocol", "invalid start control: session_id")
    if start.type != "start":
        raise StreamEnded("protocol", "the first message must be a start control")
    if start.language not in ("en", "hi", "auto"):
        raise StreamEnded("protocol", f"language {start.language!r} is not served")
    return start


async def _frames(line: Line, call: VoiceCall) -> None:
    while True:
        frame = await line.receive()
        if isinstance(frame, bytes):
            if len(frame) % 2:
                await send_json(line, {"type": "error", "code": "bad_audio",
                                       "detail": "odd byte count: not PCM16"})  # fmt: skip
                continue
            await call.feed(np.frombuffer(frame, dtype="<i2").astype(np.int16))
            continue
        try:
            control = orjson.loads(frame)
            kind = control.get("type") if isinstance(control, dict) else None
        except orjson.JSONDecodeError:
            kind = None
        if kind == "stop":
            raise StreamEnded("stopped", "stopped")
        if kind == "interrupt":
            await call.interrupt()
            continue
        await send_json(line, {"type": "error", "code": "bad_control",
                               "detail": 'expected {"type": "interrupt"} or {"type": "stop"}'})  # fmt: skip
