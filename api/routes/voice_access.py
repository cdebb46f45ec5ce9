"""Letting voice streams in: a stream token for the app's stream, and the providers' answer
webhooks (Twilio's TwiML, Plivo's XML, Vonage's NCCO) that connect a call to its media stream
with a token for that call. A token opens one stream, once, on the session it names
(voice/stream_tokens.py); the signature checks and documents are voice/answers.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import optional_traveller
from api.deps import Services, ServicesDep
from api.problems import PROBLEM_RESPONSES
from core.errors import ForbiddenError, InvalidRequestError, NotFoundError
from sessions.engine import SESSION_ID_PATTERN, new_session_id
from voice.answers import (
    check_plivo_request,
    check_vonage_request,
    grant_stream,
    plivo_stream_xml,
    twilio_stream_twiml,
    vonage_ncco,
)
from voice.stream_tokens import StreamGrant
from voice.webhooks import check_twilio_request

router = APIRouter(tags=["voice"])
webhook_router = APIRouter(tags=["voice"])


class StreamTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: str | None = Field(
        default=None, pattern=SESSION_ID_PATTERN,
        description="Continue this conversation (one typed in chat); omit to start a new one.",
    )  # fmt: skip


class StreamToken(BaseModel):
    token: str = Field(description="Send it as the `token` of the stream's `start` control.")
    session_id: str = Field(description="The conversation the stream joins.")
    expires_in_s: float = Field(description="The token opens one stream within this time.")
    stream_url: str = Field(description="Where to open the stream.")


@router.post(
    "/v1/voice/tokens",
    response_model=StreamToken,
    status_code=201,
    responses=PROBLEM_RESPONSES,
    summary="A token to open one app voice stream",
    description="For a signed-in traveller (send the same token as `/v1/chat`; the stream's "
    "turns are theirs) or a guest. The token is single use, short-lived, and bound to one "
    "session: a conversation a traveller opened by voice is theirs alone.",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "examples": {
                        "new conversation": {"value": {}},
                        "continue a chat": {"value": {"session_id": "s3ssion-id-from-before"}},
                    }
                }
            }
        }
    },
)
async def voice_token(
    request: Request,
    services: ServicesDep,
    body: Annotated[StreamTokenRequest | None, Body()] = None,
) -> StreamToken:
    traveller = _traveller(request, services)
    settings = services.settings
    session_id = body.session_id if body and body.session_id else new_session_id()
    if not await services.stream_tokens.bind_owner(
        session_id=session_id, owner=traveller, ttl_s=settings.session_ttl_s
    ):
        raise ForbiddenError("this conversation belongs to another traveller")
    token = await services.stream_tokens.mint(
        StreamGrant(kind="app", session_id=session_id, traveller_id=traveller)
    )
    return StreamToken(
        token=token,
        session_id=session_id,
        expires_in_s=settings.voice_token_ttl_s,
        stream_url=_ws_url(request, "voice_stream"),
    )


def _traveller(request: Request, services: Services) -> str | None:
    """The signed-in traveller, or None for a guest; an agent's token is refused, as in chat."""
    return optional_traveller(
        request.headers.get("authorization"),
        secret=services.settings.secret_key.get_secret_value(),
        agents="agents do not open voice streams for a traveller",
    )


def _xml_answer(what: str) -> dict[Any, Any]:
    return {**PROBLEM_RESPONSES, 200: {"description": what, "content": {"application/xml": {}}}}


def _form_post(call_field: str, example: dict[str, str]) -> dict[str, Any]:
    """The OpenAPI request body of a provider's form-encoded call webhook."""
    fields = {"type": "object", "required": [call_field],
              "properties": {name: {"type": "string"} for name in (call_field, "From", "To")}}  # fmt: skip
    form = {"schema": fields, "examples": {"incoming call": {"value": example}}}
    return {"requestBody": {"content": {"application/x-www-form-urlencoded": form}}}


async def _connect(
    services: Services,
    *,
    provider: Literal["twilio", "plivo", "vonage"],
    call_id: object,
    caller: object,
    session_id: str | None,
) -> str:
    """The single-use stream token for a checked provider request's call (409 for a call
    already connected), bound to its caller's number and its session."""
    if not isinstance(call_id, str) or not 0 < len(call_id) <= 128:
        raise InvalidRequestError(f"the {provider.title()} request lacks the call's id")
    token, _ = await grant_stream(
        tokens=services.stream_tokens, calls=services.calls, provider=provider,
        call_id=call_id, caller=caller[:40] if isinstance(caller, str) and caller else None,
        proposed_session=session_id or new_session_id(), ttl_s=services.settings.session_ttl_s,
    )  # fmt: skip
    return token


@webhook_router.post(
    "/v1/telephony/twilio/voice",
    responses=_xml_answer("TwiML connecting the call to its media stream."),
    summary="Twilio's voice webhook: connect the call to its media stream",
    description="Point a Twilio number's voice webhook here. The post must carry a valid "
    "`X-Twilio-Signature`; the answer is `<Connect><Stream>` to `/v1/telephony/twilio` with a "
    "single-use `token` parameter bound to this call SID, its `From` number and its session "
    "(`session_id` in the webhook URL continues a conversation). A call is connected once: "
    "the same call posted again is a 409.",
    openapi_extra=_form_post(
        "CallSid", {"CallSid": "CA0123456789abcdef", "From": "+919000000001", "To": "+918000000000"}
    ),
)
async def twilio_voice(
    request: Request,
    services: ServicesDep,
    session_id: Annotated[str | None, Query(pattern=SESSION_ID_PATTERN)] = None,
    x_twilio_signature: Annotated[str, Header()] = "",
) -> Response:
    auth_token = services.settings.twilio_auth_token
    if auth_token is None:
        raise NotFoundError("Twilio webhooks are not configured on this server")
    params = check_twilio_request(
        url=str(request.url), body=await request.body(), signature=x_twilio_signature,
        auth_token=auth_token.get_secret_value(),
    )  # fmt: skip
    token = await _connect(services, provider="twilio", call_id=params.get("CallSid"),
                           caller=params.get("From"), session_id=session_id)  # fmt: skip
    twiml = twilio_stream_twiml(stream_url=_ws_url(request, "telephony_twilio"), token=token)
    return Response(twiml, media_type="application/xml")


@webhook_router.post(
    "/v1/telephony/plivo/answer",
    responses=_xml_answer("Plivo XML connecting the call to its audio stream."),
    summary="Plivo's answer URL: connect the call to its audio stream",
    description="Point a Plivo application's answer URL here (POST). The post must carry a "
    "valid `X-Plivo-Signature-V3` and its nonce; the answer is a two-way μ-law `<Stream>` to "
    "`/v1/telephony/plivo` whose `extraHeaders` carry a single-use token bound to this "
    "CallUUID, its `From` number and its session (`session_id` in the URL continues a "
    "conversation). A call is connected once: the same call posted again is a 409.",
    openapi_extra=_form_post(
        "CallUUID",
        {
            "CallUUID": "12345678-1234-1234-1234-123456789abc",
            "From": "919000000001",
            "To": "918000000000",
        },
    ),  # fmt: skip
)
async def plivo_answer(
    request: Request,
    services: ServicesDep,
    session_id: Annotated[str | None, Query(pattern=SESSION_ID_PATTERN)] = None,
    x_plivo_signature_v3: Annotated[str, Header()] = "",
    x_plivo_signature_v3_nonce: Annotated[str, Header()] = "",
) -> Response:
    auth_token = services.settings.plivo_auth_token
    if auth_token is None:
        raise NotFoundError("Plivo calls are not configured on this server")
    params = check_plivo_request(
        url=str(request.url), body=await request.body(), nonce=x_plivo_signature_v3_nonce,
        signature=x_plivo_signature_v3, auth_token=auth_token.get_secret_value(),
    )  # fmt: skip
    token = await _connect(services, provider="plivo", call_id=params.get("CallUUID"),
                           caller=params.get("From"), session_id=session_id)  # fmt: skip
    xml = plivo_stream_xml(stream_url=_ws_url(request, "telephony_plivo"), token=token)
    return Response(xml, media_type="application/xml")


_VONAGE_ANSWER: dict[str, Any] = {
    "responses": PROBLEM_RESPONSES,
    "summary": "Vonage's answer URL: connect the call to its websocket",
    "description": "Point a Vonage application's answer URL here (GET with query parameters, "
    "or POST with a JSON body) with signed webhooks on: the request must carry Vonage's JWT "
    "(`Authorization: Bearer`, HS256 under the signature secret). The answer is an NCCO that "
    "connects the call to `/v1/telephony/vonage` as 16 kHz L16, its headers a single-use token "
    "bound to this call `uuid`, its `from` number and its session. A call is connected once: "
    "the same call asked again is a 409.",
}


@webhook_router.get("/v1/telephony/vonage/answer", **_VONAGE_ANSWER)
@webhook_router.post("/v1/telephony/vonage/answer", **_VONAGE_ANSWER)
async def vonage_answer(
    request: Request,
    services: ServicesDep,
    session_id: Annotated[str | None, Query(pattern=SESSION_ID_PATTERN)] = None,
    authorization: Annotated[str, Header()] = "",
) -> list[dict[str, Any]]:
    secret = services.settings.vonage_signature_secret
    if secret is None:
        raise NotFoundError("Vonage calls are not configured on this server")
    body = await request.body()
    check_vonage_request(authorization=authorization, body=body, secret=secret.get_secret_value())
    fields = _vonage_fields(request, body)
    call_id = fields.get("uuid")
    token = await _connect(services, provider="vonage", call_id=call_id,
                           caller=fields.get("from"), session_id=session_id)  # fmt: skip
    return vonage_ncco(
        stream_url=_ws_url(request, "telephony_vonage"), token=token, call_id=str(call_id)
    )


def _vonage_fields(request: Request, body: bytes) -> dict[str, Any]:
    """The answer's call fields: the query string of a GET, the JSON object of a POST."""
    if request.method == "GET" or not body:
        return dict(request.query_params)
    try:
        fields = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise InvalidRequestError("the Vonage answer body is not JSON") from e
    if not isinstance(fields, dict):
        raise InvalidRequestError("the Vonage answer body is not a JSON object")
    return fields


def _ws_url(request: Request, name: str) -> str:
    """The websocket route's public URL (Starlette gives ws:// or wss:// as the request came)."""
    return str(request.url_for(name))
