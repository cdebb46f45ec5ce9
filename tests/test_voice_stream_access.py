"""Who may open a voice stream, which conversation it joins, and how many streams one caller
holds: stream tokens for the app, Yatri's per-call token for Twilio, Basic credentials for
Exotel, per-source limits, and the silence budget. A real uvicorn server on loopback with the
real speech models, Redis and turn engine."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from core.settings import Settings
from sessions.engine import new_session_id
from tests.test_asr_webhook_routes import twilio_signature
from tests.test_bookings import token as traveller_auth
from tests.voice_support import (
    TIMEOUT_S,
    app,
    app_start,
    app_token,
    clip,
    exotel_auth,
    mint,
    next_event,
    send_pcm16k,
    settings,
    silence,
    twilio_answer,
    twilio_start,
    voice_engines,
    ws_base,
)
from voice.stream_tokens import StreamGrant

# The fixtures this module uses, imported by name.
__all__ = ["app", "settings", "voice_engines", "ws_base"]


def http(ws_base: str) -> str:
    return ws_base.replace("ws://", "http://")


async def closed(ws: ClientConnection) -> tuple[int | None, str]:
    """Read until the server closes the stream; its close code and reason."""
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                await ws.recv()
    return ws.close_code, ws.close_reason or ""


async def start(ws: ClientConnection, **control: Any) -> None:
    await ws.send(orjson.dumps({"type": "start", "language": "en", **control}).decode())


async def http_token(
    ws_base: str, *, headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(http(ws_base) + "/v1/voice/tokens", json=body, headers=headers)


# --- the app stream --------------------------------------------------------------------------


async def test_app_stream_needs_a_stream_token_and_uses_it_once(app: FastAPI, ws_base: str) -> None:
    """The finding: the app stream took anyone."""
    for control in ({}, {"token": "not-a-token-we-issued"}):
        async with connect(ws_base + "/v1/voice/stream") as ws:
            await start(ws, **control)
            code, reason = await closed(ws)
        assert code == 1008 and "stream token" in reason, (control, reason)

    minted = await http_token(ws_base)
    assert minted.status_code == 201, minted.text
    grant = minted.json()
    assert grant["stream_url"] == ws_base + "/v1/voice/stream"
    async with connect(grant["stream_url"]) as ws:
        assert await app_start(ws, grant["token"]) == grant["session_id"]
    async with connect(grant["stream_url"]) as again:  # a token opens one stream, once
        await start(again, token=grant["token"])
        code, _ = await closed(again)
    assert code == 1008
    assert app.state.services.stream_admission.active == 0


async def test_a_page_on_another_site_cannot_open_the_app_stream(
    app: FastAPI, ws_base: str
) -> None:
    """A browser sends the page's origin: this server's own page (the widget served here) and
    the partner sites in YATRI_WIDGET_ORIGINS may open the stream, another site may not —
    refused at the handshake (403) before any token is read. Apps send no origin."""
    services = app.state.services
    services.settings = services.settings.model_copy(
        update={"widget_origins": "https://partner.example"}
    )
    host = ws_base.removeprefix("ws://")
    for origin in (f"http://{host}", "https://partner.example", None):
        grant = (await http_token(ws_base)).json()
        async with connect(grant["stream_url"], origin=origin) as ws:  # type: ignore[arg-type]
            assert await app_start(ws, grant["token"]) == grant["session_id"], origin
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_base + "/v1/voice/stream", origin="https://evil.example"):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    assert services.stream_admission.active == 0


async def test_a_socket_joins_only_the_session_its_token_names(app: FastAPI, ws_base: str) -> None:
    """The finding: a socket attached itself to any chat session by naming its id."""
    victim = await app.state.services.engine.handle(
        text="flights from Delhi to Mumbai", session_id=None, channel="chat"
    )
    mine = (await http_token(ws_base)).json()
    async with connect(ws_base + "/v1/voice/stream") as ws:
        await start(ws, token=mine["token"], session_id=victim.session_id)
        code, reason = await closed(ws)
    assert code == 1008 and "another session" in reason


async def test_a_voice_session_opened_by_a_traveller_is_theirs_alone(
    settings: Settings, ws_base: str
) -> None:
    session_id = new_session_id()
    asha = traveller_auth(settings, "trv-asha")
    first = await http_token(ws_base, headers=asha, session_id=session_id)
    assert first.status_code == 201 and first.json()["session_id"] == session_id
    assert (await http_token(ws_base, headers=asha, session_id=session_id)).status_code == 201
    other = await http_token(ws_base, headers=traveller_auth(settings, "trv-imran"),
                             session_id=session_id)  # fmt: skip
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    assert (await http_token(ws_base, session_id=session_id)).status_code == 403  # a guest
    bad = await http_token(ws_base, headers={"authorization": "Bearer forged"})
    assert bad.status_code == 401


async def test_the_app_streams_turns_carry_the_signed_in_traveller(
    app: FastAPI, settings: Settings, ws_base: str
) -> None:
    services = app.state.services
    engine = services.engine
    travellers: list[str | None] = []

    class Recording:
        """The real engine, noting which traveller each turn was for."""

        async def handle(self, **turn: Any) -> Any:
            travellers.append(turn.get("traveller_id"))
            return await engine.handle(**turn)

    services.engine = Recording()
    try:
        grant = (await http_token(ws_base, headers=traveller_auth(settings, "trv-asha"))).json()
        async with connect(grant["stream_url"]) as ws:
            await app_start(ws, grant["token"])
            await send_pcm16k(ws, clip("delhi_mumbai_25_december.wav") + silence(1500))
            await next_event(ws, "reply")
    finally:
        services.engine = engine
    assert travellers == ["trv-asha"]


# --- fair sharing ---------------------------------------------------------------------------


async def test_one_source_cannot_take_every_stream(app: FastAPI, settings: Settings,
                                                   ws_base: str) -> None:  # fmt: skip
    """The finding: 8 sockets from one client took all 8 streams and shut everyone else out."""
    admission = app.state.services.stream_admission
    admission.capacity = None  # the fair-share limits alone (decode load: test_voice_scheduler.py)
    async with contextlib.AsyncExitStack() as stack:
        held = []
        for _ in range(admission.limits.per_source):
            ws = await stack.enter_async_context(connect(ws_base + "/v1/voice/stream"))
            await app_start(ws, await app_token(app))
            held.append(ws)
        over = await stack.enter_async_context(connect(ws_base + "/v1/voice/stream"))
        await start(over, token=await app_token(app))
        code, reason = await closed(over)
        assert code == 1013 and "already has" in reason
        # A caller of their own still gets a stream.
        grant = (await http_token(ws_base, headers=traveller_auth(settings, "trv-new"))).json()
        newcomer = await stack.enter_async_context(connect(grant["stream_url"]))
        await app_start(newcomer, grant["token"])
        assert admission.active == len(held) + 1
    await asyncio.sleep(0.2)
    assert admission.active == 0


async def test_a_stream_nobody_speaks_on_is_closed_and_its_slot_freed(
    app: FastAPI, ws_base: str
) -> None:
    """The finding: sockets trickling a little silence were never closed."""
    services = app.state.services
    services.settings = services.settings.model_copy(update={"voice_no_speech_timeout_s": 0.5})
    async with connect(ws_base + "/v1/voice/stream") as ws:
        await app_start(ws, await app_token(app))

        async def trickle() -> None:
            while True:
                await ws.send(silence(10))  # 320 bytes, well inside the idle timeout
                await asyncio.sleep(0.1)

        sender = asyncio.create_task(trickle())
        try:
            code, reason = await closed(ws)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await sender
    assert code == 4408 and "no speech" in reason
    await asyncio.sleep(0.1)
    assert services.stream_admission.active == 0


# --- telephony ------------------------------------------------------------------------------


async def test_twilio_streams_need_the_token_yatris_twiml_gave_their_call(
    app: FastAPI, ws_base: str
) -> None:
    """The finding: anyone could open a Twilio media stream."""
    other_call = await mint(app, StreamGrant(kind="twilio", session_id=new_session_id(),
                                             call_id="CA-someone-else"))  # fmt: skip
    app_kind = await app_token(app)
    for custom in ({}, {"token": "guessed"}, {"token": other_call}, {"token": app_kind}):
        async with connect(ws_base + "/v1/telephony/twilio") as ws:
            await ws.send(twilio_start("CA-mine", custom=custom))
            code, reason = await closed(ws)
        assert code == 1008 and "token" in reason, (custom, reason)

    token = await twilio_answer(ws_base, "CA-mine")
    async with connect(ws_base + "/v1/telephony/twilio") as ws:
        await ws.send(twilio_start("CA-mine", custom={"token": token}))
        await ws.send('{"event": "stop", "streamSid": "MZstream1", "stop": {"callSid": "CA-mine"}}')
        code, _ = await closed(ws)
    assert code == 1000


async def test_twilios_voice_webhook_is_signed_and_answers_a_call_once(
    settings: Settings, ws_base: str
) -> None:
    url = http(ws_base) + "/v1/telephony/twilio/voice"
    params = {"CallSid": "CA-once", "From": "+919000000001"}
    form = {"content-type": "application/x-www-form-urlencoded"}
    async with httpx.AsyncClient() as client:
        forged = await client.post(url, content=urlencode(params),
                                   headers=form | {"x-twilio-signature": "AAAA"})  # fmt: skip
        assert forged.status_code == 401
        signed = form | {"x-twilio-signature": twilio_signature(url, params)}
        first = await client.post(url, content=urlencode(params), headers=signed)
        assert first.status_code == 200 and "<Connect><Stream" in first.text
        replayed = await client.post(url, content=urlencode(params), headers=signed)
        assert replayed.status_code == 409  # no second token for the same call


async def test_exotel_streams_need_the_applets_basic_credentials(
    app: FastAPI, ws_base: str
) -> None:
    """The finding: anyone could open an Exotel stream."""
    for headers in ({}, exotel_auth("exotel-key:wrong"), {"authorization": "Basic !!"}):
        async with connect(ws_base + "/v1/telephony/exotel", additional_headers=headers) as ws:
            code, reason = await closed(ws)
        assert code == 1008 and "credentials" in reason, headers

    services = app.state.services
    services.settings = services.settings.model_copy(update={"exotel_stream_auth": None})
    async with connect(ws_base + "/v1/telephony/exotel", additional_headers=exotel_auth()) as ws:
        code, reason = await closed(ws)
    assert code == 1008 and "not configured" in reason
