"""A telephony provider's media stream, run as one voice call: the transport the routes hand
their socket to.

`serve_telephony` checks the upgrade's credentials (Exotel), parses frames with the provider's
serializer, binds the call to its session and caller once the stream starts (a single-use
stream token for Twilio, Plivo and Vonage; Exotel's Basic credentials), resamples the caller's
audio to 16 kHz for the call, and passes the provider's mark acknowledgements to the output.
What cannot be served ends the stream with a `StreamEnded` the route turns into a close.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias

from sessions.store import CallDirectory
from voice.audio import StreamResampler, to_pcm16
from voice.call import CallConfig, TurnHandler, VoiceCall, VoiceEngines
from voice.exotel import ExotelSerializer
from voice.frames import AudioIn, CallStarted, CallStopped, FrameError, MarkAck
from voice.outputs import Serializer, TelephonyOutput
from voice.plivo import PlivoSerializer, token_from_header
from voice.stream_tokens import StreamTokenStore
from voice.streams import Line, StreamEnded
from voice.stt import SAMPLE_RATE
from voice.twilio import TwilioSerializer
from voice.vonage import VonageSerializer
from voice.webhooks import basic_credentials_match

Provider: TypeAlias = Literal["twilio", "exotel", "plivo", "vonage"]

_SERIALIZERS: dict[Provider, Callable[[], Serializer]] = {
    "twilio": TwilioSerializer,
    "exotel": ExotelSerializer,
    "plivo": PlivoSerializer,
    "vonage": VonageSerializer,
}

# Where each provider's answer webhook is documented to the stream's refusal message.
_ANSWER_ROUTES: dict[Provider, str] = {
    "twilio": "POST /v1/telephony/twilio/voice",
    "plivo": "POST /v1/telephony/plivo/answer",
    "vonage": "the answer URL /v1/telephony/vonage/answer",
}


@dataclass(frozen=True, slots=True)
class ProviderAccess:
    """What proves a stream may be served, and where a call's session comes from."""

    tokens: StreamTokenStore
    calls: CallDirectory
    new_session_id: Callable[[], str]
    session_id_pattern: str
    exotel_stream_auth: str | None = None  # KEY:TOKEN; None refuses Exotel streams
    authorization: str = ""  # the upgrade request's Authorization header


TurnFor = Callable[[str, str | None], TurnHandler]
"""(session id, caller number) -> the turn handler of that conversation."""


async def serve_telephony(
    line: Line,
    *,
    provider: Provider,
    engines: VoiceEngines,
    access: ProviderAccess,
    turn_for: TurnFor,
    config: CallConfig,
) -> None:
    """Run one provider stream to its end (stop, hang-up or refusal)."""
    if provider == "exotel":
        _check_exotel_credentials(access)
    serializer = _SERIALIZERS[provider]()
    call: VoiceCall | None = None
    output: TelephonyOutput | None = None
    resampler: StreamResampler | None = None
    try:
        while True:
            frame = await line.receive()
            try:
                event = serializer.parse(frame)
            except FrameError as e:
                raise StreamEnded("malformed", f"{e.reason}: {e.detail}") from e
            match event:
                case CallStarted() if call is None:
                    session_id, caller = await bind_call(access, provider, event)
                    source = f"caller:{caller}" if caller else f"call:{event.call_id}"
                    line.admit(source=source, anonymous=False)
                    output = TelephonyOutput(line, serializer, stream_sid=event.stream_id)
                    call = VoiceCall(engines=engines, turn=turn_for(session_id, caller),
                                     output=output, config=config,
                                     trace_attributes={"session.id": session_id,
                                                       "call.sid": event.call_id})  # fmt: skip
                    line.attach(call)
                    if event.format.sample_rate != SAMPLE_RATE:
                        resampler = StreamResampler(src_hz=event.format.sample_rate,
                                                    dst_hz=SAMPLE_RATE)  # fmt: skip
                case AudioIn() if call is not None:
                    pcm = to_pcm16(event.audio, event.format)
                    await call.feed(resampler.process(pcm) if resampler else pcm)
                case MarkAck() if output is not None:
                    output.acknowledged(event.name)
                case CallStopped():
                    return
                case _:
                    pass  # connected, dtmf, notices
    finally:
        if call is not None:
            await call.close()


async def bind_call(
    access: ProviderAccess, provider: Provider, event: CallStarted
) -> tuple[str, str | None]:
    """The session and caller number of an authenticated call's stream."""
    if provider == "exotel":
        # Exotel's Basic credentials were checked on the upgrade: the start event is Exotel's.
        session_id = event.custom.get("session_id") or ""
        if not re.fullmatch(access.session_id_pattern, session_id):
            session_id = await access.calls.session_for(
                provider=provider, call_id=event.call_id, proposed=access.new_session_id()
            )
        return session_id, event.caller
    # Twilio, Plivo and Vonage pass no credential of their own we could bind to the call: the
    # token Yatri's answer issued for this call is the proof, and it carries the session and
    # the caller from the provider's signed answer webhook (the stream's own fields are not).
    token = event.custom.get("token", "")
    if provider == "plivo":
        token = token_from_header(token)
    grant = await access.tokens.redeem(token, kind=provider)
    if grant is None:
        raise StreamEnded("unauthenticated", "a valid stream token parameter is required: "
                            f"{_ANSWER_ROUTES[provider]} issues one")  # fmt: skip
    if grant.call_id != event.call_id:
        raise StreamEnded("unauthenticated", "the stream token is for another call")
    return grant.session_id, grant.caller


def _check_exotel_credentials(access: ProviderAccess) -> None:
    expected = access.exotel_stream_auth
    if expected is None:
        raise StreamEnded("unauthenticated", "Exotel streams are not configured on this server")
    if not basic_credentials_match(access.authorization, expected=expected):
        raise StreamEnded("unauthenticated", "Exotel stream credentials are missing or wrong")
