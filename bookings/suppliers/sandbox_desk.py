"""What every sandbox supplier does around a call (the desk): injected latency, errors, timeouts
and lost answers, then the ledger's journal, then a decline turned into the supplier's error.
Beside it, what the suppliers share: compensations, hold refusals and the stable ids they hand out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import math
import random
import sqlite3
import string
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import aiosqlite
import orjson

from bookings.suppliers.base import (
    HoldExpiredError,
    PaymentDeclinedError,
    PriceChangedError,
    SoldOutError,
    SupplierDeclinedError,
)
from bookings.suppliers.sandbox_ledger import SandboxLedger, _Answer, _no, _ok
from bookings.suppliers.sandbox_sqlite import _stamp
from core.errors import SupplierError, SupplierTimeoutError
from core.logging import get_logger

log = get_logger(__name__)

Clock = Callable[[], dt.datetime]
_Args = dict[str, str | int | float]

_JITTER_SIGMA = 0.35  # of the log-normal latency around latency_ms

_DECLINES: Final[Mapping[str, type[SupplierDeclinedError]]] = {
    "declined": SupplierDeclinedError,
    "hold_expired": HoldExpiredError,
    "payment_declined": PaymentDeclinedError,
    "price_changed": PriceChangedError,
    "sold_out": SoldOutError,
}


class _Desk:
    """What each sandbox supplier does around an operation: injected faults, then the ledger."""

    def __init__(self, ledger: SandboxLedger, *, supplier: str, seed: int, clock: Clock) -> None:
        self.ledger = ledger
        self.supplier = supplier
        self.seed = seed
        self.clock = clock
        self._rng = random.Random(seed)

    async def call(
        self,
        op: str,
        *,
        key: str,
        args: _Args,
        perform: Callable[[aiosqlite.Connection, dt.datetime], Awaitable[_Answer]],
    ) -> dict[str, Any]:
        transport = await self.ledger._transport(op)
        if transport.latency_ms > 0:
            mu = math.log(transport.latency_ms / 1000.0)
            await asyncio.sleep(self._rng.lognormvariate(mu, _JITTER_SIGMA))
        if transport.failure == "timeout":
            log.info("sandbox fault injected", op=op, fault="timeout")
            raise SupplierTimeoutError(f"{op} timed out (injected fault)", supplier=self.supplier)
        if transport.failure == "fail" or (
            transport.error_rate > 0 and self._rng.random() < transport.error_rate
        ):
            log.info("sandbox fault injected", op=op, fault="error")
            raise SupplierError(f"{op} failed (injected fault)", supplier=self.supplier)
        now = self.clock()
        request = orjson.dumps(args, option=orjson.OPT_SORT_KEYS).decode()
        answer, lost = await self.ledger._operate(
            op=op, key=key, request=request, now=now, perform=lambda db: perform(db, now)
        )
        if lost:
            log.info("sandbox fault injected", op=op, fault="lost_response")
            raise SupplierError(f"{op} answer lost (injected fault)", supplier=self.supplier)
        if answer.outcome != "ok":
            error = _DECLINES[answer.outcome]
            extra = {k: v for k, v in answer.payload.items() if k != "detail"}
            raise error(answer.payload["detail"], supplier=self.supplier, key=key, **extra)
        return answer.payload


async def _undo(desk: _Desk, op: str, *, key: str, on: str, sql: str) -> bool:
    """A compensation: one conditional UPDATE of the row made under `on`; True if it changed."""

    async def perform(db: aiosqlite.Connection, now: dt.datetime) -> _Answer:
        # Named parameters: a statement that does not mention :now ignores it.
        cursor = await db.execute(sql, {"on": on, "now": _stamp(now)})
        return _ok(done=cursor.rowcount == 1)

    done = await desk.call(op, key=key, args={"on": on}, perform=perform)
    return bool(done["done"])


def _hold_refusal(hold: sqlite3.Row, now: dt.datetime, *, done: str) -> _Answer | None:
    if hold["state"] == "released":
        return _no("hold_expired", "the hold was released")
    if hold["state"] == done:
        return _no("declined", f"the hold is already {done}")
    if hold["expires_at"] <= _stamp(now):
        return _no("hold_expired", "the hold expired")
    return None


# An expired hold has nothing left to release: the supplier already let it go.
_RELEASE_FLIGHT = "UPDATE airline_holds SET state = 'released' \
WHERE key = :on AND state = 'held' AND expires_at > :now"
_RELEASE_ROOM = "UPDATE hotel_holds SET state = 'released' \
WHERE key = :on AND state = 'held' AND expires_at > :now"


def _digest(*parts: object) -> int:
    """A stable number from the parts (not Python's salted hash), so ids repeat across runs."""
    text = "\x1f".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=16).digest(), "big")


def _encode(n: int, alphabet: str, length: int) -> str:
    chars: list[str] = []
    for _ in range(length):
        n, i = divmod(n, len(alphabet))
        chars.append(alphabet[i])
    return "".join(chars)


def _code(seed: int, kind: str, key: str) -> str:
    """A six-character record locator, as airlines and hotels hand out."""
    return _encode(_digest(seed, kind, key), string.ascii_uppercase + string.digits, 6)


def _token(prefix: str, seed: int, key: str) -> str:
    alphabet = string.digits + string.ascii_letters
    return prefix + _encode(_digest(seed, prefix, key), alphabet, 14)
