"""The sandbox payment gateway: a card gateway in test mode (authorise, capture once, void,
refund up to what was captured, or charge at once), kept in the sandbox ledger.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import aiosqlite

from bookings.suppliers.base import Authorisation, Capture, Refund
from bookings.suppliers.sandbox_desk import Clock, _Args, _Desk, _token, _undo
from bookings.suppliers.sandbox_ledger import SandboxLedger, _Answer, _no, _ok
from bookings.suppliers.sandbox_sqlite import _one, _scalar, _utcnow

# A payer starting with this is refused, like a payment API's test card that always declines.
DECLINING_PAYER_PREFIX: Final = "decline"

_REFUNDABLE = """
SELECT (SELECT COALESCE(SUM(amount_paise), 0) FROM captures WHERE auth_key = :auth)
     - (SELECT COALESCE(SUM(amount_paise), 0) FROM refunds WHERE auth_key = :auth)
"""


class SandboxPayments:
    """A card payment gateway in test mode: authorise, capture once, void, refund up to the
    captured amount. A payer starting with DECLINING_PAYER_PREFIX is always declined."""

    def __init__(self, ledger: SandboxLedger, *, seed: int = 0, clock: Clock | None = None) -> None:
        self._desk = _Desk(ledger, supplier=self.name, seed=seed, clock=clock or _utcnow)

    @property
    def name(self) -> str:
        return "sandbox-payments"

    async def authorise(self, *, key: str, payer: str, amount_paise: int) -> Authorisation:
        async def perform(db: aiosqlite.Connection, now: dt.datetime) -> _Answer:
            refused = _payment_refusal(payer, amount_paise)
            if refused is not None:
                return refused
            auth_id = _token("pay_", self._desk.seed, key)
            await db.execute(
                "INSERT INTO authorisations VALUES (?, ?, ?, ?, 'authorised')",
                (key, auth_id, payer, amount_paise),
            )
            return _ok(auth_id=auth_id, amount_paise=amount_paise)

        args: _Args = {"payer": payer, "amount_paise": amount_paise}
        done = await self._desk.call("payments.authorise", key=key, args=args, perform=perform)
        return Authorisation(auth_id=done["auth_id"], amount_paise=done["amount_paise"])

    async def capture(self, *, key: str, auth_key: str, amount_paise: int) -> Capture:
        async def perform(db: aiosqlite.Connection, now: dt.datetime) -> _Answer:
            auth = await _one(db, "SELECT * FROM authorisations WHERE key = ?", (auth_key,))
            if auth is None:
                return _no("declined", "no authorisation under that key")
            if auth["state"] != "authorised":
                return _no("declined", f"the authorisation was already {auth['state']}")
            if not 0 < amount_paise <= auth["amount_paise"]:
                return _no("declined", "a capture takes from 1 paisa to the authorised amount")
            capture_id = _token("cap_", self._desk.seed, key)
            await db.execute(
                "INSERT INTO captures VALUES (?, ?, ?, ?)",
                (key, capture_id, auth_key, amount_paise),
            )
            await db.execute(
                "UPDATE authorisations SET state = 'captured' WHERE key = ?", (auth_key,)
            )
            return _ok(capture_id=capture_id, amount_paise=amount_paise)

        args: _Args = {"auth_key": auth_key, "amount_paise": amount_paise}
        done = await self._desk.call("payments.capture", key=key, args=args, perform=perform)
        return Capture(capture_id=done["capture_id"], amount_paise=done["amount_paise"])

    async def void(self, *, key: str, auth_key: str) -> bool:
        sql = "UPDATE authorisations SET state = 'voided' WHERE key = :on AND state = 'authorised'"
        return await _undo(self._desk, "payments.void", key=key, on=auth_key, sql=sql)

    async def refund(self, *, key: str, auth_key: str, amount_paise: int) -> Refund:
        """Refund up to what is captured and not yet refunded; refund_id "" when that is 0."""

        async def perform(db: aiosqlite.Connection, now: dt.datetime) -> _Answer:
            if amount_paise < 0:
                return _no("declined", "a refund cannot be negative")
            left = await _scalar(db, _REFUNDABLE, {"auth": auth_key})
            amount = min(amount_paise, left)
            if amount <= 0:
                return _ok(refund_id="", amount_paise=0)
            refund_id = _token("rfnd_", self._desk.seed, key)
            await db.execute(
                "INSERT INTO refunds VALUES (?, ?, ?, ?)", (key, refund_id, auth_key, amount)
            )
            return _ok(refund_id=refund_id, amount_paise=amount)

        args: _Args = {"auth_key": auth_key, "amount_paise": amount_paise}
        done = await self._desk.call("payments.refund", key=key, args=args, perform=perform)
        return Refund(refund_id=done["refund_id"], amount_paise=done["amount_paise"])

    async def charge(self, *, key: str, payer: str, amount_paise: int) -> Capture:
        """Authorise and capture at once; refund it with `auth_key` set to this key."""

        async def perform(db: aiosqlite.Connection, now: dt.datetime) -> _Answer:
            refused = _payment_refusal(payer, amount_paise)
            if refused is not None:
                return refused
            auth_id = _token("pay_", self._desk.seed, key)
            capture_id = _token("cap_", self._desk.seed, key)
            await db.execute(
                "INSERT INTO authorisations VALUES (?, ?, ?, ?, 'captured')",
                (key, auth_id, payer, amount_paise),
            )
            await db.execute(
                "INSERT INTO captures VALUES (?, ?, ?, ?)", (key, capture_id, key, amount_paise)
            )
            return _ok(capture_id=capture_id, amount_paise=amount_paise)

        args: _Args = {"payer": payer, "amount_paise": amount_paise}
        done = await self._desk.call("payments.charge", key=key, args=args, perform=perform)
        return Capture(capture_id=done["capture_id"], amount_paise=done["amount_paise"])


def _payment_refusal(payer: str, amount_paise: int) -> _Answer | None:
    if amount_paise <= 0:
        return _no("declined", "the amount must be positive")
    if payer.startswith(DECLINING_PAYER_PREFIX):
        return _no("payment_declined", "the card was declined (test payer)")
    return None
