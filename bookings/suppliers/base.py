"""The booking suppliers' ports: an airline's hold / ticket, a hotel's hold / confirm, and a
payment gateway's authorise / capture / void / refund.

Every call carries an idempotency key: the same key always means the same operation, and a
repeat returns the first result without doing it again. A compensation names the key of the
step it undoes (`hold_key`, `auth_key`, ...), so it works even when that step's answer was lost
in transit, and it is a no-op when the step never happened.

Errors: `SupplierDeclinedError` and its subclasses are business answers (retrying cannot
change them); `core.errors.SupplierError` / `SupplierTimeoutError` are infrastructure
failures that a retry with the same key may cure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from core.errors import YatriError
from hotels.models import RoomType


class SupplierDeclinedError(YatriError):
    """The supplier said no; the same request will get the same answer."""

    problem_type = "supplier-declined"
    title = "The supplier declined the request"
    status = 409


class HoldExpiredError(SupplierDeclinedError):
    problem_type = "hold-expired"
    title = "The inventory hold expired"


class PaymentDeclinedError(SupplierDeclinedError):
    problem_type = "payment-declined"
    title = "The payment was declined"
    status = 402


class SoldOutError(SupplierDeclinedError):
    problem_type = "sold-out"
    title = "The flight or room is no longer available"


class PriceChangedError(SupplierDeclinedError):
    """Not the supplier's price any more; `extensions["price_paise"]` is what it is now."""

    problem_type = "price-changed"
    title = "The price changed"


@dataclass(frozen=True, slots=True)
class Hold:
    hold_id: str
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Ticket:
    ticket_number: str


@dataclass(frozen=True, slots=True)
class HotelConfirmation:
    confirmation_number: str


@dataclass(frozen=True, slots=True)
class Authorisation:
    auth_id: str
    amount_paise: int


@dataclass(frozen=True, slots=True)
class Capture:
    capture_id: str
    amount_paise: int


@dataclass(frozen=True, slots=True)
class Refund:
    refund_id: str
    amount_paise: int  # what was actually refunded (never more than was captured and unrefunded)


class AirlineBookingSupplier(Protocol):
    @property
    def name(self) -> str: ...

    async def hold(
        self,
        *,
        key: str,
        flight_number: str,
        departure: dt.datetime,
        seats: int,
        price_paise: int,
        ttl_s: float,
    ) -> Hold:
        """Hold `seats` on the flight at this price for `ttl_s` seconds."""
        ...

    async def issue(self, *, key: str, hold_key: str) -> Ticket:
        """Ticket a held booking; HoldExpiredError once the hold has expired or was released."""
        ...

    async def cancel_ticket(self, *, key: str, issue_key: str) -> bool:
        """Cancel the ticket issued under `issue_key`; False when none was issued."""
        ...

    async def release(self, *, key: str, hold_key: str) -> bool:
        """Release the hold made under `hold_key`; False when there is nothing to release."""
        ...


@dataclass(frozen=True, slots=True)
class StayPrice:
    hotel_name: str
    room_type: RoomType
    total_paise: int  # all rooms and nights, taxes included


class HotelBookingSupplier(Protocol):
    @property
    def name(self) -> str: ...

    async def price(
        self,
        *,
        hotel_id: str,
        check_in: dt.date,
        nights: int,
        rooms: int,
        room_type: RoomType | None = None,
    ) -> StayPrice | None:
        """The supplier's price for the stay now (room_type None: its cheapest room type with
        the rooms every night); None when it sells no such hotel, SoldOutError when it has no
        such room, the nights are not on sale or too few rooms are left."""
        ...

    async def hold(
        self,
        *,
        key: str,
        hotel_id: str,
        check_in: dt.date,
        nights: int,
        rooms: int,
        price_paise: int,
        ttl_s: float,
        room_type: RoomType | None = None,
    ) -> Hold:
        """Hold the rooms at `price_paise`: PriceChangedError when that is not the supplier's
        price now, SoldOutError when the rooms are not there, declined for an unknown hotel."""
        ...

    async def confirm(self, *, key: str, hold_key: str) -> HotelConfirmation:
        """Confirm a held room; HoldExpiredError once the hold has expired or was released."""
        ...

    async def cancel(self, *, key: str, confirm_key: str) -> bool:
        """Cancel the confirmation made under `confirm_key`; False when none was made."""
        ...

    async def release(self, *, key: str, hold_key: str) -> bool: ...


class PaymentGateway(Protocol):
    @property
    def name(self) -> str: ...

    async def authorise(self, *, key: str, payer: str, amount_paise: int) -> Authorisation:
        """Reserve the amount on the payer's instrument; PaymentDeclinedError if refused."""
        ...

    async def capture(self, *, key: str, auth_key: str, amount_paise: int) -> Capture:
        """Take up to the authorised amount."""
        ...

    async def void(self, *, key: str, auth_key: str) -> bool:
        """Drop an uncaptured authorisation; False when there is none, or it was captured."""
        ...

    async def refund(self, *, key: str, auth_key: str, amount_paise: int) -> Refund:
        """Return up to `amount_paise` of what was captured under `auth_key` (0 if nothing)."""
        ...

    async def charge(self, *, key: str, payer: str, amount_paise: int) -> Capture:
        """Authorise and capture in one step (a fare difference, a change fee)."""
        ...
