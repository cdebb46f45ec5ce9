"""The `Idempotency-Key` header (IETF draft-ietf-httpapi-idempotency-key-header) for the
booking endpoints, backed by Redis.

* missing header -> 400 `idempotency-key-missing`;
* first request with a key -> handled; its response is stored for 24 hours;
* the same key and the same request again -> the stored response, with `Idempotent-Replayed: true`;
* the same key while the first is still running -> 409 `idempotency-key-in-use`, unless the
  work it started has already finished (`resolve` finds its outcome, e.g. the booking the key
  derives), or the first request has been running for longer than any request can (its
  process crashed): then the retry finishes the work (every handler here is idempotent by the
  ids it derives from the key) and stores the answer, so no key is stranded;
* the same key with another body or endpoint -> 422 `idempotency-key-mismatch`.

Keys are scoped to the caller and the traveller it acts for, so two travellers' keys never
collide. A request that fails with an error forgets its key, so the retry is handled afresh;
the response is serialised before it is stored, so a response that cannot be stored is an
error that frees the key, never a key left running. Bookings do not rely on this
record alone: the booking id derives from the caller and the key (bookings.service), and
Temporal refuses a second workflow with that id.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import Request, Response
from redis.exceptions import RedisError

from core.errors import DependencyUnavailableError, YatriError
from core.redis_conn import RedisClient
from core.telemetry import IDEMPOTENCY_OUTCOMES

KEY_TTL_S = 24 * 60 * 60
MAX_KEY_LENGTH = 255
IDEMPOTENCY_HEADER_DOC = (
    "A unique key per intended operation (a UUID); send the same key only to retry. "
    "Keys expire after 24 hours."
)


class IdempotencyKeyMissingError(YatriError):
    problem_type = "idempotency-key-missing"
    title = "Idempotency-Key header missing"
    status = 400


class IdempotencyKeyInUseError(YatriError):
    problem_type = "idempotency-key-in-use"
    title = "Request with this key in progress"
    status = 409


class IdempotencyKeyMismatchError(YatriError):
    problem_type = "idempotency-key-mismatch"
    title = "Idempotency-Key reused"
    status = 422


Handler = Callable[[], Awaitable[tuple[int, Any]]]
Resolver = Callable[[], Awaitable[tuple[int, Any] | None]]


async def idempotent(
    request: Request,
    *,
    redis: RedisClient,
    namespace: str,
    actor: str,
    key: str | None,
    handle: Handler,
    resolve: Resolver | None = None,
    stale_after_s: float = 60.0,
) -> Response:
    """Run `handle` once per (actor, key); answer repeats from the stored response."""
    if not key or not key.strip():
        raise IdempotencyKeyMissingError("send an Idempotency-Key header with this request")
    if len(key) > MAX_KEY_LENGTH:
        raise IdempotencyKeyMismatchError(f"Idempotency-Key is longer than {MAX_KEY_LENGTH}")
    body = await request.body()
    fingerprint = hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + body
    ).hexdigest()
    scoped = hashlib.sha256(actor.encode() + b"\n" + key.encode()).hexdigest()
    record_key = f"{namespace}:idem:{scoped}"
    running = orjson.dumps({"fingerprint": fingerprint, "state": "running", "since": time.time()})
    try:
        first = await redis.set(record_key, running, nx=True, ex=KEY_TTL_S)
        stored = None if first else await redis.get(record_key)
    except RedisError as e:
        raise DependencyUnavailableError("idempotency store is unavailable") from e
    if first:
        IDEMPOTENCY_OUTCOMES.labels("first").inc()
    else:
        record = _repeat(stored, fingerprint=fingerprint)
        if isinstance(record, Response):
            return record
        # The first request with this key has not stored its answer.
        finished = await resolve() if resolve is not None else None
        if finished is not None:
            IDEMPOTENCY_OUTCOMES.labels("resolved").inc()
            return await _store(redis, record_key, fingerprint, finished)
        if time.time() - float(record.get("since", 0)) < stale_after_s:
            IDEMPOTENCY_OUTCOMES.labels("in_progress").inc()
            raise IdempotencyKeyInUseError(
                "the first request with this Idempotency-Key is still in progress; retry shortly"
            )
        IDEMPOTENCY_OUTCOMES.labels("taken_over").inc()  # its process died mid-request
    try:
        return await _store(redis, record_key, fingerprint, await handle())
    except BaseException:
        # If this fails the record expires; until then a retry gets 409, never a second booking.
        with contextlib.suppress(RedisError):
            await redis.delete(record_key)
        raise


async def _store(
    redis: RedisClient, record_key: str, fingerprint: str, answer: tuple[int, Any]
) -> Response:
    status, payload = answer
    content = orjson.dumps(payload)  # before storing: an answer that cannot be stored fails here
    done = orjson.dumps(
        {"fingerprint": fingerprint, "state": "done", "status": status, "body": content.decode()}
    )
    try:
        await redis.set(record_key, done, ex=KEY_TTL_S)
    except RedisError as e:
        raise DependencyUnavailableError("idempotency store is unavailable") from e
    return Response(content, status_code=status, media_type="application/json")


def _repeat(stored: bytes | str | None, *, fingerprint: str) -> Response | dict[str, Any]:
    """The stored answer to replay, or the running record to decide on."""
    if stored is None:  # expired between the two calls: the caller may simply retry
        IDEMPOTENCY_OUTCOMES.labels("in_progress").inc()
        raise IdempotencyKeyInUseError("the request with this Idempotency-Key is finishing")
    record: dict[str, Any] = orjson.loads(stored)
    if record["fingerprint"] != fingerprint:
        IDEMPOTENCY_OUTCOMES.labels("mismatch").inc()
        raise IdempotencyKeyMismatchError(
            "this Idempotency-Key was used for a different request; use a new key"
        )
    if record["state"] != "done":
        return record
    IDEMPOTENCY_OUTCOMES.labels("replayed").inc()
    return Response(
        record["body"],
        status_code=int(record["status"]),
        media_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )
