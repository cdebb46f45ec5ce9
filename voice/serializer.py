"""One serializer for the JSON media-stream protocols, driven by a small table per provider.

Twilio, Exotel and Plivo all speak the same shape of protocol: JSON text messages named by an
`event` field (start, media with base64 audio, mark or checkpoint acknowledgements, dtmf,
stop), and JSON commands back (media, mark, clear). They differ only in names, field paths and
audio encodings; a `Dialect` lists those (`voice.twilio`, `voice.exotel`, `voice.plivo`), and
`JsonSerializer` translates one websocket with it. Vonage's binary audio has its own module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, assert_never

from voice.audio import AudioFormat, convert
from voice.frames import (
    AudioIn,
    AudioOut,
    CallStarted,
    CallStopped,
    Clear,
    Command,
    Connected,
    DtmfIn,
    Event,
    FrameError,
    Mark,
    MarkAck,
    Notice,
    StreamState,
    decode_payload,
    dump_message,
    encode_payload,
    load_message,
    split_frames,
)

Path: TypeAlias = tuple[str, ...]
Role: TypeAlias = Literal["connected", "start", "media", "mark", "dtmf", "stop", "notice"]

_DIGIT = re.compile(r"[0-9*#A-D]")
_INTEGER = re.compile(r"-?[0-9]{1,12}")
_MISSING = object()


class Fields:
    """Typed reads of one message's fields by path; a missing or mistyped field is a
    FrameError naming the path (never its value, which may be a phone number)."""

    __slots__ = ("_event", "_message")

    def __init__(self, message: Mapping[str, Any], *, event: str) -> None:
        self._message = message
        self._event = event

    def _get(self, path: Path) -> Any:
        node: Any = self._message
        for key in path:
            if not isinstance(node, Mapping):
                raise self._bad(path)
            node = node.get(key, _MISSING)
            if node is _MISSING:
                return _MISSING
        return node

    def _bad(self, path: Path) -> FrameError:
        return FrameError("invalid_frame", f"bad or missing {'.'.join(path)}", event=self._event)

    def text(self, path: Path, *, default: str | None = None, min_length: int = 0) -> str:
        value = self._get(path)
        if value is _MISSING and default is not None:
            return default
        if not isinstance(value, str) or len(value) < min_length:
            raise self._bad(path)
        return value

    def optional_text(self, path: Path) -> str | None:
        value = self._get(path)
        if value is _MISSING or value is None:
            return None
        if not isinstance(value, str):
            raise self._bad(path)
        return value

    def integer(self, path: Path, *, default: int | None = None) -> int:
        """An integer, also as a string of digits (these providers send numbers as strings)."""
        value = self._get(path)
        if value is _MISSING and default is not None:
            return default
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INTEGER.fullmatch(value):
            return int(value)
        raise self._bad(path)

    def optional_integer(self, path: Path) -> int | None:
        value = self._get(path)
        return None if value is _MISSING or value is None else self.integer(path)

    def mapping(self, path: Path) -> Mapping[str, Any]:
        value = self._get(path)
        if value is _MISSING:
            return {}
        if not isinstance(value, Mapping):
            raise self._bad(path)
        return value


@dataclass(frozen=True, slots=True)
class Outbound:
    """How commands are written: event names and where the payload and names go."""

    media_event: str
    mark_event: str
    mark_name: Path
    clear_event: str
    frame_ms: int
    default_format: AudioFormat
    media_has_stream: bool = True  # Plivo's playAudio names no stream
    media_fields: Callable[[AudioFormat], dict[str, Any]] = lambda fmt: {}


@dataclass(frozen=True, slots=True)
class Dialect:
    """One provider's JSON media-stream protocol, as data."""

    name: str
    roles: Mapping[str, Role]  # wire event name -> what it means
    stream_key: str  # the stream id field at the top of every message
    start_stream: Path
    start_call: Path
    audio_format: Callable[[Fields], AudioFormat]  # read (and check) the start's format
    custom: Callable[[Fields], dict[str, str]]
    outbound: Outbound
    caller: Path | None = None
    payload: Path = ("media", "payload")
    chunk: Path = ("media", "chunk")
    sequence: Path | None = None
    track: Path | None = None  # where a track is named, only the caller's is accepted
    mark_name: Path = ("mark", "name")
    digit: Path = ("dtmf", "digit")
    stop_reason: Path | None = None


CALLER_TRACK = "inbound"


class JsonSerializer:
    """Translates one websocket of `dialect`; `parse` raises FrameError on bad frames."""

    __slots__ = ("_dialect", "_state")

    acknowledges_marks = True

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._state = StreamState()

    @property
    def stream_sid(self) -> str | None:
        """The stream id from the start event, once it has arrived."""
        return self._state.stream_id

    def parse(self, text: str | bytes) -> Event:
        event, message = load_message(text)
        d = self._dialect
        role = d.roles.get(event)
        if role is None:
            raise FrameError("unknown_event", f"unknown event {event[:40]!r}", event=event)
        fields = Fields(message, event=event)
        stream_id = fields.optional_text((d.stream_key,))
        match role:
            case "connected":
                self._state.connected()
                return Connected()
            case "start":
                return self._start(fields)
            case "media":
                payload = fields.text(d.payload)
                track = fields.text(d.track, default=CALLER_TRACK) if d.track else CALLER_TRACK
                chunk = fields.optional_integer(d.chunk)
                sequence = fields.optional_integer(d.sequence) if d.sequence else None
                fmt = self._state.require_started(event=event, stream_id=stream_id)
                if track != CALLER_TRACK:
                    raise FrameError("unsupported_track", f"media on track {track!r}", event=event)
                return AudioIn(
                    audio=decode_payload(payload, fmt, event=event),
                    format=fmt,
                    sequence=chunk if chunk is not None else sequence,
                )
            case "mark":
                name = fields.text(d.mark_name, min_length=1)
                self._state.require_started(event=event, stream_id=stream_id)
                return MarkAck(name=name)
            case "dtmf":
                digit = fields.text(d.digit)
                if not _DIGIT.fullmatch(digit):
                    raise FrameError("invalid_frame", f"bad or missing {'.'.join(d.digit)}",
                                     event=event)  # fmt: skip
                self._state.require_started(event=event, stream_id=stream_id)
                return DtmfIn(digit=digit)
            case "stop":
                reason = fields.optional_text(d.stop_reason) if d.stop_reason else None
                self._state.stop(stream_id=stream_id)
                return CallStopped(reason=reason or "stop")
            case "notice":
                self._state.require_started(event=event, stream_id=stream_id)
                return Notice(name=event)
            case _:
                assert_never(role)

    def _start(self, fields: Fields) -> CallStarted:
        d = self._dialect
        stream_id = fields.text(d.start_stream, min_length=1)
        call_id = fields.text(d.start_call, min_length=1)
        custom = d.custom(fields)
        caller = fields.optional_text(d.caller) if d.caller else None
        fmt = d.audio_format(fields)
        self._state.start(stream_id=stream_id, fmt=fmt)
        return CallStarted(
            call_id=call_id, stream_id=stream_id, format=fmt, custom=custom, caller=caller
        )

    def serialize(self, command: Command, *, stream_sid: str) -> list[str]:
        """Messages for `command`: audio cut into the dialect's frames, or one mark / clear.

        Audio goes out in the stream's own format (the dialect's default before a start).
        """
        out = self._dialect.outbound
        key = self._dialect.stream_key
        match command:
            case AudioOut():
                fmt = self._state.format or out.default_format
                audio = convert(
                    command.pcm16, src=AudioFormat("pcm16", command.sample_rate), dst=fmt
                )
                head: dict[str, Any] = {"event": out.media_event}
                if out.media_has_stream:
                    head[key] = stream_sid
                return [
                    dump_message(
                        head | {"media": out.media_fields(fmt) | {"payload": encode_payload(frame)}}
                    )  # fmt: skip
                    for frame in split_frames(audio, fmt, frame_ms=out.frame_ms)
                ]
            case Mark():
                mark = {"event": out.mark_event, key: stream_sid}
                return [dump_message(mark | _nested(out.mark_name, command.name))]
            case Clear():
                return [dump_message({"event": out.clear_event, key: stream_sid})]
            case _:
                assert_never(command)


def _nested(path: Path, value: Any) -> dict[str, Any]:
    node: Any = value
    for key in reversed(path):
        node = {key: node}
    result: dict[str, Any] = node
    return result


def string_parameters(path: Path) -> Callable[[Fields], dict[str, str]]:
    """Custom parameters that must all be strings (Twilio's)."""

    def read(fields: Fields) -> dict[str, str]:
        params = fields.mapping(path)
        for name, value in params.items():
            if not isinstance(value, str):
                raise FrameError("invalid_frame", f"bad or missing {'.'.join((*path, name))}",
                                 event="start")  # fmt: skip
        return dict(params)

    return read


def any_parameters(path: Path) -> Callable[[Fields], dict[str, str]]:
    """Custom parameters of any JSON type, kept as their string forms (Exotel's)."""

    def read(fields: Fields) -> dict[str, str]:
        return {name: str(value) for name, value in fields.mapping(path).items()}

    return read


def unsupported(description: str) -> FrameError:
    return FrameError("unsupported_format", description, event="start")
