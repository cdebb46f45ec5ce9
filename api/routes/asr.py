"""ASR webhooks: providers that transcribe the call themselves post each final transcript here.

Twilio posts its `<Gather input="speech">` result form-encoded and signed with
`X-Twilio-Signature`, and gets TwiML back. Every other provider posts JSON signed with the shared
secret (`X-Yatri-Timestamp`, `X-Yatri-Signature`: hex HMAC-SHA256 of `"{timestamp}." + body`,
5-minute window, replays refused). A delivery is known by the provider's id (the body's
`delivery_id`; Twilio's `I-Twilio-Idempotency-Token`) and by a hash of what its signature
covers: a retried delivery, or the same signed request sent again under a fresh unsigned id,
gets the first answer without running the turn again. Each `<Gather>` Yatri returns posts to
an action URL of its own (`yatri_turn`: issue time and nonce, inside the signed URL), so two
turns that sound alike are distinct, and one older than an hour is refused.
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from xml.sax.saxutils import escape, quoteattr

import orjson
from fastapi import APIRouter, Header, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.deps import Services, ServicesDep
from api.problems import PROBLEM_RESPONSES
from api.turns import turn_handler
from core.errors import ConflictError, InvalidRequestError, NotFoundError, UnauthorizedError
from core.logging import get_logger
from core.telemetry import VOICE_WEBHOOKS
from sessions.engine import new_session_id
from voice.redis_webhooks import RedisReplayNonces
from voice.webhooks import (
    TWILIO_TURN_MAX_AGE_S,
    WebhookVerifier,
    check_twilio_request,
    signed_content_id,
    twilio_signed_content,
    twilio_turn_age_s,
    twilio_turn_url,
)

log = get_logger(__name__)

router = APIRouter(prefix="/v1/asr", tags=["voice"])

NOT_HEARD = "Sorry, I didn't catch that. Could you say it again?"


class TranscriptPost(BaseModel):
    """A final transcript from a provider's own speech recognition."""

    model_config = ConfigDict(extra="ignore")

    call_id: str = Field(min_length=1, max_length=128, description="The provider's call id.")
    delivery_id: str = Field(
        min_length=1, max_length=128, description="The same on every retry of this transcript."
    )
    transcript: str = Field(max_length=2000)
    confidence: float = Field(ge=0, le=1)
    caller: str | None = Field(
        default=None, max_length=40, examples=["+919876543210"],
        description="The number the call comes from. It only says which profile a one-time "
        "code is sent to before anything is booked; it proves nothing by itself.",
    )  # fmt: skip


class TranscriptAnswer(BaseModel):
    session_id: str
    reply: str
    heard: str = Field(description="The transcript as the turn engine read it (normalised).")
    low_confidence: bool = Field(description="True when the transcript was not trusted.")
    duplicate: bool = Field(description="True when this delivery was answered before.")
    intent: str | None = Field(default=None, description="What the turn was understood as.")
    slots: dict[str, Any] = Field(default_factory=dict, description="As `/v1/chat`'s `slots`.")
    expecting: str = Field(
        default="none", description="What the next turn should give, as in `/v1/chat`'s "
        "`data.expecting`: `otp` asks the caller for a six-digit code (keypad digits are "
        "fine), `confirmation` a yes or no.",
    )  # fmt: skip
    data: dict[str, Any] = Field(default_factory=dict, description="As `/v1/chat`'s `data`.")


@router.post(
    "/webhooks/{provider}",
    response_model=TranscriptAnswer,
    responses={
        **PROBLEM_RESPONSES,
        200: {
            "description": "The reply (JSON), or TwiML for provider `twilio`.",
            "content": {"application/xml": {}},
        },
    },
    summary="A final transcript from a provider that does its own ASR",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": TranscriptPost.model_json_schema()},
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "description": "Twilio <Gather input='speech'> fields.",
                        "properties": {
                            "CallSid": {"type": "string"},
                            "SpeechResult": {"type": "string"},
                            "Digits": {"type": "string"},
                            "Confidence": {"type": "string"},
                            "From": {"type": "string"},
                        },
                    }
                },
            }
        }
    },
)
async def asr_webhook(
    request: Request,
    services: ServicesDep,
    provider: Annotated[str, Path(pattern=r"^[a-z0-9_-]{1,32}$")],
    x_twilio_signature: Annotated[str, Header()] = "",
    i_twilio_idempotency_token: Annotated[str, Header()] = "",
    x_yatri_timestamp: Annotated[str, Header()] = "",
    x_yatri_signature: Annotated[str, Header()] = "",
) -> Response:
    body = await request.body()
    if provider == "twilio":
        post, content = _twilio_post(
            services, request=request, body=body, signature=x_twilio_signature
        )
        delivery_ids = [signed_content_id(content)]
        if i_twilio_idempotency_token:
            delivery_ids.append(i_twilio_idempotency_token[:128])
        post = post.model_copy(update={"delivery_id": delivery_ids[-1]})
    else:
        secret = services.settings.asr_webhook_secret
        if secret is None:
            raise NotFoundError("signed ASR webhooks are not configured on this server")
        verifier = WebhookVerifier(
            replays=RedisReplayNonces(
                redis=services.redis, namespace=services.settings.redis_namespace
            ),
            secret=secret.get_secret_value().encode(),
        )
        await verifier.verify(timestamp=x_yatri_timestamp, signature=x_yatri_signature, body=body)
        try:
            post = TranscriptPost.model_validate_json(body)
        except ValidationError as e:
            fields = ", ".join(".".join(map(str, err["loc"])) for err in e.errors())
            raise InvalidRequestError(f"invalid transcript post: {fields}") from e
        delivery_ids = [post.delivery_id, signed_content_id(body)]
    answer = await _answer_once(services, provider=provider, post=post, delivery_ids=delivery_ids)
    VOICE_WEBHOOKS.labels(provider, "duplicate" if answer.duplicate else "processed").inc()
    if provider == "twilio":
        action = twilio_turn_url(str(request.url), now=time.time())
        twiml = _twiml(answer.reply, action=action, expecting=answer.expecting)
        return Response(twiml, media_type="application/xml")
    return Response(answer.model_dump_json(), media_type="application/json")


def _twilio_post(
    services: Services, *, request: Request, body: bytes, signature: str
) -> tuple[TranscriptPost, bytes]:
    """The transcript of a signed Twilio post, and the content its signature covers."""
    token = services.settings.twilio_auth_token
    if token is None:
        raise NotFoundError("Twilio webhooks are not configured on this server")
    # Behind a proxy, Twilio signed the public URL: the proxy must pass Host and the scheme.
    url = str(request.url)
    params = check_twilio_request(
        url=url, body=body, signature=signature, auth_token=token.get_secret_value()
    )
    age = twilio_turn_age_s(url, now=time.time())
    if age is not None and age > TWILIO_TURN_MAX_AGE_S:
        raise UnauthorizedError("this Gather's action URL has expired", reason="stale-turn")
    try:
        digits = params.get("Digits", "")  # a code keyed in on the phone's keypad
        post = TranscriptPost(
            call_id=params.get("CallSid", ""),
            delivery_id="pending",
            transcript=params.get("SpeechResult", "") or digits,
            confidence=1.0 if digits and not params.get("SpeechResult") else
            float(params.get("Confidence") or 0),
            caller=params.get("From") or None,
        )  # fmt: skip
    except (ValidationError, ValueError) as e:
        raise InvalidRequestError("Twilio post lacks CallSid or a numeric Confidence") from e
    return post, twilio_signed_content(url=url, params=params)


async def _answer_once(
    services: Services, *, provider: str, post: TranscriptPost, delivery_ids: list[str]
) -> TranscriptAnswer:
    deliveries = services.webhook_deliveries
    seen = await deliveries.claim_all(provider=provider, delivery_ids=delivery_ids)
    if seen is not None:
        stored = await deliveries.answer(provider=provider, delivery_id=seen)
        if stored is None:
            raise ConflictError("this delivery is still being processed", reason="in-progress")
        return TranscriptAnswer.model_validate(orjson.loads(stored) | {"duplicate": True})
    try:
        answer = await _answer(services, provider=provider, post=post)
    except BaseException:
        await deliveries.release_all(provider=provider, delivery_ids=delivery_ids)
        raise
    await deliveries.record_all(
        provider=provider, delivery_ids=delivery_ids, answer=answer.model_dump_json().encode()
    )
    return answer


async def _answer(services: Services, *, provider: str, post: TranscriptPost) -> TranscriptAnswer:
    session_id = await services.calls.session_for(
        provider=provider, call_id=post.call_id, proposed=new_session_id()
    )
    heard = services.normalise_transcript(post.transcript).strip()
    if not heard or post.confidence < services.settings.asr_min_confidence:
        return TranscriptAnswer(
            session_id=session_id,
            reply=NOT_HEARD,
            heard=heard,
            low_confidence=True,
            duplicate=False,
        )
    turn = turn_handler(services, session_id=session_id, channel="phone", caller=post.caller)
    reply = await turn(heard)
    data = dict(reply.data.get("data") or {})
    return TranscriptAnswer(
        session_id=session_id, reply=reply.text, heard=heard, low_confidence=False,
        duplicate=False, intent=reply.data.get("intent"), slots=dict(reply.data.get("slots") or {}),
        expecting=str(data.get("expecting") or "none"), data=data,
    )  # fmt: skip


def _twiml(reply: str, *, action: str, expecting: str = "none") -> str:
    # A one-time code may be keyed in as well as said.
    gather = 'input="speech dtmf" numDigits="6"' if expecting == "otp" else 'input="speech"'
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        f"<Say>{escape(reply)}</Say>"
        f'<Gather {gather} method="POST" action={quoteattr(action)}/>'
        "</Response>"
    )
