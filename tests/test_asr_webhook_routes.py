"""POST /v1/asr/webhooks/{provider}: signed transcripts from providers that do their own ASR,
against the real app, Redis and turn engine: signatures, replays, duplicate deliveries, and the
call -> session mapping that carries a conversation across turns."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import re
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from core.settings import Settings
from sessions.redis_store import RedisSessionStore
from voice.webhooks import sign_generic

SECRET = "whsec-" + "x" * 32
TWILIO_TOKEN = "twilio-token-123"
URL = "/v1/asr/webhooks/exotel"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "asr_webhook_secret": SecretStr(SECRET),
            "twilio_auth_token": SecretStr(TWILIO_TOKEN),
        }
    )


def signed_post(payload: dict[str, Any], *, at: int | None = None) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(payload)
    ts = int(time.time()) if at is None else at
    signature = sign_generic(secret=SECRET.encode(), timestamp=ts, body=body)
    return body, {
        "content-type": "application/json",
        "x-yatri-timestamp": str(ts),
        "x-yatri-signature": signature,
    }


def transcript(
    text: str, *, call_id: str, delivery_id: str | None = None, confidence: float = 0.9
) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "delivery_id": delivery_id or uuid.uuid4().hex,
        "transcript": text,
        "confidence": confidence,
    }


async def test_signed_transcript_is_answered_and_the_call_keeps_its_session(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    call = f"call-{uuid.uuid4().hex[:6]}"
    body, headers = signed_post(transcript("flights from Delhi to Mumbai", call_id=call))
    first = await client.post(URL, content=body, headers=headers)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["duplicate"] is False and answer["low_confidence"] is False
    assert "date" in answer["reply"].lower() or "when" in answer["reply"].lower()

    body, headers = signed_post(transcript("on the twenty fifth of December", call_id=call))
    second = (await client.post(URL, content=body, headers=headers)).json()
    assert second["session_id"] == answer["session_id"]
    assert second["heard"].lower() == "on 25 december"
    store = RedisSessionStore(redis=app.state.services.redis, ttl_s=60)
    conversation = await store.load(answer["session_id"])
    assert conversation is not None and conversation.turns == 2
    assert conversation.slots["origin"] == "DEL" and conversation.slots["date"].endswith("-12-25")


async def test_duplicate_delivery_is_processed_once_and_gets_the_first_answer(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    post = transcript("flights from Delhi to Goa", call_id=f"c-{uuid.uuid4().hex[:6]}")
    answers = []
    # A provider retries with a fresh timestamp and signature: the same delivery id.
    for offset in (0, 1, 2):
        body, headers = signed_post(post, at=int(time.time()) + offset)
        response = await client.post(URL, content=body, headers=headers)
        assert response.status_code == 200
        answers.append(response.json())
    assert [a["duplicate"] for a in answers] == [False, True, True]
    assert len({a["reply"] for a in answers}) == 1
    store = RedisSessionStore(redis=app.state.services.redis, ttl_s=60)
    conversation = await store.load(answers[0]["session_id"])
    assert conversation is not None and conversation.turns == 1  # the turn ran once


async def test_concurrent_duplicates_run_the_turn_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    post = transcript("flights from Pune to Delhi", call_id=f"c-{uuid.uuid4().hex[:6]}")
    bodies = [signed_post(post, at=int(time.time()) + i) for i in range(5)]
    responses = await asyncio.gather(*(client.post(URL, content=b, headers=h) for b, h in bodies))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {200, 409} and statuses.count(200) >= 1
    processed = [r.json() for r in responses if r.status_code == 200 and not r.json()["duplicate"]]
    assert len(processed) == 1
    conflicts = [r for r in responses if r.status_code == 409]
    assert all(r.headers["content-type"] == "application/problem+json" for r in conflicts)


async def test_replayed_request_is_refused(client: httpx.AsyncClient) -> None:
    body, headers = signed_post(transcript("hello", call_id="c-replay"))
    assert (await client.post(URL, content=body, headers=headers)).status_code == 200
    again = await client.post(URL, content=body, headers=headers)
    assert again.status_code == 409
    assert again.json()["reason"] == "replay"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda h: h | {"x-yatri-signature": "0" * 64}, "bad-signature"),
        (lambda h: {k: v for k, v in h.items() if k != "x-yatri-signature"}, "missing-signature"),
        (lambda h: h | {"x-yatri-timestamp": "soon"}, "bad-timestamp"),
    ],
)
async def test_bad_signatures_are_401_problems(
    client: httpx.AsyncClient, mutate: Any, reason: str
) -> None:
    body, headers = signed_post(transcript("hello", call_id="c-bad"))
    response = await client.post(URL, content=body, headers=mutate(headers))
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["reason"] == reason


async def test_stale_timestamp_is_refused(client: httpx.AsyncClient) -> None:
    body, headers = signed_post(transcript("hello", call_id="c-old"), at=int(time.time()) - 600)
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 401 and response.json()["reason"] == "stale-timestamp"


async def test_invalid_body_is_a_clear_problem(client: httpx.AsyncClient) -> None:
    body, headers = signed_post({"call_id": "c", "transcript": "hi"})
    response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 422
    assert "delivery_id" in response.json()["detail"]


async def test_low_confidence_is_asked_again_without_a_turn(client: httpx.AsyncClient) -> None:
    body, headers = signed_post(transcript("flights to goa", call_id="c-low", confidence=0.1))
    answer = (await client.post(URL, content=body, headers=headers)).json()
    assert answer["low_confidence"] is True and "say it again" in answer["reply"]


# --- Twilio <Gather input="speech"> ---------------------------------------------------------


def said(twiml: str) -> str:
    """What a TwiML answer says (its Gather's action URL differs per answer)."""
    found = re.search(r"<Say>(.*)</Say>", twiml)
    assert found is not None, twiml
    return found.group(1)


def action_of(twiml: str) -> str:
    found = re.search(r'action="([^"]+)"', twiml)
    assert found is not None, twiml
    return html.unescape(found.group(1))


def twilio_signature(url: str, params: dict[str, str]) -> str:
    payload = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(
        hmac.new(TWILIO_TOKEN.encode(), payload.encode(), hashlib.sha1).digest()
    ).decode()


async def test_twilio_signed_post_gets_twiml_and_retries_are_deduped(
    client: httpx.AsyncClient,
) -> None:
    url = "http://yatri.test/v1/asr/webhooks/twilio"
    params = {
        "CallSid": "CA-gather",
        "SpeechResult": "Flights from Delhi to Mumbai.",
        "Confidence": "0.92",
    }
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": twilio_signature(url, params),
        "i-twilio-idempotency-token": uuid.uuid4().hex,
    }
    first = await client.post(url, content=urlencode(params), headers=headers)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"].startswith("application/xml")
    assert (
        first.text.startswith("<?xml") and "<Say>" in first.text and 'input="speech"' in first.text
    )
    retry = await client.post(url, content=urlencode(params), headers=headers)
    assert said(retry.text) == said(first.text)  # the first answer again

    headers["x-twilio-signature"] = twilio_signature(url, params | {"Confidence": "0.1"})
    forged = await client.post(url, content=urlencode(params), headers=headers)
    assert forged.status_code == 401


async def test_unconfigured_providers_are_404(
    settings: Settings, client: httpx.AsyncClient, app: FastAPI
) -> None:
    app.state.services.settings = settings.model_copy(
        update={"asr_webhook_secret": None, "twilio_auth_token": None}
    )
    body, headers = signed_post(transcript("hi", call_id="c"))
    assert (await client.post(URL, content=body, headers=headers)).status_code == 404
    assert (await client.post("/v1/asr/webhooks/twilio", data={"CallSid": "x"})).status_code == 404
    assert (await client.post("/v1/asr/webhooks/Bad:Name", content=b"{}")).status_code == 422


async def test_a_caller_on_the_webhook_is_sent_a_code_and_may_key_it_in(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    from bookings.profiles import TravellerProfile
    from sessions.skills.identity import code_in

    traveller = f"trav-{uuid.uuid4().hex[:6]}"
    await app.state.services.profiles.put(
        TravellerProfile(traveller_id=traveller, phone="+91 91234 60001")
    )
    # JSON providers get what the turn understood and what it expects next.
    body, headers = signed_post(transcript("flights from Delhi to Pune next friday",
                                           call_id=f"CA{uuid.uuid4().hex}"))  # fmt: skip
    found = (await client.post(URL, content=body, headers=headers)).json()
    assert found["intent"] == "search_flights" and found["data"]["offers"]
    assert found["expecting"] == "choice"

    url = "http://yatri.test/v1/asr/webhooks/twilio"
    call_id = f"CA{uuid.uuid4().hex}"

    async def twilio(**fields: str) -> str:
        params = {"CallSid": call_id, "From": "+919123460001", "Confidence": "0.9"} | fields
        sent = await client.post(url, content=urlencode(params), headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": twilio_signature(url, params),
        })  # fmt: skip
        assert sent.status_code == 200, sent.text
        return sent.text

    await twilio(SpeechResult="flights from Delhi to Pune next friday")
    asked = await twilio(SpeechResult="book the cheapest")
    assert 'input="speech dtmf" numDigits="6"' in asked  # the code may be keyed in
    key = f"{settings.redis_namespace}:sandbox:outbox:{traveller}"
    [message] = await app.state.services.redis.lrange(key, 0, -1)
    code = code_in(orjson.loads(message)["text"])
    assert code is not None
    verified = await twilio(Digits=code)
    assert "verified" in verified and "Who is travelling" in verified


def twilio_form(url: str, params: dict[str, str], **headers: str) -> dict[str, str]:
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": twilio_signature(url, params),
        **headers,
    }


async def test_a_signed_twilio_post_sent_again_under_a_fresh_idempotency_token_runs_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """The finding: the token is not signed, so a replay with a new one ran a new turn."""
    url = "http://yatri.test/v1/asr/webhooks/twilio"
    call_id = f"CA{uuid.uuid4().hex}"
    params = {"CallSid": call_id, "SpeechResult": "flights from Delhi to Goa", "Confidence": "0.9"}
    answers = []
    for _ in range(3):
        headers = twilio_form(url, params, **{"i-twilio-idempotency-token": uuid.uuid4().hex})
        sent = await client.post(url, content=urlencode(params), headers=headers)
        assert sent.status_code == 200, sent.text
        answers.append(said(sent.text))
    assert len(set(answers)) == 1
    session_id = await app.state.services.calls.session_for(
        provider="twilio", call_id=call_id, proposed="unused-session"
    )
    store = RedisSessionStore(redis=app.state.services.redis, ttl_s=60)
    conversation = await store.load(session_id)
    assert conversation is not None and conversation.turns == 1


async def test_twilio_turns_that_sound_alike_each_run_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """Each Gather Yatri returns posts to an action URL of its own, so the same words said
    again later in the call are a new turn, while each post is still deduplicated."""
    call_id = f"CA{uuid.uuid4().hex}"
    params = {"CallSid": call_id, "SpeechResult": "flights to Goa", "Confidence": "0.9"}
    url = "http://yatri.test/v1/asr/webhooks/twilio"
    actions = []
    for _ in range(2):
        first = await client.post(url, content=urlencode(params), headers=twilio_form(url, params))
        again = await client.post(url, content=urlencode(params), headers=twilio_form(url, params))
        assert first.status_code == again.status_code == 200
        url = action_of(first.text)
        assert "yatri_turn=" in url
        actions.append(url)
    assert actions[0] != actions[1]
    session_id = await app.state.services.calls.session_for(
        provider="twilio", call_id=call_id, proposed="unused-session"
    )
    store = RedisSessionStore(redis=app.state.services.redis, ttl_s=60)
    conversation = await store.load(session_id)
    assert conversation is not None and conversation.turns == 2


async def test_an_old_twilio_gather_action_is_refused(client: httpx.AsyncClient) -> None:
    issued = int(time.time()) - 2 * 3600
    url = f"http://yatri.test/v1/asr/webhooks/twilio?yatri_turn={issued}.{'0' * 16}"
    params = {"CallSid": "CA-old", "SpeechResult": "yes", "Confidence": "0.9"}
    sent = await client.post(url, content=urlencode(params), headers=twilio_form(url, params))
    assert sent.status_code == 401 and sent.json()["reason"] == "stale-turn"
