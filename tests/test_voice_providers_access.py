"""Who may open a Plivo or Vonage stream, and what a bad frame gets: the signed answer webhooks
(forged, stale, replayed), stream tokens for another call or none, and malformed frames, each
answered with a status or a close code and a reason, never a crash. A real uvicorn server on
loopback with the real speech models, Redis and turn engine."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import httpx
import orjson
from websockets.asyncio.client import connect

from tests.test_voice_providers import (
    app,
    closed,
    http,
    plivo_answer,
    plivo_media,
    plivo_signed,
    plivo_start,
    plivo_stream,
    settings,
    voice_engines,
    vonage_answer,
    vonage_connected,
    vonage_jwt,
    ws_base,
)
from tests.voice_support import silence

__all__ = ["app", "settings", "voice_engines", "ws_base"]


async def test_plivo_streams_need_the_token_of_their_call_and_bad_frames_close_with_a_reason(
    ws_base: str,
) -> None:
    _, extra = plivo_stream(await plivo_answer(ws_base, "pl-mine"))
    for call, headers in (("pl-mine", ""), ("pl-mine", "token=abcd"), ("pl-other", extra)):
        async with connect(ws_base + "/v1/telephony/plivo") as ws:
            await ws.send(plivo_start(call, headers))
            code, reason = await closed(ws)
        assert code == 1008 and "token" in reason, (call, headers, reason)

    cases: list[tuple[list[str | bytes], str]] = [
        (["{not json"], "malformed_json"),
        (['{"event": "dance"}'], "unknown_event"),
        ([plivo_media(silence(20))[0]], "out_of_order"),  # media before start
        ([plivo_start("pl-x", "")[:-3]], "malformed_json"),
    ]
    for frames, reason in cases:
        async with connect(ws_base + "/v1/telephony/plivo") as ws:
            for frame in frames:
                await ws.send(frame)
            code, why = await closed(ws)
        assert code == 1007 and reason in why, (frames, why)

    _, extra = plivo_stream(await plivo_answer(ws_base, "pl-garbage"))
    async with connect(ws_base + "/v1/telephony/plivo") as ws:
        await ws.send(plivo_start("pl-garbage", extra))
        bad = orjson.loads(plivo_media(silence(20))[0])
        bad["media"]["payload"] = "!!not*base64!!"
        await ws.send(orjson.dumps(bad).decode())
        code, why = await closed(ws)
    assert code == 1007 and "bad_payload" in why


async def test_plivos_answer_webhook_is_signed_and_answers_a_call_once(ws_base: str) -> None:
    url = http(ws_base) + "/v1/telephony/plivo/answer"
    params = {"CallUUID": "pl-once", "From": "919000000001"}
    form = {"content-type": "application/x-www-form-urlencoded",
            "x-plivo-signature-v3-nonce": "98765"}  # fmt: skip
    async with httpx.AsyncClient() as client:
        forged = await client.post(url, content=urlencode(params),
                                   headers=form | {"x-plivo-signature-v3": "AAAA"})  # fmt: skip
        assert forged.status_code == 401
        unsigned = await client.post(url, content=urlencode(params))
        assert unsigned.status_code == 401
        # Plivo lists one signature per active auth token: any one of them may match.
        good = plivo_signed(url, params, nonce="98765")
        signed = form | {"x-plivo-signature-v3": f"c29tZXRoaW5nIGVsc2U=,{good}"}
        first = await client.post(url, content=urlencode(params), headers=signed)
        assert first.status_code == 200 and "<Stream " in first.text
        replayed = await client.post(url, content=urlencode(params), headers=signed)
        assert replayed.status_code == 409


async def test_vonage_streams_need_the_token_of_their_call_and_bad_frames_close_with_a_reason(
    ws_base: str,
) -> None:
    endpoint = await vonage_answer(ws_base, "vn-mine")
    for headers in ({}, {"token": "guessed", "call_id": "vn-mine"},
                    {"token": endpoint["headers"]["token"], "call_id": "vn-other"}):  # fmt: skip
        async with connect(ws_base + "/v1/telephony/vonage") as ws:
            await ws.send(vonage_connected({"content-type": "audio/l16;rate=16000",
                                            "headers": headers}))  # fmt: skip
            code, reason = await closed(ws)
        assert code == 1008 and "token" in reason, (headers, reason)

    cases: list[tuple[list[str | bytes], str]] = [
        (["{not json"], "malformed_json"),
        ([b"\x00" * 640], "out_of_order"),  # audio before websocket:connected
        (['{"event": "websocket:dance"}'], "unknown_event"),
        (['{"event": "websocket:connected", "content-type": "audio/mp3"}'], "unsupported_format"),
    ]
    for frames, reason in cases:
        async with connect(ws_base + "/v1/telephony/vonage") as ws:
            for frame in frames:
                await ws.send(frame)
            code, why = await closed(ws)
        assert code == 1007 and reason in why, (frames, why)

    endpoint = await vonage_answer(ws_base, "vn-odd")
    async with connect(endpoint["uri"]) as ws:
        await ws.send(vonage_connected(endpoint))
        await ws.send(b"\x00" * 641)  # not whole 16-bit samples
        code, why = await closed(ws)
    assert code == 1007 and "bad_payload" in why


async def test_vonages_answer_webhook_is_signed_and_answers_a_call_once(ws_base: str) -> None:
    url = http(ws_base) + "/v1/telephony/vonage/answer"
    body = orjson.dumps({"uuid": "vn-once", "from": "919000000002", "to": "91800"})
    json_type = {"content-type": "application/json"}
    async with httpx.AsyncClient() as client:
        for authorization in (
            "",
            vonage_jwt(body, secret="someone-else"),
            vonage_jwt(body, iat=time.time() - 3600),  # stale
            vonage_jwt(b'{"uuid": "vn-other"}'),  # signed for another body
            "Bearer not.a.jwt",
        ):
            refused = await client.post(url, content=body,
                                        headers=json_type | {"authorization": authorization})  # fmt: skip
            assert refused.status_code == 401, (authorization, refused.text)
        signed = json_type | {"authorization": vonage_jwt(body)}
        first = await client.post(url, content=body, headers=signed)
        assert first.status_code == 200 and first.json()[0]["action"] == "connect"
        replayed = await client.post(url, content=body, headers=signed)
        assert replayed.status_code == 409
        garbage = b"[1, 2"
        bad = await client.post(url, content=garbage,
                                headers=json_type | {"authorization": vonage_jwt(garbage)})  # fmt: skip
        assert bad.status_code == 422
