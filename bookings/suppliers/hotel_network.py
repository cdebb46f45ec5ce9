"""The hotel network's booking desk: a stay priced live from the hotel suppliers' own inventory
(hotels/suppliers/inventory.py), rooms held by taking them from it, given back when the hold is
released or expires or the confirmed stay is cancelled.

It keeps the sandbox suppliers' ledger and desk (sandbox.py): every call journalled under its
idempotency key, injectable faults per op, holds that expire by the clock. A hold takes its
rooms night by night through `record_change` (by default `Inventory.set`; the sandbox network's
`change` also routes the change to the supplier's channel), so availability moves as it does
after a real sale and Yatri's store hears of it the same way.

The inventory lives in this process's memory, so a hold remembers which desk took its rooms
(`taken_by`) and only that desk gives them back: a desk in another process (a worker restarted
after a crash) has a fresh inventory that never lost them.
"""

from __future__ import annotations

import datetime as dt
import inspect
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

import aiosqlite

from bookings.suppliers.base import Hold, HotelConfirmation, SoldOutError, StayPrice
from bookings.suppliers.sandbox_desk import (
    _RELEASE_ROOM,
    Clock,
    _Args,
    _code,
    _Desk,
    _digest,
    _hold_refusal,
)
from bookings.suppliers.sandbox_ledger import SandboxLedger, _Answer, _no, _ok
from bookings.suppliers.sandbox_sqlite import _all, _instant, _one, _stamp, _utcnow
from hotels.models import ROOM_TYPES, Cell, Property, RoomType
from hotels.suppliers.inventory import Inventory
from hotels.tax import gst_paise

MAX_NIGHTS = 30
MAX_ROOMS = 9


class RecordChange(Protocol):
    """Change one cell at the supplier (rooms left, or the rate); None leaves it as it is."""

    def __call__(
        self,
        prop: Property,
        room_type: RoomType,
        night: dt.date,
        /,
        *,
        available: int | None = None,
        rate_paise: int | None = None,
    ) -> Cell | Awaitable[Cell]: ...


@dataclass(frozen=True, slots=True)
class _Unavailable:
    detail: str


class NetworkHotel:
    """The HotelBookingSupplier of the sandbox hotel network (hotel ids "YH0000042")."""

    def __init__(
        self,
        ledger: SandboxLedger,
        *,
        inventory: Inventory,
        record_change: RecordChange | None = None,
        seed: int = 0,
        clock: Clock | None = None,
    ) -> None:
        self._desk = _Desk(ledger, supplier=self.name, seed=seed, clock=clock or _utcnow)
        self._catalogue = inventory.catalogue
        self._inventory = inventory
        self._record: RecordChange = record_change or inventory.set
        self._me = uuid.uuid4().hex

    @property
    def name(self) -> str:
        return "hotel-network"

    @property
    def inventory(self) -> Inventory:
        return self._inventory

    async def price(
        self,
        *,
        hotel_id: str,
        check_in: dt.date,
        nights: int,
        rooms: int,
        room_type: RoomType | None = None,
    ) -> StayPrice | None:
        prop = self._catalogue.get(hotel_id)
        if prop is None or not (1 <= nights <= MAX_NIGHTS and 1 <= rooms <= MAX_ROOMS):
            return None
        await self.give_back()
        offer = self._offer(prop, check_in=check_in, nights=nights, rooms=rooms,
                            room_type=room_type)  # fmt: skip
        if isinstance(offer, _Unavailable):
            raise SoldOutError(offer.detail, supplier=self.name, hotel_id=hotel_id)
        return offer

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
        arrive, leave = check_in.isoformat(), (check_in + dt.timedelta(days=nights)).isoformat()
        args: _Args = {"hotel_id": hotel_id, "check_in": arrive, "nights": nights,
                       "rooms": rooms, "price_paise": price_paise, "ttl_s": float(ttl_s),
                       "room_type": room_type.value if room_type else ""}  # fmt: skip

        async def perform(db: aiosqlite.Connection, now: dt.datetime) -> _Answer:
            valid = 1 <= nights <= MAX_NIGHTS and 1 <= rooms <= MAX_ROOMS
            if not (valid and price_paise > 0 and ttl_s > 0):
                return _no("declined", "a hold needs 1-30 nights, 1-9 rooms, a price and a ttl")
            prop = self._catalogue.get(hotel_id)
            if prop is None:
                return _no("declined", f"no hotel {hotel_id} at this supplier")
            await self._give_back(db, now)
            offer = self._offer(prop, check_in=check_in, nights=nights, rooms=rooms,
                                room_type=room_type)  # fmt: skip
            if isinstance(offer, _Unavailable):
                return _no("sold_out", offer.detail)
            if offer.total_paise != price_paise:
                detail = f"the stay costs {offer.total_paise} paise, not {price_paise}"
                return _Answer(
                    "price_changed", {"detail": detail, "price_paise": offer.total_paise}
                )
            hold_id = _code(self._desk.seed, "hotel-hold", key)
            expires = _stamp(now + dt.timedelta(seconds=ttl_s))
            await db.execute(
                "INSERT INTO hotel_holds VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'held')",
                (key, hold_id, hotel_id, arrive, leave, rooms, price_paise, expires),
            )
            await db.execute(
                "INSERT INTO hotel_hold_rooms VALUES (?, ?, ?, 0)",
                (key, offer.room_type.value, self._me),
            )
            await self._move(prop, offer.room_type, check_in=check_in, nights=nights, by=-rooms)
            return _ok(hold_id=hold_id, expires_at=expires)

        done = await self._desk.call("hotel.hold", key=key, args=args, perform=perform)
        return Hold(hold_id=done["hold_id"], expires_at=_instant(done["expires_at"]))

    async def confirm(self, *, key: str, hold_key: str) -> HotelConfirmation:
        """Confirm a hold at the price it was held at: the rooms are sold and stay taken."""

        async def perform(db: aiosqlite.Connection, now: dt.datetime) -> _Answer:
            hold = await _one(db, "SELECT * FROM hotel_holds WHERE key = ?", (hold_key,))
            if hold is None:
                return _no("declined", "no hold under that key")
            refused = _hold_refusal(hold, now, done="confirmed")
            if refused is not None:
                return refused
            number = f"HC{_digest(self._desk.seed, 'hotel-confirm', key) % 10**9:09d}"
            await db.execute(
                "INSERT INTO hotel_confirmations VALUES (?, ?, ?, 'confirmed')",
                (key, number, hold_key),
            )
            await db.execute(
                "UPDATE hotel_holds SET state = 'confirmed' WHERE key = ?", (hold_key,)
            )
            return _ok(confirmation_number=number)

        done = await self._desk.call(
            "hotel.confirm", key=key, args={"hold_key": hold_key}, perform=perform
        )
        return HotelConfirmation(confirmation_number=done["confirmation_number"])

    async def cancel(self, *, key: str, confirm_key: str) -> bool:
        sql = "UPDATE hotel_confirmations SET state = 'cancelled' WHERE key = :on AND state = 'confirmed'"
        return await self._undo("hotel.cancel", key=key, on=confirm_key, sql=sql)

    async def release(self, *, key: str, hold_key: str) -> bool:
        return await self._undo("hotel.release", key=key, on=hold_key, sql=_RELEASE_ROOM)

    async def give_back(self) -> int:
        """Return to the inventory the rooms of this desk's holds that lapsed; how many holds."""
        async with self._desk.ledger.transaction() as db:
            return await self._give_back(db, self._desk.clock())

    # --- inside a ledger transaction -------------------------------------------------------

    async def _undo(self, op: str, *, key: str, on: str, sql: str) -> bool:
        """A compensation: one conditional UPDATE of the row made under `on`, then the rooms
        it held go back; True if it changed something."""

        async def perform(db: aiosqlite.Connection, now: dt.datetime) -> _Answer:
            # Named parameters: a statement that does not mention :now ignores it.
            cursor = await db.execute(sql, {"on": on, "now": _stamp(now)})
            await self._give_back(db, now)
            return _ok(done=cursor.rowcount == 1)

        done = await self._desk.call(op, key=key, args={"on": on}, perform=perform)
        return bool(done["done"])

    async def _give_back(self, db: aiosqlite.Connection, now: dt.datetime) -> int:
        """Rooms this desk took whose hold was released or lapsed, or whose stay was cancelled,
        go back to every night of the stay, once."""
        rows = await _all(db, _ROOMS_TO_GIVE_BACK, {"me": self._me, "now": _stamp(now)})
        for row in rows:
            prop = self._catalogue.get(row["hotel_id"])
            if prop is not None:
                check_in = dt.date.fromisoformat(row["check_in"])
                nights = (dt.date.fromisoformat(row["check_out"]) - check_in).days
                await self._move(prop, RoomType(row["room_type"]), check_in=check_in,
                                 nights=nights, by=row["rooms"])  # fmt: skip
            await db.execute(
                "UPDATE hotel_hold_rooms SET returned = 1 WHERE key = ?", (row["key"],)
            )
        return len(rows)

    async def _move(
        self, prop: Property, room_type: RoomType, *, check_in: dt.date, nights: int, by: int
    ) -> None:
        """Rooms left moves by `by` on every night of the stay, at the supplier."""
        for i in range(nights):
            night = check_in + dt.timedelta(days=i)
            if not self._inventory.in_window(night):
                continue  # a night already past (a late cancellation) is off sale for good
            cell = self._inventory.cell(prop, room_type, night)
            left = max(0, (cell.available or 0) + by) if cell is not None else 0
            changed = self._record(prop, room_type, night, available=left)
            if inspect.isawaitable(changed):
                await changed

    # --- pricing -----------------------------------------------------------------------------

    def _offer(
        self,
        prop: Property,
        *,
        check_in: dt.date,
        nights: int,
        rooms: int,
        room_type: RoomType | None,
    ) -> StayPrice | _Unavailable:
        """The stay at the supplier now: every night's rate plus its GST, times the rooms; the
        cheapest room type with the rooms every night when none is asked for."""
        last = check_in + dt.timedelta(days=nights - 1)
        if not (self._inventory.in_window(check_in) and self._inventory.in_window(last)):
            first_sold, last_sold = self._inventory.window()
            return _Unavailable(f"{check_in} to {last} is not on sale "
                                f"(nights {first_sold} to {last_sold} are)")  # fmt: skip
        if room_type is not None and room_type not in prop.room_types:
            return _Unavailable(f"{prop.hotel_id} has no {room_type.label.lower()}s")
        totals: dict[RoomType, int] = dict.fromkeys(prop.room_types, 0)
        short: dict[RoomType, dt.date] = {}
        for cell in self._inventory.cells(prop, first_night=check_in, nights=nights):
            rate = cell.rate_paise or 0
            totals[cell.room_type] += (rate + gst_paise(rate)) * rooms
            if (cell.available or 0) < rooms or rate <= 0:
                short.setdefault(cell.room_type, cell.night)
        if room_type is not None:
            if room_type in short:
                return _Unavailable(f"fewer than {rooms} {room_type.label.lower()}s left at "
                                    f"{prop.hotel_id} on {short[room_type]}")  # fmt: skip
            return StayPrice(hotel_name=prop.name, room_type=room_type,
                             total_paise=totals[room_type])  # fmt: skip
        open_types = [rt for rt in ROOM_TYPES if rt in totals and rt not in short]
        if not open_types:
            return _Unavailable(f"no room type at {prop.hotel_id} has {rooms} rooms left "
                                f"every night from {check_in} to {last}")  # fmt: skip
        cheapest = min(open_types, key=lambda rt: totals[rt])
        return StayPrice(hotel_name=prop.name, room_type=cheapest, total_paise=totals[cheapest])


# A hold's rooms are out while it is held and unexpired, or confirmed and not cancelled.
_ROOMS_TO_GIVE_BACK = """
SELECT h.key, h.hotel_id, h.check_in, h.check_out, h.rooms, r.room_type
FROM hotel_hold_rooms r JOIN hotel_holds h ON h.key = r.key
WHERE r.taken_by = :me AND r.returned = 0 AND (
    h.state = 'released'
    OR (h.state = 'held' AND h.expires_at <= :now)
    OR (h.state = 'confirmed' AND NOT EXISTS (
        SELECT 1 FROM hotel_confirmations c WHERE c.hold_key = h.key AND c.state = 'confirmed')))
"""
