"""ASR webhooks: providers that transcribe the call themselves post each final transcript here.

Twilio posts its `<Gather input="speech">` result form-encoded and signed with
`X-Twilio-Signature`, and gets TwiML back. Every other provider posts JSON signed with the shared
secret (`X-Yatri-Timestamp`, `X-Yatri-Signature`: hex HMAC-SHA256 of `"{timestamp}." + body`,
5-minute window, replays refused). A delivery id (the body's `delivery_id`; Twilio's
`I-Twilio-Idempotency-Token`, else a hash of the request) makes a retried delivery return the
first answer without running the turn again.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any
from urllib.parse import parse_qsl
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
from voice.webhooks import WebhookVerifier, verify_twilio_signature

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
        post = _twilio_post(services, request=request, body=body, signature=x_twilio_signature)
        delivery_id = i_twilio_idempotency_token or hashlib.sha256(body).hexdigest()
        post = post.model_copy(update={"delivery_id": delivery_id})
    else:
        secret = services.settings.asr_webhook_secret
        if secret is None:
            raise NotFoundError("signed ASR webhooks are not configured on this server")
        verifier = WebhookVerifier(
            redis=services.redis,
            secret=secret.get_secret_value().encode(),
            namespace=services.settings.redis_namespace,
        )
        await verifier.verify(timestamp=x_yatri_timestamp, signature=x_yatri_signature, body=body)
        try:
            post = TranscriptPost.model_validate_json(body)
        except ValidationError as e:
            fields = ", ".join(".".join(map(str, err["loc"])) for err in e.errors())
            raise InvalidRequestError(f"invalid transcript post: {fields}") from e
    answer = await _answer_once(services, provider=provider, post=post)
    VOICE_WEBHOOKS.labels(provider, "duplicate" if answer.duplicate else "processed").inc()
    if provider == "twilio":
        twiml = _twiml(answer.reply, action=str(request.url), expecting=answer.expecting)
        return Response(twiml, media_type="application/xml")
    return Response(answer.model_dump_json(), media_type="application/json")


def _twilio_post(
    services: Services, *, request: Request, body: bytes, signature: str
) -> TranscriptPost:
    token = services.settings.twilio_auth_token
    if token is None:
        raise NotFoundError("Twilio webhooks are not configured on this server")
    params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    # Behind a proxy, Twilio signed the public URL: the proxy must pass Host and the scheme.
    if not verify_twilio_signature(
        url=str(request.url),
        params=params,
        signature=signature,
        auth_token=token.get_secret_value(),
    ):
        raise UnauthorizedError("X-Twilio-Signature does not match", reason="bad-signature")
    try:
        digits = params.get("Digits", "")  # a code keyed in on the phone's keypad
        return TranscriptPost(
            call_id=params.get("CallSid", ""),
            delivery_id="pending",
            transcript=params.get("SpeechResult", "") or digits,
            confidence=1.0 if digits and not params.get("SpeechResult") else
            float(params.get("Confidence") or 0),
            caller=params.get("From") or None,
        )  # fmt: skip
    except (ValidationError, ValueError) as e:
        raise InvalidRequestError("Twilio post lacks CallSid or a numeric Confidence") from e


async def _answer_once(
    services: Services, *, provider: str, post: TranscriptPost
) -> TranscriptAnswer:
    deliveries = services.webhook_deliveries
    if not await deliveries.claim(provider=provider, delivery_id=post.delivery_id):
        stored = await deliveries.answer(provider=provider, delivery_id=post.delivery_id)
        if stored is None:
            raise ConflictError("this delivery is still being processed", reason="in-progress")
        return TranscriptAnswer.model_validate(orjson.loads(stored) | {"duplicate": True})
    try:
        answer = await _answer(services, provider=provider, post=post)
    except BaseException:
        await deliveries.release(provider=provider, delivery_id=post.delivery_id)
        raise
    await deliveries.record(
        provider=provider, delivery_id=post.delivery_id, answer=answer.model_dump_json().encode()
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
