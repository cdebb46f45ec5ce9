"""RFC 9457 problem details: the one error format of Yatri's HTTP API.

Every problem ``type`` is a stable relative URI (``/problems/<slug>``) that resolves to its
description on this server.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from core.errors import RateLimitedError, YatriError

PROBLEM_JSON = "application/problem+json"


class ProblemType(BaseModel):
    slug: str
    title: str
    status: int
    description: str


PROBLEM_TYPES = {
    p.slug: p
    for p in (
        ProblemType(slug="malformed-json", title="Malformed JSON", status=400,
                    description="The request body is not valid JSON."),
        ProblemType(slug="malformed-body", title="Malformed request body", status=400,
                    description="The request body cannot be read as its content type says "
                    "(a broken multipart form, text that is not UTF-8)."),
        ProblemType(slug="validation-error", title="Invalid request", status=422,
                    description="The request is well-formed but a field is missing or invalid; "
                    "`errors` lists each one with its location."),
        ProblemType(slug="invalid-request", title="Invalid request", status=422,
                    description="The request asks for something that cannot be done as stated."),
        ProblemType(slug="unauthorized", title="Unauthorized", status=401,
                    description="Send `Authorization: Bearer <key or token>` with a credential "
                    "that has the scope this endpoint needs."),
        ProblemType(slug="forbidden", title="Forbidden", status=403,
                    description="The credential is not valid for this endpoint or lacks its scope."),
        ProblemType(slug="invalid-document", title="Invalid document", status=422,
                    description="A file could not be ingested; `reason` says why (empty, "
                    "encrypted, corrupt, unsupported_format, bad_metadata, too_large)."),
        ProblemType(slug="not-found", title="Not found", status=404,
                    description="No resource or route at this URL."),
        ProblemType(slug="unknown-destination", title="Unknown destination", status=404,
                    description="No city, town or region of that name (or alias, or code) has "
                    "hotels; `city` echoes what was asked."),
        ProblemType(slug="unknown-hotel", title="Unknown hotel", status=404,
                    description="No hotel with this id in the catalogue."),
        ProblemType(slug="unknown-supplier", title="Unknown hotel supplier", status=404,
                    description="No supplier of that name pushes to this webhook."),
        ProblemType(slug="method-not-allowed", title="Method not allowed", status=405,
                    description="The route exists but not for this HTTP method."),
        ProblemType(slug="payload-too-large", title="Payload too large", status=413,
                    description="The request body exceeds the server's limit (`max_bytes`)."),
        ProblemType(slug="unsupported-media-type", title="Unsupported media type", status=415,
                    description="The body must be sent as application/json."),
        ProblemType(slug="conflict", title="Conflict", status=409,
                    description="The request conflicts with work still in progress."),
        ProblemType(slug="dependency-unavailable", title="A dependency is unavailable", status=503,
                    description="Redis, Qdrant or Temporal did not answer; retry later."),
        ProblemType(slug="supplier-error", title="Supplier error", status=502,
                    description="A supplier (airline, hotel, payment) failed; retry later."),
        ProblemType(slug="supplier-timeout", title="Supplier timed out", status=504,
                    description="A supplier did not answer within the deadline."),
        ProblemType(slug="deadline-exceeded", title="Deadline exceeded", status=504,
                    description="Yatri could not answer within the request deadline "
                    "(`YATRI_REQUEST_TIMEOUT_S`); retry."),
        ProblemType(slug="transcription-failed", title="Speech could not be transcribed",
                    status=502, description="The speech recogniser failed on this audio."),
        ProblemType(slug="synthesis-failed", title="Speech could not be synthesised",
                    status=502, description="The voice engine failed on this reply."),
        ProblemType(slug="supplier-declined", title="The supplier declined the request",
                    status=409, description="An airline, hotel or payment gateway said no; "
                    "the same request will get the same answer."),
        ProblemType(slug="hold-expired", title="The inventory hold expired", status=409,
                    description="The seat or room hold lapsed before the booking completed."),
        ProblemType(slug="payment-declined", title="The payment was declined", status=402,
                    description="The payment gateway refused the charge; nothing was booked."),
        ProblemType(slug="sold-out", title="No longer available", status=409,
                    description="The flight, fare or room is no longer sold."),
        ProblemType(slug="idempotency-key-missing", title="Idempotency-Key header missing",
                    status=400, description="Every booking change needs an `Idempotency-Key` "
                    "header (a UUID per intended operation; reuse it only to retry)."),
        ProblemType(slug="idempotency-key-in-use", title="Request with this key in progress",
                    status=409, description="The first request with this Idempotency-Key has "
                    "not finished; retry after a moment to get its response."),
        ProblemType(slug="idempotency-key-mismatch", title="Idempotency-Key reused", status=422,
                    description="This Idempotency-Key was used with a different request body "
                    "or endpoint; use a new key for a new operation."),
        ProblemType(slug="rate-limited", title="Too many requests", status=429,
                    description="The caller (its address, traveller or API key) exceeded its "
                    "request rate on this group of routes (`limit` requests per `window_s`); "
                    "retry after `retry_after_s` seconds (also the `Retry-After` header)."),
        ProblemType(slug="overloaded", title="Server busy", status=503,
                    description="This server has as many requests in progress as it can "
                    "answer in time, and refused this one at once; retry after `Retry-After` "
                    "seconds."),
        ProblemType(slug="request-timeout", title="Request timeout", status=408,
                    description="The request body did not arrive in time "
                    "(`YATRI_BODY_TIMEOUT_S`); the connection is closed."),
        ProblemType(slug="quote-required", title="A quote is required first", status=428,
                    description="This change moves money: ask for its quote first "
                    "(`POST /v1/bookings/{id}/modify/quote` or `/cancel/quote`) and send its "
                    "`quote_id`, or the exact amount it states."),
        ProblemType(slug="quote-mismatch", title="The amount differs from the quote",
                    status=409, description="What the change costs now differs from the "
                    "amount agreed; nothing was charged or refunded. `quote` holds the new "
                    "figures: show them to the traveller and ask for a new quote."),
        ProblemType(slug="agent-approval-required", title="The traveller must approve this",
                    status=403, description="An agent's booking, change or cancellation moves "
                    "the traveller's money, so it needs the traveller's out-of-band approval: "
                    "use the MCP tools at `/mcp` (quote_booking then confirm_booking; "
                    "modify_booking and cancel_booking with the code sent to the traveller)."),
        ProblemType(slug="approval-codes-exhausted", title="Too many approval codes today",
                    status=429, description="The traveller has been sent the most approval "
                    "codes allowed today for this kind of action; try again tomorrow."),
        ProblemType(slug="flight-departed", title="The flight can no longer be booked",
                    status=409, description="The flight departs before the booking cut-off, "
                    "or has departed."),
        ProblemType(slug="unknown-hotel", title="Unknown hotel", status=422,
                    description="No hotel supplier sells this hotel."),
        ProblemType(slug="http-error", title="HTTP error", status=400,
                    description="The request could not be served as sent."),
        ProblemType(slug="internal-error", title="Internal error", status=500,
                    description="Something failed inside Yatri. The request id identifies the "
                    "log lines that say what; no internals are returned."),
    )
}  # fmt: skip


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["/problems/validation-error"])
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": "Client error"},
    "5XX": {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": "Server error"},
}


def _error_classes() -> list[type[YatriError]]:
    found, stack = [], [YatriError]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


_types: dict[str, ProblemType] = {}


def problem_types(*, refresh: bool = False) -> dict[str, ProblemType]:
    """Every problem type: those described above, and one for each error class raised with a
    type of its own (its title, status and docstring), so a new error is never answered with
    the generic type. Built once; ``refresh`` looks again for error classes of modules
    imported since (an unknown slug does, once)."""
    if _types and not refresh:
        return _types
    found = dict(PROBLEM_TYPES)
    for cls in _error_classes():
        if cls.problem_type not in found:
            doc = (cls.__doc__ or cls.title).strip().split("\n\n")[0]
            found[cls.problem_type] = ProblemType(
                slug=cls.problem_type, title=cls.title, status=cls.status,
                description=" ".join(doc.split()),
            )  # fmt: skip
    _types.clear()
    _types.update(found)
    return _types


def problem_body(
    *, slug: str, detail: str, status: int | None = None, instance: str | None = None,
    request_id: str | None = None, **extensions: Any,
) -> dict[str, Any]:  # fmt: skip
    known = (
        PROBLEM_TYPES.get(slug)
        or problem_types().get(slug)
        or problem_types(refresh=True).get(slug)
        or PROBLEM_TYPES["http-error"]
    )
    body: dict[str, Any] = {
        "type": f"/problems/{known.slug}",
        "title": known.title,
        "status": status or known.status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if request_id:
        body["request_id"] = request_id
    body.update(extensions)
    return body


def problem_response(body: dict[str, Any], *, headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=orjson.dumps(body),
        status_code=int(body["status"]),
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _request_id(request: Request) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return value if isinstance(value, str) else None


_STATUS_SLUGS = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large",
                 415: "unsupported-media-type"}  # fmt: skip


async def _on_yatri_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, YatriError)
    headers = {"www-authenticate": 'Bearer realm="yatri"'} if exc.status == 401 else None
    if isinstance(exc, RateLimitedError):
        headers = {"retry-after": str(exc.retry_after_s)}
    return problem_response(
        problem_body(
            slug=exc.problem_type, detail=exc.detail, status=exc.status,
            instance=request.url.path, request_id=_request_id(request), **exc.extensions,
        ),
        headers=headers,
    )  # fmt: skip


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return problem_response(
            problem_body(slug="malformed-json", detail="the request body is not valid JSON",
                         instance=request.url.path, request_id=_request_id(request))
        )  # fmt: skip
    content_type = request.headers.get("content-type", "")
    if content_type and "json" not in content_type and any(e["loc"] == ["body"] for e in errors):
        return problem_response(
            problem_body(slug="unsupported-media-type",
                         detail=f"send the body as application/json, not {content_type}",
                         instance=request.url.path, request_id=_request_id(request))
        )  # fmt: skip
    fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors)
    return problem_response(
        problem_body(slug="validation-error", detail=f"invalid or missing fields: {fields}",
                     instance=request.url.path, request_id=_request_id(request), errors=errors)
    )  # fmt: skip


# FastAPI's own error when a JSON body cannot be decoded at all (nested deeper than the parser
# recurses, not UTF-8); a broken multipart form gets Starlette's own 400s. Yatri's code raises
# YatriError, never HTTPException, so a 400 here is always a body that could not be read.
_UNPARSEABLE_BODY = "There was an error parsing the body"


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path ("GET, PUT"): Starlette's own `Allow` names
    only the methods of the first route whose path matched."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )  # fmt: skip
    )


def _unreadable_body(request: Request, exc: StarletteHTTPException) -> Response:
    """The same problem type as any other body that is not JSON (`malformed-json`), or
    `malformed-body` for a form, with why."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip()
    if "json" in media_type:
        cause = exc.__cause__
        why = ("it nests deeper than the parser allows" if isinstance(cause, RecursionError)
               else "it is not UTF-8" if isinstance(cause, UnicodeError)
               else "it cannot be decoded")  # fmt: skip
        slug, detail = "malformed-json", f"the request body is not valid JSON: {why}"
    else:
        slug = "malformed-body"
        detail = (exc.detail if isinstance(exc.detail, str) and exc.detail != _UNPARSEABLE_BODY
                  else f"the body cannot be read as {media_type or 'sent'}")  # fmt: skip
    return problem_response(
        problem_body(slug=slug, detail=detail, instance=request.url.path,
                     request_id=_request_id(request))
    )  # fmt: skip


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        return _unreadable_body(request, exc)
    slug = _STATUS_SLUGS.get(exc.status_code, "http-error")
    detail = exc.detail if isinstance(exc.detail, str) else "request failed"
    headers = dict(exc.headers or {})
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.method} {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
        headers = {k: v for k, v in headers.items() if k.lower() != "allow"}
        headers["allow"] = _allowed_methods(request)
    return problem_response(
        problem_body(slug=slug, detail=detail, status=exc.status_code,
                     instance=request.url.path, request_id=_request_id(request)),
        headers=headers or None,
    )  # fmt: skip


def install_problem_handlers(app: FastAPI) -> None:
    # The handlers only ever receive their registered type; the asserts narrow it for mypy.
    app.add_exception_handler(YatriError, _on_yatri_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
