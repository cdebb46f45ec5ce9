"""The `Idempotency-Key` header on the booking endpoints: the request's method, path and body
handed to `core.idempotency`, and its answer as the response (`Idempotent-Replayed: true` on a
stored one). What a key means — once per caller and key, 409 while the first runs, 422 for
another request — is `core/idempotency.py`."""

from __future__ import annotations

from fastapi import Request, Response

from core.idempotency import MAX_KEY_LENGTH, Handler, Idempotency, Resolver

IDEMPOTENCY_HEADER_DOC = (
    "A unique key per intended operation (a UUID); send the same key only to retry. "
    "Keys expire after 24 hours."
)

__all__ = ["IDEMPOTENCY_HEADER_DOC", "MAX_KEY_LENGTH", "Handler", "Resolver", "idempotent"]


async def idempotent(
    request: Request,
    *,
    idempotency: Idempotency,
    actor: str,
    key: str | None,
    handle: Handler,
    resolve: Resolver | None = None,
    stale_after_s: float = 60.0,
) -> Response:
    """Run `handle` once per (actor, key); answer repeats from the stored response."""
    body = await request.body()
    asked = request.method.encode() + b" " + request.url.path.encode() + b"\n" + body
    answer = await idempotency.run(actor=actor, key=key, request=asked, handle=handle,
                                   resolve=resolve, stale_after_s=stale_after_s)  # fmt: skip
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return Response(answer.body, status_code=answer.status, media_type="application/json",
                    headers=headers)  # fmt: skip
