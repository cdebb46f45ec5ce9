"""Idempotency keys (IETF draft-ietf-httpapi-idempotency-key-header): run a change once per
(caller, key) and answer repeats from the stored answer, over a small store port (Redis in
`core/redis_idempotency.py`).

* no key -> `idempotency-key-missing`;
* first request with a key -> handled; its answer is stored for 24 hours;
* the same key and the same request again -> the stored answer, marked replayed;
* the same key while the first is still running -> `idempotency-key-in-use`, unless the work it
  started has already finished (`resolve` finds its outcome, e.g. the booking the key derives),
  or the first request has been running for longer than any request can (its process crashed):
  then the retry finishes the work (every handler is idempotent by the ids it derives from the
  key) and stores the answer, so no key is stranded;
* the same key with another request -> `idempotency-key-mismatch`.

Keys are scoped to the caller and the traveller it acts for, so two travellers' keys never
collide. A request that fails with an error forgets its key, so the retry is handled afresh;
the answer is serialised before it is stored, so an answer that cannot be stored is an error
that frees the key, never a key left running. Bookings do not rely on this record alone: the
booking id derives from the caller and the key (bookings.service), and Temporal refuses a
second workflow with that id.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from core.errors import YatriError
from core.telemetry import IDEMPOTENCY_OUTCOMES

KEY_TTL_S = 24 * 60 * 60
MAX_KEY_LENGTH = 255


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


class IdempotencyStore(Protocol):
    """Records by key with an expiry. Raises `DependencyUnavailableError` when unreachable."""

    async def claim(self, key: str, record: bytes, *, ttl_s: int) -> tuple[bool, bytes | None]:
        """Store ``record`` only if ``key`` is free: (True, None); else (False, the record
        stored — None if it expired in between)."""
        ...

    async def put(self, key: str, record: bytes, *, ttl_s: int) -> None: ...

    async def release(self, key: str) -> None:
        """Forget ``key``; best effort (a failure leaves it to expire)."""
        ...


Handler = Callable[[], Awaitable[tuple[int, Any]]]
Resolver = Callable[[], Awaitable[tuple[int, Any] | None]]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes  # JSON
    replayed: bool = False


class Idempotency:
    def __init__(
        self,
        store: IdempotencyStore,
        *,
        namespace: str = "yatri",
        ttl_s: int = KEY_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._namespace = namespace
        self._ttl_s = ttl_s
        self._clock = clock

    async def run(
        self,
        *,
        actor: str,
        key: str | None,
        request: bytes,
        handle: Handler,
        resolve: Resolver | None = None,
        stale_after_s: float = 60.0,
    ) -> Answer:
        """Run ``handle`` once per (actor, key); ``request`` identifies what was asked (method,
        path and body), so a key reused for another request is refused."""
        if not key or not key.strip():
            raise IdempotencyKeyMissingError("send an Idempotency-Key header with this request")
        if len(key) > MAX_KEY_LENGTH:
            raise IdempotencyKeyMismatchError(f"Idempotency-Key is longer than {MAX_KEY_LENGTH}")
        fingerprint = hashlib.sha256(request).hexdigest()
        scoped = hashlib.sha256(actor.encode() + b"\n" + key.encode()).hexdigest()
        record_key = f"{self._namespace}:idem:{scoped}"
        running = orjson.dumps(
            {"fingerprint": fingerprint, "state": "running", "since": self._clock()}
        )
        first, stored = await self._store.claim(record_key, running, ttl_s=self._ttl_s)
        if first:
            IDEMPOTENCY_OUTCOMES.labels("first").inc()
        else:
            record = _repeat(stored, fingerprint=fingerprint)
            if isinstance(record, Answer):
                return record
            # The first request with this key has not stored its answer.
            finished = await resolve() if resolve is not None else None
            if finished is not None:
                IDEMPOTENCY_OUTCOMES.labels("resolved").inc()
                return await self._keep(record_key, fingerprint, finished)
            if self._clock() - float(record.get("since", 0)) < stale_after_s:
                IDEMPOTENCY_OUTCOMES.labels("in_progress").inc()
                raise IdempotencyKeyInUseError(
                    "the first request with this Idempotency-Key is still in progress; "
                    "retry shortly"
                )
            IDEMPOTENCY_OUTCOMES.labels("taken_over").inc()  # its process died mid-request
        try:
            return await self._keep(record_key, fingerprint, await handle())
        except BaseException:
            # If this fails the record expires; until then a retry gets 409, never a second
            # booking.
            with contextlib.suppress(YatriError):
                await self._store.release(record_key)
            raise

    async def _keep(self, record_key: str, fingerprint: str, answer: tuple[int, Any]) -> Answer:
        status, payload = answer
        content = orjson.dumps(payload)  # before storing: an answer that cannot be stored fails
        done = orjson.dumps(
            {"fingerprint": fingerprint, "state": "done", "status": status,
             "body": content.decode()}
        )  # fmt: skip
        await self._store.put(record_key, done, ttl_s=self._ttl_s)
        return Answer(status, content)


def _repeat(stored: bytes | None, *, fingerprint: str) -> Answer | dict[str, Any]:
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
    return Answer(int(record["status"]), str(record["body"]).encode(), replayed=True)
